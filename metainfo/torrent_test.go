package metainfo

import (
	"bufio"
	"crypto/sha1"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"tt/bencode"
)

// enc builds test torrents from Go values.
func enc(t *testing.T, v any) []byte {
	t.Helper()
	b, err := bencode.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type m = map[string]any

func pieces(n int) string { return strings.Repeat("x", 20*n) }

func TestParseSingleAndMulti(t *testing.T) {
	single := enc(t, m{"announce": "http://t/a", "creation date": 1700000000, "comment": "hi", "created by": "me",
		"info": m{"name": "a.bin", "length": 40000, "piece length": 16384, "pieces": pieces(3), "private": 1, "source": "SRC"}})
	tor, err := Parse(single, Options{})
	if err != nil {
		t.Fatal(err)
	}
	in := tor.Info
	if in.Name != "a.bin" || in.MultiFile || in.TotalLength != 40000 || !in.Private || in.Source != "SRC" || tor.NumPieces() != 3 {
		t.Fatalf("%+v", in)
	}
	if tor.PieceLen(0) != 16384 || tor.PieceLen(2) != 40000-2*16384 {
		t.Fatalf("piece lens %d %d", tor.PieceLen(0), tor.PieceLen(2))
	}
	if len(in.Files) != 1 || !slices.Equal(in.Files[0].Path, []string{"a.bin"}) {
		t.Fatalf("files %+v", in.Files)
	}
	infoStart := strings.Index(string(single), "4:infod") + 6
	if want := sha1.Sum(single[infoStart : len(single)-1]); tor.InfoHash != want {
		t.Fatal("info-hash is not SHA-1 of the raw info bytes")
	}
	if !tor.HasCreationDate || tor.CreationDate != 1700000000 || tor.Comment != "hi" || tor.CreatedBy != "me" {
		t.Fatalf("%+v", tor)
	}
	if got := tor.Trackers(); len(got) != 1 || got[0][0] != "http://t/a" {
		t.Fatalf("trackers %v", got)
	}

	multi := enc(t, m{"announce-list": []any{[]any{"udp://a:1", "udp://b:2"}, []any{"http://c/"}}, "url-list": "http://ws/",
		"nodes": []any{[]any{"router.example", 6881}, []any{"::1", 1}, []any{"bad"}},
		"info": m{"name": "dir", "piece length": 32768, "pieces": pieces(2), "files": []any{
			m{"length": 10, "path": []any{"b", "x"}}, m{"length": 0, "path": []any{"a"}}, m{"length": 40000, "path": []any{"c"}}}}})
	tor, err = Parse(multi, Options{})
	if err != nil {
		t.Fatal(err)
	}
	in = tor.Info
	if !in.MultiFile || in.TotalLength != 40010 || len(in.Files) != 3 || in.Files[2].Offset != 10 || in.Files[1].Offset != 10 {
		t.Fatalf("%+v", in)
	}
	if got := tor.Trackers(); len(got) != 2 || len(got[0]) != 2 || got[1][0] != "http://c/" {
		t.Fatalf("tiers %v", got)
	}
	if !slices.Equal(tor.URLList, []string{"http://ws/"}) || !slices.Equal(tor.Nodes, []string{"router.example:6881", "[::1]:1"}) {
		t.Fatalf("url-list %v nodes %v", tor.URLList, tor.Nodes)
	}
}

func TestParseErrors(t *testing.T) {
	info := func(extra m) m {
		i := m{"name": "n", "piece length": 16384, "pieces": pieces(1), "length": 5}
		for k, v := range extra {
			if v == nil {
				delete(i, k)
			} else {
				i[k] = v
			}
		}
		return m{"info": i}
	}
	tests := []struct {
		name     string
		data     []byte
		sentinel error
		msg      string
	}{
		{"not dict", []byte("4:spam"), ErrNotTorrent, "metainfo: not a torrent: top level is a string, not a dictionary"},
		{"no info", enc(t, m{"announce": "x"}), ErrMissingField, "metainfo: info at byte 0: no info dictionary"},
		{"info list", enc(t, m{"info": []any{}}), ErrInvalidField, "metainfo: info at byte 7: info is a list, not a dictionary"},
		{"no name", enc(t, info(m{"name": nil})), ErrMissingField, "metainfo: info.name at byte 7: no name"},
		{"name int", enc(t, info(m{"name": 5})), ErrInvalidField, "metainfo: info.name at byte 25: name is a integer, not a string"},
		{"dotdot name", enc(t, info(m{"name": ".."})), ErrInsecurePath, `metainfo: info.name at byte 25: name "..": insecure file path: ".." component`},
		{"slash name", enc(t, info(m{"name": "a/b"})), ErrInsecurePath, `metainfo: info.name at byte 25: name "a/b": insecure file path: separator in "a/b"`},
		{"no piece length", enc(t, info(m{"piece length": nil})), ErrMissingField, "metainfo: info.piece length at byte 7: no piece length"},
		{"zero piece length", enc(t, info(m{"piece length": 0})), ErrInvalidField, "metainfo: info.piece length at byte 43: piece length must be a positive integer"},
		{"negative length", enc(t, info(m{"length": -1})), ErrInvalidField, "metainfo: info.length at byte 16: length must be a non-negative integer"},
		{"zero total", enc(t, info(m{"length": 0})), ErrNoFiles, "metainfo: info at byte 7: total length is 0"},
		{"no files", enc(t, info(m{"length": nil})), ErrNoFiles, "metainfo: info at byte 7: neither length nor files"},
		{"empty files", enc(t, info(m{"length": nil, "files": []any{}})), ErrNoFiles, "metainfo: info at byte 7: empty file list"},
		{"both", enc(t, info(m{"files": []any{m{"length": 5, "path": []any{"a"}}}})), ErrInvalidField, "metainfo: info at byte 7: both length and files present"},
		{"pieces not 20", enc(t, info(m{"pieces": "abc"})), ErrPieces, "metainfo: info.pieces at byte 58: length 3 is not a multiple of 20"},
		{"too few pieces", enc(t, info(m{"length": 16385})), ErrPieces, "metainfo: info.pieces at byte 62: 1 piece hashes for 2 pieces"},
		{"too many pieces", enc(t, info(m{"pieces": pieces(2)})), ErrPieces, "metainfo: info.pieces at byte 58: 2 piece hashes for 1 pieces"},
		{"no pieces", enc(t, info(m{"pieces": nil})), ErrMissingField, "metainfo: info.pieces at byte 7: no pieces"},
		{"file no length", enc(t, info(m{"length": nil, "files": []any{m{"path": []any{"a"}}}})), ErrMissingField, "metainfo: info.files[0].length at byte 16: no length"},
		{"file no path", enc(t, info(m{"length": nil, "files": []any{m{"length": 1}}})), ErrMissingField, "metainfo: info.files[0].path at byte 16: no path"},
		{"path not list", enc(t, info(m{"length": nil, "files": []any{m{"length": 1, "path": "a"}}})), ErrInvalidField, "metainfo: info.files[0].path at byte 34: path is a string, not a list"},
		{"path int", enc(t, info(m{"length": nil, "files": []any{m{"length": 1, "path": []any{1}}}})), ErrInvalidField, "metainfo: info.files[0].path[0] at byte 35: path component is a integer, not a string"},
		{"path dotdot", enc(t, info(m{"length": nil, "files": []any{m{"length": 1, "path": []any{"..", "x"}}}})), ErrInsecurePath, `metainfo: info.files[0].path at byte 34: path "../x": insecure file path: ".." component`},
		{"path empty", enc(t, info(m{"length": nil, "files": []any{m{"length": 1, "path": []any{}}}})), ErrInsecurePath, `metainfo: info.files[0].path at byte 34: path "": insecure file path: empty path`},
		{"path nul", enc(t, info(m{"length": nil, "files": []any{m{"length": 1, "path": []any{"a\x00b"}}}})), ErrInsecurePath, `metainfo: info.files[0].path at byte 34: path "a\x00b": insecure file path: NUL byte in "a\x00b"`},
		{"path backslash", enc(t, info(m{"length": nil, "files": []any{m{"length": 1, "path": []any{`..\..\x`}}}})), ErrInsecurePath, `metainfo: info.files[0].path at byte 34: path "..\\..\\x": insecure file path: separator in "..\\..\\x"`},
		{"duplicate path", enc(t, info(m{"length": nil, "files": []any{m{"length": 1, "path": []any{"a"}}, m{"length": 1, "path": []any{"a"}}}})), ErrDuplicatePath, `metainfo: info.files[1].path at byte 7: "a" is used by another file or directory`},
		{"file vs dir", enc(t, info(m{"length": nil, "files": []any{m{"length": 1, "path": []any{"a"}}, m{"length": 1, "path": []any{"a", "b"}}}})), ErrDuplicatePath, `metainfo: info.files[0].path at byte 7: "a" is used by another file or directory`},
		{"overflow", enc(t, info(m{"length": nil, "files": []any{m{"length": int64(1) << 62, "path": []any{"a"}}, m{"length": int64(1) << 62, "path": []any{"b"}}}})), ErrInvalidField, "metainfo: info.files[1].length at byte 94: total length overflows"},
	}
	for _, tc := range tests {
		_, err := Parse(tc.data, Options{})
		if err == nil || !errors.Is(err, tc.sentinel) || err.Error() != tc.msg {
			t.Errorf("%s: got %v\nwant %s (%v)", tc.name, err, tc.msg, tc.sentinel)
		}
	}
}

func TestLenientSanitizes(t *testing.T) {
	data := enc(t, m{"info": m{"name": "../evil", "piece length": 16384, "pieces": pieces(2), "files": []any{
		m{"length": 1, "path": []any{"..", "..", "etc", "passwd"}},
		m{"length": 1, "path": []any{"", ".", "a/b"}},
		m{"length": 1, "path": []any{"dup"}},
		m{"length": 1, "path": []any{"dup"}},
		m{"length": 1, "path": []any{"/abs"}},
		m{"length": 20000, "attr": "p"},
	}}})
	if _, err := Parse(data, Options{}); !errors.Is(err, ErrInsecurePath) {
		t.Fatalf("strict: %v", err)
	}
	tor, err := Parse(data, Options{Lenient: true})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range tor.Info.Files {
		got = append(got, strings.Join(f.Path, "/"))
		if !f.Pad {
			if err := CheckPath(f.Path); err != nil {
				t.Errorf("unsafe path survived: %q", f.Path)
			}
		}
	}
	want := []string{"_/_/etc/passwd", "a_b", "dup", "dup.1", "_abs", ".pad/20000"}
	if !slices.Equal(got, want) || tor.Info.Name != ".._evil" {
		t.Fatalf("paths %q name %q", got, tor.Info.Name)
	}
	ids := map[string]int{}
	for _, f := range tor.Findings {
		ids[f.ID]++
	}
	if ids["insecure-path"] != 4 || ids["duplicate-path"] != 1 {
		t.Fatalf("findings %v", tor.Findings)
	}
}

func TestJoinUnder(t *testing.T) {
	root := t.TempDir()
	if p, err := JoinUnder(root, []string{"a", "b"}); err != nil || p != filepath.Join(root, "a", "b") {
		t.Fatalf("%q %v", p, err)
	}
	for _, bad := range [][]string{{".."}, {"a", "..", ".."}, {"/etc"}, {""}, {}, {"a\\b"}} {
		if _, err := JoinUnder(root, bad); !errors.Is(err, ErrInsecurePath) {
			t.Errorf("JoinUnder(%q) = %v", bad, err)
		}
	}
}

func TestLint(t *testing.T) {
	data := enc(t, m{"announce-list": []any{[]any{"udp://a:1"}, []any{"udp://a:1"}}, "url-list": []any{"http://w/", "http://w/"},
		"info": m{"name": "n", "piece length": 1000, "pieces": pieces(1), "private": 1, "files": []any{
			m{"length": 1, "path": []any{"CON.txt"}}, m{"length": 1, "path": []any{"Readme"}}, m{"length": 1, "path": []any{"README"}},
			m{"length": 1, "path": []any{"a:b"}}, m{"length": 1, "path": []any{"bad\xff"}}, m{"length": 1, "path": []any{"dot."}}}}})
	tor, err := Parse(data, Options{Lenient: true})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range Lint(tor) {
		got = append(got, f.Severity.String()+" "+f.ID)
	}
	want := []string{
		"warning piece-length-not-power-of-two", "warning piece-length-small",
		"warning non-portable-path", "warning case-collision", "warning non-portable-path",
		"warning invalid-utf8", "warning non-portable-path", "warning duplicate-tracker", "warning duplicate-web-seed",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("lint\n got %q\nwant %q", got, want)
	}
	noTracker := enc(t, m{"info": m{"name": "n", "piece length": 16384, "pieces": pieces(1), "length": 1, "private": 1}})
	tor, _ = Parse(noTracker, Options{})
	fs := Lint(tor)
	if len(fs) != 1 || fs[0].ID != "private-no-tracker" || !HasErrors(fs) {
		t.Fatalf("%v", fs)
	}
	// Non-canonical info is reported, and the info-hash is still of the raw bytes.
	raw := []byte("d4:infod6:lengthi1e4:name1:n12:piece lengthi16384e6:pieces20:" + pieces(1) + "7:privatei01eee")
	if _, err := Parse(raw, Options{}); !errors.Is(err, bencode.ErrLeadingZero) {
		t.Fatalf("strict: %v", err)
	}
	tor, err = Parse(raw, Options{Lenient: true})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, f := range tor.Findings {
		ids = append(ids, f.ID)
	}
	if !slices.Equal(ids, []string{"leading-zero", "info-not-canonical"}) || tor.InfoHash != sha1.Sum(raw[7:len(raw)-1]) {
		t.Fatalf("findings %v", ids)
	}
}

// TestCorpus: every real-world file parses without panic; every file libtorrent
// loads, tt loads in lenient mode with only safe paths; strictness never lets an
// unsafe path through.
func TestCorpus(t *testing.T) {
	n := 0
	for _, e := range corpusExpect(t) {
		name, verdict := e.name, e.verdict
		data, err := os.ReadFile(filepath.Join("testdata/corpus", name))
		if err != nil {
			t.Fatal(err)
		}
		n++
		for _, lenient := range []bool{false, true} {
			tor, err := Parse(data, Options{Lenient: lenient})
			if err != nil {
				if lenient && verdict == "loads" {
					t.Errorf("%s: libtorrent loads it, tt lenient refuses: %v", name, err)
				}
				continue
			}
			Lint(tor)
			for _, fl := range tor.Info.Files {
				if err := CheckPath(fl.Path); err != nil {
					t.Errorf("%s: unsafe path %q passed", name, fl.Path)
				}
			}
			if err := CheckComponent(tor.Info.Name); err != nil {
				t.Errorf("%s: unsafe name %q passed", name, tor.Info.Name)
			}
		}
	}
	if n < 100 {
		t.Fatalf("only %d corpus files", n)
	}
}

type corpusEntry struct{ name, verdict string }

// corpusExpect reads testdata/corpus/EXPECT.tsv: libtorrent's verdict on
// each file.
func corpusExpect(t *testing.T) []corpusEntry {
	t.Helper()
	f, err := os.Open("testdata/corpus/EXPECT.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []corpusEntry
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, verdict, _ := strings.Cut(sc.Text(), "\t")
		if strings.HasSuffix(name, ".torrent") {
			out = append(out, corpusEntry{name, verdict})
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
