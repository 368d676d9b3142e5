package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"tt/metainfo"
)

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"0": 0, "16384": 16384, "16k": 16384, "256KiB": 256 << 10, "1M": 1 << 20, "4 MiB": 4 << 20, "2GiB": 2 << 30} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "-1", "1.5M", "lots", "1KB", "99999999999G"} {
		if _, err := ParseSize(bad); err == nil {
			t.Errorf("ParseSize(%q) accepted", bad)
		}
	}
}

func TestFormatSize(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1 KiB", 1536: "1.5 KiB", 16 << 20: "16 MiB", 3 << 30: "3 GiB"} {
		if got := FormatSize(n); got != want {
			t.Errorf("FormatSize(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "out")
	if err := WriteFileAtomic(p, []byte("one"), false); err != nil {
		t.Fatal(err)
	}
	if err := WriteFileAtomic(p, []byte("two"), false); !errors.Is(err, ErrExists) || CodeOf(err) != ExitExists {
		t.Fatalf("overwrite without force: %v", err)
	}
	if b, _ := os.ReadFile(p); string(b) != "one" {
		t.Fatalf("file changed to %q", b)
	}
	if err := WriteFileAtomic(p, []byte("two"), true); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != "two" {
		t.Fatalf("force wrote %q", b)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("temporary files left: %v", entries)
	}
	if err := WriteFileAtomic(filepath.Join(dir, "no", "such", "dir"), nil, false); CodeOf(err) != ExitIO {
		t.Fatalf("missing dir: %v (code %d)", err, CodeOf(err))
	}
}

func TestCodeOf(t *testing.T) {
	_, terr := metainfo.Parse([]byte("x"), metainfo.Options{})
	for _, tc := range []struct {
		err  error
		want int
	}{
		{nil, ExitOK},
		{errors.New("x"), ExitFailure},
		{Usagef("bad"), ExitUsage},
		{fmt.Errorf("wrapped: %w", context.Canceled), ExitInterrupted},
		{terr, ExitBadTorrent},
		{&os.PathError{Op: "open", Path: "x", Err: os.ErrNotExist}, ExitIO},
		{Exit(ExitCorrupt, errors.New("c")), ExitCorrupt},
	} {
		if got := CodeOf(tc.err); got != tc.want {
			t.Errorf("CodeOf(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}

func TestFormatRanges(t *testing.T) {
	if got := formatRanges([]int{1, 3, 4, 5, 9, 10}); got != "1, 3-5, 9-10" {
		t.Fatal(got)
	}
}

func TestPrintable(t *testing.T) {
	if got := printable("ok name"); got != "ok name" {
		t.Fatal(got)
	}
	if got := printable("a\x1b[2Jb\xff"); got != `a\x1b[2Jb\xff` {
		t.Fatal(got)
	}
}
