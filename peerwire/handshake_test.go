package peerwire

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

func testHandshake() Handshake {
	var hs Handshake
	for i := range hs.InfoHash {
		hs.InfoHash[i] = byte(i + 1)
		hs.PeerID[i] = byte(0xa0 + i)
	}
	hs.Reserved = [8]byte{0, 0, 0, 0, 0, 0x10, 0, 0x05}
	return hs
}

var handshakeWire = h("13" + "426974546f7272656e742070726f746f636f6c" + // 19, "BitTorrent protocol"
	"0000000000100005" +
	"0102030405060708090a0b0c0d0e0f1011121314" +
	"a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3")

func TestHandshakeEncoding(t *testing.T) {
	if len(handshakeWire) != HandshakeLength || HandshakeLength != 68 {
		t.Fatalf("wire length %d, HandshakeLength %d", len(handshakeWire), HandshakeLength)
	}
	if got := AppendHandshake(nil, testHandshake()); !bytes.Equal(got, handshakeWire) {
		t.Fatalf("AppendHandshake =\n%x\nwant\n%x", got, handshakeWire)
	}
	var buf bytes.Buffer
	if err := WriteHandshake(&buf, testHandshake()); err != nil || !bytes.Equal(buf.Bytes(), handshakeWire) {
		t.Fatalf("WriteHandshake = %x, %v", buf.Bytes(), err)
	}
	got, err := ReadHandshake(bytes.NewReader(handshakeWire))
	if err != nil || got != testHandshake() {
		t.Fatalf("ReadHandshake = %+v, %v", got, err)
	}
}

// TestReadHandshakeExact checks that nothing after the handshake is consumed.
func TestReadHandshakeExact(t *testing.T) {
	r := bytes.NewReader(append(append([]byte(nil), handshakeWire...), h("00000001 01")...))
	if _, err := ReadHandshake(r); err != nil {
		t.Fatal(err)
	}
	m, err := NewReader(r).ReadMessage()
	if err != nil || m.Kind != Unchoke {
		t.Fatalf("message after handshake: %v, %v", m, err)
	}
}

func TestReadHandshakeSplit(t *testing.T) {
	r := bytes.NewReader(handshakeWire)
	start, err := ReadHandshakeStart(r)
	if err != nil {
		t.Fatal(err)
	}
	want := testHandshake()
	if start.Reserved != want.Reserved || start.InfoHash != want.InfoHash || start.PeerID != [20]byte{} {
		t.Fatalf("ReadHandshakeStart = %+v", start)
	}
	if r.Len() != 20 {
		t.Fatalf("ReadHandshakeStart left %d bytes, want 20", r.Len())
	}
	id, err := ReadPeerID(r)
	if err != nil || id != want.PeerID {
		t.Fatalf("ReadPeerID = %x, %v", id, err)
	}
}

func TestReadHandshakeErrors(t *testing.T) {
	tests := []struct {
		name     string
		wire     []byte
		sentinel error
		msg      string
	}{
		{"empty", nil, io.ErrUnexpectedEOF, "peerwire: reading handshake: unexpected EOF"},
		{"length byte", append([]byte{18}, handshakeWire[1:]...), ErrBadProtocol, "peerwire: bad protocol string: length byte 18, want 19"},
		{"zero length byte", make([]byte, 68), ErrBadProtocol, "peerwire: bad protocol string: length byte 0, want 19"},
		{"http", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), ErrBadProtocol, "peerwire: bad protocol string: length byte 71, want 19"},
		{"protocol string", append([]byte("\x13BitTorrent Protocol"), handshakeWire[20:]...), ErrBadProtocol, `peerwire: bad protocol string: "BitTorrent Protocol"`},
		{"short protocol", handshakeWire[:10], io.ErrUnexpectedEOF, "peerwire: reading handshake: unexpected EOF"},
		{"short info hash", handshakeWire[:40], io.ErrUnexpectedEOF, "peerwire: reading handshake: unexpected EOF"},
		{"no peer id", handshakeWire[:48], io.ErrUnexpectedEOF, "peerwire: reading handshake peer id: unexpected EOF"},
		{"short peer id", handshakeWire[:67], io.ErrUnexpectedEOF, "peerwire: reading handshake peer id: unexpected EOF"},
	}
	for _, tc := range tests {
		_, err := ReadHandshake(bytes.NewReader(tc.wire))
		if !errors.Is(err, tc.sentinel) {
			t.Errorf("%s: error %v is not %v", tc.name, err, tc.sentinel)
			continue
		}
		if err.Error() != tc.msg {
			t.Errorf("%s: error\n got %s\nwant %s", tc.name, err, tc.msg)
		}
	}
}

func TestWriteHandshakeError(t *testing.T) {
	boom := errors.New("boom")
	err := WriteHandshake(errWriter{boom}, Handshake{})
	if !errors.Is(err, boom) || err.Error() != "peerwire: writing handshake: boom" {
		t.Fatalf("err = %v", err)
	}
}

type errWriter struct{ err error }

func (e errWriter) Write([]byte) (int, error) { return 0, e.err }

func TestReservedBits(t *testing.T) {
	tests := []struct {
		bit      Bit
		reserved [8]byte
	}{
		{BitDHT, [8]byte{7: 0x01}},
		{BitFast, [8]byte{7: 0x04}},
		{BitExtended, [8]byte{5: 0x10}},
		{63, [8]byte{0: 0x80}},
		{8, [8]byte{6: 0x01}},
	}
	for _, tc := range tests {
		var hs Handshake
		hs.Set(tc.bit)
		if hs.Reserved != tc.reserved {
			t.Errorf("Set(%d): reserved %x, want %x", tc.bit, hs.Reserved, tc.reserved)
		}
		if !hs.Supports(tc.bit) {
			t.Errorf("Supports(%d) false after Set", tc.bit)
		}
		for other := Bit(0); other < 64; other++ {
			if other != tc.bit && hs.Supports(other) {
				t.Errorf("Set(%d) also sets bit %d", tc.bit, other)
			}
		}
	}
	var hs Handshake
	hs.Set(64)
	hs.Set(255)
	if hs.Reserved != [8]byte{} || hs.Supports(64) {
		t.Errorf("bits beyond 63 must be ignored: %x", hs.Reserved)
	}
	// Reserved bytes as sent by a libtorrent client: extension protocol, Fast, DHT.
	peer, err := ReadHandshake(bytes.NewReader(handshakeWire))
	if err != nil {
		t.Fatal(err)
	}
	if !peer.Supports(BitExtended) || !peer.Supports(BitFast) || !peer.Supports(BitDHT) {
		t.Errorf("reserved %x: extended %v fast %v dht %v", peer.Reserved, peer.Supports(BitExtended), peer.Supports(BitFast), peer.Supports(BitDHT))
	}
}
