//go:build linux

package session

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"tt/peerwire"
)

// emfileChild marks the process that runs TestListenerRecoversFromEMFILE
// with a lowered descriptor limit, so that the limit touches no other test.
const emfileChild = "TT_TEST_EMFILE_CHILD"

// TestListenerRecoversFromEMFILE: with more connections waiting to be
// accepted than descriptors left, Serve reports each Accept that fails
// with EMFILE, keeps going, and once descriptors are free again accepts a
// new connection and answers its handshake.
func TestListenerRecoversFromEMFILE(t *testing.T) {
	if os.Getenv(emfileChild) == "1" {
		listenerRecoversFromEMFILE(t)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestListenerRecoversFromEMFILE$", "-test.v", "-test.count=1", "-test.timeout=50s")
	cmd.Env = append(os.Environ(), emfileChild+"=1")
	out, err := cmd.CombinedOutput()
	t.Logf("child:\n%s", out)
	if err != nil {
		t.Fatalf("child: %v", err)
	}
	if !strings.Contains(string(out), "--- PASS: TestListenerRecoversFromEMFILE") {
		t.Fatal("the child did not run the test")
	}
}

func listenerRecoversFromEMFILE(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tor, content := makeTorrent(t, 256<<10, 16<<10, nil)
	s, err := New(Config{Torrent: tor, Store: newMemStore(tor, content), Have: allHave(tor.NumPieces()), Seed: true})
	if err != nil {
		t.Fatal(err)
	}
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	runDone := make(chan error, 1)
	go func() { runDone <- s.Run(sctx) }()
	defer func() { stop(); <-runDone }()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()

	// Connections the kernel completes while nobody accepts them; they
	// send nothing, so each one accepted holds its descriptor for the
	// whole handshake timeout.
	const waiting, spare = 16, 2
	var clients []net.Conn
	closeClients := func() {
		for _, c := range clients {
			c.Close()
		}
		clients = nil
	}
	defer closeClients()
	for range waiting {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
	}

	// Leave only a few descriptors: fewer than the connections waiting.
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	used := map[int]bool{}
	for _, e := range fds {
		if n, err := strconv.Atoi(e.Name()); err == nil {
			used[n] = true
		}
	}
	// Descriptors take the lowest free number: the limit goes just past
	// the spare-th free one.
	limit := 0
	for free := 0; free < spare; limit++ {
		if !used[limit] {
			free++
		}
	}
	var old unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &old); err != nil {
		t.Fatal(err)
	}
	low := old
	low.Cur = uint64(limit)
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &low); err != nil {
		t.Fatal(err)
	}
	restored := false
	restore := func() {
		if !restored {
			restored = true
			if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &old); err != nil {
				t.Error(err)
			}
		}
	}
	defer restore()
	t.Logf("%d descriptors open; limit lowered to %d", len(used), limit)

	paused := make(chan error, 128)
	serveDone := make(chan error, 1)
	go func() {
		serveDone <- ServeWith(sctx, ln, One{S: s}, ServeOptions{Paused: func(err error, _ time.Duration) {
			select {
			case paused <- err:
			default:
			}
		}})
	}()
	// The handshakes Serve waits for end when their clients do.
	defer func() { closeClients(); stop(); <-serveDone }()

	// Two reports in a row: the first Accept that ran out, and the retry
	// after the pause, which ran out again (Serve carried on).
	for i := range 2 {
		select {
		case err := <-paused:
			if !errors.Is(err, syscall.EMFILE) {
				t.Fatalf("accept error %v, want EMFILE", err)
			}
		case err := <-serveDone:
			t.Fatalf("Serve returned %v while out of descriptors", err)
		case <-time.After(10 * time.Second):
			t.Fatalf("%d accept errors reported, want 2", i)
		}
	}

	// Free the descriptors: the waiting connections end (each side is in
	// this process), the accepted ones with them.
	closeClients()

	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ours := peerwire.Handshake{InfoHash: tor.InfoHash, PeerID: NewPeerID()}
	theirs, err := peerwire.HandshakeOutgoing(c, ours, time.Now().Add(10*time.Second))
	if err != nil {
		t.Fatalf("handshake after descriptors were freed: %v", err)
	}
	if theirs.PeerID != s.Handshake().PeerID {
		t.Fatalf("handshake answered with peer id %x, want the session's", theirs.PeerID)
	}
	restore()
	select {
	case err := <-serveDone:
		t.Fatalf("Serve returned %v", err)
	default:
	}
}
