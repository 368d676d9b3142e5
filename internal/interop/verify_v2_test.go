package interop

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"tt/metainfo"
)

// ttVerifyResult is the part of tt verify --json these tests read.
type ttVerifyResult struct {
	Version        string `json:"version"`
	Verdict        string `json:"verdict"`
	PiecesTotal    int    `json:"pieces_total"`
	PiecesOK       int    `json:"pieces_ok"`
	PiecesCorrupt  []int  `json:"pieces_corrupt"`
	PiecesMissing  int    `json:"pieces_missing"`
	PiecesDisagree []int  `json:"pieces_disagree"`
	Files          []struct {
		Path          string `json:"path"`
		State         string `json:"state"`
		Size          int64  `json:"size"`
		BadPieces     []int  `json:"bad_pieces"`
		CorruptRanges []struct {
			Offset int64 `json:"offset"`
			Length int64 `json:"length"`
		} `json:"corrupt_ranges"`
	} `json:"files"`
}

// ttVerify runs tt verify with args and returns its stdout and exit code.
func ttVerify(t *testing.T, tt string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(tt, append([]string{"verify"}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return out.String(), 0
	case errors.As(err, &ee):
		return out.String(), ee.ExitCode()
	}
	t.Fatalf("tt verify %q: %v\n%s", args, err, errb.String())
	return "", -1
}

func ttVerifyJSON(t *testing.T, tt, torrent, content string, wantCode int) ttVerifyResult {
	t.Helper()
	out, code := ttVerify(t, tt, "--json", torrent, content)
	var r ttVerifyResult
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("tt verify --json: %v\n%s", err, out)
	}
	if code != wantCode {
		t.Fatalf("tt verify --json %s: exit %d, want %d\n%s", torrent, code, wantCode, out)
	}
	return r
}

// fileState is the verdict on one file as "state bad-pieces ranges".
func (r ttVerifyResult) fileState(path string) string {
	for _, f := range r.Files {
		if f.Path == path {
			s := fmt.Sprintf("%s %v", f.State, f.BadPieces)
			for _, c := range f.CorruptRanges {
				s += fmt.Sprintf(" %d+%d", c.Offset, c.Length)
			}
			return s
		}
	}
	return "absent"
}

// TestVerifyV2TorrentsFromLibtorrent: tt verify checks libtorrent's v2 and
// hybrid torrents of a tree with an empty file, a one-byte file and files
// straddling pieces: all ok; a flipped byte is located to its 16 KiB block
// (the piece length) and its offset in its file, exit 4; a missing file
// and a truncated one are reported as such, exit 5.
func TestVerifyV2TorrentsFromLibtorrent(t *testing.T) {
	NeedLibtorrent(t)
	dir := t.TempDir()
	tt := BuildTT(t, dir)
	const pl = 16384
	for _, version := range []string{"v2", "hybrid"} {
		content := filepath.Join(dir, version, "content")
		makeContent(t, content)
		tor := filepath.Join(dir, version+".torrent")
		run(t, LibtorrentPython, Script("lt_create.py"), "--version", version, "--piece-length", itoa(pl), tor, content)
		mt, err := metainfo.Load(tor, nil, metainfo.Options{})
		if err != nil {
			t.Fatal(err)
		}
		offset := map[string]int{}
		for _, f := range mt.Info.V2Files {
			offset[strings.Join(f.Path, "/")] = int(f.Offset / pl)
		}

		r := ttVerifyJSON(t, tt, tor, content, 0)
		if r.Version != version || r.Verdict != "ok" || r.PiecesOK != r.PiecesTotal || r.PiecesTotal != mt.NumPieces() || len(r.Files) != 5 {
			t.Fatalf("%s: clean content: %+v", version, r)
		}
		for _, f := range r.Files {
			if f.State != "ok" {
				t.Errorf("%s: %s is %s", version, f.Path, f.State)
			}
		}

		// A byte in block 2 of b.bin (bytes 32768-49151).
		b := filepath.Join(content, "b.bin")
		flip(t, b, 40000)
		r = ttVerifyJSON(t, tt, tor, content, 4)
		wantPiece := offset["b.bin"] + 2
		if got := r.fileState("b.bin"); got != fmt.Sprintf("corrupt [%d] 32768+16384", wantPiece) {
			t.Errorf("%s: flipped byte: b.bin %s", version, got)
		}
		if !slices.Equal(r.PiecesCorrupt, []int{wantPiece}) || r.fileState("z") != "ok []" {
			t.Errorf("%s: flipped byte: corrupt pieces %v, z %s", version, r.PiecesCorrupt, r.fileState("z"))
		}
		out, code := ttVerify(t, tt, tor, content)
		if code != 4 || !strings.Contains(out, fmt.Sprintf("corrupt    b.bin (pieces %d; bytes 32768-49151)\n", wantPiece)) {
			t.Errorf("%s: text report, exit %d:\n%s", version, code, out)
		}
		flip(t, b, 40000)

		// A missing file; then a truncated one.
		e := filepath.Join(content, "c", "d", "e.dat")
		data, err := os.ReadFile(e)
		if err != nil {
			t.Fatal(err)
		}
		os.Remove(e)
		r = ttVerifyJSON(t, tt, tor, content, 5)
		ep := offset["c/d/e.dat"]
		if got := r.fileState("c/d/e.dat"); got != fmt.Sprintf("missing [%d %d %d %d]", ep, ep+1, ep+2, ep+3) || r.PiecesMissing != 4 || r.Verdict != "missing" {
			t.Errorf("%s: missing file: %s, %d pieces missing, verdict %s", version, got, r.PiecesMissing, r.Verdict)
		}
		if err := os.WriteFile(e, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(filepath.Join(content, "z"), 50000); err != nil {
			t.Fatal(err)
		}
		r = ttVerifyJSON(t, tt, tor, content, 5)
		zp := offset["z"]
		want := fmt.Sprintf("wrong-size [%d %d %d %d %d]", zp+3, zp+4, zp+5, zp+6, zp+7)
		if got := r.fileState("z"); got != want || r.PiecesMissing != 5 {
			t.Errorf("%s: truncated file: %s, want %s; %d pieces missing", version, got, want, r.PiecesMissing)
		}
	}
}

// TestVerifyHybridHashesDisagree: a hybrid whose v1 hash of one piece was
// changed (so that its v1 and v2 hashes describe different data) is
// reported as such, exit 3, while the data passes the v2 hash.
func TestVerifyHybridHashesDisagree(t *testing.T) {
	NeedLibtorrent(t)
	dir := t.TempDir()
	tt := BuildTT(t, dir)
	content := filepath.Join(dir, "content")
	makeContent(t, content)
	tor := filepath.Join(dir, "h.torrent")
	run(t, LibtorrentPython, Script("lt_create.py"), "--version", "hybrid", "--piece-length", "16384", tor, content)
	mt, err := metainfo.Load(tor, nil, metainfo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	at := bytes.Index(mt.Raw, mt.Info.Pieces)
	if at < 0 {
		t.Fatal("pieces not found in the torrent")
	}
	raw := slices.Clone(mt.Raw)
	raw[at+3*20] ^= 1 // piece 3's SHA-1
	bad := filepath.Join(dir, "bad.torrent")
	if err := os.WriteFile(bad, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	r := ttVerifyJSON(t, tt, bad, content, 3)
	if r.Verdict != "disagree" || !slices.Equal(r.PiecesDisagree, []int{3}) || len(r.PiecesCorrupt) != 0 {
		t.Errorf("verdict %s, disagree %v, corrupt %v", r.Verdict, r.PiecesDisagree, r.PiecesCorrupt)
	}
	out, code := ttVerify(t, tt, bad, content)
	if code != 3 || !strings.Contains(out, "disagree") {
		t.Errorf("text report, exit %d:\n%s", code, out)
	}
}

func flip(t *testing.T, path string, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0xff
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}
