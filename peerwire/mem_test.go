package peerwire

import "runtime"

// runtimeMem measures bytes allocated between start and bytes.
type runtimeMem struct{ before runtime.MemStats }

func (m *runtimeMem) start() {
	runtime.GC()
	runtime.ReadMemStats(&m.before)
}

func (m *runtimeMem) bytes() uint64 {
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - m.before.TotalAlloc
}
