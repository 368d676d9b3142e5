package peerwire

import (
	"errors"
	"net"
	"os"
	"testing"
	"time"
)

// tcpPair returns the two ends of a loopback TCP connection.
func tcpPair(t testing.TB) (dialed, accepted net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Skipf("no loopback TCP: %v", err)
	}
	defer ln.Close()
	type result struct {
		c   net.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		c, err := ln.Accept()
		ch <- result{c, err}
	}()
	dialed, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	r := <-ch
	if r.err != nil {
		t.Fatal(r.err)
	}
	t.Cleanup(func() { dialed.Close(); r.c.Close() })
	return dialed, r.c
}

func TestHandshakeConn(t *testing.T) {
	dialed, accepted := tcpPair(t)
	client := testHandshake()
	client.PeerID[0] = 'C'
	server := testHandshake()
	server.PeerID[0] = 'S'
	server.Reserved = [8]byte{}
	server.Set(BitFast)

	type result struct {
		peer Handshake
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		peer, err := HandshakeIncoming(accepted, time.Now().Add(200*time.Millisecond), func(ih [20]byte) (Handshake, bool) {
			return server, ih == server.InfoHash
		})
		if err == nil {
			// Sent only after the deadline has passed: it must still arrive.
			time.Sleep(300 * time.Millisecond)
			_, err = accepted.Write(AppendMessage(nil, Message{Kind: HaveAll}))
		}
		ch <- result{peer, err}
	}()
	got, err := HandshakeOutgoing(dialed, client, time.Now().Add(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	if got != server {
		t.Errorf("outgoing side got %+v, want %+v", got, server)
	}
	r := <-ch
	if r.err != nil {
		t.Fatal(r.err)
	}
	if r.peer != client {
		t.Errorf("incoming side got %+v, want %+v", r.peer, client)
	}
	m, err := NewReader(dialed).ReadMessage()
	if err != nil || m.Kind != HaveAll {
		t.Fatalf("message after handshake: %v, %v (deadline not cleared?)", m, err)
	}
}

func TestHandshakeIncomingUnknown(t *testing.T) {
	dialed, accepted := tcpPair(t)
	if err := WriteHandshake(dialed, testHandshake()); err != nil {
		t.Fatal(err)
	}
	_, err := HandshakeIncoming(accepted, time.Now().Add(time.Second), func([20]byte) (Handshake, bool) { return Handshake{}, false })
	want := "peerwire: unknown info hash: 0102030405060708090a0b0c0d0e0f1011121314"
	if !errors.Is(err, ErrUnknownInfoHash) || err.Error() != want {
		t.Fatalf("err = %v, want %s", err, want)
	}
}

func TestHandshakeOutgoingMismatch(t *testing.T) {
	dialed, accepted := tcpPair(t)
	other := testHandshake()
	other.InfoHash = [20]byte{19: 0xff}
	if err := WriteHandshake(accepted, other); err != nil {
		t.Fatal(err)
	}
	_, err := HandshakeOutgoing(dialed, testHandshake(), time.Now().Add(time.Second))
	want := "peerwire: info hash mismatch: got 00000000000000000000000000000000000000ff, want 0102030405060708090a0b0c0d0e0f1011121314"
	if !errors.Is(err, ErrInfoHashMismatch) || err.Error() != want {
		t.Fatalf("err = %v, want %s", err, want)
	}
}

func TestHandshakeTimeout(t *testing.T) {
	dialed, accepted := tcpPair(t)
	start := time.Now()
	_, err := HandshakeOutgoing(dialed, testHandshake(), start.Add(100*time.Millisecond))
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("silent peer: err = %v, want deadline exceeded", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("timeout took %v", d)
	}
	_, err = HandshakeIncoming(accepted, time.Now().Add(-time.Second), func([20]byte) (Handshake, bool) {
		t.Error("lookup called after a failed read")
		return Handshake{}, false
	})
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("past deadline: err = %v", err)
	}
}
