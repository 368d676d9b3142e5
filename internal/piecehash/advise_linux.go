//go:build linux && (amd64 || arm64 || riscv64 || loong64)

package piecehash

import (
	"os"
	"syscall"
)

const havePrefetch = true

const (
	fadvSequential = 2
	fadvWillNeed   = 3
)

func fadvise(f *os.File, off, n int64, advice int) {
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	rc.Control(func(fd uintptr) {
		syscall.Syscall6(syscall.SYS_FADVISE64, fd, uintptr(off), uintptr(n), uintptr(advice), 0, 0)
	})
}

// adviseSequential asks for aggressive readahead on f.
func adviseSequential(f *os.File) { fadvise(f, 0, 0, fadvSequential) }

// adviseWillNeed starts reading [off, off+n) of f into the page cache
// without waiting for it.
func adviseWillNeed(f *os.File, off, n int64) { fadvise(f, off, n, fadvWillNeed) }
