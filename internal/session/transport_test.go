package session

import (
	"context"
	"net"
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
	c, tr, err := d.dial(context.Background(), addr, false)
	if err != nil || tr != "tcp" {
		t.Fatalf("TCP-only peer: %v over %q", err, tr)
	}
	c.Close()
	ln.Close() // now nothing listens there
	if _, _, err := d.dial(context.Background(), addr, false); err == nil {
		t.Fatal("dial to a closed port succeeded")
	}
	if d := time.Since(start); d > 2*maxGrace {
		t.Fatalf("two dials took %s; the uTP attempt was waited out", d)
	}
}
