package metainfo

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// clashes is the plain definition mayClash must agree with.
func clashes(files []File) bool {
	dirs := map[string]bool{}
	for _, f := range files {
		for i := 1; i < len(f.Path); i++ {
			dirs[strings.Join(f.Path[:i], "/")] = true
		}
	}
	seen := map[string]bool{}
	for _, f := range files {
		if f.Pad {
			continue
		}
		k := strings.Join(f.Path, "/")
		if seen[k] || dirs[k] {
			return true
		}
		seen[k] = true
	}
	return false
}

func TestMayClash(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	comps := []string{"a", "b", "c", "ab", ".pad"}
	clashed := 0
	for range 20000 {
		files := make([]File, 1+r.IntN(8))
		for i := range files {
			path := make([]string, 1+r.IntN(3))
			for j := range path {
				path[j] = comps[r.IntN(len(comps))]
			}
			files[i] = File{Path: path, Pad: r.IntN(6) == 0}
		}
		// Sorted lists, as most torrents have, as well as shuffled ones.
		if r.IntN(2) == 0 {
			slices.SortFunc(files, func(a, b File) int { return slices.Compare(a.Path, b.Path) })
		}
		want := clashes(files)
		if got := mayClash(files, joinPaths(files)); got != want {
			t.Fatalf("mayClash = %v, want %v for %v", got, want, files)
		}
		if want {
			clashed++
		}
	}
	if clashed < 1000 || clashed > 19000 {
		t.Fatalf("%d of 20000 cases clash: the test does not exercise both answers", clashed)
	}
}

func TestMayFoldCollide(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	comps := []string{"a", "A", "b", "ab", "aB", "É", "é", "\xff", "\xfe"}
	collided := 0
	for range 20000 {
		tor := &Torrent{Info: Info{Files: make([]File, 1+r.IntN(6))}}
		for i := range tor.Info.Files {
			path := make([]string, 1+r.IntN(3))
			for j := range path {
				path[j] = comps[r.IntN(len(comps))]
			}
			tor.Info.Files[i] = File{Path: path, Pad: r.IntN(8) == 0}
		}
		seen := map[string]bool{}
		want := false
		for _, f := range tor.Info.Files {
			if k := strings.ToLower(strings.Join(f.Path, "/")); !f.Pad {
				want = want || seen[k]
				seen[k] = true
			}
		}
		if got := mayFoldCollide(tor); got != want {
			t.Fatalf("mayFoldCollide = %v, want %v for %v", got, want, tor.Info.Files)
		}
		if want {
			collided++
		}
	}
	if collided < 1000 || collided > 19000 {
		t.Fatalf("%d of 20000 cases collide: the test does not exercise both answers", collided)
	}
}

func TestAppendLower(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	tests := []string{"", "abc", "ABC", "MiXeD 123", "ÀÉÎ", "ÅNGSTRÖM/Ω", "ǅ", "İstanbul", "Ⱥ", "K", "ß", "a\xffB", "\xe2\x82", "ok\u2028X"}
	for range 2000 {
		b := make([]byte, r.IntN(12))
		for i := range b {
			b[i] = byte(r.IntN(256))
		}
		tests = append(tests, string(b))
	}
	for _, s := range tests {
		if got, want := string(appendLower([]byte("prefix"), s)), "prefix"+strings.ToLower(s); got != want {
			t.Errorf("appendLower(%q) = %q, want %q", s, got, want)
		}
	}
}

// TestLintRepeatedComponents: a component shared by many files is reported
// for each of them, as when each file was checked on its own.
func TestLintRepeatedComponents(t *testing.T) {
	data := enc(t, m{"info": m{"name": "n", "piece length": 16384, "pieces": pieces(1), "files": []any{
		m{"length": 1, "path": []any{"a:b", "x"}}, m{"length": 1, "path": []any{"a:b", "y"}},
		m{"length": 1, "path": []any{"c", "y"}}, m{"length": 1, "path": []any{"c", "COM1.txt"}}, m{"length": 1, "path": []any{"a:b", "z"}}}}})
	tor, err := Parse(data, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range Lint(tor) {
		if f.ID == "non-portable-path" {
			got = append(got, f.Field)
		}
	}
	want := []string{"info.files[0].path", "info.files[1].path", "info.files[3].path", "info.files[4].path"}
	if !slices.Equal(got, want) {
		t.Fatalf("non-portable findings on %q, want %q", got, want)
	}
}
