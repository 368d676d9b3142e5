package tracker

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"tt/internal/transport"
)

func hasIPv6(t *testing.T) {
	t.Helper()
	c, err := net.ListenPacket("udp6", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	c.Close()
}

func startServer(t *testing.T, host string, cfg ServerConfig) *Server {
	t.Helper()
	cfg.HTTPAddr = net.JoinHostPort(host, "0")
	cfg.UDPAddr = net.JoinHostPort(host, "0")
	s, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func fastUDPClient(t *testing.T, cfg UDPConfig) *UDPClient {
	t.Helper()
	if cfg.BaseTimeout == 0 {
		cfg.BaseTimeout = 250 * time.Millisecond
	}
	if cfg.MaxRetries == 0 {
		cfg.MaxRetries = 4
	}
	return listenUDP(t, cfg)
}

// listenUDP returns a client on a socket of its own (both IP families; the
// tests send to loopback trackers only).
func listenUDP(t testing.TB, cfg UDPConfig) *UDPClient {
	t.Helper()
	mux, err := transport.ListenUDP(":0")
	if err != nil {
		t.Fatal(err)
	}
	c := NewUDPClient(mux, cfg)
	mux.Handle(c)
	t.Cleanup(func() { c.Close(); mux.Close() })
	return c
}

func hash(s string) (h [20]byte) {
	copy(h[:], s)
	return h
}

func peerID(n int) (id [20]byte) {
	copy(id[:], fmt.Sprintf("-TT0001-%012d", n))
	return id
}

func sortedPeers(p []netip.AddrPort) []netip.AddrPort {
	p = slices.Clone(p)
	slices.SortFunc(p, func(a, b netip.AddrPort) int { return a.Compare(b) })
	return p
}

func samePeers(t *testing.T, what string, got []netip.AddrPort, want ...netip.AddrPort) {
	t.Helper()
	if !slices.Equal(sortedPeers(got), sortedPeers(want)) {
		t.Fatalf("%s: peers %v, want %v", what, got, want)
	}
}

// TestClientServer runs the same swarm story over HTTP and UDP, on IPv4
// and IPv6 loopback.
func TestClientServer(t *testing.T) {
	for _, family := range []struct{ name, host string }{{"ipv4", "127.0.0.1"}, {"ipv6", "::1"}} {
		for _, proto := range []string{"http", "udp"} {
			t.Run(family.name+"/"+proto, func(t *testing.T) {
				if family.name == "ipv6" {
					hasIPv6(t)
				}
				srv := startServer(t, family.host, ServerConfig{Interval: 90 * time.Second, MinInterval: 20 * time.Second})
				client := &Client{UDP: fastUDPClient(t, UDPConfig{})}
				u := srv.HTTPAnnounceURL()
				if proto == "udp" {
					u = srv.UDPAnnounceURL()
				}
				ip := netip.MustParseAddr(family.host)
				ih := hash("client-server " + proto)
				announce := func(n int, ev Event, left int64, numWant int32) *AnnounceResponse {
					t.Helper()
					resp, err := client.Announce(t.Context(), u, &AnnounceRequest{
						InfoHash: ih, PeerID: peerID(n), Port: uint16(6880 + n),
						Left: left, Event: ev, NumWant: numWant, Key: uint32(n),
					})
					if err != nil {
						t.Fatalf("peer %d %v: %v", n, ev, err)
					}
					return resp
				}
				addr := func(n int) netip.AddrPort { return netip.AddrPortFrom(ip, uint16(6880+n)) }

				r := announce(1, EventStarted, 100, 0)
				if r.Interval != 90*time.Second || len(r.Peers) != 0 || r.Seeders != 0 || r.Leechers != 1 {
					t.Fatalf("first announce: %+v", r)
				}
				if proto == "http" && r.MinInterval != 20*time.Second {
					t.Fatalf("min interval %v", r.MinInterval)
				}
				r = announce(2, EventStarted, 0, 0)
				samePeers(t, "seeder", r.Peers, addr(1))
				if r.Seeders != 1 || r.Leechers != 1 {
					t.Fatalf("counts after seeder: %+v", r)
				}
				r = announce(1, EventNone, 50, 0)
				samePeers(t, "leecher", r.Peers, addr(2))

				r = announce(1, EventCompleted, 0, 0)
				if r.Seeders != 2 || r.Leechers != 0 {
					t.Fatalf("counts after completed: %+v", r)
				}
				sc, err := client.Scrape(t.Context(), u, ih, hash("unknown"))
				if err != nil {
					t.Fatal(err)
				}
				if got := sc[ih]; got != (ScrapeResult{Seeders: 2, Completed: 1}) {
					t.Fatalf("scrape: %+v", sc)
				}

				r = announce(2, EventStopped, 0, 0)
				if len(r.Peers) != 0 || r.Seeders != 1 {
					t.Fatalf("stopped: %+v", r)
				}
				r = announce(1, EventNone, 0, 0)
				if len(r.Peers) != 0 || r.Seeders != 1 {
					t.Fatalf("after the other stopped: %+v", r)
				}

				var all []netip.AddrPort
				for n := 3; n <= 8; n++ {
					announce(n, EventStarted, 10, 0)
					all = append(all, addr(n))
				}
				r = announce(1, EventNone, 0, 2)
				if len(r.Peers) != 2 {
					t.Fatalf("numwant 2 gave %v", r.Peers)
				}
				for _, p := range r.Peers {
					if !slices.Contains(all, p) {
						t.Fatalf("unexpected peer %v", p)
					}
				}
				r = announce(1, EventNone, 0, 0)
				samePeers(t, "default numwant", r.Peers, all...)
				if st, _ := srv.Stats(ih); st != (ScrapeResult{Seeders: 1, Leechers: 6, Completed: 1}) {
					t.Fatalf("stats %+v", st)
				}
			})
		}
	}
}

// TestServerFamilies checks which address family each protocol hands out:
// HTTP gives both (peers and peers6), UDP only the tracker's own family.
func TestServerFamilies(t *testing.T) {
	srv, err := NewServer(ServerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ih := hash("families")
	v4, v6 := ap("10.0.0.1:1000"), ap("[2001:db8::1]:2000")
	srv.announce(announceArgs{infoHash: ih, peerID: peerID(1), addr: v4, numWant: -1})
	srv.announce(announceArgs{infoHash: ih, peerID: peerID(2), addr: v6, numWant: -1})
	for _, tc := range []struct {
		family int
		want   []netip.AddrPort
	}{{0, []netip.AddrPort{v4, v6}}, {4, []netip.AddrPort{v4}}, {6, []netip.AddrPort{v6}}} {
		r, _ := srv.announce(announceArgs{infoHash: ih, peerID: peerID(3), addr: ap("10.0.0.3:3000"), numWant: -1, family: tc.family})
		samePeers(t, fmt.Sprint("family ", tc.family), r.Peers, tc.want...)
	}

	// Over HTTP the IPv6 peer arrives in peers6.
	hs := startServer(t, "127.0.0.1", ServerConfig{TrustIPParam: true})
	c := &HTTPClient{}
	for i, ip := range []string{"10.0.0.1", "2001:db8::1"} {
		_, err := c.Announce(t.Context(), hs.HTTPAnnounceURL(), &AnnounceRequest{InfoHash: ih, PeerID: peerID(i), Port: 7000, IP: netip.MustParseAddr(ip)})
		if err != nil {
			t.Fatal(err)
		}
	}
	u, _ := AnnounceURL(hs.HTTPAnnounceURL(), &AnnounceRequest{InfoHash: ih, PeerID: peerID(9), Port: 7000})
	body := httpGet(t, u)
	r, err := ParseHTTPResponse(body)
	if err != nil {
		t.Fatal(err)
	}
	samePeers(t, "http", r.Peers, ap("10.0.0.1:7000"), ap("[2001:db8::1]:7000"))
	if !bytes.Contains(body, []byte("6:peers618:")) {
		t.Fatalf("no peers6 in %q", body)
	}
}

func httpGet(t *testing.T, u string) []byte {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestServerHTTPDictionaryModel(t *testing.T) {
	srv := startServer(t, "127.0.0.1", ServerConfig{})
	ih := hash("dict model")
	c := &HTTPClient{}
	if _, err := c.Announce(t.Context(), srv.HTTPAnnounceURL(), &AnnounceRequest{InfoHash: ih, PeerID: peerID(1), Port: 1111}); err != nil {
		t.Fatal(err)
	}
	u, _ := AnnounceURL(srv.HTTPAnnounceURL(), &AnnounceRequest{InfoHash: ih, PeerID: peerID(2), Port: 2222})
	u = strings.ReplaceAll(u, "compact=1&no_peer_id=1", "compact=0")
	body := httpGet(t, u)
	r, err := ParseHTTPResponse(body)
	if err != nil {
		t.Fatal(err)
	}
	samePeers(t, "dict model", r.Peers, ap("127.0.0.1:1111"))
	if !bytes.Contains(body, []byte("7:peer id20:"+peerIDString(1))) {
		t.Fatalf("no peer id in %q", body)
	}
}

func TestServerHTTPRejects(t *testing.T) {
	srv := startServer(t, "127.0.0.1", ServerConfig{})
	base := "http://" + srv.HTTPAddr().String()
	ih := "&info_hash=" + string(appendEscaped(nil, []byte("AAAAAAAAAAAAAAAAAAAA")))
	pid := "&peer_id=" + string(appendEscaped(nil, []byte("BBBBBBBBBBBBBBBBBBBB")))
	for _, tc := range []struct{ query, reason string }{
		{"port=1&peer_id=BBBBBBBBBBBBBBBBBBBB&info_hash=short", "invalid info_hash"},
		{"port=1" + ih + "&peer_id=x", "invalid peer_id"},
		{"port=0" + ih + pid, "invalid port"},
		{"port=70000" + ih + pid, "invalid port"},
		{"port=1&event=bogus" + ih + pid, "invalid event"},
		{"port=1&left=-3" + ih + pid, "invalid left"},
	} {
		_, err := ParseHTTPResponse(httpGet(t, base+"/announce?"+tc.query))
		var fe *FailureError
		if !errors.As(err, &fe) || fe.Reason != tc.reason {
			t.Errorf("%s: error %v, want %q", tc.query, err, tc.reason)
		}
	}
	resp, err := http.Get(base + "/debug/pprof/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("/debug/pprof/ answered %s", resp.Status)
	}
}

func TestServerScrapeAll(t *testing.T) {
	srv := startServer(t, "127.0.0.1", ServerConfig{})
	c := &HTTPClient{}
	for i, ih := range []string{"one", "two"} {
		if _, err := c.Announce(t.Context(), srv.HTTPAnnounceURL(), &AnnounceRequest{InfoHash: hash(ih), PeerID: peerID(i), Port: 1, Left: int64(i)}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := c.Scrape(t.Context(), srv.HTTPAnnounceURL())
	if err != nil {
		t.Fatal(err)
	}
	want := map[[20]byte]ScrapeResult{hash("one"): {Seeders: 1}, hash("two"): {Leechers: 1}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("scrape all: %v, want %v", got, want)
	}
}

// fakeClock is a settable clock safe for concurrent use.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func TestServerPeerExpiry(t *testing.T) {
	clock := newFakeClock()
	srv, err := NewServer(ServerConfig{Interval: time.Minute, PeerTTL: 3 * time.Minute, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ih := hash("expiry")
	ann := func(n int) *AnnounceResponse {
		r, _ := srv.announce(announceArgs{infoHash: ih, peerID: peerID(n), addr: netip.AddrPortFrom(netip.MustParseAddr("10.0.0.1"), uint16(n)), numWant: -1, left: 1})
		return r
	}
	ann(1)
	clock.Advance(2 * time.Minute)
	ann(2)
	if r := ann(3); len(r.Peers) != 2 {
		t.Fatalf("before expiry: %v", r.Peers)
	}
	clock.Advance(90 * time.Second) // peer 1 is 3.5 min old, 2 and 3 1.5 min
	if r := ann(3); len(r.Peers) != 1 || r.Peers[0].Port() != 2 || r.Leechers != 2 {
		t.Fatalf("after expiry: %+v", r)
	}
	clock.Advance(10 * time.Minute)
	if _, ok := srv.Stats(ih); ok {
		t.Fatal("swarm still tracked after every peer expired")
	}
}

func TestServerLimits(t *testing.T) {
	srv, err := NewServer(ServerConfig{MaxSwarms: 2, MaxPeersPerSwarm: 3, MaxNumWant: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	for i := range 5 {
		srv.announce(announceArgs{infoHash: hash(fmt.Sprint(i % 3)), peerID: peerID(i), addr: netip.AddrPortFrom(netip.MustParseAddr("10.0.0.1"), uint16(100+i)), numWant: -1})
	}
	if _, ok := srv.Stats(hash("2")); ok {
		t.Fatal("third swarm accepted beyond MaxSwarms")
	}
	for i := 10; i < 15; i++ {
		srv.announce(announceArgs{infoHash: hash("0"), peerID: peerID(i), addr: netip.AddrPortFrom(netip.MustParseAddr("10.0.0.1"), uint16(100+i)), numWant: -1})
	}
	st, _ := srv.Stats(hash("0"))
	if st.Seeders+st.Leechers != 3 {
		t.Fatalf("swarm holds %d peers, want 3", st.Seeders+st.Leechers)
	}
	r, _ := srv.announce(announceArgs{infoHash: hash("0"), peerID: peerID(0), numWant: 100})
	if len(r.Peers) != 2 {
		t.Fatalf("numwant not capped: %v", r.Peers)
	}
}

func peerIDString(n int) string {
	id := peerID(n)
	return string(id[:])
}

// TestServerUDPConnectionIDSharedAcrossPorts: libtorrent reuses a
// connection id obtained on one socket for announces from its other sockets,
// so ids must not depend on the source port.
func TestServerUDPConnectionIDSharedAcrossPorts(t *testing.T) {
	srv := startServer(t, "127.0.0.1", ServerConfig{})
	dial := func() *net.UDPConn {
		c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(srv.UDPAddr()))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		c.SetDeadline(time.Now().Add(5 * time.Second))
		return c
	}
	exchange := func(c *net.UDPConn, req []byte) udpResponse {
		t.Helper()
		if _, err := c.Write(req); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 2048)
		n, err := c.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		r, err := parseUDPResponse(buf[:n], false, 0)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	first, second := dial(), dial()
	r := exchange(first, appendConnectRequest(nil, 1))
	if r.action != actionConnect || r.tid != 1 {
		t.Fatalf("connect answer %+v", r)
	}
	cid := r.connID
	req := &AnnounceRequest{InfoHash: hash("shared id"), PeerID: peerID(1), Port: 1}
	r = exchange(second, appendAnnounceRequest(nil, cid, 2, req))
	if r.action != actionAnnounce || r.tid != 2 {
		t.Fatalf("announce with the other socket's connection id: %+v", r)
	}
	r = exchange(second, appendAnnounceRequest(nil, cid^1, 3, req))
	if r.action != actionError || r.message != "connection id expired" {
		t.Fatalf("announce with a made-up connection id: %+v", r)
	}
}
