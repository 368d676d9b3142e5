// Package peerwire frames the BitTorrent peer wire protocol: the handshake
// (BEP 3), the length-prefixed messages of BEP 3, the DHT port message
// (BEP 5), the Fast extension (BEP 6) and the extension protocol (BEP 10)
// with its handshake dictionary.
//
// It only parses, validates against explicit limits and serializes. What a
// message means for a torrent — whether a request is served, whether a peer
// that sent have-all while we lack metadata is dropped — is decided by the
// caller. The Check functions take the torrent geometry as plain values so
// the caller can validate what the Reader returns.
//
// Every error a caller may branch on wraps one of the sentinels below.
package peerwire

import "errors"

// Sentinel errors.
var (
	// ErrMessageTooLong reports a length prefix (or extended handshake)
	// beyond the configured limit. Nothing is allocated for it.
	ErrMessageTooLong = errors.New("peerwire: message too long")
	// ErrBadLength reports a length prefix that does not match the message type.
	ErrBadLength = errors.New("peerwire: bad message length")
	// ErrBadProtocol reports a handshake that does not start with the
	// BitTorrent protocol string.
	ErrBadProtocol = errors.New("peerwire: bad protocol string")
	// ErrBadBitfield reports a bitfield of the wrong length or with spare bits set.
	ErrBadBitfield = errors.New("peerwire: bad bitfield")
	// ErrBadIndex reports a piece index outside the torrent.
	ErrBadIndex = errors.New("peerwire: bad piece index")
	// ErrBadRequest reports a request, cancel or reject outside the torrent
	// geometry or the accepted request length.
	ErrBadRequest = errors.New("peerwire: bad request")
	// ErrBadBlock reports a piece message whose block lies outside the
	// torrent geometry or exceeds MaxBlockLength.
	ErrBadBlock = errors.New("peerwire: bad block")
	// ErrBadExtended reports an extended handshake that is not a bencoded
	// dictionary or holds a known key with a wrong type or out-of-range value.
	ErrBadExtended = errors.New("peerwire: bad extended handshake")
	// ErrInfoHashMismatch reports a peer answering a handshake for another torrent.
	ErrInfoHashMismatch = errors.New("peerwire: info hash mismatch")
	// ErrUnknownInfoHash reports an incoming handshake for a torrent we do not serve.
	ErrUnknownInfoHash = errors.New("peerwire: unknown info hash")
)

// Limits.
const (
	// DefaultMaxRequest is the largest request length accepted from peers
	// when the caller does not choose one: the block size every client uses.
	DefaultMaxRequest = 16 << 10
	// MaxBlockLength is the largest block a peer may send us in a piece message.
	MaxBlockLength = 128 << 10
	// DefaultMaxLength bounds a message's length prefix unless
	// Reader.MaxLength says otherwise: room for a MaxBlockLength piece.
	DefaultMaxLength = MaxBlockLength + 13
	// MaxExtendedHandshakeLength bounds the bencoded extended handshake.
	MaxExtendedHandshakeLength = 64 << 10
	// MaxRequestQueue is the ceiling applied to a peer's advertised reqq.
	MaxRequestQueue = 2000
)
