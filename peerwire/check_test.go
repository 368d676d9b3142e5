package peerwire

import (
	"errors"
	"testing"
)

func TestCheckIndex(t *testing.T) {
	tests := []struct {
		index uint32
		n     int
		msg   string
	}{
		{0, 1, ""},
		{9, 10, ""},
		{10, 10, "peerwire: bad piece index: 10 with 10 pieces"},
		{0, 0, "peerwire: bad piece index: 0 with 0 pieces"},
		{0, -1, "peerwire: bad piece index: 0 with -1 pieces"},
		{0xffffffff, 10, "peerwire: bad piece index: 4294967295 with 10 pieces"},
	}
	for _, tc := range tests {
		checkErr(t, CheckIndex(tc.index, tc.n), ErrBadIndex, tc.msg)
	}
}

func TestCheckBitfield(t *testing.T) {
	tests := []struct {
		bf  []byte
		n   int
		msg string
	}{
		{[]byte{}, 0, ""},
		{nil, 0, ""},
		{[]byte{0x80}, 1, ""},
		{[]byte{0xff}, 8, ""},
		{[]byte{0xff, 0xfe}, 15, ""},
		{[]byte{0xff, 0xc0}, 10, ""},
		{[]byte{0x00, 0x00}, 9, ""},
		{[]byte{0xc0}, 1, "peerwire: bad bitfield: spare bits set in last byte 0xc0"},
		{[]byte{0xff, 0xff}, 15, "peerwire: bad bitfield: spare bits set in last byte 0xff"},
		{[]byte{0xff, 0xe0}, 10, "peerwire: bad bitfield: spare bits set in last byte 0xe0"},
		{[]byte{0xff, 0x01}, 9, "peerwire: bad bitfield: spare bits set in last byte 0x01"},
		{[]byte{0xff}, 9, "peerwire: bad bitfield: 1 bytes for 9 pieces, want 2"},
		{[]byte{0xff, 0x00}, 8, "peerwire: bad bitfield: 2 bytes for 8 pieces, want 1"},
		{[]byte{0x00}, 0, "peerwire: bad bitfield: 1 bytes for 0 pieces, want 0"},
		{nil, 1, "peerwire: bad bitfield: 0 bytes for 1 pieces, want 1"},
		{nil, -8, "peerwire: bad bitfield: -8 pieces"},
	}
	for _, tc := range tests {
		checkErr(t, CheckBitfield(tc.bf, tc.n), ErrBadBitfield, tc.msg)
	}
}

// pieceLens describes a torrent of 3 pieces of 32 KiB and a last piece of 1000 bytes.
func pieceLens(i int) int64 {
	if i == 3 {
		return 1000
	}
	return 32 << 10
}

func TestCheckRequest(t *testing.T) {
	tests := []struct {
		index, begin, length uint32
		maxReq               uint32
		msg                  string
	}{
		{0, 0, 16384, 0, ""},
		{2, 16384, 16384, 0, ""},
		{3, 0, 1000, 0, ""},
		{3, 999, 1, 0, ""},
		{0, 0, 32768, 32768, ""},
		{4, 0, 16384, 0, "peerwire: bad request: index 4 with 4 pieces"},
		{0xffffffff, 0, 16384, 0, "peerwire: bad request: index 4294967295 with 4 pieces"},
		{0, 0, 0, 0, "peerwire: bad request: length 0, want 1 to 16384"},
		{0, 0, 16385, 0, "peerwire: bad request: length 16385, want 1 to 16384"},
		{0, 0, 32769, 32768, "peerwire: bad request: length 32769, want 1 to 32768"},
		{0, 0, 0xffffffff, 0, "peerwire: bad request: length 4294967295, want 1 to 16384"},
		{0, 16385, 16384, 0, "peerwire: bad request: bytes 16385 to 32769 beyond piece 0 of length 32768"},
		{3, 0, 1001, 0, "peerwire: bad request: bytes 0 to 1001 beyond piece 3 of length 1000"},
		{3, 1000, 1, 0, "peerwire: bad request: bytes 1000 to 1001 beyond piece 3 of length 1000"},
		{1, 0xffffffff, 16384, 0, "peerwire: bad request: bytes 4294967295 to 4294983679 beyond piece 1 of length 32768"},
	}
	for _, tc := range tests {
		checkErr(t, CheckRequest(tc.index, tc.begin, tc.length, 4, pieceLens, tc.maxReq), ErrBadRequest, tc.msg)
	}
	checkErr(t, CheckRequest(0, 0, 1, 1, nil, 0), ErrBadRequest, "peerwire: bad request: no piece geometry")
}

func TestCheckBlock(t *testing.T) {
	big := func(int) int64 { return 1 << 20 }
	tests := []struct {
		index, begin uint32
		length       int
		pieceLen     func(int) int64
		msg          string
	}{
		{0, 0, 16384, pieceLens, ""},
		{3, 0, 1000, pieceLens, ""},
		{0, 0, 128 << 10, big, ""},
		{0, 0, 128<<10 + 1, big, "peerwire: bad block: length 131073, want 1 to 131072"},
		{0, 0, 0, big, "peerwire: bad block: length 0, want 1 to 131072"},
		{0, 0, -1, big, "peerwire: bad block: length -1, want 1 to 131072"},
		{4, 0, 1, pieceLens, "peerwire: bad block: index 4 with 4 pieces"},
		{3, 500, 501, pieceLens, "peerwire: bad block: bytes 500 to 1001 beyond piece 3 of length 1000"},
	}
	for _, tc := range tests {
		checkErr(t, CheckBlock(tc.index, tc.begin, tc.length, 4, tc.pieceLen), ErrBadBlock, tc.msg)
	}
}

func checkErr(t *testing.T, err, sentinel error, msg string) {
	t.Helper()
	if msg == "" {
		if err != nil {
			t.Errorf("unexpected error %v", err)
		}
		return
	}
	if !errors.Is(err, sentinel) {
		t.Errorf("error %v is not %v (want %q)", err, sentinel, msg)
		return
	}
	if err.Error() != msg {
		t.Errorf("error\n got %s\nwant %s", err, msg)
	}
}
