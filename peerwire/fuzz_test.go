package peerwire

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// FuzzReadMessage checks that the Reader never panics, never buffers more
// than MaxLength, and that every message it returns re-serializes to exactly
// the bytes it was read from (the wire encoding of each kind is unique).
func FuzzReadMessage(f *testing.F) {
	var all []byte
	for _, tc := range messageTests {
		f.Add(tc.wire, uint16(0))
		all = append(all, tc.wire...)
	}
	f.Add(all, uint16(0))
	f.Add(all, uint16(8))
	for _, tc := range readErrorTests {
		f.Add(tc.wire, uint16(tc.max))
	}
	f.Fuzz(func(t *testing.T, data []byte, maxLen uint16) {
		r := NewReader(bytes.NewReader(data))
		r.MaxLength = uint32(maxLen)
		limit := r.maxLength()
		off := 0
		for {
			m, err := r.ReadMessage()
			if err != nil {
				if err == io.EOF && off != len(data) {
					t.Fatalf("io.EOF at offset %d of %d", off, len(data))
				}
				if err != io.EOF && !errors.Is(err, io.ErrUnexpectedEOF) &&
					!errors.Is(err, ErrMessageTooLong) && !errors.Is(err, ErrBadLength) {
					t.Fatalf("unexpected error kind: %v", err)
				}
				break
			}
			enc := AppendMessage(nil, m)
			if uint32(len(enc)-4) > limit {
				t.Fatalf("%v of %d bytes passed limit %d", m, len(enc), limit)
			}
			if off+len(enc) > len(data) || !bytes.Equal(enc, data[off:off+len(enc)]) {
				t.Fatalf("%v at offset %d re-encodes to %x", m, off, enc)
			}
			off += len(enc)
		}
		if uint32(cap(r.buf)) > limit {
			t.Fatalf("buffer of %d bytes beyond limit %d", cap(r.buf), limit)
		}
	})
}

// FuzzExtendedHandshake checks that parsing never panics and that whatever
// parses marshals again to bytes that parse to the same handshake and
// marshal to themselves.
func FuzzExtendedHandshake(f *testing.F) {
	for _, tc := range extendedTests {
		f.Add([]byte(tc.wire))
	}
	for _, tc := range extendedErrorTests {
		if len(tc.wire) <= 1024 {
			f.Add([]byte(tc.wire))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		hs, err := ParseExtendedHandshake(data)
		if err != nil {
			if !errors.Is(err, ErrBadExtended) && !errors.Is(err, ErrMessageTooLong) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		if hs.M == nil || hs.Reqq > MaxRequestQueue {
			t.Fatalf("parsed %+v", hs)
		}
		enc, err := hs.Marshal()
		if err != nil {
			t.Fatalf("marshal %+v: %v", hs, err)
		}
		again, err := ParseExtendedHandshake(enc)
		if err != nil {
			t.Fatalf("reparse %q: %v", enc, err)
		}
		if !sameExtended(hs, again) {
			t.Fatalf("round trip changed %+v into %+v", hs, again)
		}
		enc2, err := again.Marshal()
		if err != nil || !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding not stable: %q then %q (%v)", enc, enc2, err)
		}
	})
}
