//go:build !race

package utp

const raceEnabled = false
