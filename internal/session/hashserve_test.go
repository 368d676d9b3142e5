package session

import (
	"context"
	"crypto/sha1"
	"errors"
	mrand "math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"tt/internal/merkle"
	"tt/metainfo"
	"tt/peerwire"
)

// makeHybrid builds a one-file hybrid torrent of size random bytes.
func makeHybrid(t *testing.T, size, pieceLen int64) (*metainfo.Torrent, []byte) {
	t.Helper()
	rng := mrand.New(mrand.NewPCG(uint64(size), 52))
	content := make([]byte, size)
	for i := range content {
		content[i] = byte(rng.Uint32())
	}
	p := filepath.Join(t.TempDir(), "v2file")
	if err := os.WriteFile(p, content, 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := metainfo.Scan(p, metainfo.ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var leaves []merkle.Hash
	for off := int64(0); off < size; off += merkle.BlockSize {
		leaves = append(leaves, merkle.HashBlock(content[off:min(off+merkle.BlockSize, size)]))
	}
	root := merkle.FileRoot(leaves)
	var layer []byte
	for _, h := range merkle.PieceLayer(leaves, int(pieceLen/merkle.BlockSize)) {
		layer = append(layer, h[:]...)
	}
	var pieces []byte
	for off := int64(0); off < size; off += pieceLen {
		h := sha1.Sum(content[off:min(off+pieceLen, size)])
		pieces = append(pieces, h[:]...)
	}
	_, tor, err := metainfo.BuildV2(c, []metainfo.FileHashV2{{Root: root, Layer: layer}}, pieces, metainfo.BuildOptions{PieceLength: pieceLen})
	if err != nil {
		t.Fatal(err)
	}
	if len(tor.Info.V2Files) != 1 || tor.Info.V2Files[0].LayerStatus != metainfo.LayerOK {
		t.Fatalf("v2 files %+v", tor.Info.V2Files)
	}
	return tor, content
}

// hybridSeed starts a node seeding a one-file hybrid torrent.
func hybridSeed(t *testing.T, ctx context.Context, size, pieceLen int64) (*node, *metainfo.Torrent) {
	t.Helper()
	tor, content := makeHybrid(t, size, pieceLen)
	return startNode(t, ctx, Config{Torrent: tor, Store: newMemStore(tor, content), Have: allHave(tor.NumPieces()), Seed: true}), tor
}

// hashPeer is a fake peer that sends hash requests and reads the answers.
type hashPeer struct {
	t  *testing.T
	nc net.Conn
	r  *peerwire.Reader
}

func newHashPeer(t *testing.T, n *node, tor *metainfo.Torrent) *hashPeer {
	nc := hostileConn(t, n, tor)
	t.Cleanup(func() { nc.Close() })
	r := peerwire.NewReader(nc)
	r.MaxLength = peerwire.MaxHashesLength
	return &hashPeer{t: t, nc: nc, r: r}
}

func (hp *hashPeer) send(k peerwire.Kind, payload []byte) {
	hp.t.Helper()
	hp.nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := hp.nc.Write(peerwire.AppendMessage(nil, peerwire.Message{Kind: k, Payload: payload})); err != nil {
		hp.t.Fatal(err)
	}
}

// ask sends r and returns the answer: the message kind and its payload.
func (hp *hashPeer) ask(r peerwire.HashRange) (peerwire.Kind, []byte) {
	hp.t.Helper()
	hp.send(peerwire.HashRequest, peerwire.AppendHashRequest(nil, r))
	hp.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		m, err := hp.r.ReadMessage()
		if err != nil {
			hp.t.Fatalf("%v: reading the answer: %v", r, err)
		}
		if m.Kind == peerwire.Hashes || m.Kind == peerwire.HashReject {
			return m.Kind, append([]byte(nil), m.Payload...)
		}
	}
}

func TestHashRequestsServed(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const pieceLen = 32 << 10
	// 37 pieces, 74 blocks: a tree of 128 leaves, root at height 7; the
	// piece layer (height 1) is 64 wide, 37 of them real.
	seed, tor := hybridSeed(t, ctx, 37*pieceLen-5000, pieceLen)
	f := tor.Info.V2Files[0]
	numBlocks := merkle.NumBlocks(f.Length)
	hp := newHashPeer(t, seed, tor)

	valid := []peerwire.HashRange{
		{Base: 1, Index: 0, Length: 32, ProofLayers: 5},  // one uncle: the other half
		{Base: 1, Index: 32, Length: 32, ProofLayers: 5}, // 5 real pieces, then padding
		{Base: 1, Index: 4, Length: 4, ProofLayers: 5},
		{Base: 3, Index: 0, Length: 2, ProofLayers: 3},
		{Base: 6, Index: 0, Length: 2, ProofLayers: 0}, // the root's children
	}
	for _, r := range valid {
		r.Root = f.PiecesRoot
		kind, payload := hp.ask(r)
		if kind != peerwire.Hashes {
			t.Fatalf("%v: answered with %s", r, kind)
		}
		m, err := peerwire.ParseHashes(payload)
		if err != nil || m.HashRange != r {
			t.Fatalf("%v: hashes %v for %v", r, err, m.HashRange)
		}
		hashes := make([]merkle.Hash, m.NumHashes())
		for i := range hashes {
			hashes[i] = m.Hash(i)
		}
		if err := merkle.VerifyProof(f.PiecesRoot, numBlocks, int(r.Base), int(r.Index), int(r.Length), hashes); err != nil {
			t.Fatalf("%v: proof does not verify: %v", r, err)
		}
		if r.Base == 1 {
			for i := range r.Length {
				want, ok := f.PieceHash(int64(r.Index+i), pieceLen)
				if !ok {
					want = merkle.PadHash(1)
				}
				if hashes[i] != want {
					t.Fatalf("%v: hash %d is %x, want %x", r, i, hashes[i], want)
				}
			}
		}
	}

	invalid := map[string]peerwire.HashRange{
		"unknown root":         {Root: [32]byte{1}, Base: 1, Length: 2},
		"leaf layer":           {Root: f.PiecesRoot, Base: 0, Length: 2},
		"past the layer":       {Root: f.PiecesRoot, Base: 1, Index: 64, Length: 2},
		"only padding":         {Root: f.PiecesRoot, Base: 1, Index: 48, Length: 16},
		"proof past the root":  {Root: f.PiecesRoot, Base: 1, Length: 2, ProofLayers: 6},
		"root layer":           {Root: f.PiecesRoot, Base: 7, Length: 2},
		"length 3":             {Root: f.PiecesRoot, Base: 1, Length: 3},
		"length 1":             {Root: f.PiecesRoot, Base: 1, Length: 1},
		"misaligned index":     {Root: f.PiecesRoot, Base: 1, Index: 2, Length: 4},
		"longer than we serve": {Root: f.PiecesRoot, Base: 1, Length: 1024},
		"absurd":               {Root: f.PiecesRoot, Base: 0xffffffff, Index: 0xffffffff, Length: 0xffffffff, ProofLayers: 0xffffffff},
	}
	for name, r := range invalid {
		kind, payload := hp.ask(r)
		got, _ := peerwire.ParseHashRequest(payload)
		if kind != peerwire.HashReject || got != r {
			t.Fatalf("%s: answered %s %v", name, kind, got)
		}
	}

	// The connection is still good: a valid request is still answered.
	if kind, _ := hp.ask(peerwire.HashRange{Root: f.PiecesRoot, Base: 1, Length: 2}); kind != peerwire.Hashes {
		t.Fatalf("after rejects: %s", kind)
	}
}

// TestHashRequestV1Rejected: a torrent without v2 data rejects every hash
// request.
func TestHashRequestV1Rejected(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	tor, content := makeTorrent(t, 1<<20, 32<<10, nil)
	seed := startNode(t, ctx, Config{Torrent: tor, Store: newMemStore(tor, content), Have: allHave(tor.NumPieces()), Seed: true})
	hp := newHashPeer(t, seed, tor)
	r := peerwire.HashRange{Root: [32]byte{9}, Base: 1, Length: 2}
	if kind, _ := hp.ask(r); kind != peerwire.HashReject {
		t.Fatalf("v1 torrent answered %s", kind)
	}
}

// TestHashRequestFloodDropped: a peer that sends hash requests far faster
// than the request rate is dropped, and the seeder goes on serving others.
func TestHashRequestFloodDropped(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	seed, tor := hybridSeed(t, ctx, 8*(32<<10), 32<<10)
	hp := newHashPeer(t, seed, tor)
	req := peerwire.AppendMessage(nil, peerwire.Message{Kind: peerwire.HashRequest,
		Payload: peerwire.AppendHashRequest(nil, peerwire.HashRange{Root: [32]byte{7}, Base: 1, Length: 2})})
	var flood []byte
	for range 4 * hashRequestBurst {
		flood = append(flood, req...)
	}
	hp.nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
	hp.nc.Write(flood) // fails when the seeder closes first
	expectDropped(t, hp.nc, "hash request flood")

	other := newHashPeer(t, seed, tor)
	r := peerwire.HashRange{Root: tor.Info.V2Files[0].PiecesRoot, Base: 1, Length: 2, ProofLayers: 1}
	if kind, _ := other.ask(r); kind != peerwire.Hashes {
		t.Fatalf("after the flood: %s", kind)
	}
}

// TestUnaskedHashesDropped: hashes we never asked for end the connection.
func TestUnaskedHashesDropped(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	seed, tor := hybridSeed(t, ctx, 8*(32<<10), 32<<10)
	hp := newHashPeer(t, seed, tor)
	r := peerwire.HashRange{Root: tor.Info.V2Files[0].PiecesRoot, Base: 1, Length: 2}
	hp.send(peerwire.Hashes, peerwire.AppendHashes(nil, peerwire.HashesMsg{HashRange: r, Hashes: make([]byte, 2*32)}))
	expectDropped(t, hp.nc, "unasked hashes")
}

// TestHashQuota: past its quota of hashes a peer gets rejects; past its
// quota of requests it is dropped.
func TestHashQuota(t *testing.T) {
	tor, _ := makeHybrid(t, 513*(16<<10), 16<<10)
	nc, other := net.Pipe()
	defer nc.Close()
	defer other.Close()
	s := &Session{t: tor}
	p := &peerState{c: newConn(1, nc, peerwire.Handshake{}), hashQuota: &hashQuota{
		requests: rate.NewLimiter(0, 3),   // three requests, no refill
		hashes:   rate.NewLimiter(0, 600), // one run of 512
	}}
	r := peerwire.HashRange{Root: tor.Info.V2Files[0].PiecesRoot, Base: 0, Length: 512}
	for i, want := range []peerwire.Kind{peerwire.Hashes, peerwire.HashReject, peerwire.HashReject} {
		if err := s.handleHashRequest(p, peerwire.AppendHashRequest(nil, r)); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		if got := p.c.queue[i].msg.Kind; got != want {
			t.Fatalf("request %d answered %s, want %s", i, got, want)
		}
	}
	if err := s.handleHashRequest(p, peerwire.AppendHashRequest(nil, r)); !errors.Is(err, errHashFlood) {
		t.Fatalf("fourth request: %v, want %v", err, errHashFlood)
	}
	if len(p.c.queue) != 3 {
		t.Fatalf("%d answers queued, want 3", len(p.c.queue))
	}
}
