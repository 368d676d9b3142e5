package session

import (
	"bytes"
	"context"
	"crypto/sha1"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"tt/metainfo"
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
	var addrs []netip.AddrPort
	for i := 0; i < 3; i++ {
		n := startNode(t, ctx, Config{Torrent: tor, Store: newMemStore(tor, nil), Have: allHave(tor.NumPieces()), Seed: true,
			Encryption: Encryption(i % 3)})
		addrs = append(addrs, n.addr)
	}
	var mu sync.Mutex
	from := map[string]int{}
	info, err := FetchMetadata(ctx, FetchConfig{InfoHash: tor.InfoHash, Peers: addrs, StallAfter: 10 * time.Second,
		Events: func(e Event) {
			if e.Type == "metadata_piece" {
				mu.Lock()
				from[e.Peer]++
				mu.Unlock()
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(info, tor.InfoRaw) {
		t.Fatal("fetched metadata differs")
	}
	if len(from) < 2 {
		t.Errorf("all pieces from one peer: %v", from)
	}
	t.Logf("%d bytes of metadata, pieces by peer: %v", len(info), from)
}

func TestFetchMetadataNoPeers(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tor, _ := makeTorrent(t, 64<<10, 16<<10, nil)
	_, err := FetchMetadata(ctx, FetchConfig{InfoHash: tor.InfoHash, Peers: []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:1")},
		StallAfter: time.Second})
	if !errors.Is(err, ErrNoMetadata) {
		t.Fatalf("got %v, want ErrNoMetadata", err)
	}
}

// TestFetchMetadataLiarBanned: a peer serving a different info dictionary
// under the same info-hash is banned; the honest one completes it.
func TestFetchMetadataLiarBanned(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tor, content := makeTorrent(t, 64<<10, 16<<10, nil)
	fake := *tor
	fake.InfoRaw = bytes.Replace(append([]byte(nil), tor.InfoRaw...), []byte("f0"), []byte("g0"), 1)
	liar := startNode(t, ctx, Config{Torrent: &fake, Store: newMemStore(tor, content), Have: allHave(tor.NumPieces()), Seed: true})
	info, err := FetchMetadata(ctx, FetchConfig{InfoHash: tor.InfoHash, Peers: []netip.AddrPort{liar.addr}, StallAfter: 2 * time.Second})
	if err == nil {
		t.Fatalf("accepted metadata that does not hash to the info-hash (%d bytes)", len(info))
	}
	honest := startNode(t, ctx, Config{Torrent: tor, Store: newMemStore(tor, content), Have: allHave(tor.NumPieces()), Seed: true})
	info, err = FetchMetadata(ctx, FetchConfig{InfoHash: tor.InfoHash, Peers: []netip.AddrPort{liar.addr, honest.addr}, StallAfter: 10 * time.Second})
	if err != nil || !bytes.Equal(info, tor.InfoRaw) {
		t.Fatalf("with an honest peer too: %v", err)
	}
}
