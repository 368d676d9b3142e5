package transport

import (
	"net/netip"
	"sync/atomic"
	"testing"
	"time"
)

type prefixHandler struct {
	first byte
	got   atomic.Int32
}

func (h *prefixHandler) HandlePacket(_ netip.AddrPort, b []byte) bool {
	if len(b) == 0 || b[0] != h.first {
		return false
	}
	h.got.Add(1)
	return true
}

// TestMuxDispatch: each datagram goes to the first handler that claims it;
// what nobody claims is counted, and the socket keeps being drained.
func TestMuxDispatch(t *testing.T) {
	m, err := ListenUDP("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	dht, trk := &prefixHandler{first: 'd'}, &prefixHandler{first: 0}
	m.Handle(trk)
	m.Handle(dht)
	c, err := ListenUDP("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for range 100 {
		c.WriteToUDPAddrPort([]byte("d1:ae"), m.LocalAddr())
		c.WriteToUDPAddrPort([]byte{0, 0, 0, 1}, m.LocalAddr())
		c.WriteToUDPAddrPort([]byte{0x41, 0}, m.LocalAddr())
	}
	deadline := time.Now().Add(5 * time.Second)
	for m.Stats().In < 300 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if dht.got.Load() != 100 || trk.got.Load() != 100 || m.Stats().Unclaimed != 100 {
		t.Fatalf("dht %d tracker %d unclaimed %d", dht.got.Load(), trk.got.Load(), m.Stats().Unclaimed)
	}
	if c.Stats().Out != 300 {
		t.Fatalf("sent %d", c.Stats().Out)
	}
}
