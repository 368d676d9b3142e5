package interop

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// StartOpentracker runs Debian's opentracker on 127.0.0.1 serving the given
// info hashes (its build serves only whitelisted ones) and returns its HTTP
// and UDP announce URLs once it answers announces. It is stopped by PID
// when the test ends.
func StartOpentracker(t testing.TB, infoHashes ...[20]byte) (httpURL, udpURL string) {
	t.Helper()
	bin := Need(t, "opentracker")
	root := t.TempDir()
	// opentracker chroots into root and drops to nobody, who must read it.
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	// The probe hash tells when opentracker has read its whitelist, which
	// it does in the background after it starts listening.
	probe := sha1.Sum([]byte("tt opentracker probe"))
	var wl []byte
	for _, ih := range append(infoHashes, probe) {
		wl = append(wl, hex.EncodeToString(ih[:])+"\n"...)
	}
	if err := os.WriteFile(filepath.Join(root, "whitelist"), wl, 0o644); err != nil {
		t.Fatal(err)
	}
	// Another process may take a port between our probe and opentracker's
	// bind: try a few times.
	var lastErr error
	for range 3 {
		tcpPort, udpPort := FreePort(t), freeUDPPort(t)
		out := &syncBuffer{}
		cmd := exec.Command(bin, "-i", "127.0.0.1", "-p", strconv.Itoa(tcpPort), "-P", strconv.Itoa(udpPort),
			"-d", root, "-u", "nobody", "-w", "whitelist")
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		stop := func() {
			cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-exited:
			case <-time.After(5 * time.Second):
				cmd.Process.Kill()
				<-exited
			}
		}
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(tcpPort))
		if lastErr = opentrackerReady(addr, probe, exited, 10*time.Second); lastErr != nil {
			stop()
			lastErr = fmt.Errorf("%w; output:\n%s", lastErr, out.String())
			continue
		}
		t.Cleanup(func() {
			stop()
			if t.Failed() {
				t.Logf("opentracker output:\n%s", out.String())
			}
		})
		return "http://" + addr + "/announce", "udp://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(udpPort))
	}
	t.Fatalf("opentracker did not start: %v", lastErr)
	return "", ""
}

// opentrackerReady polls opentracker at addr until it accepts a stopped
// announce for probe, the process exits or the deadline passes.
func opentrackerReady(addr string, probe [20]byte, exited <-chan error, within time.Duration) error {
	deadline := time.Now().Add(within)
	q := "info_hash=" + escapeBytes(probe[:]) + "&peer_id=" + escapeBytes([]byte("-TT0000-probeprobe00")) +
		"&port=1&uploaded=0&downloaded=0&left=0&event=stopped&compact=1"
	client := &http.Client{Timeout: time.Second}
	for {
		resp, err := client.Get("http://" + addr + "/announce?" + q)
		if err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && !bytes.Contains(body, []byte("failure reason")) {
				return nil
			}
			err = fmt.Errorf("HTTP %d: %q", resp.StatusCode, body)
		}
		select {
		case err := <-exited:
			return fmt.Errorf("opentracker exited: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("opentracker not serving on %s after %v: %v", addr, within, err)
		}
	}
}

func freeUDPPort(t testing.TB) int {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// syncBuffer collects a child's output for error messages.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *syncBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *syncBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// WaitSeeders polls a tracker's HTTP scrape until it counts at least n
// seeders of ih.
func WaitSeeders(t testing.TB, announceURL string, ih [20]byte, n int, d time.Duration) {
	t.Helper()
	scrape := strings.Replace(announceURL, "/announce", "/scrape", 1) + "?info_hash=" + escapeBytes(ih[:])
	want := fmt.Appendf(nil, "8:completei%de", n)
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(d)
	var last string
	for {
		if resp, err := client.Get(scrape); err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			resp.Body.Close()
			if bytes.Contains(body, want) {
				return
			}
			last = fmt.Sprintf("%q", body)
		} else {
			last = err.Error()
		}
		if time.Now().After(deadline) {
			t.Fatalf("tracker counts no %d seeders after %s: %s", n, d, last)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// escapeBytes percent-encodes every byte (url.QueryEscape turns a space
// into "+", which trackers do not all decode).
func escapeBytes(b []byte) string {
	var sb strings.Builder
	for _, c := range b {
		fmt.Fprintf(&sb, "%%%02X", c)
	}
	return sb.String()
}
