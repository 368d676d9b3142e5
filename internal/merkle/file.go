package merkle

import "errors"

// ErrPieceLength: a piece length that is not a power of two of at least
// BlockSize, which v2 torrents require.
var ErrPieceLength = errors.New("merkle: piece length must be a power of two of at least 16 KiB")

// FileHasher computes a file's pieces root and piece layer from its bytes,
// written to it in order. It keeps one piece's worth of tree (one hash per
// layer) and the piece layer: 32 bytes for every piece of the file.
type FileHasher struct {
	pieceHeight int
	blocks      int64 // blocks per piece
	length      int64 // bytes written
	partial     int   // bytes of block in use
	block       [BlockSize]byte
	piece       Builder // the blocks of the current piece
	layer       []Hash  // the hashes of the complete pieces
}

// NewFileHasher returns a hasher for a torrent of the given piece length.
func NewFileHasher(pieceLength int64) (*FileHasher, error) {
	h, ok := PieceHeight(pieceLength)
	if !ok {
		return nil, ErrPieceLength
	}
	return &FileHasher{pieceHeight: h, blocks: pieceLength / BlockSize}, nil
}

// Reset forgets what was written, keeping the piece length.
func (f *FileHasher) Reset() {
	f.length, f.partial = 0, 0
	f.piece.Reset(0)
	f.layer = f.layer[:0]
}

// Len is the number of bytes written.
func (f *FileHasher) Len() int64 { return f.length }

// Write hashes the next bytes of the file; it never fails. Whole blocks are
// hashed where they lie, without being copied.
func (f *FileHasher) Write(p []byte) (int, error) {
	n := len(p)
	f.length += int64(n)
	if f.partial > 0 {
		c := copy(f.block[f.partial:], p)
		f.partial += c
		p = p[c:]
		if f.partial < BlockSize {
			return n, nil
		}
		f.leaf(HashBlock(f.block[:]))
		f.partial = 0
	}
	for len(p) >= BlockSize {
		f.leaf(HashBlock(p[:BlockSize]))
		p = p[BlockSize:]
	}
	f.partial = copy(f.block[:], p)
	return n, nil
}

// leaf adds the hash of a whole block.
func (f *FileHasher) leaf(h Hash) {
	f.piece.Push(h)
	if f.piece.Len() == f.blocks {
		f.layer = append(f.layer, f.piece.Root(f.blocks))
		f.piece.Reset(0)
	}
}

// Sum returns the pieces root of what was written and, for a file larger
// than one piece, its piece layer (nil otherwise: the root is then the only
// piece hash). An empty file has a zero root. Sum does not change f.
func (f *FileHasher) Sum() (root Hash, layer []Hash) {
	if f.length == 0 {
		return Hash{}, nil
	}
	piece := f.piece // a copy: Sum leaves f as it is
	if f.partial > 0 {
		piece.Push(HashBlock(f.block[:f.partial]))
	}
	if len(f.layer) == 0 {
		// At most one piece: the root covers just the file's blocks.
		return piece.Root(0), nil
	}
	layer = f.layer[:len(f.layer):len(f.layer)]
	if piece.Len() > 0 {
		layer = append(layer, piece.Root(f.blocks))
	}
	if len(layer) == 1 {
		// Exactly one whole piece.
		return layer[0], nil
	}
	return Root(layer, f.pieceHeight, 0), layer
}
