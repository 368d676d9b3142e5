package piecehash

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// spec describes one file of a test layout.
type spec struct {
	n   int64
	pad bool
}

func pad(n int64) spec { return spec{n: n, pad: true} }

// makeFiles writes the non-pad files of a layout into dir with pseudo-random
// content and returns them with the whole content in memory.
func makeFiles(t testing.TB, dir string, specs []spec) ([]File, []byte) {
	t.Helper()
	var files []File
	var content []byte
	r := rand.New(rand.NewPCG(uint64(len(specs)), 42))
	for i, s := range specs {
		if s.pad {
			files = append(files, File{Path: filepath.Join(dir, "never-created"), Length: s.n, Pad: true})
			content = append(content, make([]byte, s.n)...)
			continue
		}
		data := make([]byte, s.n)
		for j := range data {
			data[j] = byte(r.Uint32())
		}
		p := filepath.Join(dir, fmt.Sprintf("file%03d", i))
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, File{Path: p, Length: s.n})
		content = append(content, data...)
	}
	return files, content
}

// refHash is the obvious implementation: hash each slice of the content.
func refHash(content []byte, pieceLen int64) []byte {
	var out []byte
	for off := int64(0); off < int64(len(content)); off += pieceLen {
		sum := sha1.Sum(content[off:min(off+pieceLen, int64(len(content)))])
		out = append(out, sum[:]...)
	}
	return out
}

// withChunk runs the test body with a different read buffer size.
func withChunk(t testing.TB, n int) {
	old := readChunk
	readChunk = n
	t.Cleanup(func() { readChunk = old })
}

// onRead returns hooks that call fn after each read.
func onRead(fn func(file int, off int64, n int)) *hooks { return &hooks{read: fn} }

var layouts = []struct {
	name  string
	specs []spec
}{
	{"no files", nil},
	{"one empty file", []spec{{n: 0}}},
	{"one byte", []spec{{n: 1}}},
	{"single large", []spec{{n: 1<<20 + 17}}},
	{"empty first and last", []spec{{n: 0}, {n: 1000}, {n: 0}, {n: 0}, {n: 5000}, {n: 0}}},
	{"pads", []spec{{n: 1000}, pad(24), {n: 3000}, pad(96), {n: 1}}},
	{"pads at ends", []spec{pad(100), {n: 500}, pad(12)}},
	{"only pads", []spec{pad(10), pad(20)}},
	{"straddling", []spec{{n: 200000}, {n: 3}}},
	{"mixed", []spec{{n: 70000}, {n: 3}, {n: 0}, {n: 130001}, pad(7), {n: 99999}}},
	{"tiny files", tinySpecs(300)},
}

func tinySpecs(n int) []spec {
	s := make([]spec, n)
	for i := range s {
		s[i].n = int64(i * 7 % 50)
		if i%37 == 5 {
			s[i].pad = true
		}
	}
	return s
}

func TestHashMatchesReference(t *testing.T) {
	pieceLens := []int64{1, 3, 1000, 16384, 65537, 1 << 20, 4 << 20}
	for _, lay := range layouts {
		files, content := makeFiles(t, t.TempDir(), lay.specs)
		for _, pl := range pieceLens {
			if pl < 1000 && len(content) > 100000 {
				continue
			}
			want := refHash(content, pl)
			for _, chunk := range []int{1 << 20, 4096, 1000} {
				for _, workers := range []int{1, 4} {
					name := fmt.Sprintf("%s/piece=%d/chunk=%d/workers=%d", lay.name, pl, chunk, workers)
					withChunk(t, chunk)
					got, err := Hash(context.Background(), files, pl, Options{Workers: workers})
					if err != nil {
						t.Fatalf("%s: %v", name, err)
					}
					if !bytes.Equal(got, want) {
						t.Fatalf("%s: hashes differ from reference (%d vs %d bytes)", name, len(got), len(want))
					}
					if n := NumPieces(int64(len(content)), pl); len(got) != 20*n {
						t.Fatalf("%s: %d bytes of hashes for %d pieces", name, len(got), n)
					}
					rep, err := Verify(context.Background(), files, pl, want, Options{Workers: workers})
					if err != nil {
						t.Fatalf("%s: verify: %v", name, err)
					}
					if rep.OKPieces != len(want)/20 || rep.BytesRead != nonPadBytes(lay.specs) {
						t.Fatalf("%s: verify: %d ok of %d, read %d", name, rep.OKPieces, len(want)/20, rep.BytesRead)
					}
					for _, fr := range rep.Files {
						if fr.State != FileOK || fr.BadPieces != nil || fr.Err != nil {
							t.Fatalf("%s: verify: file %+v", name, fr)
						}
					}
				}
			}
		}
	}
}

func nonPadBytes(specs []spec) int64 {
	var n int64
	for _, s := range specs {
		if !s.pad {
			n += s.n
		}
	}
	return n
}

func TestHashLiteral(t *testing.T) {
	dir := t.TempDir()
	a, b, c := filepath.Join(dir, "a"), filepath.Join(dir, "b"), filepath.Join(dir, "c")
	os.WriteFile(a, []byte("hello"), 0o644)
	os.WriteFile(b, []byte("world!"), 0o644)
	os.WriteFile(c, nil, 0o644)
	files := []File{
		{Path: c, Length: 0},
		{Path: a, Length: 5},
		{Path: filepath.Join(dir, "does-not-exist"), Length: 3, Pad: true},
		{Path: b, Length: 6},
		{Path: c, Length: 0},
	}
	got, err := Hash(context.Background(), files, 4, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := "a5cec7af5f7aab769cf0d4aa440e01c7bfc371b2" + // "hell"
		"1f468499c9e1c626b531de83114641b0a13e118a" + // "o\0\0\0"
		"5bfcd144685d14d2d94374d2f71b64b4140a521a" + // "worl"
		"ef0295f34076cb5928183553e493ad8acc8d609e" // "d!"
	if hex.EncodeToString(got) != want {
		t.Fatalf("got %x\nwant %s", got, want)
	}
	got, err = Hash(context.Background(), files, 1<<20, Options{Workers: 3})
	if err != nil {
		t.Fatal(err)
	}
	if hex.EncodeToString(got) != "0f1b97ab8cd78632e7a819860666000bddcc5365" {
		t.Fatalf("one piece: got %x", got)
	}
}

func TestHashEmpty(t *testing.T) {
	for _, files := range [][]File{nil, {{Length: 0, Pad: true}}} {
		got, err := Hash(context.Background(), files, 16384, Options{})
		if err != nil || len(got) != 0 {
			t.Fatalf("Hash(%v) = %x, %v", files, got, err)
		}
		rep, err := Verify(context.Background(), files, 16384, nil, Options{})
		if err != nil || len(rep.Pieces) != 0 || rep.OKPieces != 0 {
			t.Fatalf("Verify(%v) = %+v, %v", files, rep, err)
		}
	}
}

func TestNumPieces(t *testing.T) {
	for _, c := range []struct {
		total, pl int64
		want      int
	}{
		{0, 16384, 0}, {1, 16384, 1}, {16384, 16384, 1}, {16385, 16384, 2},
		{-5, 10, 0}, {10, 0, 0}, {10, -1, 0}, {1 << 40, 1 << 20, 1 << 20}, {1<<40 + 1, 1 << 20, 1<<20 + 1},
	} {
		if got := NumPieces(c.total, c.pl); got != c.want {
			t.Errorf("NumPieces(%d, %d) = %d, want %d", c.total, c.pl, got, c.want)
		}
	}
}

func TestBadArguments(t *testing.T) {
	ctx := context.Background()
	files := []File{{Length: 10, Pad: true}}
	for _, pl := range []int64{0, -1} {
		if _, err := Hash(ctx, files, pl, Options{}); !errors.Is(err, ErrPieceLength) {
			t.Errorf("Hash pieceLen %d: %v", pl, err)
		}
		if _, err := Verify(ctx, files, pl, nil, Options{}); !errors.Is(err, ErrPieceLength) {
			t.Errorf("Verify pieceLen %d: %v", pl, err)
		}
	}
	if _, err := Hash(ctx, []File{{Length: -1, Pad: true}}, 4, Options{}); !errors.Is(err, ErrFileLength) {
		t.Errorf("negative length: %v", err)
	}
	for _, n := range []int{0, 19, 21, 40} {
		_, err := Verify(ctx, files, 16, make([]byte, n), Options{})
		if !errors.Is(err, ErrExpectedLength) || !strings.HasPrefix(ErrExpectedLength.Error(), "piecehash: ") {
			t.Errorf("expected of %d bytes: %v", n, err)
		}
	}
	for _, p := range []int{-1, 1} {
		if _, err := VerifyPieces(ctx, files, 16, make([]byte, 20), []int{0, p}, Options{}); !errors.Is(err, ErrPieceIndex) {
			t.Errorf("piece %d: %v", p, err)
		}
	}
}

func TestHashMissingFile(t *testing.T) {
	dir := t.TempDir()
	files, _ := makeFiles(t, dir, []spec{{n: 100}, {n: 100}})
	os.Remove(files[1].Path)
	_, err := Hash(context.Background(), files, 64, Options{})
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), files[1].Path) {
		t.Fatalf("got %v", err)
	}
}

func TestHashWrongSize(t *testing.T) {
	dir := t.TempDir()
	files, _ := makeFiles(t, dir, []spec{{n: 100}, {n: 100}})
	files[0].Length = 101
	_, err := Hash(context.Background(), files, 64, Options{})
	if !errors.Is(err, ErrWrongSize) || !strings.Contains(err.Error(), files[0].Path) {
		t.Fatalf("got %v", err)
	}
}

func TestHashDirectory(t *testing.T) {
	dir := t.TempDir()
	files, _ := makeFiles(t, dir, []spec{{n: 100}})
	files = append(files, File{Path: dir, Length: 0})
	_, err := Hash(context.Background(), files, 64, Options{})
	if !errors.Is(err, ErrNotRegular) || !strings.Contains(err.Error(), dir) {
		t.Fatalf("got %v", err)
	}
}

// TestHashFileChanges changes the middle file right after its first read.
func TestHashFileChanges(t *testing.T) {
	changes := map[string]func(path string) error{
		"grows": func(p string) error {
			f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				return err
			}
			f.Write([]byte("more"))
			return f.Close()
		},
		"shrinks": func(p string) error { return os.Truncate(p, 5000) },
		"rewritten": func(p string) error {
			f, err := os.OpenFile(p, os.O_WRONLY, 0)
			if err != nil {
				return err
			}
			f.WriteAt([]byte("x"), 30000)
			f.Close()
			return os.Chtimes(p, time.Time{}, time.Now().Add(time.Hour))
		},
	}
	for name, change := range changes {
		for _, workers := range []int{1, 4} {
			t.Run(fmt.Sprintf("%s/workers=%d", name, workers), func(t *testing.T) {
				files, _ := makeFiles(t, t.TempDir(), []spec{{n: 10000}, {n: 40000}, {n: 10000}})
				withChunk(t, 4096)
				var once sync.Once
				mutate := onRead(func(file int, _ int64, _ int) {
					if file == 1 {
						once.Do(func() {
							if err := change(files[1].Path); err != nil {
								t.Error(err)
							}
						})
					}
				})
				got, err := Hash(context.Background(), files, 4096, Options{Workers: workers, hooks: mutate})
				if !errors.Is(err, ErrFileChanged) || !strings.Contains(err.Error(), files[1].Path) || got != nil {
					t.Fatalf("got %d bytes, %v", len(got), err)
				}
			})
		}
	}
}

func TestHashCancel(t *testing.T) {
	files, _ := makeFiles(t, t.TempDir(), []spec{{n: 4 << 20}})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Hash(ctx, files, 16384, Options{}); !errors.Is(err, context.Canceled) {
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
		if reads == 3 {
			cancel()
		} else if reads > 3 {
			after++
		}
	})
	got, err := Hash(ctx, files, 16384, Options{Workers: 4, hooks: count})
	if !errors.Is(err, context.Canceled) || got != nil {
		t.Fatalf("got %d bytes, %v", len(got), err)
	}
	if after > 4 {
		t.Fatalf("%d reads after cancellation", after)
	}
}

func TestProgress(t *testing.T) {
	files, content := makeFiles(t, t.TempDir(), []spec{{n: 3 << 20}, pad(1000), {n: 12345}})
	withChunk(t, 16384)
	var mu sync.Mutex
	var calls []int64
	// Each read takes at least a millisecond, so that the run lasts long
	// enough for the progress calls to be spaced out.
	opt := Options{Workers: 2, Progress: func(done int64) {
		mu.Lock()
		calls = append(calls, done)
		mu.Unlock()
	}, hooks: onRead(func(int, int64, int) { time.Sleep(time.Millisecond) })}
	start := time.Now()
	if _, err := Hash(context.Background(), files, 65536, opt); err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	mu.Lock()
	defer mu.Unlock()
	if len(calls) == 0 || calls[len(calls)-1] != int64(len(content)) {
		t.Fatalf("calls %v, want last %d", calls, len(content))
	}
	for i := 1; i < len(calls); i++ {
		if calls[i] <= calls[i-1] {
			t.Fatalf("not increasing: %v", calls)
		}
	}
	if max := int(elapsed/progressEvery) + 2; len(calls) > max {
		t.Fatalf("%d calls in %v", len(calls), elapsed)
	}
}

// TestPrefetchSettings runs with a tiny prefetch window so that the
// prefetcher has to wait for the workers, and with many workers.
func TestPrefetchSettings(t *testing.T) {
	oa, ost, ow, oh := prefetchAhead, prefetchStep, prefetchWholeMax, prefetchHead
	prefetchAhead, prefetchStep, prefetchWholeMax, prefetchHead = 0, 8192, 64<<10, 16<<10
	t.Cleanup(func() { prefetchAhead, prefetchStep, prefetchWholeMax, prefetchHead = oa, ost, ow, oh })
	withChunk(t, 16384)
	files, content := makeFiles(t, t.TempDir(), []spec{{n: 3 << 20}, {n: 100}, pad(5), {n: 70000}, {n: 0}, {n: 1 << 20}})
	want := refHash(content, 32768)
	for _, workers := range []int{1, 2, 300} {
		got, err := Hash(context.Background(), files, 32768, Options{Workers: workers})
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("workers %d: %v, equal %v", workers, err, bytes.Equal(got, want))
		}
	}
	os.Remove(files[1].Path)
	rep, err := Verify(context.Background(), files, 32768, want, Options{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	// File 1 is content [3 MiB, 3 MiB+100): piece 96 only.
	if rep.OKPieces != len(want)/20-1 || rep.Pieces[96] != PieceMissing {
		t.Fatalf("ok %d of %d, piece 96 %v", rep.OKPieces, len(want)/20, rep.Pieces[96])
	}
}
