package session

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"

	"tt/peerwire"
)

// Serve accepts peer connections on ln, performs the handshake and hands
// each connection to the session whose info-hash it names (lookup returns
// nil for none). It returns when ctx ends or ln fails.
func Serve(ctx context.Context, ln net.Listener, lookup func(infoHash [20]byte) *Session) error {
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
			var target *Session
			hs, err := peerwire.HandshakeIncoming(nc, time.Now().Add(handshakeTimeout), func(ih [20]byte) (peerwire.Handshake, bool) {
				if target = lookup(ih); target == nil {
					return peerwire.Handshake{}, false
				}
				return target.Handshake(), true
			})
			if err != nil || !target.Accept(nc, hs) {
				nc.Close()
			}
		}()
	}
}
