package piecehash

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync"
	"sync/atomic"

	"tt/internal/merkle"
)

// V2File is one non-empty or empty file of a v2 torrent for VerifyV2. In
// v2 every file starts a piece of its own, so its pieces are counted from
// its first byte.
type V2File struct {
	Path   string
	Length int64
	// Root is the file's pieces root; zero when the torrent has none (an
	// empty file, or a finding of lenient parsing: nothing to check).
	Root merkle.Hash
	// Layer is the file's piece layer, 32 bytes per piece, for a file
	// larger than one piece. When it is nil for such a file, the piece
	// hashes are computed from the data and checked against Root as a
	// whole: a mismatch then marks every piece of the file corrupt.
	Layer []byte
}

// V2FileReport describes one file after VerifyV2.
type V2FileReport struct {
	State  FileState    // as for Verify; FileCorrupt when a piece is corrupt or missing
	Size   int64        // size on disk; -1 if absent or not a regular file
	Err    error        // what made the file missing, unreadable or of the wrong size
	Pieces []PieceState // one per piece of the file; PieceUnchecked when the torrent has no hash for it
	// BadPieces lists the pieces (counted from the file's first) that are
	// corrupt or missing, ascending.
	BadPieces []int
}

// V2Report is the outcome of VerifyV2.
type V2Report struct {
	Files     []V2FileReport
	Pieces    int   // pieces of all files
	OKPieces  int   // pieces in state PieceOK
	BytesRead int64 // bytes read from disk
}

// treeUnit is a run of pieces of one file that a worker hashes in one go.
type treeUnit struct {
	file        int
	first, last int // pieces, inclusive
}

// treeEngine runs one VerifyV2 call.
type treeEngine struct {
	files    []V2File
	pieceLen int64
	blocks   int64 // blocks per piece
	reports  []V2FileReport
	computed [][]merkle.Hash // piece hashes of files that have no layer
	avail    []int64
	units    []treeUnit
	next     atomic.Int64
	done     atomic.Int64
	read     atomic.Int64
	ctxDone  <-chan struct{}
	repMu    sync.Mutex
}

// treeUnitBytes is the content a unit of work covers at least (one piece
// when pieces are longer).
const treeUnitBytes = 4 << 20

// VerifyV2 checks files against the merkle trees of a v2 torrent (BEP 52):
// each piece of each file is hashed from its 16 KiB blocks and compared
// with its piece hash (the piece layer's node, or the pieces root for a
// file of one piece). As in Verify, a file that is missing, short or
// unreadable has the pieces it cannot supply PieceMissing and the others
// checked; bytes past the torrent length are ignored. Workers read
// through reused buffers of readChunk bytes each, in content order.
// VerifyV2 returns an error only for invalid arguments or when ctx is
// cancelled.
func VerifyV2(ctx context.Context, files []V2File, pieceLen int64, opt Options) (*V2Report, error) {
	h, ok := merkle.PieceHeight(pieceLen)
	if !ok {
		return nil, fmt.Errorf("%w: %d is not a power of two of at least 16 KiB", ErrPieceLength, pieceLen)
	}
	e := &treeEngine{files: files, pieceLen: pieceLen, blocks: int64(1) << h,
		reports: make([]V2FileReport, len(files)), computed: make([][]merkle.Hash, len(files)), avail: make([]int64, len(files))}
	plain := make([]File, len(files))
	for i, f := range files {
		if f.Length < 0 {
			return nil, fmt.Errorf("%w: file %d (%s) has length %d", ErrFileLength, i, f.Path, f.Length)
		}
		n := merkle.NumPieces(f.Length, pieceLen)
		if f.Layer != nil && int64(len(f.Layer)) != 32*n {
			return nil, fmt.Errorf("%w: %s: layer of %d bytes for %d pieces", ErrExpectedLength, f.Path, len(f.Layer), n)
		}
		plain[i] = File{Path: f.Path, Length: f.Length}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rep := &V2Report{Files: e.reports}
	for i, in := range statAll(plain) {
		e.stat(i, in)
		rep.Pieces += len(e.reports[i].Pieces)
	}
	e.plan()
	e.ctxDone = ctx.Done()

	var prog *progressTicker
	if opt.Progress != nil {
		prog = startProgress(opt.Progress, &e.done)
	}
	workers := max(1, min(opt.workers(), len(e.units)))
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := treeWorker{e: e, fi: -1, buf: make([]byte, max(readChunk, merkle.BlockSize)&^(merkle.BlockSize-1))}
			defer w.close()
			w.loop()
		}()
	}
	wg.Wait()
	err := ctx.Err()
	if prog != nil {
		prog.stop(err == nil)
	}
	if err != nil {
		return nil, err
	}
	e.finish(rep)
	rep.BytesRead = e.read.Load()
	return rep, nil
}

// stat records what the initial pass learned about file i and marks the
// pieces it cannot supply missing.
func (e *treeEngine) stat(i int, in statInfo) {
	f := &e.files[i]
	r := &e.reports[i]
	n := merkle.NumPieces(f.Length, e.pieceLen)
	r.Pieces = make([]PieceState, n)
	switch {
	case in.err != nil:
		r.Size, r.Err, r.State = -1, in.err, FileUnreadable
		if errors.Is(in.err, fs.ErrNotExist) || isNotDir(in.err) {
			r.State = FileMissing
		}
	case !in.regular:
		r.Size, r.Err, r.State = -1, fmt.Errorf("%s: %w", f.Path, ErrNotRegular), FileUnreadable
	default:
		r.Size, e.avail[i] = in.size, min(in.size, f.Length)
		if in.size != f.Length {
			r.State = FileWrongSize
			r.Err = fmt.Errorf("%s: %w: %d bytes on disk, expected %d", f.Path, ErrWrongSize, in.size, f.Length)
		}
	}
	if n > 1 && f.Layer == nil && f.Root != (merkle.Hash{}) {
		e.computed[i] = make([]merkle.Hash, n)
	}
	for p := range n {
		switch {
		case f.Root == (merkle.Hash{}):
			// No hash to check against.
		case min(int64(p+1)*e.pieceLen, f.Length) > e.avail[i]:
			r.Pieces[p] = PieceMissing
			e.done.Add(min(e.pieceLen, f.Length-int64(p)*e.pieceLen))
		}
	}
}

// plan cuts the pieces to check into units of about treeUnitBytes, in
// content order.
func (e *treeEngine) plan() {
	per := int(max(1, treeUnitBytes/e.pieceLen))
	for i, f := range e.files {
		if f.Root == (merkle.Hash{}) {
			continue
		}
		ps := e.reports[i].Pieces
		for p := 0; p < len(ps); {
			if ps[p] != PieceUnchecked {
				p++
				continue
			}
			q := p
			for q+1 < len(ps) && q+1-p < per && ps[q+1] == PieceUnchecked {
				q++
			}
			e.units = append(e.units, treeUnit{i, p, q})
			p = q + 1
		}
	}
}

// finish turns piece states into file states, checking the roots of the
// files whose piece hashes were computed.
func (e *treeEngine) finish(rep *V2Report) {
	for i := range e.reports {
		r := &e.reports[i]
		if c := e.computed[i]; c != nil && !hasState(r.Pieces, PieceMissing) {
			st := PieceOK
			if root, _ := merkle.RootFromPieceLayer(c, e.pieceLen); root != e.files[i].Root {
				st = PieceCorrupt
			}
			for p := range r.Pieces {
				r.Pieces[p] = st
			}
		}
		for p, st := range r.Pieces {
			switch st {
			case PieceOK:
				rep.OKPieces++
			case PieceCorrupt, PieceMissing:
				r.BadPieces = append(r.BadPieces, p)
			}
		}
		if r.State == FileOK && len(r.BadPieces) > 0 {
			r.State = FileCorrupt
		}
	}
}

func hasState(ps []PieceState, s PieceState) bool {
	for _, p := range ps {
		if p == s {
			return true
		}
	}
	return false
}

// fileError records a read failure of file i.
func (e *treeEngine) fileError(i int, err error) {
	e.repMu.Lock()
	defer e.repMu.Unlock()
	r := &e.reports[i]
	switch {
	case r.State == FileUnreadable || r.State == FileMissing:
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, ErrFileChanged):
		if r.State != FileWrongSize {
			r.State = FileWrongSize
			r.Err = fmt.Errorf("%s: %w: shorter than when it was first seen", e.files[i].Path, ErrFileChanged)
			if st, serr := os.Stat(e.files[i].Path); serr == nil {
				r.Size = st.Size()
			}
		}
	case errors.Is(err, fs.ErrNotExist):
		r.State, r.Size, r.Err = FileMissing, -1, err
	default:
		r.State, r.Err = FileUnreadable, err
	}
}

// treeWorker owns a read buffer and the file it last opened.
type treeWorker struct {
	e   *treeEngine
	buf []byte
	fi  int
	f   *rfile
	b   merkle.Builder
}

func (w *treeWorker) close() {
	if w.f != nil {
		w.f.close()
		w.f, w.fi = nil, -1
	}
}

func (w *treeWorker) stopped() bool {
	select {
	case <-w.e.ctxDone:
		return true
	default:
		return false
	}
}

func (w *treeWorker) loop() {
	e := w.e
	for !w.stopped() {
		u := int(e.next.Add(1) - 1)
		if u >= len(e.units) {
			return
		}
		un := e.units[u]
		for p := un.first; p <= un.last && !w.stopped(); p++ {
			w.piece(un.file, p)
		}
	}
}

// piece hashes piece p of file i and records its state.
func (w *treeWorker) piece(i, p int) {
	e := w.e
	f := &e.files[i]
	start := int64(p) * e.pieceLen
	end := min(start+e.pieceLen, f.Length)
	st := &e.reports[i].Pieces[p]
	defer e.addDone(end - start)
	if w.fi != i {
		w.close()
		fh, err := openFile(f.Path)
		if err != nil {
			e.fileError(i, err)
			*st = PieceMissing
			return
		}
		if f.Length >= seqAdviceMin {
			fh.adviseSequential()
		}
		w.f, w.fi = fh, i
	}
	w.b.Reset(0)
	for off := start; off < end; {
		b := w.buf[:min(int64(len(w.buf)), end-off)]
		n, err := w.f.readAt(b, off)
		e.read.Add(int64(n))
		if n < len(b) {
			if err == nil {
				err = io.ErrUnexpectedEOF
			}
			e.fileError(i, err)
			*st = PieceMissing
			return
		}
		w.push(b)
		off += int64(n)
	}
	width := e.blocks
	if f.Length <= e.pieceLen {
		width = 0 // a file of one piece: the root over its blocks alone
	}
	got := w.b.Root(width)
	if c := e.computed[i]; c != nil {
		c[p] = got
		return // checked as a whole against the root in finish
	}
	want := f.Root
	if f.Length > e.pieceLen {
		want = merkle.Hash(f.Layer[p*32 : p*32+32])
	}
	if got == want {
		*st = PieceOK
	} else {
		*st = PieceCorrupt
	}
}

func (e *treeEngine) addDone(n int64) { e.done.Add(n) }

// push adds the leaves of b, whole blocks but for the file's last.
func (w *treeWorker) push(b []byte) {
	for k := 0; k < len(b); k += merkle.BlockSize {
		w.b.Push(merkle.HashBlock(b[k:min(k+merkle.BlockSize, len(b))]))
	}
}

// VerifyHybrid checks the content of a hybrid torrent in one read: the
// SHA-1 pieces as Verify does, and the v2 hash of each piece computed from
// the same bytes (the merkle root over the blocks of the file in it) against
// expectedV2(p), which reports false when the torrent has no v2 hash for
// piece p. files are laid out as in the torrent's v1 file list, pad files
// included; every non-empty file that is not a pad file must start at a
// multiple of pieceLen, a power of two of at least 16 KiB. The second
// result holds the v2 state of each piece: PieceMissing where Verify found
// the piece missing, PieceUnchecked where there is no v2 hash.
func VerifyHybrid(ctx context.Context, files []File, pieceLen int64, expected []byte, expectedV2 func(p int) (merkle.Hash, bool), opt Options) (*Report, []PieceState, error) {
	if _, ok := merkle.PieceHeight(pieceLen); !ok {
		return nil, nil, fmt.Errorf("%w: %d is not a power of two of at least 16 KiB", ErrPieceLength, pieceLen)
	}
	l, err := newLayout(files, pieceLen)
	if err != nil {
		return nil, nil, err
	}
	for i, f := range files {
		if !f.Pad && f.Length > 0 && l.starts[i]%pieceLen != 0 {
			return nil, nil, fmt.Errorf("%s: %w (offset %d)", f.Path, ErrUnaligned, l.starts[i])
		}
	}
	s := &v2State{l: l, v1: true, blocks: pieceLen / merkle.BlockSize, hashes: make([]merkle.Hash, l.n)}
	opt.v2 = s
	rep, err := Verify(ctx, files, pieceLen, expected, opt)
	if err != nil {
		return nil, nil, err
	}
	v2 := make([]PieceState, len(rep.Pieces))
	for p, st := range rep.Pieces {
		want, ok := expectedV2(p)
		switch {
		case st == PieceMissing:
			v2[p] = PieceMissing
		case !ok || st == PieceUnchecked:
		case s.hashes[p] == want:
			v2[p] = PieceOK
		default:
			v2[p] = PieceCorrupt
		}
	}
	return rep, v2, nil
}
