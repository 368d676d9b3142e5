package interop

import (
	"context"
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"tt/internal/dht"
	"tt/internal/transport"
)

// localDHT is a DHT of tt nodes on loopback, joined to each other, that
// records which addresses outside itself sent it datagrams.
type localDHT struct {
	nodes []*dht.Server
	addrs []string
	mu    sync.Mutex
	from  map[netip.AddrPort]int // datagrams from outside the local DHT
}

func (d *localDHT) HandlePacket(from netip.AddrPort, _ []byte) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, a := range d.addrs {
		if a == from.String() {
			return false
		}
	}
	d.from[from]++
	return false // observe only: the node still handles it
}

// outsiders returns how many datagrams came from outside the local DHT.
func (d *localDHT) outsiders() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for _, c := range d.from {
		n += c
	}
	return n
}

// peersStored is the number of announced peers the nodes hold.
func (d *localDHT) peersStored() int {
	n := 0
	for _, s := range d.nodes {
		n += s.Stats().Peers
	}
	return n
}

func startLocalDHT(t testing.TB, n int) *localDHT {
	t.Helper()
	d := &localDHT{from: map[netip.AddrPort]int{}}
	var muxes []*transport.UDPMux
	for range n {
		mux, err := transport.ListenUDP("127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		muxes = append(muxes, mux)
		d.addrs = append(d.addrs, mux.LocalAddr().String())
	}
	for i, mux := range muxes {
		s := dht.New(mux, dht.Config{Bootstrap: []string{d.addrs[(i+1)%n]}, QueryTimeout: time.Second})
		mux.Handle(d)
		mux.Handle(s)
		d.nodes = append(d.nodes, s)
		t.Cleanup(func() { s.Close(); mux.Close() })
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for round := range 2 {
		for i, s := range d.nodes {
			if err := s.Bootstrap(ctx); err != nil && round == 1 {
				t.Fatalf("DHT node %d: %v", i, err)
			}
		}
	}
	return d
}

// TestDHTLibtorrentSeedsTTGets: a libtorrent seeder announces itself to a
// DHT of 20 tt nodes; tt, given only the magnet link and one node, finds
// it, fetches the metadata and the data.
func TestDHTLibtorrentSeedsTTGets(t *testing.T) {
	NeedLibtorrent(t)
	d := startLocalDHT(t, 20)
	s := newSwarm(t, layouts[0], "16KiB")
	lt := Start(t, s.dir, LibtorrentPython, Script("lt_peer.py"), "seed", s.torrent, filepath.Dir(s.content),
		"--dht-bootstrap", d.addrs[0])
	lt.WaitLine(t, 60*time.Second, func(l string) bool { return JSONField(l, "event") == "dht" })
	waitFor(t, 60*time.Second, "libtorrent's announce to reach the DHT", func() bool { return d.peersStored() > 0 })

	out := filepath.Join(s.dir, "got")
	p := Start(t, s.dir, s.tt, "get", "--json", "--no-trackers", "--bind", "127.0.0.1", "--dht-bootstrap", d.addrs[7],
		"--dht-state", filepath.Join(s.dir, "dht.dat"), "--stall-timeout", "60s", "-o", out, s.magnet())
	if code := p.WaitExit(t, 150*time.Second); code != 0 {
		t.Fatalf("tt get exited %d: %s\n%s", code, p.Stderr(), strings.Join(p.Lines(), "\n"))
	}
	s.check(t, filepath.Join(out, "content"), false)
	lines := p.Lines()
	// Both the metadata and the data came from a peer the DHT named.
	metaFromDHT, dataFromDHT := false, false
	for _, l := range eventsOf(lines, "metadata_peer") {
		metaFromDHT = metaFromDHT || (JSONField(l, "source") == "dht" && JSONField(l, "error") == "")
	}
	for _, l := range eventsOf(lines, "peer_connected") {
		dataFromDHT = dataFromDHT || JSONField(l, "source") == "dht"
	}
	if !metaFromDHT || !dataFromDHT {
		t.Fatalf("no peer from the DHT in the events:\n%s", strings.Join(lines, "\n"))
	}
	// The routing table was saved for the next run.
	if st, err := dht.LoadState(filepath.Join(s.dir, "dht.dat")); err != nil || len(st.Nodes) < 8 {
		t.Fatalf("DHT state: %d nodes, %v", len(st.Nodes), err)
	}
}

// TestDHTTTSeedsLibtorrentGets: tt seeds and announces itself to the DHT
// alone; libtorrent, given the magnet link and one node, downloads.
func TestDHTTTSeedsLibtorrentGets(t *testing.T) {
	NeedLibtorrent(t)
	d := startLocalDHT(t, 20)
	s := newSwarm(t, layouts[0], "16KiB")
	p := Start(t, s.dir, s.tt, "seed", "--json", "--no-trackers", "--bind", "127.0.0.1", "--dht-bootstrap", d.addrs[3],
		"--dht-state", filepath.Join(s.dir, "dht.dat"), s.torrent, s.content)
	p.WaitLine(t, 60*time.Second, func(l string) bool { return JSONField(l, "type") == "dht_reply" })
	if d.peersStored() == 0 {
		t.Fatal("tt's announce stored on no node")
	}
	got := filepath.Join(s.dir, "lt-got")
	lt := Start(t, s.dir, LibtorrentPython, Script("lt_peer.py"), "magnet", s.magnet(), got, "--timeout", "120",
		"--dht-bootstrap", d.addrs[11])
	lt.WaitLine(t, 150*time.Second, func(l string) bool { return JSONField(l, "event") == "finished" })
	s.check(t, filepath.Join(got, "content"), false)
}

// TestPrivateTorrentNoDHT: a private torrent (BEP 27), seeded and fetched
// by tt processes that are given DHT nodes, sends the DHT nothing; the same
// run with a public torrent does (so the observer works).
func TestPrivateTorrentNoDHT(t *testing.T) {
	d := startLocalDHT(t, 8)
	for _, private := range []bool{true, false} {
		s := newSwarm(t, layouts[1], "16KiB")
		if private {
			s.create(t, "16KiB", "--private", "-a", "http://127.0.0.1:1/announce")
		}
		before := d.outsiders()
		flags := []string{"--json", "--bind", "127.0.0.1", "--dht-bootstrap", d.addrs[0], "--dht-state", filepath.Join(s.dir, "dht.dat")}
		seed := Start(t, s.dir, s.tt, append(append([]string{"seed"}, flags...), s.torrent, s.content)...)
		port := ttListenPort(t, seed)
		out := filepath.Join(s.dir, "got")
		get := Start(t, s.dir, s.tt, append(append([]string{"get"}, flags...), "--peer", fmt.Sprintf("127.0.0.1:%d", port),
			"--stall-timeout", "60s", "-o", out, s.torrent)...)
		if code := get.WaitExit(t, 120*time.Second); code != 0 {
			t.Fatalf("private=%v: tt get exited %d: %s", private, code, get.Stderr())
		}
		s.check(t, filepath.Join(out, "content"), false)
		if private {
			seed.Kill()
			if n := d.outsiders() - before; n != 0 {
				t.Fatalf("private torrent: the DHT got %d datagrams from tt", n)
			}
			continue
		}
		seed.WaitLine(t, 30*time.Second, func(l string) bool { return JSONField(l, "type") == "dht_reply" })
		if d.outsiders() == before {
			t.Fatal("public torrent: the DHT saw nothing (the observer is broken)")
		}
	}
}

// waitFor polls cond until it holds or d passes.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
