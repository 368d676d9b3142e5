package metainfo

import (
	"crypto/sha256"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"tt/bencode"
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

// FuzzParseV2 puts the fuzzer's bytes where a v2 parser has the most to
// get wrong: as the file tree, the piece layers and (for a hybrid) the v1
// file list of an otherwise valid v2 torrent, seeded with those of the v2
// fixtures and corpus files.
func FuzzParseV2(f *testing.F) {
	for _, glob := range []string{"testdata/v2/*.torrent", "testdata/corpus/v2*.torrent"} {
		seeds, _ := filepath.Glob(glob)
		for _, p := range seeds {
			b, err := os.ReadFile(p)
			if err != nil {
				continue
			}
			root, _, err := bencode.Parse(b, bencode.Options{Lenient: true})
			if err != nil {
				continue
			}
			info, _ := root.Get("info")
			tree, _ := info.Get("file tree")
			layers, _ := root.Get("piece layers")
			files, _ := info.Get("files")
			pl, _ := info.Get("piece length")
			n, _ := pl.Int()
			if len(tree.Raw())+len(layers.Raw())+len(files.Raw()) <= 8<<10 {
				// Large seeds (thousands of piece hashes) slow every step of
				// the fuzzer and cover nothing more.
				f.Add(tree.Raw(), layers.Raw(), files.Raw(), n)
			}
		}
	}
	f.Fuzz(func(t *testing.T, tree, layers, files []byte, pl int64) {
		info := []byte("d")
		if len(files) > 0 {
			info = append(append(info, "5:files"...), files...)
		}
		info = append(append(info, "9:file tree"...), tree...)
		info = append(info, "12:meta versioni2e4:name1:n12:piece lengthi"...)
		info = append(strconv.AppendInt(info, pl, 10), "ee"...)
		data := append(append([]byte("d4:info"), info...), "12:piece layers"...)
		if len(layers) == 0 {
			layers = []byte("de")
		}
		data = append(append(data, layers...), 'e')
		for _, lenient := range []bool{false, true} {
			tor, err := Parse(data, Options{Lenient: lenient})
			if err != nil {
				continue
			}
			Lint(tor)
			for _, fl := range tor.Info.Files {
				if fl.Length < 0 || fl.Offset < 0 || fl.Offset+fl.Length > tor.Info.TotalLength || CheckPath(fl.Path) != nil {
					t.Fatalf("bad file %+v", fl)
				}
			}
			fuzzCheckV2(t, tor)
		}
	})
}
