package session

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"syscall"
	"testing"
	"time"

	"tt/internal/dht"
	"tt/internal/tracker"
	"tt/metainfo"
	"tt/peerwire"
)

// setView is what the tests read of a session's peer set, on its loop.
type setView struct {
	known, pex   int // len(known) and the set's own count of PEX-only entries
	pexCounted   int // entries whose source is PEX, counted
	sources      map[netip.AddrPort]PeerSource
	peers        []netip.AddrPort // connected
	banned       int
	connectedIPs map[netip.Addr]int
}

// viewSet reads the peer set through the loop; ok is false once the
// session has ended.
func viewSet(s *Session) (v setView, ok bool) {
	err := s.do(func() {
		v = setView{known: len(s.set.known), pex: s.set.pex, banned: len(s.set.banned),
			sources: map[netip.AddrPort]PeerSource{}, connectedIPs: map[netip.Addr]int{}}
		for a, k := range s.set.known {
			v.sources[a] = k.source
			if k.source == SourcePEX {
				v.pexCounted++
			}
		}
		for _, p := range s.peers {
			v.peers = append(v.peers, p.c.addr)
			v.connectedIPs[ipOf(p.c.addr)]++
		}
	})
	return v, err == nil
}

// watchSet samples the peer set every few milliseconds until stop is
// called, which returns the largest table seen and the first sample whose
// PEX count disagreed with the entries.
func watchSet(s *Session) (stop func() (most setView, bad *setView)) {
	done := make(chan struct{})
	finished := make(chan struct{})
	var most setView
	var bad *setView
	go func() {
		defer close(finished)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			v, ok := viewSet(s)
			if !ok {
				return
			}
			most.known, most.pex = max(most.known, v.known), max(most.pex, v.pex)
			if v.pex != v.pexCounted && bad == nil {
				bad = &v
			}
		}
	}()
	var once sync.Once
	return func() (setView, *setView) {
		once.Do(func() { close(done) })
		<-finished
		return most, bad
	}
}

// gatedDHT hands out its peers once open is closed.
type gatedDHT struct {
	open  chan struct{}
	peers []netip.AddrPort
}

func (g *gatedDHT) Announce(ctx context.Context, _ dht.ID, _ int, onPeers func([]netip.AddrPort)) (int, error) {
	return 0, g.GetPeers(ctx, dht.ID{}, onPeers)
}

func (g *gatedDHT) GetPeers(ctx context.Context, _ dht.ID, onPeers func([]netip.AddrPort)) error {
	select {
	case <-g.open:
		onPeers(g.peers)
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// gatedTracker is an HTTP tracker that answers every announce, once open
// is called, with the peers given to open; until then announces wait.
type gatedTracker struct {
	url     string
	ready   chan struct{}
	closing chan struct{}
	list    []netip.AddrPort
	once    sync.Once
}

func newGatedTracker(t *testing.T) *gatedTracker {
	t.Helper()
	g := &gatedTracker{ready: make(chan struct{}), closing: make(chan struct{})}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-g.ready:
		case <-g.closing:
			return
		case <-r.Context().Done():
			return
		}
		var compact []byte
		for _, a := range g.list {
			compact = appendCompact(compact, a)
		}
		fmt.Fprintf(w, "d8:intervali60e5:peers%d:%se", len(compact), compact)
	}))
	t.Cleanup(func() { close(g.closing); srv.Close() })
	g.url = srv.URL + "/announce"
	return g
}

// open lets announces through; they name peers.
func (g *gatedTracker) open(peers ...netip.AddrPort) {
	g.once.Do(func() { g.list = peers; close(g.ready) })
}

// pexPeer is a hostile peer speaking BEP 10 with ut_pex: it tells a
// session of as many addresses as it likes.
type pexPeer struct {
	nc           net.Conn
	theirPEX     byte // the session's ids for ut_pex and ut_metadata
	theirMeta    byte
	metaReplies  chan peerwire.MetadataMsg
	readerExited chan struct{}
}

// Our ids for the extensions the hostile peer offers.
const (
	hostilePEXID  = 9
	hostileMetaID = 8
)

// dialHostilePEX connects to n from ip, handshakes, and waits for n's
// extended handshake.
func dialHostilePEX(t *testing.T, n *node, tor *metainfo.Torrent, ip string) *pexPeer {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	nc, err := d.Dial("tcp", n.addr.String())
	if err != nil {
		t.Fatal(err)
	}
	hs := peerwire.Handshake{InfoHash: tor.InfoHash, PeerID: NewPeerID()}
	hs.Set(peerwire.BitExtended)
	hs.Set(peerwire.BitFast)
	if _, err := peerwire.HandshakeOutgoing(nc, hs, time.Now().Add(5*time.Second)); err != nil {
		nc.Close()
		t.Fatal(err)
	}
	eh := peerwire.ExtendedHandshake{M: map[string]int64{pexExt: hostilePEXID, peerwire.MetadataExt: hostileMetaID}, P: 1}
	b, _ := eh.Marshal()
	if _, err := nc.Write(peerwire.AppendMessage(nil, peerwire.Message{Kind: peerwire.Extended, Payload: b})); err != nil {
		nc.Close()
		t.Fatal(err)
	}
	p := &pexPeer{nc: nc, metaReplies: make(chan peerwire.MetadataMsg, 16), readerExited: make(chan struct{})}
	t.Cleanup(func() { nc.Close(); <-p.readerExited })
	handshook := make(chan peerwire.ExtendedHandshake, 1)
	go func() {
		defer close(p.readerExited)
		r := peerwire.NewReader(nc)
		for {
			m, err := r.ReadMessage()
			if err != nil {
				return
			}
			if m.Kind != peerwire.Extended {
				continue
			}
			switch m.ExtID {
			case peerwire.ExtendedHandshakeID:
				if eh, err := peerwire.ParseExtendedHandshake(m.Payload); err == nil {
					select {
					case handshook <- eh:
					default:
					}
				}
			case hostileMetaID:
				if mm, err := peerwire.ParseMetadataMsg(bytes.Clone(m.Payload)); err == nil {
					select {
					case p.metaReplies <- mm:
					default:
					}
				}
			}
		}
	}()
	select {
	case theirs := <-handshook:
		p.theirPEX, p.theirMeta = byte(theirs.M[pexExt]), byte(theirs.M[peerwire.MetadataExt])
	case <-time.After(5 * time.Second):
		t.Fatal("no extended handshake from the session")
	}
	if p.theirPEX == 0 || p.theirMeta == 0 {
		t.Fatalf("session offers ut_pex %d, ut_metadata %d", p.theirPEX, p.theirMeta)
	}
	return p
}

// flood sends addrs in ut_pex messages of pexMaxAccept addresses each.
func (p *pexPeer) flood(addrs []netip.AddrPort) error {
	var out []byte
	for len(addrs) > 0 {
		chunk := addrs[:min(pexMaxAccept, len(addrs))]
		addrs = addrs[len(chunk):]
		out = peerwire.AppendMessage(out, peerwire.Message{Kind: peerwire.Extended, ExtID: p.theirPEX,
			Payload: appendPEX(nil, chunk, make([]uint8, len(chunk)), nil)})
	}
	p.nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_, err := p.nc.Write(out)
	return err
}

// sync asks for metadata piece 0 and waits for the answer: the session
// reads one connection in order, so every message sent before has then
// been handled.
func (p *pexPeer) sync(t *testing.T) {
	t.Helper()
	req := peerwire.AppendMetadataMsg(nil, peerwire.MetadataMsg{Type: peerwire.MetadataRequest, Piece: 0})
	if _, err := p.nc.Write(peerwire.AppendMessage(nil, peerwire.Message{Kind: peerwire.Extended, ExtID: p.theirMeta, Payload: req})); err != nil {
		t.Fatalf("hostile peer dropped: %v", err)
	}
	select {
	case m := <-p.metaReplies:
		if m.Type != peerwire.MetadataData || m.Piece != 0 {
			t.Fatalf("metadata reply %+v", m)
		}
	case <-p.readerExited:
		t.Fatal("the session closed the hostile peer's connection")
	case <-time.After(10 * time.Second):
		t.Fatal("no metadata reply: the session did not get through the flood")
	}
}

// junkAddrs returns n distinct loopback addresses on port 1, where
// nothing listens: dialling one is refused at once and reaches no host.
func junkAddrs(t *testing.T, n int) []netip.AddrPort {
	t.Helper()
	out := make([]netip.AddrPort, n)
	for i := range out {
		out[i] = netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 77 + byte(i/62500), byte(i / 250 % 250), byte(i%250 + 1)}), 1)
		if !out[i].Addr().IsLoopback() {
			t.Fatalf("junk address %s is not loopback", out[i])
		}
	}
	c, err := net.DialTimeout("tcp", out[0].String(), time.Second)
	if err == nil {
		c.Close()
		t.Fatalf("something listens on %s", out[0])
	}
	return out
}

// connectedFrom reports whether n connected to addr, found through src.
func connectedFrom(n *node, addr netip.AddrPort, src PeerSource) bool {
	for _, e := range n.events(EvPeerConnected) {
		if e.Peer == addr.String() && e.Source == src {
			return true
		}
	}
	return false
}

// TestPEXFloodBounded: a peer announcing 10,000 addresses over ut_pex
// fills at most maxPEXKnown entries of the leecher's peer set, while the
// seeders the tracker and the DHT name are still dialled and the download
// completes, correct.
func TestPEXFloodBounded(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	trk := newGatedTracker(t)
	tor, content := makeTorrent(t, 2<<20, 16<<10, [][]string{{trk.url}})
	gate := &gatedDHT{open: make(chan struct{})}
	leech := startNode(t, ctx, Config{Torrent: tor, Store: newMemStore(tor, nil), Tracker: &tracker.Client{}, DHT: gate, Seed: true})
	stopWatch := watchSet(leech.s)
	defer stopWatch()

	junk := junkAddrs(t, 10000)
	hostile := dialHostilePEX(t, leech, tor, "127.0.0.4")
	if err := hostile.flood(junk[:5000]); err != nil {
		t.Fatal(err)
	}
	hostile.sync(t)
	v, ok := viewSet(leech.s)
	if !ok {
		t.Fatal("leecher ended")
	}
	if v.pex != maxPEXKnown || v.known > maxKnown {
		t.Fatalf("after 5,000 PEX addresses: %d known, %d from PEX; want %d from PEX, at most %d known", v.known, v.pex, maxPEXKnown, maxKnown)
	}

	// Now the real seeders, which know of no one: one the tracker names
	// (its answer to the leecher's first announce was held until now),
	// one the DHT does.
	seedT := startNode(t, ctx, Config{Torrent: tor, Store: newMemStore(tor, content), Have: allHave(tor.NumPieces()), Seed: true,
		NoTrackers: true, UploadRate: 1 << 20})
	seedD := startNodeAt(t, ctx, "127.0.0.5", Config{Torrent: tor, Store: newMemStore(tor, content), Have: allHave(tor.NumPieces()),
		Seed: true, NoTrackers: true, UploadRate: 1 << 20})
	trk.open(seedT.addr)
	gate.peers = []netip.AddrPort{seedD.addr}
	close(gate.open)
	if err := hostile.flood(junk[5000:]); err != nil {
		t.Fatal(err)
	}
	hostile.sync(t)

	deadline := time.After(60 * time.Second)
	for len(leech.events(EvComplete)) == 0 {
		select {
		case <-deadline:
			v, _ := viewSet(leech.s)
			t.Fatalf("download incomplete: %d known (%d PEX), connected %v", v.known, v.pex, v.peers)
		case <-time.After(20 * time.Millisecond):
		}
	}
	if !bytes.Equal(leech.store.bytes(), content) {
		t.Fatal("content differs")
	}
	if !connectedFrom(leech, seedT.addr, SourceTracker) {
		t.Errorf("the tracker's seeder %s was never connected: %+v", seedT.addr, leech.events(EvPeerConnected))
	}
	if !connectedFrom(leech, seedD.addr, SourceDHT) {
		t.Errorf("the DHT's seeder %s was never connected: %+v", seedD.addr, leech.events(EvPeerConnected))
	}
	v, ok = viewSet(leech.s)
	if !ok {
		t.Fatal("leecher ended")
	}
	if v.sources[seedT.addr] != SourceTracker || v.sources[seedD.addr] != SourceDHT {
		t.Errorf("seeders known as %v and %v", v.sources[seedT.addr], v.sources[seedD.addr])
	}
	most, bad := stopWatch()
	if bad != nil {
		t.Errorf("PEX count %d, but %d entries from PEX", bad.pex, bad.pexCounted)
	}
	if most.known > maxKnown || most.pex > maxPEXKnown {
		t.Errorf("peer set grew to %d known, %d from PEX (bounds %d, %d)", most.known, most.pex, maxKnown, maxPEXKnown)
	}
	t.Logf("largest peer set: %d known, %d from PEX; %d dials failed", most.known, most.pex, len(leech.events(EvDialFailed)))
}

// TestBannedPeerReconnects: once a peer is banned for corrupt data, 20
// connections from its IP, each from a new port, are all closed after
// the handshake with no message sent, and none of them shows up as a
// peer; a connection from another IP still is admitted.
func TestBannedPeerReconnects(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	tor, content := makeTorrent(t, 2<<20, 32<<10, nil)
	liar := fakeSeeder(t, ctx, tor, content, func(piece, begin int) bool { return begin == 16384 })
	honest := startNode(t, ctx, Config{Torrent: tor, Store: newMemStore(tor, content), Have: allHave(tor.NumPieces()), Seed: true, UploadRate: 2 << 20})
	leech := startNode(t, ctx, Config{Torrent: tor, Store: newMemStore(tor, nil), Peers: []netip.AddrPort{liar, honest.addr}, Seed: true})
	deadline := time.After(50 * time.Second)
	for len(leech.events(EvPeerBanned)) == 0 || len(leech.events(EvComplete)) == 0 {
		select {
		case <-deadline:
			t.Fatalf("bans %+v, complete %d", leech.events(EvPeerBanned), len(leech.events(EvComplete)))
		case <-time.After(20 * time.Millisecond):
		}
	}
	if b := bannedIPs(leech); len(b) != 1 || b[0] != liar.Addr().String() {
		t.Fatalf("banned %v, want %s", b, liar.Addr())
	}
	if !bytes.Equal(leech.store.bytes(), content) {
		t.Fatal("content differs")
	}
	connectedBefore := len(leech.events(EvPeerConnected))

	ports := map[int]bool{}
	for i := range 20 {
		// A banned IP is turned away before any handshake (and its cost).
		port, err := reconnect(leech, tor, liar.Addr())
		if !errors.Is(err, errRefusedEarly) {
			t.Fatalf("attempt %d: %v, want it refused before the handshake", i, err)
		}
		ports[port] = true
	}
	if len(ports) != 20 {
		t.Fatalf("%d distinct source ports, want 20", len(ports))
	}

	// Another IP is welcome: the refusals were the ban's doing.
	if _, err := reconnect(leech, tor, netip.MustParseAddr("127.0.0.6")); !errors.Is(err, errAdmitted) {
		t.Fatalf("a peer from 127.0.0.6: %v, want it admitted", err)
	}
	for _, e := range leech.events(EvPeerConnected)[connectedBefore:] {
		if netip.MustParseAddrPort(e.Peer).Addr() == liar.Addr() {
			t.Fatalf("a connection from the banned IP was admitted: %+v", e)
		}
	}
	v, ok := viewSet(leech.s)
	if !ok {
		t.Fatal("leecher ended")
	}
	if v.connectedIPs[liar.Addr()] != 0 || v.banned != 1 {
		t.Fatalf("connected %v, %d banned", v.peers, v.banned)
	}
	for a := range v.sources {
		if a.Addr() == liar.Addr() {
			t.Fatalf("the banned %s is in the peer set", a)
		}
	}
	st := waitStats(t, leech, 5*time.Second, "a snapshot after the attempts", func(Stats) bool { return true })
	for _, p := range st.Peers {
		if netip.MustParseAddrPort(p.Addr).Addr() == liar.Addr() {
			t.Fatalf("stats list the banned peer %s", p.Addr)
		}
	}
	if st.Banned != 1 || st.Known != v.known {
		t.Fatalf("stats: %d banned, %d known; want 1 and %d", st.Banned, st.Known, v.known)
	}
}

var (
	errAdmitted     = errors.New("admitted: a message arrived after the handshake")
	errRefusedEarly = errors.New("refused before the handshake")
)

// reconnect connects to n from ip (on a port of the system's choosing),
// handshakes, and returns the local port once n closes the connection
// without sending a message; errRefusedEarly when n closes it before its
// handshake reply, errAdmitted when n sends a message.
func reconnect(n *node, tor *metainfo.Torrent, ip netip.Addr) (int, error) {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: ip.AsSlice()}, Timeout: 5 * time.Second}
	nc, err := d.Dial("tcp", n.addr.String())
	if err != nil {
		return 0, err
	}
	defer nc.Close()
	port := nc.LocalAddr().(*net.TCPAddr).Port
	hs := peerwire.Handshake{InfoHash: tor.InfoHash, PeerID: NewPeerID()}
	hs.Set(peerwire.BitFast)
	hs.Set(peerwire.BitExtended)
	deadline := time.Now().Add(5 * time.Second)
	if _, err := peerwire.HandshakeOutgoing(nc, hs, deadline); err != nil {
		if closedErr(err) {
			return port, errRefusedEarly
		}
		return port, err
	}
	nc.SetReadDeadline(deadline)
	_, err = peerwire.NewReader(nc).ReadMessage()
	switch {
	case err == nil:
		return port, errAdmitted
	case closedErr(err):
		return port, nil
	}
	return port, err
}

// closedErr says whether err is the other side closing the connection.
func closedErr(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return false
	}
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET)
}

// tarpits listens on n loopback ports that accept connections and never
// answer; it returns their addresses and how many connections each took.
func tarpits(t *testing.T, n int) ([]netip.AddrPort, func() int) {
	t.Helper()
	var mu sync.Mutex
	var held []net.Conn
	var wg sync.WaitGroup
	var out []netip.AddrPort
	var lns []net.Listener
	t.Cleanup(func() {
		for _, ln := range lns {
			ln.Close()
		}
		wg.Wait()
		mu.Lock()
		for _, nc := range held {
			nc.Close()
		}
		mu.Unlock()
	})
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.8:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		out = append(out, netip.MustParseAddrPort(ln.Addr().String()))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				nc, err := ln.Accept()
				if err != nil {
					return
				}
				mu.Lock()
				held = append(held, nc)
				mu.Unlock()
			}
		}()
	}
	return out, func() int { mu.Lock(); defer mu.Unlock(); return len(held) }
}

// TestPEXTarpitsLeaveDialsForTrusted: a peer that names over ut_pex only
// addresses that accept and then never answer cannot take every dial
// slot: a seeder the tracker names later is connected at once, not after
// the tarpits' handshakes time out.
func TestPEXTarpitsLeaveDialsForTrusted(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	trk := newGatedTracker(t)
	tor, content := makeTorrent(t, 512<<10, 16<<10, [][]string{{trk.url}})
	leech := startNode(t, ctx, Config{Torrent: tor, Store: newMemStore(tor, nil), Tracker: &tracker.Client{}})
	pits, accepted := tarpits(t, 64)
	hostile := dialHostilePEX(t, leech, tor, "127.0.0.4")
	if err := hostile.flood(pits); err != nil {
		t.Fatal(err)
	}
	hostile.sync(t)
	deadline := time.After(10 * time.Second)
	for accepted() < maxDials/2 {
		select {
		case <-deadline:
			t.Fatalf("the leecher dialled %d tarpits", accepted())
		case <-time.After(10 * time.Millisecond):
		}
	}
	seed := startNode(t, ctx, Config{Torrent: tor, Store: newMemStore(tor, content), Have: allHave(tor.NumPieces()), Seed: true, NoTrackers: true})
	trk.open(seed.addr)
	// The handshakes with the tarpits time out after 20 s each (and as
	// long again in plaintext): the seeder must not wait for a slot.
	leech.wait(t, 10*time.Second)
	if leech.err != nil || !bytes.Equal(leech.store.bytes(), content) {
		t.Fatalf("download: %v", leech.err)
	}
	if !connectedFrom(leech, seed.addr, SourceTracker) {
		t.Fatalf("the tracker's seeder was not dialled: %+v", leech.events(EvPeerConnected))
	}
	t.Logf("%d tarpit connections", accepted())
}

// TestAcceptAfterEndRefused: once Run has returned, a connection offered
// to the session is refused (for the caller to close), never queued
// where no one will close it.
func TestAcceptAfterEndRefused(t *testing.T) {
	tor, _ := makeTorrent(t, 64<<10, 16<<10, nil)
	s, err := New(Config{Torrent: tor, Store: newMemStore(tor, nil), NoTrackers: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- s.Run(ctx) }()
	cancel()
	select {
	case <-ran:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return")
	}
	hs := peerwire.Handshake{InfoHash: tor.InfoHash, PeerID: NewPeerID()}
	for i := range 64 {
		a, b := net.Pipe()
		taken := s.accept(a, a, hs, EncPlain)
		a.Close()
		b.Close()
		if taken {
			t.Fatalf("connection %d taken by a session that had ended", i)
		}
	}
}
