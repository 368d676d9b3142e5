package session

import (
	"bytes"
	"context"
	"crypto/sha1"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"tt/metainfo"
)

// manyFiles builds a torrent whose info dictionary spans several metadata
// pieces.
func manyFiles(t *testing.T, n int) *metainfo.Torrent {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "many")
	var content []byte
	for i := 0; i < n; i++ {
		p := filepath.Join(dir, fmt.Sprintf("dir%02d", i%17), fmt.Sprintf("a-rather-long-file-name-%05d.dat", i))
		os.MkdirAll(filepath.Dir(p), 0o755)
		b := []byte(fmt.Sprintf("file %d\n", i))
		os.WriteFile(p, b, 0o644)
	}
	c, err := metainfo.Scan(dir, metainfo.ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range c.Files {
		b, _ := os.ReadFile(f.OSPath)
		content = append(content, b...)
	}
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
	tor := manyFiles(t, 1500)
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
