package session

import (
	"bytes"
	"context"
	"crypto/rand"
	"net"
	"net/netip"
	"testing"
	"time"

	"tt/peerwire"
)

// TestEncryptionPolicies: every pair of policies that can talk does, with
// the encryption the policies imply; require and disable never meet.
func TestEncryptionPolicies(t *testing.T) {
	for _, c := range []struct {
		seed, leech Encryption
		want        Cipher // the leecher's view of the connection; "" = no connection
	}{
		{EncryptPrefer, EncryptPrefer, EncMSEPlain},
		{EncryptPrefer, EncryptRequire, EncRC4},
		{EncryptRequire, EncryptPrefer, EncRC4},
		{EncryptRequire, EncryptRequire, EncRC4},
		{EncryptDisable, EncryptPrefer, EncPlain},
		{EncryptPrefer, EncryptDisable, EncPlain},
		{EncryptDisable, EncryptRequire, ""},
		{EncryptRequire, EncryptDisable, ""},
	} {
		t.Run(c.seed.String()+"-"+c.leech.String(), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			tor, content := makeTorrent(t, 256<<10, 16<<10, nil)
			seed := startNode(t, ctx, Config{Torrent: tor, Store: newMemStore(tor, content), Have: allHave(tor.NumPieces()), Seed: true, Encryption: c.seed})
			cfg := Config{Torrent: tor, Store: newMemStore(tor, nil), Peers: []netip.AddrPort{seed.addr}, Encryption: c.leech, Seed: true}
			if c.want == "" {
				cfg.StallAfter, cfg.Seed = 2*time.Second, false
			}
			leech := startNode(t, ctx, cfg)
			if c.want == "" {
				leech.wait(t, 10*time.Second)
				if leech.err == nil {
					t.Fatal("policies that cannot meet exchanged data")
				}
				return
			}
			st := waitStats(t, leech, 20*time.Second, "complete", func(st Stats) bool { return st.Complete && len(st.Peers) > 0 })
			if got := st.Peers[0].Encryption; got != c.want {
				t.Fatalf("encryption %q, want %q", got, c.want)
			}
			if !bytes.Equal(leech.store.bytes(), content) {
				t.Fatal("content differs")
			}
		})
	}
}

// TestHostileEncryptedHandshakes: garbage, truncated MSE exchanges and
// oversized pads are dropped; an honest encrypted peer then downloads.
func TestHostileEncryptedHandshakes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tor, content := makeTorrent(t, 256<<10, 16<<10, nil)
	seed := startNode(t, ctx, Config{Torrent: tor, Store: newMemStore(tor, content), Have: allHave(tor.NumPieces()), Seed: true,
		HandshakeTimeout: time.Second})
	garbage := make([]byte, 3000)
	rand.Read(garbage)
	for name, in := range map[string][]byte{
		"garbage":           garbage,
		"short public key":  garbage[:60],
		"key, 600-byte pad": garbage[:96+600],
		"plaintext prefix":  []byte("\x13BitTorrent protocolXXXX"),
	} {
		nc, err := net.Dial("tcp", seed.addr.String())
		if err != nil {
			t.Fatal(err)
		}
		nc.Write(in)
		expectDropped(t, nc, name)
		nc.Close()
	}
	leech := startNode(t, ctx, Config{Torrent: tor, Store: newMemStore(tor, nil), Peers: []netip.AddrPort{seed.addr}, Encryption: EncryptRequire})
	leech.wait(t, 20*time.Second)
	if leech.err != nil || !bytes.Equal(leech.store.bytes(), content) {
		t.Fatalf("honest peer after hostile handshakes: %v", leech.err)
	}
}

// TestDialEndsWithContext: a peer that accepts and never answers holds a
// dial only until the session's context ends, not for the handshake
// timeout.
func TestDialEndsWithContext(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var tr Carrier
	var raw net.Conn
	pd := dialer{mode: TransportTCP}.sticky(netip.MustParseAddrPort(ln.Addr().String()), true, &tr, &raw)
	done := make(chan error, 1)
	go func() {
		_, _, _, _, err := dialTorrent(ctx, pd, peerwire.Handshake{}, EncryptPrefer, false, time.Minute)
		done <- err
	}()
	select {
	case c := <-accepted:
		defer c.Close()
	case <-time.After(5 * time.Second):
		t.Fatal("no connection within 5 s")
	}
	cancel()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("the dial succeeded against a silent peer")
		}
	case <-time.After(2 * time.Second):
		t.Fatal("the dial outlived its context by 2 s")
	}
}
