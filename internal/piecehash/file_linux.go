//go:build linux && (amd64 || arm64 || riscv64 || loong64)

package piecehash

import (
	"io"
	"io/fs"
	"syscall"
	"time"
)

// On Linux files are used through raw descriptors: os.Open costs several
// extra system calls per file (poller registration, fcntl), which shows on
// trees of thousands of files.

const havePrefetch = true

const (
	fadvSequential = 2
	fadvWillNeed   = 3
)

type rfile struct {
	fd   int
	path string
}

func openFile(path string) (*rfile, error) {
	for {
		fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return nil, &fs.PathError{Op: "open", Path: path, Err: err}
		}
		return &rfile{fd: fd, path: path}, nil
	}
}

// readAt fills b from offset off; it returns io.EOF if the file ends first.
func (f *rfile) readAt(b []byte, off int64) (int, error) {
	n := 0
	for n < len(b) {
		k, err := syscall.Pread(f.fd, b[n:], off+int64(n))
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return n, &fs.PathError{Op: "read", Path: f.path, Err: err}
		}
		if k == 0 {
			return n, io.EOF
		}
		n += k
	}
	return n, nil
}

func (f *rfile) stat() (size int64, mtime time.Time, err error) {
	var st syscall.Stat_t
	for {
		err = syscall.Fstat(f.fd, &st)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		return 0, time.Time{}, &fs.PathError{Op: "stat", Path: f.path, Err: err}
	}
	return st.Size, time.Unix(st.Mtim.Unix()), nil
}

func (f *rfile) close() { syscall.Close(f.fd) }

func (f *rfile) fadvise(off, n int64, advice int) {
	syscall.Syscall6(syscall.SYS_FADVISE64, uintptr(f.fd), uintptr(off), uintptr(n), uintptr(advice), 0, 0)
}

// adviseSequential asks for aggressive readahead.
func (f *rfile) adviseSequential() { f.fadvise(0, 0, fadvSequential) }

// adviseWillNeed starts reading [off, off+n) into the page cache without
// waiting for it.
func (f *rfile) adviseWillNeed(off, n int64) { f.fadvise(off, n, fadvWillNeed) }
