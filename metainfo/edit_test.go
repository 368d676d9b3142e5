package metainfo

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func ptr[T any](v T) *T { return &v }

// editFixtures are every torrent of testdata that tt loads.
func editFixtures(t *testing.T) map[string]*Torrent {
	t.Helper()
	out := map[string]*Torrent{}
	for _, glob := range []string{"testdata/corpus/*.torrent", "testdata/v2/*.torrent"} {
		paths, err := filepath.Glob(glob)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range paths {
			if tor, err := Load(p, nil, Options{Lenient: true}); err == nil {
				out[p] = tor
			}
		}
	}
	if len(out) < 60 {
		t.Fatalf("only %d fixtures load", len(out))
	}
	return out
}

// TestEditKeepsInfoBytes: every change outside info, applied to every
// fixture tt loads, leaves the info dictionary byte for byte as it was.
func TestEditKeepsInfoBytes(t *testing.T) {
	set := Changes{
		Trackers:     &[][]string{{"http://a.example/announce", "udp://b.example:80"}, {"https://c.example/a"}},
		WebSeeds:     &[]string{"http://w.example/files/"},
		Nodes:        &[]string{"127.0.0.1:6881", "[::1]:6882", "router.example:6881"},
		Comment:      ptr("edited"),
		CreatedBy:    ptr("tt test"),
		CreationDate: ptr(int64(1700000000)),
	}
	drop := Changes{Trackers: &[][]string{}, WebSeeds: &[]string{}, Nodes: &[]string{},
		Comment: ptr(""), CreatedBy: ptr(""), DropCreationDate: true}
	for path, tor := range editFixtures(t) {
		for _, c := range []Changes{set, drop} {
			r, err := Edit(tor, c)
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			nt := r.Torrent
			if !bytes.Equal(nt.InfoRaw, tor.InfoRaw) || nt.InfoHash != tor.InfoHash || nt.InfoHashV2 != tor.InfoHashV2 {
				t.Fatalf("%s: info changed", path)
			}
			if !bytes.Contains(r.Data, tor.InfoRaw) {
				t.Fatalf("%s: info bytes not in the output", path)
			}
			if c.Comment != nil && *c.Comment == "edited" {
				if !slices.EqualFunc(nt.Trackers(), *c.Trackers, slices.Equal) || !slices.Equal(nt.URLList, *c.WebSeeds) ||
					!slices.Equal(nt.Nodes, *c.Nodes) || nt.Comment != "edited" || nt.CreatedBy != "tt test" ||
					nt.CreationDate != 1700000000 {
					t.Fatalf("%s: edits do not read back: %v %v %v", path, nt.Trackers(), nt.URLList, nt.Nodes)
				}
			} else if nt.Trackers() != nil || nt.URLList != nil || nt.Nodes != nil || nt.Comment != "" ||
				nt.CreatedBy != "" || nt.HasCreationDate {
				t.Fatalf("%s: fields not removed", path)
			}
		}
	}
}

// TestEditVerbatim: keys no change names keep their bytes and order, a new
// key goes where it sorts, and a lone tracker is written as announce only.
func TestEditVerbatim(t *testing.T) {
	in := []byte("d8:announce5:x://y4:infod6:lengthi1e4:name1:a12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaae5:zzzzzi007ee")
	tor, err := Parse(in, Options{Lenient: true})
	if err != nil {
		t.Fatal(err)
	}
	r, err := Edit(tor, Changes{Trackers: &[][]string{{"http://t.example/a"}}, Comment: ptr("hi")})
	if err != nil {
		t.Fatal(err)
	}
	want := "d8:announce18:http://t.example/a7:comment2:hi4:infod6:lengthi1e4:name1:a12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaae5:zzzzzi007ee"
	if string(r.Data) != want {
		t.Fatalf("got  %s\nwant %s", r.Data, want)
	}
	if !slices.Equal(r.Changed, []string{"announce", "comment"}) {
		t.Fatalf("changed %v", r.Changed)
	}
}

// TestEditRehash: info changes give new hashes (both for a hybrid), read
// back, and keep a single-file v2 tree named after the torrent.
func TestEditRehash(t *testing.T) {
	for _, name := range []string{"testdata/corpus/base.torrent", "testdata/v2/hybrid-single.torrent",
		"testdata/v2/hybrid-multi.torrent", "testdata/v2/v2-single.torrent", "testdata/v2/v2-multi.torrent"} {
		tor, err := Load(name, nil, Options{})
		if err != nil {
			t.Fatal(err)
		}
		r, err := Edit(tor, Changes{Private: ptr(true), Source: ptr("SRC"), Name: ptr("renamed")})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		nt := r.Torrent
		if !nt.Info.Private || nt.Info.Source != "SRC" || nt.Info.Name != "renamed" {
			t.Fatalf("%s: info edits do not read back: %+v", name, nt.Info)
		}
		if nt.InfoHash == tor.InfoHash || (tor.HasV2 && nt.InfoHashV2 == tor.InfoHashV2) {
			t.Fatalf("%s: hash unchanged", name)
		}
		if nt.Version() != tor.Version() || !nt.FilesAgree() || len(nt.Findings) != len(tor.Findings) {
			t.Fatalf("%s: %v %v findings %v", name, nt.Version(), nt.FilesAgree(), nt.Findings)
		}
		if tor.HasV2 && !tor.Info.MultiFile && nt.Info.V2Files[0].Path[0] != "renamed" {
			t.Fatalf("%s: file tree not renamed: %v", name, nt.Info.V2Files[0].Path)
		}
		// Strictly canonical in, strictly canonical out.
		if _, err := Parse(r.Data, Options{}); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		back, err := Edit(nt, Changes{Private: ptr(false), Source: ptr(""), Name: ptr(tor.Info.Name)})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(back.Torrent.InfoRaw, tor.InfoRaw) {
			t.Fatalf("%s: undoing the edit does not restore info", name)
		}
	}
}

func TestEditErrors(t *testing.T) {
	tor, err := Load("testdata/corpus/base.torrent", nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Edit(tor, Changes{Nodes: &[]string{"nohost"}}); !errors.Is(err, ErrNodeAddr) {
		t.Fatalf("node: %v", err)
	}
	if _, err := Edit(tor, Changes{Nodes: &[]string{"h:0"}}); !errors.Is(err, ErrNodeAddr) {
		t.Fatalf("port: %v", err)
	}
	if _, err := Edit(tor, Changes{Name: ptr("../x")}); !errors.Is(err, ErrInsecurePath) {
		t.Fatalf("name: %v", err)
	}
}

// FuzzEdit: whatever torrent loads, editing what lies outside info never
// panics and keeps the info bytes; a rename that succeeds reads back.
func FuzzEdit(f *testing.F) {
	for _, glob := range []string{"testdata/corpus/*.torrent", "testdata/v2/*.torrent"} {
		seeds, _ := filepath.Glob(glob)
		for _, p := range seeds {
			if b, err := os.ReadFile(p); err == nil {
				f.Add(b, "comment", true)
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, text string, clear bool) {
		tor, err := Parse(data, Options{Lenient: true})
		if err != nil {
			return
		}
		c := Changes{Comment: &text, CreatedBy: &text, Trackers: &[][]string{{text}}, WebSeeds: &[]string{text}}
		if clear {
			c = Changes{Trackers: &[][]string{}, WebSeeds: &[]string{}, Nodes: &[]string{}, DropCreationDate: true}
		}
		r, err := Edit(tor, c)
		if err != nil {
			t.Fatalf("edit: %v", err)
		}
		if !bytes.Equal(r.Torrent.InfoRaw, tor.InfoRaw) || r.Torrent.InfoHash != tor.InfoHash {
			t.Fatal("info changed")
		}
		if CheckComponent(text) != nil {
			return
		}
		r, err = Edit(tor, Changes{Name: &text})
		if err == nil && r.Torrent.Info.Name != text {
			t.Fatalf("renamed to %q, reads %q", text, r.Torrent.Info.Name)
		}
	})
}
