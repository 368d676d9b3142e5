package interop

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// rssLimit is the most a downloading-then-seeding tt may hold resident.
const rssLimit = 64 << 20

// TestJSONReaderGoneThenSeed runs what `tt get --json … | head -1` does: the
// reader takes the first event and closes the pipe. tt must carry on (no
// SIGPIPE death, no queue growing behind the closed pipe), finish the
// download, serve it to libtorrent while seeding for 60 s, and stay under
// rssLimit resident the whole time.
func TestJSONReaderGoneThenSeed(t *testing.T) {
	NeedLibtorrent(t)
	dir := t.TempDir()
	tt := BuildTT(t, dir)
	content, torrent := payloadTorrent(t, tt, dir, 48<<20, "256KiB")
	seeder := Start(t, dir, tt, "seed", "--no-dht", "--no-lsd", "--no-trackers", "--json", "--bind", "127.0.0.1", torrent, content)
	seedPort := ttListenPort(t, seeder)

	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "got")
	var stderr bytes.Buffer
	cmd := exec.Command(tt, "get", "--json", "--no-dht", "--no-lsd", "--no-trackers", "--bind", "127.0.0.1",
		"--peer", fmt.Sprintf("127.0.0.1:%d", seedPort), "--status-interval", "50ms",
		"--seed-time", "60s", "--stall-timeout", "60s", "-o", out, torrent)
	cmd.Stdout, cmd.Stderr, cmd.Dir = w, &stderr, dir
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-exited
		}
	})

	// head -1: one line, then the pipe is gone.
	first := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(r).ReadString('\n')
		r.Close()
		first <- line
	}()
	var line string
	select {
	case line = <-first:
	case <-time.After(30 * time.Second):
		t.Fatal("no first event within 30 s")
	}
	if JSONField(line, "type") != "listening" {
		t.Fatalf("first event %q, want listening", line)
	}
	port, err := strconv.Atoi(JSONField(line, "port"))
	if err != nil || port == 0 {
		t.Fatalf("no port in %q", line)
	}

	// While tt downloads and then seeds, libtorrent fetches from it.
	got := filepath.Join(dir, "lt-got")
	lt := Start(t, dir, LibtorrentPython, Script("lt_peer.py"), "get", torrent, got, "--timeout", "120",
		"--peer", fmt.Sprintf("127.0.0.1:%d", port))

	var peak int64
	ticker := time.NewTicker(200 * time.Millisecond)
	defer ticker.Stop()
	deadline := time.After(150 * time.Second)
	ltDone := false
wait:
	for {
		select {
		case err := <-exited:
			if err != nil {
				t.Fatalf("tt get: %v\nstderr: %s", err, stderr.String())
			}
			break wait
		case <-deadline:
			t.Fatalf("tt get still running after 150 s\nstderr: %s", stderr.String())
		case <-ticker.C:
			if hwm := procHWM(cmd.Process.Pid); hwm > peak {
				peak = hwm
			}
			if !ltDone {
				for _, l := range lt.Lines() {
					ltDone = ltDone || JSONField(l, "event") == "finished"
				}
			}
		}
	}
	if cmd.ProcessState.Sys().(syscall.WaitStatus).Signaled() {
		t.Fatalf("tt get was killed by a signal: %v", cmd.ProcessState)
	}
	SameFiles(t, filepath.Dir(content), out, []string{filepath.Base(content)})
	if !ltDone {
		t.Fatalf("libtorrent did not finish from the seeding tt\n%s", strings.Join(lt.Lines(), "\n"))
	}
	SameFiles(t, filepath.Dir(content), got, []string{filepath.Base(content)})
	t.Logf("peak RSS %.1f MiB", float64(peak)/(1<<20))
	if peak == 0 {
		t.Fatal("no RSS sample taken")
	}
	if peak > rssLimit {
		t.Fatalf("peak RSS %.1f MiB, want under %d MiB", float64(peak)/(1<<20), rssLimit>>20)
	}
}

// procHWM reads a process's peak resident set (VmHWM) in bytes, or 0 once
// it has gone.
func procHWM(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}
