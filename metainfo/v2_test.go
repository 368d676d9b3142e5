package metainfo

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"tt/internal/merkle"
)

// fixture is one torrent of testdata/v2/content.json: made by libtorrent
// from content this test can rebuild.
type fixture struct {
	Torrent     string `json:"torrent"`
	Version     string `json:"version"`
	PieceLength int64  `json:"piece_length"`
	Root        string `json:"root"`
	Files       []struct {
		Path   string `json:"path"`
		Length int    `json:"length"`
		Seed   byte   `json:"seed"`
	} `json:"files"`
}

func loadFixtures(t *testing.T) []fixture {
	t.Helper()
	b, err := os.ReadFile("testdata/v2/content.json")
	if err != nil {
		t.Fatal(err)
	}
	var fs []fixture
	if err := json.Unmarshal(b, &fs); err != nil {
		t.Fatal(err)
	}
	return fs
}

// fixtureData is the content of a fixture file, as testdata/v2/make.py
// writes it.
func fixtureData(length int, seed byte) []byte {
	b := make([]byte, length)
	for i := range b {
		b[i] = byte(i*7) ^ byte(i>>14)*13 ^ seed
	}
	return b
}

// TestV2Fixtures: torrents libtorrent made parse as the version they are,
// with info-hashes of the raw info bytes, the files in tree order laid out
// on piece boundaries, and pieces roots and piece layers equal to what
// hashing the content gives; their lint is clean and their magnet links
// carry the right hashes.
func TestV2Fixtures(t *testing.T) {
	for _, fx := range loadFixtures(t) {
		t.Run(fx.Torrent, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata/v2", fx.Torrent))
			if err != nil {
				t.Fatal(err)
			}
			tor, err := Parse(data, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if got := tor.Version().String(); got != fx.Version {
				t.Fatalf("version %s, want %s", got, fx.Version)
			}
			v2 := sha256.Sum256(tor.InfoRaw)
			if tor.InfoHashV2 != v2 || !tor.HasV2 {
				t.Fatalf("v2 info-hash %x, want %x", tor.InfoHashV2, v2)
			}
			if fx.Version == "v2" {
				if tor.InfoHash != [20]byte(v2[:20]) || tor.InfoHashHex() != hex.EncodeToString(v2[:]) {
					t.Fatalf("v2-only info-hash %x / %s", tor.InfoHash, tor.InfoHashHex())
				}
				if _, ok := tor.InfoHashV1(); ok || tor.HasV1() || !tor.V2Only() {
					t.Fatal("v2-only torrent has a v1 hash")
				}
			} else if v1, ok := tor.InfoHashV1(); !ok || v1 != sha1.Sum(tor.InfoRaw) || tor.InfoHash != v1 {
				t.Fatalf("hybrid v1 info-hash %x", tor.InfoHash)
			}
			if !tor.FilesAgree() {
				t.Fatal("lists disagree")
			}
			pl := fx.PieceLength
			in := &tor.Info
			if len(in.V2Files) != len(fx.Files) {
				t.Fatalf("%d v2 files, want %d", len(in.V2Files), len(fx.Files))
			}
			var pieces int64
			for i, want := range fx.Files {
				f := &in.V2Files[i]
				path := strings.Join(f.Path, "/")
				if want.Path == "" && path != fx.Root || want.Path != "" && path != want.Path || f.Length != int64(want.Length) {
					t.Fatalf("file %d: %q %d, want %q %d", i, path, f.Length, want.Path, want.Length)
				}
				if f.Length > 0 && f.Offset%pl != 0 {
					t.Fatalf("%s starts at %d", path, f.Offset)
				}
				if g := &in.Files[f.File]; !slices.Equal(g.Path, f.Path) || g.Offset != f.Offset || g.Pad || tor.V2FileAt(f.File) != f {
					t.Fatalf("%s: Info.Files[%d] is %+v", path, f.File, g)
				}
				fh, _ := merkle.NewFileHasher(pl)
				fh.Write(fixtureData(want.Length, want.Seed))
				root, layer := fh.Sum()
				if f.PiecesRoot != root {
					t.Fatalf("%s: pieces root %x, hashing the content gives %x", path, f.PiecesRoot, root)
				}
				switch {
				case f.Length > pl:
					if f.LayerStatus != LayerOK || !bytes.Equal(f.Layer, hashBytes(layer)) {
						t.Fatalf("%s: layer %s of %d bytes, want %d", path, f.LayerStatus, len(f.Layer), 32*len(layer))
					}
				case f.LayerStatus != LayerNotNeeded || f.Layer != nil:
					t.Fatalf("%s: layer %s", path, f.LayerStatus)
				}
				// Every piece of the file has its hash, found from the
				// torrent's piece index.
				for k := range f.NumPieces(pl) {
					h, ok := tor.PieceHashV2(int(f.Offset/pl + k))
					want := root
					if layer != nil {
						want = layer[k]
					}
					if !ok || h != want {
						t.Fatalf("%s piece %d: %x %v", path, k, h, ok)
					}
				}
				pieces += f.NumPieces(pl)
			}
			if int64(tor.NumPieces()) != pieces {
				t.Fatalf("%d pieces, files have %d", tor.NumPieces(), pieces)
			}
			if _, ok := tor.PieceHashV2(tor.NumPieces()); ok {
				t.Fatal("hash for a piece past the end")
			}
			for _, f := range Lint(tor) {
				if f.Severity != SevInfo {
					t.Errorf("lint: %s", f)
				}
			}
			link := tor.Magnet().String()
			m, err := ParseMagnet(link)
			if err != nil {
				t.Fatal(err)
			}
			if m.InfoHash != tor.InfoHash || m.InfoHashV2 != tor.InfoHashV2 || !m.HasV2 || m.HasV1 != tor.HasV1() || m.Version() != tor.Version() {
				t.Fatalf("magnet %s: %+v", link, m)
			}
			if strings.Contains(link, "btih") != tor.HasV1() || !strings.Contains(link, "xt=urn:btmh:1220"+hex.EncodeToString(v2[:])) {
				t.Fatalf("magnet %s", link)
			}
		})
	}
}

func hashBytes(hs []merkle.Hash) []byte {
	var b []byte
	for _, h := range hs {
		b = append(b, h[:]...)
	}
	return b
}

// TestHybridPadFiles: the hybrid of two 1,550,000-byte files on 256 KiB
// pieces has a pad file after each; the v2 files are the two, at the
// offsets the pads give them.
func TestHybridPadFiles(t *testing.T) {
	tor, err := Load("testdata/v2/hybrid-pair.torrent", nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var pads, files int
	for _, f := range tor.Info.Files {
		if f.Pad {
			pads++
		} else {
			files++
		}
	}
	if pads != 2 || files != 2 || len(tor.Info.V2Files) != 2 || tor.Info.TotalLength != 3<<20 {
		t.Fatalf("%d files, %d pads, %d bytes", files, pads, tor.Info.TotalLength)
	}
	if tor.Info.V2Files[1].Offset != 6*256<<10 || tor.Info.V2Files[1].File != 2 {
		t.Fatalf("second file %+v", tor.Info.V2Files[1])
	}
}

// v2Spec builds a valid v2 (or hybrid) torrent as Go values, so that a
// test can break one thing in it. Files are given in tree order.
type v2Spec struct {
	pl     int64
	hybrid bool
	files  []v2SpecFile
}

type v2SpecFile struct {
	path []string
	data []byte
}

func (s v2Spec) build() m {
	tree := m{}
	layers := m{}
	var v1 []any
	var pieces []byte
	var at int64
	for _, f := range s.files {
		node := tree
		for _, c := range f.path[:len(f.path)-1] {
			if _, ok := node[c]; !ok {
				node[c] = m{}
			}
			node = node[c].(m)
		}
		props := m{"length": len(f.data)}
		if len(f.data) > 0 {
			fh, _ := merkle.NewFileHasher(s.pl)
			fh.Write(f.data)
			root, layer := fh.Sum()
			props["pieces root"] = string(root[:])
			if layer != nil {
				layers[string(root[:])] = string(hashBytes(layer))
			}
			if rem := at % s.pl; rem != 0 {
				v1 = append(v1, m{"length": s.pl - rem, "path": []any{".pad", strconv.FormatInt(s.pl-rem, 10)}, "attr": "p"})
				pieces = append(pieces, make([]byte, s.pl-rem)...)
				at += s.pl - rem
			}
		}
		node[f.path[len(f.path)-1]] = m{"": props}
		var path []any
		for _, c := range f.path {
			path = append(path, c)
		}
		v1 = append(v1, m{"length": len(f.data), "path": path})
		pieces = append(pieces, f.data...)
		at += int64(len(f.data))
	}
	info := m{"name": "t", "piece length": s.pl, "meta version": 2, "file tree": tree}
	if s.hybrid {
		if rem := at % s.pl; rem != 0 {
			v1 = append(v1, m{"length": s.pl - rem, "path": []any{".pad", strconv.FormatInt(s.pl-rem, 10)}, "attr": "p"})
		}
		info["files"] = v1
		var hashes []byte
		for off := 0; off < len(pieces); off += int(s.pl) {
			h := sha1.Sum(pieces[off:min(off+int(s.pl), len(pieces))])
			hashes = append(hashes, h[:]...)
		}
		info["pieces"] = string(hashes)
	}
	return m{"announce": "udp://t:1", "info": info, "piece layers": layers}
}

func specFiles() []v2SpecFile {
	return []v2SpecFile{
		{[]string{"a", "big"}, fixtureData(5*16384+3, 1)},
		{[]string{"a", "empty"}, nil},
		{[]string{"b"}, fixtureData(100, 2)},
	}
}

func TestV2Spec(t *testing.T) {
	for _, hybrid := range []bool{false, true} {
		tor, err := Parse(enc(t, v2Spec{16384, hybrid, specFiles()}.build()), Options{})
		if err != nil {
			t.Fatalf("hybrid %v: %v", hybrid, err)
		}
		if len(tor.Info.V2Files) != 3 || tor.Info.V2Files[0].LayerStatus != LayerOK || !tor.FilesAgree() {
			t.Fatalf("hybrid %v: %+v", hybrid, tor.Info.V2Files)
		}
		// v2-only: big (6 pieces), empty, a pad of the rest of big's last
		// piece, b.
		if !hybrid {
			var got []string
			for _, f := range tor.Info.Files {
				got = append(got, strings.Join(f.Path, "/")+":"+strconv.FormatInt(f.Length, 10))
			}
			if want := []string{"a/big:81923", "a/empty:0", ".pad/16381:16381", "b:100"}; !slices.Equal(got, want) {
				t.Fatalf("layout %q, want %q", got, want)
			}
			if tor.Info.TotalLength != 6*16384+100 || tor.Info.MultiFile != true {
				t.Fatalf("total %d", tor.Info.TotalLength)
			}
		}
	}
}

// TestV2Invalid: each way a v2 or hybrid torrent can be wrong is refused by
// strict parsing with its sentinel, and loaded by lenient parsing with its
// finding (or refused by both when nothing of it is usable).
func TestV2Invalid(t *testing.T) {
	root := func(tr m, path ...string) m {
		n := tr["info"].(m)["file tree"].(m)
		for _, c := range path {
			n = n[c].(m)
		}
		return n[""].(m)
	}
	layers := func(tr m) m { return tr["piece layers"].(m) }
	bigRoot := func(tr m) string { return root(tr, "a", "big")["pieces root"].(string) }
	tests := []struct {
		name     string
		hybrid   bool
		change   func(tr m)
		sentinel error
		id       string // "" when lenient parsing refuses it too
	}{
		{"meta version 3", false, func(tr m) { tr["info"].(m)["meta version"] = 3 }, ErrMetaVersion, ""},
		{"file tree without meta version", true, func(tr m) { delete(tr["info"].(m), "meta version") }, ErrMetaVersion, "meta-version"},
		{"meta version 2 without a tree", true, func(tr m) { delete(tr["info"].(m), "file tree") }, ErrMetaVersion, "meta-version"},
		{"v2-only without a tree", false, func(tr m) { delete(tr["info"].(m), "file tree") }, ErrMetaVersion, ""},
		{"meta version a string", false, func(tr m) { tr["info"].(m)["meta version"] = "2" }, ErrInvalidField, ""},
		{"piece length not a power of two", false, func(tr m) { tr["info"].(m)["piece length"] = 3 * 16384 }, ErrInvalidField, ""},
		{"piece length under 16 KiB", false, func(tr m) { tr["info"].(m)["piece length"] = 8192 }, ErrInvalidField, ""},
		{"node not a dictionary", false, func(tr m) { tr["info"].(m)["file tree"].(m)["x"] = 5 }, ErrInvalidField, "file-tree-node"},
		{"empty name beside files", false, func(tr m) { tr["info"].(m)["file tree"].(m)["a"].(m)[""] = m{"length": 1} }, ErrInvalidField, "file-tree-node"},
		{"tree is a file", false, func(tr m) { tr["info"].(m)["file tree"].(m)[""] = m{"length": 1} }, ErrInvalidField, "file-tree-node"},
		{"properties without the empty key", false, func(tr m) { tr["info"].(m)["file tree"].(m)["x"] = m{"length": 1} }, ErrInvalidField, "file-tree-node"},
		{"file without length", false, func(tr m) { delete(root(tr, "b"), "length") }, ErrInvalidField, "file-tree-node"},
		{"negative length", false, func(tr m) { root(tr, "b")["length"] = -1 }, ErrInvalidField, ""},
		{"pad file in the tree", false, func(tr m) { root(tr, "b")["attr"] = "p" }, ErrInvalidField, "pad-file-in-tree"},
		{"no pieces root", false, func(tr m) { delete(root(tr, "b"), "pieces root") }, ErrInvalidField, "pieces-root"},
		{"short pieces root", false, func(tr m) { root(tr, "b")["pieces root"] = "abc" }, ErrInvalidField, "pieces-root"},
		{"zero pieces root", false, func(tr m) { root(tr, "b")["pieces root"] = string(make([]byte, 32)) }, ErrInvalidField, "pieces-root"},
		{"piece layer too short", false, func(tr m) { layers(tr)[bigRoot(tr)] = layers(tr)[bigRoot(tr)].(string)[32:] }, ErrPieceLayers, "piece-layer-size"},
		{"piece layer not a string", false, func(tr m) { layers(tr)[bigRoot(tr)] = 7 }, ErrPieceLayers, "piece-layer-size"},
		{"piece layer not hashing to the root", false, func(tr m) {
			l := []byte(layers(tr)[bigRoot(tr)].(string))
			l[40] ^= 1
			layers(tr)[bigRoot(tr)] = string(l)
		}, ErrPieceLayers, "piece-layer-root"},
		{"piece layer of no file", false, func(tr m) { layers(tr)[strings.Repeat("x", 32)] = strings.Repeat("y", 64) }, ErrPieceLayers, "piece-layer-unknown"},
		{"piece layer of a small file", false, func(tr m) { layers(tr)[root(tr, "b")["pieces root"].(string)] = strings.Repeat("y", 32) }, ErrPieceLayers, "piece-layer-unknown"},
		{"piece layer key not 32 bytes", false, func(tr m) { layers(tr)["short"] = strings.Repeat("y", 32) }, ErrPieceLayers, "piece-layer-unknown"},
		{"piece layers not a dictionary", false, func(tr m) { tr["piece layers"] = "x" }, ErrInvalidField, "wrong-type"},
		{"v1 path differs", true, func(tr m) { tr["info"].(m)["files"].([]any)[3].(m)["path"] = []any{"c"} }, ErrFileMismatch, "v1-v2-mismatch"},
		{"v1 length differs", true, func(tr m) { tr["info"].(m)["files"].([]any)[3].(m)["length"] = 99 }, ErrFileMismatch, "v1-v2-mismatch"},
		{"v1 pad missing", true, func(tr m) {
			fs := tr["info"].(m)["files"].([]any)
			tr["info"].(m)["files"] = append(fs[:1:1], fs[2:]...)
		}, ErrFileMismatch, "v1-v2-mismatch"},
		{"v1 has an extra file", true, func(tr m) {
			fs := tr["info"].(m)["files"].([]any)
			tr["info"].(m)["files"] = append(fs[:4:4], m{"length": 0, "path": []any{"extra"}}, fs[4])
		}, ErrFileMismatch, "v1-v2-mismatch"},
		{"v2 has an extra file", true, func(tr m) { tr["info"].(m)["file tree"].(m)["c"] = m{"": m{"length": 0}} }, ErrFileMismatch, "v1-v2-mismatch"},
		{"v1 tail pad too long", true, func(tr m) {
			fs := tr["info"].(m)["files"].([]any)
			fs[4].(m)["length"] = 16384 - 100 + 16384
		}, ErrFileMismatch, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := v2Spec{16384, tc.hybrid, specFiles()}.build()
			tc.change(tr)
			data := enc(t, tr)
			if _, err := Parse(data, Options{}); !errors.Is(err, tc.sentinel) {
				t.Fatalf("strict: %v, want %v", err, tc.sentinel)
			}
			tor, err := Parse(data, Options{Lenient: true})
			if tc.id == "" {
				if err == nil {
					t.Fatal("lenient parsing loaded it")
				}
				return
			}
			if err != nil {
				t.Fatalf("lenient: %v", err)
			}
			var ids []string
			for _, f := range tor.Findings {
				ids = append(ids, f.ID)
			}
			if !slices.Contains(ids, tc.id) {
				t.Fatalf("findings %q, want %s", ids, tc.id)
			}
			// Whatever was dropped, no piece hash that did not check out
			// is handed out.
			for _, f := range tor.Info.V2Files {
				if f.LayerStatus == LayerOK && !layerHashesTo(f.Layer, tor.Info.PieceLength, f.PiecesRoot) {
					t.Fatalf("%q: unchecked layer kept", f.Path)
				}
			}
		})
	}
}

// TestV2Lint: what lint finds in v2 and hybrid torrents that load.
func TestV2Lint(t *testing.T) {
	lintIDs := func(tr m) []string {
		tor, err := Parse(enc(t, tr), Options{Lenient: true})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, f := range Lint(tor) {
			if f.Severity != SevInfo {
				ids = append(ids, f.Severity.String()+" "+f.ID)
			}
		}
		return ids
	}
	tr := v2Spec{16384, false, specFiles()}.build()
	delete(tr, "piece layers")
	if got := lintIDs(tr); !slices.Equal(got, []string{"warning piece-layers-missing"}) {
		t.Fatalf("no piece layers: %q", got)
	}
	tr = v2Spec{16384, true, specFiles()}.build()
	fs := tr["info"].(m)["files"].([]any)
	tr["info"].(m)["files"] = fs[:len(fs)-1]
	tr["info"].(m)["pieces"] = tr["info"].(m)["pieces"].(string) // same pieces: the last one is shorter
	if got := lintIDs(tr); !slices.Equal(got, []string{"warning pad-file-tail-missing"}) {
		t.Fatalf("no tail pad: %q", got)
	}
	// A v1 torrent's pad that does not fill up its piece.
	v1 := m{"info": m{"name": "n", "piece length": 16384, "pieces": pieces(2), "files": []any{
		m{"length": 10, "path": []any{"a"}}, m{"length": 100, "attr": "p", "path": []any{".pad", "100"}}, m{"length": 20000, "path": []any{"b"}}}}}
	if got := lintIDs(v1); !slices.Equal(got, []string{"warning pad-file-misplaced"}) {
		t.Fatalf("misplaced pad: %q", got)
	}
	v1["info"].(m)["meta version"] = 1
	if got := lintIDs(v1); !slices.Equal(got, []string{"warning meta-version-ignored", "warning pad-file-misplaced"}) {
		t.Fatalf("meta version 1: %q", got)
	}
}

// TestV2NotCanonical: a v2 info dictionary out of key order is an error
// (the file order would be ambiguous), where for v1 it is a warning.
func TestV2NotCanonical(t *testing.T) {
	// Renaming directory "a" to "z" puts it before "b" out of order.
	raw := strings.Replace(string(enc(t, v2Spec{16384, false, specFiles()}.build())), "1:ad3:big", "1:zd3:big", 1)
	if _, err := Parse([]byte(raw), Options{}); err == nil {
		t.Fatal("strict parsing loaded unsorted keys")
	}
	tor, err := Parse([]byte(raw), Options{Lenient: true})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(tor.Findings, func(f Finding) bool { return f.ID == "v2-not-canonical" && f.Severity == SevError }) {
		t.Fatalf("findings %v", tor.Findings)
	}
}

// stricterThanLibtorrent are the error findings tt reports for files
// libtorrent loads: libtorrent rewrites unsafe paths silently, tt says so
// (docs/lint.md).
var stricterThanLibtorrent = []string{"insecure-path", "duplicate-path"}

// verdict is what tt makes of a torrent, in libtorrent's terms: it loads
// when lenient parsing takes it and lint finds no error beyond the
// stricter ones; otherwise it is rejected, with the reason.
func verdict(data []byte) (loads bool, why string) {
	tor, err := Parse(data, Options{Lenient: true})
	if err != nil {
		return false, err.Error()
	}
	for _, f := range Lint(tor) {
		if f.Severity == SevError && !slices.Contains(stricterThanLibtorrent, f.ID) {
			return false, f.String()
		}
	}
	return true, ""
}

// TestCorpusV2Verdicts: on every v2 file of the corpus tt's verdict is
// libtorrent's (EXPECT.tsv, and for the three files its list leaves to
// other tests, what those tests expect).
func TestCorpusV2Verdicts(t *testing.T) {
	own := map[string]bool{ // libtorrent's test_add_torrent and test_create_torrent
		"v2_empty_file.torrent":             true,
		"v2_hybrid-missing-tailpad.torrent": true,
		"v2_invalid_root_hash.torrent":      false,
	}
	n := 0
	for _, e := range corpusExpect(t) {
		if !strings.HasPrefix(e.name, "v2") {
			continue
		}
		want, ok := own[e.name]
		switch {
		case ok:
		case e.verdict == "loads":
			want = true
		case strings.HasPrefix(e.verdict, "rejected"):
			want = false
		default:
			t.Fatalf("%s: verdict %q", e.name, e.verdict)
		}
		data, err := os.ReadFile(filepath.Join("testdata/corpus", e.name))
		if err != nil {
			t.Fatal(err)
		}
		if loads, why := verdict(data); loads != want {
			t.Errorf("%s: libtorrent: %s; tt loads=%v %s", e.name, e.verdict, loads, why)
		}
		n++
	}
	if n != 34 {
		t.Fatalf("%d v2 files in the corpus, want 34", n)
	}
}

// TestPadCounts: the pad files counted while parsing are those of
// Info.Files, whether the list was read in one part or in several.
func TestPadCounts(t *testing.T) {
	var files []any
	for i := range 3 * filesPerPart {
		files = append(files, m{"length": 1000, "path": []any{"d", strconv.Itoa(i)}})
		if i%3 == 0 {
			files = append(files, m{"length": 16384 - 1000, "attr": "p", "path": []any{".pad", "15384"}})
		}
	}
	for _, fs := range [][]any{files[:10], files} {
		var total int64
		for _, f := range fs {
			total += int64(f.(m)["length"].(int))
		}
		tor, err := Parse(enc(t, m{"info": m{"name": "n", "piece length": 16384, "files": fs, "pieces": pieces(int((total + 16383) / 16384))}}), Options{Lenient: true})
		if err != nil {
			t.Fatal(err)
		}
		var n int
		var bytes int64
		for _, f := range tor.Info.Files {
			if f.Pad {
				n++
				bytes += f.Length
			}
		}
		if gotN, gotBytes := tor.PadFiles(); gotN != n || gotBytes != bytes || tor.ContentSize() != total-bytes {
			t.Fatalf("%d files: PadFiles %d %d, want %d %d", len(fs), gotN, gotBytes, n, bytes)
		}
	}
	tor, err := Load("testdata/v2/v2-multi.torrent", nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := tor.PadFiles(); n != 3 || tor.ContentSize() != 1+70001+49159+32768+123457 {
		t.Fatalf("v2-only: %d pads, content %d", n, tor.ContentSize())
	}
}
