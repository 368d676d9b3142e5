package session

import (
	"context"
	"errors"
	"net"
	"sync"
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
// each connection to the session whose info-hash it names. It returns when
// ctx ends or ln fails.
func Serve(ctx context.Context, ln net.Listener, sessions Sessions) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	sem := make(chan struct{}, 64) // handshakes in progress
	for {
		nc, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return err
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
			conn, target, hs, enc, err := acceptHandshake(nc, sessions, time.Now().Add(handshakeTimeout()))
			if err != nil || !target.accept(conn, nc, hs, enc) {
				nc.Close()
			}
		}()
	}
}
