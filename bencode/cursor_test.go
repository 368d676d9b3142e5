package bencode

import (
	"fmt"
	"math"
	"strings"
	"testing"
)

func TestCursor(t *testing.T) {
	in := "d5:filesld6:lengthi-7e4:pathl1:a2:bbeed6:lengthi9223372036854775807e4:pathl1:ci1eeee3:numi-9223372036854775808e1:sl0:ee"
	for _, indexed := range []bool{false, true} {
		v, _, err := parse([]byte(in), Options{}, indexed)
		if err != nil {
			t.Fatal(err)
		}
		top := v.Cursor()
		if k, _ := top.Bytes(); string(k) != "files" {
			t.Fatalf("indexed %v: first key %q", indexed, k)
		}
		if _, ok := top.Int(); ok || top.Kind() != List {
			t.Fatalf("Int read a list")
		}
		files, ok := top.Enter()
		if !ok {
			t.Fatal("Enter files")
		}
		var got []string
		for files.More() {
			at := files.Offset()
			entries, _ := files.Enter()
			for entries.More() {
				key, _ := entries.Bytes()
				switch string(key) {
				case "length":
					n, _ := entries.Int()
					got = append(got, fmt.Sprintf("@%d length %d", at, n))
				case "path":
					path, _ := entries.Enter()
					for path.More() {
						if s, ok := path.Bytes(); ok {
							got = append(got, string(s))
							continue
						}
						got = append(got, fmt.Sprintf("%v@%d", path.Kind(), path.Offset()))
						path.Skip()
					}
				}
			}
		}
		want := "@9 length -7,a,bb,@38 length 9223372036854775807,c,integer@78"
		if strings.Join(got, ",") != want {
			t.Fatalf("indexed %v:\n got %s\nwant %s", indexed, strings.Join(got, ","), want)
		}
		if k, _ := top.Bytes(); string(k) != "num" {
			t.Fatalf("key after files %q", k)
		}
		if n, ok := top.Int(); !ok || n != math.MinInt64 {
			t.Fatalf("min int %d %v", n, ok)
		}
		top.Skip() // "s"
		if l := top.Value(); l.Kind() != List || l.Len() != 1 || string(l.Raw()) != "l0:e" {
			t.Fatalf("last value %v %q", l.Kind(), l.Raw())
		}
		if top.More() || top.Kind() != Invalid || top.Value().Kind() != Invalid {
			t.Fatal("cursor not at the end")
		}
		top.Skip() // at the end: no effect
		if _, ok := top.Enter(); ok {
			t.Fatal("Enter past the end")
		}
	}
	var zero Value
	if c := zero.Cursor(); c.More() {
		t.Fatal("zero Value has elements")
	}
	s, _, _ := Parse([]byte("4:spam"), Options{})
	if c := s.Cursor(); c.More() || s.Len() != 4 {
		t.Fatal("string as container")
	}
}

// TestIndexThreshold: documents from indexMin bytes on are indexed, and walk
// the same as without the index.
func TestIndexThreshold(t *testing.T) {
	small, _, _ := Parse([]byte("le"), Options{})
	if small.ix != nil {
		t.Fatal("small document indexed")
	}
	var sb strings.Builder
	sb.WriteString("l")
	for i := 0; sb.Len() < indexMin; i++ {
		fmt.Fprintf(&sb, "d1:ai%de1:bl1:xli%deeee", i, -i)
	}
	sb.WriteString("e")
	big, _, _ := Parse([]byte(sb.String()), Options{})
	if big.ix == nil {
		t.Fatal("large document not indexed")
	}
	plain, _, _ := parse([]byte(sb.String()), Options{}, false)
	if walk(big) != walk(plain) {
		t.Fatal("indexed walk differs")
	}
}

// walk renders v through every accessor.
func walk(v Value) string {
	var b strings.Builder
	var rec func(v Value)
	rec = func(v Value) {
		fmt.Fprintf(&b, "%v@%d+%d:%d ", v.Kind(), v.Offset(), len(v.Raw()), v.Len())
		switch v.Kind() {
		case Int:
			n, _ := v.Int()
			fmt.Fprintf(&b, "%d ", n)
		case String:
			s, _ := v.Bytes()
			fmt.Fprintf(&b, "%q ", s)
		case List:
			for i, e := range v.List() {
				fmt.Fprintf(&b, "[%d]", i)
				rec(e)
			}
		case Dict:
			for k, e := range v.Dict() {
				ks, _ := k.Str()
				g, _ := v.Get(ks)
				fmt.Fprintf(&b, "{%q get@%d}", ks, g.Offset())
				rec(e)
			}
		}
		// The cursor sees the same elements.
		for c := v.Cursor(); c.More(); {
			k, at := c.Kind(), c.Offset()
			e := c.Value()
			fmt.Fprintf(&b, "<%v@%d=%v@%d>", k, at, e.Kind(), e.Offset())
		}
	}
	rec(v)
	return b.String()
}
