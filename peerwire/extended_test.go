package peerwire

import (
	"bytes"
	"errors"
	"maps"
	"strings"
	"testing"

	"tt/bencode"
)

var extendedTests = []struct {
	name string
	wire string
	hs   ExtendedHandshake
}{
	{"empty m", "d1:mdee", ExtendedHandshake{M: map[string]int64{}}},
	{
		"typical",
		"d1:md11:ut_metadatai3e6:ut_pexi1ee13:metadata_sizei31235e1:pi6881e4:reqqi500e1:v14:uTorrent 3.5.56:yourip4:\x7f\x00\x00\x01e",
		ExtendedHandshake{
			M:            map[string]int64{"ut_metadata": 3, "ut_pex": 1},
			V:            "uTorrent 3.5.5",
			P:            6881,
			Reqq:         500,
			YourIP:       []byte{127, 0, 0, 1},
			MetadataSize: 31235,
		},
	},
	{
		"every field",
		"d4:ipv44:\x0a\x00\x00\x024:ipv616:\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01" +
			"1:md11:lt_donthavei0e11:ut_metadatai255ee13:metadata_sizei1e1:pi65535e4:reqqi2000e11:upload_onlyi1e" +
			"1:v2:tt6:yourip16:\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02e",
		ExtendedHandshake{
			M:            map[string]int64{"lt_donthave": 0, "ut_metadata": 255},
			V:            "tt",
			P:            65535,
			Reqq:         2000,
			YourIP:       []byte{0x20, 0x01, 0x0d, 0xb8, 14: 0, 15: 2},
			IPv6:         []byte{0x20, 0x01, 0x0d, 0xb8, 14: 0, 15: 1},
			IPv4:         []byte{10, 0, 0, 2},
			MetadataSize: 1,
			UploadOnly:   true,
		},
	},
}

func sameExtended(a, b ExtendedHandshake) bool {
	return maps.Equal(a.M, b.M) && (a.M == nil) == (b.M == nil) && a.V == b.V && a.P == b.P && a.Reqq == b.Reqq &&
		bytes.Equal(a.YourIP, b.YourIP) && bytes.Equal(a.IPv6, b.IPv6) && bytes.Equal(a.IPv4, b.IPv4) &&
		a.MetadataSize == b.MetadataSize && a.UploadOnly == b.UploadOnly
}

func TestExtendedHandshake(t *testing.T) {
	for _, tc := range extendedTests {
		got, err := ParseExtendedHandshake([]byte(tc.wire))
		if err != nil {
			t.Errorf("%s: parse: %v", tc.name, err)
		} else if !sameExtended(got, tc.hs) {
			t.Errorf("%s: parse = %+v, want %+v", tc.name, got, tc.hs)
		}
		b, err := tc.hs.Marshal()
		if err != nil {
			t.Errorf("%s: marshal: %v", tc.name, err)
		} else if string(b) != tc.wire {
			t.Errorf("%s: marshal\n got %q\nwant %q", tc.name, b, tc.wire)
		}
	}
}

func TestMarshalExtendedZero(t *testing.T) {
	b, err := ExtendedHandshake{YourIP: []byte{}}.Marshal()
	if err != nil || string(b) != "d1:mdee" {
		t.Fatalf("Marshal = %q, %v", b, err)
	}
}

func TestParseExtendedLenient(t *testing.T) {
	tests := []struct {
		name string
		wire string
		hs   ExtendedHandshake
	}{
		{"no m", "de", ExtendedHandshake{M: map[string]int64{}}},
		{"unknown keys", "d1:ei1e12:complete_agoi-1e1:md6:ut_pexi2ee7:unknownld1:xleee5:zzzzzi9ee",
			ExtendedHandshake{M: map[string]int64{"ut_pex": 2}}},
		{"unsorted keys", "d1:pi1e1:md1:bi2e1:ai1eee", ExtendedHandshake{M: map[string]int64{"a": 1, "b": 2}, P: 1}},
		{"duplicate keys keep the first", "d1:md1:ai1e1:ai2ee1:pi5e1:pi6ee", ExtendedHandshake{M: map[string]int64{"a": 1}, P: 5}},
		{"leading zero", "d1:md1:ai01eee", ExtendedHandshake{M: map[string]int64{"a": 1}}},
		{"trailing bytes", "d1:mdeexyz", ExtendedHandshake{M: map[string]int64{}}},
		{"reqq clamped", "d4:reqqi1000000000ee", ExtendedHandshake{M: map[string]int64{}, Reqq: MaxRequestQueue}},
		{"reqq max int64 clamped", "d4:reqqi9223372036854775807ee", ExtendedHandshake{M: map[string]int64{}, Reqq: MaxRequestQueue}},
		{"upload_only any non-zero", "d11:upload_onlyi-7ee", ExtendedHandshake{M: map[string]int64{}, UploadOnly: true}},
		{"upload_only zero", "d11:upload_onlyi0ee", ExtendedHandshake{M: map[string]int64{}}},
		{"tt_utp_packet", "d13:tt_utp_packeti65000ee", ExtendedHandshake{M: map[string]int64{}, UTPPacket: 65000}},
		{"binary names", "d1:md3:\x00\xff\x01i7eee", ExtendedHandshake{M: map[string]int64{"\x00\xff\x01": 7}}},
	}
	for _, tc := range tests {
		got, err := ParseExtendedHandshake([]byte(tc.wire))
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
		} else if !sameExtended(got, tc.hs) {
			t.Errorf("%s: got %+v, want %+v", tc.name, got, tc.hs)
		}
	}
}

// TestParseExtendedCopies checks that the result does not alias the payload,
// which lives in the Reader's reused buffer.
func TestParseExtendedCopies(t *testing.T) {
	payload := []byte("d1:v2:tt6:yourip4:\x01\x02\x03\x04e")
	hs, err := ParseExtendedHandshake(payload)
	if err != nil {
		t.Fatal(err)
	}
	for i := range payload {
		payload[i] = 0
	}
	if hs.V != "tt" || !bytes.Equal(hs.YourIP, []byte{1, 2, 3, 4}) {
		t.Fatalf("result aliases the payload: %+v", hs)
	}
}

var deepExtended = "d1:x" + strings.Repeat("l", 200) + strings.Repeat("e", 200) + "e"

var extendedErrorTests = []struct {
	name     string
	wire     string
	sentinel error
	msg      string
}{
	{"empty", "", ErrBadExtended, "peerwire: bad extended handshake: bencode: at byte 0: no data"},
	{"not bencode", "hello", ErrBadExtended, "peerwire: bad extended handshake: bencode: at byte 0: invalid byte 'h' (0x68)"},
	{"truncated", "d1:md", ErrBadExtended, "peerwire: bad extended handshake: bencode: m at byte 5: unexpected end of data"},
	{"huge string length", "d1:v99999999999:xe", ErrBadExtended, "peerwire: bad extended handshake: bencode: v at byte 4: string longer than the data left"},
	{"deep nesting", deepExtended, ErrBadExtended, "peerwire: bad extended handshake: bencode: x" + strings.Repeat("[0]", 99) + " at byte 103: nesting too deep"},
	{"list", "le", ErrBadExtended, "peerwire: bad extended handshake: list, want dictionary"},
	{"integer", "i1e", ErrBadExtended, "peerwire: bad extended handshake: integer, want dictionary"},
	{"m list", "d1:mlee", ErrBadExtended, "peerwire: bad extended handshake: m is list, want dictionary"},
	{"m string value", "d1:md1:a1:xee", ErrBadExtended, `peerwire: bad extended handshake: m["a"] is string, want integer`},
	{"m id 256", "d1:md11:ut_metadatai256eee", ErrBadExtended, `peerwire: bad extended handshake: m["ut_metadata"] = 256, want 0 to 255`},
	{"m id -1", "d1:md1:ai-1eee", ErrBadExtended, `peerwire: bad extended handshake: m["a"] = -1, want 0 to 255`},
	{"m id overflow", "d1:md1:ai99999999999999999999eee", ErrBadExtended, "peerwire: bad extended handshake: bencode: m.a at byte 8: integer out of int64 range"},
	{"v integer", "d1:vi1ee", ErrBadExtended, "peerwire: bad extended handshake: v is integer, want string"},
	{"p 65536", "d1:pi65536ee", ErrBadExtended, "peerwire: bad extended handshake: p = 65536, want 0 to 65535"},
	{"p negative", "d1:pi-1ee", ErrBadExtended, "peerwire: bad extended handshake: p = -1, want 0 to 65535"},
	{"p string", "d1:p4:6881e", ErrBadExtended, "peerwire: bad extended handshake: p is string, want integer"},
	{"reqq negative", "d4:reqqi-5ee", ErrBadExtended, "peerwire: bad extended handshake: reqq = -5, want at least 0"},
	{"metadata_size negative", "d13:metadata_sizei-1ee", ErrBadExtended, "peerwire: bad extended handshake: metadata_size = -1, want at least 0"},
	{"metadata_size dict", "d13:metadata_sizedee", ErrBadExtended, "peerwire: bad extended handshake: metadata_size is dictionary, want integer"},
	{"upload_only string", "d11:upload_only1:1e", ErrBadExtended, "peerwire: bad extended handshake: upload_only is string, want integer"},
	{"yourip 5 bytes", "d6:yourip5:abcdee", ErrBadExtended, "peerwire: bad extended handshake: yourip of 5 bytes, want 4 or 16"},
	{"yourip empty", "d6:yourip0:e", ErrBadExtended, "peerwire: bad extended handshake: yourip of 0 bytes, want 4 or 16"},
	{"yourip integer", "d6:youripi1ee", ErrBadExtended, "peerwire: bad extended handshake: yourip is integer, want string"},
	{"ipv4 16 bytes", "d4:ipv416:0123456789abcdefe", ErrBadExtended, "peerwire: bad extended handshake: ipv4 of 16 bytes, want 4"},
	{"ipv6 4 bytes", "d4:ipv64:abcde", ErrBadExtended, "peerwire: bad extended handshake: ipv6 of 4 bytes, want 16"},
	{"too long", "d1:v65536:" + strings.Repeat("x", 65536) + "e", ErrMessageTooLong, "peerwire: message too long: extended handshake of 65547 bytes, limit 65536"},
}

func TestParseExtendedErrors(t *testing.T) {
	for _, tc := range extendedErrorTests {
		_, err := ParseExtendedHandshake([]byte(tc.wire))
		if !errors.Is(err, tc.sentinel) {
			t.Errorf("%s: error %v is not %v", tc.name, err, tc.sentinel)
			continue
		}
		if err.Error() != tc.msg {
			t.Errorf("%s: error\n got %s\nwant %s", tc.name, err, tc.msg)
		}
	}
	// The bencode error stays reachable for callers that want its offset.
	_, err := ParseExtendedHandshake([]byte("d1:md"))
	var be *bencode.Error
	if !errors.As(err, &be) || be.Offset != 5 {
		t.Errorf("bencode error not wrapped: %v", err)
	}
}

func TestMarshalExtendedErrors(t *testing.T) {
	tests := []struct {
		name     string
		hs       ExtendedHandshake
		sentinel error
		msg      string
	}{
		{"id 256", ExtendedHandshake{M: map[string]int64{"x": 256}}, ErrBadExtended, `peerwire: bad extended handshake: m["x"] = 256, want 0 to 255`},
		{"id -1", ExtendedHandshake{M: map[string]int64{"x": -1}}, ErrBadExtended, `peerwire: bad extended handshake: m["x"] = -1, want 0 to 255`},
		{"port", ExtendedHandshake{P: 70000}, ErrBadExtended, "peerwire: bad extended handshake: p = 70000, want 0 to 65535"},
		{"reqq", ExtendedHandshake{Reqq: -1}, ErrBadExtended, "peerwire: bad extended handshake: reqq = -1, want at least 0"},
		{"metadata_size", ExtendedHandshake{MetadataSize: -1}, ErrBadExtended, "peerwire: bad extended handshake: metadata_size = -1, want at least 0"},
		{"yourip", ExtendedHandshake{YourIP: []byte{1, 2, 3}}, ErrBadExtended, "peerwire: bad extended handshake: yourip of 3 bytes, want 4 or 16"},
		{"ipv6", ExtendedHandshake{IPv6: []byte{1, 2, 3, 4}}, ErrBadExtended, "peerwire: bad extended handshake: ipv6 of 4 bytes, want 16"},
		{"ipv4", ExtendedHandshake{IPv4: make([]byte, 16)}, ErrBadExtended, "peerwire: bad extended handshake: ipv4 of 16 bytes, want 4"},
		{"too long", ExtendedHandshake{V: strings.Repeat("x", 65536)}, ErrMessageTooLong, "peerwire: message too long: extended handshake of 65552 bytes, limit 65536"},
	}
	for _, tc := range tests {
		_, err := tc.hs.Marshal()
		if !errors.Is(err, tc.sentinel) {
			t.Errorf("%s: error %v is not %v", tc.name, err, tc.sentinel)
			continue
		}
		if err.Error() != tc.msg {
			t.Errorf("%s: error\n got %s\nwant %s", tc.name, err, tc.msg)
		}
	}
}

// TestExtendedHandshakeMessage sends an extended handshake through the
// message layer, as a connection does.
func TestExtendedHandshakeMessage(t *testing.T) {
	payload, err := ExtendedHandshake{M: map[string]int64{"ut_metadata": 2}, Reqq: 250}.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	wire := AppendMessage(nil, Message{Kind: Extended, ExtID: ExtendedHandshakeID, Payload: payload})
	m, err := NewReader(bytes.NewReader(wire)).ReadMessage()
	if err != nil || m.Kind != Extended || m.ExtID != ExtendedHandshakeID {
		t.Fatalf("ReadMessage = %v, %v", m, err)
	}
	hs, err := ParseExtendedHandshake(m.Payload)
	if err != nil || hs.M["ut_metadata"] != 2 || hs.Reqq != 250 {
		t.Fatalf("ParseExtendedHandshake = %+v, %v", hs, err)
	}
}
