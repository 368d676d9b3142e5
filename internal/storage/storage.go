// Package storage maps a torrent's pieces onto its files on disk.
//
// The content of a torrent is the concatenation of its files; a piece may
// span several of them. Storage reads and writes blocks at content offsets,
// splitting them at file boundaries. All file access goes through an
// os.Root, so neither a torrent's paths (already checked by metainfo) nor a
// symbolic link planted in the download directory can make tt write outside
// it (content that is only read, for seeding, may follow links). BEP 47 pad files and symlink entries are never written; reading them
// gives zeros. Files are created when the first block of theirs arrives and
// set to their full length at once (sparse: no space is reserved).
//
// Files deselected with Options.Skip are not created unless a wanted piece
// shares bytes with them: the piece must be hashed whole, so those bytes
// are written too (as Transmission and aria2 do).
//
// A resume file records which pieces were verified together with the size
// and modification time of every file; LoadResume trusts it only while all
// of those still match, and a caller falls back to Check otherwise.
package storage

import (
	"context"
	"crypto/sha1"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"sync"
	"syscall"

	"tt/internal/piecehash"
	"tt/metainfo"
)

// Errors a caller may test for with errors.Is.
var (
	// ErrDiskFull reports a write that failed for want of space.
	ErrDiskFull = errors.New("storage: no space left on device")
	// ErrRange reports a block outside the torrent's content.
	ErrRange = errors.New("storage: block out of range")
	// ErrShort reports a file that ended before the bytes asked for.
	ErrShort = errors.New("storage: file shorter than its torrent length")
	// ErrReadOnly reports a write to storage opened for seeding only.
	ErrReadOnly = errors.New("storage: read-only")
)

// Options tune Open.
type Options struct {
	// ContentPath is the content itself: the file of a single-file torrent
	// or the top directory of a multi-file one. Empty means DIR/NAME.
	ContentPath string
	// ReadOnly opens files for reading only (seeding verified content).
	ReadOnly bool
	// Skip marks files, by index, that are not wanted.
	Skip []bool
	// MaxOpen bounds the open file handles (default 128).
	MaxOpen int
}

// Storage is a torrent's content on disk. It is safe for concurrent use.
type Storage struct {
	t       *metainfo.Torrent
	root    *os.Root
	rootDir string
	names   []string // per file: path relative to root, "" for pad and symlink entries
	starts  []int64  // content offset of each file; starts[len] == total
	ro      bool
	skip    []bool
	maxOpen int

	mu      sync.Mutex
	handles map[int]*handle
	dirs    map[string]bool // directories already made (s.mu)
	clock   uint64
	sized   []bool // file has been set to its length during this run
}

type handle struct {
	f    *os.File
	refs int
	used uint64
	rw   bool
}

// Open prepares the content of t under dir (as dir/NAME), or at
// opt.ContentPath. It creates nothing yet.
func Open(t *metainfo.Torrent, dir string, opt Options) (*Storage, error) {
	rootDir, prefix := dir, t.Info.Name
	if opt.ContentPath != "" {
		if t.Info.MultiFile {
			rootDir, prefix = opt.ContentPath, ""
		} else {
			rootDir, prefix = filepath.Dir(opt.ContentPath), ""
		}
	}
	root, err := os.OpenRoot(rootDir)
	if err != nil {
		return nil, fmt.Errorf("storage: %w", err)
	}
	s := &Storage{
		t: t, root: root, rootDir: rootDir, ro: opt.ReadOnly, skip: opt.Skip, maxOpen: opt.MaxOpen,
		names:   make([]string, len(t.Info.Files)),
		starts:  make([]int64, len(t.Info.Files)+1),
		handles: map[int]*handle{}, sized: make([]bool, len(t.Info.Files)), dirs: map[string]bool{},
	}
	if s.maxOpen <= 0 {
		s.maxOpen = 128
	}
	var off int64
	for i, f := range t.Info.Files {
		s.starts[i] = off
		off += f.Length
		if f.Virtual() {
			continue
		}
		switch {
		case !t.Info.MultiFile && opt.ContentPath != "":
			s.names[i] = filepath.Base(opt.ContentPath)
		case !t.Info.MultiFile:
			s.names[i] = prefix
		default:
			s.names[i] = path.Join(append([]string{prefix}, f.Path...)...)
		}
	}
	s.starts[len(t.Info.Files)] = off
	return s, nil
}

// TotalLength is the size of the content in bytes.
func (s *Storage) TotalLength() int64 { return s.t.Info.TotalLength }

// Dir is the directory the content's paths are relative to.
func (s *Storage) Dir() string { return s.rootDir }

// FilePath is where file i lives on disk ("" for pad files).
func (s *Storage) FilePath(i int) string {
	if s.names[i] == "" {
		return ""
	}
	return filepath.Join(s.rootDir, filepath.FromSlash(s.names[i]))
}

// Close closes every open file.
func (s *Storage) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var first error
	for i, h := range s.handles {
		if err := h.f.Close(); err != nil && first == nil {
			first = err
		}
		delete(s.handles, i)
	}
	if err := s.root.Close(); err != nil && first == nil {
		first = err
	}
	return first
}

// span is the part of a content range that lies in one file.
type span struct {
	file    int
	fileOff int64
	bufOff  int64
	n       int64
}

// spans splits content range [off, off+n) at file boundaries.
func (s *Storage) spans(off, n int64) ([]span, error) {
	total := s.starts[len(s.starts)-1]
	if off < 0 || n < 0 || off > total-n {
		return nil, fmt.Errorf("%w: %d bytes at %d of %d", ErrRange, n, off, total)
	}
	end := off + n
	var out []span
	i := sort.Search(len(s.names), func(i int) bool { return s.starts[i+1] > off })
	for ; i < len(s.names) && s.starts[i] < end; i++ {
		fs, fe := s.starts[i], s.starts[i+1]
		if fs == fe {
			continue
		}
		a, b := max(off, fs), min(end, fe)
		out = append(out, span{file: i, fileOff: a - fs, bufOff: a - off, n: b - a})
	}
	return out, nil
}

func (s *Storage) pieceOff(piece int, begin int64) int64 {
	return int64(piece)*s.t.Info.PieceLength + begin
}

// checkBlock requires n bytes at begin to lie inside piece.
func (s *Storage) checkBlock(piece int, begin int64, n int) error {
	if piece < 0 || piece >= s.t.NumPieces() || begin < 0 || begin+int64(n) > s.t.PieceLen(piece) {
		return fmt.Errorf("%w: piece %d, %d bytes at %d", ErrRange, piece, n, begin)
	}
	return nil
}

// ReadBlock reads len(buf) bytes of piece at begin.
func (s *Storage) ReadBlock(piece int, begin int64, buf []byte) (int, error) {
	if err := s.checkBlock(piece, begin, len(buf)); err != nil {
		return 0, err
	}
	return s.ReadAt(buf, s.pieceOff(piece, begin))
}

// ReadAt reads content bytes at content offset off.
func (s *Storage) ReadAt(buf []byte, off int64) (int, error) {
	sp, err := s.spans(off, int64(len(buf)))
	if err != nil {
		return 0, err
	}
	for _, x := range sp {
		dst := buf[x.bufOff : x.bufOff+x.n]
		if s.names[x.file] == "" {
			clear(dst)
			continue
		}
		h, err := s.acquire(x.file, false)
		if err != nil {
			return 0, err
		}
		n, err := h.f.ReadAt(dst, x.fileOff)
		s.release(h)
		if err == io.EOF && n < len(dst) {
			err = fmt.Errorf("%w: %s", ErrShort, s.names[x.file])
		}
		if err != nil && n < len(dst) {
			return 0, err
		}
	}
	return len(buf), nil
}

// WriteBlock writes data into piece at begin.
func (s *Storage) WriteBlock(piece int, begin int64, data []byte) error {
	if err := s.checkBlock(piece, begin, len(data)); err != nil {
		return err
	}
	if s.ro {
		return ErrReadOnly
	}
	sp, err := s.spans(s.pieceOff(piece, begin), int64(len(data)))
	if err != nil {
		return err
	}
	for _, x := range sp {
		if s.names[x.file] == "" {
			continue
		}
		h, err := s.acquire(x.file, true)
		if err != nil {
			return err
		}
		_, err = h.f.WriteAt(data[x.bufOff:x.bufOff+x.n], x.fileOff)
		s.release(h)
		if err != nil {
			return diskError(err)
		}
	}
	return nil
}

// hashBufs recycles the buffers HashPiece reads through.
var hashBufs = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

// HashPiece returns the SHA-1 of piece as it is on disk.
func (s *Storage) HashPiece(piece int) ([20]byte, error) {
	if piece < 0 || piece >= s.t.NumPieces() {
		return [20]byte{}, fmt.Errorf("%w: piece %d", ErrRange, piece)
	}
	bp := hashBufs.Get().(*[]byte)
	defer hashBufs.Put(bp)
	h := sha1.New()
	n := s.t.PieceLen(piece)
	off := s.pieceOff(piece, 0)
	for done := int64(0); done < n; {
		b := (*bp)[:min(int64(len(*bp)), n-done)]
		if _, err := s.ReadAt(b, off+done); err != nil {
			return [20]byte{}, err
		}
		h.Write(b)
		done += int64(len(b))
	}
	var sum [20]byte
	h.Sum(sum[:0])
	return sum, nil
}

// Check hashes what is on disk and reports the pieces that match. Missing
// or short files only make the pieces they touch missing. progress, if set,
// is called with the bytes checked so far.
func (s *Storage) Check(ctx context.Context, progress func(int64)) ([]bool, error) {
	files := make([]piecehash.File, len(s.names))
	for i, f := range s.t.Info.Files {
		if s.names[i] == "" {
			files[i] = piecehash.File{Length: f.Length, Pad: true}
			continue
		}
		files[i] = piecehash.File{Path: s.FilePath(i), Length: f.Length}
	}
	rep, err := piecehash.Verify(ctx, files, s.t.Info.PieceLength, s.t.Info.Pieces, piecehash.Options{Progress: progress})
	if err != nil {
		return nil, err
	}
	have := make([]bool, len(rep.Pieces))
	for i, st := range rep.Pieces {
		have[i] = st == piecehash.PieceOK
	}
	return have, nil
}

// acquire returns an open handle of file i, opening (and for writing,
// creating and sizing) it as needed. release must follow.
func (s *Storage) acquire(i int, write bool) (*handle, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clock++
	if h := s.handles[i]; h != nil && (h.rw || !write) {
		h.refs++
		h.used = s.clock
		return h, nil
	} else if h != nil && h.refs == 0 {
		h.f.Close()
		delete(s.handles, i)
	}
	s.evict()
	name := s.names[i]
	var f *os.File
	var err error
	rw := write || !s.ro
	if write {
		if dir := path.Dir(name); dir != "." && !s.dirs[dir] {
			if err := s.root.MkdirAll(dir, 0o755); err != nil {
				return nil, diskError(err)
			}
			s.dirs[dir] = true
		}
		f, err = s.root.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o644)
	} else if rw {
		f, err = s.root.OpenFile(name, os.O_RDWR, 0)
		if errors.Is(err, os.ErrPermission) {
			rw = false
			f, err = s.root.Open(name)
		}
	} else {
		// Content being seeded is read where the user pointed, symbolic
		// links included: only writes are confined to the root.
		f, err = os.Open(s.FilePath(i))
	}
	if err != nil {
		return nil, diskError(err)
	}
	if write && !s.sized[i] {
		want := s.t.Info.Files[i].Length
		if fi, err := f.Stat(); err != nil || fi.Size() != want {
			if err := f.Truncate(want); err != nil {
				f.Close()
				return nil, diskError(err)
			}
		}
		s.sized[i] = true
	}
	h := &handle{f: f, refs: 1, used: s.clock, rw: rw}
	s.handles[i] = h
	return h, nil
}

func (s *Storage) release(h *handle) {
	s.mu.Lock()
	h.refs--
	s.mu.Unlock()
}

// evict closes the least recently used idle handles while too many are
// open. s.mu is held.
func (s *Storage) evict() {
	for len(s.handles) >= s.maxOpen {
		victim, oldest := -1, ^uint64(0)
		for i, h := range s.handles {
			if h.refs == 0 && h.used < oldest {
				victim, oldest = i, h.used
			}
		}
		if victim < 0 {
			return
		}
		s.handles[victim].f.Close()
		delete(s.handles, victim)
	}
}

// diskError marks a failure for want of space as ErrDiskFull.
func diskError(err error) error {
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return fmt.Errorf("%w: %w", ErrDiskFull, err)
	}
	return err
}

// Finish makes the content whole once every wanted piece is written: it
// creates the wanted empty files (no block ever touches them). It does not
// wait for the page cache to reach the disk (an fsync of gigabytes takes
// seconds); should the machine crash before it does, the next run finds no
// resume file, checks the data and fetches what was lost.
func (s *Storage) Finish() error {
	if s.ro {
		return nil
	}
	for i, f := range s.t.Info.Files {
		if f.Length != 0 || s.names[i] == "" || (i < len(s.skip) && s.skip[i]) {
			continue
		}
		h, err := s.acquire(i, true)
		if err != nil {
			return err
		}
		s.release(h)
	}
	return nil
}

// Prepare creates every wanted file that does not exist yet, at its full
// length (sparse), using several goroutines: on file systems where a
// create costs most of a millisecond, a torrent of 30,000 small files
// would otherwise spend half a minute creating them one by one in the
// write path. Directories are made first, once each.
func (s *Storage) Prepare(ctx context.Context, workers int) error {
	if s.ro {
		return nil
	}
	var todo []int
	for i, f := range s.t.Info.Files {
		if s.names[i] == "" || f.Length == 0 || (i < len(s.skip) && s.skip[i]) {
			continue
		}
		if fi, err := s.root.Stat(s.names[i]); err == nil && fi.Mode().IsRegular() {
			continue
		}
		todo = append(todo, i)
	}
	if len(todo) < 16 {
		return nil // the write path creates a few files as fast
	}
	for _, i := range todo {
		if dir := path.Dir(s.names[i]); dir != "." && !s.dirs[dir] {
			if err := s.root.MkdirAll(dir, 0o755); err != nil {
				return diskError(err)
			}
			s.dirs[dir] = true
		}
	}
	work := make(chan int)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for w := 0; w < max(workers, 1); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				f, err := s.root.OpenFile(s.names[i], os.O_RDWR|os.O_CREATE, 0o644)
				if err == nil {
					err = f.Truncate(s.t.Info.Files[i].Length)
					f.Close()
				}
				if err != nil {
					select {
					case errs <- diskError(err):
					default:
					}
					return
				}
			}
		}()
	}
	for _, i := range todo {
		select {
		case work <- i:
		case err := <-errs:
			close(work)
			wg.Wait()
			return err
		case <-ctx.Done():
			close(work)
			wg.Wait()
			return ctx.Err()
		}
	}
	close(work)
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
	}
	s.mu.Lock()
	for _, i := range todo {
		s.sized[i] = true
	}
	s.mu.Unlock()
	return nil
}
