package app

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"tt/bencode"
	"tt/internal/merkle"
	"tt/internal/piecehash"
)

// writeV2Torrent writes a v2-only torrent of the files under dir/name
// (relative paths and sizes, in tree order) with pieces of pl bytes, and
// writes the files.
func writeV2Torrent(t *testing.T, dir, name string, pl int64, files []string, sizes []int) string {
	t.Helper()
	tree := map[string]any{}
	layers := map[string]any{}
	for i, p := range files {
		data := make([]byte, sizes[i])
		for k := range data {
			data[k] = byte(k*7+i) ^ byte(k>>11)
		}
		full := filepath.Join(dir, name, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, data, 0o644); err != nil {
			t.Fatal(err)
		}
		fh, _ := merkle.NewFileHasher(pl)
		fh.Write(data)
		root, layer := fh.Sum()
		props := map[string]any{"length": len(data)}
		if len(data) > 0 {
			props["pieces root"] = string(root[:])
		}
		if len(layer) > 0 {
			var b []byte
			for _, h := range layer {
				b = append(b, h[:]...)
			}
			layers[string(root[:])] = b
		}
		node := tree
		parts := strings.Split(p, "/")
		for _, d := range parts[:len(parts)-1] {
			if node[d] == nil {
				node[d] = map[string]any{}
			}
			node = node[d].(map[string]any)
		}
		node[parts[len(parts)-1]] = map[string]any{"": props}
	}
	info := map[string]any{"file tree": tree, "meta version": 2, "name": name, "piece length": pl}
	raw, err := bencode.Marshal(map[string]any{"info": info, "piece layers": layers})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name+".torrent")
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestVerifyV2Torrent: tt verify of a v2-only torrent reports per file;
// a flipped byte is located to its 16 KiB piece with its file offset (text
// and JSON, exit 4); a missing and a truncated file exit 5.
func TestVerifyV2Torrent(t *testing.T) {
	dir := t.TempDir()
	const pl = 16 << 10
	tor := writeV2Torrent(t, dir, "c", pl, []string{"a/empty", "a/one", "b.bin", "z"}, []int{0, 1, 70001, 3 * pl})
	run := func(json bool) (string, int) {
		var out bytes.Buffer
		env := &Env{Stdout: &out, Stderr: &out, Dir: dir, Getenv: func(string) string { return "" }}
		err := Verify(context.Background(), env, VerifyOptions{Torrent: tor, Content: "c", JSON: json, Workers: 2})
		return out.String(), CodeOf(err)
	}
	out, code := run(false)
	if code != 0 || !strings.Contains(out, "ok: 9/9 pieces ok (100.0%)") || !strings.Contains(out, "ok         a/empty\n") {
		t.Fatalf("clean: exit %d\n%s", code, out)
	}

	b := filepath.Join(dir, "c", "b.bin")
	data, _ := os.ReadFile(b)
	data[3*pl+5] ^= 1
	os.WriteFile(b, data, 0o644)
	out, code = run(false)
	// b.bin starts at piece 1 (a/one takes piece 0): its block 3 is piece 4.
	if code != ExitCorrupt || !strings.Contains(out, "corrupt    b.bin (pieces 4; bytes 49152-65535)\n") {
		t.Errorf("flipped byte: exit %d\n%s", code, out)
	}
	js, code := run(true)
	var res VerifyResult
	if err := json.Unmarshal([]byte(js), &res); err != nil {
		t.Fatal(err)
	}
	if code != ExitCorrupt || res.Version != "v2" || res.Verdict != "corrupt" || !slices.Equal(res.PiecesCorrupt, []int{4}) ||
		len(res.Files) != 4 || !slices.Equal(res.Files[2].CorruptRanges, []ByteRange{{49152, pl}}) {
		t.Errorf("flipped byte, JSON: exit %d\n%s", code, js)
	}
	data[3*pl+5] ^= 1
	os.WriteFile(b, data, 0o644)

	os.Remove(filepath.Join(dir, "c", "a", "one"))
	os.Truncate(filepath.Join(dir, "c", "z"), pl+1)
	out, code = run(false)
	if code != ExitMissing || !strings.Contains(out, "missing    a/one\n") ||
		!strings.Contains(out, "wrong-size z (16385 bytes on disk, torrent says 49152)\n") || !strings.Contains(out, "3 missing") {
		t.Errorf("missing and truncated: exit %d\n%s", code, out)
	}
}

// TestCombine: a hybrid's piece is judged by both hash sets; passing one
// and failing the other is a disagreement.
func TestCombine(t *testing.T) {
	const (
		u = piecehash.PieceUnchecked
		o = piecehash.PieceOK
		c = piecehash.PieceCorrupt
		m = piecehash.PieceMissing
	)
	for _, tc := range []struct {
		s1, s2, want piecehash.PieceState
		disagree     bool
	}{
		{o, o, o, false}, {o, c, c, true}, {c, o, c, true}, {c, c, c, false},
		{m, m, m, false}, {o, m, m, false}, {m, c, m, false}, {u, o, o, false}, {u, c, c, false}, {o, u, o, false}, {u, u, u, false},
	} {
		if st, d := combine(tc.s1, tc.s2); st != tc.want || d != tc.disagree {
			t.Errorf("combine(%v, %v) = %v, %v; want %v, %v", tc.s1, tc.s2, st, d, tc.want, tc.disagree)
		}
	}
}
