package interop

import (
	"bytes"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tt/metainfo"
	"tt/peerwire"
)

// The liars listen on another loopback address than libtorrent's: tt
// bans by IP address.
const (
	liarIP   = "127.0.0.2"
	honestIP = "127.0.0.1"
)

// liarSwarm is a swarm whose info dictionary spans many metadata pieces
// (4,000 files), so that a fetch from libtorrent alone takes several round
// trips, and the torrent's info dictionary, which the liars distort.
func liarSwarm(t *testing.T) (*swarm, []byte) {
	t.Helper()
	s := newSwarm(t, layouts[0], "16KiB")
	for i := 0; i < 4000; i++ {
		p := filepath.Join(s.content, fmt.Sprintf("many/d%02d/a-file-with-a-longish-name-%05d.txt", i%29, i))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(strings.Repeat(fmt.Sprint(i), 1+i%41)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s.create(t, "16KiB")
	tor, err := metainfo.Load(s.torrent, nil, metainfo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(tor.InfoRaw); n < 8*peerwire.MetadataPieceSize {
		t.Fatalf("info dictionary of %d bytes: want many metadata pieces", n)
	}
	return s, tor.InfoRaw
}

// pieceOf is metadata piece i of a dictionary of size bytes, cut from b
// (or zeros where b is shorter).
func pieceOf(b []byte, size, i int) []byte {
	out := make([]byte, min(peerwire.MetadataPieceSize, size-i*peerwire.MetadataPieceSize))
	if off := i * peerwire.MetadataPieceSize; off < len(b) {
		copy(out, b[off:])
	}
	return out
}

// magnetWithLiar runs `tt get MAGNET` with the liar listed first and a
// rate-limited libtorrent seeder second, checks that every file arrived
// byte for byte, and returns tt's NDJSON lines and libtorrent's address.
// A liar that holds its answers is released once a metadata piece from
// libtorrent has arrived, so that the pieces of one assembly come from
// both.
func magnetWithLiar(t *testing.T, s *swarm, liar *Liar) ([]string, netip.AddrPort) {
	t.Helper()
	// Unlimited, libtorrent can hand over the whole dictionary within
	// milliseconds of its connection, before the liar's, listed first, is
	// up when the machine is busy; at 256 KiB/s the liar is always in time.
	lt := netip.AddrPortFrom(netip.MustParseAddr(honestIP), uint16(s.ltSeed(t, "--upload-limit", "262144")))
	out := filepath.Join(s.dir, "got")
	p := Start(t, s.dir, s.tt, "get", "--no-dht", "--no-lsd", "--no-pex", "--json", "--no-trackers", "--bind", honestIP,
		"--peer", liar.Addr.String(), "--peer", lt.String(), "--stall-timeout", "60s", "--timeout", "120s", "-o", out, s.magnet())
	if liar.held() {
		p.WaitLine(t, 60*time.Second, func(l string) bool {
			return JSONField(l, "type") == "metadata_piece" && strings.HasPrefix(JSONField(l, "peer"), honestIP+":")
		})
		liar.Release()
	}
	if code := p.WaitExit(t, 150*time.Second); code != 0 {
		t.Fatalf("tt get MAGNET exited %d: %s\n%s", code, p.Stderr(), strings.Join(p.Lines(), "\n"))
	}
	lines := p.Lines()
	if len(eventsOf(lines, "metadata")) != 1 || len(eventsOf(lines, "done")) != 1 {
		t.Fatalf("want one metadata and one done event:\n%s", strings.Join(lines, "\n"))
	}
	sameTree(t, s.content, filepath.Join(out, "content"))
	return lines, lt
}

// sameTree checks that got holds exactly the files of want, byte for byte.
func sameTree(t *testing.T, want, got string) {
	t.Helper()
	list := func(root string) []string {
		var rel []string
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				r, _ := filepath.Rel(root, p)
				rel = append(rel, r)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return rel
	}
	w, g := list(want), list(got)
	if len(w) != len(g) {
		t.Fatalf("downloaded %d files, want %d", len(g), len(w))
	}
	SameFiles(t, want, got, w)
}

// peerIPs lists the IP addresses in the peer field of events of type typ.
func peerIPs(t *testing.T, lines []string, typ string) []string {
	t.Helper()
	var out []string
	for _, l := range eventsOf(lines, typ) {
		a, err := netip.ParseAddrPort(JSONField(l, "peer"))
		if err != nil {
			t.Fatalf("%s event without a peer address: %s", typ, l)
		}
		out = append(out, a.Addr().String())
	}
	return out
}

// onlyLiarBanned checks that the liar's address, and no other, was banned.
func onlyLiarBanned(t *testing.T, lines []string) {
	t.Helper()
	banned := peerIPs(t, lines, "peer_banned")
	if len(banned) == 0 {
		t.Fatalf("the liar was not banned:\n%s", strings.Join(eventsOf(lines, "peer_connected"), "\n"))
	}
	t.Logf("bans: %s", strings.Join(eventsOf(lines, "peer_banned"), " "))
	for _, ip := range banned {
		if ip != liarIP {
			t.Fatalf("banned %v, want only the liar %s:\n%s", banned, liarIP, strings.Join(eventsOf(lines, "peer_banned"), "\n"))
		}
	}
}

// connected checks that tt connected to ip.
func connected(t *testing.T, lines []string, ip string) {
	t.Helper()
	for _, got := range peerIPs(t, lines, "peer_connected") {
		if got == ip {
			return
		}
	}
	t.Fatalf("no connection to %s:\n%s", ip, strings.Join(eventsOf(lines, "peer_connected"), "\n"))
}

// TestMagnetWrongSizeLiarBanned: a peer announcing another metadata_size
// than the info dictionary's (and serving garbage of that size), listed
// before a libtorrent seeder, neither poisons the fetch nor gets
// libtorrent banned: tt downloads everything, and bans the liar alone.
// Both directions: a smaller size would also win a tie of votes.
func TestMagnetWrongSizeLiarBanned(t *testing.T) {
	NeedLibtorrent(t)
	for _, tc := range []struct {
		name  string
		delta int
	}{{"larger", 20000}, {"smaller", -20000}} {
		t.Run(tc.name, func(t *testing.T) {
			s, info := liarSwarm(t)
			size := len(info) + tc.delta
			garbage := bytes.Repeat([]byte("liar"), size/4+1)
			liar := StartLiar(t, liarIP, s.ih, size, func(i int) []byte { return pieceOf(garbage, size, i) })
			lines, _ := magnetWithLiar(t, s, liar)
			connected(t, lines, liarIP)
			onlyLiarBanned(t, lines)
			t.Logf("liar announced %d bytes (info: %d), was asked for pieces %v", size, len(info), liar.Asked())
		})
	}
}

// wrongPiecesLiar announces the right metadata_size and sends every piece
// of the info dictionary with one byte changed.
func wrongPiecesLiar(t *testing.T, s *swarm, info []byte) *Liar {
	return StartLiar(t, liarIP, s.ih, len(info), func(i int) []byte {
		b := pieceOf(info, len(info), i)
		b[len(b)/2] ^= 0x20
		return b
	})
}

// TestMagnetWrongPiecesLiarBanned: a peer announcing the right
// metadata_size but sending corrupted pieces of a multi-piece info
// dictionary, listed before a libtorrent seeder, is found out: tt
// downloads everything, and only the liar is banned. "first": the liar
// answers at once, and whole assemblies come from it alone; "mixed": it
// holds its answers until libtorrent has sent a piece, so that assemblies
// mix its pieces with libtorrent's.
func TestMagnetWrongPiecesLiarBanned(t *testing.T) {
	NeedLibtorrent(t)
	for _, hold := range []bool{false, true} {
		t.Run(map[bool]string{false: "first", true: "mixed"}[hold], func(t *testing.T) {
			s, info := liarSwarm(t)
			liar := wrongPiecesLiar(t, s, info)
			if hold {
				liar.Hold()
			}
			lines, _ := magnetWithLiar(t, s, liar)
			if len(liar.Asked()) == 0 {
				t.Fatal("the liar was never asked for a piece: it had no chance to lie")
			}
			onlyLiarBanned(t, lines)
			from := map[string]int{}
			for _, ip := range peerIPs(t, lines, "metadata_piece") {
				from[ip]++
			}
			t.Logf("%d metadata pieces; the liar was asked for %v; pieces taken by IP: %v",
				(len(info)+peerwire.MetadataPieceSize-1)/peerwire.MetadataPieceSize, liar.Asked(), from)
		})
	}
}

// TestMagnetLiarKeepsLibtorrentConnection: with a liar in the swarm, the
// connection to libtorrent that carried metadata also carries the data:
// one connection to it, never closed before the download is done.
func TestMagnetLiarKeepsLibtorrentConnection(t *testing.T) {
	NeedLibtorrent(t)
	s, info := liarSwarm(t)
	liar := wrongPiecesLiar(t, s, info)
	liar.Hold()
	lines, lt := magnetWithLiar(t, s, liar)
	ltConns := 0
	for _, ip := range peerIPs(t, lines, "peer_connected") {
		if ip == honestIP {
			ltConns++
		}
	}
	if ltConns != 1 {
		t.Fatalf("%d connections with libtorrent (%s), want 1:\n%s", ltConns, lt, strings.Join(eventsOf(lines, "peer_connected"), "\n"))
	}
	fromLT := 0
	for _, ip := range peerIPs(t, lines, "metadata_piece") {
		if ip == honestIP {
			fromLT++
		}
	}
	if fromLT == 0 {
		t.Fatal("libtorrent sent no metadata piece")
	}
	for _, l := range lines {
		if JSONField(l, "type") == "done" {
			break
		}
		if JSONField(l, "type") == "peer_disconnected" {
			if a, err := netip.ParseAddrPort(JSONField(l, "peer")); err != nil || a.Addr().String() == honestIP {
				t.Fatalf("libtorrent's connection closed before the download was done: %s", l)
			}
		}
	}
	if len(eventsOf(lines, "piece_verified")) == 0 {
		t.Fatal("no piece verified")
	}
}
