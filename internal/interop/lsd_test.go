package interop

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestLSDInNamespaces: in two network namespaces joined by a veth link, a
// tt leecher and a tt seeder with no tracker, DHT or known peer find each
// other by local service discovery (BEP 14) alone.
func TestLSDInNamespaces(t *testing.T) {
	a, b := NewNetnsPair(t)
	s := newSwarm(t, layouts[0], "16KiB")
	flags := []string{"--json", "--no-trackers", "--no-dht"}
	out := filepath.Join(s.dir, "got")
	get := Start(t, s.dir, "ip", b.Cmd(s.tt, append(append([]string{"get"}, flags...), "--stall-timeout", "60s", "-o", out, s.torrent)...)...)
	// The leecher has joined the group once its session has started.
	get.WaitLine(t, 30*time.Second, func(l string) bool { return JSONField(l, "type") == "started" })
	Start(t, s.dir, "ip", a.Cmd(s.tt, append(append([]string{"seed"}, flags...), s.torrent, s.content)...)...)
	if code := get.WaitExit(t, 90*time.Second); code != 0 {
		t.Fatalf("tt get exited %d: %s\n%s", code, get.Stderr(), strings.Join(get.Lines(), "\n"))
	}
	s.check(t, filepath.Join(out, "content"), false)
	found := false
	for _, l := range eventsOf(get.Lines(), "peer_connected") {
		found = found || (JSONField(l, "source") == "lsd" && strings.HasPrefix(JSONField(l, "peer"), a.IP+":"))
	}
	if !found {
		t.Fatalf("the seeder was not found by LSD:\n%s", strings.Join(get.Lines(), "\n"))
	}
}

// TestLSDFromLibtorrent: a libtorrent seeder in one namespace announces by
// LSD; tt in the other finds it that way and downloads.
func TestLSDFromLibtorrent(t *testing.T) {
	NeedLibtorrent(t)
	a, b := NewNetnsPair(t)
	s := newSwarm(t, layouts[0], "16KiB")
	out := filepath.Join(s.dir, "got")
	get := Start(t, s.dir, "ip", b.Cmd(s.tt, "get", "--json", "--no-trackers", "--no-dht", "--stall-timeout", "60s", "-o", out, s.torrent)...)
	get.WaitLine(t, 30*time.Second, func(l string) bool { return JSONField(l, "type") == "started" })
	Start(t, s.dir, "ip", a.Cmd(LibtorrentPython, Script("lt_peer.py"), "seed", s.torrent, filepath.Dir(s.content),
		"--listen", a.IP, "--lsd")...)
	if code := get.WaitExit(t, 90*time.Second); code != 0 {
		t.Fatalf("tt get exited %d: %s\n%s", code, get.Stderr(), strings.Join(get.Lines(), "\n"))
	}
	s.check(t, filepath.Join(out, "content"), false)
	found := false
	for _, l := range eventsOf(get.Lines(), "peer_connected") {
		found = found || JSONField(l, "source") == "lsd"
	}
	if !found {
		t.Fatalf("libtorrent was not found by LSD:\n%s", strings.Join(get.Lines(), "\n"))
	}
}
