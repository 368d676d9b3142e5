//go:build !linux

package app

// growHeapHuge is a hint that only Linux takes.
func growHeapHuge(int64) (addr, size uintptr) { return 0, 0 }
