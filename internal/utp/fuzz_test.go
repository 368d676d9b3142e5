package utp

import (
	"net"
	"net/netip"
	"testing"
)

type nopWriter struct{}

func (nopWriter) WriteToUDPAddrPort(b []byte, _ netip.AddrPort) (int, error) { return len(b), nil }

// FuzzPacket feeds arbitrary datagrams to a socket holding a connection
// with data in flight and data held out of order: nothing may panic and
// the connection's accounting must stay consistent.
func FuzzPacket(f *testing.F) {
	h := header{typ: stState, connID: 11, seq: 5, ack: 102, wnd: 1 << 20}
	f.Add(appendPacket(nil, &h, []byte{0xff, 0, 0, 0}, nil))
	h.typ = stData
	f.Add(appendPacket(nil, &h, nil, []byte("data")))
	h.typ = stFin
	f.Add(appendPacket(nil, &h, nil, nil))
	f.Add([]byte{0x41, 1, 0, 11, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 1, 4, 1, 2, 3, 4})
	peer := netip.MustParseAddrPort("127.0.0.1:9")
	f.Fuzz(func(t *testing.T, data []byte) {
		s := NewSocket(nopWriter{}, &net.UDPAddr{}, Config{})
		c := newConn(s, peer, 11, 12)
		c.state = stateConnected
		c.seq, c.ackNr = 100, 4
		c.peerWnd = 1 << 20
		s.conns[connKey{peer, 11}] = c
		c.Write(make([]byte, 10*defaultPacketSize))
		c.mu.Lock()
		c.receive(7, []byte("ahead"), false)
		c.mu.Unlock()
		s.HandlePacket(peer, data)
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.inflight < 0 || c.queued < 0 || c.oooBytes < 0 || c.rbufBytes < 0 || c.sent > len(c.out) {
			t.Fatalf("accounting: inflight %d queued %d ooo %d rbuf %d sent %d/%d", c.inflight, c.queued, c.oooBytes, c.rbufBytes, c.sent, len(c.out))
		}
		sum := 0
		for _, p := range c.out[:c.sent] {
			if !p.acked && !p.lost {
				sum += len(p.data)
			}
		}
		if sum != c.inflight {
			t.Fatalf("inflight %d, packets in flight hold %d", c.inflight, sum)
		}
		c.rtoTimer.Stop()
		c.ackTimer.Stop()
	})
}
