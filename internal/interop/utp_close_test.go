package interop

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestUTPCloseLibtorrentSeesIt: libtorrent, as it ships, takes one
// connection per address to a torrent and turns a second one away as a
// duplicate until the first has ended. tt runs `get` against a uTP-only
// libtorrent seeder several times in a row, each run starting as soon as
// the one before exited. Each run's close must be one libtorrent
// completes at once: the next run's first dial then succeeds. A close it
// does not see keeps the old connection until libtorrent times it out,
// seconds later, and the next run's dials fail meanwhile with "reading
// handshake: unexpected EOF".
func TestUTPCloseLibtorrentSeesIt(t *testing.T) {
	NeedLibtorrent(t)
	s := newSwarm(t, layouts[1], "16KiB")
	port := s.ltSeed(t, "--transport", "utp", "--one-connection-per-ip")
	peer := fmt.Sprintf("127.0.0.1:%d", port)
	const runs = 4 // three runs that follow another one's close
	for i := range runs {
		run := *s
		run.dir = t.TempDir() // a fresh download directory
		start := time.Now()
		// tt get exits once complete: no seeding, so it closes at once.
		lines := run.ttGet(t, "--no-trackers", "--no-pex", "--transport", "utp", "--peer", peer)
		took := time.Since(start)
		assertTransport(t, lines, "utp")
		if i == 0 {
			continue
		}
		if err := firstDialConnected(lines); err != nil {
			t.Fatalf("run %d, right after run %d closed its connection (%s): %v\n%s",
				i+1, i, took.Round(time.Millisecond), err, strings.Join(lines, "\n"))
		}
		t.Logf("run %d: %s", i+1, took.Round(time.Millisecond))
	}
}

// firstDialConnected checks that a run connected on its first dial: a
// peer connected, and no dial failed, before that or after.
func firstDialConnected(lines []string) error {
	connected := false
	for _, l := range lines {
		switch JSONField(l, "type") {
		case "dial_failed":
			if !connected {
				return fmt.Errorf("a dial failed before any peer connected: %s", l)
			}
			return fmt.Errorf("a dial failed: %s", l)
		case "peer_connected":
			connected = true
		}
	}
	if !connected {
		return fmt.Errorf("no peer connected")
	}
	return nil
}
