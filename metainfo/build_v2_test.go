package metainfo

import (
	"bytes"
	"crypto/sha1"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"

	"tt/internal/merkle"
)

// v2Content is a content of files with the given lengths and pseudo-random
// bytes, with their v2 hashes and the hybrid v1 pieces.
func v2Content(t *testing.T, multi bool, lengths []int64, pl int64) (*Content, []FileHashV2, []byte) {
	t.Helper()
	c := &Content{Name: "c", MultiFile: multi}
	r := rand.New(rand.NewPCG(1, 2))
	data := make([][]byte, len(lengths))
	hashes := make([]FileHashV2, len(lengths))
	for i, n := range lengths {
		data[i] = make([]byte, n)
		for j := range data[i] {
			data[i][j] = byte(r.Uint32())
		}
		p := []string{"d", string(rune('a' + i))}
		if !multi {
			p = []string{"c"}
		}
		c.Files = append(c.Files, SourceFile{Path: p, Length: n})
		c.Total += n
		if n == 0 {
			continue
		}
		h, err := merkle.NewFileHasher(pl)
		if err != nil {
			t.Fatal(err)
		}
		h.Write(data[i])
		root, layer := h.Sum()
		hashes[i].Root = root
		for _, x := range layer {
			hashes[i].Layer = append(hashes[i].Layer, x[:]...)
		}
	}
	var space []byte
	for _, l := range PieceAligned(c, pl) {
		if l.File < 0 {
			space = append(space, make([]byte, l.Length)...)
		} else {
			space = append(space, data[l.File]...)
		}
	}
	var pieces []byte
	for off := 0; off < len(space); off += int(pl) {
		s := sha1.Sum(space[off:min(off+int(pl), len(space))])
		pieces = append(pieces, s[:]...)
	}
	return c, hashes, pieces
}

func TestPieceAligned(t *testing.T) {
	const pl = 16 << 10
	c := &Content{MultiFile: true, Files: []SourceFile{{Length: 0}, {Length: 20000}, {Length: 0}, {Length: 3}, {Length: 16384}, {Length: 5}}}
	got := PieceAligned(c, pl)
	want := []LaidFile{
		{0, 0}, {1, 20000}, {2, 0}, {-1, 2*pl - 20000}, {3, 3}, {-1, pl - 3}, {4, 16384}, {5, 5}, {-1, pl - 5},
	}
	if !slices.Equal(got, want) {
		t.Errorf("got %v\nwant %v", got, want)
	}
	single := &Content{Files: []SourceFile{{Length: 5}}}
	if got := PieceAligned(single, pl); !slices.Equal(got, []LaidFile{{0, 5}}) {
		t.Errorf("single file: %v, want no pad", got)
	}
}

// A built v2 or hybrid torrent parses strictly with no findings, with each
// file's root and layer as given, pad files where PieceAligned puts them,
// and the same bytes every time.
func TestBuildV2RoundTrip(t *testing.T) {
	const pl = 32 << 10
	cases := []struct {
		name    string
		multi   bool
		lengths []int64
	}{
		{"tree", true, []int64{0, 100000, 3, pl, 0, 2*pl + 1}},
		{"single large", false, []int64{5*pl + 7}},
		{"single small", false, []int64{100}},
	}
	for _, tc := range cases {
		for _, hybrid := range []bool{false, true} {
			name := tc.name + "/v2"
			if hybrid {
				name = tc.name + "/hybrid"
			}
			t.Run(name, func(t *testing.T) {
				c, hashes, pieces := v2Content(t, tc.multi, tc.lengths, pl)
				if !hybrid {
					pieces = nil
				}
				opt := BuildOptions{PieceLength: pl, CreatedBy: "tt/test", Trackers: [][]string{{"http://127.0.0.1:1/a"}}}
				data, tor, err := BuildV2(c, hashes, pieces, opt)
				if err != nil {
					t.Fatal(err)
				}
				again, _, err := BuildV2(c, hashes, pieces, opt)
				if err != nil || !bytes.Equal(data, again) {
					t.Fatalf("second build differs (%v)", err)
				}
				if len(tor.Findings) > 0 {
					t.Errorf("findings: %v", tor.Findings)
				}
				want := V2
				if hybrid {
					want = Hybrid
				}
				if tor.Version() != want || !tor.FilesAgree() {
					t.Fatalf("version %v (agree %v), want %v", tor.Version(), tor.FilesAgree(), want)
				}
				if hybrid && !bytes.Equal(tor.Info.Pieces, pieces) {
					t.Error("v1 pieces differ")
				}
				if len(tor.Info.V2Files) != len(c.Files) {
					t.Fatalf("%d v2 files, want %d", len(tor.Info.V2Files), len(c.Files))
				}
				for i, f := range tor.Info.V2Files {
					if f.PiecesRoot != hashes[i].Root || !bytes.Equal(f.Layer, hashes[i].Layer) {
						t.Errorf("file %d: root %x layer %d bytes, want %x and %d", i, f.PiecesRoot, len(f.Layer), hashes[i].Root, len(hashes[i].Layer))
					}
					wantStatus := LayerNotNeeded
					if hashes[i].Layer != nil {
						wantStatus = LayerOK
					}
					if f.LayerStatus != wantStatus {
						t.Errorf("file %d: layer %v, want %v", i, f.LayerStatus, wantStatus)
					}
				}
				if tor.ContentSize() != c.Total {
					t.Errorf("content size %d, want %d", tor.ContentSize(), c.Total)
				}
				m := tor.Magnet()
				if m.HasV2 != true || m.HasV1 != hybrid {
					t.Errorf("magnet %s: v1 %v v2 %v", m, m.HasV1, m.HasV2)
				}
			})
		}
	}
}

func TestBuildV2Refuses(t *testing.T) {
	const pl = 16 << 10
	c, hashes, pieces := v2Content(t, true, []int64{0, 40000, 5}, pl)
	if _, _, err := BuildV2(c, hashes, pieces, BuildOptions{PieceLength: 48 << 10}); !errors.Is(err, ErrPieceLength) {
		t.Errorf("piece length 48 KiB: %v", err)
	}
	bad := slices.Clone(hashes)
	bad[1].Layer = bad[1].Layer[:32]
	if _, _, err := BuildV2(c, bad, pieces, BuildOptions{PieceLength: pl}); !errors.Is(err, ErrV2Hashes) {
		t.Errorf("short layer: %v", err)
	}
	bad = slices.Clone(hashes)
	bad[0].Root[0] = 1
	if _, _, err := BuildV2(c, bad, pieces, BuildOptions{PieceLength: pl}); !errors.Is(err, ErrV2Hashes) {
		t.Errorf("root for an empty file: %v", err)
	}
	if _, _, err := BuildV2(c, hashes[:2], pieces, BuildOptions{PieceLength: pl}); !errors.Is(err, ErrV2Hashes) {
		t.Errorf("too few hashes: %v", err)
	}
	if _, _, err := BuildV2(c, hashes, pieces[:20], BuildOptions{PieceLength: pl}); err == nil {
		t.Error("too few v1 pieces accepted")
	}
}
