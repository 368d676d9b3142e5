package peerwire

import (
	"fmt"
	"net"
	"time"
)

// HandshakeOutgoing performs the handshake of a connection we opened: it
// sends ours, then reads the peer's, failing with ErrInfoHashMismatch as
// soon as the peer's info hash differs from ours. The whole exchange must
// finish by deadline; the connection's deadline is cleared afterwards.
func HandshakeOutgoing(conn net.Conn, ours Handshake, deadline time.Time) (Handshake, error) {
	if err := conn.SetDeadline(deadline); err != nil {
		return Handshake{}, fmt.Errorf("peerwire: handshake: %w", err)
	}
	defer conn.SetDeadline(time.Time{})
	if err := WriteHandshake(conn, ours); err != nil {
		return Handshake{}, err
	}
	peer, err := ReadHandshakeStart(conn)
	if err != nil {
		return Handshake{}, err
	}
	if peer.InfoHash != ours.InfoHash {
		return Handshake{}, fmt.Errorf("%w: got %x, want %x", ErrInfoHashMismatch, peer.InfoHash, ours.InfoHash)
	}
	if peer.PeerID, err = ReadPeerID(conn); err != nil {
		return Handshake{}, err
	}
	return peer, nil
}

// HandshakeIncoming performs the handshake of a connection a peer opened:
// it reads the peer's handshake up to the info hash, asks lookup for the
// handshake to answer with (false: ErrUnknownInfoHash, nothing is sent),
// sends it and reads the peer id. The whole exchange must finish by
// deadline; the connection's deadline is cleared afterwards.
func HandshakeIncoming(conn net.Conn, deadline time.Time, lookup func(infoHash [20]byte) (ours Handshake, ok bool)) (Handshake, error) {
	if err := conn.SetDeadline(deadline); err != nil {
		return Handshake{}, fmt.Errorf("peerwire: handshake: %w", err)
	}
	defer conn.SetDeadline(time.Time{})
	peer, err := ReadHandshakeStart(conn)
	if err != nil {
		return Handshake{}, err
	}
	ours, ok := lookup(peer.InfoHash)
	if !ok {
		return Handshake{}, fmt.Errorf("%w: %x", ErrUnknownInfoHash, peer.InfoHash)
	}
	if err := WriteHandshake(conn, ours); err != nil {
		return Handshake{}, err
	}
	if peer.PeerID, err = ReadPeerID(conn); err != nil {
		return Handshake{}, err
	}
	return peer, nil
}
