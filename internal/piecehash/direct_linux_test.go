//go:build linux && (amd64 || arm64 || riscv64 || loong64)

package piecehash

import (
	"bytes"
	"context"
	"os"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"
)

// countDirect returns hooks that count the direct reads in n.
func countDirect(n *atomic.Int64) *hooks {
	return &hooks{direct: func(int, int64, int) { n.Add(1) }}
}

// withDirect makes every read of a non-pad file direct, with small buffers
// so that reads start and end at every kind of offset.
func withDirect(t *testing.T, bufLen int) {
	of, om, ob := forceDirect, directMin, directMaxBuf
	forceDirect, directMin, directMaxBuf = true, 0, bufLen
	t.Cleanup(func() { forceDirect, directMin, directMaxBuf = of, om, ob })
}

// requireDirect skips the test where direct reads cannot happen in dir.
func requireDirect(t *testing.T, dir string) {
	t.Helper()
	withDirect(t, 8192)
	var n atomic.Int64
	files, content := makeFiles(t, dir, []spec{{n: 10000}})
	got, err := Hash(context.Background(), files, 4096, Options{Workers: 1, hooks: countDirect(&n)})
	if err != nil || !bytes.Equal(got, refHash(content, 4096)) {
		t.Fatalf("probe: %v", err)
	}
	if n.Load() == 0 {
		t.Skip("no direct reads here (needs Linux 6.5, huge pages and ext4, XFS or btrfs under TMPDIR)")
	}
}

// TestDirect runs the content, damage and change tests with every read
// direct.
func TestDirect(t *testing.T) {
	requireDirect(t, t.TempDir())
	for _, bufLen := range []int{3 * 4096, 8192, 1 << 20} {
		withDirect(t, bufLen)
		if bufLen == 3*4096 {
			t.Run("HashMatchesReference", TestHashMatchesReference)
		}
		t.Run("HashLiteral", TestHashLiteral)
		t.Run("HashFileChanges", TestHashFileChanges)
		t.Run("PrefetchSettings", TestPrefetchSettings)
		t.Run("VerifyDamage", TestVerifyDamage)
		t.Run("VerifyTinyFiles", TestVerifyTinyFiles)
	}
}

// TestDirectOnlyWhenNotCached checks that a file is read directly only
// where its pages are not in the page cache.
func TestDirectOnlyWhenNotCached(t *testing.T) {
	dir := t.TempDir()
	requireDirect(t, dir)
	forceDirect = false
	files, content := makeFiles(t, dir, []spec{{n: 3<<20 + 5}, {n: 1000}, {n: 2 << 20}})
	want := refHash(content, 1<<18)
	var n atomic.Int64
	count := countDirect(&n)
	hash := func() {
		t.Helper()
		got, err := Hash(context.Background(), files, 1<<18, Options{Workers: 2, hooks: count})
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("hash: %v, equal %v", err, bytes.Equal(got, want))
		}
	}
	hash()
	if n.Load() != 0 {
		t.Fatalf("%d direct reads of files just written", n.Load())
	}
	for _, f := range files {
		dropCache(t, f.Path)
	}
	hash()
	if n.Load() == 0 {
		t.Fatal("no direct reads after dropping the files from the page cache")
	}
	for _, f := range files {
		if _, err := os.ReadFile(f.Path); err != nil {
			t.Fatal(err)
		}
	}
	n.Store(0)
	hash()
	if n.Load() != 0 {
		t.Fatalf("%d direct reads of cached files", n.Load())
	}
}

// dropCache evicts the pages of a file from the page cache.
func dropCache(t *testing.T, path string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		t.Fatal(err)
	}
}

// TestDirectPlannedOnlyForUncachedData checks that a run over cached data
// sets up no direct buffers or extra readers, and one over data some of
// which is not cached does.
func TestDirectPlannedOnlyForUncachedData(t *testing.T) {
	dir := t.TempDir()
	requireDirect(t, dir)
	forceDirect = false
	files, _ := makeFiles(t, dir, []spec{{n: 1 << 20}, {n: 1000}, {n: 2 << 20}, {n: 1 << 20}})
	plan := func() (bool, int) {
		t.Helper()
		l, err := newLayout(files, 1<<18)
		if err != nil {
			t.Fatal(err)
		}
		e := &engine{l: l, workers: 2, count: l.n, info: statAll(files)}
		bufs := e.planDirect()
		for _, b := range bufs {
			b.free()
		}
		return len(bufs) > 0, e.readers
	}
	if direct, readers := plan(); direct || readers != 0 {
		t.Fatalf("cached: direct %v, %d readers", direct, readers)
	}
	dropCache(t, files[3].Path)
	if direct, readers := plan(); !direct || readers != 2+directExtra {
		t.Fatalf("one file not cached: direct %v, %d readers", direct, readers)
	}
}
