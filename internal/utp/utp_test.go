package utp

import (
	"bytes"
	"context"
	"crypto/sha1"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"tt/internal/transport"
)

// lossy wraps a writer, dropping and reordering some datagrams.
type lossy struct {
	w       PacketWriter
	mu      sync.Mutex
	r       *rand.Rand
	drop    float64
	reorder float64
	held    []heldPacket
}

type heldPacket struct {
	b  []byte
	to netip.AddrPort
}

func (l *lossy) WriteToUDPAddrPort(b []byte, to netip.AddrPort) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.r.Float64() < l.drop {
		return len(b), nil
	}
	if l.r.Float64() < l.reorder {
		l.held = append(l.held, heldPacket{append([]byte(nil), b...), to})
		return len(b), nil
	}
	n, err := l.w.WriteToUDPAddrPort(b, to)
	for _, h := range l.held {
		l.w.WriteToUDPAddrPort(h.b, h.to)
	}
	l.held = l.held[:0]
	return n, err
}

type endpoint struct {
	mux *transport.UDPMux
	s   *Socket
}

func newEndpoint(t testing.TB, cfg Config, wrap func(PacketWriter) PacketWriter) endpoint {
	t.Helper()
	mux, err := transport.ListenUDP("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var w PacketWriter = mux
	if wrap != nil {
		w = wrap(mux)
	}
	s := NewSocket(w, net.UDPAddrFromAddrPort(mux.LocalAddr()), cfg)
	mux.Handle(s)
	t.Cleanup(func() { s.Close(); mux.Close() })
	return endpoint{mux, s}
}

// transfer sends n bytes a → b and checks they arrive intact, then checks
// the reverse direction with a short reply and a clean close.
func transfer(t *testing.T, a, b endpoint, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	data := make([]byte, n)
	for i := range data {
		data[i] = byte(i*7 + i>>9)
	}
	want := sha1.Sum(data)
	got := make(chan [20]byte, 1)
	errc := make(chan error, 2)
	go func() {
		c, err := b.s.Accept()
		if err != nil {
			errc <- err
			return
		}
		h := sha1.New()
		if _, err := io.CopyN(h, c, int64(n)); err != nil {
			errc <- err
			return
		}
		var sum [20]byte
		copy(sum[:], h.Sum(nil))
		got <- sum
		c.Write([]byte("thanks"))
		// The sender closes first; we then see EOF.
		if _, err := c.Read(make([]byte, 1)); err != io.EOF {
			errc <- err
		}
		c.Close()
	}()
	c, err := a.s.Dial(ctx, b.mux.LocalAddr())
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		_, err := c.Write(data)
		if err != nil {
			errc <- err
		}
	}()
	select {
	case sum := <-got:
		if sum != want {
			t.Fatal("data corrupted")
		}
	case err := <-errc:
		t.Fatal(err)
	case <-ctx.Done():
		t.Fatalf("transfer timed out; sender %+v", c.Stats())
	}
	reply := make([]byte, 6)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(c, reply); err != nil || string(reply) != "thanks" {
		t.Fatalf("reply %q, %v", reply, err)
	}
	c.Close()
}

func TestTransferLoopback(t *testing.T) {
	a, b := newEndpoint(t, Config{}, nil), newEndpoint(t, Config{}, nil)
	transfer(t, a, b, 16<<20)
}

func TestTransferLargePackets(t *testing.T) {
	a, b := newEndpoint(t, Config{PacketSize: 16 << 10}, nil), newEndpoint(t, Config{PacketSize: 16 << 10}, nil)
	transfer(t, a, b, 32<<20)
}

func TestTransferLossAndReorder(t *testing.T) {
	wrap := func(seed uint64) func(PacketWriter) PacketWriter {
		return func(w PacketWriter) PacketWriter {
			return &lossy{w: w, r: rand.New(rand.NewPCG(seed, 1)), drop: 0.03, reorder: 0.05}
		}
	}
	a := newEndpoint(t, Config{PacketSize: 1400}, wrap(1))
	b := newEndpoint(t, Config{PacketSize: 1400}, wrap(2))
	transfer(t, a, b, 4<<20)
}

func TestPacketRoundTrip(t *testing.T) {
	h := header{typ: stData, connID: 0xbeef, ts: 1, tsDiff: 2, wnd: 3, seq: 65535, ack: 7}
	sack := []byte{1, 2, 3, 4}
	b := appendPacket(nil, &h, sack, []byte("payload"))
	h2, sack2, p, err := parsePacket(b)
	if err != nil || h2 != h || !bytes.Equal(sack2, sack) || string(p) != "payload" {
		t.Fatalf("%+v %x %q %v", h2, sack2, p, err)
	}
	for _, bad := range [][]byte{nil, make([]byte, 19), {0x42, 0}, append(append([]byte{0x01, 1}, make([]byte, 18)...), 0, 200)} {
		if len(bad) < headerSize {
			bad = append(bad, make([]byte, headerSize-len(bad))...)
			bad[0] = 0x51 // type 5: not uTP
		}
		if _, _, _, err := parsePacket(bad); err == nil {
			t.Errorf("parsePacket(%x) accepted", bad)
		}
	}
	if !seqLess(65535, 0) || seqLess(0, 65535) || !seqLess(1, 2) {
		t.Error("seqLess wraps wrong")
	}
}

// TestDialTimeout: a dial to a port where nobody speaks uTP ends at its
// context's deadline, and the connection is forgotten.
func TestDialTimeout(t *testing.T) {
	a := newEndpoint(t, Config{}, nil)
	silent, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, err := a.s.Dial(ctx, silent.LocalAddr().(*net.UDPAddr).AddrPort()); err == nil {
		t.Fatal("dial to a silent port succeeded")
	}
	deadline := time.Now().Add(2 * time.Second)
	for a.s.NumConns() != 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := a.s.NumConns(); n != 0 {
		t.Fatalf("%d connections left after a failed dial", n)
	}
}

// TestTransferIPv6 runs the loopback transfer over [::1].
func TestTransferIPv6(t *testing.T) {
	mk := func() endpoint {
		mux, err := transport.ListenUDP("[::1]:0")
		if err != nil {
			t.Skipf("no IPv6 loopback: %v", err)
		}
		s := NewSocket(mux, net.UDPAddrFromAddrPort(mux.LocalAddr()), Config{})
		mux.Handle(s)
		t.Cleanup(func() { s.Close(); mux.Close() })
		return endpoint{mux, s}
	}
	transfer(t, mk(), mk(), 4<<20)
}
