package session

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"tt/internal/mse"
	"tt/peerwire"
)

// Encryption is a session's policy for Message Stream Encryption.
type Encryption int

const (
	// EncryptPrefer obfuscates the handshake where the peer can: outgoing
	// connections start with the MSE handshake offering RC4 and plaintext,
	// and fall back to a plain handshake when a peer does not speak MSE;
	// incoming ones may be either. The payload is RC4 only when the other
	// side asks for nothing else (RC4 costs about a core per 200 MB/s).
	EncryptPrefer Encryption = iota
	// EncryptRequire allows RC4 only: no byte of the BitTorrent handshake
	// ever crosses the wire in the clear.
	EncryptRequire
	// EncryptDisable speaks plaintext only.
	EncryptDisable
)

// ParseEncryption reads prefer, require or disable.
func ParseEncryption(s string) (Encryption, error) {
	switch s {
	case "", "prefer":
		return EncryptPrefer, nil
	case "require":
		return EncryptRequire, nil
	case "disable":
		return EncryptDisable, nil
	}
	return 0, fmt.Errorf("session: encryption %q: want prefer, require or disable", s)
}

func (e Encryption) String() string {
	return [...]string{"prefer", "require", "disable"}[e]
}

// plainHeadLen is the length of "\x13BitTorrent protocol".
const plainHeadLen = 20

func encName(c *mse.Conn) Cipher {
	if c.Method == mse.RC4 {
		return EncRC4
	}
	return EncMSEPlain
}

// prefixConn replays bytes already read before the connection's own.
type prefixConn struct {
	net.Conn
	r io.Reader
}

func (p *prefixConn) Read(b []byte) (int, error) { return p.r.Read(b) }

// acceptHandshake reads an incoming connection's first bytes to tell a
// plaintext handshake from MSE, runs the right one, and returns the
// connection to use, the session, the peer's handshake and the encryption.
func acceptHandshake(nc net.Conn, sessions Sessions, deadline time.Time) (net.Conn, *Session, peerwire.Handshake, Cipher, error) {
	nc.SetDeadline(deadline)
	first := make([]byte, plainHeadLen)
	if _, err := io.ReadFull(nc, first); err != nil {
		return nil, nil, peerwire.Handshake{}, "", fmt.Errorf("session: reading a handshake: %w", err)
	}
	var target *Session
	lookup := func(ih [20]byte) (peerwire.Handshake, bool) {
		if target = sessions.Lookup(ih); target == nil {
			return peerwire.Handshake{}, false
		}
		return target.Handshake(), true
	}
	if string(first) == "\x13"+peerwire.Protocol {
		conn := &prefixConn{Conn: nc, r: io.MultiReader(bytes.NewReader(first), nc)}
		hs, err := peerwire.HandshakeIncoming(conn, deadline, lookup)
		if err != nil {
			return nil, nil, hs, "", err
		}
		if target.cfg.Encryption == EncryptRequire {
			return nil, nil, hs, "", errors.New("session: plaintext refused: encryption is required")
		}
		return conn, target, hs, EncPlain, nil
	}
	// MSE: find the torrent from the initiator's proof of its info-hash.
	skeys := mse.MatchSKEY(func(yield func([20]byte) bool) {
		sessions.Each(func(s *Session) bool {
			if s.cfg.Encryption == EncryptDisable {
				return true
			}
			return yield(s.InfoHash())
		})
	})
	var policy Encryption
	choose := func(provide uint32) uint32 {
		switch {
		case policy == EncryptPrefer && provide&mse.Plaintext != 0:
			return mse.Plaintext // as libtorrent does: RC4 costs a core per ~200 MB/s
		case provide&mse.RC4 != 0:
			return mse.RC4
		}
		return 0
	}
	skeysPolicy := func(x [20]byte, s [96]byte) ([20]byte, bool) {
		ih, ok := skeys(x, s)
		if ok {
			if t := sessions.Lookup(ih); t != nil {
				policy = t.cfg.Encryption
			}
		}
		return ih, ok
	}
	mc, err := mse.Receive(nc, first, skeysPolicy, choose, deadline)
	if err != nil {
		return nil, nil, peerwire.Handshake{}, "", err
	}
	hs, err := peerwire.HandshakeIncoming(mc, deadline, lookup)
	if err != nil {
		return nil, nil, hs, "", err
	}
	if hs.InfoHash != mc.InfoHash {
		return nil, nil, hs, "", errors.New("session: the handshake names another torrent than the encryption")
	}
	return mc, target, hs, encName(mc), nil
}

// errNoMSE marks an outgoing MSE handshake the peer did not complete, so
// that a plaintext retry may follow.
var errNoMSE = errors.New("session: peer did not complete the encryption handshake")

// dialPeer opens an outgoing connection with the session's encryption
// policy. plainOnly skips MSE for a peer known not to speak it. It
// reports whether it fell back to plaintext after an MSE failure.
func (s *Session) dialPeer(ctx context.Context, dial *peerDial, plainOnly bool) (net.Conn, peerwire.Handshake, Cipher, bool, error) {
	return dialTorrent(ctx, dial, s.ourHandshake(), s.cfg.Encryption, plainOnly, orDefaultHandshake(s.cfg.HandshakeTimeout))
}

// rawDial opens a transport connection to one peer.
type rawDial func(context.Context) (net.Conn, error)

// dialTorrent opens an outgoing connection for the torrent named in ours,
// with the given encryption policy; each handshake attempt may take up to
// limit, and all of them end when ctx does.
func dialTorrent(ctx context.Context, dial *peerDial, ours peerwire.Handshake, policy Encryption, plainOnly bool, limit time.Duration) (net.Conn, peerwire.Handshake, Cipher, bool, error) {
	defer dial.drop()
	var live liveConn
	defer context.AfterFunc(ctx, live.abort)()
	c, hs, enc, fellBack, err := dialAttempts(ctx, dial, ours, policy, plainOnly, limit, &live)
	if err == nil && !live.keep(c) {
		c.Close()
		return nil, hs, "", false, ctx.Err()
	}
	return c, hs, enc, fellBack, err
}

// liveConn is the connection a dial is handshaking on, for ctx's end to
// close under it: the handshakes themselves only watch their deadline.
type liveConn struct {
	mu      sync.Mutex
	c       net.Conn
	aborted bool
}

func (l *liveConn) set(c net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.c = c
	if l.aborted && c != nil {
		c.Close()
	}
	return !l.aborted
}

func (l *liveConn) abort() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.aborted = true
	if l.c != nil {
		l.c.Close()
	}
}

// keep reports whether c survives: false once ctx has ended.
func (l *liveConn) keep(c net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.c = nil
	return !l.aborted
}

// dialAttempts is dialTorrent's sequence: the handshake the policy asks
// for, on the race's other connection if the peer closed the first, then
// plaintext once if MSE failed and the policy allows it.
func dialAttempts(ctx context.Context, dial *peerDial, ours peerwire.Handshake, policy Encryption, plainOnly bool, limit time.Duration, live *liveConn) (net.Conn, peerwire.Handshake, Cipher, bool, error) {
	plain := policy == EncryptDisable || (plainOnly && policy == EncryptPrefer)
	provide := mse.RC4 | mse.Plaintext
	if policy == EncryptRequire {
		provide = mse.RC4
	}
	nc, err := dial.dial(ctx)
	if err != nil {
		return nil, peerwire.Handshake{}, "", false, err
	}
	live.set(nc)
	c, hs, enc, err := handshakeOut(nc, ours, plain, provide, limit)
	if err != nil && closedByPeer(err) {
		// The peer may have kept the other transport's connection and
		// closed this one as a second connection from our address: the
		// same handshake goes on over the other, before the peer gives
		// up on it. A fresh connection would be refused as well while
		// the peer still holds the one we closed.
		if sc := dial.takeSpare(); sc != nil {
			nc.Close()
			nc = sc
			live.set(nc)
			c, hs, enc, err = handshakeOut(nc, ours, plain, provide, limit)
		}
	}
	if err == nil {
		return c, hs, enc, false, nil
	}
	nc.Close()
	if plain {
		return nil, hs, "", false, err
	}
	if policy == EncryptRequire || ctx.Err() != nil {
		return nil, peerwire.Handshake{}, "", false, fmt.Errorf("%w: %w", errNoMSE, err)
	}
	// The peer may simply not speak MSE: try plaintext once.
	pc, hs, perr := dialPlain(ctx, func(ctx context.Context) (net.Conn, error) {
		c, err := dial.dial(ctx)
		if err == nil && !live.set(c) {
			return nil, ctx.Err()
		}
		return c, err
	}, ours, limit)
	return pc, hs, EncPlain, true, perr
}

// handshakeOut runs our side of the handshake on a new connection:
// plaintext, or MSE offering provide with our handshake inside.
func handshakeOut(nc net.Conn, ours peerwire.Handshake, plain bool, provide uint32, limit time.Duration) (net.Conn, peerwire.Handshake, Cipher, error) {
	deadline := time.Now().Add(limit)
	if plain {
		hs, err := peerwire.HandshakeOutgoing(nc, ours, deadline)
		return nc, hs, EncPlain, err
	}
	mc, err := mse.Initiate(nc, ours.InfoHash, provide, peerwire.AppendHandshake(nil, ours), deadline)
	if err != nil {
		return nil, peerwire.Handshake{}, "", err
	}
	hs, err := readPeerHandshake(mc, ours, deadline)
	if err != nil {
		return nil, hs, "", err
	}
	return mc, hs, encName(mc), nil
}

// readPeerHandshake reads the answer to a handshake already sent.
func readPeerHandshake(c net.Conn, ours peerwire.Handshake, deadline time.Time) (peerwire.Handshake, error) {
	c.SetDeadline(deadline)
	defer c.SetDeadline(time.Time{})
	hs, err := peerwire.ReadHandshakeStart(c)
	if err != nil {
		return hs, err
	}
	if hs.InfoHash != ours.InfoHash {
		return hs, fmt.Errorf("%w: got %x", peerwire.ErrInfoHashMismatch, hs.InfoHash)
	}
	hs.PeerID, err = peerwire.ReadPeerID(c)
	return hs, err
}
