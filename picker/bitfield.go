package picker

import "math/bits"

// Bitfield is a fixed-length set of piece indexes. The zero value is an
// empty set of length zero. Out-of-range indexes are ignored by Set and
// Clear and reported absent by Has, so untrusted indexes never panic.
type Bitfield struct {
	words []uint64 // piece i is bit i%64 of words[i/64]
	n     int
}

// NewBitfield returns an empty set for n pieces.
func NewBitfield(n int) Bitfield {
	if n < 0 {
		n = 0
	}
	return Bitfield{words: make([]uint64, (n+63)/64), n: n}
}

// BitfieldFromBytes decodes the wire form of BEP 3 (the high bit of the
// first byte is piece 0) for n pieces. It returns ErrBitfield when the
// length is not (n+7)/8 bytes or a spare bit at the end is set.
func BitfieldFromBytes(b []byte, n int) (Bitfield, error) {
	if n < 0 || len(b) != (n+7)/8 {
		return Bitfield{}, ErrBitfield
	}
	if r := n % 8; r != 0 && b[len(b)-1]&(0xff>>r) != 0 {
		return Bitfield{}, ErrBitfield
	}
	bf := NewBitfield(n)
	for i, c := range b {
		if c != 0 {
			bf.words[i/8] |= uint64(bits.Reverse8(c)) << (uint(i%8) * 8)
		}
	}
	return bf, nil
}

// Bytes returns the wire form of BEP 3.
func (b Bitfield) Bytes() []byte {
	out := make([]byte, (b.n+7)/8)
	for i := range out {
		out[i] = bits.Reverse8(byte(b.words[i/8] >> (uint(i%8) * 8)))
	}
	return out
}

// Len returns the number of pieces the set describes.
func (b Bitfield) Len() int { return b.n }

// Has reports whether piece i is in the set.
func (b Bitfield) Has(i int) bool {
	if uint(i) >= uint(b.n) {
		return false
	}
	return b.words[i>>6]&(1<<(uint(i)&63)) != 0
}

// Set adds piece i.
func (b *Bitfield) Set(i int) {
	if uint(i) < uint(b.n) {
		b.words[i>>6] |= 1 << (uint(i) & 63)
	}
}

// Clear removes piece i.
func (b *Bitfield) Clear(i int) {
	if uint(i) < uint(b.n) {
		b.words[i>>6] &^= 1 << (uint(i) & 63)
	}
}

// SetAll adds every piece.
func (b *Bitfield) SetAll() {
	for i := range b.words {
		b.words[i] = ^uint64(0)
	}
	if r := b.n % 64; r != 0 {
		b.words[len(b.words)-1] = 1<<uint(r) - 1
	}
}

// Count returns the number of pieces in the set.
func (b Bitfield) Count() int {
	c := 0
	for _, w := range b.words {
		c += bits.OnesCount64(w)
	}
	return c
}

// Clone returns an independent copy.
func (b Bitfield) Clone() Bitfield {
	return Bitfield{words: append([]uint64(nil), b.words...), n: b.n}
}

// each calls f for every piece in the set, in increasing order.
func (b Bitfield) each(f func(i int)) {
	for wi, w := range b.words {
		for w != 0 {
			f(wi<<6 + bits.TrailingZeros64(w))
			w &= w - 1
		}
	}
}
