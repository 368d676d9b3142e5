package session

import (
	"bytes"
	"context"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"tt/internal/transport"
	"tt/internal/utp"
)

// TestDialBothGivesUp: with both transports, a peer that refuses TCP and
// never answers uTP (a departed peer) costs about its TCP refusal, not the
// uTP connect timeout; one that speaks TCP only is reached over TCP.
func TestDialBothGivesUp(t *testing.T) {
	mux, err := transport.ListenUDP("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer mux.Close()
	sock := utp.NewSocket(mux, net.UDPAddrFromAddrPort(mux.LocalAddr()), utp.Config{})
	mux.Handle(sock)
	defer sock.Close()
	d := dialer{utp: sock, mode: TransportBoth}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().(*net.TCPAddr).AddrPort()
	start := time.Now()
	c, tr, sp, err := d.dial(context.Background(), addr, false)
	if err != nil || tr != "tcp" {
		t.Fatalf("TCP-only peer: %v over %q", err, tr)
	}
	if sp != nil {
		sp.drop()
	}
	c.Close()
	ln.Close() // now nothing listens there
	if _, _, _, err := d.dial(context.Background(), addr, false); err == nil {
		t.Fatal("dial to a closed port succeeded")
	}
	if d := time.Since(start); d > 2*maxGrace {
		t.Fatalf("two dials took %s; the uTP attempt was waited out", d)
	}
}

// utpSocket is a uTP socket on its own UDP socket at addr.
func utpSocket(t *testing.T, addr string) *utp.Socket {
	t.Helper()
	mux, err := transport.ListenUDP(addr)
	if err != nil {
		t.Fatal(err)
	}
	sock := utp.NewSocket(mux, net.UDPAddrFromAddrPort(mux.LocalAddr()), utp.Config{})
	mux.Handle(sock)
	t.Cleanup(func() { sock.Close(); mux.Close() })
	return sock
}

// TestDialBothPeerKeepsTCP: a peer that keeps one connection per address
// (Transmission 3.00) accepts both of a racing dial's connections and
// closes the one it took second, here always the uTP one, whose stack
// has answered the SYN first all the same. The dial goes on over the TCP
// connection the peer kept, with the encrypted handshake, instead of
// giving it up for the uTP winner and then failing on both.
func TestDialBothPeerKeepsTCP(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tor, content := makeTorrent(t, 256<<10, 16<<10, nil)
	seed := startNode(t, ctx, Config{Torrent: tor, Store: newMemStore(tor, content), Have: allHave(tor.NumPieces()), Seed: true})
	// uTP on the seeder's port: every connection is closed once accepted.
	closer := utpSocket(t, seed.addr.String())
	var closed atomic.Int32
	go func() {
		for {
			c, err := closer.Accept()
			if err != nil {
				return
			}
			closed.Add(1)
			c.Close()
		}
	}()
	leech := startNode(t, ctx, Config{Torrent: tor, Store: newMemStore(tor, nil), Peers: []netip.AddrPort{seed.addr},
		UTP: utpSocket(t, "127.0.0.1:0"), Transport: TransportBoth, Seed: true})
	st := waitStats(t, leech, 20*time.Second, "complete", func(st Stats) bool { return st.Complete && len(st.Peers) > 0 })
	if p := st.Peers[0]; p.Transport != "tcp" || p.Encryption != EncMSEPlain {
		t.Fatalf("connected over %s with %s, want tcp with %s", p.Transport, p.Encryption, EncMSEPlain)
	}
	if !bytes.Equal(leech.store.bytes(), content) {
		t.Fatal("content differs")
	}
	if evs := leech.events(EvDialFailed); len(evs) > 0 {
		t.Fatalf("a dial failed before one worked: %+v", evs)
	}
	if closed.Load() == 0 {
		t.Fatal("the leecher never dialled uTP")
	}
}
