package merkle

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
)

// naiveRoot is the definition: leaves padded with zero hashes to a power of
// two, then pairs hashed layer by layer, a new slice each time.
func naiveRoot(leaves []Hash, width int) Hash {
	layer := append([]Hash(nil), leaves...)
	for len(layer) < width {
		layer = append(layer, Hash{})
	}
	for len(layer) > 1 {
		var next []Hash
		for i := 0; i < len(layer); i += 2 {
			next = append(next, sha256.Sum256(append(layer[i][:], layer[i+1][:]...)))
		}
		layer = next
	}
	return layer[0]
}

func naiveWidth(n int) int {
	w := 1
	for w < n {
		w *= 2
	}
	return w
}

// content is deterministic data in which no two blocks are alike.
func content(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7) ^ byte(i>>14)*13 ^ seed
	}
	return b
}

func blockHashes(data []byte) []Hash {
	var out []Hash
	for len(data) > 0 {
		n := min(len(data), BlockSize)
		out = append(out, sha256.Sum256(data[:n]))
		data = data[n:]
	}
	return out
}

func TestPadHash(t *testing.T) {
	if !PadHash(0).IsZero() {
		t.Fatal("PadHash(0) is not zero")
	}
	for h := 1; h <= 10; h++ {
		if got, want := PadHash(h), naiveRoot(nil, 1<<h); got != want {
			t.Fatalf("PadHash(%d) = %x, want %x", h, got, want)
		}
	}
	if !PadHash(-1).IsZero() || !PadHash(MaxHeight+1).IsZero() {
		t.Fatal("PadHash out of range is not zero")
	}
}

func TestWidthHeight(t *testing.T) {
	for _, tc := range []struct {
		n      int64
		w      int64
		height int
	}{{0, 1, 0}, {1, 1, 0}, {2, 2, 1}, {3, 4, 2}, {4, 4, 2}, {5, 8, 3}, {1 << 40, 1 << 40, 40}, {1<<40 + 1, 1 << 41, 41}, {1 << 62, 1 << 62, 62}, {1<<62 + 1, 0, 63}} {
		if w, h := Width(tc.n), Height(tc.n); w != tc.w || h != tc.height {
			t.Errorf("n=%d: Width %d Height %d, want %d %d", tc.n, w, h, tc.w, tc.height)
		}
	}
	for _, tc := range []struct {
		pl     int64
		height int
		ok     bool
	}{{16384, 0, true}, {32768, 1, true}, {4 << 20, 8, true}, {8192, 0, false}, {3 * 16384, 0, false}, {0, 0, false}, {-16384, 0, false}} {
		if h, ok := PieceHeight(tc.pl); h != tc.height || ok != tc.ok {
			t.Errorf("PieceHeight(%d) = %d %v", tc.pl, h, ok)
		}
	}
	if NumBlocks(0) != 0 || NumBlocks(1) != 1 || NumBlocks(BlockSize) != 1 || NumBlocks(BlockSize+1) != 2 {
		t.Fatal("NumBlocks")
	}
	if NumPieces(0, 16384) != 0 || NumPieces(65536, 65536) != 1 || NumPieces(65537, 65536) != 2 {
		t.Fatal("NumPieces")
	}
}

// TestRootMatchesDefinition: the streaming root equals the padded
// definition for every layer size up to 300 and every wider width.
func TestRootMatchesDefinition(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var leaves []Hash
	for n := 1; n <= 300; n++ {
		var h Hash
		for i := range h {
			h[i] = byte(r.Uint32())
		}
		leaves = append(leaves, h)
		for w := naiveWidth(n); w <= 4*naiveWidth(n); w *= 2 {
			if got, want := Root(leaves, 0, int64(w)), naiveRoot(leaves, w); got != want {
				t.Fatalf("n=%d width=%d: %x, want %x", n, w, got, want)
			}
		}
		if got, want := FileRoot(leaves), naiveRoot(leaves, naiveWidth(n)); got != want {
			t.Fatalf("FileRoot n=%d", n)
		}
	}
	// A width that is too small or not a power of two means the smallest.
	if Root(leaves[:5], 0, 3) != Root(leaves[:5], 0, 8) || Root(leaves[:5], 0, 2) != Root(leaves[:5], 0, 8) {
		t.Fatal("bad width not taken as the smallest")
	}
	// An empty layer is all padding.
	if Root(nil, 2, 4) != PadHash(4) {
		t.Fatal("empty layer")
	}
}

// TestBuilderRootLeavesItUsable: Root in the middle of pushing changes
// nothing.
func TestBuilderRootLeavesItUsable(t *testing.T) {
	leaves := blockHashes(content(37*BlockSize, 1))
	var b Builder
	for i, h := range leaves {
		b.Push(h)
		if got, want := b.Root(0), naiveRoot(leaves[:i+1], naiveWidth(i+1)); got != want {
			t.Fatalf("after %d: %x, want %x", i+1, got, want)
		}
	}
}

// TestPieceLayer: the piece layer, padded with the pad hash of the piece
// height, hashes to the same root as the leaves (BEP 52's check of piece
// layers), for piece lengths of 1 to 8 blocks and files around the piece
// boundaries.
func TestPieceLayer(t *testing.T) {
	for bpp := 1; bpp <= 8; bpp *= 2 {
		pl := int64(bpp * BlockSize)
		for _, size := range []int{1, BlockSize, int(pl) - 1, int(pl), int(pl) + 1, 3*int(pl) - 5, 5 * int(pl), 9*int(pl) + 3} {
			data := content(size, byte(bpp))
			leaves := blockHashes(data)
			root := naiveRoot(leaves, naiveWidth(len(leaves)))
			layer := PieceLayer(append([]Hash(nil), leaves...), bpp)
			if want := int(NumPieces(int64(size), pl)); len(layer) != want {
				t.Fatalf("bpp %d size %d: %d piece hashes, want %d", bpp, size, len(layer), want)
			}
			for i, ph := range layer {
				want := naiveRoot(leaves[i*bpp:min((i+1)*bpp, len(leaves))], bpp)
				if ph != want {
					t.Fatalf("bpp %d size %d piece %d", bpp, size, i)
				}
				end := min((i+1)*int(pl), size)
				w := int64(bpp)
				if len(layer) == 1 {
					w = 0 // a file of one piece: its root
				}
				if got := HashPiece(data[i*int(pl):end], w); len(layer) > 1 && got != ph {
					t.Fatalf("HashPiece bpp %d size %d piece %d", bpp, size, i)
				}
			}
			if len(layer) > 1 {
				if got, ok := RootFromPieceLayer(layer, pl); !ok || got != root {
					t.Fatalf("bpp %d size %d: root from layer %x, want %x", bpp, size, got, root)
				}
			} else if HashPiece(data, 0) != root {
				t.Fatalf("bpp %d size %d: single-piece HashPiece is not the root", bpp, size)
			}
			// FileHasher, fed in uneven writes, agrees.
			fh, err := NewFileHasher(pl)
			if err != nil {
				t.Fatal(err)
			}
			r := rand.New(rand.NewPCG(uint64(size), uint64(bpp)))
			for rest := data; len(rest) > 0; {
				n := min(len(rest), 1+r.IntN(3*BlockSize))
				fh.Write(rest[:n])
				rest = rest[n:]
			}
			gotRoot, gotLayer := fh.Sum()
			if gotRoot != root {
				t.Fatalf("FileHasher bpp %d size %d: root %x, want %x", bpp, size, gotRoot, root)
			}
			if len(layer) == 1 && gotLayer != nil || len(layer) > 1 && !equalHashes(gotLayer, layer) {
				t.Fatalf("FileHasher bpp %d size %d: layer of %d, want %d", bpp, size, len(gotLayer), len(layer))
			}
			// Sum again, and after Reset, gives the same.
			if r2, _ := fh.Sum(); r2 != root {
				t.Fatal("second Sum differs")
			}
			fh.Reset()
			fh.Write(data)
			if r3, _ := fh.Sum(); r3 != root || fh.Len() != int64(size) {
				t.Fatal("Sum after Reset differs")
			}
		}
	}
	if _, ok := RootFromPieceLayer(nil, 3*BlockSize); ok {
		t.Fatal("bad piece length accepted")
	}
	if _, err := NewFileHasher(BlockSize / 2); !errors.Is(err, ErrPieceLength) {
		t.Fatal(err)
	}
	fh, _ := NewFileHasher(BlockSize)
	if r, l := fh.Sum(); !r.IsZero() || l != nil {
		t.Fatal("empty file has a root")
	}
}

func equalHashes(a, b []Hash) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestKnownRoots: roots computed by hand from SHA-256 alone.
func TestKnownRoots(t *testing.T) {
	zeros := make([]byte, BlockSize)
	one := sha256.Sum256(zeros)
	if got := HashPiece(zeros, 0); got != one {
		t.Fatalf("one block: %x", got)
	}
	// Two blocks of zeros and one byte: leaves z, z, h("x"), 0.
	data := append(append(append([]byte(nil), zeros...), zeros...), 'x')
	x := sha256.Sum256([]byte("x"))
	want := Parent(Parent(one, one), Parent(x, Hash{}))
	if got := HashPiece(data, 0); got != want {
		t.Fatalf("three blocks: %x, want %x", got, want)
	}
}

// TestProofRoundTrip: for a range of file sizes, every request a peer may
// make (base layers, indices, lengths, proof layers up to the root) yields
// hashes that VerifyProof accepts, and changing any one hash makes it fail.
func TestProofRoundTrip(t *testing.T) {
	for _, blocks := range []int{1, 2, 3, 7, 8, 9, 33, 100} {
		leaves := blockHashes(content(blocks*BlockSize-100, byte(blocks)))
		root := FileRoot(leaves)
		layers := Layers(leaves, 0, 0)
		if top := layers[len(layers)-1]; len(top) != 1 || top[0] != root || len(layers) != Height(int64(blocks))+1 {
			t.Fatalf("%d blocks: Layers top %x, want root %x, %d layers", blocks, top, root, len(layers))
		}
		checked := 0
		for base := range len(layers) {
			nodes := len(layers[base])
			for length := 1; length <= 2*naiveWidth(nodes); length *= 2 {
				for index := 0; index < nodes; index += length {
					reqLen := length
					if index+reqLen > nodes {
						reqLen = nodes - index // truncated by the end of the layer
					}
					sub := base + Height(int64(reqLen))
					if sub > len(layers)-1 {
						continue
					}
					proofLayers := len(layers) - 1 - sub + Height(int64(reqLen)) - 1
					hashes, err := Proof(layers, base, index, reqLen, proofLayers)
					if err != nil {
						t.Fatalf("%d blocks base %d index %d length %d: %v", blocks, base, index, reqLen, err)
					}
					if err := VerifyProof(root, int64(blocks), base, index, reqLen, hashes); err != nil {
						t.Fatalf("%d blocks base %d index %d length %d: %v", blocks, base, index, reqLen, err)
					}
					for i := range hashes {
						bad := append([]Hash(nil), hashes...)
						bad[i][i%HashSize] ^= 1
						if err := VerifyProof(root, int64(blocks), base, index, reqLen, bad); !errors.Is(err, ErrProof) {
							t.Fatalf("%d blocks base %d index %d: hash %d changed, got %v", blocks, base, index, i, err)
						}
					}
					checked++
				}
			}
		}
		if checked == 0 {
			t.Fatalf("%d blocks: nothing checked", blocks)
		}
	}
}

// TestProofPieceLayer: the common request, 512 piece hashes with proofs to
// the root, for a file of 1500 pieces of 64 KiB; and partial proofs that
// stop below the root climb to the node the full tree has there.
func TestProofPieceLayer(t *testing.T) {
	const bpp, pieces = 4, 1500
	leaves := blockHashes(content(pieces*bpp*BlockSize-7, 9))
	layers := Layers(leaves, 0, 0)
	root := FileRoot(leaves)
	base := 2 // log2(bpp): the piece layer
	if len(layers[base]) != pieces {
		t.Fatalf("piece layer has %d nodes", len(layers[base]))
	}
	top := len(layers) - 1
	for index := 0; index < pieces; index += 512 {
		length := min(512, pieces-index)
		proofLayers := top - base - 1 // all the way up
		hashes, err := Proof(layers, base, index, length, proofLayers)
		if err != nil {
			t.Fatal(err)
		}
		if want := min(512, pieces-index) + NumUncles(length, proofLayers); len(hashes) != want {
			t.Fatalf("index %d: %d hashes, want %d", index, len(hashes), want)
		}
		if err := VerifyProof(root, int64(len(leaves)), base, index, length, hashes); err != nil {
			t.Fatalf("index %d: %v", index, err)
		}
		// One proof layer fewer stops one below the root: VerifyProof
		// refuses it, and Climb reaches the right node.
		short, err := Proof(layers, base, index, length, proofLayers-1)
		if err != nil {
			t.Fatal(err)
		}
		if err := VerifyProof(root, int64(len(leaves)), base, index, length, short); !errors.Is(err, ErrShape) {
			t.Fatalf("short proof: %v", err)
		}
		w := int(Width(int64(length)))
		sub := Root(short[:length], base, int64(w))
		h := base + Height(int64(length))
		uncles := short[length:]
		if got := Climb(sub, int64(index/w), uncles); got != layers[h+len(uncles)][index/w>>len(uncles)] {
			t.Fatalf("Climb index %d", index)
		}
	}
	// Out-of-shape requests.
	for _, tc := range []struct{ base, index, length, n int }{
		{top + 1, 0, 1, 1}, {base, 3, 2, 2}, {base, pieces, 2, 2}, {base, 0, 0, 1}, {base, -2, 2, 2}, {base, 0, 4, 2},
	} {
		h := make([]Hash, tc.n)
		if err := VerifyProof(root, int64(len(leaves)), tc.base, tc.index, tc.length, h); !errors.Is(err, ErrShape) {
			t.Errorf("%+v: %v", tc, err)
		}
	}
	if _, err := Proof(layers, base, 0, 2, 40); !errors.Is(err, ErrShape) {
		t.Fatalf("proof past the root: %v", err)
	}
	if _, err := Proof(layers, base, 1, 2, 1); !errors.Is(err, ErrShape) {
		t.Fatalf("unaligned index: %v", err)
	}
}

// TestNoAllocations: hashing never allocates per node.
func TestNoAllocations(t *testing.T) {
	leaves := blockHashes(content(300*BlockSize, 3))
	root := FileRoot(leaves)
	layers := Layers(leaves, 0, 0)
	hashes, err := Proof(layers, 0, 256, 32, Height(300)-1)
	if err != nil {
		t.Fatal(err)
	}
	data := content(4*BlockSize+5, 4)
	fh, _ := NewFileHasher(2 * BlockSize)
	for name, f := range map[string]func(){
		"Root":        func() { Root(leaves, 0, 0) },
		"HashPiece":   func() { HashPiece(data, 8) },
		"VerifyProof": func() { VerifyProof(root, 300, 0, 256, 32, hashes) },
		"Write":       func() { fh.Reset(); fh.Write(data[:3]); fh.Write(data[3 : 2*BlockSize]) },
	} {
		if n := testing.AllocsPerRun(20, f); n != 0 {
			t.Errorf("%s: %.0f allocations", name, n)
		}
	}
	if err := VerifyProof(root, 300, 0, 256, 32, hashes); err != nil {
		t.Fatal(err)
	}
}

func BenchmarkFileHasher(b *testing.B) {
	data := content(8<<20, 1)
	fh, _ := NewFileHasher(256 << 10)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		fh.Reset()
		fh.Write(data)
		fh.Sum()
	}
}

func BenchmarkRootFromPieceLayer(b *testing.B) {
	layer := blockHashes(content(1<<24, 2)) // 1024 nodes
	b.SetBytes(int64(len(layer) * HashSize))
	for b.Loop() {
		RootFromPieceLayer(layer, 1<<20)
	}
}

func ExampleFileHasher() {
	fh, _ := NewFileHasher(32 << 10) // two blocks per piece
	fh.Write(bytes.Repeat([]byte{'a'}, 100_000))
	root, layer := fh.Sum()
	fmt.Printf("%d pieces, root %x…\n", len(layer), root[:4])
	// Output: 4 pieces, root 50c29956…
}

// FuzzVerifyProof: no request shape makes VerifyProof panic, and only a
// real proof passes.
func FuzzVerifyProof(f *testing.F) {
	f.Add(int64(300), 0, 256, 32, 4)
	f.Add(int64(1)<<48, 8, 512, 512, 40)
	f.Add(int64(-1), -1, -1, -1, 0)
	f.Add(int64(5), 0, 0, 1<<62+1, 3)
	f.Fuzz(func(t *testing.T, blocks int64, base, index, length, n int) {
		hashes := make([]Hash, max(0, min(n, 70)))
		if VerifyProof(Hash{1}, blocks, base, index, length, hashes) == nil {
			t.Fatal("zero hashes proved a non-zero root")
		}
	})
}
