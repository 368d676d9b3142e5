package interop

import (
	"encoding/hex"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"tt/internal/merkle"
	"tt/metainfo"
)

// ttRejects returns why tt, reading leniently, would not use a torrent: the
// first error lint finds (unsafe paths included: libtorrent rewrites them
// silently, tt reports them), or "" when there is none.
func ttRejects(tor *metainfo.Torrent) string {
	for _, f := range metainfo.Lint(tor) {
		if f.Severity == metainfo.SevError {
			return f.String()
		}
	}
	return ""
}

// compareV2 checks tt's reading of a v2 or hybrid torrent against
// libtorrent's: the v2 info-hash, the number of pieces, and the files of
// the file tree in order, with their sizes and pieces roots.
func compareV2(t *testing.T, name string, tor *metainfo.Torrent, li ltInfo) {
	t.Helper()
	if got := hex.EncodeToString(tor.InfoHashV2[:]); !tor.HasV2 || got != li.InfoHashV2 {
		t.Errorf("%s: v2 info-hash tt %s, libtorrent %s", name, got, li.InfoHashV2)
		return
	}
	if (li.InfoHashV1 == "") != tor.V2Only() {
		t.Errorf("%s: libtorrent v1 hash %q, tt v2-only %v", name, li.InfoHashV1, tor.V2Only())
	}
	if li.InfoHashV1 == "" && tor.InfoHash != tor.TruncatedInfoHashV2() {
		t.Errorf("%s: v2-only info-hash %x is not the truncated v2 hash", name, tor.InfoHash)
	}
	if tor.NumPieces() != li.NumPieces {
		t.Errorf("%s: %d pieces, libtorrent %d", name, tor.NumPieces(), li.NumPieces)
	}
	type file struct {
		size int64
		root string
	}
	var ours, theirs []file
	for _, f := range tor.Info.V2Files {
		root := ""
		if f.PiecesRoot != [32]byte{} {
			root = hex.EncodeToString(f.PiecesRoot[:])
		}
		ours = append(ours, file{f.Length, root})
	}
	for _, f := range li.Files {
		if !f.Pad {
			theirs = append(theirs, file{f.Size, f.Root})
		}
	}
	if !slices.Equal(ours, theirs) {
		t.Errorf("%s: v2 files (size, root)\n tt         %v\n libtorrent %v", name, ours, theirs)
	}
}

// ltPath is a tt file path as libtorrent names it: under the torrent's name
// for a multi-file torrent.
func ltPath(tor *metainfo.Torrent, path []string) string {
	if !tor.Info.MultiFile {
		return strings.Join(path, "/")
	}
	return tor.Info.Name + "/" + strings.Join(path, "/")
}

// TestV2FixturesAgreeWithLibtorrent: the v2 and hybrid torrents committed
// under metainfo/testdata/v2 read the same in tt and in libtorrent: the
// info-hashes, the files with their paths, sizes, offsets in the piece
// space and pieces roots, and the pad files of hybrids.
func TestV2FixturesAgreeWithLibtorrent(t *testing.T) {
	NeedLibtorrent(t)
	files, err := filepath.Glob(filepath.Join(RepoRoot(), "metainfo", "testdata", "v2", "*.torrent"))
	if err != nil || len(files) < 5 {
		t.Fatalf("fixtures: %d files, %v", len(files), err)
	}
	lt := libtorrentInfo(t, files...)
	for _, f := range files {
		name := filepath.Base(f)
		tor, err := metainfo.Load(f, nil, metainfo.Options{})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		li := lt[f]
		if !li.OK {
			t.Fatalf("%s: libtorrent: %s", name, li.Error)
		}
		if v1, ok := tor.InfoHashV1(); ok != (li.InfoHashV1 != "") || ok && hex.EncodeToString(v1[:]) != li.InfoHashV1 {
			t.Errorf("%s: v1 info-hash tt %x (%v), libtorrent %q", name, v1, ok, li.InfoHashV1)
		}
		compareV2(t, name, tor, li)
		// Paths and offsets of the real files, in order; libtorrent pads
		// v2 files in its own list, so pads are compared for hybrids only.
		var ours, theirs []string
		for _, fl := range tor.Info.V2Files {
			ours = append(ours, ltPath(tor, fl.Path)+"@"+itoa(fl.Offset))
		}
		for _, fl := range li.Files {
			if !fl.Pad {
				theirs = append(theirs, fl.Path+"@"+itoa(fl.Offset))
			}
		}
		if !slices.Equal(ours, theirs) {
			t.Errorf("%s: files\n tt         %q\n libtorrent %q", name, ours, theirs)
		}
		if tor.Version() == metainfo.Hybrid {
			var padsOurs, padsTheirs []string
			for _, fl := range tor.Info.Files {
				if fl.Pad {
					padsOurs = append(padsOurs, itoa(fl.Offset)+"+"+itoa(fl.Length))
				}
			}
			for _, fl := range li.Files {
				if fl.Pad {
					padsTheirs = append(padsTheirs, itoa(fl.Offset)+"+"+itoa(fl.Size))
				}
			}
			if !slices.Equal(padsOurs, padsTheirs) {
				t.Errorf("%s: pad files tt %q, libtorrent %q", name, padsOurs, padsTheirs)
			}
		}
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestV2TorrentsFromLibtorrent: for v2 and hybrid torrents libtorrent makes
// of awkward content on several piece lengths, tt reads the info-hashes
// libtorrent prints, its pieces roots equal those tt computes from the
// files, its piece layers equal the ones tt computes, and tt inspect
// shows the hashes and roots.
func TestV2TorrentsFromLibtorrent(t *testing.T) {
	NeedLibtorrent(t)
	dir := t.TempDir()
	tt := BuildTT(t, dir)
	content := filepath.Join(dir, "content")
	makeContent(t, content)
	// A file of several pieces on every piece length used.
	big := make([]byte, 5*65536+12345)
	for i := range big {
		big[i] = byte(i*31) ^ byte(i>>14)
	}
	if err := os.WriteFile(filepath.Join(content, "big.bin"), big, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, version := range []string{"v2", "hybrid"} {
		for _, pl := range []int64{16384, 32768, 65536} {
			out := filepath.Join(dir, version+"-"+itoa(pl)+".torrent")
			printed := strings.Fields(run(t, LibtorrentPython, Script("lt_create.py"), "--version", version, "--piece-length", itoa(pl), out, content))
			tor, err := metainfo.Load(out, nil, metainfo.Options{})
			if err != nil {
				t.Fatalf("%s: %v", out, err)
			}
			v1 := "-"
			if h, ok := tor.InfoHashV1(); ok {
				v1 = hex.EncodeToString(h[:])
			}
			if len(printed) != 2 || printed[0] != v1 || printed[1] != hex.EncodeToString(tor.InfoHashV2[:]) {
				t.Fatalf("%s: lt_create.py printed %q, tt reads %s %x", out, printed, v1, tor.InfoHashV2)
			}
			compareV2(t, filepath.Base(out), tor, libtorrentInfo(t, out)[out])
			for _, f := range tor.Info.V2Files {
				data, err := os.ReadFile(filepath.Join(append([]string{content}, f.Path...)...))
				if err != nil {
					t.Fatal(err)
				}
				fh, _ := merkle.NewFileHasher(pl)
				fh.Write(data)
				root, layer := fh.Sum()
				if root != f.PiecesRoot {
					t.Errorf("%s %q: libtorrent's root %x, tt computes %x", out, f.Path, f.PiecesRoot, root)
				}
				var want []byte
				for _, h := range layer {
					want = append(want, h[:]...)
				}
				if len(layer) > 0 && (f.LayerStatus != metainfo.LayerOK || string(f.Layer) != string(want)) {
					t.Errorf("%s %q: piece layer %s, not the one tt computes", out, f.Path, f.LayerStatus)
				}
			}
			if ttRejects(tor) != "" || !tor.FilesAgree() {
				t.Errorf("%s: %s", out, ttRejects(tor))
			}
			js := ttInspectJSON(t, tt, out)
			if js.InfoHashV2 != hex.EncodeToString(tor.InfoHashV2[:]) || (v1 == "-") != (js.InfoHash == "") {
				t.Errorf("%s: tt inspect --json %+v", out, js)
			}
			if len(js.Files) != len(tor.Info.V2Files) {
				t.Errorf("%s: tt inspect lists %d files, the tree has %d", out, len(js.Files), len(tor.Info.V2Files))
			}
		}
	}
}
