package piecehash

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
)

var benchData struct {
	once sync.Once
	dir  string
	path string
	size int64
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if benchData.dir != "" {
		os.RemoveAll(benchData.dir)
	}
	os.Exit(code)
}

// benchFile returns a file of PIECEHASH_BENCH_MB MiB (default 512), written
// once per test binary, or the file named by PIECEHASH_BENCH_FILE.
func benchFile(b *testing.B) (string, int64) {
	benchData.once.Do(func() {
		if p := os.Getenv("PIECEHASH_BENCH_FILE"); p != "" {
			st, err := os.Stat(p)
			if err != nil {
				benchData.err = err
				return
			}
			benchData.path, benchData.size = p, st.Size()
			return
		}
		mb := int64(512)
		if v := os.Getenv("PIECEHASH_BENCH_MB"); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				benchData.err = err
				return
			}
			mb = n
		}
		dir, err := os.MkdirTemp("", "piecehash-bench")
		if err != nil {
			benchData.err = err
			return
		}
		benchData.dir = dir
		benchData.path = filepath.Join(dir, "data")
		benchData.size = mb << 20
		benchData.err = writeRandomFile(benchData.path, benchData.size, 1)
	})
	if benchData.err != nil {
		b.Fatal(benchData.err)
	}
	return benchData.path, benchData.size
}

// writeRandomFile writes size pseudo-random bytes derived from seed.
func writeRandomFile(path string, size int64, seed uint64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	buf := make([]byte, 1<<20)
	for size > 0 {
		for i := 0; i < len(buf); i += 8 {
			v := r.Uint64()
			for j := range 8 {
				buf[i+j] = byte(v >> (8 * j))
			}
		}
		n := min(int64(len(buf)), size)
		if _, err := f.Write(buf[:n]); err != nil {
			f.Close()
			return err
		}
		size -= n
	}
	return f.Close()
}

func BenchmarkHash(b *testing.B) {
	path, size := benchFile(b)
	files := []File{{Path: path, Length: size}}
	// Warm the page cache.
	if _, err := Hash(context.Background(), files, 1<<20, Options{}); err != nil {
		b.Fatal(err)
	}
	for _, pl := range []int64{16 << 10, 256 << 10, 1 << 20, 4 << 20, 64 << 20} {
		b.Run(fmt.Sprintf("piece=%dKiB", pl>>10), func(b *testing.B) {
			b.SetBytes(size)
			for b.Loop() {
				if _, err := Hash(context.Background(), files, pl, Options{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkHashTree hashes 2000 files of about 256 KiB each.
func BenchmarkHashTree(b *testing.B) {
	dir := b.TempDir()
	var files []File
	var total int64
	r := rand.New(rand.NewPCG(7, 7))
	for i := range 2000 {
		n := int64(r.IntN(512 << 10))
		p := filepath.Join(dir, fmt.Sprintf("f%04d", i))
		if err := writeRandomFile(p, n, uint64(i)); err != nil {
			b.Fatal(err)
		}
		files = append(files, File{Path: p, Length: n})
		total += n
	}
	b.SetBytes(total)
	for b.Loop() {
		if _, err := Hash(context.Background(), files, 256<<10, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHashVariants compares read settings on the same data.
func BenchmarkHashVariants(b *testing.B) {
	path, size := benchFile(b)
	files := []File{{Path: path, Length: size}}
	variants := []struct {
		name     string
		chunk    int
		prefetch bool
	}{
		{"default", readChunk, true},
		{"noprefetch", readChunk, false},
		{"chunk=128KiB", 128 << 10, true},
		{"chunk=256KiB", 256 << 10, true},
		{"chunk=384KiB", 384 << 10, true},
		{"chunk=1MiB", 1 << 20, true},
	}
	for _, v := range variants {
		b.Run(v.name, func(b *testing.B) {
			oc, op := readChunk, usePrefetch
			readChunk, usePrefetch = v.chunk, v.prefetch
			defer func() { readChunk, usePrefetch = oc, op }()
			b.SetBytes(size)
			for b.Loop() {
				if _, err := Hash(context.Background(), files, 1<<20, Options{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
