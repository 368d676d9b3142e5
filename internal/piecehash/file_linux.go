//go:build linux && (amd64 || arm64 || riscv64 || loong64)

package piecehash

import (
	"errors"
	"io"
	"io/fs"
	"math"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// On Linux files are used through raw descriptors: os.Open costs several
// extra system calls per file (poller registration, fcntl), which shows on
// trees of thousands of files.

const havePrefetch = true

// pageSize aligns the start of a view's range for madvise.
var pageSize = unix.Getpagesize()

// Filesystems on which direct reads are used: local block-device
// filesystems, whose O_DIRECT reads are plain device reads. Network and
// FUSE filesystems are left to their own caching.
var directFS = map[int64]bool{
	unix.EXT4_SUPER_MAGIC:  true, // also ext2 and ext3
	unix.XFS_SUPER_MAGIC:   true,
	unix.BTRFS_SUPER_MAGIC: true,
}

const (
	dioUnknown = iota
	dioOK
	dioNo
)

type rfile struct {
	m      []byte // the whole file mapped, once view has mapped it
	mapTry bool   // view has tried to map the file
	last   []byte // the last view, still mapped in m
	fd     int
	path   string
	dio    int8 // dioUnknown, dioOK or dioNo
	direct bool // O_DIRECT is set on fd
}

func openFile(path string) (*rfile, error) {
	for {
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, &fs.PathError{Op: "open", Path: path, Err: err}
		}
		return &rfile{fd: fd, path: path}, nil
	}
}

// readAt fills b from offset off through the page cache; it returns io.EOF
// if the file ends first.
func (f *rfile) readAt(b []byte, off int64) (int, error) {
	if f.direct {
		if err := f.setDirect(false); err != nil {
			return 0, &fs.PathError{Op: "fcntl", Path: f.path, Err: err}
		}
	}
	n := 0
	for n < len(b) {
		k, err := unix.Pread(f.fd, b[n:], off+int64(n))
		if err == unix.EINTR {
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

// errNoDirect reports that a file cannot be read with O_DIRECT; the caller
// reads it through the page cache instead.
var errNoDirect = errors.New("piecehash: direct I/O not supported")

// canDirect reports whether f is on a filesystem that direct reads are used
// on and has not refused them.
func (f *rfile) canDirect() bool {
	if f.dio == dioUnknown {
		f.dio = dioNo
		var st unix.Statfs_t
		if err := unix.Fstatfs(f.fd, &st); err == nil && directFS[int64(st.Type)] {
			f.dio = dioOK
		}
	}
	return f.dio == dioOK
}

// setDirect sets or clears O_DIRECT on the descriptor.
func (f *rfile) setDirect(on bool) error {
	flags := 0
	if on {
		flags = unix.O_DIRECT
	}
	for {
		_, err := unix.FcntlInt(uintptr(f.fd), unix.F_SETFL, flags)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		f.direct = on
		return nil
	}
}

// readDirect reads up to n bytes at off with O_DIRECT into buf, whose start
// is aligned, and returns them as a slice of buf: the read covers whole
// aligned blocks, so the bytes asked for begin at off%dioAlign. Fewer than
// n bytes are returned when buf is too short. It returns io.EOF with the
// bytes before it if the file ends first, and errNoDirect if the file does
// not accept direct reads.
func (f *rfile) readDirect(buf []byte, off, n int64) ([]byte, error) {
	head := off % dioAlign
	k := min(n, int64(len(buf))-head)
	if k <= 0 {
		return nil, errNoDirect
	}
	if !f.direct && f.setDirect(true) != nil {
		f.dio = dioNo
		return nil, errNoDirect
	}
	want := (head + k + dioAlign - 1) &^ (dioAlign - 1)
	base := off - head
	got := int64(0)
	for got < head+k {
		r, err := unix.Pread(f.fd, buf[got:want], base+got)
		if err == unix.EINTR {
			continue
		}
		if err == unix.EINVAL {
			f.dio = dioNo
			f.setDirect(false)
			return nil, errNoDirect
		}
		if err != nil {
			return nil, &fs.PathError{Op: "read", Path: f.path, Err: err}
		}
		got += int64(r)
		if r == 0 || r%dioAlign != 0 {
			break // end of file
		}
	}
	if got < head+k {
		return buf[head:max(got, head)], io.EOF
	}
	return buf[head : head+k], nil
}

var (
	cachestatOnce sync.Once
	cachestatOK   bool
)

func cachestat(fd int, off, n int64) (unix.Cachestat_t, error) {
	r := unix.CachestatRange{Off: uint64(off), Len: uint64(n)}
	var c unix.Cachestat_t
	err := unix.Cachestat(uint(fd), &r, &c, 0)
	return c, err
}

// directAvailable reports whether direct reads can be used at all: without
// cachestat(2) (Linux 6.5) there is no cheap way to tell cached data from
// data on disk, and reading cached data directly would be slower.
func directAvailable() bool {
	cachestatOnce.Do(func() {
		// A descriptor that is not one: EBADF where the call exists.
		_, err := cachestat(-1, 0, 1)
		cachestatOK = err == unix.EBADF
	})
	return cachestatOK
}

// cached reports whether every page of [off, off+n) is in the page cache.
// It errs on the side of yes, which means reading through the cache.
func (f *rfile) cached(off, n int64) bool {
	c, err := cachestat(f.fd, off, n)
	if err != nil {
		return true
	}
	const page = 4096
	pages := (off+n+page-1)/page - off/page
	return int64(c.Cache) >= pages
}

func (f *rfile) stat() (size int64, mtime time.Time, err error) {
	var st unix.Stat_t
	for {
		err = unix.Fstat(f.fd, &st)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		return 0, time.Time{}, &fs.PathError{Op: "stat", Path: f.path, Err: err}
	}
	return st.Size, time.Unix(st.Mtim.Unix()), nil
}

func (f *rfile) close() {
	f.unview()
	if f.m != nil {
		unix.Munmap(f.m)
	}
	unix.Close(f.fd)
}

// view returns the n bytes at off of a file of at least mapMin bytes
// straight from the page cache, through a read-only mapping of the file,
// when all of them are cached: hashing them there saves copying them out
// (a tenth of a warm run's processor time). It reports false where it
// cannot, and the caller reads instead. Reading a view faults if the file
// is truncated meanwhile: the caller must recover (see worker.hashView).
func (f *rfile) view(off, n int64) ([]byte, bool) {
	f.unview()
	if !directAvailable() {
		// Without cachestat, cached says yes to everything: a view of
		// uncached data would be read by page faults, and a read error
		// would be a fault.
		return nil, false
	}
	if !f.mapTry {
		f.mapTry = true
		var st unix.Stat_t
		if unix.Fstat(f.fd, &st) != nil || st.Size < mapMin || st.Size > math.MaxInt {
			return nil, false
		}
		m, err := unix.Mmap(f.fd, 0, int(st.Size), unix.PROT_READ, unix.MAP_SHARED)
		if err != nil {
			return nil, false
		}
		f.m = m
	}
	if f.m == nil || off < 0 || n <= 0 || off+n > int64(len(f.m)) || !f.cached(off, n) {
		return nil, false
	}
	// Mapping the pages in one call costs less than a fault per 64 KiB;
	// madvise wants a page-aligned start.
	f.last = f.m[off&^int64(pageSize-1) : off+n]
	_ = unix.Madvise(f.last, unix.MADV_POPULATE_READ)
	return f.m[off : off+n : off+n], true
}

// unview takes the pages of the last view out of the mapping (not out of
// the page cache): mapped pages count in the resident set.
func (f *rfile) unview() {
	if f.last != nil {
		_ = unix.Madvise(f.last, unix.MADV_DONTNEED)
		f.last = nil
	}
}

func (f *rfile) fadvise(off, n int64, advice int) { _ = unix.Fadvise(f.fd, off, n, advice) }

// adviseSequential asks for aggressive readahead.
func (f *rfile) adviseSequential() { f.fadvise(0, 0, unix.FADV_SEQUENTIAL) }

// adviseWillNeed starts reading [off, off+n) into the page cache without
// waiting for it.
func (f *rfile) adviseWillNeed(off, n int64) { f.fadvise(off, n, unix.FADV_WILLNEED) }

// directBuf is a read buffer for direct I/O, backed by huge pages.
type directBuf struct {
	mapping []byte // the whole anonymous mapping
	b       []byte // its huge-page-aligned part
}

// allocDirect returns a buffer of n bytes backed by huge pages, or nil if
// huge pages cannot be had. A direct read is handed to the device as one
// segment per physically contiguous run of its buffer; with 4 KiB pages
// that is 4 KiB segments, which some virtual disks serve several times
// slower than the same read into 2 MiB pages.
func allocDirect(n int) *directBuf {
	size := (n + hugePage - 1) &^ (hugePage - 1)
	m, err := unix.Mmap(-1, 0, size+hugePage, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANON)
	if err != nil {
		return nil
	}
	skip := int((hugePage - uintptr(unsafe.Pointer(&m[0]))%hugePage) % hugePage)
	b := m[skip : skip+size]
	if unix.Madvise(b, unix.MADV_HUGEPAGE) != nil {
		unix.Munmap(m)
		return nil
	}
	for i := 0; i < len(b); i += hugePage {
		b[i] = 0
	}
	// MADV_COLLAPSE (Linux 6.1) succeeds only once the range is made of
	// huge pages, whether the faults above gave them or it had to.
	if unix.Madvise(b, unix.MADV_COLLAPSE) != nil {
		unix.Munmap(m)
		return nil
	}
	return &directBuf{mapping: m, b: b[:n:n]}
}

func (d *directBuf) free() { unix.Munmap(d.mapping) }
