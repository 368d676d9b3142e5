package dht

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"tt/internal/transport"
)

func TestBEP42Vectors(t *testing.T) {
	// The examples of BEP 42: address, random byte, id prefix (21 bits).
	cases := []struct {
		ip     string
		r      byte
		prefix [3]byte
	}{
		{"124.31.75.21", 1, [3]byte{0x5f, 0xbf, 0xbf}},
		{"21.75.31.124", 86, [3]byte{0x5a, 0x3c, 0xe9}},
		{"65.23.51.170", 22, [3]byte{0xa5, 0xd4, 0x32}},
		{"84.124.73.14", 65, [3]byte{0x1b, 0x03, 0x21}},
		{"43.213.53.83", 90, [3]byte{0xe5, 0x6f, 0x6c}},
	}
	for _, c := range cases {
		ip := netip.MustParseAddr(c.ip)
		crc := idPrefixCRC(ip, c.r)
		if byte(crc>>24) != c.prefix[0] || byte(crc>>16) != c.prefix[1] || byte(crc>>8)&0xf8 != c.prefix[2]&0xf8 {
			t.Errorf("%s r=%d: crc %08x, want prefix %x", c.ip, c.r, crc, c.prefix)
		}
		var id ID
		copy(id[:], c.prefix[:])
		id[19] = c.r
		if !ValidID(id, ip) {
			t.Errorf("%s: example id not valid", c.ip)
		}
		id[0] ^= 1
		if ValidID(id, ip) {
			t.Errorf("%s: altered id valid", c.ip)
		}
		for range 20 {
			if g := NodeIDFor(ip); !ValidID(g, ip) {
				t.Fatalf("%s: generated id %x not valid", c.ip, g)
			}
		}
	}
	if !ValidID(ID{1, 2, 3}, netip.MustParseAddr("127.0.0.1")) || !ValidID(ID{}, netip.MustParseAddr("192.168.1.9")) {
		t.Error("local addresses must be exempt")
	}
	v6 := netip.MustParseAddr("2001:db8::1")
	if g := NodeIDFor(v6); !ValidID(g, v6) {
		t.Error("IPv6 id not valid")
	}
}

func TestKRPCRoundTrip(t *testing.T) {
	a := args{ID: ID{1}, InfoHash: ID{2}, hasInfoHash: true, Port: 6881, Token: []byte("tok")}
	q := encodeQuery(nil, []byte("aa"), "announce_peer", &a, false)
	m, err := decode(q)
	if err != nil {
		t.Fatal(err)
	}
	if m.Y != 'q' || m.Q != "announce_peer" || m.A.ID != a.ID || m.A.InfoHash != a.InfoHash || m.A.Port != 6881 ||
		!bytes.Equal(m.A.Token, a.Token) || string(m.T) != "aa" {
		t.Fatalf("query decoded as %+v", m)
	}
	r := ret{ID: ID{9}, Token: []byte("xy"),
		Nodes: []NodeInfo{
			{ID{3}, netip.MustParseAddrPort("127.0.0.1:10")},
			{ID{4}, netip.MustParseAddrPort("[::1]:11")},
		},
		Values: []netip.AddrPort{netip.MustParseAddrPort("10.0.0.1:80"), netip.MustParseAddrPort("[2001:db8::1]:81")},
	}
	from := netip.MustParseAddrPort("203.0.113.5:4000")
	resp := encodeResponse(nil, []byte("bb"), from, &r)
	m, err = decode(resp)
	if err != nil {
		t.Fatal(err)
	}
	if m.Y != 'r' || m.R.ID != r.ID || !slices.Equal(m.R.Nodes, r.Nodes) || !slices.Equal(m.R.Values, r.Values) ||
		!bytes.Equal(m.R.Token, r.Token) || m.IP != from {
		t.Fatalf("response decoded as %+v", m)
	}
	m, err = decode(encodeError(nil, []byte("cc"), errMethod, "method unknown"))
	if err != nil || m.Y != 'e' || m.E.Code != errMethod || m.E.Msg != "method unknown" {
		t.Fatalf("error decoded as %+v, %v", m, err)
	}
	for _, bad := range []string{"", "de", "d1:y1:qe", "d1:t2:aa1:y1:q1:q4:pinge", "d1:t2:aa1:y1:xe",
		"d1:rd2:id3:abce1:t2:aa1:y1:re", "li1ee", "d1:t2:aa1:y1:q1:ad2:id20:aaaaaaaaaaaaaaaaaaaa4:porti70000ee1:q13:announce_peere"} {
		if _, err := decode([]byte(bad)); err == nil {
			t.Errorf("decode(%q) accepted", bad)
		}
	}
}

func randID(r *rand.Rand) ID {
	var id ID
	for i := range id {
		id[i] = byte(r.UintN(256))
	}
	return id
}

func TestTableClosestAndSplit(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	self := randID(r)
	now := time.Unix(1000, 0)
	tab := newTable(self, 8, now)
	var all []NodeInfo
	for i := range 5000 {
		n := NodeInfo{randID(r), netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), 6881)}
		tab.seen(n, now)
		all = append(all, n)
	}
	// Ids near our own make the table split deep.
	for i := range 200 {
		id := self
		id[19] ^= byte(i + 1)
		n := NodeInfo{id, netip.AddrPortFrom(netip.AddrFrom4([4]byte{11, 0, byte(i >> 8), byte(i)}), 6881)}
		tab.seen(n, now)
		all = append(all, n)
	}
	if len(tab.buckets) < 12 {
		t.Fatalf("only %d buckets", len(tab.buckets))
	}
	for _, b := range tab.buckets {
		if len(b.nodes) > 8 || len(b.spare) > 8 {
			t.Fatalf("bucket over k: %d nodes %d spare", len(b.nodes), len(b.spare))
		}
	}
	// 5000 random ids fill the first buckets (half of them share no bit
	// with us, a quarter one bit, ...).
	for i := range 9 {
		if got := len(tab.buckets[i].nodes); got != 8 {
			t.Fatalf("bucket %d holds %d nodes, want 8", i, got)
		}
	}
	// Every node kept is in the bucket its prefix says.
	for i, b := range tab.buckets {
		for _, n := range b.nodes {
			if tab.bucketFor(n.ID) != i {
				t.Fatalf("node in bucket %d belongs in %d", i, tab.bucketFor(n.ID))
			}
		}
	}
	// closest(self) returns the nearest nodes the table holds, sorted.
	kept := tab.all()
	sortByDistance(kept, self)
	got := tab.closest(self, 8)
	if !slices.Equal(got, kept[:8]) {
		t.Fatalf("closest differs from brute force")
	}
	// The nearest ids of all (200 near our own) must all be kept: the deep
	// buckets have room for what is close to us.
	sortByDistance(all, self)
	if !slices.Equal(got, all[:8]) {
		t.Fatalf("closest nodes not kept")
	}
}

func TestTableReplacesBadNodes(t *testing.T) {
	now := time.Unix(1000, 0)
	self := ID{0xff}
	tab := newTable(self, 2, now)
	addr := func(i int) netip.AddrPort { return netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 0, byte(i)}), 1) }
	// Force two splits: bucket 0 holds ids starting with bit 0.
	tab.seen(NodeInfo{ID{0x80}, addr(1)}, now)
	tab.seen(NodeInfo{ID{0x81}, addr(2)}, now)
	tab.seen(NodeInfo{ID{0x01}, addr(3)}, now)
	tab.seen(NodeInfo{ID{0x02}, addr(4)}, now)
	if tab.len() != 4 {
		t.Fatalf("%d nodes", tab.len())
	}
	// A third far node is a spare; the stale node is named for a ping.
	later := now.Add(20 * time.Minute)
	if p := tab.seen(NodeInfo{ID{0x03}, addr(5)}, later); p == nil {
		t.Fatal("no questionable node to ping")
	}
	if tab.len() != 4 {
		t.Fatal("full bucket grew")
	}
	tab.failed(addr(3))
	tab.failed(addr(3))
	if _, ok := tab.byAddr[addr(3)]; ok {
		t.Fatal("bad node kept")
	}
	if _, ok := tab.byAddr[addr(5)]; !ok {
		t.Fatal("spare did not replace the bad node")
	}
}

func TestStoreLimits(t *testing.T) {
	now := time.Unix(1000, 0)
	s := newStore(3, 2)
	p := func(i int) netip.AddrPort { return netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 0, byte(i)}), 1) }
	for i := range 5 {
		s.add(ID{1}, p(i), now)
	}
	if got := len(s.get(ID{1}, 50, now)); got != 3 {
		t.Fatalf("%d peers kept, limit 3", got)
	}
	s.add(ID{2}, p(1), now)
	if s.add(ID{3}, p(1), now) {
		t.Fatal("third infohash accepted, limit 2")
	}
	if got := len(s.get(ID{1}, 2, now)); got != 2 {
		t.Fatalf("get(2) returned %d", got)
	}
	s.expire(now.Add(peerTTL + time.Second))
	if s.total != 0 || len(s.swarms) != 0 {
		t.Fatalf("expired peers kept: %d", s.total)
	}
}

// testNode is a DHT node on its own loopback socket.
type testNode struct {
	*Server
	mux *transport.UDPMux
}

func startNodes(t *testing.T, n int, cfg Config) []testNode {
	t.Helper()
	var nodes []testNode
	for range n {
		mux, err := transport.ListenUDP("127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		c := cfg
		if len(nodes) > 0 {
			c.Bootstrap = []string{nodes[0].mux.LocalAddr().String()}
		}
		s := New(mux, c)
		mux.Handle(s)
		nodes = append(nodes, testNode{s, mux})
		t.Cleanup(func() { s.Close(); mux.Close() })
	}
	return nodes
}

func TestLocalDHTAnnounceAndGetPeers(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	nodes := startNodes(t, 24, Config{QueryTimeout: 500 * time.Millisecond})
	for _, n := range nodes[1:] {
		if err := n.Bootstrap(ctx); err != nil {
			t.Fatalf("bootstrap: %v", err)
		}
	}
	// A second pass lets the early nodes learn of the later ones.
	for _, n := range nodes {
		n.Server.cfg.Bootstrap = []string{nodes[len(nodes)-1].mux.LocalAddr().String()}
		n.Bootstrap(ctx)
	}
	for i, n := range nodes {
		if n.Stats().Nodes < 8 {
			t.Errorf("node %d knows %d nodes", i, n.Stats().Nodes)
		}
	}
	ih := ID{0xab, 0xcd}
	accepted, err := nodes[5].Announce(ctx, ih, 4321, nil)
	if err != nil || accepted < 4 {
		t.Fatalf("announce: %d nodes accepted, %v", accepted, err)
	}
	var found []netip.AddrPort
	if err := nodes[17].GetPeers(ctx, ih, func(ps []netip.AddrPort) { found = append(found, ps...) }); err != nil {
		t.Fatal(err)
	}
	want := netip.MustParseAddrPort("127.0.0.1:4321")
	if !slices.Contains(found, want) {
		t.Fatalf("get_peers found %v, want %v", found, want)
	}
	// implied_port: the announcing socket's port is stored.
	if _, err := nodes[9].Announce(ctx, ID{0xee}, 0, nil); err != nil {
		t.Fatal(err)
	}
	found = nil
	nodes[3].GetPeers(ctx, ID{0xee}, func(ps []netip.AddrPort) { found = append(found, ps...) })
	if !slices.Contains(found, nodes[9].mux.LocalAddr()) {
		t.Fatalf("implied port: found %v, want %v", found, nodes[9].mux.LocalAddr())
	}
}

func TestStateRoundTrip(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	nodes := startNodes(t, 10, Config{QueryTimeout: 500 * time.Millisecond})
	for _, n := range nodes[1:] {
		n.Bootstrap(ctx)
	}
	path := filepath.Join(t.TempDir(), "dht.dat")
	if err := nodes[4].SaveState(path); err != nil {
		t.Fatal(err)
	}
	st, err := LoadState(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.ID != nodes[4].ID() || len(st.Nodes) != len(nodes[4].Nodes()) || len(st.Nodes) == 0 {
		t.Fatalf("state: id %v nodes %d, want %v and %d", st.ID, len(st.Nodes), nodes[4].ID(), len(nodes[4].Nodes()))
	}
	// A node started from the saved state alone finds the others.
	mux, err := transport.ListenUDP("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer mux.Close()
	s := New(mux, Config{ID: st.ID, Bootstrap: Addrs(st.Nodes), QueryTimeout: 500 * time.Millisecond})
	mux.Handle(s)
	defer s.Close()
	if err := s.Bootstrap(ctx); err != nil {
		t.Fatal(err)
	}
	if s.ID() != st.ID || s.Stats().Nodes < 5 {
		t.Fatalf("restored node: %d nodes", s.Stats().Nodes)
	}
}

// rawQuery sends data from a socket of its own and returns the answer.
func rawQuery(t *testing.T, to netip.AddrPort, data []byte) []byte {
	t.Helper()
	c, err := transport.ListenUDP("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	got := make(chan []byte, 1)
	c.Handle(handlerFunc(func(_ netip.AddrPort, b []byte) bool {
		select {
		case got <- append([]byte(nil), b...):
		default:
		}
		return true
	}))
	c.WriteToUDPAddrPort(data, to)
	select {
	case b := <-got:
		return b
	case <-time.After(2 * time.Second):
		return nil
	}
}

type handlerFunc func(netip.AddrPort, []byte) bool

func (f handlerFunc) HandlePacket(a netip.AddrPort, b []byte) bool { return f(a, b) }

func TestHostileQueries(t *testing.T) {
	nodes := startNodes(t, 1, Config{QueryRate: 50, LimitLoopback: true})
	n := nodes[0]
	to := n.mux.LocalAddr()
	id := bytes.Repeat([]byte{'a'}, 20)
	q := func(body string) []byte {
		return []byte(fmt.Sprintf("d1:ad2:id20:%s%se1:q%d:%s1:t2:xx1:y1:qe", id, "", len(body), body))
	}
	// Unknown method: error 204.
	if b := rawQuery(t, to, q("vote")); !bytes.Contains(b, []byte("i204e")) {
		t.Fatalf("unknown method answered %q", b)
	}
	// Missing target: error 203.
	if b := rawQuery(t, to, q("find_node")); !bytes.Contains(b, []byte("i203e")) {
		t.Fatalf("find_node without target answered %q", b)
	}
	// announce_peer with a forged token is refused.
	ann := fmt.Sprintf("d1:ad2:id20:%s9:info_hash20:%s4:porti80e5:token8:forgedxxe1:q13:announce_peer1:t2:xx1:y1:qe", id, id)
	if b := rawQuery(t, to, []byte(ann)); !bytes.Contains(b, []byte("bad token")) {
		t.Fatalf("forged token answered %q", b)
	}
	// Garbage, a huge string claim, deep nesting and a huge value list are
	// dropped or answered, never fatal.
	junk := [][]byte{
		[]byte("d999999999:x"), []byte("d" + string(bytes.Repeat([]byte("l"), 5000))),
		[]byte("d1:rd2:id20:" + string(id) + "6:valuesl" + string(bytes.Repeat([]byte("6:abcdef"), 5000)) + "ee1:t2:zz1:y1:re"),
		[]byte("d1:t2:xx1:y1:e1:eli201e" + string(bytes.Repeat([]byte("x"), 3000)) + "ee"),
	}
	c, _ := transport.ListenUDP("127.0.0.1:0")
	defer c.Close()
	for _, j := range junk {
		c.WriteToUDPAddrPort(j, to)
	}
	deadline := time.Now().Add(5 * time.Second)
	for n.Stats().Malformed < 3 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n.Stats().Malformed < 3 {
		t.Fatalf("junk not seen as malformed: %+v", n.Stats())
	}
	// A flood from one IP address over many source ports is cut to the
	// rate limit, and another address is still answered.
	ping := q("ping")
	for range 20 {
		f, err := transport.ListenUDP("127.0.0.2:0")
		if err != nil {
			t.Skipf("no second loopback address: %v", err)
		}
		for range 100 {
			f.WriteToUDPAddrPort(ping, to)
		}
		f.Close()
	}
	deadline = time.Now().Add(5 * time.Second)
	for n.Stats().Dropped == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n.Stats().Dropped == 0 {
		t.Fatal("flood not rate limited")
	}
	if b := rawQuery(t, to, q("ping")); !bytes.Contains(b, []byte("1:y1:r")) {
		t.Fatalf("ping from another address after abuse answered %q", b)
	}
}
