package interop

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// recorder is a TCP proxy on loopback that keeps every byte it forwards,
// both ways: what a capture of the link would show.
type recorder struct {
	ln   net.Listener
	mu   sync.Mutex
	seen bytes.Buffer
}

func newRecorder(t *testing.T, target string) *recorder {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &recorder{ln: ln}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			go r.pipe(c, u)
			go r.pipe(u, c)
		}
	}()
	return r
}

func (r *recorder) pipe(dst, src net.Conn) {
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 64<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			r.mu.Lock()
			r.seen.Write(buf[:n])
			r.mu.Unlock()
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (r *recorder) addr() string { return r.ln.Addr().String() }

func (r *recorder) bytes() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]byte(nil), r.seen.Bytes()...)
}

// plaintextMarkers would show in any unencrypted BitTorrent stream.
var plaintextMarkers = [][]byte{[]byte("BitTorrent protocol"), []byte("libtorrent"), []byte("tt 0.1.0")}

func checkEncrypted(t *testing.T, r *recorder, content string) {
	t.Helper()
	seen := r.bytes()
	if len(seen) < 100000 {
		t.Fatalf("only %d bytes crossed the proxy", len(seen))
	}
	for _, m := range plaintextMarkers {
		if bytes.Contains(seen, m) {
			t.Fatalf("%q crossed the wire with encryption required", m)
		}
	}
	// Nor does any file's content appear in the clear.
	b, _ := os.ReadFile(filepath.Join(content, "z"))
	if len(b) >= 4096 && bytes.Contains(seen, b[1000:1064]) {
		t.Fatal("file content crossed the wire in the clear")
	}
}

// TestEncryptedLibtorrentSeedsTTGets: libtorrent requires RC4, tt requires
// it too; a proxy between them records what a capture would see.
func TestEncryptedLibtorrentSeedsTTGets(t *testing.T) {
	NeedLibtorrent(t)
	s := newSwarm(t, layouts[0], "16KiB")
	port := s.ltSeed(t, "--encryption", "require")
	rec := newRecorder(t, fmt.Sprintf("127.0.0.1:%d", port))
	lines := s.ttGet(t, "--no-trackers", "--encryption", "require", "--peer", rec.addr())
	if len(eventsOf(lines, "peer_connected")) == 0 {
		t.Fatal("no connection")
	}
	checkEncrypted(t, rec, s.content)
}

// TestEncryptedTTSeedsLibtorrentGets: the other direction; libtorrent
// dials tt through the proxy.
func TestEncryptedTTSeedsLibtorrentGets(t *testing.T) {
	NeedLibtorrent(t)
	s := newSwarm(t, layouts[0], "16KiB")
	_, port := s.ttSeed(t, "--no-trackers", "--encryption", "require")
	rec := newRecorder(t, fmt.Sprintf("127.0.0.1:%d", port))
	s.ltGet(t, "--encryption", "require", "--peer", rec.addr())
	checkEncrypted(t, rec, s.content)
}

// TestEncryptedTransmission: Transmission with encryption required (-er)
// downloads from tt with encryption required, and tt from it.
func TestEncryptedTransmission(t *testing.T) {
	tr := Need(t, "transmission-cli")
	t.Run("tt seeds", func(t *testing.T) {
		s := newSwarm(t, layouts[0], "16KiB")
		port, finished := s.transmissionGet(t, "-er")
		rec := newRecorder(t, fmt.Sprintf("127.0.0.1:%d", port))
		s.ttSeed(t, "--no-trackers", "--encryption", "require", "--peer", rec.addr())
		finished()
		checkEncrypted(t, rec, s.content)
	})
	t.Run("tt gets", func(t *testing.T) {
		s := newSwarm(t, layouts[1], "32KiB")
		port := FreePort(t)
		Start(t, s.dir, tr, "-g", transmissionConfig(t, s.dir, false), "-M", "-er", "-p", strconv.Itoa(port), "-w", filepath.Dir(s.content), s.torrent)
		WaitListening(t, port, 30*time.Second)
		s.ttGet(t, "--no-trackers", "--encryption", "require", "--peer", fmt.Sprintf("127.0.0.1:%d", port))
	})
}

// TestPreferFallsBackToPlaintext: a peer that refuses MSE (libtorrent
// with encryption disabled) still serves a tt that prefers it: tt's MSE
// handshake fails and it dials again in plaintext.
func TestPreferFallsBackToPlaintext(t *testing.T) {
	NeedLibtorrent(t)
	s := newSwarm(t, layouts[0], "32KiB")
	port := s.ltSeed(t, "--encryption", "disable")
	s.ttGet(t, "--no-trackers", "--encryption", "prefer", "--peer", fmt.Sprintf("127.0.0.1:%d", port))
	// And tt with encryption required gives up on it.
	out := filepath.Join(s.dir, "refused")
	p := Start(t, s.dir, s.tt, "get", "--no-dht", "--no-lsd", "-q", "--no-trackers", "--encryption", "require", "--peer", fmt.Sprintf("127.0.0.1:%d", port),
		"--stall-timeout", "3s", "-o", out, s.torrent)
	if code := p.WaitExit(t, 30*time.Second); code != 11 {
		t.Fatalf("tt get --encryption require against a plaintext-only peer exited %d, want 11 (no peers)", code)
	}
}
