package app

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for the TUI and the engine to share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func demoEnv(t testing.TB, stdout, stderr *syncBuffer) *Env {
	var errw io.Writer = io.Discard
	if stderr != nil {
		errw = stderr
	}
	return &Env{Stdin: strings.NewReader(""), Stdout: stdout, Stderr: errw, Dir: t.TempDir(),
		Getenv: func(string) string { return "" }, Now: time.Now}
}

// TestDemoHeadlessTUI runs the demo swarm through the live view, headless:
// a real loopback swarm feeds the program, which draws into a buffer.
func TestDemoHeadlessTUI(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out, errb syncBuffer
	env := demoEnv(t, &out, &errb)
	keep := filepath.Join(env.Dir, "kept")
	err := Demo(ctx, env, DemoOptions{Keep: keep, Size: 6 << 20, Seeders: 2, Rate: 4 << 20,
		Swarm: SwarmOptions{TUI: TUIOn, Refresh: 100 * time.Millisecond}})
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, errb.String())
	}
	screen := errb.String()
	for _, want := range []string{"[1 Overview]", "tt-demo", "progress", "tab/1-5 views", "tt: tt-demo complete: "} {
		if !strings.Contains(screen, want) {
			t.Errorf("the screen never showed %q", want)
		}
	}
	if out.String() != "" {
		t.Errorf("the live view wrote to stdout: %q", out.String())
	}
	// --keep leaves the torrent, the content and the download.
	for _, p := range []string{"tt-demo.torrent", "seed/tt-demo/README.txt", "download/tt-demo/video/episode-01.mkv"} {
		if _, err := os.Stat(filepath.Join(keep, p)); err != nil {
			t.Errorf("kept files: %v", err)
		}
	}
	a, _ := os.ReadFile(filepath.Join(keep, "seed/tt-demo/audio/soundtrack.flac"))
	b, _ := os.ReadFile(filepath.Join(keep, "download/tt-demo/audio/soundtrack.flac"))
	if len(a) == 0 || !bytes.Equal(a, b) {
		t.Error("downloaded file differs from the seeders'")
	}
}

// TestDemoPlain: off a terminal the demo prints plain lines and leaves
// nothing behind.
func TestDemoPlain(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out, errb syncBuffer
	env := demoEnv(t, &out, &errb)
	before, _ := filepath.Glob(filepath.Join(os.TempDir(), "tt-demo-*"))
	if err := Demo(ctx, env, DemoOptions{Size: 3 << 20, Seeders: 3, Swarm: SwarmOptions{StatusInterval: time.Second}}); err != nil {
		t.Fatalf("demo: %v\n%s", err, errb.String())
	}
	if s := errb.String(); strings.Contains(s, "\x1b") || !strings.Contains(s, "tt: tt-demo complete: ") {
		t.Fatalf("plain output:\n%q", s)
	}
	after, _ := filepath.Glob(filepath.Join(os.TempDir(), "tt-demo-*"))
	if len(after) > len(before) {
		t.Fatalf("left behind: %v", after)
	}
}

func TestDemoKeepRefusesNonEmpty(t *testing.T) {
	var out, errb syncBuffer
	env := demoEnv(t, &out, &errb)
	os.WriteFile(filepath.Join(env.Dir, "x"), []byte("mine"), 0o644)
	err := Demo(context.Background(), env, DemoOptions{Keep: env.Dir})
	if CodeOf(err) != ExitExists {
		t.Fatalf("got %v (code %d), want exit %d", err, CodeOf(err), ExitExists)
	}
}

// TestDemoJSONStream: with --json, stdout is a valid NDJSON stream and
// nothing else (no escape codes, no status lines).
func TestDemoJSONStream(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out, errb syncBuffer
	env := demoEnv(t, &out, &errb)
	if err := Demo(ctx, env, DemoOptions{Size: 3 << 20, Seeders: 2, Swarm: SwarmOptions{JSON: true, StatusInterval: 200 * time.Millisecond}}); err != nil {
		t.Fatalf("demo: %v\n%s", err, errb.String())
	}
	types := map[string]int{}
	for i, line := range strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n") {
		var ev map[string]any
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("line %d is not JSON: %q", i+1, line)
		}
		types[ev["type"].(string)]++
	}
	for _, want := range []string{"listening", "started", "tracker_reply", "peer_connected", "piece_verified", "complete", "done"} {
		if types[want] == 0 {
			t.Errorf("no %s event (got %v)", want, types)
		}
	}
	if errb.String() != "" {
		t.Errorf("stderr with --json: %q", errb.String())
	}
}
