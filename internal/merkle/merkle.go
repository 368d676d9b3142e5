// Package merkle computes the SHA-256 hash trees of BitTorrent v2 (BEP 52).
//
// A file's tree has one leaf per 16 KiB block of the file: the SHA-256 of
// the block (the last block may be shorter). The leaves are padded with
// zero hashes to a power of two, and every node above is the SHA-256 of its
// two children side by side. The root is the file's "pieces root". The
// "piece layer" is the layer whose nodes each cover one piece; a .torrent
// carries it in "piece layers" for every file larger than one piece, and a
// file of at most one piece has its root as its only piece hash.
//
// Heights count layers up from the leaves: height 0 is the block layer, and
// the piece layer of a piece length L has height log2(L / 16 KiB). A node
// that covers nothing but padding is PadHash(height), the root of a subtree
// of that height whose leaves are all zero.
//
// The functions are pure, and none allocates per node: trees are hashed
// streaming (Builder keeps one hash per layer), so that hashing a layer of
// n nodes costs n-1 SHA-256 compressions of 64 bytes and no memory in
// proportion to n. The hash request and hashes messages of the v2 wire
// protocol are served by Layers and Proof and checked by VerifyProof.
package merkle

import (
	"crypto/sha256"
	"errors"
	"math/bits"
)

// BlockSize is the number of bytes a leaf covers.
const BlockSize = 16 << 10

// HashSize is the size of a node.
const HashSize = sha256.Size

// MaxHeight is the greatest height a tree of int64-sized data reaches (a
// file of 2^63-1 bytes has 2^49 blocks); heights above it are refused.
const MaxHeight = 63

// Hash is one node of a tree.
type Hash [HashSize]byte

// IsZero reports whether h is all zero bytes (the leaf hash of padding).
func (h Hash) IsZero() bool { return h == Hash{} }

// Errors of VerifyProof and Proof.
var (
	// ErrProof: the hashes do not lead to the root.
	ErrProof = errors.New("merkle: hashes do not match the root")
	// ErrShape: base, index, length or the number of hashes do not fit the
	// tree.
	ErrShape = errors.New("merkle: request does not fit the tree")
)

// padHashes[h] is PadHash(h).
var padHashes = func() (p [MaxHeight + 1]Hash) {
	for h := 1; h <= MaxHeight; h++ {
		p[h] = Parent(p[h-1], p[h-1])
	}
	return p
}()

// PadHash is the hash of a node of the given height that covers only
// padding: zero at height 0, and the parent of two such nodes above. It is
// zero for a height outside 0..MaxHeight.
func PadHash(height int) Hash {
	if height < 0 || height > MaxHeight {
		return Hash{}
	}
	return padHashes[height]
}

// Parent is the node above l and r: the SHA-256 of l followed by r.
func Parent(l, r Hash) Hash {
	var b [2 * HashSize]byte
	copy(b[:HashSize], l[:])
	copy(b[HashSize:], r[:])
	return sha256.Sum256(b[:])
}

// HashBlock is the leaf hash of one block of at most BlockSize bytes.
func HashBlock(b []byte) Hash { return sha256.Sum256(b) }

// NumBlocks is the number of leaves of a file of length bytes.
func NumBlocks(length int64) int64 {
	if length <= 0 {
		return 0
	}
	return (length-1)/BlockSize + 1
}

// NumPieces is the number of pieces of a file of length bytes: in v2 every
// file starts a piece of its own.
func NumPieces(length, pieceLength int64) int64 {
	if length <= 0 || pieceLength <= 0 {
		return 0
	}
	return (length-1)/pieceLength + 1
}

// Width is the smallest power of two at least n: the number of positions of
// a padded layer of n nodes. It is 1 for n of at most 1, and 0 when the
// answer overflows.
func Width(n int64) int64 {
	if n <= 1 {
		return 1
	}
	if n > 1<<62 {
		return 0
	}
	return 1 << bits.Len64(uint64(n-1))
}

// Height is log2(Width(n)): how many layers a padded layer of n nodes is
// below its root.
func Height(n int64) int {
	if n <= 1 {
		return 0
	}
	return bits.Len64(uint64(n - 1))
}

// PieceHeight is the height of the piece layer for a piece length, which
// BEP 52 requires to be a power of two of at least BlockSize; ok is false
// when it is not.
func PieceHeight(pieceLength int64) (height int, ok bool) {
	if pieceLength < BlockSize || pieceLength&(pieceLength-1) != 0 {
		return 0, false
	}
	return bits.TrailingZeros64(uint64(pieceLength / BlockSize)), true
}

// Builder hashes a layer of nodes, pushed one at a time, into the root of
// their subtree. It keeps one node per layer (about 2 KiB in all) and never
// allocates; the zero Builder takes nodes of height 0 (leaves).
type Builder struct {
	height int   // height of the nodes pushed
	n      int64 // nodes pushed
	depth  int   // entries in use in stack
	// stack holds the roots of complete subtrees of what was pushed, one
	// for each set bit of n, largest (leftmost) first.
	stack [MaxHeight + 1]Hash
}

// Reset empties b for nodes of the given height.
func (b *Builder) Reset(height int) {
	b.height, b.n, b.depth = height, 0, 0
}

// Len is the number of nodes pushed since the last Reset.
func (b *Builder) Len() int64 { return b.n }

// Push adds the next node of the layer.
func (b *Builder) Push(h Hash) {
	if b.depth == len(b.stack) {
		return // more nodes than any int64-sized file has: ignored
	}
	b.stack[b.depth] = h
	b.depth++
	// Each trailing one bit of the old count is a subtree of the new node's
	// size to its left: merge them.
	for k := b.n; k&1 == 1; k >>= 1 {
		b.depth--
		b.stack[b.depth-1] = Parent(b.stack[b.depth-1], b.stack[b.depth])
	}
	b.n++
}

// Root is the root of a subtree of width nodes at the pushed height, the
// nodes pushed first and PadHash of that height in the positions after
// them. width must be a power of two; one under Len() (0 included) is
// taken as Width(Len()). Root does not change b: more nodes may follow.
func (b *Builder) Root(width int64) Hash {
	if width < b.n || width&(width-1) != 0 {
		width = Width(b.n)
	}
	if b.n == 0 {
		return PadHash(b.height + Height(width))
	}
	// Start from the smallest subtree (the last nodes pushed) and climb:
	// where an older subtree of the same size is to the left, join it;
	// otherwise the sibling on the right is padding.
	i := b.depth - 1
	acc := b.stack[i]
	size := b.n & -b.n
	h := b.height + bits.TrailingZeros64(uint64(size))
	rest := b.n - size
	for size < width {
		if rest&size != 0 {
			i--
			acc = Parent(b.stack[i], acc)
			rest -= size
		} else {
			acc = Parent(acc, PadHash(h))
		}
		size <<= 1
		h++
	}
	return acc
}

// Root is the root over a layer of nodes of the given height padded to
// width positions (see Builder.Root).
func Root(layer []Hash, height int, width int64) Hash {
	var b Builder
	b.Reset(height)
	for _, h := range layer {
		b.Push(h)
	}
	return b.Root(width)
}

// FileRoot is the pieces root of a file from the hashes of its blocks.
func FileRoot(leaves []Hash) Hash { return Root(leaves, 0, 0) }

// RootFromPieceLayer is the pieces root of a file larger than one piece
// from its piece layer, padded with the pad hash of the piece height. ok is
// false when pieceLength is not a power of two of at least BlockSize.
func RootFromPieceLayer(layer []Hash, pieceLength int64) (root Hash, ok bool) {
	h, ok := PieceHeight(pieceLength)
	if !ok {
		return Hash{}, false
	}
	return Root(layer, h, 0), true
}

// PieceLayer turns the block hashes of a file larger than one piece into its
// piece layer, writing it over the start of leaves and returning it: the
// hash of each run of blocksPerPiece leaves, the last run padded with zero
// hashes. blocksPerPiece must be a power of two.
func PieceLayer(leaves []Hash, blocksPerPiece int) []Hash {
	if blocksPerPiece < 1 {
		return nil
	}
	var b Builder
	n := 0
	for start := 0; start < len(leaves); start += blocksPerPiece {
		b.Reset(0)
		for _, h := range leaves[start:min(start+blocksPerPiece, len(leaves))] {
			b.Push(h)
		}
		// Piece n's leaves start at n*blocksPerPiece ≥ n and are all read
		// before leaves[n] is written.
		leaves[n] = b.Root(int64(blocksPerPiece))
		n++
	}
	return leaves[:n]
}

// HashPiece is the hash of one piece from its data: the root over its
// blocks padded with zero hashes to width leaves. width is the blocks per
// piece for a piece of a file larger than one piece; for a file of at most
// one piece it is 0 (the smallest power of two), and the hash is the file's
// pieces root.
func HashPiece(data []byte, width int64) Hash {
	var b Builder
	for len(data) > 0 {
		n := min(len(data), BlockSize)
		b.Push(HashBlock(data[:n]))
		data = data[n:]
	}
	return b.Root(width)
}
