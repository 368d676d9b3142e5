package utp

import (
	"context"
	"crypto/sha1"
	"io"
	"math/rand/v2"
	"testing"
	"time"

	"tt/internal/transport"
)

// hostileDatagram makes one datagram of a fuzzing run: random bytes,
// headers of every type with random fields, and packets aimed at the
// connections the fuzzer opened (ids it knows): data far ahead or behind,
// acks of packets never sent, absurd windows, selective-ack extensions of
// any length, truncated extension chains, FINs and RESETs.
func hostileDatagram(r *rand.Rand, ids []uint16) []byte {
	switch k := r.IntN(10); {
	case k < 2: // noise
		b := make([]byte, r.IntN(1500))
		for i := range b {
			b[i] = byte(r.UintN(256))
		}
		return b
	case k < 4: // a header of any type, version 1
		h := header{typ: byte(r.UintN(5)), connID: uint16(r.UintN(65536)), ts: r.Uint32(), tsDiff: r.Uint32(),
			wnd: r.Uint32(), seq: uint16(r.UintN(65536)), ack: uint16(r.UintN(65536))}
		return appendPacket(nil, &h, nil, make([]byte, r.IntN(64)))
	}
	// Aimed at a live connection.
	id := ids[r.IntN(len(ids))]
	h := header{typ: byte(r.UintN(5)), connID: id, ts: r.Uint32(), tsDiff: r.Uint32(), seq: uint16(r.UintN(65536)), ack: uint16(r.UintN(65536))}
	switch r.IntN(4) {
	case 0:
		h.wnd = 0
	case 1:
		h.wnd = 0xffffffff
	default:
		h.wnd = r.Uint32()
	}
	switch k := r.IntN(20); {
	case k < 12:
		h.typ = stData
	case k < 16:
		h.typ = stState
	case k < 18:
		h.typ = stFin
	case k < 19:
		h.typ = stSyn
	default:
		h.typ = stReset
	}
	b := appendPacket(nil, &h, nil, nil)
	if r.IntN(2) == 0 {
		// An extension chain: selective acks of any length, unknown
		// extensions, or a chain cut short.
		b[1] = byte(r.UintN(3))
		n := r.IntN(256)
		ext := []byte{byte(r.UintN(3)), byte(n)}
		body := make([]byte, r.IntN(n+8))
		for i := range body {
			body[i] = byte(r.UintN(256))
		}
		b = append(append(b, ext...), body...)
	}
	return append(b, make([]byte, r.IntN(1400))...)
}

// TestHostileDatagrams: a million hostile datagrams (a tenth under the
// race detector) sent to a listening socket, partly over connections the
// fuzzer opened, while a transfer runs beside them on the same socket; the
// socket survives and the transfer completes intact.
func TestHostileDatagrams(t *testing.T) {
	n := 1_000_000
	if raceEnabled {
		n = 100_000
	}
	target := newEndpoint(t, Config{}, nil)
	peer := newEndpoint(t, Config{}, nil)
	// The target accepts everything: the peer's transfer and the
	// fuzzer's connections, whose data it reads and discards.
	const size = 32 << 20
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i * 31)
	}
	want := sha1.Sum(data)
	got := make(chan [20]byte, 1)
	go func() {
		for {
			c, err := target.s.Accept()
			if err != nil {
				return
			}
			go func() {
				if c.RemoteAddr().String() != peer.mux.LocalAddr().String() {
					io.Copy(io.Discard, c)
					return
				}
				h := sha1.New()
				io.CopyN(h, c, size)
				var sum [20]byte
				copy(sum[:], h.Sum(nil))
				got <- sum
			}()
		}
	}()

	fuzzer, err := transport.ListenUDP("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer fuzzer.Close()
	to := target.mux.LocalAddr()
	r := rand.New(rand.NewPCG(42, 7))
	// Open connections by hand: a SYN with id x makes the target listen
	// on x+1.
	var ids []uint16
	openConns := func() {
		for i := range 32 {
			x := uint16(1000 + 2*i)
			syn := header{typ: stSyn, connID: x, ts: micros(), wnd: 1 << 20, seq: 1}
			fuzzer.WriteToUDPAddrPort(appendPacket(nil, &syn, nil, nil), to)
		}
	}
	for i := range 32 {
		ids = append(ids, uint16(1000+2*i+1))
	}
	openConns()

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := peer.s.Dial(ctx, to)
	if err != nil {
		t.Fatal(err)
	}
	go c.Write(data)

	sent := 0
	start := time.Now()
	for ; sent < n && ctx.Err() == nil; sent++ {
		fuzzer.WriteToUDPAddrPort(hostileDatagram(r, ids), to)
		if sent%2000 == 1999 {
			time.Sleep(time.Millisecond) // a flood, not a test of the kernel's buffer
		}
		if sent%20000 == 19999 {
			openConns() // again, for those a RESET or FIN ended
		}
	}
	t.Logf("%d hostile datagrams in %s; target: %d received, %d malformed, %d unknown, %d resets sent",
		sent, time.Since(start).Round(time.Millisecond), target.s.Received.Load(), target.s.Malformed.Load(),
		target.s.Unknown.Load(), target.s.ResetsSent.Load())
	select {
	case sum := <-got:
		if sum != want {
			t.Fatal("transfer corrupted")
		}
	case <-ctx.Done():
		target.s.mu.Lock()
		for k, tc := range target.s.conns {
			if k.addr == peer.mux.LocalAddr() {
				tc.mu.Lock()
				t.Logf("target side: state %d ackNr %d ooo %d (%d bytes) rbuf %d bytes, eof %v", tc.state, tc.ackNr, len(tc.ooo), tc.oooBytes, tc.rbufBytes, tc.eof)
				tc.mu.Unlock()
			}
		}
		target.s.mu.Unlock()
		c.mu.Lock()
		t.Logf("sender: sent %d out %d first %d lastAck %d inflight %d lost %v", c.sent, len(c.out), c.out[0].seq, c.lastAck, c.inflight, c.out[0].lost)
		c.mu.Unlock()
		t.Fatalf("transfer did not complete: %+v", c.Stats())
	}
	// Still accepting and answering after the storm.
	c2, err := peer.s.Dial(ctx, to)
	if err != nil {
		t.Fatalf("dial after the storm: %v", err)
	}
	c2.Close()
}
