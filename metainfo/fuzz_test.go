package metainfo

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse: no panic on any input, and no unsafe path ever comes out.
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/corpus/*.torrent")
	for _, p := range seeds {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, lenient := range []bool{false, true} {
			tor, err := Parse(data, Options{Lenient: lenient})
			if err != nil {
				continue
			}
			Lint(tor)
			if m, err := ParseMagnet(tor.Magnet().String()); err == nil && m.InfoHash != tor.InfoHash && m.HasV1 {
				t.Fatalf("magnet of torrent has info-hash %x, want %x", m.InfoHash, tor.InfoHash)
			}
			for _, fl := range tor.Info.Files {
				if fl.Length < 0 || fl.Offset < 0 || fl.Offset+fl.Length > tor.Info.TotalLength {
					t.Fatalf("bad file extent %+v", fl)
				}
				if CheckPath(fl.Path) != nil {
					t.Fatalf("unsafe path %q", fl.Path)
				}
			}
			if !tor.V2Only() && int64(tor.NumPieces()) != (tor.Info.TotalLength+tor.Info.PieceLength-1)/tor.Info.PieceLength {
				t.Fatalf("piece count %d for %d/%d", tor.NumPieces(), tor.Info.TotalLength, tor.Info.PieceLength)
			}
		}
	})
}
