package session

import (
	"bytes"
	"context"
	"crypto/sha1"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"tt/internal/tracker"
	"tt/metainfo"
)

// memStore keeps a torrent's content in memory.
type memStore struct {
	mu   sync.Mutex
	t    *metainfo.Torrent
	data []byte
}

func newMemStore(t *metainfo.Torrent, content []byte) *memStore {
	d := make([]byte, t.Info.TotalLength)
	copy(d, content)
	return &memStore{t: t, data: d}
}

func (m *memStore) off(piece int, begin int64) int64 {
	return int64(piece)*m.t.Info.PieceLength + begin
}

func (m *memStore) WriteBlock(piece int, begin int64, data []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	copy(m.data[m.off(piece, begin):], data)
	return nil
}

func (m *memStore) ReadBlock(piece int, begin int64, buf []byte) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return copy(buf, m.data[m.off(piece, begin):]), nil
}

func (m *memStore) HashPiece(piece int) ([20]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	o := m.off(piece, 0)
	return sha1.Sum(m.data[o : o+m.t.PieceLen(piece)]), nil
}

func (m *memStore) bytes() []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	return bytes.Clone(m.data)
}

// makeTorrent builds a multi-file torrent of random content with awkward
// sizes (an empty file, files straddling pieces, a short last piece).
func makeTorrent(t testing.TB, size int64, pieceLen int64, trackers [][]string) (*metainfo.Torrent, []byte) {
	t.Helper()
	return makeTorrentOpts(t, size, metainfo.BuildOptions{PieceLength: pieceLen, Trackers: trackers})
}

// makeTorrentOpts is makeTorrent with every build option.
func makeTorrentOpts(t testing.TB, size int64, opt metainfo.BuildOptions) (*metainfo.Torrent, []byte) {
	t.Helper()
	pieceLen := opt.PieceLength
	rng := mrand.New(mrand.NewPCG(uint64(size), 7))
	content := make([]byte, size)
	for i := range content {
		content[i] = byte(rng.Uint32())
	}
	dir := filepath.Join(t.TempDir(), "swarm")
	sizes := []int64{size / 3, 0, 1, size - size/3 - 1}
	for i, n := range sizes {
		off := int64(0)
		for _, m := range sizes[:i] {
			off += m
		}
		p := filepath.Join(dir, fmt.Sprintf("f%d", i))
		os.MkdirAll(dir, 0o755)
		if err := os.WriteFile(p, content[off:off+n], 0o644); err != nil {
			t.Fatal(err)
		}
	}
	c, err := metainfo.Scan(dir, metainfo.ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var pieces []byte
	for off := int64(0); off < size; off += pieceLen {
		h := sha1.Sum(content[off:min(off+pieceLen, size)])
		pieces = append(pieces, h[:]...)
	}
	_, tor, err := metainfo.Build(c, pieces, opt)
	if err != nil {
		t.Fatal(err)
	}
	return tor, content
}

// node is a session with its own listener on loopback.
type node struct {
	s     *Session
	store *memStore
	addr  netip.AddrPort
	err   error
	done  chan struct{}
	mu    sync.Mutex
	evs   []Event
}

func startNode(t *testing.T, ctx context.Context, cfg Config) *node {
	t.Helper()
	return startNodeAt(t, ctx, "127.0.0.1", cfg)
}

// startNodeAt is startNode listening on ip, another address of the
// loopback network (127.0.0.2, …), so that a ban of one node's IP leaves
// the others alone.
func startNodeAt(t *testing.T, ctx context.Context, ip string, cfg Config) *node {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatal(err)
	}
	store, _ := cfg.Store.(*memStore)
	n := &node{done: make(chan struct{}), store: store}
	n.addr = netip.MustParseAddrPort(ln.Addr().String())
	cfg.Port = n.addr.Port()
	cfg.Events = func(e Event) { n.mu.Lock(); n.evs = append(n.evs, e); n.mu.Unlock() }
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	n.s = s
	sctx, cancel := context.WithCancel(ctx)
	go ServeWith(sctx, ln, One{S: s}, ServeOptions{HandshakeTimeout: cfg.HandshakeTimeout})
	go func() {
		n.err = s.Run(sctx)
		cancel()
		close(n.done)
	}()
	t.Cleanup(func() { cancel(); <-n.done })
	return n
}

func (n *node) wait(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case <-n.done:
	case <-time.After(d):
		n.mu.Lock()
		for _, e := range n.evs[:min(len(n.evs), 20)] {
			t.Logf("%+v", e)
		}
		n.mu.Unlock()
		st := <-n.s.Stats()
		t.Logf("stats: have %d/%d down %d peers %+v", st.Have, st.Pieces, st.Downloaded, st.Peers)
		t.Fatalf("node %s did not finish in %s", n.addr, d)
	}
}

func (n *node) events(typ EventType) []Event {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []Event
	for _, e := range n.evs {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

func allHave(n int) []bool {
	h := make([]bool, n)
	for i := range h {
		h[i] = true
	}
	return h
}

func TestSeederToLeecher(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	tor, content := makeTorrent(t, 3<<20+12345, 32<<10, nil)
	seed := startNode(t, ctx, Config{Torrent: tor, Store: newMemStore(tor, content), Have: allHave(tor.NumPieces()), Seed: true})
	leech := startNode(t, ctx, Config{Torrent: tor, Store: newMemStore(tor, nil), Peers: []netip.AddrPort{seed.addr}})
	leech.wait(t, 8*time.Second)
	if leech.err != nil {
		t.Fatal(leech.err)
	}
	if !bytes.Equal(leech.store.bytes(), content) {
		t.Fatal("downloaded content differs")
	}
	if n := len(leech.events("piece_verified")); n != tor.NumPieces() {
		t.Fatalf("%d pieces verified, want %d", n, tor.NumPieces())
	}
	if len(leech.events("done")) != 1 {
		t.Fatal("no done event")
	}
}

// TestSwarmWithTracker: one seeder with a capped upload and six leechers
// that find each other through the embedded tracker; the leechers must
// trade among themselves (tit-for-tat and rarest-first at work).
func TestSwarmWithTracker(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	srv, err := tracker.NewServer(tracker.ServerConfig{HTTPAddr: "127.0.0.1:0", Interval: 2 * time.Second, MinInterval: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	tor, content := makeTorrent(t, 4<<20, 16<<10, [][]string{{srv.HTTPAnnounceURL()}})
	tc := &tracker.Client{}
	startNode(t, ctx, Config{Torrent: tor, Store: newMemStore(tor, content), Have: allHave(tor.NumPieces()), Seed: true, UploadRate: 1 << 20, Tracker: tc})
	var leechers []*node
	for range 6 {
		leechers = append(leechers, startNode(t, ctx, Config{Torrent: tor, Store: newMemStore(tor, nil), Seed: true, Tracker: tc}))
	}
	deadline := time.After(100 * time.Second)
	for _, l := range leechers {
		for len(l.events("complete")) == 0 {
			select {
			case <-deadline:
				t.Fatalf("leecher %s incomplete", l.addr)
			case <-time.After(50 * time.Millisecond):
			}
		}
		if !bytes.Equal(l.store.bytes(), content) {
			t.Fatalf("leecher %s content differs", l.addr)
		}
	}
	var uploadedByLeechers int64
	for _, l := range leechers {
		st := <-l.s.Stats()
		uploadedByLeechers += st.Uploaded
	}
	// The seeder can send at most ~1 MiB/s; 6 × 4 MiB arrived mostly from the leechers.
	if uploadedByLeechers < int64(len(content)) {
		t.Fatalf("leechers uploaded only %d bytes to each other", uploadedByLeechers)
	}
	t.Logf("leechers uploaded %d bytes to each other (content %d bytes)", uploadedByLeechers, len(content))
}

func TestStallNoPeers(t *testing.T) {
	tor, _ := makeTorrent(t, 1<<20, 16<<10, nil)
	s, err := New(Config{Torrent: tor, Store: newMemStore(tor, nil), StallAfter: 300 * time.Millisecond,
		Peers: []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:1")}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Run(ctx); !errors.Is(err, ErrNoPeers) {
		t.Fatalf("got %v, want ErrNoPeers", err)
	}
}
