package interop

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// manyFileSwarm is a swarm whose torrent has an info dictionary of
// several metadata pieces (1,500 files).
func manyFileSwarm(t *testing.T) *swarm {
	t.Helper()
	s := newSwarm(t, layouts[0], "16KiB")
	for i := 0; i < 1500; i++ {
		p := filepath.Join(s.content, fmt.Sprintf("many/d%02d/a-file-with-a-longish-name-%05d.txt", i%23, i))
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(strings.Repeat(fmt.Sprint(i), 1+i%37)), 0o644)
	}
	s.create(t, "16KiB")
	return s
}

func (s *swarm) magnet() string { return "magnet:?xt=urn:btih:" + s.infoHash + "&dn=content" }

// TestMagnetFromLibtorrent: tt gets a magnet link from a libtorrent seeder
// it is told about: metadata first (BEP 9), then the data.
func TestMagnetFromLibtorrent(t *testing.T) {
	NeedLibtorrent(t)
	s := manyFileSwarm(t)
	port := s.ltSeed(t)
	out := filepath.Join(s.dir, "got")
	p := Start(t, s.dir, s.tt, "get", "--json", "--no-trackers", "--bind", "127.0.0.1", "--peer", fmt.Sprintf("127.0.0.1:%d", port),
		"--stall-timeout", "60s", "-o", out, s.magnet())
	if code := p.WaitExit(t, 150*time.Second); code != 0 {
		t.Fatalf("tt get MAGNET exited %d: %s\n%s", code, p.Stderr(), strings.Join(p.Lines(), "\n"))
	}
	lines := p.Lines()
	if len(eventsOf(lines, "metadata_piece")) < 2 || len(eventsOf(lines, "metadata")) != 1 || len(eventsOf(lines, "done")) != 1 {
		t.Fatalf("events:\n%s", strings.Join(lines[:min(len(lines), 30)], "\n"))
	}
	s.check(t, filepath.Join(out, "content"), false)
	a, _ := os.ReadFile(filepath.Join(s.content, "many/d04/a-file-with-a-longish-name-01200.txt"))
	b, _ := os.ReadFile(filepath.Join(out, "content", "many/d04/a-file-with-a-longish-name-01200.txt"))
	if len(a) == 0 || string(a) != string(b) {
		t.Fatal("a small file of the many differs")
	}
}

// TestMagnetToLibtorrent: libtorrent, given only the magnet link and tt's
// address, fetches the metadata from tt and downloads.
func TestMagnetToLibtorrent(t *testing.T) {
	NeedLibtorrent(t)
	s := manyFileSwarm(t)
	_, port := s.ttSeed(t, "--no-trackers")
	got := filepath.Join(s.dir, "lt-got")
	lt := Start(t, s.dir, LibtorrentPython, Script("lt_peer.py"), "magnet", s.magnet(), got, "--timeout", "120",
		"--peer", fmt.Sprintf("127.0.0.1:%d", port))
	lt.WaitLine(t, 150*time.Second, func(l string) bool { return JSONField(l, "event") == "finished" })
	s.check(t, filepath.Join(got, "content"), false)
}

// TestMagnetThroughTracker: the magnet's tr= tracker (opentracker) is how
// tt finds the seeder.
func TestMagnetThroughTracker(t *testing.T) {
	NeedLibtorrent(t)
	s := newSwarm(t, layouts[1], "16KiB")
	s.withTracker(t, "16KiB", "http")
	s.ltSeed(t)
	WaitSeeders(t, s.tracker, s.ih, 1, 30*time.Second)
	out := filepath.Join(s.dir, "got")
	p := Start(t, s.dir, s.tt, "get", "--json", "--bind", "127.0.0.1", "--stall-timeout", "60s", "-o", out,
		s.magnet()+"&tr="+s.tracker)
	if code := p.WaitExit(t, 150*time.Second); code != 0 {
		t.Fatalf("exited %d: %s\n%s", code, p.Stderr(), strings.Join(p.Lines(), "\n"))
	}
	s.check(t, filepath.Join(out, "content"), false)
}
