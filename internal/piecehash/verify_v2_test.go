package piecehash

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"tt/internal/merkle"
)

// v2Files writes files of the given sizes under dir and returns them with
// their pieces roots and piece layers for pieceLen.
func v2Files(t *testing.T, dir string, pieceLen int64, sizes ...int) []V2File {
	t.Helper()
	var files []V2File
	for i, n := range sizes {
		data := make([]byte, n)
		for k := range data {
			data[k] = byte(k*13+i) ^ byte(k>>9)
		}
		p := filepath.Join(dir, "f"+string(rune('a'+i)))
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		fh, err := merkle.NewFileHasher(pieceLen)
		if err != nil {
			t.Fatal(err)
		}
		fh.Write(data)
		root, layer := fh.Sum()
		f := V2File{Path: p, Length: int64(n), Root: root}
		for _, h := range layer {
			f.Layer = append(f.Layer, h[:]...)
		}
		files = append(files, f)
	}
	return files
}

func checkV2(t *testing.T, rep *V2Report, want []wantFile, states []string) {
	t.Helper()
	if len(rep.Files) != len(want) {
		t.Fatalf("%d file reports, want %d", len(rep.Files), len(want))
	}
	for i, w := range want {
		got := rep.Files[i]
		if got.State != w.state || got.Size != w.size || !slices.Equal(got.BadPieces, w.bad) || stateString(got.Pieces) != states[i] {
			t.Errorf("file %d: got %v size %d bad %v pieces %s (err %v); want %v size %d bad %v pieces %s",
				i, got.State, got.Size, got.BadPieces, stateString(got.Pieces), got.Err, w.state, w.size, w.bad, states[i])
		}
		if w.err != nil && !errors.Is(got.Err, w.err) || w.err == nil && got.Err != nil {
			t.Errorf("file %d: error %v, want %v", i, got.Err, w.err)
		}
	}
}

// TestVerifyV2: an empty file, a file of one short piece, one of exactly
// one piece and files of several pieces (the last one short) verify; a
// flipped byte fails exactly its piece, which with 16 KiB pieces is its
// block; a missing and a truncated file fail only their own pieces.
func TestVerifyV2(t *testing.T) {
	ctx := context.Background()
	for _, pl := range []int64{16 << 10, 64 << 10} {
		dir := t.TempDir()
		files := v2Files(t, dir, pl, 0, 1000, int(pl), 5*int(pl)+12345, 3*int(pl))
		for _, workers := range []int{1, 3} {
			rep, err := VerifyV2(ctx, files, pl, Options{Workers: workers})
			if err != nil {
				t.Fatal(err)
			}
			ok := []string{"", "O", "O", "OOOOOO", "OOO"}
			checkV2(t, rep, []wantFile{{size: 0}, {size: 1000}, {size: pl}, {size: 5*pl + 12345}, {size: 3 * pl}}, ok)
			if rep.Pieces != 11 || rep.OKPieces != 11 || rep.BytesRead != 9*pl+13345 {
				t.Errorf("pl %d: pieces %d ok %d read %d", pl, rep.Pieces, rep.OKPieces, rep.BytesRead)
			}
		}

		off := 4*pl + 100 // in piece 4 of file 3
		corruptByte(t, files[3].Path, off)
		if err := os.Remove(files[1].Path); err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(files[4].Path, 2*pl-1); err != nil {
			t.Fatal(err)
		}
		rep, err := VerifyV2(ctx, files, pl, Options{Workers: 2})
		if err != nil {
			t.Fatal(err)
		}
		checkV2(t, rep, []wantFile{
			{size: 0},
			{state: FileMissing, size: -1, bad: []int{0}, err: fs.ErrNotExist},
			{size: pl},
			{state: FileCorrupt, size: 5*pl + 12345, bad: []int{4}},
			{state: FileWrongSize, size: 2*pl - 1, bad: []int{1, 2}, err: ErrWrongSize},
		}, []string{"", "M", "O", "OOOOCO", "OMM"})
	}
}

// TestVerifyV2NoLayer: a file larger than a piece whose layer the torrent
// lacks is checked against its root as a whole.
func TestVerifyV2NoLayer(t *testing.T) {
	const pl = 16 << 10
	files := v2Files(t, t.TempDir(), pl, 3*pl+5)
	files[0].Layer = nil
	rep, err := VerifyV2(context.Background(), files, pl, Options{})
	if err != nil {
		t.Fatal(err)
	}
	checkV2(t, rep, []wantFile{{size: 3*pl + 5}}, []string{"OOOO"})
	corruptByte(t, files[0].Path, 1)
	rep, err = VerifyV2(context.Background(), files, pl, Options{})
	if err != nil {
		t.Fatal(err)
	}
	checkV2(t, rep, []wantFile{{state: FileCorrupt, size: 3*pl + 5, bad: []int{0, 1, 2, 3}}}, []string{"CCCC"})
}

// TestVerifyV2Arguments: piece lengths v2 does not allow and layers of the
// wrong size are refused; a cancelled context ends the call.
func TestVerifyV2Arguments(t *testing.T) {
	files := v2Files(t, t.TempDir(), 16<<10, 40000)
	if _, err := VerifyV2(context.Background(), files, 20000, Options{}); !errors.Is(err, ErrPieceLength) {
		t.Errorf("piece length 20000: %v", err)
	}
	bad := slices.Clone(files)
	bad[0].Layer = bad[0].Layer[:32]
	if _, err := VerifyV2(context.Background(), bad, 16<<10, Options{}); !errors.Is(err, ErrExpectedLength) {
		t.Errorf("short layer: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := VerifyV2(ctx, files, 16<<10, Options{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

// TestVerifyV2Progress: progress ends at the content size, missing pieces
// included.
func TestVerifyV2Progress(t *testing.T) {
	const pl = 16 << 10
	files := v2Files(t, t.TempDir(), pl, 5*pl, 100)
	os.Remove(files[1].Path)
	var last int64
	if _, err := VerifyV2(context.Background(), files, pl, Options{Progress: func(d int64) { last = d }}); err != nil {
		t.Fatal(err)
	}
	if last != 5*pl+100 {
		t.Errorf("last progress %d, want %d", last, 5*pl+100)
	}
}

// TestVerifyHybrid: one read checks both hash sets of a hybrid layout with
// a pad file; a changed v1 hash fails only the v1 check, a flipped byte
// both, and a missing file's pieces are missing in both.
func TestVerifyHybrid(t *testing.T) {
	const pl = 16 << 10
	dir := t.TempDir()
	v2 := v2Files(t, dir, pl, 1000, 3*pl+5)
	files := []File{{Path: v2[0].Path, Length: 1000}, {Length: pl - 1000, Pad: true}, {Path: v2[1].Path, Length: 3*pl + 5}}
	ctx := context.Background()
	sums, err := Hash(ctx, files, pl, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := func(p int) (merkle.Hash, bool) {
		if p == 0 {
			return v2[0].Root, true
		}
		return merkle.Hash(v2[1].Layer[(p-1)*32 : p*32]), true
	}
	check := func(expected []byte, v1s, v2s string) {
		t.Helper()
		for _, workers := range []int{1, 2} {
			rep, st, err := VerifyHybrid(ctx, files, pl, expected, want, Options{Workers: workers})
			if err != nil {
				t.Fatal(err)
			}
			if stateString(rep.Pieces) != v1s || stateString(st) != v2s {
				t.Errorf("workers %d: v1 %s v2 %s, want %s %s", workers, stateString(rep.Pieces), stateString(st), v1s, v2s)
			}
		}
	}
	check(sums, "OOOOO", "OOOOO")
	bad := slices.Clone(sums)
	bad[2*20] ^= 1
	check(bad, "OOCOO", "OOOOO")
	corruptByte(t, v2[1].Path, 3*pl+1)
	check(sums, "OOOOC", "OOOOC")
	os.Remove(v2[1].Path)
	check(sums, "OMMMM", "OMMMM")
	files[2].Length = pl + 1 // no longer aligned after a shorter pad
	files[1].Length = 10
	if _, _, err := VerifyHybrid(ctx, files, pl, sums, want, Options{}); !errors.Is(err, ErrUnaligned) {
		t.Errorf("unaligned: %v", err)
	}
}
