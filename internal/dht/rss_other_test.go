//go:build !linux

package dht

// peakRSS is not measured on this system.
func peakRSS() int64 { return 0 }
