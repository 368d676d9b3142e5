package interop

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"tt/metainfo"
)

type ltInfo struct {
	File       string `json:"file"`
	OK         bool   `json:"ok"`
	Error      string `json:"error"`
	InfoHashV1 string `json:"infohash_v1"`
	InfoHashV2 string `json:"infohash_v2"`
	NumFiles   int    `json:"num_files"`
	NumPieces  int    `json:"num_pieces"`
	TotalSize  int64  `json:"total_size"`
	Files      []struct {
		Path   string `json:"path"`
		Size   int64  `json:"size"`
		Offset int64  `json:"offset"`
		Pad    bool   `json:"pad"`
		Root   string `json:"root"` // v2 pieces root, hex
	} `json:"files"`
}

// libtorrentInfo asks libtorrent what it makes of each torrent file.
func libtorrentInfo(t *testing.T, files ...string) map[string]ltInfo {
	t.Helper()
	out, err := exec.Command(LibtorrentPython, append([]string{Script("lt_info.py")}, files...)...).Output()
	if err != nil {
		t.Fatalf("lt_info.py: %v", err)
	}
	res := map[string]ltInfo{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var li ltInfo
		if err := json.Unmarshal(sc.Bytes(), &li); err != nil {
			t.Fatalf("lt_info.py output %q: %v", sc.Text(), err)
		}
		res[li.File] = li
	}
	if len(res) != len(files) {
		t.Fatalf("lt_info.py answered for %d of %d files", len(res), len(files))
	}
	return res
}

var transmissionHash = regexp.MustCompile(`(?m)^\s*Hash:\s*([0-9a-f]{40})\s*$`)

// transmissionInfoHash asks transmission-show for a torrent's info-hash.
func transmissionInfoHash(t *testing.T, path string) string {
	t.Helper()
	out, err := exec.Command(Need(t, "transmission-show"), path).CombinedOutput()
	if err != nil {
		t.Fatalf("transmission-show %s: %v\n%s", path, err, out)
	}
	m := transmissionHash.FindSubmatch(out)
	if m == nil {
		t.Fatalf("transmission-show printed no hash:\n%s", out)
	}
	return string(m[1])
}

type ttInspect struct {
	InfoHash   string `json:"infohash"`
	InfoHashV2 string `json:"infohash_v2"`
	PieceCount int    `json:"piece_count"`
	TotalSize  int64  `json:"total_size"`
	Files      []struct {
		Path string `json:"path"`
	} `json:"files"`
}

func ttInspectJSON(t *testing.T, tt, path string) ttInspect {
	t.Helper()
	out, err := exec.Command(tt, "inspect", "--json", path).Output()
	if err != nil {
		t.Fatalf("tt inspect %s: %v", path, err)
	}
	var r ttInspect
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("tt inspect --json: %v\n%s", err, out)
	}
	return r
}

// makeContent writes a multi-file tree with awkward sizes: an empty file,
// files straddling piece boundaries, one shorter than a block.
func makeContent(t *testing.T, root string) {
	t.Helper()
	sizes := map[string]int{"a/empty": 0, "a/one": 1, "b.bin": 70001, "c/d/e.dat": 16384*3 + 7, "z": 123457}
	seed := byte(1)
	for p, n := range sizes {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i*7) ^ seed
		}
		seed++
		if err := os.WriteFile(full, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func run(t testing.TB, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestTTTorrentsLoadElsewhere: torrents tt creates load in libtorrent and
// Transmission with the same info-hash, and their data verifies.
func TestTTTorrentsLoadElsewhere(t *testing.T) {
	NeedLibtorrent(t)
	Need(t, "transmission-show")
	dir := t.TempDir()
	tt := BuildTT(t, dir)
	content := filepath.Join(dir, "content")
	makeContent(t, content)
	single := filepath.Join(content, "z")
	for _, tc := range []struct{ name, src, pl string }{
		{"multi-16k", content, "16KiB"}, {"multi-auto", content, "auto"}, {"single-32k", single, "32KiB"},
	} {
		out := filepath.Join(dir, tc.name+".torrent")
		run(t, tt, "create", "-q", "-a", "udp://127.0.0.1:1/announce", "--piece-length", tc.pl, "-o", out, tc.src)
		ours := ttInspectJSON(t, tt, out)
		lt := libtorrentInfo(t, out)[out]
		if !lt.OK || lt.InfoHashV1 != ours.InfoHash || lt.NumPieces != ours.PieceCount || lt.TotalSize != ours.TotalSize {
			t.Errorf("%s: libtorrent %+v, tt %+v", tc.name, lt, ours)
		}
		if h := transmissionInfoHash(t, out); h != ours.InfoHash {
			t.Errorf("%s: transmission-show %s, tt %s", tc.name, h, ours.InfoHash)
		}
		run(t, tt, "verify", "-q", out, tc.src)
	}
}

// TestOtherToolsTorrents: for torrents made by mktorrent, transmission-create
// and libtorrent, tt reports the info-hash they report and verifies the data.
func TestOtherToolsTorrents(t *testing.T) {
	NeedLibtorrent(t)
	mk := Need(t, "mktorrent")
	tc := Need(t, "transmission-create")
	dir := t.TempDir()
	tt := BuildTT(t, dir)
	content := filepath.Join(dir, "content")
	makeContent(t, content)
	made := map[string]string{
		"mktorrent":           filepath.Join(dir, "mk.torrent"),
		"transmission-create": filepath.Join(dir, "tc.torrent"),
		"libtorrent":          filepath.Join(dir, "lt.torrent"),
	}
	run(t, mk, "-l", "15", "-a", "http://127.0.0.1:1/announce", "-o", made["mktorrent"], content)
	run(t, tc, "-s", "32", "-t", "http://127.0.0.1:1/announce", "-o", made["transmission-create"], content)
	ltOut := run(t, LibtorrentPython, Script("lt_create.py"), "--piece-length", "16384", made["libtorrent"], content)
	for tool, path := range made {
		ours := ttInspectJSON(t, tt, path)
		if h := transmissionInfoHash(t, path); h != ours.InfoHash {
			t.Errorf("%s: transmission-show says %s, tt says %s", tool, h, ours.InfoHash)
		}
		if lt := libtorrentInfo(t, path)[path]; lt.InfoHashV1 != ours.InfoHash {
			t.Errorf("%s: libtorrent says %s, tt says %s", tool, lt.InfoHashV1, ours.InfoHash)
		}
		if tool == "libtorrent" && !strings.Contains(ltOut, ours.InfoHash) {
			t.Errorf("lt_create.py printed %q, tt says %s", ltOut, ours.InfoHash)
		}
		run(t, tt, "verify", "-q", path, content)
	}
}

// TestCorpusAgreesWithLibtorrent: for every real-world file libtorrent
// loads, tt loads it too and computes the same info-hashes (and for v2, the
// same files and pieces roots); every file libtorrent rejects, tt rejects
// too (refuses it, or lint finds an error beyond the unsafe paths it is
// stricter about).
func TestCorpusAgreesWithLibtorrent(t *testing.T) {
	NeedLibtorrent(t)
	files, err := filepath.Glob(filepath.Join(RepoRoot(), "metainfo", "testdata", "corpus", "*.torrent"))
	if err != nil || len(files) < 100 {
		t.Fatalf("corpus: %d files, %v", len(files), err)
	}
	lt := libtorrentInfo(t, files...)
	agreed, rejected := 0, 0
	for _, f := range files {
		li := lt[f]
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		tor, err := metainfo.Parse(data, metainfo.Options{Lenient: true})
		name := filepath.Base(f)
		if !li.OK {
			if err == nil {
				if why := ttRejects(tor); why == "" {
					t.Errorf("%s: libtorrent rejects it (%s), tt loads it", name, li.Error)
				}
			}
			rejected++
			continue
		}
		if err != nil {
			t.Errorf("%s: libtorrent loads it, tt: %v", name, err)
			continue
		}
		switch {
		case li.InfoHashV1 != "":
			if got := tor.InfoHashHex(); got != li.InfoHashV1 {
				t.Errorf("%s: v1 info-hash tt %s, libtorrent %s", name, got, li.InfoHashV1)
			}
		case li.InfoHashV2 == "":
			t.Errorf("%s: libtorrent gave no info-hash", name)
		}
		if li.InfoHashV2 != "" {
			compareV2(t, name, tor, li)
		}
		agreed++
	}
	t.Logf("%d corpus files loaded by libtorrent, %d rejected; tt agrees on all of them", agreed, rejected)
}
