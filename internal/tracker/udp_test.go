package tracker

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"
)

// fakeUDPTracker answers UDP tracker requests with a Server's handler, and
// can drop requests, record what it saw, or answer in its own way.
type fakeUDPTracker struct {
	conn *net.UDPConn
	srv  *Server
	done chan struct{}
	// arrived gets a token for every request (dropped when full).
	arrived chan struct{}

	mu      sync.Mutex
	drop    int      // requests still to drop
	actions []uint32 // action of every request received
	// answer, when set, replaces the Server's answer with these datagrams.
	answer func(req []byte, from netip.AddrPort) [][]byte
}

func newFakeUDPTracker(t *testing.T) *fakeUDPTracker {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := NewServer(ServerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeUDPTracker{conn: conn, srv: srv, done: make(chan struct{}), arrived: make(chan struct{}, 1)}
	go f.run()
	t.Cleanup(func() {
		conn.Close()
		<-f.done
		srv.Close()
	})
	return f
}

func (f *fakeUDPTracker) url() string {
	return "udp://" + f.conn.LocalAddr().String()
}

func (f *fakeUDPTracker) run() {
	defer close(f.done)
	buf := make([]byte, 2048)
	for {
		n, from, err := f.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		req := slices.Clone(buf[:n])
		f.mu.Lock()
		if n >= 12 {
			f.actions = append(f.actions, binary.BigEndian.Uint32(req[8:12]))
		}
		dropped := f.drop > 0
		if dropped {
			f.drop--
		}
		answer := f.answer
		f.mu.Unlock()
		select {
		case f.arrived <- struct{}{}:
		default:
		}
		if dropped {
			continue
		}
		var out [][]byte
		if answer != nil {
			out = answer(req, from)
		} else if b := f.srv.handleUDP(nil, req, from); len(b) > 0 {
			out = [][]byte{b}
		}
		for _, b := range out {
			f.conn.WriteToUDPAddrPort(b, from)
		}
	}
}

func (f *fakeUDPTracker) setDrop(n int) {
	f.mu.Lock()
	f.drop = n
	f.mu.Unlock()
}

func (f *fakeUDPTracker) setAnswer(fn func(req []byte, from netip.AddrPort) [][]byte) {
	f.mu.Lock()
	f.answer = fn
	f.mu.Unlock()
}

func (f *fakeUDPTracker) seen() []uint32 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.actions)
}

var testAnnounce = &AnnounceRequest{InfoHash: hash("udp"), PeerID: peerID(1), Port: 6881, Left: 1}

func TestUDPRetransmit(t *testing.T) {
	f := newFakeUDPTracker(t)
	f.setDrop(3) // the first three connects are lost
	c := fastUDPClient(t, UDPConfig{BaseTimeout: 10 * time.Millisecond, MaxRetries: 5})
	if _, err := c.Announce(t.Context(), f.url(), testAnnounce); err != nil {
		t.Fatal(err)
	}
	if got, want := f.seen(), []uint32{0, 0, 0, 0, 1}; !slices.Equal(got, want) {
		t.Fatalf("actions %v, want %v", got, want)
	}

	// A dropped announce is retransmitted with the connection id kept.
	f.mu.Lock()
	f.drop, f.actions = 2, nil
	f.mu.Unlock()
	if _, err := c.Announce(t.Context(), f.url(), testAnnounce); err != nil {
		t.Fatal(err)
	}
	if got, want := f.seen(), []uint32{1, 1, 1}; !slices.Equal(got, want) {
		t.Fatalf("actions %v, want %v", got, want)
	}
}

// timedWriter records when each datagram was sent.
type timedWriter struct {
	PacketWriter
	mu    sync.Mutex
	times []time.Time
}

func (w *timedWriter) WriteToUDPAddrPort(b []byte, addr netip.AddrPort) (int, error) {
	w.mu.Lock()
	w.times = append(w.times, time.Now())
	w.mu.Unlock()
	return w.PacketWriter.WriteToUDPAddrPort(b, addr)
}

func TestUDPGivesUpWithBackoff(t *testing.T) {
	f := newFakeUDPTracker(t)
	f.setDrop(1 << 30)
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	w := &timedWriter{PacketWriter: conn}
	const base = 20 * time.Millisecond
	c := NewUDPClient(w, UDPConfig{BaseTimeout: base, MaxRetries: 3})
	defer c.Close()
	start := time.Now()
	_, err = c.Announce(t.Context(), f.url(), testAnnounce)
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("error = %v, want ErrTimeout", err)
	}
	if d := time.Since(start); d < 15*base {
		t.Fatalf("gave up after %v, want at least %v", d, 15*base)
	}
	w.mu.Lock()
	times := slices.Clone(w.times)
	w.mu.Unlock()
	if len(times) != 4 {
		t.Fatalf("%d datagrams sent, want 4", len(times))
	}
	for i := 1; i < len(times); i++ {
		if gap, want := times[i].Sub(times[i-1]), base<<(i-1); gap < want {
			t.Errorf("retransmission %d after %v, want at least %v", i, gap, want)
		}
	}
	// Datagrams are delivered on loopback, but not necessarily yet.
	if got := f.seen(); len(got) > 4 || slices.ContainsFunc(got, func(a uint32) bool { return a != actionConnect }) {
		t.Fatalf("actions %v, want connects only", got)
	}
}

func TestUDPConnectionIDExpiry(t *testing.T) {
	f := newFakeUDPTracker(t)
	clock := newFakeClock()
	c := fastUDPClient(t, UDPConfig{Now: clock.Now})
	for range 2 {
		if _, err := c.Announce(t.Context(), f.url(), testAnnounce); err != nil {
			t.Fatal(err)
		}
	}
	clock.Advance(59 * time.Second)
	if _, err := c.Scrape(t.Context(), f.url(), hash("udp")); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Second)
	if _, err := c.Announce(t.Context(), f.url(), testAnnounce); err != nil {
		t.Fatal(err)
	}
	if got, want := f.seen(), []uint32{0, 1, 1, 2, 0, 1}; !slices.Equal(got, want) {
		t.Fatalf("actions %v, want %v", got, want)
	}
}

func TestUDPWrongTransactionIgnored(t *testing.T) {
	f := newFakeUDPTracker(t)
	f.setAnswer(func(req []byte, from netip.AddrPort) [][]byte {
		good := f.srv.handleUDP(nil, req, from)
		bad := slices.Clone(good)
		bad[7] ^= 1
		// A stray answer with another transaction id comes first.
		return [][]byte{bad, good}
	})
	c := fastUDPClient(t, UDPConfig{BaseTimeout: 5 * time.Second})
	done := make(chan error, 1)
	go func() {
		_, err := c.Announce(t.Context(), f.url(), testAnnounce)
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("announce did not finish: the right answer was lost")
	}
	if got := f.seen(); !slices.Equal(got, []uint32{0, 1}) {
		t.Fatalf("actions %v", got)
	}
}

func TestUDPErrorPacket(t *testing.T) {
	f := newFakeUDPTracker(t)
	f.setAnswer(func(req []byte, from netip.AddrPort) [][]byte {
		if binary.BigEndian.Uint32(req[8:12]) == actionConnect {
			return [][]byte{f.srv.handleUDP(nil, req, from)}
		}
		return [][]byte{appendErrorResponse(nil, binary.BigEndian.Uint32(req[12:16]), "torrent not registered")}
	})
	c := fastUDPClient(t, UDPConfig{})
	_, err := c.Announce(t.Context(), f.url(), testAnnounce)
	var fe *FailureError
	if !errors.As(err, &fe) || fe.Reason != "torrent not registered" || !errors.Is(err, ErrTrackerFailure) {
		t.Fatalf("error = %v", err)
	}
	// An error drops the connection id, so the next announce connects
	// first; an error on a fresh id is final.
	_, err = c.Announce(t.Context(), f.url(), testAnnounce)
	if !errors.Is(err, ErrTrackerFailure) {
		t.Fatalf("error = %v", err)
	}
	if got, want := f.seen(), []uint32{0, 1, 0, 1}; !slices.Equal(got, want) {
		t.Fatalf("actions %v, want %v", got, want)
	}
}

func TestUDPStaleConnectionID(t *testing.T) {
	f := newFakeUDPTracker(t)
	c := fastUDPClient(t, UDPConfig{})
	if _, err := c.Announce(t.Context(), f.url(), testAnnounce); err != nil {
		t.Fatal(err)
	}
	// The tracker forgets its connection ids (a restart, say) and says so.
	stale := true
	f.setAnswer(func(req []byte, from netip.AddrPort) [][]byte {
		if stale && binary.BigEndian.Uint32(req[8:12]) == actionAnnounce {
			stale = false
			return [][]byte{appendErrorResponse(nil, binary.BigEndian.Uint32(req[12:16]), "connection id expired")}
		}
		return [][]byte{f.srv.handleUDP(nil, req, from)}
	})
	if _, err := c.Announce(t.Context(), f.url(), testAnnounce); err != nil {
		t.Fatal(err)
	}
	if got, want := f.seen(), []uint32{0, 1, 1, 0, 1}; !slices.Equal(got, want) {
		t.Fatalf("actions %v, want %v", got, want)
	}
}

func TestUDPMalformedAnswer(t *testing.T) {
	f := newFakeUDPTracker(t)
	f.setAnswer(func(req []byte, from netip.AddrPort) [][]byte {
		b := f.srv.handleUDP(nil, req, from)
		if binary.BigEndian.Uint32(req[8:12]) == actionAnnounce {
			binary.BigEndian.PutUint32(b[8:12], 0xffffffff) // interval -1
		}
		return [][]byte{b}
	})
	c := fastUDPClient(t, UDPConfig{})
	if _, err := c.Announce(t.Context(), f.url(), testAnnounce); !errors.Is(err, ErrBadResponse) {
		t.Fatalf("error = %v", err)
	}
}

func TestUDPClose(t *testing.T) {
	f := newFakeUDPTracker(t)
	f.setDrop(1 << 30)
	c := fastUDPClient(t, UDPConfig{BaseTimeout: time.Minute})
	done := make(chan error, 1)
	go func() {
		_, err := c.Announce(t.Context(), f.url(), testAnnounce)
		done <- err
	}()
	select {
	case <-f.arrived:
	case <-time.After(5 * time.Second):
		t.Fatal("request never arrived")
	}
	c.Close()
	select {
	case err := <-done:
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("error = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not end the request")
	}
	if _, err := c.Announce(t.Context(), f.url(), testAnnounce); !errors.Is(err, ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
}

func TestUDPBadURL(t *testing.T) {
	c := NewUDPClient(discardWriter{}, UDPConfig{})
	for _, u := range []string{"udp://127.0.0.1", "http://127.0.0.1:80", "udp://:80", "udp://127.0.0.1:99999"} {
		if _, err := c.Announce(t.Context(), u, testAnnounce); !errors.Is(err, ErrUnsupportedURL) {
			t.Errorf("%s: %v", u, err)
		}
	}
}

type discardWriter struct{}

func (discardWriter) WriteToUDPAddrPort(b []byte, addr netip.AddrPort) (int, error) {
	return len(b), nil
}

// recordingWriter hands every datagram written to a channel.
type recordingWriter chan []byte

func (w recordingWriter) WriteToUDPAddrPort(b []byte, addr netip.AddrPort) (int, error) {
	w <- slices.Clone(b)
	return len(b), nil
}

// TestUDPHandlePacket drives the demultiplexing entry point by hand, as a
// socket shared with uTP and the DHT would.
func TestUDPHandlePacket(t *testing.T) {
	w := make(recordingWriter, 4)
	c := NewUDPClient(w, UDPConfig{BaseTimeout: 10 * time.Second})
	defer c.Close()
	tracker := ap("192.0.2.1:6969")
	type result struct {
		r   *AnnounceResponse
		err error
	}
	done := make(chan result, 1)
	go func() {
		r, err := c.Announce(t.Context(), "udp://"+tracker.String(), testAnnounce)
		done <- result{r, err}
	}()
	recv := func() []byte {
		select {
		case b := <-w:
			return b
		case <-time.After(5 * time.Second):
			t.Fatal("nothing sent")
			return nil
		}
	}
	req := recv()
	if len(req) != connectRequestSize || binary.BigEndian.Uint64(req) != udpProtocolID {
		t.Fatalf("connect request %x", req)
	}
	tid := binary.BigEndian.Uint32(req[12:16])
	answer := appendConnectResponse(nil, tid, 42)
	for _, tc := range []struct {
		name string
		from netip.AddrPort
		data []byte
	}{
		{"dht", tracker, []byte("d1:ad2:id20:xxxxxxxxxxxxxxxxxxxxe1:q4:ping1:t2:aa1:y1:qe")},
		{"utp", tracker, []byte{0x41, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}},
		{"short", tracker, answer[:7]},
		{"wrong transaction", tracker, appendConnectResponse(nil, tid+1, 42)},
		{"wrong source", ap("192.0.2.2:6969"), answer},
		{"wrong port", ap("192.0.2.1:6970"), answer},
	} {
		if c.HandlePacket(tc.from, tc.data) {
			t.Errorf("%s: HandlePacket claimed the packet", tc.name)
		}
	}
	// The tracker's answer may come back through an IPv6 socket.
	if !c.HandlePacket(ap("[::ffff:192.0.2.1]:6969"), answer) {
		t.Fatal("HandlePacket refused the answer")
	}
	if c.HandlePacket(tracker, answer) {
		t.Fatal("HandlePacket took the same answer twice")
	}
	req = recv()
	if len(req) != announceRequestSize || binary.BigEndian.Uint64(req) != 42 || binary.BigEndian.Uint32(req[8:12]) != actionAnnounce {
		t.Fatalf("announce request %x", req)
	}
	tid = binary.BigEndian.Uint32(req[12:16])
	resp := appendAnnounceResponse(nil, tid, &AnnounceResponse{Interval: time.Minute, Seeders: 3, Leechers: 4,
		Peers: []netip.AddrPort{ap("10.1.2.3:4000"), ap("[2001:db8::1]:5")}}, false)
	if !c.HandlePacket(tracker, resp) {
		t.Fatal("HandlePacket refused the announce answer")
	}
	select {
	case res := <-done:
		r := res.r
		if res.err != nil {
			t.Fatal(res.err)
		}
		if r.Interval != time.Minute || r.Seeders != 3 || r.Leechers != 4 || !slices.Equal(r.Peers, []netip.AddrPort{ap("10.1.2.3:4000")}) {
			t.Fatalf("response %+v", r)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("announce did not finish")
	}
}

// TestUDPSharedSocket runs the client over a socket whose reader also
// serves other protocols.
func TestUDPSharedSocket(t *testing.T) {
	srv := startServer(t, "127.0.0.1", ServerConfig{})
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	c := NewUDPClient(conn, UDPConfig{BaseTimeout: 250 * time.Millisecond, MaxRetries: 4})
	other := make(chan []byte, 8)
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		buf := make([]byte, 65536)
		for {
			n, from, err := conn.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			if !c.HandlePacket(from, buf[:n]) {
				other <- slices.Clone(buf[:n])
			}
		}
	}()
	defer func() {
		c.Close()
		conn.Close()
		<-readerDone
	}()

	peer, err := net.Dial("udp", conn.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	ping := []byte("d1:ad2:id20:xxxxxxxxxxxxxxxxxxxxe1:q4:ping1:t2:aa1:y1:qe")
	if _, err := peer.Write(ping); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		r, err := c.Announce(t.Context(), srv.UDPAnnounceURL(), &AnnounceRequest{InfoHash: hash("shared"), PeerID: peerID(i), Port: uint16(100 + i)})
		if err != nil {
			t.Fatal(err)
		}
		if i == 1 {
			samePeers(t, "shared", r.Peers, ap("127.0.0.1:100"))
		}
	}
	select {
	case b := <-other:
		if string(b) != string(ping) {
			t.Fatalf("other protocol got %q", b)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the DHT packet never reached the other reader")
	}
	if len(other) != 0 {
		t.Fatalf("%d tracker answers leaked to the other reader", len(other))
	}
}
