package utp

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"testing"
	"time"
)

// wire records the packets an endpoint sends, with their bytes.
type wire struct {
	w  PacketWriter
	mu sync.Mutex
	// sent holds every uTP packet written, in order.
	sent []sentPacket
}

type sentPacket struct {
	h   header
	raw []byte
	to  netip.AddrPort
}

func (r *wire) WriteToUDPAddrPort(b []byte, to netip.AddrPort) (int, error) {
	if h, _, _, err := parsePacket(b); err == nil {
		r.mu.Lock()
		r.sent = append(r.sent, sentPacket{h, append([]byte(nil), b...), to})
		r.mu.Unlock()
	}
	return r.w.WriteToUDPAddrPort(b, to)
}

func (r *wire) packets() []sentPacket {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]sentPacket(nil), r.sent...)
}

// fin is the last FIN recorded (ok false without one).
func (r *wire) fin() (p sentPacket, ok bool) {
	for _, p := range r.packets() {
		if p.h.typ == stFin {
			return p, true
		}
	}
	return p, false
}

// recordedEndpoint is an endpoint whose sent packets are recorded.
func recordedEndpoint(t *testing.T) (endpoint, *wire) {
	t.Helper()
	var r *wire
	e := newEndpoint(t, Config{}, func(w PacketWriter) PacketWriter {
		r = &wire{w: w}
		return r
	})
	return e, r
}

// pair connects a to b and returns both ends; b's end closes once it
// reads EOF, as a peer application does. done is closed after that.
func pair(t *testing.T, a, b endpoint) (ca, cb *Conn, done chan struct{}) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	accepted := make(chan *Conn, 1)
	go func() {
		c, err := b.s.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c.(*Conn)
	}()
	ca, err := a.s.Dial(ctx, b.mux.LocalAddr())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ca.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	select {
	case cb = <-accepted:
	case <-ctx.Done():
		t.Fatal("no connection accepted")
	}
	if cb == nil {
		t.Fatal("accept failed")
	}
	done = make(chan struct{})
	t.Cleanup(func() {
		cb.SetReadDeadline(time.Now())
		<-done
	})
	go func() {
		defer close(done)
		cb.SetReadDeadline(time.Now().Add(10 * time.Second))
		io.Copy(io.Discard, cb)
		cb.Close()
	}()
	return ca, cb, done
}

func waitDead(t *testing.T, c *Conn, d time.Duration) {
	t.Helper()
	select {
	case <-c.dead:
	case <-time.After(d):
		t.Fatalf("connection still open after %s: %+v", d, c.Stats())
	}
}

// TestStateAfterFINCarriesFINSeq: once we sent our FIN, our acks carry the
// FIN's sequence number, never the one after it (libtorrent drops packets
// numbered past a FIN it received, and so never saw its own FIN acked);
// the close completes both ways without a RESET.
func TestStateAfterFINCarriesFINSeq(t *testing.T) {
	a, wa := recordedEndpoint(t)
	b, wb := recordedEndpoint(t)
	ca, cb, done := pair(t, a, b)
	ca.Close()
	<-done
	waitDead(t, ca, 5*time.Second)
	waitDead(t, cb, 5*time.Second)

	ours, ok := wa.fin()
	if !ok {
		t.Fatal("no FIN sent")
	}
	theirs, ok := wb.fin()
	if !ok {
		t.Fatal("the peer sent no FIN")
	}
	acked := false
	afterFIN := false
	for _, p := range wa.packets() {
		if p.h.typ == stFin {
			afterFIN = true
			continue
		}
		if !afterFIN {
			continue
		}
		if p.h.typ != stState {
			t.Errorf("type %d sent after our FIN", p.h.typ)
		}
		if p.h.seq != ours.h.seq {
			t.Errorf("a state after our FIN (seq %d) carries seq %d", ours.h.seq, p.h.seq)
		}
		if p.h.ack == theirs.h.seq {
			acked = true
		}
	}
	if !acked {
		t.Error("the peer's FIN was never acknowledged")
	}
	for _, w := range []*wire{wa, wb} {
		for _, p := range w.packets() {
			if p.h.typ == stReset {
				t.Errorf("a RESET during a clean close: %+v", p.h)
			}
		}
	}
	if err := ca.err(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("closed connection's error %v", err)
	}
}

// TestTimeWaitAcksRetransmittedFIN: after the close completed, a FIN the
// peer sends again (it missed our ack) is acknowledged again.
func TestTimeWaitAcksRetransmittedFIN(t *testing.T) {
	a, wa := recordedEndpoint(t)
	b, wb := recordedEndpoint(t)
	ca, _, done := pair(t, a, b)
	ca.Close()
	<-done
	waitDead(t, ca, 5*time.Second)
	theirs, ok := wb.fin()
	if !ok {
		t.Fatal("the peer sent no FIN")
	}
	ours, _ := wa.fin()
	before := len(wa.packets())
	b.mux.WriteToUDPAddrPort(theirs.raw, a.mux.LocalAddr())
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		for _, p := range wa.packets()[before:] {
			if p.h.typ == stState && p.h.ack == theirs.h.seq && p.h.seq == ours.h.seq {
				return
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("the repeated FIN was not acknowledged: %+v", wa.packets()[before:])
}

// TestSocketCloseCompletesClose: closing the socket right after a
// connection waits until the peer's FIN is in and acknowledged, so the
// peer's side ends cleanly too, not by its timeout.
func TestSocketCloseCompletesClose(t *testing.T) {
	a, wa := recordedEndpoint(t)
	b, wb := recordedEndpoint(t)
	ca, cb, done := pair(t, a, b)
	ca.Close()
	start := time.Now()
	a.s.Close()
	if d := time.Since(start); d >= closeWait {
		t.Errorf("Socket.Close took %s", d)
	}
	<-done
	theirs, ok := wb.fin()
	if !ok {
		t.Fatal("the peer sent no FIN")
	}
	acked := false
	for _, p := range wa.packets() {
		if p.h.typ == stState && p.h.ack == theirs.h.seq {
			acked = true
		}
		if p.h.typ == stReset {
			t.Errorf("a RESET: %+v", p.h)
		}
	}
	if !acked {
		t.Error("Socket.Close returned before the peer's FIN was acknowledged")
	}
	waitDead(t, cb, 5*time.Second)
	if err := cb.err(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("the peer's connection ended with %v", err)
	}
}

// TestSocketCloseResetsOpen: a connection still open when the socket
// closes is reset, and the peer learns it at once.
func TestSocketCloseResetsOpen(t *testing.T) {
	a, _ := recordedEndpoint(t)
	b, _ := recordedEndpoint(t)
	ca, cb, _ := pair(t, a, b)
	a.s.Close()
	if _, err := ca.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Errorf("write after Socket.Close: %v", err)
	}
	waitDead(t, cb, 5*time.Second)
	if err := cb.err(); !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("the peer's connection ended with %v, want a reset", err)
	}
}

// TestResetsRateLimited: packets for unknown connections are answered
// with at most resetRate RESETs a second (plus the burst).
func TestResetsRateLimited(t *testing.T) {
	a, _ := recordedEndpoint(t)
	from := netip.MustParseAddrPort("127.0.0.1:9")
	h := header{typ: stData, connID: 77, seq: 1}
	pkt := appendPacket(nil, &h, nil, nil)
	start := time.Now()
	for range 1000 {
		a.s.HandlePacket(from, pkt)
	}
	limit := uint64(resetRate + resetRate*time.Since(start).Seconds() + 1)
	if n := a.s.ResetsSent.Load(); n == 0 || n > limit {
		t.Fatalf("%d resets for 1000 unknown packets, want 1..%d", n, limit)
	}
}

// TestResetOfUnknownConnectionEndsPeer: a socket that no longer knows a
// connection answers its packets with a RESET, and the peer's connection
// ends with it instead of retransmitting until it times out.
func TestResetOfUnknownConnectionEndsPeer(t *testing.T) {
	a, _ := recordedEndpoint(t)
	b, _ := recordedEndpoint(t)
	ca, cb, _ := pair(t, a, b)
	b.s.mu.Lock()
	delete(b.s.conns, connKey{cb.remote, cb.recvID})
	b.s.mu.Unlock()
	if _, err := ca.Write([]byte("anyone?")); err != nil {
		t.Fatal(err)
	}
	waitDead(t, ca, 5*time.Second)
	if err := ca.err(); !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("connection ended with %v, want a reset", err)
	}
}

// finGate holds back the FINs an endpoint sends until it is opened.
type finGate struct {
	w    PacketWriter
	mu   sync.Mutex
	open bool
	held []heldPacket
}

func (g *finGate) WriteToUDPAddrPort(b []byte, to netip.AddrPort) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if h, _, _, err := parsePacket(b); err == nil && h.typ == stFin && !g.open {
		g.held = append(g.held, heldPacket{append([]byte(nil), b...), to})
		return len(b), nil
	}
	return g.w.WriteToUDPAddrPort(b, to)
}

// fin is the header of the first FIN held back.
func (g *finGate) fin() (h header, ok bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.held) == 0 {
		return h, false
	}
	h, _, _, _ = parsePacket(g.held[0].b)
	return h, true
}

func socketClosed(s *Socket) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

func (g *finGate) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.open = true
	for _, p := range g.held {
		g.w.WriteToUDPAddrPort(p.b, p.to)
	}
	g.held = nil
}

// TestSocketCloseAgainWaitsForFirst: a second Socket.Close while the first
// still waits for a peer's FIN (a listener closed as its context ends,
// then the socket) returns only once the first is done, so the caller does
// not close the UDP socket under it and the peer's FIN is still
// acknowledged.
func TestSocketCloseAgainWaitsForFirst(t *testing.T) {
	a, wa := recordedEndpoint(t)
	var gate *finGate
	b := newEndpoint(t, Config{}, func(w PacketWriter) PacketWriter {
		gate = &finGate{w: w}
		return gate
	})
	ca, _, done := pair(t, a, b)
	ca.Close()
	first := make(chan struct{})
	go func() { a.s.Close(); close(first) }()
	deadline := time.Now().Add(5 * time.Second)
	for !socketClosed(a.s) {
		if time.Now().After(deadline) {
			t.Fatal("Socket.Close did not start")
		}
		time.Sleep(time.Millisecond)
	}
	second := make(chan struct{})
	go func() { a.s.Close(); close(second) }()
	select {
	case <-second:
		t.Fatal("a second Socket.Close returned while the first waits for the peer's FIN")
	case <-first:
		t.Fatal("Socket.Close returned before the peer's FIN")
	case <-time.After(closeWait / 4):
	}
	select {
	case <-done: // the peer read EOF and closed: its FIN is held
	case <-time.After(5 * time.Second):
		t.Fatal("the peer did not close")
	}
	theirs, ok := gate.fin()
	if !ok {
		t.Fatal("the peer sent no FIN")
	}
	gate.release()
	select {
	case <-second:
	case <-time.After(5 * time.Second):
		t.Fatal("the second Socket.Close did not return")
	}
	acked := false
	for _, p := range wa.packets() {
		if p.h.typ == stState && p.h.ack == theirs.seq {
			acked = true
		}
	}
	<-first
	if !acked {
		t.Error("the second Socket.Close returned before the peer's FIN was acknowledged")
	}
}
