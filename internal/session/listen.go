package session

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"time"
)

// Sessions is what a listener serves.
type Sessions interface {
	// Lookup returns the session of an info-hash, or nil.
	Lookup(infoHash [20]byte) *Session
	// Each calls yield for every session until it returns false.
	Each(yield func(*Session) bool)
}

// One serves a single session.
type One struct{ S *Session }

// Lookup implements Sessions.
func (o One) Lookup(ih [20]byte) *Session {
	if o.S != nil && o.S.InfoHash() == ih {
		return o.S
	}
	return nil
}

// Each implements Sessions.
func (o One) Each(yield func(*Session) bool) {
	if o.S != nil {
		yield(o.S)
	}
}

// Serve accepts peer connections on ln, performs the handshake (plaintext,
// or MSE first, as each session's encryption policy allows) and hands
// each connection to the session whose info-hash it names. It returns nil
// when ctx ends, and an error only when ln is closed under it or fails
// for good: running out of descriptors or buffers (EMFILE, ENFILE,
// ENOBUFS, ENOMEM) or a connection aborted before it was accepted only
// pauses it, longer each time in a row, up to a second.
func Serve(ctx context.Context, ln net.Listener, sessions Sessions) error {
	return ServeWith(ctx, ln, sessions, ServeOptions{})
}

// bannedByAll reports whether every session served has banned the IP a
// connection comes from.
func bannedByAll(sessions Sessions, remote net.Addr) bool {
	ap, err := netip.ParseAddrPort(remote.String())
	if err != nil {
		return false
	}
	ip, any, all := ap.Addr().Unmap(), false, true
	sessions.Each(func(s *Session) bool {
		any = true
		bans := s.bannedIPs.Load()
		if bans == nil {
			all = false
		} else if _, ok := (*bans)[ip]; !ok {
			all = false
		}
		return all
	})
	return any && all
}

// FirstAcceptPause is the first pause after an Accept error that only
// pauses serving; each further one in a row doubles, up to a second.
const FirstAcceptPause = 5 * time.Millisecond

// ServeOptions tune ServeWith.
type ServeOptions struct {
	// Paused, when set, is told of every Accept error that only pauses
	// serving, and of how long the pause is. It is called from Serve's
	// goroutine and should return quickly.
	Paused func(err error, wait time.Duration)
	// HandshakeTimeout bounds an incoming connection's handshake, MSE
	// included (default 20 s).
	HandshakeTimeout time.Duration
}

// ServeWith is Serve with options.
func ServeWith(ctx context.Context, ln net.Listener, sessions Sessions, o ServeOptions) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	sem := make(chan struct{}, 64) // handshakes in progress
	limit := orDefaultHandshake(o.HandshakeTimeout)
	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if !temporaryAccept(err) {
				return err
			}
			backoff = min(max(2*backoff, FirstAcceptPause), time.Second)
			if o.Paused != nil {
				o.Paused(err, backoff)
			}
			t := time.NewTimer(backoff)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil
			case <-t.C:
			}
			continue
		}
		backoff = 0
		if bannedByAll(sessions, nc.RemoteAddr()) {
			nc.Close() // before any handshake: MSE's key exchange costs
			continue
		}
		select {
		case sem <- struct{}{}:
		default:
			nc.Close() // too many half-open connections
			continue
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			conn, target, hs, enc, err := acceptHandshake(nc, sessions, time.Now().Add(limit))
			if err != nil || !target.accept(conn, nc, hs, enc) {
				nc.Close()
			}
		}()
	}
}

// temporaryAccept says whether an Accept error passes: the listener is
// still open and a later Accept may succeed.
func temporaryAccept(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	for _, e := range []error{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM, syscall.ECONNABORTED, syscall.EINTR} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}
