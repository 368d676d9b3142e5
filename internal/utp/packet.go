// Package utp is the Micro Transport Protocol (BEP 29): reliable, ordered
// streams over UDP whose congestion control (LEDBAT, RFC 6817) yields to
// other traffic as soon as queues build. Connections share one UDP socket
// with other protocols through a demultiplexer.
package utp

import (
	"encoding/binary"
	"errors"
)

// Packet types (BEP 29).
const (
	stData  = 0
	stFin   = 1
	stState = 2
	stReset = 3
	stSyn   = 4
)

const (
	version    = 1
	headerSize = 20
	extSACK    = 1
	// maxSACKBits bounds the selective-ack bitmask we send and read.
	maxSACKBytes = 32
)

var errBadPacket = errors.New("utp: malformed packet")

type header struct {
	typ    byte
	connID uint16
	ts     uint32 // sender's clock, microseconds
	tsDiff uint32 // sender's clock minus the timestamp of the last packet it received
	wnd    uint32 // receive window left, bytes
	seq    uint16
	ack    uint16
}

// isPacket reports whether b looks like a uTP packet: version 1 and a
// known type in its first byte.
func isPacket(b []byte) bool {
	return len(b) >= headerSize && b[0]&0x0f == version && b[0]>>4 <= stSyn
}

// parsePacket reads a header, the selective-ack bitmask if any and the
// payload. Unknown extensions are skipped; a chain running past the end
// is malformed.
func parsePacket(b []byte) (h header, sack []byte, payload []byte, err error) {
	if !isPacket(b) {
		return h, nil, nil, errBadPacket
	}
	h.typ = b[0] >> 4
	ext := b[1]
	h.connID = binary.BigEndian.Uint16(b[2:])
	h.ts = binary.BigEndian.Uint32(b[4:])
	h.tsDiff = binary.BigEndian.Uint32(b[8:])
	h.wnd = binary.BigEndian.Uint32(b[12:])
	h.seq = binary.BigEndian.Uint16(b[16:])
	h.ack = binary.BigEndian.Uint16(b[18:])
	rest := b[headerSize:]
	for n := 0; ext != 0; n++ {
		if len(rest) < 2 || n > 16 {
			return h, nil, nil, errBadPacket
		}
		next, l := rest[0], int(rest[1])
		if len(rest) < 2+l {
			return h, nil, nil, errBadPacket
		}
		if ext == extSACK && l >= 4 && l%4 == 0 && sack == nil {
			sack = rest[2 : 2+l : 2+l]
			if len(sack) > maxSACKBytes {
				sack = sack[:maxSACKBytes]
			}
		}
		ext, rest = next, rest[2+l:]
	}
	return h, sack, rest, nil
}

// appendPacket writes a header, an optional selective-ack extension and
// the payload.
func appendPacket(dst []byte, h *header, sack []byte, payload []byte) []byte {
	ext := byte(0)
	if len(sack) > 0 {
		ext = extSACK
	}
	dst = append(dst, h.typ<<4|version, ext)
	dst = binary.BigEndian.AppendUint16(dst, h.connID)
	dst = binary.BigEndian.AppendUint32(dst, h.ts)
	dst = binary.BigEndian.AppendUint32(dst, h.tsDiff)
	dst = binary.BigEndian.AppendUint32(dst, h.wnd)
	dst = binary.BigEndian.AppendUint16(dst, h.seq)
	dst = binary.BigEndian.AppendUint16(dst, h.ack)
	if len(sack) > 0 {
		dst = append(dst, 0, byte(len(sack)))
		dst = append(dst, sack...)
	}
	return append(dst, payload...)
}

// seqLess compares 16-bit sequence numbers that wrap.
func seqLess(a, b uint16) bool { return int16(a-b) < 0 }
