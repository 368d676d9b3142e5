package app

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"tt/bencode"
	"tt/metainfo"
)

// v2Fixture is a torrent libtorrent made (metainfo/testdata/v2).
func v2Fixture(name string) string {
	return filepath.Join("..", "..", "metainfo", "testdata", "v2", name)
}

// inspect runs tt inspect in-process and returns what it printed.
func inspect(t *testing.T, o InspectOptions) (string, error) {
	t.Helper()
	var out bytes.Buffer
	env := &Env{Stdout: &out, Stderr: &out, Dir: ".", Getenv: os.Getenv}
	err := Inspect(context.Background(), env, o)
	return out.String(), err
}

func inspectJSON(t *testing.T, target string) InspectResult {
	t.Helper()
	out, err := inspect(t, InspectOptions{Target: target, JSON: true})
	if err != nil {
		t.Fatal(err)
	}
	var r InspectResult
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return r
}

// TestInspectHybridPadFilesNotCounted: a hybrid of two files of 1,550,000
// bytes with a pad file after each is 2 files of 3,100,000 bytes, not 4
// files of 3 MiB, and its pad files appear as a count, never as a .pad
// directory of the tree.
func TestInspectHybridPadFilesNotCounted(t *testing.T) {
	path := v2Fixture("hybrid-pair.torrent")
	out, err := inspect(t, InspectOptions{Target: path, Files: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"Version       hybrid (v1 and v2)\n",
		"Size          3.0 MiB (3100000 bytes) in 2 files, and 2 pad files of 44.7 KiB\n",
		"Pieces        12 × 256 KiB\n",
		"Piece layers  2 ok\n",
		"    one.bin     1.5 MiB  root 820da0d76208e469cfca08aeca04b59c837a8eab7d93d86e7d3a2c116c09a167\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in\n%s", want, out)
		}
	}
	if strings.Contains(out, ".pad") {
		t.Errorf("pad files listed:\n%s", out)
	}
	r := inspectJSON(t, path)
	if r.Version != "hybrid" || r.TotalSize != 3100000 || r.PadFiles != 2 || r.PadBytes != 2*22864 || len(r.Files) != 2 {
		t.Fatalf("%+v", r)
	}
	if r.Files[1].Path != "two.bin" || r.Files[1].Offset != 6*256<<10 || r.Files[1].PieceLayer != "ok" || len(r.Files[1].PiecesRoot) != 64 {
		t.Fatalf("files %+v", r.Files)
	}
	if !strings.Contains(r.Magnet, "&xl=3100000") || !strings.Contains(r.Magnet, "xt=urn:btih:"+r.InfoHash) || !strings.Contains(r.Magnet, "xt=urn:btmh:1220"+r.InfoHashV2) {
		t.Fatalf("magnet %s", r.Magnet)
	}
}

// TestInspectV2OnlyHasNoSHA1InfoHash: a v2-only torrent shows its v2
// info-hash and the truncated form, and the SHA-1 of its info dictionary
// appears nowhere.
func TestInspectV2OnlyHasNoSHA1InfoHash(t *testing.T) {
	path := v2Fixture("v2-multi.torrent")
	tor, err := metainfo.Load(path, nil, metainfo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	sum := sha1.Sum(tor.InfoRaw)
	sha1Hex := hex.EncodeToString(sum[:])
	v2 := hex.EncodeToString(tor.InfoHashV2[:])
	out, err := inspect(t, InspectOptions{Target: path, Files: true})
	if err != nil {
		t.Fatal(err)
	}
	jsonOut, err := inspect(t, InspectOptions{Target: path, JSON: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range []string{out, jsonOut} {
		if strings.Contains(o, sha1Hex) {
			t.Fatalf("the SHA-1 of info is shown:\n%s", o)
		}
	}
	for _, want := range []string{
		"Version       v2 only\n", "Info hash v2  " + v2 + "\n", "  truncated   " + v2[:40] + "\n",
		"in 6 files, and 3 pad files", "Piece layers  3 not-needed, 3 ok\n",
		"      empty           0 B\n", "    piece.bin      32 KiB  root ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in\n%s", want, out)
		}
	}
	if strings.Contains(out, "Info hash     ") || strings.Contains(out, ".pad") {
		t.Errorf("v1 hash or pad files shown:\n%s", out)
	}
	r := inspectJSON(t, path)
	if r.Version != "v2" || r.InfoHash != "" || r.InfoHashV2 != v2 || r.InfoHashV2T != v2[:40] || !r.V2Only || len(r.Files) != 6 {
		t.Fatalf("%+v", r)
	}
	layers := map[string]string{}
	for _, f := range r.Files {
		layers[f.Path] = f.PieceLayer
		if (f.PiecesRoot == "") != (f.Length == 0) {
			t.Errorf("%s: root %q", f.Path, f.PiecesRoot)
		}
	}
	if layers["a/empty"] != "" || layers["a/one"] != "not-needed" || layers["z"] != "ok" {
		t.Fatalf("layers %v", layers)
	}
}

// TestInspectV2BrokenLayers: missing and bad piece layers show in the tree
// and in lint, and --strict fails on the bad one.
func TestInspectV2BrokenLayers(t *testing.T) {
	data, err := os.ReadFile(v2Fixture("v2-multi.torrent"))
	if err != nil {
		t.Fatal(err)
	}
	tor, err := metainfo.Parse(data, metainfo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Rebuild the torrent with z's layer gone and b.bin's broken.
	layers := map[string]any{}
	for _, f := range tor.Info.V2Files {
		switch strings.Join(f.Path, "/") {
		case "b.bin":
			bad := bytes.Clone(f.Layer)
			bad[0] ^= 1
			layers[string(f.PiecesRoot[:])] = string(bad)
		case "c/d/e.dat":
			layers[string(f.PiecesRoot[:])] = string(f.Layer)
		}
	}
	out, err := bencode.Marshal(map[string]any{"info": bencode.RawMessage(tor.InfoRaw), "piece layers": layers})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "broken.torrent")
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
	text, err := inspect(t, InspectOptions{Target: path, Files: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"Piece layers  3 not-needed, 1 ok, 1 missing, 1 invalid\n",
		"    b.bin        68.4 KiB  root 27b3e983731b7bb9f4dae5b4c763accd31efd3d18e48ee01fedbd512d5120962, bad piece layer\n",
		"    z           120.6 KiB  root 86d7e5175d06934d0f33775d70a7a6bbea5fb472ca86de3c6a2b6812460d82d7, no piece layer\n",
		"error piece-layer-root: piece layers[27b3e983", "warning piece-layers-missing: piece layers: \"z\"",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("no %q in\n%s", want, text)
		}
	}
	if _, err := inspect(t, InspectOptions{Target: path, Strict: true}); CodeOf(err) != ExitLint {
		t.Fatalf("--strict: %v", err)
	}
}

// TestInspectV2Magnets: btmh links, alone and with btih, show both hashes
// and the version.
func TestInspectV2Magnets(t *testing.T) {
	const v1 = "339cb8a69382a6087958f8d20a43b489aaffbf04"
	const v2 = "0a45a4784ecff45e21c539aa31c2051577f81ac7a0a2ccf8591a3c9356ad9f4c"
	for _, tc := range []struct{ link, version, infohash string }{
		{"magnet:?xt=urn:btmh:1220" + v2 + "&dn=pair", "v2", ""},
		{"magnet:?xt=urn:btih:" + v1 + "&xt=urn:btmh:1220" + v2, "hybrid", v1},
	} {
		r := inspectJSON(t, tc.link)
		if r.Kind != "magnet" || r.Version != tc.version || r.InfoHash != tc.infohash || r.InfoHashV2 != v2 || r.InfoHashV2T != v2[:40] {
			t.Errorf("%s: %+v", tc.link, r)
		}
		text, err := inspect(t, InspectOptions{Target: tc.link})
		if err != nil || !strings.Contains(text, "Info hash v2  "+v2+"\n") || !strings.Contains(text, "  truncated   "+v2[:40]+"\n") {
			t.Errorf("%s: %v\n%s", tc.link, err, text)
		}
	}
}
