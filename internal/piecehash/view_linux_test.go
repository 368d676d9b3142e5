//go:build linux && (amd64 || arm64 || riscv64 || loong64)

package piecehash

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// countViews returns hooks that count in n the reads that gave a view of
// the page cache, and then call then, if set.
func countViews(n *atomic.Int64, then func(file int)) *hooks {
	return &hooks{view: func(i int) {
		n.Add(1)
		if then != nil {
			then(i)
		}
	}}
}

// viewsFrom makes files of n bytes or more hashed through views until the
// test ends.
func viewsFrom(t *testing.T, n int64) {
	old := mapMin
	mapMin = n
	t.Cleanup(func() { mapMin = old })
}

// Cached parts of large files are hashed where they lie in the page cache,
// with the same result as reading them; small files are read.
func TestViews(t *testing.T) {
	viewsFrom(t, 1<<20)
	files, content := makeFiles(t, t.TempDir(), []spec{{n: 3<<20 + 12345}, {n: 777}, {n: 100, pad: true}, {n: 1<<20 + 1}, {n: 5000}})
	for _, f := range files {
		if !f.Pad {
			if _, err := os.ReadFile(f.Path); err != nil { // into the page cache
				t.Fatal(err)
			}
		}
	}
	for _, pl := range []int64{16 << 10, 256 << 10, 4 << 20} {
		var n atomic.Int64
		got, err := Hash(context.Background(), files, pl, Options{Workers: 2, hooks: countViews(&n, nil)})
		if err != nil || !bytes.Equal(got, refHash(content, pl)) {
			t.Fatalf("piece length %d: %v, equal %v", pl, err, bytes.Equal(got, refHash(content, pl)))
		}
		if n.Load() == 0 {
			t.Fatalf("piece length %d: no views", pl)
		}
		rep, err := Verify(context.Background(), files, pl, refHash(content, pl), Options{Workers: 2})
		if err != nil || rep.OKPieces != len(rep.Pieces) {
			t.Fatalf("verify, piece length %d: %v, %d of %d pieces ok", pl, err, rep.OKPieces, len(rep.Pieces))
		}
	}
}

// A file truncated after it was mapped makes hashing it fault: the run
// ends with ErrFileChanged instead of crashing.
func TestViewOfTruncatedFile(t *testing.T) {
	viewsFrom(t, 1<<20)
	files, _ := makeFiles(t, t.TempDir(), []spec{{n: 4 << 20}})
	if _, err := os.ReadFile(files[0].Path); err != nil {
		t.Fatal(err)
	}
	var once atomic.Bool
	var n atomic.Int64
	truncate := countViews(&n, func(int) {
		if once.CompareAndSwap(false, true) {
			if err := os.Truncate(files[0].Path, 0); err != nil {
				t.Error(err)
			}
		}
	})
	_, err := Hash(context.Background(), files, 1<<20, Options{Workers: 1, hooks: truncate})
	if !errors.Is(err, ErrFileChanged) || !strings.Contains(err.Error(), "truncated while read") {
		t.Fatalf("err = %v, want ErrFileChanged from the fault", err)
	}
}

// rssFileKiB is the part of the resident set that maps files.
func rssFileKiB(t *testing.T) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip(err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "RssFile:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return n
		}
	}
	t.Skip("no RssFile")
	return 0
}

// Views leave the pages mapped only while they are hashed: hashing a large
// cached file does not grow the resident set by its size.
func TestViewsKeepResidentSetSmall(t *testing.T) {
	viewsFrom(t, 1<<20)
	files, content := makeFiles(t, t.TempDir(), []spec{{n: 48 << 20}})
	if _, err := os.ReadFile(files[0].Path); err != nil {
		t.Fatal(err)
	}
	base := rssFileKiB(t)
	var peak, n atomic.Int64
	sample := countViews(&n, func(int) {
		if r := rssFileKiB(t); r > peak.Load() {
			peak.Store(r)
		}
	})
	got, err := Hash(context.Background(), files, 1<<20, Options{Workers: 2, hooks: sample})
	if err != nil || !bytes.Equal(got, refHash(content, 1<<20)) {
		t.Fatalf("hash: %v", err)
	}
	if n.Load() == 0 {
		t.Fatal("no views")
	}
	if grew := peak.Load() - base; grew > 24<<10 {
		t.Fatalf("file-backed resident set grew by %d KiB while hashing a 48 MiB file", grew)
	}
}

// Verify of a file truncated while viewed reports the file and its pieces,
// and checks the rest, instead of failing.
func TestVerifyViewOfTruncatedFile(t *testing.T) {
	viewsFrom(t, 1<<20)
	files, content := makeFiles(t, t.TempDir(), []spec{{n: 4 << 20}, {n: 3 << 20}})
	for _, f := range files {
		if _, err := os.ReadFile(f.Path); err != nil {
			t.Fatal(err)
		}
	}
	var once atomic.Bool
	var n atomic.Int64
	truncate := countViews(&n, func(i int) {
		if i == 0 && once.CompareAndSwap(false, true) {
			if err := os.Truncate(files[0].Path, 0); err != nil {
				t.Error(err)
			}
		}
	})
	rep, err := Verify(context.Background(), files, 1<<20, refHash(content, 1<<20), Options{Workers: 1, hooks: truncate})
	if err != nil {
		t.Fatal(err)
	}
	if st := rep.Files[0].State; st != FileWrongSize {
		t.Fatalf("truncated file: state %v (%v)", st, rep.Files[0].Err)
	}
	if rep.Files[1].State != FileOK {
		t.Fatalf("other file: state %v", rep.Files[1].State)
	}
	for p := 4; p < 7; p++ {
		if rep.Pieces[p] != PieceOK {
			t.Fatalf("piece %d of the other file: %v", p, rep.Pieces[p])
		}
	}
	if rep.Pieces[0] != PieceMissing {
		t.Fatalf("piece 0: %v", rep.Pieces[0])
	}
}

// A FIFO where a file should be is not opened (that would wait for a
// writer): Verify reports it and ends.
func TestVerifyFIFO(t *testing.T) {
	dir := t.TempDir()
	files, content := makeFiles(t, dir, []spec{{n: 1 << 20}, {n: 1000}})
	if err := os.Remove(files[1].Path); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(files[1].Path, 0o644); err != nil {
		t.Skip(err)
	}
	done := make(chan error, 1)
	go func() {
		rep, err := Verify(context.Background(), files, 1<<18, refHash(content, 1<<18), Options{Workers: 2})
		if err == nil && rep.Files[1].State != FileUnreadable {
			err = fmt.Errorf("FIFO: state %v", rep.Files[1].State)
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Verify did not return")
	}
}
