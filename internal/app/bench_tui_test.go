package app

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// frameCounter counts the writes the live view makes (one a frame).
type frameCounter struct{ writes, bytes atomic.Int64 }

func (f *frameCounter) Write(p []byte) (int, error) {
	f.writes.Add(1)
	f.bytes.Add(int64(len(p)))
	return len(p), nil
}

// BenchmarkTUICost downloads from 200 in-process seeders on loopback at
// full speed, with and without the live view, and reports the process's
// CPU time for the download and the frames drawn per second. The view's
// cost is the difference between the two.
//
//	go test -run '^$' -bench TUICost -benchtime 3x ./internal/app/
func BenchmarkTUICost(b *testing.B) {
	for _, mode := range []string{TUIOff, TUIOn} {
		name := map[string]string{TUIOff: "no-tui", TUIOn: "tui"}[mode]
		b.Run(name, func(b *testing.B) {
			var wall, cpu time.Duration
			var frames int64
			for i := 0; i < b.N; i++ {
				fc := &frameCounter{}
				var out syncBuffer
				env := demoEnv(b, &out, nil)
				env.Stderr = fc
				err := Demo(context.Background(), env, DemoOptions{Size: 1 << 30, Seeders: 200, Rate: 0,
					Swarm:    SwarmOptions{TUI: mode, Quiet: mode == TUIOff, MaxPeers: 250, StatusInterval: time.Hour},
					Measured: func(w, c time.Duration) { wall += w; cpu += c }})
				if err != nil {
					b.Fatal(err)
				}
				frames += fc.writes.Load()
			}
			n := float64(b.N)
			b.ReportMetric(wall.Seconds()/n, "wall-s/op")
			b.ReportMetric(cpu.Seconds()/n, "cpu-s/op")
			b.ReportMetric(float64(frames)/wall.Seconds(), "writes/s")
			b.Logf("%s: %s wall, %s CPU, %d writes to the terminal", name, wall/time.Duration(b.N), cpu/time.Duration(b.N), frames/int64(b.N))
		})
	}
}
