// Package piecehash computes and checks BitTorrent v1 piece hashes.
//
// The content of a torrent is the concatenation of its files (BEP 47 pad
// files contribute zero bytes and are never read). It is cut into pieces of
// pieceLen bytes, the last one possibly shorter, and each piece is identified
// by its SHA-1. Hash computes those digests; Verify and VerifyPieces check
// data on disk against expected digests.
//
// # Work distribution
//
// Work is handed out in content order through an atomic counter. A unit of
// work is one piece, or a run of consecutive pieces when pieces are smaller
// than the read buffer, so that tiny pieces do not cost one system call each.
// The worker that takes a unit owns it entirely: it reads the bytes and feeds
// them to its own SHA-1 state chunk by chunk, so a 64 MiB piece never needs a
// 64 MiB buffer. The read positions of the workers stay within a few units
// of each other, which keeps access to the disk nearly sequential.
//
// # Read strategy
//
// Each worker reads with pread(2) into one reused 512 KiB buffer (smaller
// when many workers are requested, so that all buffers together stay under
// 16 MiB) and hashes from it while it is still in the CPU cache. A worker
// keeps its file open while consecutive units stay in the same file; on
// Linux files are used through raw descriptors, which saves several system
// calls per file compared with os.Open.
//
// On Linux a prefetch goroutine walks the same schedule ahead of the workers
// (at most 64 MiB plus the units in flight) and issues
// posix_fadvise(POSIX_FADV_WILLNEED) for whole files smaller than 16 MiB and
// for the first 8 MiB of larger ones, so that the reads of many small files
// are queued while earlier files are hashed. Larger files are read with
// POSIX_FADV_SEQUENTIAL and left to the kernel's readahead, which measured
// faster than advising them whole (2 GiB cold: median 0.85 s against 0.95 s,
// with more system time, probably because forced readahead fills the cache
// with small folios). With a cold cache the prefetcher more than doubles the
// speed on a tree of small files (0.7 GB/s without it, 1.6 GB/s with it).
//
// When a sample of up to eight files is all in the page cache, nothing is
// prefetched: advising cached files only costs system calls.
//
// # Cached data in place
//
// On Linux, cached parts of files of 8 MiB or more are hashed where they
// lie in the page cache, through a read-only mapping of the file populated
// 4 MiB at a time (MADV_POPULATE_READ) and unmapped again once hashed
// (MADV_DONTNEED, so that the resident set stays small; the pages stay
// cached), instead of being copied out: a warm create of the 2 GiB file
// went from 873 to 779 ms (medians of 8 interleaved rounds, mktorrent -t 2
// 876 ms in the same rounds), with a peak RSS of 13 MiB. A file truncated while mapped
// makes reading the mapping fault; the worker turns the fault into a panic
// (debug.SetPanicOnFault), recovers, and the run ends with ErrFileChanged.
// Smaller files are read as above: mapping each of 2,000 small files cost
// more than copying them.
//
// # Direct reads
//
// On Linux, files of at least 256 KiB on ext4, XFS or btrfs are read with
// O_DIRECT wherever their pages are not in the page cache, which
// cachestat(2) tells before each read; cached data is read through the
// cache as above, so a warm run does what it did before. Direct reads are
// up to 4 MiB long and go into buffers made of 2 MiB huge pages. Six
// goroutines more than the workers take units, so that reads wait for the
// device while the others hash; a token per worker bounds how many hash (or
// copy out of the page cache) at once. All direct buffers together take at
// most 32 MiB, and with more than 10 workers, or without cachestat (Linux
// 6.5), huge pages (MADV_COLLAPSE, Linux 6.1) or such a filesystem,
// everything is read through the page cache. Smaller files are left to the
// prefetcher, which queues many of them at once. A side effect: data read
// directly is not left in the page cache, so a second run over the same
// cold data is cold again.
//
// Why, measured on the development machine (below; a Firecracker virtio
// disk, mq-deadline, 8 MiB readahead, 4 MiB maximum request): reading the
// 2 GiB file cold, without hashing, wall time min / median of 5 rounds in
// which the variants took turns:
//
//	page cache, 1 reader, 256 KiB / 1 MiB / 8 MiB reads  2.73 / 3.23  0.71 / 0.78  0.75 / 0.91 s
//	  system time                                        1.78 s       0.23 s       0.36 s
//	  + POSIX_FADV_SEQUENTIAL                                         0.74 / 1.22 s
//	  + POSIX_FADV_WILLNEED 64 MiB ahead                              1.20 / 1.46 s (system 0.98 s)
//	  + readahead(2) 64 MiB ahead                                     0.90 / 1.97 s
//	page cache, 2 / 4 / 8 readers on disjoint regions    1.39 / 2.12  0.67 / 0.78  0.69 / 0.72 s
//	O_DIRECT, 4 KiB pages, 4 MiB reads, 1 / 4 readers    2.04 / 2.84  1.59 / 2.39 s
//	O_DIRECT, huge pages, 1 reader, 1 / 4 / 8 MiB reads  0.63 / 0.96  0.49 / 0.63  0.54 / 0.56 s
//	  4 readers on regions, 4 MiB reads                  0.50 / 0.52 s (system 0.03 s)
//
// On a quiet host, more requests in flight never added throughput: the
// device serves 3.4-4.4 GB/s to one reader that keeps a large request
// queued. When the host's disk is busy with other work, they do: hashing
// the 2 GiB file cold with 1 MiB pieces, 5 rounds taking turns, medians
// 1.51 s with 2 readers more than the hashers (4 MiB each), 1.20 s with 6
// more (4 MiB each), 1.23 s with 10 (4 MiB), 1.51 s with 14 (2 MiB), the
// page cache only 1.78 s; the 2,000-file tree was the same with 2 or 6
// (0.46 s). A request costs more the more segments it has, so that the page-size segments of a
// direct read into an ordinary buffer are slower than the page cache. Into
// huge pages, direct reads are about 1.4x faster than the best use of the
// page cache and take a tenth of its system time, which on two cores is
// time taken from hashing. On the 2,000-file tree (500 MB) the same holds:
// 0.44 / 0.74 s through the page cache with the prefetcher, 0.21 / 0.31 s
// directly with 4 files read at once. Hashing the tree (12 rounds per
// series), one series took 0.71 / 0.89 s through the page cache only,
// 0.46 / 0.70 s reading every file directly, 0.40 / 0.66 s reading files
// from 128 KiB directly and 0.52 / 0.73 s from 1 MiB; another 0.44 / 0.55 s
// through the page cache, 0.36 / 0.45 s from 64 KiB, 0.36 / 0.46 s from
// 256 KiB and 0.40 / 0.49 s from 1 MiB.
//
// Measurements on the development machine: 2 cores (AMD EPYC with SHA-NI, a
// VM with shadow page tables, shared with other work, so figures vary by
// 10-20% between runs and more between sessions), crypto/sha1 alone about
// 1.5-1.8 GB/s per core. scripts/bench-create, best / median of 3 runs, the
// tools taking turns; tt create before direct reads (page cache only) and
// with them:
//
//	                                 page cache   direct       mktorrent -t 2  mktorrent -t 1
//	2 GiB file, 1 MiB pieces, warm   0.83 / 0.84  0.82 / 0.84  0.82 / 0.83     1.36 / 1.37 s
//	2 GiB file, 256 KiB, cold        1.32 / 1.70  1.30 / 1.33  1.88 / 2.17     1.78 / 1.80 s
//	2 GiB file, 1 MiB, cold          1.45 / 1.76  1.27 / 1.47  1.90 / 2.45     1.38 / 1.40 s
//	2 GiB file, 4 MiB, cold          1.34 / 1.76  1.19 / 1.44  1.94 / 2.22     1.36 / 1.36 s
//	2000 files, 500 MB, 1 MiB, warm  0.27 / 0.30  0.24 / 0.27  0.22 / 0.23     0.33 / 0.34 s
//	2000 files, 256 KiB, cold        0.60 / 0.65  0.40 / 0.47  0.56 / 0.60     0.61 / 0.65 s
//	2000 files, 1 MiB, cold          0.57 / 0.64  0.44 / 0.46  0.51 / 0.53     0.50 / 0.52 s
//
// Inside the process, Hash itself takes 0.67 s on the warm 2 GiB file
// (3.2 GB/s) and 0.20 s on the warm tree (2.5 GB/s); the rest is start-up
// and the directory walk. On trees about 13% of the CPU time goes to
// opening, checking and closing files.
//
// Warm hashing runs at 3.0-3.2 GB/s for piece sizes from 16 KiB to 64 MiB,
// about 90% of the SHA-1 limit; the rest is mostly the copy out of the page
// cache. Cold, with direct reads, the disk is the limit, and this virtual
// disk delivers less while both vCPUs are busy: reading the 2 GiB file
// directly took 0.73-0.85 s with idle CPUs and 0.9-1.2 s with two other
// threads spinning, even at SCHED_IDLE, so the time is lost in the host and
// hashing at full speed costs reading speed. The peak RSS of a test process
// hashing and verifying 2 GiB with every piece size from 16 KiB to 64 MiB
// was 23.6 MiB, 16 MiB of it the direct buffers.
//
// Windowed mmap was measured as an alternative (2 GiB warm, 2 workers):
//
//	pread, 512 KiB-1 MiB buffer:          2.9-3.2 GB/s, steady
//	pread, 64 KiB buffer:                 2.7-2.9 GB/s
//	mmap, 1 MiB windows:                  1.0-1.2 GB/s
//	mmap, 4-32 MiB windows:               1.6-3.4 GB/s, erratic
//	mmap, 4-32 MiB windows, MAP_POPULATE: 1.6-3.1 GB/s, erratic
//	one mapping, MADV_DONTNEED behind:    1.6-2.9 GB/s
//
// Page faults and unmapping (with a TLB shootdown to the other core) are
// expensive on this kind of machine, more than the copy that pread makes,
// so pread was kept.
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
	// documentation) two more goroutines wait for the disk.
	Workers int
	// Progress, if set, is called with the number of content bytes processed
	// so far. Values never decrease. It is called at most about 20 times a
	// second, never concurrently with itself, from any goroutine; the last
	// call, made before Hash or Verify returns successfully, reports the total.
	Progress func(done int64)

	hooks *hooks // set by this package's tests only
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
