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

// TestHandshakeConn: both handshakes succeed under their deadline, and
// both clear it: once the instant has passed, messages still go both ways.
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
	deadline := time.Now().Add(500 * time.Millisecond)
	ch := make(chan result, 1)
	go func() {
		peer, err := HandshakeIncoming(accepted, deadline, func(ih [20]byte) (Handshake, bool) {
			return server, ih == server.InfoHash
		})
		ch <- result{peer, err}
	}()
	got, err := HandshakeOutgoing(dialed, client, deadline)
	if err != nil {
		t.Fatal(err)
	}
	if got != server {
		t.Errorf("outgoing side got %+v, want %+v", got, server)
	}
	r := <-ch // HandshakeIncoming returns by its deadline
	if r.err != nil {
		t.Fatal(r.err)
	}
	if r.peer != client {
		t.Errorf("incoming side got %+v, want %+v", r.peer, client)
	}

	// The event waited for is the deadline's instant itself.
	<-time.After(time.Until(deadline) + 10*time.Millisecond)
	exchange := func(from, to net.Conn, kind Kind) {
		t.Helper()
		got := make(chan error, 1)
		go func() {
			m, err := NewReader(to).ReadMessage()
			if err == nil && m.Kind != kind {
				err = errors.New("got " + m.Kind.String())
			}
			got <- err
		}()
		if _, err := from.Write(AppendMessage(nil, Message{Kind: kind})); err != nil {
			t.Fatalf("write %v after the deadline: %v (deadline not cleared?)", kind, err)
		}
		select {
		case err := <-got:
			if err != nil {
				t.Fatalf("read %v after the deadline: %v (deadline not cleared?)", kind, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%v sent after the deadline never arrived", kind)
		}
	}
	exchange(accepted, dialed, HaveAll)
	exchange(dialed, accepted, Interested)
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
