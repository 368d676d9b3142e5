package piecehash

import (
	"context"
	"crypto/sha1"
	"errors"
	"fmt"
	"io/fs"
	"slices"
)

// Verify checks the content made of files against expected, the
// concatenated 20-byte digests of every piece.
//
// Each file is read at its own offsets, so a missing, short or unreadable
// file does not shift the others: the pieces overlapping a region that
// cannot be read are PieceMissing, and every other piece is checked. Bytes
// beyond the torrent length of a too-long file are ignored (the file is
// FileWrongSize). Verify returns an error only for invalid arguments or
// when ctx is cancelled (ctx.Err(), with a nil report).
func Verify(ctx context.Context, files []File, pieceLen int64, expected []byte, opt Options) (*Report, error) {
	return verify(ctx, files, pieceLen, expected, nil, opt)
}

// VerifyPieces is Verify restricted to the given piece indices (in any
// order, duplicates allowed). Pieces not listed are PieceUnchecked in the
// report and do not affect file states. An empty list checks nothing.
func VerifyPieces(ctx context.Context, files []File, pieceLen int64, expected []byte, pieces []int, opt Options) (*Report, error) {
	if pieces == nil {
		pieces = []int{}
	}
	return verify(ctx, files, pieceLen, expected, pieces, opt)
}

func verify(ctx context.Context, files []File, pieceLen int64, expected []byte, want []int, opt Options) (*Report, error) {
	l, err := newLayout(files, pieceLen)
	if err != nil {
		return nil, err
	}
	if len(expected) != l.n*sha1.Size {
		return nil, fmt.Errorf("%w: got %d bytes, %d pieces need %d", ErrExpectedLength, len(expected), l.n, l.n*sha1.Size)
	}
	var req []int32
	if want != nil {
		req = make([]int32, 0, len(want))
		for _, p := range want {
			if p < 0 || p >= l.n {
				return nil, fmt.Errorf("%w: %d (have %d pieces)", ErrPieceIndex, p, l.n)
			}
			req = append(req, int32(p))
		}
		slices.Sort(req)
		req = slices.Compact(req)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	info := statAll(files)
	reports := make([]FileReport, len(files))
	allAvail := true
	for i, f := range files {
		r := &reports[i]
		in := &info[i]
		r.Index = i
		if f.Pad {
			r.Size, in.avail = f.Length, f.Length
			continue
		}
		switch {
		case in.err != nil:
			r.Size, r.Err = -1, in.err
			r.State = FileUnreadable
			if errors.Is(in.err, fs.ErrNotExist) || isNotDir(in.err) {
				r.State = FileMissing
			}
		case !in.regular:
			r.Size, r.Err, r.State = -1, fmt.Errorf("%s: %w", f.Path, ErrNotRegular), FileUnreadable
		default:
			r.Size, in.avail = in.size, min(in.size, f.Length)
			if in.size != f.Length {
				r.State = FileWrongSize
				r.Err = fmt.Errorf("%s: %w: %d bytes on disk, expected %d", f.Path, ErrWrongSize, in.size, f.Length)
			}
		}
		if in.avail < f.Length {
			allAvail = false
		}
	}

	states := make([]PieceState, l.n)
	e := &engine{l: l, verify: true, workers: opt.workers(), expected: expected, states: states, info: info, reports: reports, hooks: opt.hooks, v2: opt.v2}
	switch {
	case allAvail && req == nil:
	case allAvail:
		e.sched = req
	default:
		// Pieces with bytes that cannot be read are missing without reading.
		available := func(p int) bool {
			s, end := l.piece(p)
			ok := true
			l.forSpans(s, end, func(i int, fileOff, _, n int64) bool {
				ok = files[i].Pad || fileOff+n <= info[i].avail
				return ok
			})
			return ok
		}
		var skipped int64
		e.sched = make([]int32, 0, len(req))
		consider := func(p int) {
			if available(p) {
				e.sched = append(e.sched, int32(p))
				return
			}
			states[p] = PieceMissing
			s, end := l.piece(p)
			skipped += end - s
		}
		if req == nil {
			for p := range l.n {
				consider(p)
			}
		} else {
			for _, p := range req {
				consider(int(p))
			}
		}
		e.skipped = skipped
		e.done.Store(skipped)
	}

	if err := e.run(ctx, opt.Progress); err != nil {
		return nil, err
	}

	rep := &Report{Pieces: states, Files: reports, BytesRead: e.read.Load()}
	for p, st := range states {
		switch st {
		case PieceOK:
			rep.OKPieces++
		case PieceCorrupt, PieceMissing:
			s, end := l.piece(p)
			l.forSpans(s, end, func(i int, _, _, _ int64) bool {
				if !files[i].Pad {
					reports[i].BadPieces = append(reports[i].BadPieces, p)
				}
				return true
			})
		}
	}
	for i := range reports {
		if r := &reports[i]; r.State == FileOK && len(r.BadPieces) > 0 {
			r.State = FileCorrupt
		}
	}
	return rep, nil
}
