package bencode

import (
	"bytes"
	"iter"
	"slices"
)

// Kind is the type of a bencoded value.
type Kind uint8

// The four bencode kinds; Invalid is the zero Value's kind.
const (
	Invalid Kind = iota
	Int
	String
	List
	Dict
)

func (k Kind) String() string {
	switch k {
	case Int:
		return "integer"
	case String:
		return "string"
	case List:
		return "list"
	case Dict:
		return "dictionary"
	}
	return "invalid"
}

// Value is a read-only view of one validated bencoded value inside the input
// given to Parse. It holds no copy: Raw returns the exact input bytes.
type Value struct {
	data     []byte // the whole document
	off, end int
}

// Kind returns the value's type.
func (v Value) Kind() Kind {
	if v.end <= v.off {
		return Invalid
	}
	switch c := v.data[v.off]; {
	case c == 'i':
		return Int
	case c == 'l':
		return List
	case c == 'd':
		return Dict
	case c >= '0' && c <= '9':
		return String
	}
	return Invalid
}

// Offset is the byte offset of the value in the parsed input.
func (v Value) Offset() int { return v.off }

// Raw returns the exact bytes of the value as they appear in the input.
func (v Value) Raw() []byte { return v.data[v.off:v.end:v.end] }

// Int returns the value of an integer.
func (v Value) Int() (int64, bool) {
	if v.Kind() != Int {
		return 0, false
	}
	return parseInt(v.data[v.off+1 : v.end-1])
}

// Bytes returns the contents of a string (a sub-slice of the input).
func (v Value) Bytes() ([]byte, bool) {
	if v.Kind() != String {
		return nil, false
	}
	i := v.off
	for v.data[i] != ':' {
		i++
	}
	return v.data[i+1 : v.end : v.end], true
}

// Str returns the contents of a string as a Go string.
func (v Value) Str() (string, bool) {
	b, ok := v.Bytes()
	return string(b), ok
}

// List iterates over the elements of a list with their indices.
func (v Value) List() iter.Seq2[int, Value] {
	return func(yield func(int, Value) bool) {
		if v.Kind() != List {
			return
		}
		off := v.off + 1
		for i := 0; v.data[off] != 'e'; i++ {
			end := skip(v.data, off)
			if !yield(i, Value{data: v.data, off: off, end: end}) {
				return
			}
			off = end
		}
	}
}

// Dict iterates over the entries of a dictionary in input order.
func (v Value) Dict() iter.Seq2[Value, Value] {
	return func(yield func(Value, Value) bool) {
		if v.Kind() != Dict {
			return
		}
		off := v.off + 1
		for v.data[off] != 'e' {
			kend := skip(v.data, off)
			vend := skip(v.data, kend)
			if !yield(Value{data: v.data, off: off, end: kend}, Value{data: v.data, off: kend, end: vend}) {
				return
			}
			off = vend
		}
	}
}

// Len returns the number of elements of a list or entries of a dictionary,
// the length of a string, and 0 otherwise.
func (v Value) Len() int {
	switch v.Kind() {
	case String:
		b, _ := v.Bytes()
		return len(b)
	case List:
		n := 0
		for range v.List() {
			n++
		}
		return n
	case Dict:
		n := 0
		for range v.Dict() {
			n++
		}
		return n
	}
	return 0
}

// Get returns the value stored under key in a dictionary. When the input
// repeats a key (accepted only in lenient mode) the first one wins.
func (v Value) Get(key string) (Value, bool) {
	for k, val := range v.Dict() {
		if b, _ := k.Bytes(); string(b) == key {
			return val, true
		}
	}
	return Value{}, false
}

// skip returns the offset just past the value at off in validated data.
func skip(data []byte, off int) int {
	switch c := data[off]; {
	case c == 'i':
		for data[off] != 'e' {
			off++
		}
		return off + 1
	case c == 'l' || c == 'd':
		off++
		for data[off] != 'e' {
			off = skip(data, off)
		}
		return off + 1
	default:
		n := 0
		for data[off] != ':' {
			n = n*10 + int(data[off]-'0')
			off++
		}
		return off + 1 + n
	}
}

// AppendCanonical appends the canonical encoding of v: dictionary keys sorted
// and unique (the first of repeated keys wins, as in Get), integers without
// leading zeros or -0. For input that parsed in strict mode it reproduces
// Raw exactly.
func AppendCanonical(dst []byte, v Value) []byte {
	switch v.Kind() {
	case Int:
		n, _ := v.Int()
		return AppendInt(dst, n)
	case String:
		b, _ := v.Bytes()
		return AppendBytes(dst, b)
	case List:
		dst = append(dst, 'l')
		for _, e := range v.List() {
			dst = AppendCanonical(dst, e)
		}
		return append(dst, 'e')
	case Dict:
		type entry struct {
			key []byte
			val Value
		}
		var entries []entry
		for k, val := range v.Dict() {
			kb, _ := k.Bytes()
			entries = append(entries, entry{kb, val})
		}
		// A stable sort keeps the first of equal keys first.
		slices.SortStableFunc(entries, func(a, b entry) int { return bytes.Compare(a.key, b.key) })
		dst = append(dst, 'd')
		for i, e := range entries {
			if i > 0 && bytes.Equal(entries[i-1].key, e.key) {
				continue
			}
			dst = AppendBytes(dst, e.key)
			dst = AppendCanonical(dst, e.val)
		}
		return append(dst, 'e')
	}
	return dst
}
