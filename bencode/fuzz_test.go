package bencode

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// toAny turns a validated value into plain Go values (int64, string,
// []any, map[string]any) for Marshal to encode again.
func toAny(v Value) any {
	switch v.Kind() {
	case Int:
		n, _ := v.Int()
		return n
	case String:
		s, _ := v.Str()
		return s
	case List:
		out := []any{}
		for _, e := range v.List() {
			out = append(out, toAny(e))
		}
		return out
	}
	out := map[string]any{}
	for k, e := range v.Dict() {
		key, _ := k.Str()
		out[key] = toAny(e)
	}
	return out
}

// FuzzParse checks that Parse never panics, that what strict mode accepts
// survives validate → plain Go values → Marshal unchanged, that canonicalising what
// lenient mode accepts yields strict-valid bencode, and that walking a
// document gives the same with and without the container index.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"i0e", "i-1e", "4:spam", "le", "de", "d1:ai1e1:bl1:xee", "d1:bi03e1:ai-0ee", "l" + "i9223372036854775807e" + "e"} {
		f.Add([]byte(s))
	}
	seeds, _ := filepath.Glob(filepath.Join("..", "metainfo", "testdata", "corpus", "*.torrent"))
	for _, p := range seeds {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, _, err := Parse(data, Options{})
		if err == nil {
			if !bytes.Equal(v.Raw(), data) {
				t.Fatalf("strict raw %q != input %q", v.Raw(), data)
			}
			if c := AppendCanonical(nil, v); !bytes.Equal(c, data) {
				t.Fatalf("strict input not reproduced: %q -> %q", data, c)
			}
			enc, err := Marshal(toAny(v))
			if err != nil {
				t.Fatalf("re-encode: %v", err)
			}
			if !bytes.Equal(enc, data) {
				t.Fatalf("round trip %q -> %q", data, enc)
			}
		}
		lv, _, err := Parse(data, Options{Lenient: true})
		if err != nil {
			return
		}
		// Walking with the container index and without it agrees.
		iv, _, _ := parse(data, Options{Lenient: true}, true)
		pv, _, _ := parse(data, Options{Lenient: true}, false)
		if walk(iv) != walk(pv) {
			t.Fatalf("indexed walk of %q differs", data)
		}
		c := AppendCanonical(nil, lv)
		if _, _, err := Parse(c, Options{}); err != nil {
			t.Fatalf("canonical form of %q is invalid: %q: %v", data, c, err)
		}
		if len(c) > len(data) {
			t.Fatalf("canonical form grew from %d to %d bytes", len(data), len(c))
		}
	})
}
