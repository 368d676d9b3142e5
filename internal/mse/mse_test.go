package mse

import (
	"bytes"
	"crypto/sha1"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// tcpPair returns the two ends of a loopback TCP connection.
func tcpPair(t testing.TB) (a, b net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan net.Conn)
	go func() {
		c, _ := ln.Accept()
		done <- c
	}()
	a, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	b = <-done
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

var ih = sha1.Sum([]byte("an info dictionary"))

func serves(hashes ...[20]byte) func([20]byte, [keyLen]byte) ([20]byte, bool) {
	return MatchSKEY(func(yield func([20]byte) bool) {
		for _, h := range hashes {
			if !yield(h) {
				return
			}
		}
	})
}

func prefer(provide uint32) uint32 {
	if provide&RC4 != 0 {
		return RC4
	}
	return provide & Plaintext
}

type result struct {
	c   *Conn
	err error
}

func handshake(t *testing.T, provide uint32, choose func(uint32) uint32, ia []byte) (*Conn, *Conn, error, error) {
	t.Helper()
	a, b := tcpPair(t)
	deadline := time.Now().Add(5 * time.Second)
	rc := make(chan result, 1)
	go func() {
		c, err := Receive(b, nil, serves(sha1.Sum([]byte("other")), ih), choose, deadline)
		rc <- result{c, err}
	}()
	ca, errA := Initiate(a, ih, provide, ia, deadline)
	r := <-rc
	return ca, r.c, errA, r.err
}

func TestHandshakeRC4AndPlaintext(t *testing.T) {
	for _, c := range []struct {
		name    string
		provide uint32
		choose  func(uint32) uint32
		want    uint32
	}{
		{"rc4", RC4, prefer, RC4},
		{"both, receiver prefers rc4", RC4 | Plaintext, prefer, RC4},
		{"both, receiver picks plaintext", RC4 | Plaintext, func(uint32) uint32 { return Plaintext }, Plaintext},
	} {
		t.Run(c.name, func(t *testing.T) {
			ia := []byte("\x13BitTorrent protocol and the rest of a handshake")
			ca, cb, errA, errB := handshake(t, c.provide, c.choose, ia)
			if errA != nil || errB != nil {
				t.Fatalf("initiator %v, receiver %v", errA, errB)
			}
			if ca.Method != c.want || cb.Method != c.want || cb.InfoHash != ih {
				t.Fatalf("methods %d/%d, info-hash %x", ca.Method, cb.Method, cb.InfoHash)
			}
			got := make([]byte, len(ia))
			if _, err := io.ReadFull(cb, got); err != nil || !bytes.Equal(got, ia) {
				t.Fatalf("initial payload %q, %v", got, err)
			}
			// Both directions, in several writes, after the handshake.
			msg := bytes.Repeat([]byte("0123456789"), 5000)
			go func() { ca.Write(msg[:1000]); ca.Write(msg[1000:]) }()
			got = make([]byte, len(msg))
			if _, err := io.ReadFull(cb, got); err != nil || !bytes.Equal(got, msg) {
				t.Fatalf("A→B stream: %v", err)
			}
			go cb.Write(msg)
			if _, err := io.ReadFull(ca, got); err != nil || !bytes.Equal(got, msg) {
				t.Fatalf("B→A stream: %v", err)
			}
		})
	}
}

// TestRequireIsNeverPlaintext: what crosses the wire when RC4 is required
// never contains the handshake or the payload in the clear.
func TestRequireIsNeverPlaintext(t *testing.T) {
	a, b := tcpPair(t)
	tap := &tapConn{Conn: a}
	deadline := time.Now().Add(5 * time.Second)
	rc := make(chan result, 1)
	go func() {
		c, err := Receive(b, nil, serves(ih), prefer, deadline)
		if err == nil {
			io.Copy(io.Discard, c)
		}
		rc <- result{c, err}
	}()
	ia := []byte("\x13BitTorrent protocol")
	c, err := Initiate(tap, ih, RC4, ia, deadline)
	if err != nil {
		t.Fatal(err)
	}
	c.Write(bytes.Repeat([]byte("BitTorrent protocol "), 100))
	a.Close()
	<-rc
	if bytes.Contains(tap.sent.Bytes(), []byte("BitTorrent protocol")) {
		t.Fatal("plaintext on the wire with RC4 required")
	}
}

type tapConn struct {
	net.Conn
	sent bytes.Buffer
}

func (t *tapConn) Write(b []byte) (int, error) { t.sent.Write(b); return t.Conn.Write(b) }

func TestHandshakeFailures(t *testing.T) {
	t.Run("unknown info-hash", func(t *testing.T) {
		a, b := tcpPair(t)
		deadline := time.Now().Add(5 * time.Second)
		rc := make(chan result, 1)
		go func() {
			c, err := Receive(b, nil, serves(sha1.Sum([]byte("x"))), prefer, deadline)
			b.Close()
			rc <- result{c, err}
		}()
		Initiate(a, ih, RC4, nil, deadline)
		if r := <-rc; !errors.Is(r.err, ErrSKEY) {
			t.Fatalf("receiver: %v, want ErrSKEY", r.err)
		}
	})
	t.Run("no common method", func(t *testing.T) {
		_, _, errA, errB := handshake(t, Plaintext, func(uint32) uint32 { return 0 }, nil)
		if !errors.Is(errB, ErrMethod) || errA == nil {
			t.Fatalf("initiator %v, receiver %v", errA, errB)
		}
	})
	t.Run("receiver selects what was not provided", func(t *testing.T) {
		_, _, errA, _ := handshake(t, RC4, func(uint32) uint32 { return Plaintext }, nil)
		if !errors.Is(errA, ErrMethod) {
			t.Fatalf("initiator %v, want ErrMethod", errA)
		}
	})
}

// TestHostileInitiators: garbage, a bad key and an oversized pad end the
// receiver's handshake with an error while the initiator still holds the
// connection open (the bounds stop it, not the deadline or the end of the
// stream); a truncated exchange ends it as soon as the initiator stops
// sending.
func TestHostileInitiators(t *testing.T) {
	k, _ := newKeyPair()
	pub := k.pub[:]
	for name, c := range map[string]struct {
		input     []byte
		truncated bool // the initiator half-closes after the input
	}{
		"garbage":        {bytes.Repeat([]byte{0xAB}, 2000), false},
		"zero key":       {make([]byte, keyLen+100), false},
		"600-byte pad":   {append(append([]byte{}, pub...), make([]byte, 600)...), false},
		"short key":      {pub[:50], true},
		"key only":       {pub, true},
		"key and 1 byte": {append(append([]byte{}, pub...), 7), true},
	} {
		t.Run(name, func(t *testing.T) {
			a, b := tcpPair(t)
			go io.Copy(io.Discard, a) // the receiver's key and pad
			if _, err := a.Write(c.input); err != nil {
				t.Fatal(err)
			}
			if c.truncated {
				if err := a.(*net.TCPConn).CloseWrite(); err != nil {
					t.Fatal(err)
				}
			}
			const deadline = 10 * time.Second
			start := time.Now()
			_, err := Receive(b, nil, serves(ih), prefer, start.Add(deadline))
			took := time.Since(start)
			if err == nil {
				t.Fatal("handshake accepted")
			}
			if errors.Is(err, os.ErrDeadlineExceeded) || took > deadline/2 {
				t.Fatalf("took %s (%v): the receiver waited instead of giving up", took, err)
			}
		})
	}
}

func TestReceiveWithFirstBytes(t *testing.T) {
	// A listener that peeked at the first bytes hands them back.
	a, b := tcpPair(t)
	deadline := time.Now().Add(5 * time.Second)
	rc := make(chan result, 1)
	go func() {
		first := make([]byte, 20)
		if _, err := io.ReadFull(b, first); err != nil {
			rc <- result{nil, err}
			return
		}
		c, err := Receive(b, first, serves(ih), prefer, deadline)
		rc <- result{c, err}
	}()
	if _, err := Initiate(a, ih, RC4, []byte("hi"), deadline); err != nil {
		t.Fatal(err)
	}
	r := <-rc
	if r.err != nil {
		t.Fatal(r.err)
	}
	got := make([]byte, 2)
	io.ReadFull(r.c, got)
	if string(got) != "hi" {
		t.Fatalf("initial payload %q", got)
	}
}

// FuzzReceive feeds the receiver arbitrary initiator bytes: it must never
// panic and must fail or succeed within its deadline.
func FuzzReceive(f *testing.F) {
	k, _ := newKeyPair()
	f.Add(k.pub[:])
	f.Add(append(k.pub[:], make([]byte, 40)...))
	f.Add([]byte("\x13BitTorrent protocol"))
	f.Fuzz(func(t *testing.T, in []byte) {
		a, b := net.Pipe()
		defer a.Close()
		defer b.Close()
		go func() {
			a.Write(in)
			a.Close()
		}()
		Receive(b, nil, serves(ih), prefer, time.Now().Add(time.Second))
	})
}
