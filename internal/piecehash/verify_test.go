package piecehash

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
)

// stateString renders piece states compactly: O ok, C corrupt, M missing, - unchecked.
func stateString(states []PieceState) string {
	var b strings.Builder
	for _, s := range states {
		b.WriteByte("-OCM"[s])
	}
	return b.String()
}

type wantFile struct {
	state FileState
	size  int64
	bad   []int
	err   error // errors.Is target, nil if no error expected
}

func checkFiles(t *testing.T, rep *Report, want []wantFile) {
	t.Helper()
	if len(rep.Files) != len(want) {
		t.Fatalf("%d file reports, want %d", len(rep.Files), len(want))
	}
	for i, w := range want {
		got := rep.Files[i]
		if got.Index != i || got.State != w.state || got.Size != w.size || !slices.Equal(got.BadPieces, w.bad) {
			t.Errorf("file %d: got index %d %v size %d bad %v (err %v); want %v size %d bad %v",
				i, got.Index, got.State, got.Size, got.BadPieces, got.Err, w.state, w.size, w.bad)
		}
		switch {
		case w.err == nil && got.Err != nil:
			t.Errorf("file %d: unexpected error %v", i, got.Err)
		case w.err != nil && !errors.Is(got.Err, w.err):
			t.Errorf("file %d: error %v, want %v", i, got.Err, w.err)
		}
	}
}

func corruptByte(t *testing.T, path string, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0x55
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

func appendBytes(t *testing.T, path string, n int) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write(make([]byte, n))
	f.Close()
}

// Three files of 10000 bytes and 4096-byte pieces:
//
//	piece 0 [0,4096) A, 1 A, 2 [8192,12288) A+B, 3 B, 4 [16384,20480) B+C, 5 C, 6 C, 7 [28672,30000) C
func TestVerifyDamage(t *testing.T) {
	cases := []struct {
		name   string
		damage func(t *testing.T, files []File)
		pieces string
		read   int64
		files  []wantFile
	}{
		{
			name:   "intact",
			damage: func(*testing.T, []File) {},
			pieces: "OOOOOOOO", read: 30000,
			files: []wantFile{{FileOK, 10000, nil, nil}, {FileOK, 10000, nil, nil}, {FileOK, 10000, nil, nil}},
		},
		{
			name:   "one corrupt byte",
			damage: func(t *testing.T, f []File) { corruptByte(t, f[1].Path, 5000) },
			pieces: "OOOCOOOO", read: 30000,
			files: []wantFile{{FileOK, 10000, nil, nil}, {FileCorrupt, 10000, []int{3}, nil}, {FileOK, 10000, nil, nil}},
		},
		{
			name:   "middle file deleted",
			damage: func(t *testing.T, f []File) { os.Remove(f[1].Path) },
			pieces: "OOMMMOOO", read: 2*4096 + 2*4096 + 1328,
			files: []wantFile{{FileCorrupt, 10000, []int{2}, nil}, {FileMissing, -1, []int{2, 3, 4}, fs.ErrNotExist}, {FileCorrupt, 10000, []int{4}, nil}},
		},
		{
			name:   "middle file truncated",
			damage: func(t *testing.T, f []File) { os.Truncate(f[1].Path, 3000) },
			pieces: "OOOMMOOO", read: 3*4096 + 2*4096 + 1328,
			files: []wantFile{{FileOK, 10000, nil, nil}, {FileWrongSize, 3000, []int{3, 4}, ErrWrongSize}, {FileCorrupt, 10000, []int{4}, nil}},
		},
		{
			name:   "middle file empty",
			damage: func(t *testing.T, f []File) { os.Truncate(f[1].Path, 0) },
			pieces: "OOMMMOOO", read: 2*4096 + 2*4096 + 1328,
			files: []wantFile{{FileCorrupt, 10000, []int{2}, nil}, {FileWrongSize, 0, []int{2, 3, 4}, ErrWrongSize}, {FileCorrupt, 10000, []int{4}, nil}},
		},
		{
			name:   "middle file too long",
			damage: func(t *testing.T, f []File) { appendBytes(t, f[1].Path, 500) },
			pieces: "OOOOOOOO", read: 30000,
			files: []wantFile{{FileOK, 10000, nil, nil}, {FileWrongSize, 10500, nil, ErrWrongSize}, {FileOK, 10000, nil, nil}},
		},
		{
			name:   "last file too long",
			damage: func(t *testing.T, f []File) { appendBytes(t, f[2].Path, 500) },
			pieces: "OOOOOOOO", read: 30000,
			files: []wantFile{{FileOK, 10000, nil, nil}, {FileOK, 10000, nil, nil}, {FileWrongSize, 10500, nil, ErrWrongSize}},
		},
		{
			name: "directory instead of file",
			damage: func(t *testing.T, f []File) {
				os.Remove(f[1].Path)
				os.Mkdir(f[1].Path, 0o755)
			},
			pieces: "OOMMMOOO", read: 2*4096 + 2*4096 + 1328,
			files: []wantFile{{FileCorrupt, 10000, []int{2}, nil}, {FileUnreadable, -1, []int{2, 3, 4}, ErrNotRegular}, {FileCorrupt, 10000, []int{4}, nil}},
		},
		{
			name: "first file deleted and last corrupt",
			damage: func(t *testing.T, f []File) {
				os.Remove(f[0].Path)
				corruptByte(t, f[2].Path, 9000)
			},
			pieces: "MMMOOOOC", read: 30000 - 3*4096,
			files: []wantFile{{FileMissing, -1, []int{0, 1, 2}, fs.ErrNotExist}, {FileCorrupt, 10000, []int{2}, nil}, {FileCorrupt, 10000, []int{7}, nil}},
		},
		{
			name: "parent is a file",
			damage: func(t *testing.T, f []File) {
				f[1].Path += "/sub"
			},
			pieces: "OOMMMOOO", read: 2*4096 + 2*4096 + 1328,
			files: []wantFile{{FileCorrupt, 10000, []int{2}, nil}, {FileMissing, -1, []int{2, 3, 4}, nil}, {FileCorrupt, 10000, []int{4}, nil}},
		},
	}
	for _, c := range cases {
		for _, workers := range []int{1, 4} {
			t.Run(fmt.Sprintf("%s/workers=%d", c.name, workers), func(t *testing.T) {
				files, content := makeFiles(t, t.TempDir(), []spec{{n: 10000}, {n: 10000}, {n: 10000}})
				expected := refHash(content, 4096)
				c.damage(t, files)
				rep, err := Verify(context.Background(), files, 4096, expected, Options{Workers: workers})
				if err != nil {
					t.Fatal(err)
				}
				if got := stateString(rep.Pieces); got != c.pieces {
					t.Errorf("pieces %s, want %s", got, c.pieces)
				}
				if want := strings.Count(c.pieces, "O"); rep.OKPieces != want {
					t.Errorf("OKPieces %d, want %d", rep.OKPieces, want)
				}
				if rep.BytesRead != c.read {
					t.Errorf("BytesRead %d, want %d", rep.BytesRead, c.read)
				}
				if c.name == "parent is a file" {
					c.files[1].err = rep.Files[1].Err // ENOTDIR: only the state is portable
				}
				checkFiles(t, rep, c.files)
			})
		}
	}
}

// TestVerifyTinyFiles: 100 files of 100 bytes, 1024-byte pieces; piece 4
// [4096,5120) touches files 40..51, file 50 is deleted.
func TestVerifyTinyFiles(t *testing.T) {
	specs := make([]spec, 100)
	for i := range specs {
		specs[i].n = 100
	}
	files, content := makeFiles(t, t.TempDir(), specs)
	expected := refHash(content, 1024)
	os.Remove(files[50].Path)
	rep, err := Verify(context.Background(), files, 1024, expected, Options{Workers: 3})
	if err != nil {
		t.Fatal(err)
	}
	if got := stateString(rep.Pieces); got != "OOOOMOOOOO" {
		t.Fatalf("pieces %s", got)
	}
	want := make([]wantFile, 100)
	for i := range want {
		want[i] = wantFile{FileOK, 100, nil, nil}
		if i >= 40 && i <= 51 {
			want[i] = wantFile{FileCorrupt, 100, []int{4}, nil}
		}
	}
	want[50] = wantFile{FileMissing, -1, []int{4}, fs.ErrNotExist}
	checkFiles(t, rep, want)
	if rep.BytesRead != 10000-1024 {
		t.Fatalf("BytesRead %d", rep.BytesRead)
	}
}

func TestVerifyPadFiles(t *testing.T) {
	files, content := makeFiles(t, t.TempDir(), []spec{{n: 1000}, pad(24), {n: 1000}, pad(3), {n: 0}})
	expected := refHash(content, 512)
	corruptByte(t, files[2].Path, 999)
	rep, err := Verify(context.Background(), files, 512, expected, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := stateString(rep.Pieces); got != "OOOC" {
		t.Fatalf("pieces %s", got)
	}
	checkFiles(t, rep, []wantFile{
		{FileOK, 1000, nil, nil},
		{FileOK, 24, nil, nil},
		{FileCorrupt, 1000, []int{3}, nil},
		{FileOK, 3, nil, nil},
		{FileOK, 0, nil, nil},
	})
	if rep.BytesRead != 2000 {
		t.Fatalf("BytesRead %d", rep.BytesRead)
	}
}

func TestVerifyPermissionDenied(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("running as root: file permissions are not enforced")
	}
	files, content := makeFiles(t, t.TempDir(), []spec{{n: 10000}, {n: 10000}, {n: 10000}})
	expected := refHash(content, 4096)
	if err := os.Chmod(files[1].Path, 0); err != nil {
		t.Fatal(err)
	}
	rep, err := Verify(context.Background(), files, 4096, expected, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := stateString(rep.Pieces); got != "OOMMMOOO" {
		t.Fatalf("pieces %s", got)
	}
	checkFiles(t, rep, []wantFile{
		{FileCorrupt, 10000, []int{2}, nil},
		{FileUnreadable, 10000, []int{2, 3, 4}, fs.ErrPermission},
		{FileCorrupt, 10000, []int{4}, nil},
	})
}

// TestVerifyShrinksDuringRead truncates the file after the first read.
func TestVerifyShrinksDuringRead(t *testing.T) {
	files, content := makeFiles(t, t.TempDir(), []spec{{n: 40960}})
	expected := refHash(content, 4096)
	withChunk(t, 4096)
	var once sync.Once
	truncate := onRead(func(int, int64, int) {
		once.Do(func() { os.Truncate(files[0].Path, 10000) })
	})
	rep, err := Verify(context.Background(), files, 4096, expected, Options{Workers: 1, hooks: truncate})
	if err != nil {
		t.Fatal(err)
	}
	if got := stateString(rep.Pieces); got != "OOMMMMMMMM" {
		t.Fatalf("pieces %s", got)
	}
	checkFiles(t, rep, []wantFile{{FileWrongSize, 10000, []int{2, 3, 4, 5, 6, 7, 8, 9}, ErrFileChanged}})
	if rep.BytesRead != 10000 {
		t.Fatalf("BytesRead %d", rep.BytesRead)
	}
}

func TestVerifyPieces(t *testing.T) {
	files, content := makeFiles(t, t.TempDir(), []spec{{n: 10000}, {n: 10000}, {n: 10000}})
	expected := refHash(content, 4096)
	corruptByte(t, files[1].Path, 5000) // piece 3
	os.Truncate(files[2].Path, 9000)    // piece 7 [28672,30000) needs C up to 10000
	ctx := context.Background()

	rep, err := VerifyPieces(ctx, files, 4096, expected, []int{5, 1, 5}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := stateString(rep.Pieces); got != "-O---O--" || rep.OKPieces != 2 || rep.BytesRead != 8192 {
		t.Fatalf("pieces %s ok %d read %d", got, rep.OKPieces, rep.BytesRead)
	}
	checkFiles(t, rep, []wantFile{{FileOK, 10000, nil, nil}, {FileOK, 10000, nil, nil}, {FileWrongSize, 9000, nil, ErrWrongSize}})

	rep, err = VerifyPieces(ctx, files, 4096, expected, []int{7, 3, 2}, Options{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	if got := stateString(rep.Pieces); got != "--OC---M" || rep.OKPieces != 1 || rep.BytesRead != 8192 {
		t.Fatalf("pieces %s ok %d read %d", got, rep.OKPieces, rep.BytesRead)
	}
	checkFiles(t, rep, []wantFile{{FileOK, 10000, nil, nil}, {FileCorrupt, 10000, []int{3}, nil}, {FileWrongSize, 9000, []int{7}, ErrWrongSize}})

	rep, err = VerifyPieces(ctx, files, 4096, expected, nil, Options{})
	if err != nil || stateString(rep.Pieces) != "--------" || rep.BytesRead != 0 {
		t.Fatalf("no pieces: %+v %v", rep, err)
	}
}

func TestVerifyCancel(t *testing.T) {
	files, content := makeFiles(t, t.TempDir(), []spec{{n: 2 << 20}, {n: 2 << 20}})
	expected := refHash(content, 16384)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if rep, err := Verify(ctx, files, 16384, expected, Options{}); !errors.Is(err, context.Canceled) || rep != nil {
		t.Fatalf("cancelled before: %v", err)
	}

	withChunk(t, 16384)
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	reads, after := 0, 0
	count := onRead(func(int, int64, int) {
		mu.Lock()
		defer mu.Unlock()
		reads++
		if reads == 5 {
			cancel()
		} else if reads > 5 {
			after++
		}
	})
	rep, err := Verify(ctx, files, 16384, expected, Options{Workers: 4, hooks: count})
	if !errors.Is(err, context.Canceled) || rep != nil {
		t.Fatalf("got %v, %v", rep, err)
	}
	if after > 4 {
		t.Fatalf("%d reads after cancellation", after)
	}
}
