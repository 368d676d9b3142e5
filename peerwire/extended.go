package peerwire

import (
	"fmt"
	"math"

	"tt/bencode"
)

// ExtendedHandshakeID is the ExtID of the extended handshake (BEP 10).
const ExtendedHandshakeID = 0

// ExtendedHandshake is the dictionary of the BEP 10 handshake. Zero values
// are absent keys, except M, which is always written.
type ExtendedHandshake struct {
	// M maps extension names to the ids the sender wants to receive them
	// under, 1 to 255; 0 means the extension is disabled.
	M map[string]int64 `bencode:"m"`
	// V is the client name and version.
	V string `bencode:"v,omitempty"`
	// P is the sender's TCP listen port.
	P int64 `bencode:"p,omitempty"`
	// Reqq is how many outstanding requests the sender accepts.
	Reqq int64 `bencode:"reqq,omitempty"`
	// YourIP is the receiver's address as the sender sees it: 4 or 16 bytes.
	YourIP []byte `bencode:"yourip,omitempty"`
	// IPv6 and IPv4 are addresses of the sender: 16 and 4 bytes.
	IPv6 []byte `bencode:"ipv6,omitempty"`
	IPv4 []byte `bencode:"ipv4,omitempty"`
	// MetadataSize is the size of the info dictionary (BEP 9).
	MetadataSize int64 `bencode:"metadata_size,omitempty"`
	// UploadOnly says the sender only uploads (BEP 21).
	UploadOnly bool `bencode:"upload_only,omitempty"`
	// UTPPacket is the largest uTP payload the sender can receive, when it
	// is more than the usual MTU-sized packet (tt's own key; others ignore
	// it).
	UTPPacket int64 `bencode:"tt_utp_packet,omitempty"`
}

// Marshal encodes h canonically after checking it the way
// ParseExtendedHandshake would: ids 0 to 255, port 0 to 65535, no negative
// reqq or metadata size, addresses of the right length, and at most
// MaxExtendedHandshakeLength bytes. Reqq is not clamped.
func (h ExtendedHandshake) Marshal() ([]byte, error) {
	for name, id := range h.M {
		if id < 0 || id > 255 {
			return nil, fmt.Errorf("%w: m[%q] = %d, want 0 to 255", ErrBadExtended, name, id)
		}
	}
	if err := checkInt("p", h.P, 0, math.MaxUint16); err != nil {
		return nil, err
	}
	if err := checkInt("reqq", h.Reqq, 0, math.MaxInt64); err != nil {
		return nil, err
	}
	if err := checkInt("metadata_size", h.MetadataSize, 0, math.MaxInt64); err != nil {
		return nil, err
	}
	// Empty addresses are absent ones.
	for _, f := range []struct {
		key  string
		addr *[]byte
		lens []int
	}{
		{"yourip", &h.YourIP, []int{4, 16}},
		{"ipv6", &h.IPv6, []int{16}},
		{"ipv4", &h.IPv4, []int{4}},
	} {
		if len(*f.addr) == 0 {
			*f.addr = nil
			continue
		}
		if err := checkAddr(f.key, *f.addr, f.lens); err != nil {
			return nil, err
		}
	}
	b, err := bencode.Marshal(h)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadExtended, err)
	}
	if len(b) > MaxExtendedHandshakeLength {
		return nil, fmt.Errorf("%w: extended handshake of %d bytes, limit %d", ErrMessageTooLong, len(b), MaxExtendedHandshakeLength)
	}
	return b, nil
}

// ParseExtendedHandshake parses the payload of an extended message with
// ExtID 0. It accepts the departures from canonical bencode that real
// clients make, ignores unknown keys, keeps the first of repeated keys,
// and rejects payloads over MaxExtendedHandshakeLength, known keys of the
// wrong type and out-of-range values; a Reqq above MaxRequestQueue is
// lowered to it. M is never nil. Byte fields are copies, so the payload
// may be reused afterwards.
func ParseExtendedHandshake(payload []byte) (ExtendedHandshake, error) {
	var h ExtendedHandshake
	if len(payload) > MaxExtendedHandshakeLength {
		return h, fmt.Errorf("%w: extended handshake of %d bytes, limit %d", ErrMessageTooLong, len(payload), MaxExtendedHandshakeLength)
	}
	root, _, err := bencode.Parse(payload, bencode.Options{Lenient: true})
	if err != nil {
		return h, fmt.Errorf("%w: %w", ErrBadExtended, err)
	}
	if root.Kind() != bencode.Dict {
		return h, fmt.Errorf("%w: %s, want dictionary", ErrBadExtended, root.Kind())
	}
	h.M = map[string]int64{}
	if m, ok := root.Get("m"); ok {
		if m.Kind() != bencode.Dict {
			return h, fmt.Errorf("%w: m is %s, want dictionary", ErrBadExtended, m.Kind())
		}
		for k, v := range m.Dict() {
			name, _ := k.Str()
			if _, dup := h.M[name]; dup {
				continue
			}
			id, ok := v.Int()
			if !ok {
				return h, fmt.Errorf("%w: m[%q] is %s, want integer", ErrBadExtended, name, v.Kind())
			}
			if id < 0 || id > 255 {
				return h, fmt.Errorf("%w: m[%q] = %d, want 0 to 255", ErrBadExtended, name, id)
			}
			h.M[name] = id
		}
	}
	if v, ok := root.Get("v"); ok {
		b, ok := v.Bytes()
		if !ok {
			return h, fmt.Errorf("%w: v is %s, want string", ErrBadExtended, v.Kind())
		}
		h.V = string(b)
	}
	if h.P, err = intField(root, "p", 0, math.MaxUint16); err != nil {
		return h, err
	}
	if h.Reqq, err = intField(root, "reqq", 0, math.MaxInt64); err != nil {
		return h, err
	}
	h.Reqq = min(h.Reqq, MaxRequestQueue)
	if h.MetadataSize, err = intField(root, "metadata_size", 0, math.MaxInt64); err != nil {
		return h, err
	}
	uploadOnly, err := intField(root, "upload_only", math.MinInt64, math.MaxInt64)
	if err != nil {
		return h, err
	}
	h.UploadOnly = uploadOnly != 0
	if h.UTPPacket, err = intField(root, "tt_utp_packet", 0, math.MaxUint16); err != nil {
		return h, err
	}
	if h.YourIP, err = addrField(root, "yourip", 4, 16); err != nil {
		return h, err
	}
	if h.IPv6, err = addrField(root, "ipv6", 16); err != nil {
		return h, err
	}
	if h.IPv4, err = addrField(root, "ipv4", 4); err != nil {
		return h, err
	}
	return h, nil
}

func intField(root bencode.Value, key string, lo, hi int64) (int64, error) {
	v, ok := root.Get(key)
	if !ok {
		return 0, nil
	}
	n, ok := v.Int()
	if !ok {
		return 0, fmt.Errorf("%w: %s is %s, want integer", ErrBadExtended, key, v.Kind())
	}
	if err := checkInt(key, n, lo, hi); err != nil {
		return 0, err
	}
	return n, nil
}

func checkInt(key string, n, lo, hi int64) error {
	if n < lo || n > hi {
		if hi == math.MaxInt64 {
			return fmt.Errorf("%w: %s = %d, want at least %d", ErrBadExtended, key, n, lo)
		}
		return fmt.Errorf("%w: %s = %d, want %d to %d", ErrBadExtended, key, n, lo, hi)
	}
	return nil
}

func addrField(root bencode.Value, key string, lens ...int) ([]byte, error) {
	v, ok := root.Get(key)
	if !ok {
		return nil, nil
	}
	b, ok := v.Bytes()
	if !ok {
		return nil, fmt.Errorf("%w: %s is %s, want string", ErrBadExtended, key, v.Kind())
	}
	if err := checkAddr(key, b, lens); err != nil {
		return nil, err
	}
	return append([]byte(nil), b...), nil
}

func checkAddr(key string, b []byte, lens []int) error {
	for _, n := range lens {
		if len(b) == n {
			return nil
		}
	}
	if len(lens) == 1 {
		return fmt.Errorf("%w: %s of %d bytes, want %d", ErrBadExtended, key, len(b), lens[0])
	}
	return fmt.Errorf("%w: %s of %d bytes, want %d or %d", ErrBadExtended, key, len(b), lens[0], lens[1])
}
