package session

import (
	"bytes"
	"context"
	"crypto/sha1"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"tt/metainfo"
	"tt/peerwire"
)

// manyFiles builds a torrent of n small files whose info dictionary spans
// several metadata pieces. The files exist only in the torrent: seeders
// serve them from memory.
func manyFiles(t *testing.T, n int) *metainfo.Torrent {
	t.Helper()
	c := &metainfo.Content{Name: "many", MultiFile: true}
	var content []byte
	// In torrent order (the byte order of the path components): by
	// directory, then by name.
	for d := 0; d < 17; d++ {
		for i := d; i < n; i += 17 {
			b := []byte(fmt.Sprintf("file %d\n", i))
			c.Files = append(c.Files, metainfo.SourceFile{
				Path: []string{fmt.Sprintf("dir%02d", d), fmt.Sprintf("a-rather-long-file-name-%05d.dat", i)}, Length: int64(len(b))})
			content = append(content, b...)
		}
	}
	c.Total = int64(len(content))
	var pieces []byte
	for off := 0; off < len(content); off += 16 << 10 {
		h := sha1.Sum(content[off:min(off+16<<10, len(content))])
		pieces = append(pieces, h[:]...)
	}
	_, tor, err := metainfo.Build(c, pieces, metainfo.BuildOptions{PieceLength: 16 << 10})
	if err != nil {
		t.Fatal(err)
	}
	return tor
}

// fetchMeta runs a session that only fetches the metadata of ih from peers.
func fetchMeta(t *testing.T, ctx context.Context, ih [20]byte, peers []netip.AddrPort, stall time.Duration) (*node, *metainfo.Torrent, error) {
	t.Helper()
	n := startNode(t, ctx, Config{InfoHash: ih, MetadataOnly: true, Peers: peers, StallAfter: stall})
	n.wait(t, 25*time.Second)
	return n, n.s.Torrent(), n.err
}

// seeders starts one seeding node of tor per IP.
func seeders(t *testing.T, ctx context.Context, tor *metainfo.Torrent, ips ...string) []*node {
	var out []*node
	for i, ip := range ips {
		out = append(out, startNodeAt(t, ctx, ip, Config{Torrent: tor, Store: newMemStore(tor, nil), Have: allHave(tor.NumPieces()),
			Seed: true, Encryption: Encryption(i % 3)}))
	}
	return out
}

func addrs(nodes ...*node) []netip.AddrPort {
	var out []netip.AddrPort
	for _, n := range nodes {
		out = append(out, n.addr)
	}
	return out
}

func TestFetchMetadataSpreadOverPeers(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// Enough pieces (about 40) that the fetch outlasts the slowest of the
	// three handshakes (the encrypted ones): with 6, one fast peer
	// sometimes had them all before the others were up.
	tor := manyFiles(t, 10000)
	if len(tor.InfoRaw) < 3*16384 {
		t.Fatalf("info of %d bytes: want several pieces", len(tor.InfoRaw))
	}
	n, got, err := fetchMeta(t, ctx, tor.InfoHash, addrs(seeders(t, ctx, tor, "127.0.0.1", "127.0.0.1", "127.0.0.1")...), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.InfoRaw, tor.InfoRaw) {
		t.Fatal("fetched metadata differs")
	}
	from := map[string]int{}
	for _, e := range n.events(EvMetadataPiece) {
		from[e.Peer]++
	}
	if len(from) < 2 {
		t.Errorf("all pieces from one peer: %v", from)
	}
	if len(n.events(EvMetadata)) != 1 {
		t.Errorf("metadata events: %+v", n.events(EvMetadata))
	}
	t.Logf("%d bytes of metadata, pieces by peer: %v", len(got.InfoRaw), from)
}

func TestFetchMetadataNoPeers(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tor, _ := makeTorrent(t, 64<<10, 16<<10, nil)
	_, _, err := fetchMeta(t, ctx, tor.InfoHash, []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:1")}, time.Second)
	if !errors.Is(err, ErrNoMetadata) {
		t.Fatalf("got %v, want ErrNoMetadata", err)
	}
}

// liarNode seeds tor's info-hash but serves info as its metadata.
func liarNode(t *testing.T, ctx context.Context, ip string, tor *metainfo.Torrent, info []byte) *node {
	fake := *tor
	fake.InfoRaw = info
	return startNodeAt(t, ctx, ip, Config{Torrent: &fake, Store: newMemStore(tor, nil), Have: allHave(tor.NumPieces()), Seed: true})
}

// bannedIPs lists the IPs of the peer_banned events.
func bannedIPs(n *node) []string {
	var out []string
	for _, e := range n.events(EvPeerBanned) {
		out = append(out, netip.MustParseAddrPort(e.Peer).Addr().String())
	}
	return out
}

// TestFetchMetadataLiarBanned: a peer serving right-sized but wrong pieces
// of a multi-piece info dictionary, connected first, is banned, and only
// it; the honest peer completes the dictionary. Alone, the liar's data is
// refused.
func TestFetchMetadataLiarBanned(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	tor := manyFiles(t, 4000)
	wrong := bytes.Clone(tor.InfoRaw)
	for i := 100; i < len(wrong); i += 16384 { // every piece differs
		wrong[i] ^= 1
	}
	liar := liarNode(t, ctx, "127.0.0.2", tor, wrong)
	if _, got, err := fetchMeta(t, ctx, tor.InfoHash, addrs(liar), 2*time.Second); err == nil {
		t.Fatalf("accepted metadata that does not hash to the info-hash (%d bytes)", len(got.InfoRaw))
	}
	// The liar is first for certain: the honest peer dials in only once
	// the liar's pieces have arrived.
	liar2 := liarNode(t, ctx, "127.0.0.3", tor, wrong)
	n := startNode(t, ctx, Config{InfoHash: tor.InfoHash, MetadataOnly: true, Peers: addrs(liar2), StallAfter: 10 * time.Second})
	deadline := time.After(10 * time.Second)
	for len(n.events(EvMetadataPiece)) == 0 {
		select {
		case <-deadline:
			t.Fatal("no metadata piece from the liar within 10 s")
		case <-n.done:
			t.Fatalf("the fetch ended before the honest peer came: %v", n.err)
		case <-time.After(5 * time.Millisecond):
		}
	}
	startNodeAt(t, ctx, "127.0.0.1", Config{Torrent: tor, Store: newMemStore(tor, nil), Have: allHave(tor.NumPieces()),
		Seed: true, Peers: addrs(n)})
	n.wait(t, 25*time.Second)
	if got := n.s.Torrent(); n.err != nil || got == nil || !bytes.Equal(got.InfoRaw, tor.InfoRaw) {
		t.Fatalf("with an honest peer too: %v", n.err)
	}
	if b := bannedIPs(n); len(b) != 1 || b[0] != "127.0.0.3" {
		t.Fatalf("banned %v, want only the liar 127.0.0.3", b)
	}
}

// TestFetchMetadataWrongSize: a peer announcing another metadata_size
// (and serving a dictionary of that size), listed first, does not poison
// the fetch; it alone is banned once the right size verifies.
func TestFetchMetadataWrongSize(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	tor := manyFiles(t, 4000)
	liar := liarNode(t, ctx, "127.0.0.2", tor, append(bytes.Clone(tor.InfoRaw), make([]byte, 20000)...))
	honest := seeders(t, ctx, tor, "127.0.0.1")[0]
	n, got, err := fetchMeta(t, ctx, tor.InfoHash, addrs(liar, honest), 10*time.Second)
	if err != nil || !bytes.Equal(got.InfoRaw, tor.InfoRaw) {
		t.Fatalf("fetch: %v", err)
	}
	if b := bannedIPs(n); len(b) != 1 || b[0] != "127.0.0.2" {
		t.Fatalf("banned %v, want only the liar 127.0.0.2", b)
	}
}

// TestMagnetKeepsConnections: a magnet link's session downloads the data
// over the connection it fetched the metadata on: one connection, never
// closed, and the files are right.
func TestMagnetKeepsConnections(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tor, content := makeTorrent(t, 1<<20, 16<<10, nil)
	seed := startNode(t, ctx, Config{Torrent: tor, Store: newMemStore(tor, content), Have: allHave(tor.NumPieces()), Seed: true})
	stores := make(chan *memStore, 1)
	leech := startNode(t, ctx, Config{InfoHash: tor.InfoHash, Peers: []netip.AddrPort{seed.addr}, StallAfter: 10 * time.Second,
		Open: func(_ context.Context, t *metainfo.Torrent) (Opened, error) {
			st := newMemStore(t, nil)
			stores <- st
			return Opened{Store: st}, nil
		}})
	leech.wait(t, 25*time.Second)
	if leech.err != nil {
		t.Fatal(leech.err)
	}
	if got := (<-stores).bytes(); !bytes.Equal(got, content) {
		t.Fatal("content differs")
	}
	if c, d := leech.events(EvPeerConnected), leech.events(EvPeerDisconnected); len(c) != 1 || len(d) != 0 {
		t.Fatalf("connections %d, disconnections %+v: want one connection, kept", len(c), d)
	}
	if len(leech.events(EvMetadata)) != 1 || len(leech.events(EvDone)) != 1 {
		t.Fatal("no metadata or done event")
	}
}

// TestLateWrongMetadataSizeBanned: once the info dictionary is known, a
// peer that announces another metadata_size is banned at once, even
// though it can no longer poison a fetch.
func TestLateWrongMetadataSizeBanned(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	tor, content := makeTorrent(t, 256<<10, 16<<10, nil)
	seed := startNode(t, ctx, Config{Torrent: tor, Store: newMemStore(tor, content), Have: allHave(tor.NumPieces()), Seed: true})
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 3)}, Timeout: 5 * time.Second}
	nc, err := d.Dial("tcp", seed.addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	hs := peerwire.Handshake{InfoHash: tor.InfoHash, PeerID: NewPeerID()}
	hs.Set(peerwire.BitExtended)
	if _, err := peerwire.HandshakeOutgoing(nc, hs, time.Now().Add(5*time.Second)); err != nil {
		t.Fatal(err)
	}
	eh, err := peerwire.ExtendedHandshake{M: map[string]int64{peerwire.MetadataExt: 1},
		MetadataSize: int64(len(tor.InfoRaw) + 1)}.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	nc.Write(peerwire.AppendMessage(nil, peerwire.Message{Kind: peerwire.Extended, ExtID: 0, Payload: eh}))
	deadline := time.After(10 * time.Second)
	for len(seed.events(EvPeerBanned)) == 0 {
		select {
		case <-deadline:
			t.Fatal("the peer with a wrong metadata_size was not banned within 10 s")
		case <-time.After(10 * time.Millisecond):
		}
	}
	if b := bannedIPs(seed); len(b) != 1 || b[0] != "127.0.0.3" {
		t.Fatalf("banned %v, want 127.0.0.3", b)
	}
}
