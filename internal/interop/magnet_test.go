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
	p := Start(t, s.dir, s.tt, "get", "--no-dht", "--no-lsd", "--json", "--no-trackers", "--bind", "127.0.0.1", "--peer", fmt.Sprintf("127.0.0.1:%d", port),
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
	p := Start(t, s.dir, s.tt, "get", "--no-dht", "--no-lsd", "--json", "--bind", "127.0.0.1", "--stall-timeout", "60s", "-o", out,
		s.magnet()+"&tr="+s.tracker)
	if code := p.WaitExit(t, 150*time.Second); code != 0 {
		t.Fatalf("exited %d: %s\n%s", code, p.Stderr(), strings.Join(p.Lines(), "\n"))
	}
	s.check(t, filepath.Join(out, "content"), false)
}

// TestMagnetFromTransmission: Transmission serves the metadata of the
// 1,500-file torrent (tt dials it: Transmission takes no peer addresses).
func TestMagnetFromTransmission(t *testing.T) {
	tr := Need(t, "transmission-cli")
	s := manyFileSwarm(t)
	port := FreePort(t)
	Start(t, s.dir, tr, "-g", transmissionConfig(t, s.dir, false), "-M", "-p", fmt.Sprint(port), "-w", filepath.Dir(s.content), s.torrent)
	WaitListening(t, port, 30*time.Second)
	out := filepath.Join(s.dir, "got")
	p := Start(t, s.dir, s.tt, "get", "--no-dht", "--no-lsd", "--json", "--no-trackers", "--bind", "127.0.0.1", "--peer", fmt.Sprintf("127.0.0.1:%d", port),
		"--stall-timeout", "60s", "-o", out, s.magnet())
	if code := p.WaitExit(t, 150*time.Second); code != 0 {
		t.Fatalf("tt get MAGNET exited %d: %s\n%s", code, p.Stderr(), strings.Join(p.Lines(), "\n"))
	}
	if len(eventsOf(p.Lines(), "metadata_piece")) < 2 {
		t.Fatal("metadata did not come in pieces")
	}
	s.check(t, filepath.Join(out, "content"), false)
}

// TestMagnetLargeInfo: an info dictionary over 2 MiB (30,000 files), from
// libtorrent, through `tt magnet`.
func TestMagnetLargeInfo(t *testing.T) {
	NeedLibtorrent(t)
	s := newSwarm(t, layouts[0], "64KiB")
	for d := 0; d < 250; d++ {
		os.MkdirAll(filepath.Join(s.content, fmt.Sprintf("big/directory-%03d", d)), 0o755)
	}
	for i := 0; i < 30000; i++ {
		p := filepath.Join(s.content, fmt.Sprintf("big/directory-%03d/a-file-with-a-name-long-enough-to-fill-the-info-%06d.txt", i%250, i))
		if err := os.WriteFile(p, []byte{byte(i)}, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s.create(t, "64KiB")
	port := s.ltSeed(t)
	out := filepath.Join(s.dir, "fetched.torrent")
	p := Start(t, s.dir, s.tt, "magnet", "--no-dht", "--no-lsd", "--json", "--no-trackers", "--peer", fmt.Sprintf("127.0.0.1:%d", port), "-o", out, s.magnet())
	if code := p.WaitExit(t, 120*time.Second); code != 0 {
		t.Fatalf("tt magnet exited %d: %s", code, p.Stderr())
	}
	info, _ := os.Stat(out)
	if info == nil || info.Size() < 2<<20 {
		t.Fatalf("fetched torrent of %d bytes, want over 2 MiB", info.Size())
	}
	got := run(t, s.tt, "inspect", "--json", "--no-files", out)
	if !strings.Contains(got, `"infohash": "`+s.infoHash+`"`) {
		t.Fatalf("fetched torrent's info-hash:\n%s", got[:min(len(got), 400)])
	}
	t.Logf("fetched %d bytes of torrent", info.Size())
}
