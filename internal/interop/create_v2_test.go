package interop

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

type ttCreateResult struct {
	InfoHash   string `json:"infohash"`
	InfoHashV2 string `json:"infohash_v2"`
	Version    string `json:"version"`
	Magnet     string `json:"magnet"`
}

// ltFiles is libtorrent's list of the real files of a torrent: path, size
// and pieces root, pad files left out.
func ltFiles(li ltInfo) []string {
	var out []string
	for _, f := range li.Files {
		if !f.Pad {
			out = append(out, f.Path+" "+itoa(f.Size)+" "+f.Root)
		}
	}
	return out
}

// TestTTV2TorrentsLoadElsewhere: v2 and hybrid torrents tt creates, of a
// tree and of a single file, load in libtorrent with the v1 and v2
// info-hashes tt reports, which are those of libtorrent's own torrent of
// the same content and piece length (the same info dictionary: files, pad
// files, roots); every file has the pieces root of libtorrent's own v2
// torrent, and the data passes libtorrent's check. The magnet link carries
// each hash the torrent has. transmission-show (3.00 refuses every torrent
// with a v2 file tree, libtorrent's too) gives tt's hybrid the verdict it
// gives libtorrent's, and the v1 info-hash tt reports when it loads it.
func TestTTV2TorrentsLoadElsewhere(t *testing.T) {
	NeedLibtorrent(t)
	Need(t, "transmission-show")
	dir := t.TempDir()
	tt := BuildTT(t, dir)
	content := filepath.Join(dir, "content")
	makeContent(t, content) // an empty file, a one-byte file, files straddling pieces
	big := make([]byte, 5*65536+12345)
	for i := range big {
		big[i] = byte(i*13) ^ byte(i>>15)
	}
	if err := os.WriteFile(filepath.Join(content, "big.bin"), big, 0o644); err != nil {
		t.Fatal(err)
	}
	single := filepath.Join(content, "big.bin")
	for _, tc := range []struct{ tag, src, pl string }{
		{"tree", content, "16384"}, {"tree", content, "65536"}, {"single", single, "16384"},
	} {
		pl, refV2 := tc.pl, ""
		for _, version := range []string{"v2", "hybrid"} {
			name := tc.tag + "-" + version + "-" + pl
			ref := filepath.Join(dir, "lt-"+name+".torrent")
			run(t, LibtorrentPython, Script("lt_create.py"), "--version", version, "--piece-length", pl, ref, tc.src)
			if version == "v2" {
				refV2 = ref
			}
			out := filepath.Join(dir, name+".torrent")
			js := run(t, tt, "create", "--"+version, "--json", "--no-date", "-a", "udp://127.0.0.1:1/announce", "-l", pl, "-o", out, tc.src)
			var res ttCreateResult
			if err := json.Unmarshal([]byte(js), &res); err != nil {
				t.Fatalf("%s: tt create --json: %v\n%s", name, err, js)
			}
			files := []string{out, ref}
			if refV2 != ref {
				files = append(files, refV2)
			}
			infos := libtorrentInfo(t, files...)
			li, lref := infos[out], infos[ref]
			if !li.OK {
				t.Fatalf("%s: libtorrent refuses tt's torrent: %s", name, li.Error)
			}
			if res.Version != version || li.InfoHashV2 != res.InfoHashV2 || len(res.InfoHashV2) != 64 {
				t.Errorf("%s: tt reports %s v2 %s, libtorrent v2 %s", name, res.Version, res.InfoHashV2, li.InfoHashV2)
			}
			if li.InfoHashV1 != lref.InfoHashV1 || li.InfoHashV2 != lref.InfoHashV2 {
				t.Errorf("%s: tt's torrent has hashes %q %q, libtorrent's own %q %q", name, li.InfoHashV1, li.InfoHashV2, lref.InfoHashV1, lref.InfoHashV2)
			}
			if !strings.Contains(res.Magnet, "xt=urn:btmh:1220"+res.InfoHashV2) {
				t.Errorf("%s: magnet %s has no btmh", name, res.Magnet)
			}
			if version == "hybrid" {
				if li.InfoHashV1 != res.InfoHash || len(res.InfoHash) != 40 {
					t.Errorf("%s: tt reports v1 %s, libtorrent %s", name, res.InfoHash, li.InfoHashV1)
				}
				if !strings.Contains(res.Magnet, "xt=urn:btih:"+res.InfoHash) {
					t.Errorf("%s: magnet %s has no btih", name, res.Magnet)
				}
				ours, oursErr := transmissionShow(out)
				theirs, theirsErr := transmissionShow(ref)
				if (oursErr == nil) != (theirsErr == nil) || (oursErr == nil && ours != res.InfoHash) {
					t.Errorf("%s: transmission-show gives tt's hybrid %q (%v), libtorrent's %q (%v)", name, ours, oursErr, theirs, theirsErr)
				}
			} else if li.InfoHashV1 != "" || strings.Contains(res.Magnet, "urn:btih:") {
				t.Errorf("%s: a v2-only torrent with a v1 hash (libtorrent %q, magnet %s)", name, li.InfoHashV1, res.Magnet)
			}
			if got, want := ltFiles(li), ltFiles(infos[refV2]); !slices.Equal(got, want) {
				t.Errorf("%s: files (path size root)\n tt         %q\n libtorrent %q", name, got, want)
			}
			run(t, LibtorrentPython, Script("lt_recheck.py"), out, filepath.Dir(tc.src))
		}
	}
}

// transmissionShow is the info-hash transmission-show prints for a
// torrent, or why it does not load it.
func transmissionShow(path string) (string, error) {
	out, err := exec.Command("transmission-show", path).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%v: %s", err, bytes.TrimSpace(out))
	}
	m := transmissionHash.FindSubmatch(out)
	if m == nil {
		return "", fmt.Errorf("no hash in %q", out)
	}
	return string(m[1]), nil
}
