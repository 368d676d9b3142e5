package session

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"tt/metainfo"
	"tt/peerwire"
)

// fakeSeeder is a hostile peer: it has every piece and answers requests,
// flipping a byte in the blocks corrupt says to.
func fakeSeeder(t *testing.T, ctx context.Context, tor *metainfo.Torrent, content []byte, corrupt func(piece, begin int) bool) netip.AddrPort {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.2:0") // its own IP: bans are by IP
	if err != nil {
		t.Fatal(err)
	}
	context.AfterFunc(ctx, func() { ln.Close() })
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer nc.Close()
				ours := peerwire.Handshake{InfoHash: tor.InfoHash, PeerID: NewPeerID()}
				ours.Set(peerwire.BitFast)
				if _, err := peerwire.HandshakeIncoming(nc, time.Now().Add(5*time.Second), func([20]byte) (peerwire.Handshake, bool) { return ours, true }); err != nil {
					return
				}
				nc.Write(peerwire.AppendMessage(nil, peerwire.Message{Kind: peerwire.HaveAll}))
				nc.Write(peerwire.AppendMessage(nil, peerwire.Message{Kind: peerwire.Unchoke}))
				r := peerwire.NewReader(nc)
				for {
					m, err := r.ReadMessage()
					if err != nil {
						return
					}
					if m.Kind != peerwire.Request {
						continue
					}
					off := int64(m.Index)*tor.Info.PieceLength + int64(m.Begin)
					block := bytes.Clone(content[off : off+int64(m.Length)])
					if corrupt(int(m.Index), int(m.Begin)) {
						block[0] ^= 0xff
					}
					out := peerwire.AppendPieceHeader(nil, m.Index, m.Begin, len(block))
					if _, err := nc.Write(append(out, block...)); err != nil {
						return
					}
				}
			}()
		}
	}()
	return netip.MustParseAddrPort(ln.Addr().String())
}

// TestCorruptPeerBanned: a peer that sends bad blocks is banned by smart
// ban and the download still completes, correct, from an honest seeder.
func TestCorruptPeerBanned(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	tor, content := makeTorrent(t, 2<<20, 32<<10, nil)
	liar := fakeSeeder(t, ctx, tor, content, func(piece, begin int) bool { return begin == 16384 })
	honest := startNode(t, ctx, Config{Torrent: tor, Store: newMemStore(tor, content), Have: allHave(tor.NumPieces()), Seed: true, UploadRate: 2 << 20})
	leech := startNode(t, ctx, Config{Torrent: tor, Store: newMemStore(tor, nil), Peers: []netip.AddrPort{liar, honest.addr}})
	leech.wait(t, 50*time.Second)
	if leech.err != nil {
		t.Fatal(leech.err)
	}
	if !bytes.Equal(leech.store.bytes(), content) {
		t.Fatal("content differs")
	}
	bans := leech.events("peer_banned")
	if len(bans) != 1 || bans[0].Peer != liar.String() {
		t.Fatalf("bans %+v, want the liar %s", bans, liar)
	}
	if len(leech.events("hash_failed")) == 0 {
		t.Fatal("no hash failure recorded")
	}
}

// hostileConn connects to a node, handshakes, and returns the connection.
func hostileConn(t *testing.T, n *node, tor *metainfo.Torrent) net.Conn {
	t.Helper()
	nc, err := net.Dial("tcp", n.addr.String())
	if err != nil {
		t.Fatal(err)
	}
	hs := peerwire.Handshake{InfoHash: tor.InfoHash, PeerID: NewPeerID()}
	if _, err := peerwire.HandshakeOutgoing(nc, hs, time.Now().Add(5*time.Second)); err != nil {
		t.Fatal(err)
	}
	return nc
}

// expectDropped waits until the node closes the connection.
func expectDropped(t *testing.T, nc net.Conn, what string) {
	t.Helper()
	nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.Copy(io.Discard, nc); err != nil {
		var ne net.Error
		if ok := errorsAs(err, &ne); ok && ne.Timeout() {
			t.Fatalf("%s: connection not dropped", what)
		}
	}
}

func errorsAs(err error, ne *net.Error) bool {
	e, ok := err.(net.Error)
	if ok {
		*ne = e
	}
	return ok
}

func TestHostileMessagesDropped(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	tor, content := makeTorrent(t, 1<<20, 16<<10, nil)
	seed := startNode(t, ctx, Config{Torrent: tor, Store: newMemStore(tor, content), Have: allHave(tor.NumPieces()), Seed: true})
	cases := map[string][]byte{
		"wrong bitfield length": peerwire.AppendMessage(nil, peerwire.Message{Kind: peerwire.Bitfield, Payload: []byte{0xff}}),
		"out-of-range request":  peerwire.AppendMessage(nil, peerwire.Message{Kind: peerwire.Request, Index: 1 << 20, Begin: 0, Length: 16384}),
		"oversized request":     peerwire.AppendMessage(nil, peerwire.Message{Kind: peerwire.Request, Index: 0, Begin: 0, Length: 1 << 20}),
		"4 GiB length prefix":   binary.BigEndian.AppendUint32(nil, 0xffffffff),
	}
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	for name, msg := range cases {
		nc := hostileConn(t, seed, tor)
		nc.Write(msg)
		expectDropped(t, nc, name)
		nc.Close()
	}
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if grown := int64(after.TotalAlloc) - int64(before.TotalAlloc); grown > 64<<20 {
		t.Fatalf("hostile messages cost %d bytes of allocation", grown)
	}
	// The seeder is unaffected: an honest leecher still gets everything.
	leech := startNode(t, ctx, Config{Torrent: tor, Store: newMemStore(tor, nil), Peers: []netip.AddrPort{seed.addr}})
	leech.wait(t, 30*time.Second)
	if leech.err != nil || !bytes.Equal(leech.store.bytes(), content) {
		t.Fatalf("download after hostile peers: %v", leech.err)
	}
}

// TestSlowHandshakeDropped: a peer that never finishes its handshake is
// dropped after the handshake timeout and does not block others.
func TestSlowHandshakeDropped(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tor, content := makeTorrent(t, 256<<10, 16<<10, nil)
	seed := startNode(t, ctx, Config{Torrent: tor, Store: newMemStore(tor, content), Have: allHave(tor.NumPieces()), Seed: true,
		HandshakeTimeout: 500 * time.Millisecond})
	var slow []net.Conn
	for range 20 {
		nc, err := net.Dial("tcp", seed.addr.String())
		if err != nil {
			t.Fatal(err)
		}
		nc.Write([]byte{19, 'B', 'i', 't'}) // and then nothing
		slow = append(slow, nc)
	}
	leech := startNode(t, ctx, Config{Torrent: tor, Store: newMemStore(tor, nil), Peers: []netip.AddrPort{seed.addr}})
	leech.wait(t, 20*time.Second)
	if leech.err != nil {
		t.Fatal(leech.err)
	}
	for _, nc := range slow {
		expectDropped(t, nc, "slow handshake")
		nc.Close()
	}
}
