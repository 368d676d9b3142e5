package piecehash

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

	"tt/internal/merkle"
)

// alignedSpecs lays files out as a hybrid torrent does: a pad after every
// non-empty file that does not end on a piece boundary, the last included.
func alignedSpecs(lengths []int64, pieceLen int64) []spec {
	var s []spec
	for _, n := range lengths {
		s = append(s, spec{n: n})
		if r := n % pieceLen; r != 0 {
			s = append(s, pad(pieceLen-r))
		}
	}
	return s
}

// refV2 hashes each non-pad file on its own with merkle.FileHasher.
func refV2(t *testing.T, files []File, content []byte, pieceLen int64) []FileSumV2 {
	t.Helper()
	out := make([]FileSumV2, len(files))
	var off int64
	for i, f := range files {
		data := content[off : off+f.Length]
		off += f.Length
		if f.Pad || f.Length == 0 {
			continue
		}
		h, err := merkle.NewFileHasher(pieceLen)
		if err != nil {
			t.Fatal(err)
		}
		h.Write(data)
		root, layer := h.Sum()
		out[i].Root = root
		for _, x := range layer {
			out[i].Layer = append(out[i].Layer, x[:]...)
		}
	}
	return out
}

func checkSums(t *testing.T, got *SumsV2, want []FileSumV2, wantPieces []byte) {
	t.Helper()
	if !bytes.Equal(got.Pieces, wantPieces) {
		t.Errorf("v1 pieces differ (%d bytes, want %d)", len(got.Pieces), len(wantPieces))
	}
	if len(got.Files) != len(want) {
		t.Fatalf("%d file sums, want %d", len(got.Files), len(want))
	}
	for i := range want {
		if got.Files[i].Root != want[i].Root {
			t.Errorf("file %d: root %x, want %x", i, got.Files[i].Root, want[i].Root)
		}
		if !bytes.Equal(got.Files[i].Layer, want[i].Layer) || (got.Files[i].Layer == nil) != (want[i].Layer == nil) {
			t.Errorf("file %d: layer of %d bytes, want %d", i, len(got.Files[i].Layer), len(want[i].Layer))
		}
	}
}

var v2Layouts = []struct {
	name    string
	lengths []int64
}{
	{"one block", []int64{1}},
	{"single piece", []int64{40000}},
	{"exactly one piece", []int64{64 << 10}},
	{"exactly two pieces", []int64{128 << 10}},
	{"single large", []int64{1<<20 + 17}},
	{"tree", []int64{0, 200000, 3, 0, 65536, 16384, 100001, 0}},
	{"odd blocks", []int64{16385, 49151, 180000, 7}},
}

// HashV2 gives each file the root and layer it has when hashed alone, and
// the v1 pieces of the padded content, whatever the read size and number
// of workers.
func TestHashV2MatchesReference(t *testing.T) {
	for _, lay := range v2Layouts {
		for _, pl := range []int64{16 << 10, 64 << 10} {
			for _, chunk := range []int{5000, 64 << 10, 512 << 10} {
				for _, workers := range []int{1, 3} {
					name := fmt.Sprintf("%s/pl=%d/chunk=%d/w=%d", lay.name, pl, chunk, workers)
					t.Run(name, func(t *testing.T) {
						withChunk(t, chunk)
						files, content := makeFiles(t, t.TempDir(), alignedSpecs(lay.lengths, pl))
						want := refV2(t, files, content, pl)
						for _, v1 := range []bool{true, false} {
							got, err := HashV2(context.Background(), files, pl, v1, Options{Workers: workers})
							if err != nil {
								t.Fatal(err)
							}
							var pieces []byte
							if v1 {
								pieces = refHash(content, pl)
							}
							checkSums(t, got, want, pieces)
						}
					})
				}
			}
		}
	}
}

// Cached data hashed through views of the page cache gives the same sums.
func TestHashV2Views(t *testing.T) {
	old := mapMin
	mapMin = 0
	t.Cleanup(func() { mapMin = old })
	pl := int64(32 << 10)
	files, content := makeFiles(t, t.TempDir(), alignedSpecs([]int64{300001, 5, 70000}, pl))
	got, err := HashV2(context.Background(), files, pl, true, Options{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	checkSums(t, got, refV2(t, files, content, pl), refHash(content, pl))
}

// The last file may end mid-piece with no pad after it (v2 only, or a
// hybrid made without a tail pad).
func TestHashV2NoTailPad(t *testing.T) {
	pl := int64(16 << 10)
	specs := alignedSpecs([]int64{20000, 30000}, pl)
	specs = specs[:len(specs)-1]
	files, content := makeFiles(t, t.TempDir(), specs)
	got, err := HashV2(context.Background(), files, pl, true, Options{})
	if err != nil {
		t.Fatal(err)
	}
	checkSums(t, got, refV2(t, files, content, pl), refHash(content, pl))
}

func TestHashV2Literal(t *testing.T) {
	// One block of 16 KiB of zeros: the root is its SHA-256.
	dir := t.TempDir()
	files, content := makeFiles(t, dir, []spec{{n: 16 << 10}})
	got, err := HashV2(context.Background(), files, 16<<10, false, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if want := merkle.HashBlock(content); got.Files[0].Root != want || got.Files[0].Layer != nil || got.Pieces != nil {
		t.Fatalf("got %+v, want root %x and nothing else", got, want)
	}
}

func TestHashV2BadArguments(t *testing.T) {
	files, _ := makeFiles(t, t.TempDir(), []spec{{n: 10}, {n: 10}})
	if _, err := HashV2(context.Background(), files, 16<<10, true, Options{}); !errors.Is(err, ErrUnaligned) {
		t.Errorf("unaligned files: %v, want ErrUnaligned", err)
	}
	for _, pl := range []int64{0, 8 << 10, 48 << 10} {
		if _, err := HashV2(context.Background(), files[:1], pl, true, Options{}); !errors.Is(err, ErrPieceLength) {
			t.Errorf("piece length %d: %v, want ErrPieceLength", pl, err)
		}
	}
	files[0].Length++
	if _, err := HashV2(context.Background(), files[:1], 16<<10, true, Options{}); !errors.Is(err, ErrWrongSize) {
		t.Errorf("wrong size: %v, want ErrWrongSize", err)
	}
}
