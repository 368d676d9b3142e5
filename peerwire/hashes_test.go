package peerwire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"
)

var testRoot = [HashSize]byte{0xaa, 0xbb, 0xcc, 0xdd, 31: 0xee}

// hashRequestWire is the payload of a request for root testRoot.
func hashRequestWire(base, index, length, proof uint32) []byte {
	return AppendHashRequest(nil, HashRange{Root: testRoot, Base: base, Index: index, Length: length, ProofLayers: proof})
}

func TestHashRequestRoundTrip(t *testing.T) {
	r := HashRange{Root: testRoot, Base: 3, Index: 1024, Length: 512, ProofLayers: 12}
	payload := AppendHashRequest(nil, r)
	want := h("aabbccdd" + strings.Repeat("00", 27) + "ee" + "00000003 00000400 00000200 0000000c")
	if !bytes.Equal(payload, want) {
		t.Fatalf("payload %x, want %x", payload, want)
	}
	got, err := ParseHashRequest(payload)
	if err != nil || got != r {
		t.Fatalf("ParseHashRequest = %+v, %v; want %+v", got, err, r)
	}
	// Through the Reader, as message 21 and 23.
	for _, k := range []Kind{HashRequest, HashReject} {
		wire := AppendMessage(nil, Message{Kind: k, Payload: payload})
		if wire[4] != kinds[k].id || binary.BigEndian.Uint32(wire) != 49 {
			t.Fatalf("%s header %x", k, wire[:5])
		}
		m, err := NewReader(bytes.NewReader(wire)).ReadMessage()
		if err != nil || m.Kind != k || !bytes.Equal(m.Payload, payload) {
			t.Fatalf("read %s: %v, %v", k, m, err)
		}
	}
}

// TestHashRequestUncles checks the count of BEP 52: the first
// log2(length)-1 proof layers carry no uncle.
func TestHashRequestUncles(t *testing.T) {
	for _, tc := range []struct {
		length, proof uint32
		uncles        int
	}{
		{2, 0, 0}, {2, 1, 1}, {2, 5, 5},
		{4, 0, 0}, {4, 1, 0}, {4, 2, 1}, {4, 6, 5},
		{512, 8, 0}, {512, 9, 1}, {512, 20, 12},
		{8192, 12, 0}, {8192, 13, 1},
	} {
		r := HashRange{Length: tc.length, ProofLayers: tc.proof}
		if err := r.Validate(); err != nil {
			t.Fatalf("%+v: %v", r, err)
		}
		if got := r.NumUncles(); got != tc.uncles {
			t.Errorf("length %d, proof %d: %d uncles, want %d", tc.length, tc.proof, got, tc.uncles)
		}
		if got := r.NumHashes(); got != int(tc.length)+tc.uncles {
			t.Errorf("length %d, proof %d: %d hashes", tc.length, tc.proof, got)
		}
	}
}

func TestHashRequestInvalid(t *testing.T) {
	for _, tc := range []struct {
		name                       string
		base, index, length, proof uint32
		msg                        string
	}{
		{"length 0", 0, 0, 0, 0, "length 0"},
		{"length 1", 0, 0, 1, 0, "length 1"},
		{"length 3", 0, 0, 3, 0, "length 3"},
		{"length 2^14", 0, 0, 1 << 14, 0, "length 16384"},
		{"length 2^31", 0, 0, 1 << 31, 0, "length 2147483648"},
		{"index not a multiple", 0, 6, 4, 0, "index 6 is not a multiple of length 4"},
		{"odd index", 0, 1, 2, 0, "index 1"},
		{"base 64", 64, 0, 2, 0, "base 64"},
		{"base 2^32-1", 0xffffffff, 0, 2, 0, "base 4294967295"},
		{"proof 64", 0, 0, 2, 64, "proof layers 64"},
		{"proof 2^32-1", 0, 0, 2, 0xffffffff, "proof layers 4294967295"},
		{"subtree past the top", 60, 0, 16, 0, "base 60 with length 16"},
		{"proof past the top", 40, 0, 2, 24, "base 40 with length 2 and 24 proof layers"},
	} {
		r, err := ParseHashRequest(hashRequestWire(tc.base, tc.index, tc.length, tc.proof))
		if !errors.Is(err, ErrBadHashRequest) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: error %v, want %v with %q", tc.name, err, ErrBadHashRequest, tc.msg)
		}
		// The request comes back as sent, for the reject.
		want := HashRange{Root: testRoot, Base: tc.base, Index: tc.index, Length: tc.length, ProofLayers: tc.proof}
		if r != want {
			t.Errorf("%s: returned %+v, want %+v", tc.name, r, want)
		}
	}
	for _, n := range []int{0, 47, 49, 1 << 16} {
		if _, err := ParseHashRequest(make([]byte, n)); !errors.Is(err, ErrBadLength) {
			t.Errorf("payload of %d bytes: %v, want %v", n, err, ErrBadLength)
		}
	}
}

func TestHashesRoundTrip(t *testing.T) {
	req := HashRange{Root: testRoot, Base: 2, Index: 8, Length: 4, ProofLayers: 4}
	hashes := make([]byte, req.NumHashes()*HashSize)
	for i := range hashes {
		hashes[i] = byte(i / HashSize)
	}
	payload := AppendHashes(nil, HashesMsg{HashRange: req, Hashes: hashes})
	if len(payload) != 48+7*32 {
		t.Fatalf("payload of %d bytes, want %d", len(payload), 48+7*32)
	}
	m, err := ParseHashes(payload)
	if err != nil || m.HashRange != req || !bytes.Equal(m.Hashes, hashes) {
		t.Fatalf("ParseHashes = %+v, %v", m, err)
	}
	if h := m.Hash(6); h[0] != 6 || h[31] != 6 {
		t.Fatalf("Hash(6) = %x", h)
	}
	wire := AppendMessage(nil, Message{Kind: Hashes, Payload: payload})
	got, err := NewReader(bytes.NewReader(wire)).ReadMessage()
	if err != nil || got.Kind != Hashes || !bytes.Equal(got.Payload, payload) {
		t.Fatalf("read hashes: %v, %v", got, err)
	}
}

func TestHashesInvalid(t *testing.T) {
	req := HashRange{Root: testRoot, Base: 0, Index: 0, Length: 2, ProofLayers: 3} // 2 + 3 hashes
	good := AppendHashes(nil, HashesMsg{HashRange: req, Hashes: make([]byte, 5*HashSize)})
	if _, err := ParseHashes(good); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		payload  []byte
		sentinel error
	}{
		{"short header", good[:47], ErrBadLength},
		{"no hashes", good[:48], ErrBadHashes},
		{"one hash short", good[:len(good)-HashSize], ErrBadHashes},
		{"one hash more", append(bytes.Clone(good), make([]byte, HashSize)...), ErrBadHashes},
		{"partial hash", good[:len(good)-1], ErrBadHashes},
		{"bad request fields", AppendHashes(nil, HashesMsg{HashRange: HashRange{Length: 3}, Hashes: make([]byte, 3*HashSize)}), ErrBadHashes},
		{"absurd count", AppendHashes(nil, HashesMsg{HashRange: HashRange{Length: 1 << 30}}), ErrBadHashes},
		{"over the limit", make([]byte, MaxHashesLength), ErrBadLength},
	} {
		if _, err := ParseHashes(tc.payload); !errors.Is(err, tc.sentinel) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.sentinel)
		}
	}
}

// TestHashMessageLengths: the Reader refuses a hash request or reject that
// is not exactly 49 bytes, and a hashes message longer than MaxHashesLength,
// before reading its body.
func TestHashMessageLengths(t *testing.T) {
	for _, tc := range []struct {
		name string
		wire []byte
		max  uint32
	}{
		{"short hash request", h("00000030 15"), 0},
		{"long hash reject", h("00000032 17"), 0},
		{"short hashes", h("00000030 16"), 0},
		{"hashes over the limit", binary.BigEndian.AppendUint32(nil, MaxHashesLength+1), 1 << 20},
	} {
		wire := tc.wire
		if len(wire) == 4 {
			wire = append(wire, 22)
		}
		r := NewReader(io.MultiReader(bytes.NewReader(wire), bytes.NewReader(make([]byte, 1<<20))))
		r.MaxLength = tc.max
		if m, err := r.ReadMessage(); !errors.Is(err, ErrBadLength) {
			t.Errorf("%s: %v, %v; want %v", tc.name, m, err, ErrBadLength)
		}
		if cap(r.buf) != 0 {
			t.Errorf("%s: %d bytes buffered", tc.name, cap(r.buf))
		}
	}
}

// FuzzHashRequest checks that parsing a hash request never panics, that
// what parses re-encodes to the same bytes, and that a valid request's
// hash count stays within the limits.
func FuzzHashRequest(f *testing.F) {
	f.Add(hashRequestWire(0, 0, 2, 0))
	f.Add(hashRequestWire(3, 1024, 512, 12))
	f.Add(hashRequestWire(0, 6, 4, 0))
	f.Add(hashRequestWire(63, 0, 2, 63))
	f.Add(hashRequestWire(0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ParseHashRequest(data)
		if err != nil {
			if errors.Is(err, ErrBadLength) {
				return
			}
			if !errors.Is(err, ErrBadHashRequest) {
				t.Fatalf("unexpected error kind: %v", err)
			}
		} else if n := r.NumHashes(); n < 2 || n > MaxHashCount+MaxHashLayers {
			t.Fatalf("%v: %d hashes", r, n)
		}
		if enc := AppendHashRequest(nil, r); !bytes.Equal(enc, data) {
			t.Fatalf("%v re-encodes to %x, read from %x", r, enc, data)
		}
	})
}

// FuzzHashes checks that parsing a hashes message never panics, never
// copies, and that what parses re-encodes to the same bytes with exactly
// the hashes its request calls for.
func FuzzHashes(f *testing.F) {
	for _, r := range []HashRange{
		{Length: 2},
		{Root: testRoot, Base: 2, Index: 8, Length: 4, ProofLayers: 4},
		{Length: 512, ProofLayers: 10},
	} {
		f.Add(AppendHashes(nil, HashesMsg{HashRange: r, Hashes: make([]byte, r.NumHashes()*HashSize)}))
	}
	f.Add(hashRequestWire(0, 0, 1<<30, 0))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseHashes(data)
		if err != nil {
			if !errors.Is(err, ErrBadLength) && !errors.Is(err, ErrBadHashes) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		if m.Validate() != nil || len(m.Hashes) != m.NumHashes()*HashSize {
			t.Fatalf("%v with %d bytes of hashes", m.HashRange, len(m.Hashes))
		}
		if len(m.Hashes) > 0 && &m.Hashes[0] != &data[hashRequestSize] {
			t.Fatal("hashes copied")
		}
		if enc := AppendHashes(nil, m); !bytes.Equal(enc, data) {
			t.Fatalf("re-encodes to %x, read from %x", enc, data)
		}
	})
}
