package peerwire

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
)

// readBufferSize is the size of the Reader's bufio buffer. Blocks larger
// than it are read straight from the connection into their destination.
const readBufferSize = 8 << 10

// Reader reads messages from a stream. It is not safe for concurrent use;
// a connection's reader goroutine owns it.
//
// Any error from ReadMessage leaves the stream unframed: the caller closes
// the connection.
type Reader struct {
	// MaxLength bounds the length prefix of every message; 0 means
	// DefaultMaxLength. A longer prefix fails with ErrMessageTooLong before
	// anything is allocated or read past the prefix. Raise it for torrents
	// whose bitfield exceeds DefaultMaxLength-1 bytes (over 1,048,576 pieces).
	MaxLength uint32

	// BlockBuffer, when set, is asked for the buffer the block of each piece
	// message is read into; length is the block length. The Payload of the
	// returned Piece message is that buffer, owned by the caller. When it
	// is nil, or returns a slice with capacity below length, the Reader
	// uses its own buffer.
	BlockBuffer func(length int) []byte

	br  *bufio.Reader
	hdr [12]byte
	buf []byte
}

// NewReader returns a Reader that buffers r.
func NewReader(r io.Reader) *Reader {
	return &Reader{br: bufio.NewReaderSize(r, readBufferSize)}
}

// Reset discards any buffered data and makes the Reader read from src,
// keeping its buffers and settings.
func (r *Reader) Reset(src io.Reader) {
	r.br.Reset(src)
}

func (r *Reader) maxLength() uint32 {
	if r.MaxLength == 0 {
		return DefaultMaxLength
	}
	return r.MaxLength
}

// ReadMessage reads the next message.
//
// Payloads of Bitfield, Extended, hash and Unknown messages, and of Piece
// messages not served by BlockBuffer, point into a buffer the Reader
// reuses: they are valid only until the next call to ReadMessage. Copy
// what must outlive it. In steady state ReadMessage does not allocate.
//
// The length prefix is checked against MaxLength and against the exact
// (or minimum) length of the message type before the body is read.
// Unknown ids are returned as Kind Unknown under the same limit. At a
// message boundary the end of the stream is io.EOF; inside a message it is
// io.ErrUnexpectedEOF (wrapped).
func (r *Reader) ReadMessage() (Message, error) {
	if _, err := io.ReadFull(r.br, r.hdr[:4]); err != nil {
		if err == io.EOF {
			return Message{}, io.EOF
		}
		return Message{}, readErr("message length", err)
	}
	n := binary.BigEndian.Uint32(r.hdr[:4])
	if n == 0 {
		return Message{Kind: KeepAlive}, nil
	}
	if limit := r.maxLength(); n > limit {
		return Message{}, fmt.Errorf("%w: length %d, limit %d", ErrMessageTooLong, n, limit)
	}
	id, err := r.br.ReadByte()
	if err != nil {
		return Message{}, readErr("message id", err)
	}
	m := Message{Kind: idKind[id]}
	if m.Kind == Unknown {
		m.ID = id
	}
	if err := checkLength(m.Kind, n); err != nil {
		return Message{}, err
	}
	switch m.Kind {
	case Have, Suggest, AllowedFast:
		if err = r.readFull(r.hdr[:4], m.Kind); err == nil {
			m.Index = binary.BigEndian.Uint32(r.hdr[:4])
		}
	case Request, Cancel, Reject:
		if err = r.readFull(r.hdr[:12], m.Kind); err == nil {
			m.Index = binary.BigEndian.Uint32(r.hdr[0:4])
			m.Begin = binary.BigEndian.Uint32(r.hdr[4:8])
			m.Length = binary.BigEndian.Uint32(r.hdr[8:12])
		}
	case Port:
		if err = r.readFull(r.hdr[:2], m.Kind); err == nil {
			m.Port = binary.BigEndian.Uint16(r.hdr[:2])
		}
	case Piece:
		if err = r.readFull(r.hdr[:8], m.Kind); err != nil {
			break
		}
		m.Index = binary.BigEndian.Uint32(r.hdr[0:4])
		m.Begin = binary.BigEndian.Uint32(r.hdr[4:8])
		m.Payload = r.blockBuffer(int(n - 9))
		err = r.readFull(m.Payload, m.Kind)
	case Extended:
		if m.ExtID, err = r.br.ReadByte(); err != nil {
			err = readErr("extended message", err)
			break
		}
		m.Payload = r.buffer(int(n - 2))
		err = r.readFull(m.Payload, m.Kind)
	case Bitfield, HashRequest, Hashes, HashReject, Unknown:
		m.Payload = r.buffer(int(n - 1))
		err = r.readFull(m.Payload, m.Kind)
	}
	if err != nil {
		return Message{}, err
	}
	return m, nil
}

func checkLength(k Kind, n uint32) error {
	info := &kinds[k]
	switch {
	case info.min == info.max && n != info.min:
		return fmt.Errorf("%w: %s message of length %d, want %d", ErrBadLength, k, n, info.min)
	case n < info.min:
		return fmt.Errorf("%w: %s message of length %d, want at least %d", ErrBadLength, k, n, info.min)
	case info.max != 0 && n > info.max:
		return fmt.Errorf("%w: %s message of length %d, want at most %d", ErrBadLength, k, n, info.max)
	}
	return nil
}

func (r *Reader) readFull(p []byte, k Kind) error {
	if _, err := io.ReadFull(r.br, p); err != nil {
		return readErr(k.String()+" message", err)
	}
	return nil
}

// buffer returns the Reader's own buffer resized to n bytes. n never
// exceeds MaxLength, and neither does the capacity it grows to.
func (r *Reader) buffer(n int) []byte {
	if cap(r.buf) < n {
		c := min(max(n, 2*cap(r.buf)), int(r.maxLength()))
		r.buf = make([]byte, c)
	}
	return r.buf[:n:n]
}

func (r *Reader) blockBuffer(n int) []byte {
	if r.BlockBuffer != nil {
		if b := r.BlockBuffer(n); cap(b) >= n {
			return b[:n]
		}
	}
	return r.buffer(n)
}
