package peerwire

import (
	"errors"
	"fmt"
	"io"
)

// Protocol is the protocol string that opens every handshake.
const Protocol = "BitTorrent protocol"

// HandshakeLength is the size of a handshake on the wire.
const HandshakeLength = 1 + len(Protocol) + 8 + 20 + 20

// Bit numbers a capability in the reserved bytes, counting from 0 at the
// least significant bit of the last byte.
type Bit uint8

// Capability bits.
const (
	BitDHT      Bit = 0  // BEP 5: reserved[7] & 0x01
	BitFast     Bit = 2  // BEP 6: reserved[7] & 0x04
	BitExtended Bit = 20 // BEP 10: reserved[5] & 0x10
)

// Handshake is the opening message of a connection.
type Handshake struct {
	Reserved [8]byte
	InfoHash [20]byte
	PeerID   [20]byte
}

// Supports reports whether bit b is set in the reserved bytes.
func (h Handshake) Supports(b Bit) bool {
	if b >= 64 {
		return false
	}
	return h.Reserved[7-b/8]&(1<<(b%8)) != 0
}

// Set sets bit b in the reserved bytes. Bits beyond 63 are ignored.
func (h *Handshake) Set(b Bit) {
	if b >= 64 {
		return
	}
	h.Reserved[7-b/8] |= 1 << (b % 8)
}

// AppendHandshake appends the 68-byte encoding of h to dst, so that a
// handshake can share one write with the messages that follow it.
func AppendHandshake(dst []byte, h Handshake) []byte {
	dst = append(dst, byte(len(Protocol)))
	dst = append(dst, Protocol...)
	dst = append(dst, h.Reserved[:]...)
	dst = append(dst, h.InfoHash[:]...)
	return append(dst, h.PeerID[:]...)
}

// WriteHandshake writes h in a single Write call.
func WriteHandshake(w io.Writer, h Handshake) error {
	var buf [HandshakeLength]byte
	if _, err := w.Write(AppendHandshake(buf[:0], h)); err != nil {
		return fmt.Errorf("peerwire: writing handshake: %w", err)
	}
	return nil
}

// ReadHandshake reads a complete handshake. It reads exactly
// HandshakeLength bytes, never more, so r may be a bare connection that is
// handed to NewReader afterwards.
func ReadHandshake(r io.Reader) (Handshake, error) {
	h, err := ReadHandshakeStart(r)
	if err != nil {
		return Handshake{}, err
	}
	if h.PeerID, err = ReadPeerID(r); err != nil {
		return Handshake{}, err
	}
	return h, nil
}

// ReadHandshakeStart reads a handshake up to and including the info hash
// and returns it with a zero PeerID. An acceptor uses it to find the
// torrent before sending its own handshake, then calls ReadPeerID.
// The protocol string is checked before the rest is read.
func ReadHandshakeStart(r io.Reader) (Handshake, error) {
	var buf [1 + len(Protocol) + 8 + 20]byte
	if _, err := io.ReadFull(r, buf[:1+len(Protocol)]); err != nil {
		return Handshake{}, readErr("handshake", err)
	}
	if buf[0] != byte(len(Protocol)) {
		return Handshake{}, fmt.Errorf("%w: length byte %d, want %d", ErrBadProtocol, buf[0], len(Protocol))
	}
	if string(buf[1:1+len(Protocol)]) != Protocol {
		return Handshake{}, fmt.Errorf("%w: %q", ErrBadProtocol, buf[1:1+len(Protocol)])
	}
	if _, err := io.ReadFull(r, buf[1+len(Protocol):]); err != nil {
		return Handshake{}, readErr("handshake", err)
	}
	var h Handshake
	copy(h.Reserved[:], buf[1+len(Protocol):])
	copy(h.InfoHash[:], buf[1+len(Protocol)+8:])
	return h, nil
}

// ReadPeerID reads the 20-byte peer id that ends a handshake.
func ReadPeerID(r io.Reader) ([20]byte, error) {
	var id [20]byte
	if _, err := io.ReadFull(r, id[:]); err != nil {
		return id, readErr("handshake peer id", err)
	}
	return id, nil
}

// readErr adds context to a read error; running out of data part-way
// through something that must be complete is io.ErrUnexpectedEOF.
func readErr(what string, err error) error {
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("peerwire: reading %s: %w", what, err)
}
