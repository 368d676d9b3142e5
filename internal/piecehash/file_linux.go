//go:build linux && (amd64 || arm64 || riscv64 || loong64)

package piecehash

import (
	"errors"
	"io"
	"io/fs"
	"math"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

// On Linux files are used through raw descriptors: os.Open costs several
// extra system calls per file (poller registration, fcntl), which shows on
// trees of thousands of files.

const havePrefetch = true

const (
	fadvSequential = 2
	fadvWillNeed   = 3

	sysCachestat     = 451 // the same number on every architecture built here
	madvHugepage     = 14
	madvCollapse     = 25
	madvPopulateRead = 22 // Linux 5.14
	madvDontneed     = 4
)

// pageSize aligns the start of a view's range for madvise.
var pageSize = syscall.Getpagesize()

// Filesystems on which direct reads are used: local block-device
// filesystems, whose O_DIRECT reads are plain device reads. Network and
// FUSE filesystems are left to their own caching.
var directFS = map[int64]bool{
	0xef53:     true, // ext2, ext3, ext4
	0x58465342: true, // XFS
	0x9123683e: true, // btrfs
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

// errNoDirect reports that a file cannot be read with O_DIRECT; the caller
// reads it through the page cache instead.
var errNoDirect = errors.New("piecehash: direct I/O not supported")

// canDirect reports whether f is on a filesystem that direct reads are used
// on and has not refused them.
func (f *rfile) canDirect() bool {
	if f.dio == dioUnknown {
		f.dio = dioNo
		var st syscall.Statfs_t
		if err := syscall.Fstatfs(f.fd, &st); err == nil && directFS[int64(st.Type)] {
			f.dio = dioOK
		}
	}
	return f.dio == dioOK
}

// setDirect sets or clears O_DIRECT on the descriptor.
func (f *rfile) setDirect(on bool) error {
	flags := 0
	if on {
		flags = syscall.O_DIRECT
	}
	for {
		_, _, errno := syscall.Syscall(syscall.SYS_FCNTL, uintptr(f.fd), syscall.F_SETFL, uintptr(flags))
		if errno == syscall.EINTR {
			continue
		}
		if errno != 0 {
			return errno
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
		r, err := syscall.Pread(f.fd, buf[got:want], base+got)
		if err == syscall.EINTR {
			continue
		}
		if err == syscall.EINVAL {
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

type cachestatRange struct{ off, len uint64 }

type cachestatResult struct {
	cache, dirty, writeback, evicted, recentlyEvicted uint64
}

func cachestat(fd int, off, n int64) (cachestatResult, syscall.Errno) {
	r := cachestatRange{off: uint64(off), len: uint64(n)}
	var c cachestatResult
	_, _, errno := syscall.Syscall6(sysCachestat, uintptr(fd), uintptr(unsafe.Pointer(&r)), uintptr(unsafe.Pointer(&c)), 0, 0, 0)
	return c, errno
}

// directAvailable reports whether direct reads can be used at all: without
// cachestat(2) (Linux 6.5) there is no cheap way to tell cached data from
// data on disk, and reading cached data directly would be slower.
func directAvailable() bool {
	cachestatOnce.Do(func() {
		_, errno := cachestat(-1, 0, 1)
		cachestatOK = errno == syscall.EBADF
	})
	return cachestatOK
}

// cached reports whether every page of [off, off+n) is in the page cache.
// It errs on the side of yes, which means reading through the cache.
func (f *rfile) cached(off, n int64) bool {
	c, errno := cachestat(f.fd, off, n)
	if errno != 0 {
		return true
	}
	const page = 4096
	pages := (off+n+page-1)/page - off/page
	return int64(c.cache) >= pages
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

func (f *rfile) close() {
	f.unview()
	if f.m != nil {
		syscall.Munmap(f.m)
	}
	syscall.Close(f.fd)
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
		var st syscall.Stat_t
		if syscall.Fstat(f.fd, &st) != nil || st.Size < mapMin || st.Size > math.MaxInt {
			return nil, false
		}
		m, err := syscall.Mmap(f.fd, 0, int(st.Size), syscall.PROT_READ, syscall.MAP_SHARED)
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
	_ = syscall.Madvise(f.last, madvPopulateRead)
	return f.m[off : off+n : off+n], true
}

// unview takes the pages of the last view out of the mapping (not out of
// the page cache): mapped pages count in the resident set.
func (f *rfile) unview() {
	if f.last != nil {
		_ = syscall.Madvise(f.last, madvDontneed)
		f.last = nil
	}
}

func (f *rfile) fadvise(off, n int64, advice int) {
	syscall.Syscall6(syscall.SYS_FADVISE64, uintptr(f.fd), uintptr(off), uintptr(n), uintptr(advice), 0, 0)
}

// adviseSequential asks for aggressive readahead.
func (f *rfile) adviseSequential() { f.fadvise(0, 0, fadvSequential) }

// adviseWillNeed starts reading [off, off+n) into the page cache without
// waiting for it.
func (f *rfile) adviseWillNeed(off, n int64) { f.fadvise(off, n, fadvWillNeed) }

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
	m, err := syscall.Mmap(-1, 0, size+hugePage, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		return nil
	}
	skip := int((hugePage - uintptr(unsafe.Pointer(&m[0]))%hugePage) % hugePage)
	b := m[skip : skip+size]
	if syscall.Madvise(b, madvHugepage) != nil {
		syscall.Munmap(m)
		return nil
	}
	for i := 0; i < len(b); i += hugePage {
		b[i] = 0
	}
	// MADV_COLLAPSE (Linux 6.1) succeeds only once the range is made of
	// huge pages, whether the faults above gave them or it had to.
	if syscall.Madvise(b, madvCollapse) != nil {
		syscall.Munmap(m)
		return nil
	}
	return &directBuf{mapping: m, b: b[:n:n]}
}

func (d *directBuf) free() { syscall.Munmap(d.mapping) }
