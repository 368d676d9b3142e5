package piecehash

import (
	"bytes"
	"context"
	"crypto/sha1"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"math"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

const (
	maxWorkers = 256
	minChunk   = 64 << 10
	bufBudget  = 16 << 20 // all worker buffers together

	hugePage = 2 << 20
	// Offsets and lengths of direct reads are multiples of dioAlign, which
	// is at least the logical block size of common block devices; a read
	// that fails with EINVAL anyway turns direct I/O off for the file.
	dioAlign = 4096
)

// Tuning knobs; variables so that benchmarks can compare settings.
var (
	readChunk     = 512 << 10       // per-worker read buffer
	prefetchAhead = int64(64 << 20) // advised bytes beyond the units in flight
	prefetchStep  = int64(4 << 20)  // bytes per advice call
	usePrefetch   = true
	// Cached parts of files of at least mapMin bytes are hashed where they
	// are in the page cache (see rfile.view) when useViews is set.
	useViews     = true
	mapMin       = int64(8 << 20)
	viewChunk    = int64(4 << 20) // bytes hashed per view
	seqAdviceMin = int64(4 << 20) // files at least this long get POSIX_FADV_SEQUENTIAL
	// Files of at least prefetchWholeMax bytes are only advised for their
	// first prefetchHead bytes.
	prefetchWholeMax = int64(16 << 20)
	prefetchHead     = int64(8 << 20)

	// Direct reads (see the package documentation): files of at least
	// directMin bytes are read with O_DIRECT where their pages are not
	// cached, by directExtra goroutines more than the hashing workers, each
	// with a buffer of at most directMaxBuf bytes; all the buffers together
	// take at most directBudget bytes of huge pages.
	useDirect    = true
	directMin    = int64(256 << 10)
	directExtra  = 6
	directMaxBuf = 4 << 20
	directBudget = 32 << 20
	// forceDirect makes every read that may be direct be direct, whatever
	// the page cache holds (tests).
	forceDirect = false
)

// hooks observe an engine's reads as they happen. Only this package's
// tests set them, through Options.hooks; a nil *hooks observes nothing.
type hooks struct {
	read   func(file int, fileOff int64, n int) // after each successful read
	direct func(file int, fileOff int64, n int) // after each successful direct read, too
	view   func(file int)                       // when a read gives a view of the page cache, before it is hashed
}

func (h *hooks) onRead(file int, fileOff int64, n int, direct bool) {
	if h == nil {
		return
	}
	if h.read != nil {
		h.read(file, fileOff, n)
	}
	if direct && h.direct != nil {
		h.direct(file, fileOff, n)
	}
}

func (h *hooks) onView(file int) {
	if h != nil && h.view != nil {
		h.view(file)
	}
}

// statInfo is what the initial pass learned about a file.
type statInfo struct {
	err     error
	size    int64
	mtime   time.Time
	regular bool
	avail   int64 // bytes that can be read at the recorded offsets (Verify)
}

// engine runs one Hash or Verify call.
type engine struct {
	l       *layout
	verify  bool
	workers int // goroutines that may hash at the same time
	chunk   int
	hooks   *hooks

	direct  bool          // files of at least directMin bytes may be read directly
	readers int           // goroutines taking units: workers, plus directExtra when direct
	sem     chan struct{} // with more readers than workers: one token per hashing goroutine

	expected []byte       // Verify: expected digests
	out      []byte       // Hash: digests
	states   []PieceState // Verify: per piece
	sched    []int32      // pieces to process in ascending order; nil means all
	count    int          // number of pieces to process
	per      int          // pieces per unit of work
	units    int

	info []statInfo
	v2   *v2State // HashV2: v2 piece hashes too

	next    atomic.Int64 // next unit
	stop    atomic.Bool
	ctxDone <-chan struct{}
	done    atomic.Int64 // content bytes processed (including skipped pieces)
	skipped int64        // bytes of pieces known missing, counted in done from the start
	read    atomic.Int64 // bytes read from disk

	wake   chan struct{}
	wakeAt atomic.Int64

	errMu sync.Mutex
	err   error

	repMu   sync.Mutex
	reports []FileReport
}

func (e *engine) pieceAt(k int) int {
	if e.sched == nil {
		return k
	}
	return int(e.sched[k])
}

// schedBytes returns the content bytes of the scheduled pieces.
func (e *engine) schedBytes() int64 {
	if e.sched == nil {
		return e.l.total
	}
	var t int64
	for _, p := range e.sched {
		s, end := e.l.piece(int(p))
		t += end - s
	}
	return t
}

// stopped reports whether the workers should give up: the context was
// cancelled or, when hashing, an error occurred.
func (e *engine) stopped() bool {
	if e.stop.Load() {
		return true
	}
	select {
	case <-e.ctxDone:
		e.stop.Store(true)
		return true
	default:
		return false
	}
}

func (e *engine) fail(err error) {
	e.errMu.Lock()
	if e.err == nil {
		e.err = err
	}
	e.errMu.Unlock()
	e.stop.Store(true)
}

func (e *engine) addDone(n int64) {
	if d := e.done.Add(n); d >= e.wakeAt.Load() {
		select {
		case e.wake <- struct{}{}:
		default:
		}
	}
}

// run processes every scheduled piece. It returns the first fatal error, or
// ctx.Err() if ctx was cancelled.
func (e *engine) run(ctx context.Context, progress func(int64)) error {
	e.count = e.l.n
	if e.sched != nil {
		e.count = len(e.sched)
	}
	bufs := e.planDirect()
	defer func() {
		for _, b := range bufs {
			b.free()
		}
	}()
	if !e.direct {
		e.plan(readChunk)
		if c := bufBudget / max(e.workers, 1); c < e.chunk {
			e.plan(max(c, minChunk) &^ 4095)
		}
		e.workers = max(1, min(e.workers, e.units))
		e.readers = e.workers
	}
	e.wake = make(chan struct{}, 1)
	e.wakeAt.Store(math.MaxInt64)

	e.ctxDone = ctx.Done()
	if ctx.Err() != nil {
		return ctx.Err()
	}

	var prog *progressTicker
	if progress != nil {
		prog = startProgress(progress, &e.done)
	}

	var pwg sync.WaitGroup
	quit := make(chan struct{})
	if usePrefetch && havePrefetch && e.units > 0 && !e.warm() {
		pwg.Add(1)
		go func() {
			defer pwg.Done()
			e.prefetch(quit)
		}()
	}

	var wg sync.WaitGroup
	for k := range e.readers {
		if e.units == 0 {
			break
		}
		w := &worker{e: e, h: sha1.New(), fi: -1}
		e.v2.setup(w)
		if e.direct {
			w.buf = bufs[k].b
		} else {
			w.buf = make([]byte, e.chunk)
		}
		w.rchunk = min(readChunk, len(w.buf))
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.loop()
		}()
	}
	wg.Wait()
	close(quit)
	pwg.Wait()

	err := ctx.Err()
	if err == nil {
		e.errMu.Lock()
		err = e.err
		e.errMu.Unlock()
	}
	if prog != nil {
		prog.stop(err == nil)
	}
	return err
}

// plan sets the unit size for a target of chunk content bytes per unit.
func (e *engine) plan(chunk int) {
	e.chunk = chunk
	if t := e.schedBytes(); t < int64(e.chunk) {
		e.chunk = int(max(t, 1))
	}
	e.per = max(1, int(int64(e.chunk)/e.l.pieceLen))
	e.units = (e.count + e.per - 1) / e.per
}

// planDirect sets up direct reads if they can be used: some file is long
// enough, cachestat(2) is there, and huge-page buffers for every reader fit
// in directBudget. It returns the buffers, one per reader.
func (e *engine) planDirect() []*directBuf {
	if !useDirect || e.count == 0 || !directAvailable() {
		return nil
	}
	var long []int
	for i, f := range e.l.files {
		if !f.Pad && f.Length >= directMin {
			long = append(long, i)
		}
	}
	if len(long) == 0 || (!forceDirect && e.sampleCached(long)) {
		return nil
	}
	// Each buffer takes whole huge pages.
	readers := e.workers + directExtra
	perReader := (directBudget / readers) &^ (hugePage - 1)
	n := min(directMaxBuf, perReader) &^ (dioAlign - 1)
	if n < dioAlign || readers*((n+hugePage-1)&^(hugePage-1)) > directBudget {
		return nil
	}
	e.plan(n)
	workers := max(1, min(e.workers, e.units))
	readers = max(1, min(readers, e.units))
	n = min(n, (e.chunk+dioAlign-1)&^(dioAlign-1))
	bufs := make([]*directBuf, 0, readers)
	for range readers {
		b := allocDirect(n)
		if b == nil {
			for _, b := range bufs {
				b.free()
			}
			return nil
		}
		bufs = append(bufs, b)
	}
	e.direct, e.workers, e.readers = true, workers, readers
	if readers > workers {
		e.sem = make(chan struct{}, workers)
	}
	return bufs
}

// warm reports whether the content, judged by a sample of its files, is in
// the page cache: then prefetching only costs time (two opens and advice
// calls per file for nothing, 5% of a warm run over 2,000 files).
func (e *engine) warm() bool {
	var files []int
	for i, f := range e.l.files {
		if !f.Pad && f.Length > 0 {
			files = append(files, i)
		}
	}
	return directAvailable() && e.sampleCached(files)
}

// cacheSamples is how many files sampleCached looks at.
const cacheSamples = 8

// sampleCached reports whether the files some (indices into the layout's
// files), judged by up to cacheSamples of them spread over the list, are
// all in the page cache. Then direct reads would not be used, and their
// buffers and extra readers would only cost time (a warm run over a tree
// of 2,000 files takes about 0.25 s). Only files the initial pass found
// regular are opened: opening a FIFO would wait for a writer.
func (e *engine) sampleCached(some []int) bool {
	type sample struct {
		i int
		n int64 // bytes there to be cached
	}
	var cands []sample
	for _, i := range some {
		if i >= len(e.info) || e.info[i].err != nil || !e.info[i].regular {
			continue
		}
		n := e.l.files[i].Length
		if e.verify {
			n = e.info[i].avail
		}
		if n > 0 {
			cands = append(cands, sample{i, n})
		}
	}
	k := min(len(cands), cacheSamples)
	if k == 0 {
		return false
	}
	for j := range k {
		c := cands[j*len(cands)/k]
		r, err := openFile(e.l.files[c.i].Path)
		if err != nil {
			return false // the readers will say what is wrong
		}
		cached := r.cached(0, c.n)
		r.close()
		if !cached {
			return false
		}
	}
	return true
}

// progressTicker reports a counter to a callback at a bounded rate.
type progressTicker struct {
	fn    func(int64)
	ctr   *atomic.Int64
	quit  chan struct{}
	ended chan struct{}
	last  int64
}

const progressEvery = 50 * time.Millisecond

func startProgress(fn func(int64), ctr *atomic.Int64) *progressTicker {
	p := &progressTicker{fn: fn, ctr: ctr, quit: make(chan struct{}), ended: make(chan struct{}), last: -1}
	go func() {
		defer close(p.ended)
		t := time.NewTicker(progressEvery)
		defer t.Stop()
		for {
			select {
			case <-p.quit:
				return
			case <-t.C:
				if v := p.ctr.Load(); v != p.last {
					p.last = v
					p.fn(v)
				}
			}
		}
	}()
	return p
}

// stop ends the ticker; with final set it reports the final value if it was
// not reported yet.
func (p *progressTicker) stop(final bool) {
	close(p.quit)
	<-p.ended
	if v := p.ctr.Load(); final && v != p.last {
		p.last = v
		p.fn(v)
	}
}

// worker owns a read buffer and a SHA-1 state, and the file it last read.
type worker struct {
	e      *engine
	buf    []byte
	rchunk int // bytes per read through the page cache
	h      hash.Hash
	sum    [sha1.Size]byte

	// The piece being hashed: p, which ends at content offset pEnd, and
	// the content offset of the next byte to hash.
	p         int
	pos, pEnd int64

	fi     int // index of the open file, -1 if none
	f      *rfile
	viewed bool      // the last read gave a view of the page cache, not a copy
	v2     *v2Worker // HashV2: the v2 hash of the piece being hashed
}

func (w *worker) loop() {
	e := w.e
	defer w.closeFile()
	for !e.stopped() {
		u := int(e.next.Add(1) - 1)
		if u >= e.units {
			return
		}
		lo, hi := u*e.per, min(u*e.per+e.per, e.count)
		for lo < hi && !e.stopped() {
			r := lo + 1
			for r < hi && e.pieceAt(r) == e.pieceAt(r-1)+1 {
				r++
			}
			w.pieces(e.pieceAt(lo), e.pieceAt(r-1))
			lo = r
		}
	}
}

// pieces hashes consecutive pieces first..last.
func (w *worker) pieces(first, last int) {
	e, l := w.e, w.e.l
	start, _ := l.piece(first)
	_, end := l.piece(last)
	w.p, w.pos, w.pEnd = first, start, min(start+l.pieceLen, l.total)
	w.h.Reset()
	i := l.fileAt(start)
	for w.pos < end {
		if e.stopped() {
			return
		}
		for l.starts[i+1] <= w.pos {
			i++
		}
		fileOff, n := w.pos-l.starts[i], min(l.starts[i+1], end)-w.pos
		// A goroutine holds a token while it uses CPU: from before a read
		// through the page cache, which copies, but only from after a
		// direct read, which waits for the device.
		direct := w.direct(i, fileOff, n)
		if !direct {
			e.acquire()
		}
		b, ok := w.read(i, fileOff, n, direct, first, last)
		if direct {
			e.acquire()
		}
		if !ok && !e.verify {
			e.release()
			return
		}
		hashed := true
		if w.viewed {
			w.viewed = false
			hashed = w.hashView(b, i, first, last)
		} else {
			w.hash(b)
		}
		e.release()
		if !hashed {
			return
		}
		e.addDone(int64(len(b)))
	}
}

func (e *engine) acquire() {
	if e.sem != nil {
		e.sem <- struct{}{}
	}
}

func (e *engine) release() {
	if e.sem != nil {
		<-e.sem
	}
}

// hashView hashes b, a view of file i's pages (see rfile.view), which
// starts at w.pos. Reading it faults if the file was truncated since the
// view was taken: a Hash run then stops as for a changed file; Verify
// records the file as changed, its pieces in the view as missing, and goes
// on past the view.
func (w *worker) hashView(b []byte, i int, first, last int) bool {
	start := w.pos
	if !w.hashGuarded(b) {
		return true
	}
	e, l := w.e, w.e.l
	err := fmt.Errorf("%s: %w: truncated while read", l.files[i].Path, ErrFileChanged)
	if !e.verify {
		e.fail(err)
		return false
	}
	e.fileError(i, err)
	end := start + int64(len(b))
	a, z := l.pieceRange(start, end)
	for q := max(a, first); q <= min(z, last); q++ {
		e.states[q] = PieceMissing
	}
	// The digests of those pieces are not looked at; hashing zeros keeps
	// the position for the pieces after them.
	for w.pos < end {
		zeros := w.buf[:min(end-w.pos, int64(len(w.buf)))]
		clear(zeros)
		w.hash(zeros)
	}
	return true
}

// hashGuarded hashes b, reporting whether reading it faulted.
func (w *worker) hashGuarded(b []byte) (faulted bool) {
	defer func() {
		if r := recover(); r != nil {
			if _, fault := r.(interface{ Addr() uintptr }); !fault {
				panic(r)
			}
			faulted = true
		}
	}()
	old := debug.SetPanicOnFault(true)
	defer debug.SetPanicOnFault(old)
	w.hash(b)
	return false
}

// hash feeds b, the content at w.pos, to the piece hashes.
func (w *worker) hash(b []byte) {
	l := w.e.l
	for len(b) > 0 {
		k := min(int64(len(b)), w.pEnd-w.pos)
		if w.v2 != nil {
			k = min(k, v2Stride) // both hashes read it while it is in the cache
		}
		w.h.Write(b[:k])
		if w.v2 != nil {
			w.v2.write(w.p, w.pos, b[:k])
		}
		b = b[k:]
		w.pos += k
		if w.pos == w.pEnd {
			w.finish(w.p)
			w.p++
			w.pEnd = min(w.pEnd+l.pieceLen, l.total)
			w.h.Reset()
		}
	}
}

// finish records the digest of piece p from the current hash state.
func (w *worker) finish(p int) {
	e := w.e
	if w.v2 != nil {
		w.v2.finish(p)
	}
	if !e.verify {
		w.h.Sum(e.out[p*sha1.Size : p*sha1.Size])
		return
	}
	if e.states[p] == PieceMissing {
		return
	}
	sum := w.h.Sum(w.sum[:0])
	if bytes.Equal(sum, e.expected[p*sha1.Size:(p+1)*sha1.Size]) {
		e.states[p] = PieceOK
	} else {
		e.states[p] = PieceCorrupt
	}
}

// direct reports whether the next read, of up to n bytes of file i at
// fileOff, should bypass the page cache: the file is long enough, on a
// filesystem that supports it, and the bytes are not all cached already.
func (w *worker) direct(i int, fileOff, n int64) bool {
	e := w.e
	if !e.direct || e.l.files[i].Pad || e.l.files[i].Length < directMin {
		return false
	}
	f, err := w.open(i)
	if err != nil || !f.canDirect() {
		return false
	}
	return forceDirect || !f.cached(fileOff, min(n, int64(w.rchunk)))
}

// read reads the start of the n bytes of file i at fileOff, the content at
// w.pos, and returns them (at least one byte, in w.buf). When hashing, a
// failure stops the run and read returns false. When verifying, an
// unreadable part reads as zeros, the pieces overlapping it (all within
// first..last) are marked missing, and read returns false.
func (w *worker) read(i int, fileOff, n int64, direct bool, first, last int) ([]byte, bool) {
	e, l := w.e, w.e.l
	if l.files[i].Pad {
		b := w.buf[:min(n, int64(len(w.buf)))]
		clear(b)
		return b, true
	}
	b, err := w.readFile(i, fileOff, n, direct)
	if err == nil {
		return b, true
	}
	if !e.verify {
		e.fail(err)
		return nil, false
	}
	b = w.buf[:min(n, int64(w.rchunk))]
	clear(b)
	e.fileError(i, err)
	a, z := l.pieceRange(w.pos, w.pos+int64(len(b)))
	for q := max(a, first); q <= min(z, last); q++ {
		e.states[q] = PieceMissing
	}
	return b, false
}

func (w *worker) readFile(i int, fileOff, n int64, direct bool) ([]byte, error) {
	e := w.e
	f, err := w.open(i)
	if err != nil {
		return nil, err
	}
	var b []byte
	want := min(n, int64(w.rchunk))
	if direct {
		want = min(n, int64(len(w.buf))-fileOff%dioAlign)
		b, err = f.readDirect(w.buf, fileOff, n)
		if err == errNoDirect {
			direct, want = false, min(n, int64(w.rchunk))
		}
	}
	if !direct {
		var viewed bool
		if useViews {
			b, viewed = f.view(fileOff, min(n, viewChunk))
		}
		if viewed {
			w.viewed, err = true, nil // a failed direct read left errNoDirect
			e.hooks.onView(i)
		} else {
			var k int
			k, err = f.readAt(w.buf[:want], fileOff)
			b = w.buf[:k]
		}
	}
	e.read.Add(int64(len(b)))
	if err == nil {
		e.hooks.onRead(i, fileOff, len(b), direct)
		return b, nil
	}
	if errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: %w: shorter than %d bytes", e.l.files[i].Path, ErrFileChanged, fileOff+want)
	}
	return nil, err
}

// open returns file i, keeping at most one file open per worker.
func (w *worker) open(i int) (*rfile, error) {
	if w.fi == i {
		return w.f, nil
	}
	w.closeFile()
	e := w.e
	f, err := openFile(e.l.files[i].Path)
	if err != nil {
		return nil, err
	}
	if e.l.files[i].Length >= seqAdviceMin {
		f.adviseSequential()
	}
	w.f, w.fi = f, i
	return f, nil
}

// closeFile closes the open file. When hashing, the file must still have the
// size and modification time seen by the initial pass: that catches changes
// made at any time before the last read.
func (w *worker) closeFile() {
	if w.f == nil {
		return
	}
	if !w.e.verify {
		if err := w.e.checkUnchanged(w.fi, w.f); err != nil {
			w.e.fail(err)
		}
	}
	w.f.close()
	w.f, w.fi = nil, -1
}

// checkUnchanged compares an open file with what the initial pass saw.
func (e *engine) checkUnchanged(i int, f *rfile) error {
	size, mtime, err := f.stat()
	if err != nil {
		return err
	}
	want := e.l.files[i].Length
	path := e.l.files[i].Path
	if size != want {
		return fmt.Errorf("%s: %w: size is now %d, expected %d", path, ErrFileChanged, size, want)
	}
	if !mtime.Equal(e.info[i].mtime) {
		return fmt.Errorf("%s: %w: modified at %s", path, ErrFileChanged, mtime.Format(time.RFC3339Nano))
	}
	return nil
}

// fileError records a read failure of file i during Verify.
func (e *engine) fileError(i int, err error) {
	e.repMu.Lock()
	defer e.repMu.Unlock()
	r := &e.reports[i]
	if r.State == FileUnreadable || r.State == FileMissing {
		return
	}
	if errors.Is(err, ErrFileChanged) {
		if r.State == FileWrongSize {
			return
		}
		r.State, r.Err = FileWrongSize, err
		if st, serr := os.Stat(e.l.files[i].Path); serr == nil {
			r.Size = st.Size()
		}
		return
	}
	if errors.Is(err, fs.ErrNotExist) {
		r.State, r.Size, r.Err = FileMissing, -1, err
		return
	}
	r.State, r.Err = FileUnreadable, err
}

// prefetch advises the kernel about the data the workers will read next,
// in schedule order, staying a bounded distance ahead of them.
func (e *engine) prefetch(quit <-chan struct{}) {
	l := e.l
	limit := prefetchAhead + int64(e.readers*e.per)*l.pieceLen
	var pf prefetchFile
	defer pf.close()
	issued := e.skipped // in the units of e.done
	for k := 0; k < e.count; {
		r := k + 1
		for r < e.count && e.pieceAt(r) == e.pieceAt(r-1)+1 {
			r++
		}
		start, _ := l.piece(e.pieceAt(k))
		_, end := l.piece(e.pieceAt(r - 1))
		k = r
		for pos := start; pos < end; {
			// Wait until the workers are close enough.
			for issued-e.done.Load() > limit {
				e.wakeAt.Store(issued - limit + prefetchStep)
				if issued-e.done.Load() <= limit {
					break
				}
				select {
				case <-quit:
					return
				case <-e.wake:
				}
			}
			e.wakeAt.Store(math.MaxInt64)
			select {
			case <-quit:
				return
			default:
			}
			n := min(prefetchStep, end-pos)
			l.forSpans(pos, pos+n, func(i int, fileOff, _, n int64) bool {
				if l.files[i].Pad || (e.direct && l.files[i].Length >= directMin) {
					return true
				}
				if l.files[i].Length >= prefetchWholeMax {
					// Large files are left to the kernel's sequential
					// readahead once their first bytes are requested.
					if fileOff >= prefetchHead {
						return true
					}
					n = min(n, prefetchHead-fileOff)
				}
				pf.advise(i, l.files[i].Path, fileOff, n)
				return true
			})
			pos += n
			issued += n
		}
	}
}

// prefetchFile is the descriptor the prefetcher advises through.
type prefetchFile struct {
	i   int
	set bool
	f   *rfile // nil if file i could not be opened
}

func (p *prefetchFile) advise(i int, path string, off, n int64) {
	if !p.set || p.i != i {
		p.close()
		p.i, p.set = i, true
		if f, err := openFile(path); err == nil {
			p.f = f
		}
	}
	if p.f != nil {
		p.f.adviseWillNeed(off, n)
	}
}

func (p *prefetchFile) close() {
	if p.f != nil {
		p.f.close()
		p.f = nil
	}
}
