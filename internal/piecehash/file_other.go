//go:build !(linux && (amd64 || arm64 || riscv64 || loong64))

package piecehash

import (
	"errors"
	"io"
	"os"
	"time"
)

const havePrefetch = false

type rfile struct{ f *os.File }

func openFile(path string) (*rfile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	return &rfile{f: f}, nil
}

// readAt fills b from offset off; it returns io.EOF if the file ends first.
func (f *rfile) readAt(b []byte, off int64) (int, error) {
	n, err := f.f.ReadAt(b, off)
	if n == len(b) {
		return n, nil
	}
	if err == nil {
		err = io.EOF
	}
	return n, err
}

var errNoDirect = errors.New("piecehash: direct I/O not supported")

func directAvailable() bool { return false }

func (f *rfile) canDirect() bool { return false }

func (f *rfile) cached(int64, int64) bool { return true }

func (f *rfile) view(int64, int64) ([]byte, bool) { return nil, false }

func (f *rfile) readDirect([]byte, int64, int64) ([]byte, error) { return nil, errNoDirect }

func (f *rfile) stat() (int64, time.Time, error) {
	st, err := f.f.Stat()
	if err != nil {
		return 0, time.Time{}, err
	}
	return st.Size(), st.ModTime(), nil
}

func (f *rfile) close() { f.f.Close() }

func (f *rfile) adviseSequential() {}

func (f *rfile) adviseWillNeed(int64, int64) {}

type directBuf struct{ b []byte }

func allocDirect(int) *directBuf { return nil }

func (d *directBuf) free() {}
