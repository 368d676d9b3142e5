package peerwire

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

// h decodes a hex string with optional spaces.
func h(s string) []byte {
	s = strings.ReplaceAll(s, " ", "")
	b := make([]byte, len(s)/2)
	for i := range b {
		b[i] = unhex(s[2*i])<<4 | unhex(s[2*i+1])
	}
	return b
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	}
	panic("bad hex digit " + string(c))
}

var messageTests = []struct {
	name string
	msg  Message
	wire []byte
}{
	{"keep-alive", Message{Kind: KeepAlive}, h("00000000")},
	{"choke", Message{Kind: Choke}, h("00000001 00")},
	{"unchoke", Message{Kind: Unchoke}, h("00000001 01")},
	{"interested", Message{Kind: Interested}, h("00000001 02")},
	{"not interested", Message{Kind: NotInterested}, h("00000001 03")},
	{"have", Message{Kind: Have, Index: 0x01020304}, h("00000005 04 01020304")},
	{"have max", Message{Kind: Have, Index: 0xffffffff}, h("00000005 04 ffffffff")},
	{"bitfield", Message{Kind: Bitfield, Payload: h("ff80")}, h("00000003 05 ff80")},
	{"bitfield empty", Message{Kind: Bitfield}, h("00000001 05")},
	{"request", Message{Kind: Request, Index: 1, Begin: 0x4000, Length: 0x4000}, h("0000000d 06 00000001 00004000 00004000")},
	{"piece", Message{Kind: Piece, Index: 2, Begin: 0x8000, Payload: []byte("abc")}, h("0000000c 07 00000002 00008000 616263")},
	{"piece empty block", Message{Kind: Piece, Index: 3, Begin: 4}, h("00000009 07 00000003 00000004")},
	{"cancel", Message{Kind: Cancel, Index: 5, Begin: 6, Length: 7}, h("0000000d 08 00000005 00000006 00000007")},
	{"port", Message{Kind: Port, Port: 6881}, h("00000003 09 1ae1")},
	{"suggest", Message{Kind: Suggest, Index: 9}, h("00000005 0d 00000009")},
	{"have all", Message{Kind: HaveAll}, h("00000001 0e")},
	{"have none", Message{Kind: HaveNone}, h("00000001 0f")},
	{"reject", Message{Kind: Reject, Index: 1, Begin: 2, Length: 3}, h("0000000d 10 00000001 00000002 00000003")},
	{"allowed fast", Message{Kind: AllowedFast, Index: 0x0a0b0c0d}, h("00000005 11 0a0b0c0d")},
	{"extended handshake", Message{Kind: Extended, ExtID: 0, Payload: []byte("de")}, h("00000004 14 00 6465")},
	{"extended", Message{Kind: Extended, ExtID: 3, Payload: []byte("abc")}, h("00000005 14 03 616263")},
	{"extended empty", Message{Kind: Extended, ExtID: 1}, h("00000002 14 01")},
	{"unknown 10", Message{Kind: Unknown, ID: 10, Payload: h("aabb")}, h("00000003 0a aabb")},
	{"unknown 24", Message{Kind: Unknown, ID: 24, Payload: h("00")}, h("00000002 18 00")},
	{"unknown 255 empty", Message{Kind: Unknown, ID: 255}, h("00000001 ff")},
}

func sameMessage(a, b Message) bool {
	return a.Kind == b.Kind && a.ID == b.ID && a.Index == b.Index && a.Begin == b.Begin &&
		a.Length == b.Length && a.Port == b.Port && a.ExtID == b.ExtID && bytes.Equal(a.Payload, b.Payload)
}

func TestAppendMessage(t *testing.T) {
	for _, tc := range messageTests {
		if got := AppendMessage(nil, tc.msg); !bytes.Equal(got, tc.wire) {
			t.Errorf("%s: AppendMessage = %x, want %x", tc.name, got, tc.wire)
		}
		prefix := []byte("xy")
		if got := AppendMessage(prefix, tc.msg); !bytes.Equal(got, append([]byte("xy"), tc.wire...)) {
			t.Errorf("%s: AppendMessage after prefix = %x", tc.name, got)
		}
	}
}

func TestAppendMessageInvalidKind(t *testing.T) {
	if got := AppendMessage([]byte("x"), Message{Kind: Unknown + 1, Payload: []byte("abc")}); string(got) != "x" {
		t.Errorf("invalid kind appended %q", got)
	}
}

func TestAppendPieceHeader(t *testing.T) {
	got := AppendPieceHeader(nil, 7, 0x4000, 16384)
	if want := h("00004009 07 00000007 00004000"); !bytes.Equal(got, want) {
		t.Errorf("AppendPieceHeader = %x, want %x", got, want)
	}
}

func TestReadMessage(t *testing.T) {
	for _, tc := range messageTests {
		r := NewReader(bytes.NewReader(tc.wire))
		m, err := r.ReadMessage()
		if err != nil {
			t.Errorf("%s: ReadMessage: %v", tc.name, err)
			continue
		}
		if !sameMessage(m, tc.msg) {
			t.Errorf("%s: ReadMessage = %+v, want %+v", tc.name, m, tc.msg)
		}
		if _, err := r.ReadMessage(); err != io.EOF {
			t.Errorf("%s: second ReadMessage = %v, want io.EOF", tc.name, err)
		}
	}
}

// TestReadMessageStream reads all table messages back to back, as they
// arrive on a connection.
func TestReadMessageStream(t *testing.T) {
	var stream []byte
	for _, tc := range messageTests {
		stream = AppendMessage(stream, tc.msg)
	}
	r := NewReader(iotestOneByte{bytes.NewReader(stream)})
	for _, tc := range messageTests {
		m, err := r.ReadMessage()
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if !sameMessage(m, tc.msg) {
			t.Errorf("%s: got %+v, want %+v", tc.name, m, tc.msg)
		}
	}
	if _, err := r.ReadMessage(); err != io.EOF {
		t.Errorf("end of stream: %v, want io.EOF", err)
	}
}

// iotestOneByte returns one byte per Read, the worst case for framing.
type iotestOneByte struct{ r io.Reader }

func (o iotestOneByte) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	return o.r.Read(p[:1])
}

var readErrorTests = []struct {
	name     string
	wire     []byte
	max      uint32
	sentinel error
	msg      string
}{
	{"4 GiB prefix", h("ffffffff"), 0, ErrMessageTooLong, "peerwire: message too long: length 4294967295, limit 131085"},
	{"just over default", h("0002000e 07"), 0, ErrMessageTooLong, "peerwire: message too long: length 131086, limit 131085"},
	{"over custom limit", h("00000011 05"), 16, ErrMessageTooLong, "peerwire: message too long: length 17, limit 16"},
	{"unknown over limit", h("00000100 63"), 255, ErrMessageTooLong, "peerwire: message too long: length 256, limit 255"},
	{"choke with payload", h("00000002 00 00"), 0, ErrBadLength, "peerwire: bad message length: choke message of length 2, want 1"},
	{"unchoke", h("00000002 01 00"), 0, ErrBadLength, "peerwire: bad message length: unchoke message of length 2, want 1"},
	{"interested", h("00000005 02 00000000"), 0, ErrBadLength, "peerwire: bad message length: interested message of length 5, want 1"},
	{"not interested", h("00000002 03 00"), 0, ErrBadLength, "peerwire: bad message length: not interested message of length 2, want 1"},
	{"have short", h("00000004 04 000000"), 0, ErrBadLength, "peerwire: bad message length: have message of length 4, want 5"},
	{"have long", h("00000006 04 0000000000"), 0, ErrBadLength, "peerwire: bad message length: have message of length 6, want 5"},
	{"request short", h("0000000c 06"), 0, ErrBadLength, "peerwire: bad message length: request message of length 12, want 13"},
	{"request long", h("0000000e 06"), 0, ErrBadLength, "peerwire: bad message length: request message of length 14, want 13"},
	{"piece short", h("00000008 07 00000000 000000"), 0, ErrBadLength, "peerwire: bad message length: piece message of length 8, want at least 9"},
	{"cancel", h("00000001 08"), 0, ErrBadLength, "peerwire: bad message length: cancel message of length 1, want 13"},
	{"port short", h("00000002 09 1a"), 0, ErrBadLength, "peerwire: bad message length: port message of length 2, want 3"},
	{"port long", h("00000005 09 00001ae1"), 0, ErrBadLength, "peerwire: bad message length: port message of length 5, want 3"},
	{"suggest", h("00000001 0d"), 0, ErrBadLength, "peerwire: bad message length: suggest message of length 1, want 5"},
	{"have all", h("00000002 0e 00"), 0, ErrBadLength, "peerwire: bad message length: have all message of length 2, want 1"},
	{"have none", h("00000002 0f 00"), 0, ErrBadLength, "peerwire: bad message length: have none message of length 2, want 1"},
	{"reject", h("00000005 10 00000000"), 0, ErrBadLength, "peerwire: bad message length: reject message of length 5, want 13"},
	{"allowed fast", h("00000009 11 0000000000000000"), 0, ErrBadLength, "peerwire: bad message length: allowed fast message of length 9, want 5"},
	{"extended without ext id", h("00000001 14"), 0, ErrBadLength, "peerwire: bad message length: extended message of length 1, want at least 2"},
	{"truncated length", h("0000"), 0, io.ErrUnexpectedEOF, "peerwire: reading message length: unexpected EOF"},
	{"truncated id", h("00000001"), 0, io.ErrUnexpectedEOF, "peerwire: reading message id: unexpected EOF"},
	{"truncated have", h("00000005 04 0000"), 0, io.ErrUnexpectedEOF, "peerwire: reading have message: unexpected EOF"},
	{"truncated request", h("0000000d 06 00000000 00000000"), 0, io.ErrUnexpectedEOF, "peerwire: reading request message: unexpected EOF"},
	{"truncated port", h("00000003 09 1a"), 0, io.ErrUnexpectedEOF, "peerwire: reading port message: unexpected EOF"},
	{"truncated piece header", h("00004009 07 000000"), 0, io.ErrUnexpectedEOF, "peerwire: reading piece message: unexpected EOF"},
	{"truncated block", h("00004009 07 00000000 00000000 6162"), 0, io.ErrUnexpectedEOF, "peerwire: reading piece message: unexpected EOF"},
	{"truncated bitfield", h("00000003 05 ff"), 0, io.ErrUnexpectedEOF, "peerwire: reading bitfield message: unexpected EOF"},
	{"truncated ext id", h("00000003 14"), 0, io.ErrUnexpectedEOF, "peerwire: reading extended message: unexpected EOF"},
	{"truncated extended", h("00000003 14 00"), 0, io.ErrUnexpectedEOF, "peerwire: reading extended message: unexpected EOF"},
	{"truncated unknown", h("00000003 63 00"), 0, io.ErrUnexpectedEOF, "peerwire: reading unknown message: unexpected EOF"},
}

func TestReadMessageErrors(t *testing.T) {
	for _, tc := range readErrorTests {
		r := NewReader(bytes.NewReader(tc.wire))
		r.MaxLength = tc.max
		m, err := r.ReadMessage()
		if err == nil {
			t.Errorf("%s: ReadMessage = %v, want error", tc.name, m)
			continue
		}
		if !errors.Is(err, tc.sentinel) {
			t.Errorf("%s: error %v is not %v", tc.name, err, tc.sentinel)
		}
		if err.Error() != tc.msg {
			t.Errorf("%s: error\n got %s\nwant %s", tc.name, err, tc.msg)
		}
		if !sameMessage(m, Message{}) {
			t.Errorf("%s: non-zero message %+v with error", tc.name, m)
		}
	}
}

func TestReadMessageEmpty(t *testing.T) {
	if _, err := NewReader(bytes.NewReader(nil)).ReadMessage(); err != io.EOF {
		t.Fatalf("empty stream: %v, want io.EOF", err)
	}
}

func TestReadMessageReadError(t *testing.T) {
	boom := errors.New("boom")
	r := NewReader(io.MultiReader(bytes.NewReader(h("00000005 04 00")), errReader{boom}))
	_, err := r.ReadMessage()
	if !errors.Is(err, boom) || err.Error() != "peerwire: reading have message: boom" {
		t.Fatalf("err = %v", err)
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// mustNotRead fails the test if the Reader asks for more input.
type mustNotRead struct{ t *testing.T }

func (m mustNotRead) Read([]byte) (int, error) {
	m.t.Error("read past an oversized length prefix")
	return 0, io.EOF
}

// TestReadMessage4GiBPrefix checks that a hostile length prefix is refused
// at once: no read past the prefix and no allocation in proportion to it.
func TestReadMessage4GiBPrefix(t *testing.T) {
	src := &bytes.Reader{}
	r := NewReader(nil)
	var m runtimeMem
	m.start()
	const runs = 100
	for range runs {
		src.Reset(h("ffffffff"))
		r.Reset(io.MultiReader(src, mustNotRead{t}))
		if _, err := r.ReadMessage(); !errors.Is(err, ErrMessageTooLong) {
			t.Fatalf("err = %v, want ErrMessageTooLong", err)
		}
	}
	if perRun := m.bytes() / runs; perRun > 512 {
		t.Fatalf("allocated %d bytes per rejected message", perRun)
	}
	if cap(r.buf) != 0 {
		t.Fatalf("payload buffer of %d bytes allocated", cap(r.buf))
	}
}

func TestReaderBufferBounded(t *testing.T) {
	r := NewReader(nil)
	r.MaxLength = 1000
	for _, n := range []int{10, 11, 600, 601, 999} {
		stream := AppendMessage(nil, Message{Kind: Bitfield, Payload: make([]byte, n-1)})
		r.Reset(bytes.NewReader(stream))
		if _, err := r.ReadMessage(); err != nil {
			t.Fatal(err)
		}
		if cap(r.buf) > 1000 {
			t.Fatalf("buffer grew to %d beyond MaxLength", cap(r.buf))
		}
	}
}

// TestPayloadReused documents that payloads share the Reader's buffer.
func TestPayloadReused(t *testing.T) {
	stream := AppendMessage(nil, Message{Kind: Bitfield, Payload: []byte{1, 2, 3}})
	stream = AppendMessage(stream, Message{Kind: Bitfield, Payload: []byte{4, 5, 6}})
	r := NewReader(bytes.NewReader(stream))
	a, _ := r.ReadMessage()
	b, _ := r.ReadMessage()
	if &a.Payload[0] != &b.Payload[0] || !bytes.Equal(a.Payload, []byte{4, 5, 6}) {
		t.Fatalf("payload not reused: %v %v", a.Payload, b.Payload)
	}
}

func TestBlockBuffer(t *testing.T) {
	var stream []byte
	stream = AppendMessage(stream, Message{Kind: Piece, Index: 1, Payload: []byte("first")})
	stream = AppendMessage(stream, Message{Kind: Piece, Index: 2, Payload: []byte("second")})
	stream = AppendMessage(stream, Message{Kind: Piece, Index: 3, Payload: []byte("too long for it")})
	r := NewReader(bytes.NewReader(stream))
	var asked []int
	r.BlockBuffer = func(n int) []byte {
		asked = append(asked, n)
		return make([]byte, 0, 8)
	}
	var got [][]byte
	for range 3 {
		m, err := r.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, m.Payload)
	}
	if string(got[0]) != "first" || string(got[1]) != "second" || string(got[2]) != "too long for it" {
		t.Fatalf("blocks %q", got)
	}
	if cap(got[0]) != 8 || cap(got[1]) != 8 {
		t.Fatalf("caller buffers not used: caps %d %d", cap(got[0]), cap(got[1]))
	}
	if want := []int{5, 6, 15}; len(asked) != 3 || asked[0] != want[0] || asked[1] != want[1] || asked[2] != want[2] {
		t.Fatalf("BlockBuffer asked for %v, want %v", asked, want)
	}
	if cap(r.buf) < 15 {
		t.Fatalf("short caller buffer did not fall back to the Reader's")
	}
}

func TestKindString(t *testing.T) {
	for _, tc := range []struct {
		k    Kind
		want string
	}{
		{KeepAlive, "keep-alive"}, {NotInterested, "not interested"}, {AllowedFast, "allowed fast"},
		{Extended, "extended"}, {Unknown, "unknown"}, {Unknown + 1, "kind(21)"},
	} {
		if got := tc.k.String(); got != tc.want {
			t.Errorf("Kind(%d).String() = %q, want %q", tc.k, got, tc.want)
		}
	}
	for _, tc := range []struct {
		k  Kind
		id byte
		ok bool
	}{
		{KeepAlive, 0, false}, {Choke, 0, true}, {Port, 9, true}, {Suggest, 13, true},
		{AllowedFast, 17, true}, {Extended, 20, true}, {Unknown, 0, false}, {Unknown + 3, 0, false},
	} {
		if id, ok := tc.k.ID(); id != tc.id || ok != tc.ok {
			t.Errorf("%v.ID() = %d, %v; want %d, %v", tc.k, id, ok, tc.id, tc.ok)
		}
	}
}

func TestMessageString(t *testing.T) {
	for _, tc := range []struct {
		m    Message
		want string
	}{
		{Message{Kind: KeepAlive}, "keep-alive"},
		{Message{Kind: HaveAll}, "have all"},
		{Message{Kind: Have, Index: 4}, "have 4"},
		{Message{Kind: Reject, Index: 1, Begin: 2, Length: 3}, "reject 1 2 3"},
		{Message{Kind: Piece, Index: 1, Begin: 2, Payload: []byte("ab")}, "piece 1 2 (2 bytes)"},
		{Message{Kind: Bitfield, Payload: []byte("a")}, "bitfield (1 bytes)"},
		{Message{Kind: Port, Port: 80}, "port 80"},
		{Message{Kind: Extended, ExtID: 2, Payload: []byte("abc")}, "extended 2 (3 bytes)"},
		{Message{Kind: Unknown, ID: 99}, "unknown id 99 (0 bytes)"},
	} {
		if got := tc.m.String(); got != tc.want {
			t.Errorf("String() = %q, want %q", got, tc.want)
		}
	}
}
