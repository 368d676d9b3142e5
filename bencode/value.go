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
	ix       *index // where the document's containers end, or nil
	// aux is, for a string, the offset of its contents; for a list or
	// dictionary of an indexed document, its slot in ix.
	aux int
}

// index lists every list and dictionary of a document in the order they
// open (so a container's first nested container is in the next slot), with
// where each ends and the slot that follows its nested ones. Walking a
// document with it jumps over nested containers instead of rescanning them.
type index struct {
	// Fixed-size chunks, so that growing the index never copies it.
	chunks []*[indexChunk]containerEnd
	n      int // slots in use
}

const indexChunk = 4096

type containerEnd struct {
	end  uint32 // offset just past the closing 'e'
	next uint32 // slot of the first container after this one's contents
}

// add reserves the next slot.
func (ix *index) add() int {
	if ix.n%indexChunk == 0 {
		ix.chunks = append(ix.chunks, new([indexChunk]containerEnd))
	}
	ix.n++
	return ix.n - 1
}

func (ix *index) at(slot int) *containerEnd {
	return &ix.chunks[slot/indexChunk][slot%indexChunk]
}

// span measures the value that starts at off in validated data, given the
// index slot the next container opened there has. It returns where the value
// ends, its aux (see Value), and the slot of the first container after it.
func span(data []byte, ix *index, off, slot int) (end, aux, next int) {
	switch c := data[off]; {
	case c == 'i':
		end = off + 2
		for data[end-1] != 'e' {
			end++
		}
		return end, 0, slot
	case c == 'l' || c == 'd':
		if ix == nil {
			return skip(data, off), 0, slot
		}
		e := ix.at(slot)
		return int(e.end), slot, int(e.next)
	default:
		n, i := 0, off
		for data[i] != ':' {
			n = n*10 + int(data[i]-'0')
			i++
		}
		return i + 1 + n, i + 1, slot
	}
}

// Kind returns the value's type.
func (v Value) Kind() Kind {
	if v.end <= v.off {
		return Invalid
	}
	return kindOf(v.data[v.off])
}

// kindOf is the kind of the value that starts with byte c in validated data.
func kindOf(c byte) Kind {
	switch c {
	case 'i':
		return Int
	case 'l':
		return List
	case 'd':
		return Dict
	}
	return String
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
	return v.data[v.aux:v.end:v.end], true
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
		c := v.Cursor()
		for i := 0; c.More(); i++ {
			if !yield(i, c.Value()) {
				return
			}
		}
	}
}

// Dict iterates over the entries of a dictionary in input order.
func (v Value) Dict() iter.Seq2[Value, Value] {
	return func(yield func(Value, Value) bool) {
		if v.Kind() != Dict {
			return
		}
		c := v.Cursor()
		for c.More() {
			k := c.Value()
			if !yield(k, c.Value()) {
				return
			}
		}
	}
}

// Len returns the number of elements of a list or entries of a dictionary,
// the length of a string, and 0 otherwise.
func (v Value) Len() int {
	switch v.Kind() {
	case String:
		return v.end - v.aux
	case List, Dict:
		n := 0
		for c := v.Cursor(); c.More(); c.Skip() {
			n++
		}
		if v.Kind() == Dict {
			n /= 2
		}
		return n
	}
	return 0
}

// Get returns the value stored under key in a dictionary. When the input
// repeats a key (accepted only in lenient mode) the first one wins.
func (v Value) Get(key string) (Value, bool) {
	if v.Kind() != Dict {
		return Value{}, false
	}
	for c := v.Cursor(); c.More(); c.Skip() {
		if k, _ := c.Bytes(); string(k) == key {
			return c.Value(), true
		}
	}
	return Value{}, false
}

// A Cursor reads the elements of a list, or the keys and values of a
// dictionary (alternately), one after the other. It is the fast way through
// a large document: reading a string or an integer with it makes no Value.
type Cursor struct {
	data     []byte
	ix       *index
	off, end int // the next element; the container's closing 'e'
	slot     int // the index slot of the next container
}

// Cursor returns a cursor at the first element of a list or the first key
// of a dictionary. For any other value it has no elements.
func (v Value) Cursor() Cursor {
	if k := v.Kind(); k != List && k != Dict {
		return Cursor{}
	}
	return Cursor{data: v.data, ix: v.ix, off: v.off + 1, end: v.end - 1, slot: v.aux + 1}
}

// More reports whether an element is left.
func (c *Cursor) More() bool { return c.off < c.end }

// Offset is the byte offset of the next element in the parsed input.
func (c *Cursor) Offset() int { return c.off }

// Kind is the type of the next element, Invalid when none is left.
func (c *Cursor) Kind() Kind {
	if c.off >= c.end {
		return Invalid
	}
	return kindOf(c.data[c.off])
}

// Value reads the next element; with none left it returns the zero Value.
func (c *Cursor) Value() Value {
	if c.off >= c.end {
		return Value{}
	}
	off := c.off
	end, aux, next := span(c.data, c.ix, off, c.slot)
	c.off, c.slot = end, next
	// Built in the return statement: copying a Value through a local is slow.
	return Value{data: c.data, off: off, end: end, ix: c.ix, aux: aux}
}

// Skip passes over the next element.
func (c *Cursor) Skip() {
	if c.off < c.end {
		c.off, _, c.slot = span(c.data, c.ix, c.off, c.slot)
	}
}

// Enter reads the next element if it is a list or a dictionary and returns
// a cursor over its elements; otherwise it reads nothing and returns false.
func (c *Cursor) Enter() (Cursor, bool) {
	if k := c.Kind(); k != List && k != Dict {
		return Cursor{}, false
	}
	off, slot := c.off, c.slot
	c.off, _, c.slot = span(c.data, c.ix, off, slot)
	return Cursor{data: c.data, ix: c.ix, off: off + 1, end: c.off - 1, slot: slot + 1}, true
}

// Bytes reads the next element if it is a string and returns its contents;
// otherwise it reads nothing and returns false.
func (c *Cursor) Bytes() ([]byte, bool) {
	if c.Kind() != String {
		return nil, false
	}
	n, i := 0, c.off
	for c.data[i] != ':' {
		n = n*10 + int(c.data[i]-'0')
		i++
	}
	c.off = i + 1 + n
	return c.data[i+1 : c.off : c.off], true
}

// Int reads the next element if it is an integer; otherwise it reads nothing
// and returns false.
func (c *Cursor) Int() (int64, bool) {
	if c.Kind() != Int {
		return 0, false
	}
	i := c.off + 1
	neg := c.data[i] == '-'
	if neg {
		i++
	}
	// Parse found the integer in range; accumulating its magnitude wraps
	// only for math.MinInt64, which negating then restores.
	var n int64
	for ; c.data[i] != 'e'; i++ {
		n = n*10 + int64(c.data[i]-'0')
	}
	if neg {
		n = -n
	}
	c.off = i + 1
	return n, true
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
