package tracker

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// lockedBuffer collects a child's output for error messages.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// freePort returns a port the OS just handed out for network on 127.0.0.1.
func freePort(t *testing.T, network string) int {
	t.Helper()
	if network == "udp" {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.LocalAddr().(*net.UDPAddr).Port
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startOpentracker runs opentracker on loopback serving the given info
// hashes and returns its HTTP and UDP announce URLs once it accepts.
func startOpentracker(t *testing.T, infoHashes ...[20]byte) (httpURL, udpURL string) {
	t.Helper()
	bin, err := exec.LookPath("opentracker")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("opentracker not installed (scripts/test installs it)")
		}
		t.Skip("opentracker not installed")
	}
	root := t.TempDir()
	// opentracker chroots into root and drops to nobody, who must read it.
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	// The probe torrent tells when opentracker has read its whitelist,
	// which it does in the background after it starts listening.
	probe := hash("tt opentracker probe")
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
		tcpPort, udpPort := freePort(t, "tcp"), freePort(t, "udp")
		out := &lockedBuffer{}
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
		if lastErr = waitReady(addr, probe, exited, 10*time.Second); lastErr != nil {
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

// waitReady polls opentracker at addr until it accepts an announce for
// probe, the process exits or the deadline passes.
func waitReady(addr string, probe [20]byte, exited <-chan error, within time.Duration) error {
	deadline := time.Now().Add(within)
	c := &HTTPClient{Timeout: time.Second}
	req := &AnnounceRequest{InfoHash: probe, PeerID: peerID(0), Port: 1, Event: EventStopped}
	for {
		_, err := c.Announce(context.Background(), "http://"+addr+"/announce", req)
		if err == nil {
			return nil
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

// TestOpentrackerInterop announces two fake peers to a real opentracker
// over HTTP and over UDP and checks that each learns of the other.
func TestOpentrackerInterop(t *testing.T) {
	ihHTTP, ihUDP, ihOther := hash("tt interop over http"), hash("tt interop over udp!"), hash("not on the whitelist")
	httpURL, udpURL := startOpentracker(t, ihHTTP, ihUDP)
	udp, err := ListenUDP(UDPConfig{BaseTimeout: 250 * time.Millisecond, MaxRetries: 5})
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	client := &Client{UDP: udp}

	for _, tc := range []struct {
		proto, url string
		ih         [20]byte
	}{{"http", httpURL, ihHTTP}, {"udp", udpURL, ihUDP}} {
		t.Run(tc.proto, func(t *testing.T) {
			announce := func(n int, ev Event, left int64) *AnnounceResponse {
				t.Helper()
				r, err := client.Announce(t.Context(), tc.url, &AnnounceRequest{
					InfoHash: tc.ih, PeerID: peerID(100 + n), Port: uint16(16880 + n), Left: left, Event: ev, Key: uint32(n),
				})
				if err != nil {
					t.Fatalf("peer %d: %v", n, err)
				}
				if r.Interval <= 0 {
					t.Fatalf("peer %d: interval %v", n, r.Interval)
				}
				return r
			}
			a, b := ap("127.0.0.1:16881"), ap("127.0.0.1:16882")
			announce(1, EventStarted, 1000)
			r := announce(2, EventStarted, 0)
			if !slices.Contains(r.Peers, a) {
				t.Fatalf("second peer sees %v, want %v among them", r.Peers, a)
			}
			if r.Seeders != 1 || r.Leechers != 1 {
				t.Fatalf("counts %d seeders %d leechers", r.Seeders, r.Leechers)
			}
			r = announce(1, EventNone, 500)
			if !slices.Contains(r.Peers, b) {
				t.Fatalf("first peer sees %v, want %v among them", r.Peers, b)
			}
			for _, p := range r.Peers {
				if p != a && p != b {
					t.Fatalf("unexpected peer %v", p)
				}
			}
			sc, err := client.Scrape(t.Context(), tc.url, tc.ih)
			if err != nil {
				t.Fatal(err)
			}
			if got := sc[tc.ih]; got.Seeders != 1 || got.Leechers != 1 {
				t.Fatalf("scrape %+v", sc)
			}
			announce(2, EventStopped, 0)
			r = announce(1, EventNone, 500)
			if slices.Contains(r.Peers, b) {
				t.Fatalf("stopped peer still listed: %v", r.Peers)
			}
		})
	}

	t.Run("not whitelisted", func(t *testing.T) {
		req := &AnnounceRequest{InfoHash: ihOther, PeerID: peerID(1), Port: 1}
		_, err := client.Announce(t.Context(), httpURL, req)
		if !errors.Is(err, ErrTrackerFailure) {
			t.Fatalf("http: error %v, want a tracker failure", err)
		}
		t.Logf("http: %v", err)
		// Over UDP opentracker answers with a bare announce header.
		_, err = client.Announce(t.Context(), udpURL, req)
		if !errors.Is(err, ErrTrackerFailure) {
			t.Fatalf("udp: error %v, want a tracker failure", err)
		}
		t.Logf("udp: %v", err)
	})
}
