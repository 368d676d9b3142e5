package metainfo

import (
	"crypto/sha256"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse: no panic on any input, no unsafe path ever comes out, and
// what a v2 parse hands out holds together: the v2 info-hash is of the raw
// info, a v2-only torrent never shows a SHA-1 as its info-hash, v2 files
// start on piece boundaries inside the piece space, and every piece layer
// kept hashes to its file's root.
func FuzzParse(f *testing.F) {
	for _, glob := range []string{"testdata/corpus/*.torrent", "testdata/v2/*.torrent"} {
		seeds, _ := filepath.Glob(glob)
		for _, p := range seeds {
			if b, err := os.ReadFile(p); err == nil {
				f.Add(b)
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, lenient := range []bool{false, true} {
			tor, err := Parse(data, Options{Lenient: lenient})
			if err != nil {
				continue
			}
			Lint(tor)
			if m, err := ParseMagnet(tor.Magnet().String()); err == nil && (m.InfoHash != tor.InfoHash || m.InfoHashV2 != tor.InfoHashV2) {
				t.Fatalf("magnet of torrent has info-hashes %x %x, want %x %x", m.InfoHash, m.InfoHashV2, tor.InfoHash, tor.InfoHashV2)
			}
			for _, fl := range tor.Info.Files {
				if fl.Length < 0 || fl.Offset < 0 || fl.Offset+fl.Length > tor.Info.TotalLength {
					t.Fatalf("bad file extent %+v", fl)
				}
				if CheckPath(fl.Path) != nil {
					t.Fatalf("unsafe path %q", fl.Path)
				}
			}
			if int64(tor.NumPieces()) != (tor.Info.TotalLength+tor.Info.PieceLength-1)/tor.Info.PieceLength {
				t.Fatalf("piece count %d for %d/%d", tor.NumPieces(), tor.Info.TotalLength, tor.Info.PieceLength)
			}
			fuzzCheckV2(t, tor)
		}
	})
}

func fuzzCheckV2(t *testing.T, tor *Torrent) {
	if !tor.HasV2 {
		if tor.InfoHashV2 != [32]byte{} || len(tor.Info.V2Files) > 0 {
			t.Fatal("v1 torrent with v2 data")
		}
		return
	}
	if tor.InfoHashV2 != sha256.Sum256(tor.InfoRaw) {
		t.Fatal("v2 info-hash is not of the raw info")
	}
	if !tor.HasV1() && tor.InfoHash != tor.TruncatedInfoHashV2() {
		t.Fatal("v2-only torrent's info-hash is not its truncated v2 hash")
	}
	pl := tor.Info.PieceLength
	for i := range tor.Info.V2Files {
		f := &tor.Info.V2Files[i]
		if CheckPath(f.Path) != nil || f.Length < 0 || f.Length > 0 && f.Offset%pl != 0 {
			t.Fatalf("bad v2 file %+v", f)
		}
		if tor.FilesAgree() && (f.File < 0 || f.File >= len(tor.Info.Files) || tor.Info.Files[f.File].Offset != f.Offset && f.Length > 0) {
			t.Fatalf("v2 file %q is not where Info.Files has it", f.Path)
		}
		if f.LayerStatus == LayerOK && (int64(len(f.Layer)) != 32*f.NumPieces(pl) || !layerHashesTo(f.Layer, pl, f.PiecesRoot)) {
			t.Fatalf("v2 file %q has an unchecked layer", f.Path)
		}
	}
}
