package metainfo

import (
	"crypto/sha1"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func writeTree(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for p, content := range files {
		full := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func paths(c *Content) []string {
	var out []string
	for _, f := range c.Files {
		out = append(out, strings.Join(f.Path, "/"))
	}
	return out
}

func skipped(c *Content) []string {
	var out []string
	for _, s := range c.Skipped {
		out = append(out, s.Path+": "+s.Reason)
	}
	slices.Sort(out)
	return out
}

func TestScan(t *testing.T) {
	root := filepath.Join(t.TempDir(), "content")
	writeTree(t, root, map[string]string{
		"b.txt": "bb", "a/z": "z", "a.txt": "a", "A": "A", "a/b/c": "cc",
		".hidden": "h", ".git/config": "g", "Thumbs.db": "j", "._x": "j", "sub/.DS_Store": "j",
		"build/out.o": "o", "keep.log": "l", "drop.log": "d",
	})
	if err := os.Symlink("b.txt", filepath.Join(root, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("..", filepath.Join(root, "a", "up")); err != nil {
		t.Fatal(err)
	}
	c, err := Scan(root, ScanOptions{Exclude: []string{"build/", "drop.*"}})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"A", "a/b/c", "a/z", "a.txt", "b.txt", "keep.log"}; !slices.Equal(paths(c), want) {
		t.Fatalf("files %q want %q", paths(c), want)
	}
	if c.Name != "content" || !c.MultiFile || c.Total != 1+2+1+1+2+1 {
		t.Fatalf("%+v", c)
	}
	wantSkipped := []string{
		"._x: junk (use --include-junk)", ".git: hidden (use --include-hidden)", ".hidden: hidden (use --include-hidden)",
		"Thumbs.db: junk (use --include-junk)", "a/up: symlink (use --follow-symlinks)", "build/out.o: matched by --exclude",
		"drop.log: matched by --exclude", "link: symlink (use --follow-symlinks)", "sub/.DS_Store: junk (use --include-junk)",
	}
	if got := skipped(c); !slices.Equal(got, wantSkipped) {
		t.Fatalf("skipped\n got %q\nwant %q", got, wantSkipped)
	}

	c, err = Scan(root, ScanOptions{Hidden: true, Junk: true, FollowSymlinks: true, Include: []string{"*.txt", ".git/*"}})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{".git/config", "a.txt", "b.txt"}; !slices.Equal(paths(c), want) {
		t.Fatalf("with include: %q", paths(c))
	}
	if !slices.Contains(skipped(c), "a/up: directory loop") {
		t.Fatalf("loop not named: %q", skipped(c))
	}

	single := filepath.Join(root, "b.txt")
	c, err = Scan(single, ScanOptions{})
	if err != nil || c.MultiFile || c.Name != "b.txt" || c.Total != 2 {
		t.Fatalf("single %+v %v", c, err)
	}
	if _, err := Scan(filepath.Join(root, "nope"), ScanOptions{}); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing: %v", err)
	}
	empty := t.TempDir()
	if _, err := Scan(empty, ScanOptions{}); !errors.Is(err, ErrEmptyContent) {
		t.Fatalf("empty dir: %v", err)
	}
	if _, err := Scan(root, ScanOptions{Exclude: []string{"[oops"}}); err == nil {
		t.Fatal("bad glob accepted")
	}
}

func TestBuildRoundTrip(t *testing.T) {
	root := filepath.Join(t.TempDir(), "d")
	writeTree(t, root, map[string]string{"x/1": strings.Repeat("a", 20000), "2": "b"})
	c, err := Scan(root, ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pieces := make([]byte, 0, 40)
	all := append([]byte("b"), []byte(strings.Repeat("a", 20000))...) // order: "2" then "x/1"
	for off := 0; off < len(all); off += 16384 {
		h := sha1.Sum(all[off:min(off+16384, len(all))])
		pieces = append(pieces, h[:]...)
	}
	raw, tor, err := Build(c, pieces, BuildOptions{PieceLength: 16384, Trackers: [][]string{{"udp://a:1", "udp://b:2"}, {"http://c/ann"}},
		WebSeeds: []string{"https://ws/"}, Private: true, Source: "S", Comment: "C", CreatedBy: "tt/test", CreationDate: 42})
	if err != nil {
		t.Fatal(err)
	}
	want := "d8:announce9:udp://a:113:announce-listll9:udp://a:19:udp://b:2el12:http://c/annee7:comment1:C10:created by7:tt/test13:creation datei42e4:infod5:filesld6:lengthi1e4:pathl1:2eed6:lengthi20000e4:pathl1:x1:1eee4:name1:d12:piece lengthi16384e6:pieces40:"
	if !strings.HasPrefix(string(raw), want) || !strings.HasSuffix(string(raw), "7:privatei1e6:source1:Se8:url-listl11:https://ws/ee") {
		t.Fatalf("encoding %q", raw)
	}
	if tor.Info.Name != "d" || !tor.Info.Private || tor.NumPieces() != 2 || len(tor.Trackers()) != 2 {
		t.Fatalf("%+v", tor.Info)
	}
	if _, _, err := Build(c, pieces[:20], BuildOptions{PieceLength: 16384}); err == nil {
		t.Fatal("wrong piece count accepted")
	}
	if _, _, err := Build(c, pieces, BuildOptions{PieceLength: 16384, Trackers: [][]string{{"ftp://x"}}}); !errors.Is(err, ErrTrackerURL) {
		t.Fatalf("bad tracker: %v", err)
	}
	if _, _, err := Build(c, pieces, BuildOptions{PieceLength: 16384, Name: "../x"}); !errors.Is(err, ErrInsecurePath) {
		t.Fatalf("bad name: %v", err)
	}
	one, _, _ := Build(c, pieces, BuildOptions{PieceLength: 16384, Trackers: [][]string{{"udp://a:1"}}})
	if strings.Contains(string(one), "announce-list") {
		t.Fatal("single tracker written as announce-list")
	}
}

func TestPieceLengthRules(t *testing.T) {
	for _, tc := range []struct{ total, want int64 }{
		{1, 16 << 10}, {1500 * 16 << 10, 16 << 10}, {1500*16<<10 + 1, 32 << 10},
		{2 << 30, 2 << 20}, {500 << 20, 512 << 10}, {1 << 50, 16 << 20},
	} {
		if got := AutoPieceLength(tc.total); got != tc.want {
			t.Errorf("AutoPieceLength(%d) = %d, want %d", tc.total, got, tc.want)
		}
	}
	for _, pl := range []int64{16 << 10, 1 << 20, 64 << 20} {
		if err := CheckPieceLength(pl); err != nil {
			t.Errorf("%d: %v", pl, err)
		}
	}
	for _, pl := range []int64{0, 8 << 10, 128 << 20, 3 << 20} {
		if err := CheckPieceLength(pl); !errors.Is(err, ErrPieceLength) {
			t.Errorf("%d accepted", pl)
		}
	}
}

// TestScanWideTree reads a tree of many directories, which Scan reads
// several at a time: files and skipped entries come out in walk order every
// time, and a directory loop through a followed symlink is found on every
// branch.
func TestScanWideTree(t *testing.T) {
	root := filepath.Join(t.TempDir(), "wide")
	tree := map[string]string{}
	var wantFiles, wantSkipped []string
	for d := range 40 {
		for f := range 5 {
			p := filepath.ToSlash(filepath.Join(fmt.Sprintf("d%02d", d), fmt.Sprintf("s%d", f%2), fmt.Sprintf("f%d", f)))
			tree[p] = p
			wantFiles = append(wantFiles, p)
		}
		tree[fmt.Sprintf("d%02d/.hidden", d)] = "h"
		wantSkipped = append(wantSkipped, fmt.Sprintf("d%02d/.hidden", d))
	}
	writeTree(t, root, tree)
	for d := range 40 {
		if err := os.Symlink("..", filepath.Join(root, fmt.Sprintf("d%02d", d), "s1", "up")); err != nil {
			t.Fatal(err)
		}
		wantSkipped = append(wantSkipped, fmt.Sprintf("d%02d/s1/up", d))
	}
	slices.SortFunc(wantFiles, func(a, b string) int { return slices.Compare(strings.Split(a, "/"), strings.Split(b, "/")) })
	slices.SortFunc(wantSkipped, func(a, b string) int { return slices.Compare(strings.Split(a, "/"), strings.Split(b, "/")) })
	for range 5 {
		c, err := Scan(root, ScanOptions{FollowSymlinks: true})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(paths(c), wantFiles) || c.Total != int64(len(strings.Join(wantFiles, ""))) {
			t.Fatalf("files %q", paths(c))
		}
		var got []string
		for _, s := range c.Skipped {
			got = append(got, s.Path)
		}
		if !slices.Equal(got, wantSkipped) {
			t.Fatalf("skipped, in this order:\n got %q\nwant %q", got, wantSkipped)
		}
		for _, s := range c.Skipped {
			if strings.HasSuffix(s.Path, "/up") && s.Reason != "directory loop" {
				t.Fatalf("%s: %s", s.Path, s.Reason)
			}
		}
	}
}
