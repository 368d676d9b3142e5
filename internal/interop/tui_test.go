package interop

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// tmux drives a program in a real terminal.
type tmux struct {
	t       *testing.T
	bin     string
	session string
	socket  string
}

func newTmux(t *testing.T, dir string, w, h int, command string) *tmux {
	t.Helper()
	x := &tmux{t: t, bin: Need(t, "tmux"), session: "tt-test", socket: filepath.Join(dir, "tmux.sock")}
	x.run("-f", "/dev/null", "new-session", "-d", "-s", x.session, "-x", fmt.Sprint(w), "-y", fmt.Sprint(h), command)
	t.Cleanup(func() { exec.Command(x.bin, "-S", x.socket, "kill-server").Run() })
	return x
}

func (x *tmux) run(args ...string) string {
	x.t.Helper()
	out, err := exec.Command(x.bin, append([]string{"-S", x.socket}, args...)...).CombinedOutput()
	if err != nil {
		x.t.Fatalf("tmux %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func (x *tmux) screen() string { return x.run("capture-pane", "-p", "-t", x.session) }

func (x *tmux) keys(keys ...string) {
	x.run(append([]string{"send-keys", "-t", x.session}, keys...)...)
}

// waitFor polls the screen until it shows every string in want.
func (x *tmux) waitFor(d time.Duration, want ...string) string {
	x.t.Helper()
	deadline := time.Now().Add(d)
	for {
		s := x.screen()
		ok := true
		for _, w := range want {
			if !strings.Contains(s, w) {
				ok = false
			}
		}
		if ok {
			return s
		}
		if time.Now().After(deadline) {
			x.t.Fatalf("the screen did not show %q within %s:\n%s", want, d, s)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestTUIInTmux runs tt get in a real terminal against a slow loopback
// seeder: it switches views, pauses and resumes, survives a resize and
// quits gracefully with exit 130, leaving state a second run resumes from.
func TestTUIInTmux(t *testing.T) {
	s := newSwarm(t, layouts[0], "16KiB")
	// Enough content, served slowly, to look at it while it downloads.
	big := filepath.Join(s.content, "big.bin")
	b := make([]byte, 8<<20)
	for i := range b {
		b[i] = byte(i*31 + i>>10)
	}
	if err := os.WriteFile(big, b, 0o644); err != nil {
		t.Fatal(err)
	}
	s.create(t, "16KiB")
	_, port := s.ttSeed(t, "--no-trackers", "--upload-limit", "512KiB")
	exitFile := filepath.Join(s.dir, "exit")
	cmd := fmt.Sprintf("cd %s && TERM=xterm-256color %s get --no-dht --no-lsd --no-trackers --peer 127.0.0.1:%d -o got %s; echo $? > %s; sleep 60",
		s.dir, s.tt, port, s.torrent, exitFile)
	x := newTmux(t, s.dir, 80, 24, cmd)

	x.waitFor(20*time.Second, "[1 Overview]", "state     downloading", "tab/1-5 views")
	x.keys("2")
	x.waitFor(5*time.Second, "[2 Peers]", "127.0.0.1:", "s sort (down rate)")
	x.keys("s")
	x.waitFor(5*time.Second, "s sort (up rate)")
	x.keys("3")
	x.waitFor(5*time.Second, "[3 Pieces]", "pieces of 16.0 KiB")
	x.keys("4")
	x.waitFor(5*time.Second, "[4 Files]", "[x] normal", "big.bin")
	x.keys("5")
	x.waitFor(5*time.Second, "[5 Trackers]", "no trackers in this torrent")
	x.keys("1", "p")
	x.waitFor(5*time.Second, "state     paused (p resumes)")
	x.keys("p")
	x.waitFor(5*time.Second, "state     downloading")

	x.run("resize-window", "-t", x.session, "-x", "60", "-y", "20")
	screen := x.waitFor(5*time.Second, "[1 Overview]")
	lines := strings.Split(strings.TrimRight(screen, "\n"), "\n")
	if len(lines) > 20 {
		t.Fatalf("%d lines after resizing to 60x20:\n%s", len(lines), screen)
	}
	for _, l := range lines {
		if len([]rune(l)) > 60 {
			t.Fatalf("a line wider than 60 after resizing: %q", l)
		}
	}

	x.keys("q")
	WaitFile(t, exitFile, 20*time.Second)
	code, _ := os.ReadFile(exitFile)
	if strings.TrimSpace(string(code)) != "130" {
		t.Fatalf("exit code %q after q, want 130", code)
	}
	// The terminal is restored and the summary line follows.
	if after := x.screen(); !strings.Contains(after, "tt: content stopped at ") || strings.Contains(after, "[1 Overview]") {
		t.Fatalf("screen after quitting:\n%s", after)
	}
	if _, err := os.Stat(filepath.Join(s.dir, "got", ".tt-resume-"+s.infoHash)); err != nil {
		t.Fatalf("no resume state after quitting: %v", err)
	}
	// The same command, off a terminal, finishes the job.
	lines2 := s.ttGet(t, "--no-trackers", "--peer", fmt.Sprintf("127.0.0.1:%d", port))
	started := eventsOf(lines2, "started")
	if len(started) != 1 || JSONField(started[0], "have") == "0" {
		t.Fatalf("second run did not resume: %v", started)
	}
	got, _ := os.ReadFile(filepath.Join(s.dir, "got", "content", "big.bin"))
	if string(got) != string(b) {
		t.Fatal("big.bin differs after resuming")
	}
}
