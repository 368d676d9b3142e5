package piecehash

import (
	"fmt"
	"math"
	"sort"
)

// layout places files and pieces in the content address space.
type layout struct {
	files    []File
	starts   []int64 // content offset of each file; starts[len(files)] == total
	total    int64
	pieceLen int64
	n        int // number of pieces
}

func newLayout(files []File, pieceLen int64) (*layout, error) {
	if pieceLen <= 0 {
		return nil, fmt.Errorf("%w (got %d)", ErrPieceLength, pieceLen)
	}
	starts := make([]int64, len(files)+1)
	var total int64
	for i, f := range files {
		if f.Length < 0 {
			return nil, fmt.Errorf("%w: file %d (%s) has length %d", ErrFileLength, i, f.Path, f.Length)
		}
		if total > math.MaxInt64-f.Length {
			return nil, fmt.Errorf("%w: total content size overflows", ErrFileLength)
		}
		starts[i] = total
		total += f.Length
	}
	starts[len(files)] = total
	n := NumPieces(total, pieceLen)
	if int64(n) > math.MaxInt32 {
		return nil, fmt.Errorf("%w: %d pieces is too many", ErrPieceLength, n)
	}
	return &layout{files: files, starts: starts, total: total, pieceLen: pieceLen, n: n}, nil
}

// piece returns the content range [start, end) of piece p.
func (l *layout) piece(p int) (start, end int64) {
	start = int64(p) * l.pieceLen
	end = min(start+l.pieceLen, l.total)
	return start, end
}

// fileAt returns the index of the first file with bytes at or after content
// offset off, skipping zero-length files, or len(files) if there is none.
func (l *layout) fileAt(off int64) int {
	// First i whose end (starts[i+1]) is beyond off.
	return sort.Search(len(l.files), func(i int) bool { return l.starts[i+1] > off })
}

// pieceRange returns the pieces [first, last] that overlap content range
// [start, end), which must be non-empty.
func (l *layout) pieceRange(start, end int64) (first, last int) {
	return int(start / l.pieceLen), int((end - 1) / l.pieceLen)
}

// forSpans calls fn for each non-empty part of content range [start, end)
// that lies in one file: file index, offset in the file, content offset and
// length. It stops early if fn returns false.
func (l *layout) forSpans(start, end int64, fn func(i int, fileOff, off, n int64) bool) {
	for i := l.fileAt(start); i < len(l.files) && l.starts[i] < end; i++ {
		fs, fe := l.starts[i], l.starts[i+1]
		if fs == fe {
			continue
		}
		s, e := max(start, fs), min(end, fe)
		if !fn(i, s-fs, s, e-s) {
			return
		}
	}
}
