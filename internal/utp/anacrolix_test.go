package utp

import (
	"context"
	"crypto/sha1"
	"io"
	"net"
	"testing"
	"time"

	autp "github.com/anacrolix/utp"
)

// anacrolixSocket is a socket of github.com/anacrolix/utp, another uTP
// implementation, on loopback: a test peer only.
func anacrolixSocket(t *testing.T) *autp.Socket {
	t.Helper()
	pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	pc.SetReadBuffer(4 << 20) // it needs a large buffer on loopback
	s, err := autp.NewSocketFromPacketConn(pc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestAnacrolixInterop: 8 MiB each way between this package and
// anacrolix/utp, each side dialling once.
func TestAnacrolixInterop(t *testing.T) {
	ours := newEndpoint(t, Config{}, nil)
	theirs := anacrolixSocket(t)
	data := make([]byte, 8<<20)
	for i := range data {
		data[i] = byte(i*11 + i>>10)
	}
	want := sha1.Sum(data)
	check := func(name string, r io.Reader) {
		t.Helper()
		h := sha1.New()
		if _, err := io.CopyN(h, r, int64(len(data))); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var got [20]byte
		copy(got[:], h.Sum(nil))
		if got != want {
			t.Fatalf("%s: data differs", name)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	// We dial them and send.
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := theirs.Accept()
		if err != nil {
			t.Error(err)
			return
		}
		defer c.Close()
		check("anacrolix receiving", c)
	}()
	c, err := ours.s.Dial(ctx, theirs.Addr().(*net.UDPAddr).AddrPort())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(data); err != nil {
		t.Fatal(err)
	}
	<-done
	c.Close()

	// They dial us and send.
	go func() {
		c, err := theirs.DialContext(ctx, "udp", ours.mux.LocalAddr().String())
		if err != nil {
			t.Error(err)
			return
		}
		c.Write(data)
		time.AfterFunc(10*time.Second, func() { c.Close() })
	}()
	in, err := ours.s.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	in.SetReadDeadline(time.Now().Add(50 * time.Second))
	check("receiving from anacrolix", in)
}
