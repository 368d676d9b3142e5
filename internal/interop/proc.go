package interop

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Proc is a background process whose stdout lines a test can wait for.
// It is killed (its whole process group) when the test ends.
type Proc struct {
	Cmd   *exec.Cmd
	mu    sync.Mutex
	lines []string
	more  chan struct{}
	exit  chan struct{}
	err   error
	log   strings.Builder
}

// Start runs name with args; stderr is kept for failure messages.
func Start(t testing.TB, dir, name string, args ...string) *Proc {
	t.Helper()
	p := &Proc{Cmd: exec.Command(name, args...), more: make(chan struct{}, 1), exit: make(chan struct{})}
	p.Cmd.Dir = dir
	p.Cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := p.Cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.Cmd.Stderr = &lockedWriter{mu: &p.mu, w: &p.log}
	if err := p.Cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			p.mu.Lock()
			p.lines = append(p.lines, sc.Text())
			p.mu.Unlock()
			select {
			case p.more <- struct{}{}:
			default:
			}
		}
		p.err = p.Cmd.Wait()
		close(p.exit)
	}()
	t.Cleanup(p.Kill)
	return p
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// Kill stops the process group and waits for it.
func (p *Proc) Kill() {
	if p.Cmd.Process != nil {
		syscall.Kill(-p.Cmd.Process.Pid, syscall.SIGKILL)
	}
	select {
	case <-p.exit:
	case <-time.After(10 * time.Second):
	}
}

// Signal sends sig to the process itself.
func (p *Proc) Signal(sig syscall.Signal) { p.Cmd.Process.Signal(sig) }

// Stderr is what the process wrote on stderr so far.
func (p *Proc) Stderr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

// Lines is everything read from stdout so far.
func (p *Proc) Lines() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.lines...)
}

// WaitLine waits until a stdout line satisfies match, the process exits,
// or d passes.
func (p *Proc) WaitLine(t testing.TB, d time.Duration, match func(string) bool) string {
	t.Helper()
	deadline := time.After(d)
	seen := 0
	for {
		lines := p.Lines()
		for _, l := range lines[seen:] {
			if match(l) {
				return l
			}
		}
		seen = len(lines)
		select {
		case <-p.more:
		case <-p.exit:
			for _, l := range p.Lines()[seen:] {
				if match(l) {
					return l
				}
			}
			t.Fatalf("%s exited (%v) before the expected line\nstdout: %s\nstderr: %s", p.Cmd.Path, p.err, strings.Join(p.Lines(), "\n"), p.Stderr())
		case <-deadline:
			t.Fatalf("%s: no expected line within %s\nstdout: %s\nstderr: %s", p.Cmd.Path, d, strings.Join(p.Lines(), "\n"), p.Stderr())
		}
	}
}

// WaitExit waits for the process to end and returns its exit code.
func (p *Proc) WaitExit(t testing.TB, d time.Duration) int {
	t.Helper()
	select {
	case <-p.exit:
	case <-time.After(d):
		t.Fatalf("%s still running after %s\nstderr: %s", p.Cmd.Path, d, p.Stderr())
	}
	if p.Cmd.ProcessState == nil {
		return -1
	}
	return p.Cmd.ProcessState.ExitCode()
}

// JSONField extracts a field from a JSON line ("" when absent).
func JSONField(line, key string) string {
	var m map[string]any
	if json.Unmarshal([]byte(line), &m) != nil {
		return ""
	}
	if v, ok := m[key]; ok {
		return fmt.Sprint(v)
	}
	return ""
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago, for
// programs that cannot be told to pick their own and report it.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// WaitListening polls until something accepts TCP connections on port.
func WaitListening(t testing.TB, port int, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing listening on 127.0.0.1:%d after %s", port, d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// SameFiles compares two trees byte for byte.
func SameFiles(t testing.TB, want, got string, rel []string) {
	t.Helper()
	for _, r := range rel {
		a, err := os.ReadFile(want + "/" + r)
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(got + "/" + r)
		if err != nil {
			t.Fatalf("downloaded %s: %v", r, err)
		}
		if string(a) != string(b) {
			t.Fatalf("%s differs: %d bytes, downloaded %d", r, len(a), len(b))
		}
	}
}

// WaitFile polls until path exists.
func WaitFile(t testing.TB, path string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		if _, err := os.Stat(path); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not appear within %s", path, d)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
