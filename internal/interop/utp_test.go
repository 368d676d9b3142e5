package interop

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// uTP only, TCP off on both sides (libtorrent: enable_*_tcp=False; tt:
// --transport utp, and libtorrent never dials tt's TCP port).

// TestUTPLibtorrentSeedsTTGets: tt downloads a multi-file torrent from
// libtorrent over uTP.
func TestUTPLibtorrentSeedsTTGets(t *testing.T) {
	NeedLibtorrent(t)
	s := newSwarm(t, layouts[0], "16KiB")
	port := s.ltSeed(t, "--transport", "utp")
	lines := s.ttGet(t, "--no-trackers", "--transport", "utp", "--peer", fmt.Sprintf("127.0.0.1:%d", port))
	assertTransport(t, lines, "utp")
}

// TestUTPTTSeedsLibtorrentGets: libtorrent downloads from tt over uTP.
func TestUTPTTSeedsLibtorrentGets(t *testing.T) {
	NeedLibtorrent(t)
	s := newSwarm(t, layouts[0], "16KiB")
	p, port := s.ttSeed(t, "--no-trackers", "--transport", "utp")
	s.ltGet(t, "--transport", "utp", "--peer", fmt.Sprintf("127.0.0.1:%d", port))
	assertTransport(t, p.Lines(), "utp")
}

// assertTransport checks that every peer connection used transport.
func assertTransport(t *testing.T, lines []string, transport string) {
	t.Helper()
	conns := eventsOf(lines, "peer_connected")
	if len(conns) == 0 {
		t.Fatalf("no peer_connected event:\n%s", strings.Join(lines, "\n"))
	}
	for _, l := range conns {
		if got := JSONField(l, "transport"); got != transport {
			t.Fatalf("a connection over %q, want %q: %s", got, transport, l)
		}
	}
}

// TestUTPTransmissionSeedsTTGets: tt, dialling over uTP only, downloads a
// multi-file torrent from Transmission (its libutp).
func TestUTPTransmissionSeedsTTGets(t *testing.T) {
	tr := Need(t, "transmission-cli")
	s := newSwarm(t, layouts[0], "32KiB")
	port := FreePort(t)
	Start(t, s.dir, tr, "-g", transmissionConfig(t, s.dir, true), "-M", "-p", strconv.Itoa(port), "-w", filepath.Dir(s.content), s.torrent)
	WaitListening(t, port, 30*time.Second)
	lines := s.ttGet(t, "--no-trackers", "--transport", "utp", "--peer", fmt.Sprintf("127.0.0.1:%d", port))
	assertTransport(t, lines, "utp")
}

// TestUTPEncryptedBothWays: RC4-only encryption over uTP, libtorrent
// seeding to tt and tt seeding to libtorrent.
func TestUTPEncryptedBothWays(t *testing.T) {
	NeedLibtorrent(t)
	s := newSwarm(t, layouts[0], "16KiB")
	port := s.ltSeed(t, "--transport", "utp", "--encryption", "require")
	lines := s.ttGet(t, "--no-trackers", "--transport", "utp", "--encryption", "require", "--peer", fmt.Sprintf("127.0.0.1:%d", port))
	assertTransport(t, lines, "utp")

	s2 := newSwarm(t, layouts[0], "16KiB")
	p, port2 := s2.ttSeed(t, "--no-trackers", "--encryption", "require")
	s2.ltGet(t, "--transport", "utp", "--encryption", "require", "--peer", fmt.Sprintf("127.0.0.1:%d", port2))
	assertTransport(t, p.Lines(), "utp")
}
