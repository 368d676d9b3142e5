// Package piecehash computes and checks BitTorrent v1 piece hashes.
//
// The content of a torrent is the concatenation of its files (BEP 47 pad
// files contribute zero bytes and are never read). It is cut into pieces of
// pieceLen bytes, the last one possibly shorter, and each piece is identified
// by its SHA-1. Hash computes those digests for tt create; Verify checks
// data on disk against expected digests for tt verify and reports per piece
// and per file what is OK, corrupt, missing or of the wrong size;
// VerifyPieces checks only some pieces (a resumed download). Options sets
// the number of hashing goroutines and a progress callback:
//
//	files := []piecehash.File{{Path: "a.iso", Length: size}}
//	sums, err := piecehash.Hash(ctx, files, 1<<20, piecehash.Options{})
//	rep, err := piecehash.Verify(ctx, files, 1<<20, sums, piecehash.Options{})
//
// Work is handed out in content order, one piece (or a run of small
// pieces) at a time, to workers that each read into a reused buffer and
// hash it while it is still in the CPU cache, so disk access stays nearly
// sequential and a large piece never needs a buffer of its size. On Linux
// files are read through raw descriptors; small files are prefetched with
// posix_fadvise while earlier ones are hashed; cached parts of large files
// are hashed in place through a mapping of the page cache; and uncached
// parts of files of 256 KiB or more on ext4, XFS or btrfs are read with
// O_DIRECT into huge-page buffers by a few readers more than the hashers
// (cachestat(2) tells cached from uncached). Elsewhere files are read with
// ReadAt. A file that changes while it is read ends Hash with
// ErrFileChanged, and marks its pieces missing in Verify.
//
// The measurements behind these choices are in docs/benchmarks.md, under
// "Inside the hashing package".
package piecehash

import (
	"errors"
	"fmt"
	"runtime"
)

// File is one file of the torrent content, in torrent order.
type File struct {
	Path   string // OS path to read; ignored when Pad is true
	Length int64  // length recorded in the torrent
	Pad    bool   // BEP 47 pad file: contributes Length zero bytes, never read from disk
}

// Options tunes Hash and Verify.
type Options struct {
	// Workers is the number of goroutines that hash at the same time; 0
	// means runtime.GOMAXPROCS(0). With direct reads (see the package
	// documentation) six more goroutines wait for the disk.
	Workers int
	// Progress, if set, is called with the number of content bytes processed
	// so far. Values never decrease. It is called at most about 20 times a
	// second, never concurrently with itself, from any goroutine; the last
	// call, made before Hash or Verify returns successfully, reports the total.
	Progress func(done int64)

	hooks *hooks   // set by this package's tests only
	v2    *v2State // VerifyHybrid: v2 piece hashes computed in the same read
}

// Errors a caller may test for with errors.Is.
var (
	// ErrPieceLength reports a piece length that is zero or negative.
	ErrPieceLength = errors.New("piecehash: piece length must be positive")
	// ErrFileLength reports a negative file length or a total that overflows.
	ErrFileLength = errors.New("piecehash: invalid file length")
	// ErrExpectedLength reports expected hashes that are not 20 bytes per piece.
	ErrExpectedLength = errors.New("piecehash: expected hashes do not match the piece count")
	// ErrPieceIndex reports a piece index out of range in VerifyPieces.
	ErrPieceIndex = errors.New("piecehash: piece index out of range")
	// ErrWrongSize reports a file whose size on disk is not its torrent length.
	ErrWrongSize = errors.New("piecehash: file size differs from torrent length")
	// ErrFileChanged reports a file that changed size or was modified while it was read.
	ErrFileChanged = errors.New("piecehash: file changed while being read")
	// ErrNotRegular reports a path that exists but is not a regular file.
	ErrNotRegular = errors.New("piecehash: not a regular file")
)

// PieceState is the outcome of checking one piece.
type PieceState uint8

const (
	// PieceUnchecked marks a piece VerifyPieces was not asked to check.
	PieceUnchecked PieceState = iota
	// PieceOK: the data matches the expected hash.
	PieceOK
	// PieceCorrupt: all bytes could be read but the hash differs.
	PieceCorrupt
	// PieceMissing: some bytes are not available (file absent, too short or unreadable).
	PieceMissing
)

func (s PieceState) String() string {
	switch s {
	case PieceUnchecked:
		return "unchecked"
	case PieceOK:
		return "ok"
	case PieceCorrupt:
		return "corrupt"
	case PieceMissing:
		return "missing"
	}
	return fmt.Sprintf("PieceState(%d)", uint8(s))
}

// FileState summarises one file after Verify.
type FileState uint8

const (
	// FileOK: the file has the right size and every checked piece touching it is OK.
	FileOK FileState = iota
	// FileMissing: the file does not exist.
	FileMissing
	// FileWrongSize: the file exists with another size (bytes past the torrent length are ignored).
	FileWrongSize
	// FileUnreadable: the file cannot be opened or read (permissions, I/O error, not a regular file).
	FileUnreadable
	// FileCorrupt: the file has the right size but at least one piece touching it is corrupt or missing.
	FileCorrupt
)

func (s FileState) String() string {
	switch s {
	case FileOK:
		return "ok"
	case FileMissing:
		return "missing"
	case FileWrongSize:
		return "wrong-size"
	case FileUnreadable:
		return "unreadable"
	case FileCorrupt:
		return "corrupt"
	}
	return fmt.Sprintf("FileState(%d)", uint8(s))
}

// FileReport describes one file after Verify. Pad files are always FileOK
// with Size equal to their length and no bad pieces.
type FileReport struct {
	Index     int       // index in the files argument
	State     FileState // see FileState
	Size      int64     // size on disk; -1 if absent or not a regular file
	Err       error     // the error that made the file missing, unreadable or of the wrong size
	BadPieces []int     // pieces touching this file that were checked and are not OK, ascending
}

// Report is the outcome of Verify.
type Report struct {
	Pieces    []PieceState // one per piece
	Files     []FileReport // one per file, in order
	OKPieces  int          // pieces in state PieceOK
	BytesRead int64        // bytes read from disk
}

// NumPieces returns the number of pieces of content of total bytes.
// It returns 0 when total or pieceLen is not positive.
func NumPieces(total, pieceLen int64) int {
	if total <= 0 || pieceLen <= 0 {
		return 0
	}
	n := total / pieceLen
	if total%pieceLen != 0 {
		n++
	}
	return int(n)
}

func (o Options) workers() int {
	w := o.Workers
	if w <= 0 {
		w = runtime.GOMAXPROCS(0)
	}
	return min(w, maxWorkers)
}
