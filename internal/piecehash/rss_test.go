//go:build linux

package piecehash

import (
	"bufio"
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestPeakRSS hashes the file named by PIECEHASH_RSS_FILE with several
// piece sizes and checks the peak resident set size of the whole test
// process. Run it in its own process:
//
//	PIECEHASH_RSS_FILE=/path/to/big go test -run PeakRSS -v ./internal/piecehash/
func TestPeakRSS(t *testing.T) {
	path := os.Getenv("PIECEHASH_RSS_FILE")
	if path == "" {
		t.Skip("PIECEHASH_RSS_FILE not set")
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	files := []File{{Path: path, Length: st.Size()}}
	for _, pl := range []int64{16 << 10, 256 << 10, 1 << 20, 4 << 20, 64 << 20} {
		start := time.Now()
		sums, err := Hash(context.Background(), files, pl, Options{})
		if err != nil {
			t.Fatal(err)
		}
		d := time.Since(start)
		rep, err := Verify(context.Background(), files, pl, sums, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if rep.OKPieces != len(sums)/20 {
			t.Fatalf("piece %d: %d of %d pieces ok", pl, rep.OKPieces, len(sums)/20)
		}
		t.Logf("piece %8d KiB: hash %.2f GB/s, VmHWM %d KiB", pl>>10, float64(st.Size())/d.Seconds()/1e9, peakRSSKiB(t))
	}
	if hwm := peakRSSKiB(t); hwm > 64<<10 {
		t.Fatalf("peak RSS %d KiB exceeds 64 MiB", hwm)
	}
}

func peakRSSKiB(t *testing.T) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Skip("no /proc/self/status")
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "VmHWM:"); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Skip("no VmHWM")
	return 0
}

// TestThroughput times Hash over the files named (colon-separated) by
// PIECEHASH_SPEED_PATHS, a directory being walked in name order. With
// PIECEHASH_SPEED_COLD=1 the page cache is dropped before each run (root
// only). PIECEHASH_SPEED_PIECE sets the piece length (default 1 MiB),
// PIECEHASH_SPEED_RUNS the runs per setting (default 3) and
// PIECEHASH_SPEED_PREFETCH=on|off restricts the prefetch settings tried,
// PIECEHASH_SPEED_WORKERS sets Options.Workers, PIECEHASH_SPEED_DIRECT=off
// turns direct reads off and PIECEHASH_SPEED_DIRECTMIN (KiB),
// PIECEHASH_SPEED_DIRECTBUF (KiB) and PIECEHASH_SPEED_EXTRA set directMin,
// directMaxBuf and directExtra.
func TestThroughput(t *testing.T) {
	paths := os.Getenv("PIECEHASH_SPEED_PATHS")
	if paths == "" {
		t.Skip("PIECEHASH_SPEED_PATHS not set")
	}
	var files []File
	var total int64
	for _, p := range strings.Split(paths, ":") {
		err := filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return err
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			files = append(files, File{Path: path, Length: info.Size()})
			total += info.Size()
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	pl := int64(1 << 20)
	if v := os.Getenv("PIECEHASH_SPEED_PIECE"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		pl = n
	}
	cold := os.Getenv("PIECEHASH_SPEED_COLD") == "1"
	if v := os.Getenv("PIECEHASH_SPEED_AHEAD"); v != "" {
		n, _ := strconv.ParseInt(v, 10, 64)
		prefetchAhead = n << 20
	}
	if v := os.Getenv("PIECEHASH_SPEED_STEP"); v != "" {
		n, _ := strconv.ParseInt(v, 10, 64)
		prefetchStep = n << 20
	}
	runs := 3
	if v := os.Getenv("PIECEHASH_SPEED_RUNS"); v != "" {
		runs, _ = strconv.Atoi(v)
	}
	modes := []bool{true, false}
	switch os.Getenv("PIECEHASH_SPEED_PREFETCH") {
	case "on":
		modes = []bool{true}
	case "off":
		modes = []bool{false}
	}
	if v := os.Getenv("PIECEHASH_SPEED_WHOLEMAX"); v != "" {
		n, _ := strconv.ParseInt(v, 10, 64)
		prefetchWholeMax = n << 20
	}
	workers, _ := strconv.Atoi(os.Getenv("PIECEHASH_SPEED_WORKERS"))
	ou, om, ob, oe := useDirect, directMin, directMaxBuf, directExtra
	t.Cleanup(func() { useDirect, directMin, directMaxBuf, directExtra = ou, om, ob, oe })
	if os.Getenv("PIECEHASH_SPEED_DIRECT") == "off" {
		useDirect = false
	}
	if v := os.Getenv("PIECEHASH_SPEED_DIRECTMIN"); v != "" {
		n, _ := strconv.ParseInt(v, 10, 64)
		directMin = n << 10
	}
	if v := os.Getenv("PIECEHASH_SPEED_DIRECTBUF"); v != "" {
		n, _ := strconv.Atoi(v)
		directMaxBuf = n << 10
	}
	if v := os.Getenv("PIECEHASH_SPEED_EXTRA"); v != "" {
		directExtra, _ = strconv.Atoi(v)
	}
	for _, prefetch := range modes {
		usePrefetch = prefetch
		for range runs {
			if cold {
				exec.Command("sync").Run()
				if err := os.WriteFile("/proc/sys/vm/drop_caches", []byte("3\n"), 0); err != nil {
					t.Fatal(err)
				}
			}
			var ru0, ru1 syscall.Rusage
			syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
			start := time.Now()
			if _, err := Hash(context.Background(), files, pl, Options{Workers: workers}); err != nil {
				t.Fatal(err)
			}
			d := time.Since(start)
			syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
			cpu := func(a, b syscall.Timeval) float64 { return float64(b.Nano()-a.Nano()) / 1e9 }
			t.Logf("%d files, %d MB, piece %d KiB, prefetch %v, cold %v: %.3f s, %.2f GB/s (user %.2f s, sys %.2f s)",
				len(files), total/1e6, pl>>10, prefetch, cold, d.Seconds(), float64(total)/d.Seconds()/1e9,
				cpu(ru0.Utime, ru1.Utime), cpu(ru0.Stime, ru1.Stime))
		}
	}
	usePrefetch = true
}
