package interop

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// leechRuns is how many Transmission downloads TestTransmissionLeechesFromTTSeed makes.
const leechRuns = 10

// trLeech is one Transmission download from a tt seeder dialling it.
type trLeech struct {
	tr, tt    *Proc
	got       string // Transmission's download directory
	finished  string // touched by Transmission's done script
	transport string // of tt's connection to it
}

// TestTransmissionLeechesFromTTSeed: Transmission 3.00 (uTP on, encryption
// preferred) downloads from `tt seed --peer` in every one of ten runs.
// tt dials uTP and TCP at once; Transmission accepts both and closes the
// one it took second, as it keeps one connection per address. tt must go
// on over the one Transmission kept, whichever answered first. This
// failed in about half the runs while tt dropped TCP as soon as uTP
// answered: every redial then lost the same way.
//
// Transmission 3.00 becomes interested in a peer only at its 10-second
// rechoke, so the runs overlap to keep the test short: each one starts
// and connects while the ones before it wait for that.
func TestTransmissionLeechesFromTTSeed(t *testing.T) {
	tr := Need(t, "transmission-cli")
	dir := t.TempDir()
	tt := BuildTT(t, dir)
	content := filepath.Join(dir, "seed", "data")
	writeData(t, content, 2<<20+1234)
	torrent := filepath.Join(dir, "data.torrent")
	run(t, tt, "create", "-q", "--force", "-l", "256KiB", "-o", torrent, content)

	var runs []*trLeech
	for range leechRuns {
		runs = append(runs, startTRLeech(t, tr, tt, torrent, content))
	}
	count := map[string]int{}
	for i, r := range runs {
		WaitFile(t, r.finished, 60*time.Second)
		SameFiles(t, filepath.Dir(content), r.got, []string{"data"})
		r.tt.Kill()
		r.tr.Kill()
		count[r.transport]++
		t.Logf("run %d: done over %s", i+1, r.transport)
	}
	t.Logf("connections: %v", count)
}

// startTRLeech starts Transmission on a fresh configuration and download
// directory, then tt seeding to it, and waits until tt has connected.
func startTRLeech(t *testing.T, tr, tt, torrent, content string) *trLeech {
	t.Helper()
	dir := t.TempDir()
	r := &trLeech{got: filepath.Join(dir, "got"), finished: filepath.Join(dir, "finished")}
	os.MkdirAll(r.got, 0o755)
	script := filepath.Join(dir, "done.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\ntouch "+r.finished+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	port := FreePort(t)
	r.tr = Start(t, dir, tr, "-g", transmissionConfig(t, dir, true), "-M", "-p", strconv.Itoa(port), "-w", r.got, "-f", script, torrent)
	waitListenSocket(t, port, 30*time.Second)
	r.tt = Start(t, dir, tt, "seed", "--no-dht", "--no-lsd", "--json", "--bind", "127.0.0.1", "--no-trackers",
		"--peer", fmt.Sprintf("127.0.0.1:%d", port), torrent, content)
	// The first dial may come before Transmission has started the
	// torrent; the retry a second later must then connect.
	line := r.tt.WaitLine(t, 10*time.Second, func(l string) bool { return JSONField(l, "type") == "peer_connected" })
	r.transport = JSONField(line, "transport")
	return r
}

// writeData writes n pseudo-random bytes.
func writeData(t *testing.T, path string, n int) {
	t.Helper()
	os.MkdirAll(filepath.Dir(path), 0o755)
	b := make([]byte, n)
	x := uint32(2463534242)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// waitListenSocket waits until a TCP socket listens on port, by reading
// the kernel's socket tables rather than connecting: Transmission keeps
// one connection per address, and a probe from 127.0.0.1 would hold that
// place for tt's first dial until Transmission notices it closed.
func waitListenSocket(t *testing.T, port int, d time.Duration) {
	t.Helper()
	want := fmt.Sprintf(":%04X", port)
	deadline := time.Now().Add(d)
	for {
		for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
			b, _ := os.ReadFile(table)
			for _, l := range strings.Split(string(b), "\n") {
				f := strings.Fields(l)
				if len(f) > 3 && strings.HasSuffix(f[1], want) && f[3] == "0A" { // 0A: LISTEN
					return
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing listening on port %d after %s", port, d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
