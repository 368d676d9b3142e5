package interop

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// multiFiles are the files of makeContent's tree, empty file first.
var multiFiles = []string{"a/empty", "a/one", "b.bin", "c/d/e.dat", "z"}

// singleSize is the single-file content: nine and a bit 16 KiB blocks, so
// the last piece is short at every piece length used here.
const singleSize = 16384*9 + 77

// layout is one shape of test content.
type layout struct {
	name   string
	single bool
}

var layouts = []layout{{"multi", false}, {"single", true}}

// swarm is the content and torrent of one interop test.
type swarm struct {
	tt, dir  string
	content  string // the file (single) or the top directory (multi)
	torrent  string
	single   bool
	infoHash string
	ih       [20]byte
	tracker  string // opentracker's HTTP announce URL, once started
}

// newSwarm builds tt, writes content with awkward sizes and a torrent of
// it (with the given tt create flags, e.g. -a URL).
func newSwarm(t *testing.T, l layout, pieceLen string, createFlags ...string) *swarm {
	t.Helper()
	s := &swarm{dir: t.TempDir(), single: l.single}
	s.tt = BuildTT(t, s.dir)
	s.content = filepath.Join(s.dir, "seed", "content")
	if l.single {
		os.MkdirAll(filepath.Dir(s.content), 0o755)
		b := make([]byte, singleSize)
		for i := range b {
			b[i] = byte(i*7 + i/251)
		}
		if err := os.WriteFile(s.content, b, 0o644); err != nil {
			t.Fatal(err)
		}
	} else {
		makeContent(t, s.content)
	}
	s.torrent = filepath.Join(s.dir, "content.torrent")
	s.create(t, pieceLen, createFlags...)
	return s
}

// create (re)writes the torrent; the info-hash does not depend on the
// trackers, so a torrent can be rewritten with a tracker's URL.
func (s *swarm) create(t *testing.T, pieceLen string, flags ...string) {
	t.Helper()
	args := append([]string{"create", "-q", "--force", "-l", pieceLen, "-o", s.torrent}, flags...)
	run(t, s.tt, append(args, s.content)...)
	out := run(t, s.tt, "inspect", "--json", "--no-files", s.torrent)
	var r struct{ Infohash string }
	if err := json.Unmarshal([]byte(out), &r); err != nil || len(r.Infohash) != 40 {
		t.Fatalf("inspect: %v %q", err, out)
	}
	s.infoHash = r.Infohash
	hex.Decode(s.ih[:], []byte(r.Infohash))
}

// withTracker starts opentracker for this torrent and rewrites the torrent
// to announce to it (proto "http" or "udp").
func (s *swarm) withTracker(t *testing.T, pieceLen, proto string) {
	t.Helper()
	httpURL, udpURL := StartOpentracker(t, s.ih)
	s.tracker = httpURL
	url := httpURL
	if proto == "udp" {
		url = udpURL
	}
	s.create(t, pieceLen, "-a", url)
}

// check compares a downloaded copy (the file, or the top directory) with
// the content. skipEmpty leaves out the empty file, which Transmission 3.00
// never creates.
func (s *swarm) check(t *testing.T, got string, skipEmpty bool) {
	t.Helper()
	if s.single {
		SameFiles(t, filepath.Dir(s.content), filepath.Dir(got), []string{filepath.Base(s.content)})
		return
	}
	files := multiFiles
	if skipEmpty {
		files = files[1:]
	}
	SameFiles(t, s.content, got, files)
}

// ttListenPort reads the port tt announces in its "listening" NDJSON event.
func ttListenPort(t *testing.T, p *Proc) int {
	t.Helper()
	line := p.WaitLine(t, 60*time.Second, func(l string) bool { return JSONField(l, "type") == "listening" })
	port, err := strconv.Atoi(JSONField(line, "port"))
	if err != nil || port == 0 {
		t.Fatalf("no port in %q", line)
	}
	return port
}

// ttSeed starts tt seeding the content; extra are more flags.
func (s *swarm) ttSeed(t *testing.T, extra ...string) (*Proc, int) {
	t.Helper()
	args := append([]string{"seed", "--no-dht", "--no-lsd", "--json", "--bind", "127.0.0.1"}, extra...)
	p := Start(t, s.dir, s.tt, append(args, s.torrent, s.content)...)
	return p, ttListenPort(t, p)
}

// ttGet runs tt get with the given flags (peers, trackers) to completion
// and checks the result byte for byte. It returns tt's NDJSON lines.
func (s *swarm) ttGet(t *testing.T, extra ...string) []string {
	t.Helper()
	out := filepath.Join(s.dir, "got")
	args := append([]string{"get", "--no-dht", "--no-lsd", "--json", "--bind", "127.0.0.1", "--stall-timeout", "60s", "--timeout", "120s", "-o", out}, extra...)
	p := Start(t, s.dir, s.tt, append(args, s.torrent)...)
	if code := p.WaitExit(t, 150*time.Second); code != 0 {
		t.Fatalf("tt get exited %d\nstderr: %s\nstdout: %s", code, p.Stderr(), strings.Join(p.Lines(), "\n"))
	}
	s.check(t, filepath.Join(out, "content"), false)
	lines := p.Lines()
	if len(eventsOf(lines, "done")) != 1 {
		t.Fatalf("no done event in tt's NDJSON:\n%s", strings.Join(lines, "\n"))
	}
	if _, err := os.Stat(filepath.Join(out, ".tt-resume-"+s.infoHash)); !os.IsNotExist(err) {
		t.Fatalf("resume file left after a complete download: %v", err)
	}
	return lines
}

// eventsOf picks the NDJSON lines of one event type.
func eventsOf(lines []string, typ string) []string {
	var out []string
	for _, l := range lines {
		if JSONField(l, "type") == typ {
			out = append(out, l)
		}
	}
	return out
}

// ltSeed starts a libtorrent seeder and returns its port.
func (s *swarm) ltSeed(t *testing.T, extra ...string) int {
	t.Helper()
	lt := Start(t, s.dir, LibtorrentPython, append([]string{Script("lt_peer.py"), "seed", s.torrent, filepath.Dir(s.content)}, extra...)...)
	port, _ := strconv.Atoi(JSONField(lt.WaitLine(t, 30*time.Second, func(l string) bool { return JSONField(l, "event") == "listening" }), "port"))
	return port
}

// ltGet runs a libtorrent leecher to completion and checks what it got.
func (s *swarm) ltGet(t *testing.T, extra ...string) {
	t.Helper()
	got := filepath.Join(s.dir, "lt-got")
	lt := Start(t, s.dir, LibtorrentPython, append([]string{Script("lt_peer.py"), "get", s.torrent, got, "--timeout", "120"}, extra...)...)
	lt.WaitLine(t, 150*time.Second, func(l string) bool { return JSONField(l, "event") == "finished" })
	s.check(t, filepath.Join(got, "content"), false)
}

func TestLibtorrentSeedsTTGets(t *testing.T) {
	NeedLibtorrent(t)
	for _, l := range layouts {
		t.Run(l.name, func(t *testing.T) {
			s := newSwarm(t, l, "32KiB")
			port := s.ltSeed(t)
			s.ttGet(t, "--no-trackers", "--peer", fmt.Sprintf("127.0.0.1:%d", port))
		})
	}
}

func TestTTSeedsLibtorrentGets(t *testing.T) {
	NeedLibtorrent(t)
	for _, l := range layouts {
		t.Run(l.name, func(t *testing.T) {
			s := newSwarm(t, l, "16KiB")
			_, port := s.ttSeed(t, "--no-trackers")
			s.ltGet(t, "--peer", fmt.Sprintf("127.0.0.1:%d", port))
		})
	}
}

// transmissionConfig writes a loopback-only settings.json into a config
// dir; utp turns Transmission's uTP on.
func transmissionConfig(t *testing.T, dir string, utp bool) string {
	t.Helper()
	cfg := filepath.Join(dir, "tr-config")
	os.MkdirAll(cfg, 0o755)
	settings := map[string]any{"dht-enabled": false, "lpd-enabled": false, "pex-enabled": false,
		"port-forwarding-enabled": false, "utp-enabled": utp, "bind-address-ipv4": "127.0.0.1",
		"rpc-enabled": false, "message-level": 1}
	b, _ := json.Marshal(settings)
	if err := os.WriteFile(filepath.Join(cfg, "settings.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestTransmissionSeedsTTGets(t *testing.T) {
	tr := Need(t, "transmission-cli")
	for _, l := range layouts {
		t.Run(l.name, func(t *testing.T) {
			s := newSwarm(t, l, "32KiB")
			port := FreePort(t)
			Start(t, s.dir, tr, "-g", transmissionConfig(t, s.dir, false), "-M", "-p", strconv.Itoa(port), "-w", filepath.Dir(s.content), s.torrent)
			WaitListening(t, port, 30*time.Second)
			s.ttGet(t, "--no-trackers", "--peer", fmt.Sprintf("127.0.0.1:%d", port))
		})
	}
}

// transmissionGet starts Transmission downloading the torrent into
// DIR/tr-got (extra: more transmission-cli flags) and returns its port and
// a function that waits for it to finish and checks what it got.
func (s *swarm) transmissionGet(t *testing.T, extra ...string) (int, func()) {
	t.Helper()
	tr := Need(t, "transmission-cli")
	port := FreePort(t)
	got := filepath.Join(s.dir, "tr-got")
	os.MkdirAll(got, 0o755)
	marker := filepath.Join(s.dir, "finished")
	script := filepath.Join(s.dir, "done.sh")
	os.WriteFile(script, []byte("#!/bin/sh\ntouch "+marker+"\n"), 0o755)
	args := append([]string{"-g", transmissionConfig(t, s.dir, false), "-M", "-p", strconv.Itoa(port), "-w", got, "-f", script}, extra...)
	Start(t, s.dir, tr, append(args, s.torrent)...)
	WaitListening(t, port, 30*time.Second)
	return port, func() {
		t.Helper()
		WaitFile(t, marker, 120*time.Second)
		s.check(t, filepath.Join(got, "content"), true)
	}
}

func TestTTSeedsTransmissionGets(t *testing.T) {
	for _, l := range layouts {
		t.Run(l.name, func(t *testing.T) {
			s := newSwarm(t, l, "16KiB")
			port, finished := s.transmissionGet(t)
			// Transmission ignores peers on 127.0.0.0/8 from trackers, so tt dials in.
			s.ttSeed(t, "--no-trackers", "--peer", fmt.Sprintf("127.0.0.1:%d", port))
			finished()
		})
	}
}

// aria2Args keeps aria2 on loopback.
func aria2Args(port int, dir string) []string {
	return []string{"--enable-dht=false", "--enable-dht6=false", "--bt-enable-lpd=false", "--enable-peer-exchange=false",
		"--listen-port=" + strconv.Itoa(port), "--bt-external-ip=127.0.0.1", "--dir=" + dir, "--quiet=true"}
}

func TestAria2SeedsTTGets(t *testing.T) {
	aria := Need(t, "aria2c")
	for _, l := range layouts {
		t.Run(l.name, func(t *testing.T) {
			s := newSwarm(t, l, "32KiB")
			port := FreePort(t)
			Start(t, s.dir, aria, append(aria2Args(port, filepath.Dir(s.content)),
				"--check-integrity=true", "--seed-ratio=0.0", "--seed-time=10", s.torrent)...)
			WaitListening(t, port, 30*time.Second)
			s.ttGet(t, "--no-trackers", "--peer", fmt.Sprintf("127.0.0.1:%d", port))
		})
	}
}

// The tracker tests find peers only through opentracker.

func TestTrackerLibtorrentSeedsTTGets(t *testing.T) {
	NeedLibtorrent(t)
	for _, proto := range []string{"http", "udp"} {
		t.Run(proto, func(t *testing.T) {
			s := newSwarm(t, layouts[0], "32KiB")
			s.withTracker(t, "32KiB", proto)
			s.ltSeed(t)
			lines := s.ttGet(t)
			if len(eventsOf(lines, "tracker_reply")) == 0 {
				t.Fatal("no tracker_reply event")
			}
		})
	}
}

func TestTrackerTTSeedsLibtorrentGets(t *testing.T) {
	NeedLibtorrent(t)
	for _, proto := range []string{"http", "udp"} {
		t.Run(proto, func(t *testing.T) {
			s := newSwarm(t, layouts[1], "16KiB")
			s.withTracker(t, "16KiB", proto)
			seed, _ := s.ttSeed(t)
			seed.WaitLine(t, 30*time.Second, func(l string) bool { return JSONField(l, "type") == "tracker_reply" })
			s.ltGet(t)
		})
	}
}

// aria2 speaks UDP trackers only through its DHT socket, which stays off
// here, so this one uses HTTP.
func TestTrackerAria2SeedsTTGets(t *testing.T) {
	aria := Need(t, "aria2c")
	s := newSwarm(t, layouts[0], "32KiB")
	s.withTracker(t, "32KiB", "http")
	port := FreePort(t)
	logf := filepath.Join(s.dir, "aria2.log")
	Start(t, s.dir, aria, append(aria2Args(port, filepath.Dir(s.content)),
		"--check-integrity=true", "--seed-ratio=0.0", "--seed-time=30", "--log="+logf, "--log-level=info", s.torrent)...)
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(logf)
			t.Logf("aria2 log:\n%s", b)
		}
	})
	WaitListening(t, port, 30*time.Second)
	WaitSeeders(t, s.tracker, s.ih, 1, 30*time.Second)
	s.ttGet(t)
}

// TestKill9Resume kills tt get in the middle of a download and runs it
// again: the second run completes, byte-identical, without fetching any
// piece the first run had verified.
func TestKill9Resume(t *testing.T) {
	s := newSwarm(t, layouts[1], "16KiB")
	// Bigger content than the other tests, served slowly enough to interrupt.
	b := make([]byte, 4<<20+12345)
	for i := range b {
		b[i] = byte(i*13 + i>>12)
	}
	if err := os.WriteFile(s.content, b, 0o644); err != nil {
		t.Fatal(err)
	}
	s.create(t, "16KiB")
	_, port := s.ttSeed(t, "--no-trackers", "--upload-limit", "1MiB")
	peer := fmt.Sprintf("127.0.0.1:%d", port)
	out := filepath.Join(s.dir, "got")
	args := []string{"get", "--no-dht", "--no-lsd", "--json", "--no-trackers", "--bind", "127.0.0.1", "--peer", peer, "--stall-timeout", "60s", "-o", out, s.torrent}
	first := Start(t, s.dir, s.tt, args...)
	n := 0
	first.WaitLine(t, 60*time.Second, func(l string) bool {
		if JSONField(l, "type") == "piece_verified" {
			n++
		}
		return n >= 60
	})
	first.Kill()
	before := map[string]bool{}
	for _, l := range eventsOf(first.Lines(), "piece_verified") {
		before[JSONField(l, "piece")] = true
	}
	if len(before) >= 4<<20/16384 {
		t.Fatal("the first run was not interrupted")
	}
	second := Start(t, s.dir, s.tt, args...)
	if code := second.WaitExit(t, 120*time.Second); code != 0 {
		t.Fatalf("second run exited %d: %s", code, second.Stderr())
	}
	s.check(t, filepath.Join(out, "content"), false)
	lines := second.Lines()
	started := eventsOf(lines, "started")
	if len(started) != 1 {
		t.Fatalf("started events: %v", started)
	}
	have, _ := strconv.Atoi(JSONField(started[0], "have"))
	if have < len(before) {
		t.Fatalf("second run started with %d pieces, the first had verified %d", have, len(before))
	}
	for _, l := range eventsOf(lines, "piece_verified") {
		if before[JSONField(l, "piece")] {
			t.Fatalf("piece %s fetched again after the restart", JSONField(l, "piece"))
		}
	}
	t.Logf("first run verified %d pieces; second started with %d and fetched %d", len(before), have, len(eventsOf(lines, "piece_verified")))
}
