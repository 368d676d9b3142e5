package session

import (
	"bytes"
	"context"
	"crypto/rand"
	"net"
	"net/netip"
	"testing"
	"time"
)

// TestEncryptionPolicies: every pair of policies that can talk does, with
// the encryption the policies imply; require and disable never meet.
func TestEncryptionPolicies(t *testing.T) {
	for _, c := range []struct {
		seed, leech Encryption
		want        string // the leecher's view of the connection; "" = no connection
	}{
		{EncryptPrefer, EncryptPrefer, encMSEPlain},
		{EncryptPrefer, EncryptRequire, encRC4},
		{EncryptRequire, EncryptPrefer, encRC4},
		{EncryptRequire, EncryptRequire, encRC4},
		{EncryptDisable, EncryptPrefer, encPlain},
		{EncryptPrefer, EncryptDisable, encPlain},
		{EncryptDisable, EncryptRequire, ""},
		{EncryptRequire, EncryptDisable, ""},
	} {
		t.Run(c.seed.String()+"-"+c.leech.String(), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			tor, content := makeTorrent(t, 256<<10, 16<<10, nil)
			seed := startNode(t, ctx, Config{Torrent: tor, Store: newMemStore(tor, content), Have: allHave(tor.NumPieces()), Seed: true, Encryption: c.seed})
			cfg := Config{Torrent: tor, Store: newMemStore(tor, nil), Peers: []netip.AddrPort{seed.addr}, Encryption: c.leech, Seed: true}
			if c.want == "" {
				cfg.StallAfter, cfg.Seed = 2*time.Second, false
			}
			leech := startNode(t, ctx, cfg)
			if c.want == "" {
				leech.wait(t, 10*time.Second)
				if leech.err == nil {
					t.Fatal("policies that cannot meet exchanged data")
				}
				return
			}
			st := waitStats(t, leech, 20*time.Second, "complete", func(st Stats) bool { return st.Complete && len(st.Peers) > 0 })
			if got := st.Peers[0].Encryption; got != c.want {
				t.Fatalf("encryption %q, want %q", got, c.want)
			}
			if !bytes.Equal(leech.store.bytes(), content) {
				t.Fatal("content differs")
			}
		})
	}
}

// TestHostileEncryptedHandshakes: garbage, truncated MSE exchanges and
// oversized pads are dropped; an honest encrypted peer then downloads.
func TestHostileEncryptedHandshakes(t *testing.T) {
	old := handshakeLimit.Swap(int64(time.Second))
	defer handshakeLimit.Store(old)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tor, content := makeTorrent(t, 256<<10, 16<<10, nil)
	seed := startNode(t, ctx, Config{Torrent: tor, Store: newMemStore(tor, content), Have: allHave(tor.NumPieces()), Seed: true})
	garbage := make([]byte, 3000)
	rand.Read(garbage)
	for name, in := range map[string][]byte{
		"garbage":           garbage,
		"short public key":  garbage[:60],
		"key, 600-byte pad": garbage[:96+600],
		"plaintext prefix":  []byte("\x13BitTorrent protocolXXXX"),
	} {
		nc, err := net.Dial("tcp", seed.addr.String())
		if err != nil {
			t.Fatal(err)
		}
		nc.Write(in)
		expectDropped(t, nc, name)
		nc.Close()
	}
	leech := startNode(t, ctx, Config{Torrent: tor, Store: newMemStore(tor, nil), Peers: []netip.AddrPort{seed.addr}, Encryption: EncryptRequire})
	leech.wait(t, 20*time.Second)
	if leech.err != nil || !bytes.Equal(leech.store.bytes(), content) {
		t.Fatalf("honest peer after hostile handshakes: %v", leech.err)
	}
}
