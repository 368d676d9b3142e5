package peerwire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
)

// BEP 52: the hash request (21), hashes (22) and hash reject (23) messages
// that carry the nodes of a file's merkle tree. Their Payload (after the id
// byte) is parsed and built here; the Reader frames them like a bitfield.

// Limits of the hash messages.
const (
	// HashSize is the size of one node of a v2 merkle tree (SHA-256).
	HashSize = 32
	// MaxHashCount bounds the length of a hash request: the blocks of a
	// 128 MiB piece, the most libtorrent asks for or answers.
	MaxHashCount = 8192
	// MaxHashLayers bounds the heights in a request: the base layer, the
	// subtree its hashes span, and the proof layers all stay below it (a
	// file of 2^63 bytes has a tree of 50 layers).
	MaxHashLayers = 64
	// hashRequestSize is the payload of a hash request or hash reject.
	hashRequestSize = HashSize + 4*4
	// MaxHashesLength bounds the length prefix of a hashes message: the id,
	// the request fields, MaxHashCount base hashes and an uncle per layer.
	MaxHashesLength = 1 + hashRequestSize + HashSize*(MaxHashCount+MaxHashLayers)
)

// Errors of the hash messages.
var (
	// ErrBadHashRequest reports a hash request or hash reject whose fields
	// break the rules of BEP 52 or exceed the limits above.
	ErrBadHashRequest = errors.New("peerwire: bad hash request")
	// ErrBadHashes reports a hashes message whose request fields are bad or
	// whose hashes are not the number they call for.
	ErrBadHashes = errors.New("peerwire: bad hashes message")
)

// HashRange is the payload of a hash request or a hash reject: Length
// nodes of the layer Base (0 is the leaf layer) of the tree whose root is
// Root, from Index, with the uncle hashes of ProofLayers layers above.
type HashRange struct {
	Root        [HashSize]byte
	Base        uint32
	Index       uint32
	Length      uint32
	ProofLayers uint32
}

func (r HashRange) String() string {
	return fmt.Sprintf("root %x base %d index %d length %d proof %d", r.Root[:4], r.Base, r.Index, r.Length, r.ProofLayers)
}

// Validate checks what BEP 52 and the limits ask of a request without the
// tree at hand: Length a power of two from 2 to MaxHashCount, Index a
// multiple of Length, and the base layer, the subtree of the requested
// hashes and the proof layers below MaxHashLayers. Whether the tree has
// those nodes is the caller's question.
func (r HashRange) Validate() error {
	switch {
	case r.Length < 2 || r.Length&(r.Length-1) != 0 || r.Length > MaxHashCount:
		return fmt.Errorf("%w: length %d, want a power of two from 2 to %d", ErrBadHashRequest, r.Length, MaxHashCount)
	case r.Index%r.Length != 0:
		return fmt.Errorf("%w: index %d is not a multiple of length %d", ErrBadHashRequest, r.Index, r.Length)
	case r.Base >= MaxHashLayers || r.ProofLayers >= MaxHashLayers:
		return fmt.Errorf("%w: base %d, proof layers %d, limit %d", ErrBadHashRequest, r.Base, r.ProofLayers, MaxHashLayers)
	case r.Base+uint32(r.spanHeight()) >= MaxHashLayers || r.Base+r.ProofLayers >= MaxHashLayers:
		return fmt.Errorf("%w: base %d with length %d and %d proof layers passes %d layers", ErrBadHashRequest, r.Base, r.Length, r.ProofLayers, MaxHashLayers)
	}
	return nil
}

// spanHeight is log2(Length): how far above the base layer the root of the
// requested hashes' subtree is. Length must be a power of two.
func (r HashRange) spanHeight() int { return bits.TrailingZeros32(r.Length) }

// NumUncles is the number of uncle hashes a hashes message for r carries:
// BEP 52 leaves out the first log2(Length)-1 proof layers, which the
// requested hashes cover themselves. r must be valid.
func (r HashRange) NumUncles() int {
	return max(0, int(r.ProofLayers)-r.spanHeight()+1)
}

// NumHashes is the number of hashes a hashes message for r carries: Length
// base hashes, then NumUncles uncles. r must be valid.
func (r HashRange) NumHashes() int { return int(r.Length) + r.NumUncles() }

// AppendHashRequest appends the payload of a hash request or hash reject.
func AppendHashRequest(dst []byte, r HashRange) []byte {
	dst = append(dst, r.Root[:]...)
	dst = binary.BigEndian.AppendUint32(dst, r.Base)
	dst = binary.BigEndian.AppendUint32(dst, r.Index)
	dst = binary.BigEndian.AppendUint32(dst, r.Length)
	return binary.BigEndian.AppendUint32(dst, r.ProofLayers)
}

// ParseHashRequest reads the payload of a hash request or hash reject. A
// payload of the wrong size fails with ErrBadLength and a zero request.
// Fields that break the rules fail with ErrBadHashRequest, and the request
// is returned as sent, so that a server can reject it.
func ParseHashRequest(payload []byte) (HashRange, error) {
	if len(payload) != hashRequestSize {
		return HashRange{}, fmt.Errorf("%w: hash request of %d bytes, want %d", ErrBadLength, len(payload), hashRequestSize)
	}
	r := parseRequestFields(payload)
	return r, r.Validate()
}

func parseRequestFields(b []byte) HashRange {
	var r HashRange
	copy(r.Root[:], b[:HashSize])
	b = b[HashSize:]
	r.Base = binary.BigEndian.Uint32(b[0:4])
	r.Index = binary.BigEndian.Uint32(b[4:8])
	r.Length = binary.BigEndian.Uint32(b[8:12])
	r.ProofLayers = binary.BigEndian.Uint32(b[12:16])
	return r
}

// HashesMsg is the payload of a hashes message: the request it answers and
// its hashes, the Length base hashes first and then the uncles, lowest
// first, HashSize bytes each.
type HashesMsg struct {
	HashRange
	// Hashes aliases the payload it was parsed from.
	Hashes []byte
}

// Hash returns hash i of the message; i must be below NumHashes.
func (m HashesMsg) Hash(i int) (h [HashSize]byte) {
	copy(h[:], m.Hashes[i*HashSize:])
	return h
}

// AppendHashes appends the payload of a hashes message.
func AppendHashes(dst []byte, m HashesMsg) []byte {
	dst = AppendHashRequest(dst, m.HashRange)
	return append(dst, m.Hashes...)
}

// ParseHashes reads the payload of a hashes message. It fails with
// ErrBadLength when the payload is shorter than the request fields or
// longer than MaxHashesLength allows, and with ErrBadHashes when the
// request fields are bad or the hashes are not exactly the number they call
// for. Nothing is allocated: Hashes aliases payload.
func ParseHashes(payload []byte) (HashesMsg, error) {
	if len(payload) < hashRequestSize || len(payload) > MaxHashesLength-1 {
		return HashesMsg{}, fmt.Errorf("%w: hashes message of %d bytes, want %d to %d", ErrBadLength, len(payload), hashRequestSize, MaxHashesLength-1)
	}
	m := HashesMsg{HashRange: parseRequestFields(payload), Hashes: payload[hashRequestSize:]}
	if err := m.Validate(); err != nil {
		return HashesMsg{}, fmt.Errorf("%w: %w", ErrBadHashes, err)
	}
	if want := m.NumHashes() * HashSize; len(m.Hashes) != want {
		return HashesMsg{}, fmt.Errorf("%w: %d bytes of hashes, %s needs %d", ErrBadHashes, len(m.Hashes), m.HashRange, want)
	}
	return m, nil
}
