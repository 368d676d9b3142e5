package session

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"tt/metainfo"
	"tt/peerwire"
)

func TestPEXEncoding(t *testing.T) {
	added := []netip.AddrPort{netip.MustParseAddrPort("10.0.0.1:6881"), netip.MustParseAddrPort("[2001:db8::1]:51413")}
	b := appendPEX(nil, added, []uint8{pexSeed, pexEncryption}, []netip.AddrPort{netip.MustParseAddrPort("10.0.0.2:1")})
	if !bytesHasPrefix(b, "d5:added6:") {
		t.Fatalf("encoding %q", b)
	}
	got, err := parsePEX(b)
	if err != nil || fmt.Sprint(got) != fmt.Sprint(added) {
		t.Fatalf("parse: %v, %v", got, err)
	}
	for name, in := range map[string]string{"not a dict": "i1e", "odd length": "d5:added5:abcdee", "garbage": "d5:added"} {
		if _, err := parsePEX([]byte(in)); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
	// port 0 and the unspecified address are dropped
	z := appendPEX(nil, []netip.AddrPort{netip.MustParseAddrPort("0.0.0.0:5"), netip.MustParseAddrPort("1.2.3.4:0")}, []uint8{0, 0}, nil)
	if got, _ := parsePEX(z); len(got) != 0 {
		t.Fatalf("kept %v", got)
	}
}

func bytesHasPrefix(b []byte, p string) bool { return len(b) >= len(p) && string(b[:len(p)]) == p }

// TestPEXDiscovery: a leecher is told of one peer only; PEX makes it and
// the seeder meet (whichever dials first: the seeder learns of the leecher
// from that peer too).
func TestPEXDiscovery(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tor, content := makeTorrent(t, 512<<10, 16<<10, nil)
	seed := startNode(t, ctx, Config{Torrent: tor, Store: newMemStore(tor, content), Have: allHave(tor.NumPieces()), Seed: true, UploadRate: 64 << 10})
	p1 := startNode(t, ctx, Config{Torrent: tor, Store: newMemStore(tor, nil), Peers: []netip.AddrPort{seed.addr}, Seed: true})
	waitStats(t, p1, 10*time.Second, "p1 connected", func(st Stats) bool { return len(st.Peers) > 0 })
	leech := startNode(t, ctx, Config{Torrent: tor, Store: newMemStore(tor, nil), Peers: []netip.AddrPort{p1.addr}})
	deadline := time.After(15 * time.Second)
	for {
		found := false
		for _, e := range leech.events("peer_connected") {
			if e.Source == SourcePEX && e.Peer == seed.addr.String() {
				found = true
			}
		}
		for _, e := range seed.events("peer_connected") {
			if e.Source == SourcePEX && e.Peer == leech.addr.String() {
				found = true
			}
		}
		if found {
			break
		}
		select {
		case <-deadline:
			t.Fatalf("the leecher and the seeder never met through PEX: %+v", leech.events("peer_connected"))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// TestPrivateNoPEX: a private torrent's extended handshake offers no
// ut_pex, and no PEX message is ever sent; the same with PEX turned off.
func TestPrivateNoPEX(t *testing.T) {
	t.Run("private", func(t *testing.T) { testNoPEX(t, true) })
	t.Run("NoPEX", func(t *testing.T) { testNoPEX(t, false) })
}

func testNoPEX(t *testing.T, private bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tor, content := makeTorrentOpts(t, 256<<10, metainfo.BuildOptions{PieceLength: 16 << 10, Private: private,
		Trackers: [][]string{{"http://127.0.0.1:1/announce"}}})
	seed := startNode(t, ctx, Config{Torrent: tor, Store: newMemStore(tor, content), Have: allHave(tor.NumPieces()), Seed: true, NoTrackers: true,
		NoPEX: !private})
	other := startNode(t, ctx, Config{Torrent: tor, Store: newMemStore(tor, nil), Peers: []netip.AddrPort{seed.addr}, Seed: true, NoTrackers: true})
	waitStats(t, other, 10*time.Second, "connected", func(st Stats) bool { return len(st.Peers) > 0 })
	nc, err := net.Dial("tcp", seed.addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	hs := peerwire.Handshake{InfoHash: tor.InfoHash, PeerID: NewPeerID()}
	hs.Set(peerwire.BitExtended)
	if _, err := peerwire.HandshakeOutgoing(nc, hs, time.Now().Add(5*time.Second)); err != nil {
		t.Fatal(err)
	}
	eh := peerwire.ExtendedHandshake{M: map[string]int64{pexExt: 7}, P: 1234}
	b, _ := eh.Marshal()
	nc.Write(peerwire.AppendMessage(nil, peerwire.Message{Kind: peerwire.Extended, Payload: b}))
	r := peerwire.NewReader(nc)
	nc.SetReadDeadline(time.Now().Add(4 * time.Second))
	sawHandshake := false
	for {
		m, err := r.ReadMessage()
		if err != nil {
			break // the deadline: nothing more came
		}
		if m.Kind != peerwire.Extended {
			continue
		}
		if m.ExtID == 0 {
			peh, err := peerwire.ParseExtendedHandshake(m.Payload)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := peh.M[pexExt]; ok {
				t.Fatal("ut_pex offered")
			}
			if string(peh.YourIP) != string([]byte{127, 0, 0, 1}) || peh.MetadataSize != int64(len(tor.InfoRaw)) {
				t.Fatalf("extended handshake: yourip %v, metadata_size %d", peh.YourIP, peh.MetadataSize)
			}
			sawHandshake = true
		} else if m.ExtID == 7 {
			t.Fatal("a PEX message sent")
		}
	}
	if !sawHandshake {
		t.Fatal("no extended handshake")
	}
}
