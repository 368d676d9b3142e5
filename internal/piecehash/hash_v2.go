package piecehash

import (
	"context"
	"crypto/sha1"
	"errors"
	"fmt"
	"hash"

	"tt/internal/merkle"
)

// ErrUnaligned reports a file that does not start a piece, which v2
// hashing needs: pad files must align every non-empty file.
var ErrUnaligned = errors.New("piecehash: file does not start at a piece boundary")

// FileSumV2 is the BitTorrent v2 hash of one file: its pieces root and,
// for a file larger than one piece, its piece layer (32 bytes a piece).
// Pad files and empty files have neither.
type FileSumV2 struct {
	Root  merkle.Hash
	Layer []byte
}

// SumsV2 is what HashV2 computes.
type SumsV2 struct {
	Pieces []byte      // v1 SHA-1 piece hashes, 20 bytes a piece; nil unless asked for
	Files  []FileSumV2 // one per file of the argument, in the same order
}

// HashV2 computes the v2 hashes (BEP 52) of every file of the content and,
// when v1 is set, the v1 SHA-1 piece hashes of the same content, in one
// read of the data: each piece of a file is read once and fed to both. The
// files must be laid out as in a hybrid torrent: every non-empty file that
// is not a pad file starts at a multiple of pieceLen, which must be a power
// of two of at least 16 KiB. Files are checked and read as by Hash, with
// the same errors.
func HashV2(ctx context.Context, files []File, pieceLen int64, v1 bool, opt Options) (*SumsV2, error) {
	height, ok := merkle.PieceHeight(pieceLen)
	if !ok {
		return nil, fmt.Errorf("%w: %d is not a power of two of at least 16 KiB", ErrPieceLength, pieceLen)
	}
	l, err := newLayout(files, pieceLen)
	if err != nil {
		return nil, err
	}
	for i, f := range files {
		if !f.Pad && f.Length > 0 && l.starts[i]%pieceLen != 0 {
			return nil, fmt.Errorf("%s: %w (offset %d)", f.Path, ErrUnaligned, l.starts[i])
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	info, err := statChecked(files)
	if err != nil {
		return nil, err
	}
	s := &v2State{l: l, v1: v1, blocks: pieceLen / merkle.BlockSize, hashes: make([]merkle.Hash, l.n)}
	e := &engine{l: l, workers: opt.workers(), out: make([]byte, l.n*sha1.Size), info: info, hooks: opt.hooks, v2: s}
	if err := e.run(ctx, opt.Progress); err != nil {
		return nil, err
	}
	sums := &SumsV2{Files: make([]FileSumV2, len(files))}
	if v1 {
		sums.Pieces = e.out
	}
	for i, f := range files {
		if f.Pad || f.Length == 0 {
			continue
		}
		first := l.starts[i] / pieceLen
		n := merkle.NumPieces(f.Length, pieceLen)
		layer := s.hashes[first : first+n]
		if n == 1 {
			sums.Files[i].Root = layer[0]
			continue
		}
		sums.Files[i].Root = merkle.Root(layer, height, 0)
		b := make([]byte, 0, len(layer)*merkle.HashSize)
		for _, h := range layer {
			b = append(b, h[:]...)
		}
		sums.Files[i].Layer = b
	}
	return sums, nil
}

// v2Stride is how many bytes the SHA-1 and the SHA-256 hashes of a piece
// take in turn: little enough to stay in the processor's cache between
// them.
const v2Stride = 64 << 10

// v2State is the part of an engine that computes v2 piece hashes.
type v2State struct {
	l      *layout
	v1     bool          // SHA-1 piece hashes are wanted too
	blocks int64         // blocks per piece
	hashes []merkle.Hash // v2 hash of each piece; each is written by the one worker that hashes the piece
}

// setup gives a worker of e its v2 state; without v2 hashing it does
// nothing.
func (s *v2State) setup(w *worker) {
	if s == nil {
		return
	}
	w.v2 = &v2Worker{s: s, piece: -1}
	if !s.v1 {
		w.h = discard{}
	}
}

// v2Worker hashes the blocks of the piece a worker is on into the piece's
// v2 hash: the merkle root over the blocks of the file in it, padded to a
// whole piece for a file larger than one piece and to the next power of
// two for a smaller one. Pad bytes at the end of the piece are left out.
type v2Worker struct {
	s       *v2State
	piece   int   // the piece being hashed, -1 before the first
	end     int64 // content offset where the file data in the piece ends
	width   int64 // leaves the piece's tree is padded to; 0 for the smallest power of two
	partial int   // bytes in block
	tree    merkle.Builder
	block   [merkle.BlockSize]byte
}

// begin starts piece p.
func (v *v2Worker) begin(p int) {
	l := v.s.l
	start, _ := l.piece(p)
	v.piece, v.partial, v.end, v.width = p, 0, start, 0
	v.tree.Reset(0)
	i := l.fileAt(start)
	if i == len(l.files) || l.files[i].Pad {
		return
	}
	v.end = min(l.starts[i+1], start+l.pieceLen)
	if l.files[i].Length > l.pieceLen {
		v.width = v.s.blocks
	}
}

// write hashes b, the content at pos inside piece p.
func (v *v2Worker) write(p int, pos int64, b []byte) {
	if v.piece != p {
		v.begin(p)
	}
	if pos >= v.end {
		return
	}
	b = b[:min(int64(len(b)), v.end-pos)]
	if v.partial > 0 {
		c := copy(v.block[v.partial:], b)
		v.partial += c
		b = b[c:]
		if v.partial < merkle.BlockSize {
			return
		}
		v.tree.Push(merkle.HashBlock(v.block[:]))
		v.partial = 0
	}
	for len(b) >= merkle.BlockSize {
		v.tree.Push(merkle.HashBlock(b[:merkle.BlockSize]))
		b = b[merkle.BlockSize:]
	}
	v.partial = copy(v.block[:], b)
}

// finish records the v2 hash of piece p, whose bytes were all written.
func (v *v2Worker) finish(p int) {
	if v.piece != p {
		v.begin(p)
	}
	if v.partial > 0 {
		v.tree.Push(merkle.HashBlock(v.block[:v.partial]))
		v.partial = 0
	}
	if v.tree.Len() > 0 {
		v.s.hashes[p] = v.tree.Root(v.width)
	}
	v.piece = -1
}

// discard stands in for SHA-1 when only v2 hashes are wanted.
type discard struct{}

var noSum [sha1.Size]byte

var _ hash.Hash = discard{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
func (discard) Sum(b []byte) []byte         { return append(b, noSum[:]...) }
func (discard) Reset()                      {}
func (discard) Size() int                   { return sha1.Size }
func (discard) BlockSize() int              { return sha1.BlockSize }
