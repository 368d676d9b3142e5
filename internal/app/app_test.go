package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
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

func TestWriteInspectJSON(t *testing.T) {
	names := []string{"plain", "q\"uote", "back\\slash", "ctl\x01\x1f\x7f", "nl\n\t\r", "utf8 é ✓", "bad\xff\xfe", "sep\u2028\u2029", "<&>"}
	r := &InspectResult{Schema: "tt.inspect/1", Kind: "torrent", Name: "n"}
	for i, n := range names {
		r.Files = append(r.Files, InspectFile{Path: n, Length: int64(i), Offset: int64(i * 10), Attr: map[bool]string{true: "x"}[i%2 == 0]})
	}
	fillEmpty(r)
	var buf bytes.Buffer
	if err := writeInspectJSON(&buf, r); err != nil {
		t.Fatal(err)
	}
	var back InspectResult
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatalf("%v\n%s", err, buf.Bytes())
	}
	for i, f := range back.Files {
		var want string
		enc, _ := json.Marshal(names[i])
		if err := json.Unmarshal(enc, &want); err != nil {
			t.Fatal(err)
		}
		if f.Path != want || f.Length != int64(i) || f.Offset != int64(i*10) || f.Attr != r.Files[i].Attr {
			t.Errorf("file %d: %+v, want path %q", i, f, want)
		}
	}
	if back.Name != "n" || len(back.Files) != len(names) {
		t.Fatalf("%+v", back)
	}
	buf.Reset()
	r.Files = []InspectFile{}
	if err := writeInspectJSON(&buf, r); err != nil || !json.Valid(buf.Bytes()) || !strings.Contains(buf.String(), `"files": []`) {
		t.Fatalf("empty list: %v %s", err, buf.Bytes())
	}
}
