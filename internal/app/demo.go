package app

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"tt/internal/session"
	"tt/internal/storage"
	"tt/internal/tracker"
	"tt/metainfo"
)

// DemoOptions are the inputs of `tt demo`.
type DemoOptions struct {
	Keep    string // keep the generated files in this directory; "" = a temporary one, removed
	Size    int64  // content size in bytes
	Seeders int
	Rate    int64 // each seeder's upload limit, bytes/s (0: none)
	Swarm   SwarmOptions
	// Measured, if set, receives the wall time and the process's CPU time
	// (user + system) of the download alone.
	Measured func(wall, cpu time.Duration)
}

// demoFiles is the shape of the generated content: a small release with a
// few large files, some small ones and sizes that straddle pieces.
var demoFiles = []struct {
	path  string
	share float64 // of the total size
}{
	{"README.txt", 0},
	{"video/episode-01.mkv", 0.30},
	{"video/episode-02.mkv", 0.27},
	{"video/episode-03.mkv", 0.23},
	{"audio/soundtrack.flac", 0.12},
	{"extras/making-of.mp4", 0.077},
	{"extras/subtitles/en.srt", 0.002},
	{"extras/subtitles/fr.srt", 0.001},
}

// Demo builds a swarm on loopback (an embedded tracker and a few seeders
// of generated content, all in this process) and downloads from it with
// the same engine and view as `tt get`.
func Demo(ctx context.Context, env *Env, o DemoOptions) error {
	if o.Size <= 0 {
		o.Size = 128 << 20
	}
	if o.Seeders <= 0 {
		o.Seeders = 3
	}
	work := env.Path(o.Keep)
	if o.Keep == "" {
		d, err := os.MkdirTemp("", "tt-demo-")
		if err != nil {
			return Exit(ExitIO, err)
		}
		work = d
		defer os.RemoveAll(work)
	} else if ents, err := os.ReadDir(work); err == nil && len(ents) > 0 {
		return Exit(ExitExists, fmt.Errorf("demo: %s is not empty (name a new or empty directory for --keep)", o.Keep))
	} else if err := os.MkdirAll(work, 0o755); err != nil {
		return Exit(ExitIO, err)
	}
	quiet := o.Swarm.Quiet || o.Swarm.JSON
	say := func(format string, args ...any) {
		if !quiet {
			fmt.Fprintf(env.Stderr, "tt demo: "+format+"\n", args...)
		}
	}

	content := filepath.Join(work, "seed", "tt-demo")
	say("writing %s of sample content", FormatSize(o.Size))
	if err := writeDemoContent(content, o.Size); err != nil {
		return Exit(ExitIO, err)
	}

	srv, err := tracker.NewServer(tracker.ServerConfig{HTTPAddr: "127.0.0.1:0", UDPAddr: "127.0.0.1:0",
		Interval: 30 * time.Second, MinInterval: 5 * time.Second, ErrorLog: log.New(io.Discard, "", 0)})
	if err != nil {
		return Exit(ExitFailure, fmt.Errorf("demo: tracker: %w", err))
	}
	defer srv.Close()

	torrent := filepath.Join(work, "tt-demo.torrent")
	sub := &Env{Stdin: env.Stdin, Stdout: io.Discard, Stderr: io.Discard, Dir: work, Getenv: env.Getenv, Now: env.Now}
	if err := Create(ctx, sub, CreateOptions{Source: content, Output: torrent, PieceLength: "256KiB",
		Trackers: []string{srv.HTTPAnnounceURL(), srv.UDPAnnounceURL()}, Comment: "tt demo", Quiet: true}); err != nil {
		return err
	}
	t, err := loadTorrent(env, torrent)
	if err != nil {
		return err
	}
	say("tracker on %s and %s; %d seeders at %s/s each", srv.HTTPAddr(), srv.UDPAddr(), o.Seeders, FormatSize(o.Rate))

	seedCtx, stopSeeds := context.WithCancel(ctx)
	defer stopSeeds()
	done := make(chan error, o.Seeders)
	for i := 0; i < o.Seeders; i++ {
		if err := startDemoSeeder(seedCtx, t, content, o.Rate, done); err != nil {
			return Exit(ExitFailure, fmt.Errorf("demo: seeder %d: %w", i+1, err))
		}
	}

	g := o.Swarm
	g.Torrent, g.Dir = torrent, filepath.Join(work, "download")
	if g.Bind == "" {
		g.Bind = "127.0.0.1"
	}
	if g.StallTimeout == 0 {
		g.StallTimeout = 30 * time.Second
	}
	wall0, cpu0 := time.Now(), processCPU()
	err = runSwarm(ctx, env, g, false)
	if o.Measured != nil {
		o.Measured(time.Since(wall0), processCPU()-cpu0)
	}
	stopSeeds()
	for i := 0; i < o.Seeders; i++ {
		<-done
	}
	if err != nil {
		return err
	}
	if o.Keep != "" {
		say("kept %s (the torrent, the seeders' content and the download)", o.Keep)
	}
	return nil
}

// processCPU is the user and system time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// startDemoSeeder runs one seeding session with its own listener.
func startDemoSeeder(ctx context.Context, t *metainfo.Torrent, content string, rate int64, done chan<- error) error {
	store, err := storage.Open(t, "", storage.Options{ContentPath: content, ReadOnly: true})
	if err != nil {
		return err
	}
	have := make([]bool, t.NumPieces())
	for i := range have {
		have[i] = true
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		store.Close()
		return err
	}
	port := uint16(ln.Addr().(*net.TCPAddr).Port)
	s, err := session.New(session.Config{Torrent: t, Store: store, Have: have, Port: port, Seed: true,
		UploadRate: rate, Tracker: &tracker.Client{}, ClientName: "tt-demo-seeder " + Version})
	if err != nil {
		ln.Close()
		store.Close()
		return err
	}
	// A seeder whose listener fails is of no use: it ends with that error.
	sctx, stop := context.WithCancelCause(ctx)
	go func() {
		if err := session.Serve(sctx, ln, session.One{S: s}); err != nil {
			stop(fmt.Errorf("demo seeder: listener: %w", err))
		}
	}()
	go func() {
		err := s.Run(sctx)
		if cause := context.Cause(sctx); ctx.Err() == nil && cause != nil {
			err = cause
		}
		stop(nil)
		ln.Close()
		store.Close()
		if errors.Is(err, context.Canceled) {
			err = nil
		}
		done <- err
	}()
	return nil
}

// writeDemoContent writes the sample files: text for the README, a
// reproducible pseudo-random stream for the rest.
func writeDemoContent(root string, total int64) error {
	rng := uint64(0x7474_6465_6d6f) // "ttdemo"
	buf := make([]byte, 1<<20)
	for _, f := range demoFiles {
		p := filepath.Join(root, filepath.FromSlash(f.path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		out, err := os.Create(p)
		if err != nil {
			return err
		}
		w := bufio.NewWriter(out)
		if f.share == 0 {
			fmt.Fprintf(w, "tt demo content\n\nGenerated by tt demo: a swarm on this machine only (127.0.0.1).\n")
		} else {
			n := int64(float64(total)*f.share) + 12345 // odd sizes: files straddle pieces
			for n > 0 {
				b := buf[:min(int64(len(buf)), n)]
				for i := 0; i+8 <= len(b); i += 8 {
					rng ^= rng << 13
					rng ^= rng >> 7
					rng ^= rng << 17
					b[i], b[i+1], b[i+2], b[i+3] = byte(rng), byte(rng>>8), byte(rng>>16), byte(rng>>24)
					b[i+4], b[i+5], b[i+6], b[i+7] = byte(rng>>32), byte(rng>>40), byte(rng>>48), byte(rng>>56)
				}
				w.Write(b)
				n -= int64(len(b))
			}
		}
		if err := w.Flush(); err != nil {
			out.Close()
			return err
		}
		if err := out.Close(); err != nil {
			return err
		}
	}
	return nil
}
