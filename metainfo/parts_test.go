package metainfo

import (
	"fmt"
	"math"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

// partsTorrent lists n files; edit may change entry i before encoding.
func partsTorrent(t *testing.T, n int, edit func(i int, f m)) []byte {
	t.Helper()
	files := make([]any, n)
	var total int64
	for i := range files {
		f := m{"length": int64(i%977 + 1), "path": []any{fmt.Sprintf("d%02d", i%50), fmt.Sprintf("f%06d", i)}}
		if edit != nil {
			edit(i, f)
		}
		if l, ok := f["length"].(int64); ok && l > 0 && l < 1<<40 {
			total += l
		}
		files[i] = f
	}
	pl := int64(1 << 20)
	return enc(t, m{"announce": "http://t/a", "info": m{"name": "parts", "piece length": pl, "files": files,
		"pieces": pieces(int((total + pl - 1) / pl))}})
}

// parseWith parses data with the file list read on procs processors.
func parseWith(t *testing.T, procs int, data []byte, opt Options) (*Torrent, error) {
	t.Helper()
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
	return Parse(data, opt)
}

// A file list long enough to be read in parts gives what one pass gives:
// files, offsets, paths, findings in order, and the first error.
func TestFilesInParts(t *testing.T) {
	const n = 4*filesPerPart + 123
	cases := []struct {
		name    string
		lenient bool
		edit    func(i int, f m)
	}{
		{"clean", false, nil},
		{"lenient repairs in every part", true, func(i int, f m) {
			if i%(n/7) == 5 {
				f["path"] = []any{"..", fmt.Sprintf("x%d", i)}
			}
			if i%(n/5) == 9 {
				f["attr"] = int64(3) // a warning
			}
		}},
		{"strict error in the last part", false, func(i int, f m) {
			if i == n-10 || i == n-3 {
				f["path"] = []any{"a/b"}
			}
		}},
		{"errors in two parts: the first wins", false, func(i int, f m) {
			if i == n/4 {
				f["length"] = int64(-1)
			}
			if i == n-5 {
				f["path"] = []any{}
			}
		}},
		{"total overflows in a later part", false, func(i int, f m) {
			if i == n/8 || i == n-2 {
				f["length"] = int64(math.MaxInt64 / 2)
			}
		}},
		{"overflow before an error in a later part", false, func(i int, f m) {
			switch i {
			case 10, n/2 + 10:
				f["length"] = int64(math.MaxInt64 / 2)
			case n/2 + 100:
				f["length"] = int64(-1)
			}
		}},
		{"strict clash across parts", false, func(i int, f m) {
			if i == n-1 {
				f["path"] = []any{"d00", "f000000"}
			}
		}},
		{"strict file named as a directory of another part", false, func(i int, f m) {
			if i == n-1 {
				f["path"] = []any{"d01"}
			}
		}},
		{"lenient clashes renamed", true, func(i int, f m) {
			if i >= n-3 {
				f["path"] = []any{"d00", "f000000"}
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			data := partsTorrent(t, n, c.edit)
			opt := Options{Lenient: c.lenient}
			one, err1 := parseWith(t, 1, data, opt)
			for _, procs := range []int{2, 3, 8} {
				got, err := parseWith(t, procs, data, opt)
				if fmt.Sprint(err) != fmt.Sprint(err1) {
					t.Fatalf("%d processors: error %v, one pass %v", procs, err, err1)
				}
				if err != nil {
					continue
				}
				if !reflect.DeepEqual(got.Info.Files, one.Info.Files) || got.Info.TotalLength != one.Info.TotalLength {
					t.Fatalf("%d processors: file list differs from one pass", procs)
				}
				if !reflect.DeepEqual(got.Findings, one.Findings) {
					t.Fatalf("%d processors: findings %v, one pass %v", procs, got.Findings, one.Findings)
				}
				for i := range got.Info.Files {
					if got.FilePath(i) != strings.Join(got.Info.Files[i].Path, "/") {
						t.Fatalf("%d processors: path %d is %q", procs, i, got.FilePath(i))
					}
				}
			}
			if want := map[string]int{"lenient repairs in every part": 7 + 5, "lenient clashes renamed": 3}[c.name]; want > 0 && (one == nil || len(one.Findings) < want) {
				t.Fatalf("findings: %v (%v)", one, err1)
			}
			if strings.HasPrefix(c.name, "strict") || strings.HasPrefix(c.name, "errors") || strings.HasPrefix(c.name, "total") || strings.HasPrefix(c.name, "overflow") {
				if err1 == nil {
					t.Fatal("no error")
				}
				t.Log(err1)
			}
		})
	}
}
