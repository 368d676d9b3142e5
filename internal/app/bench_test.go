package app

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"tt/bencode"
)

// BenchmarkInspectJSON100k: tt inspect --json of a torrent listing 100,000 files.
func BenchmarkInspectJSON100k(b *testing.B) {
	path := bigTorrent(b, 1<<20, func(i int) []string {
		return []string{fmt.Sprintf("dir%03d", i%1000), fmt.Sprintf("sub%02d", i%37), fmt.Sprintf("file%06d.dat", i)}
	}, func(i int) int64 { return int64(i%65536 + 1) })
	benchInspect(b, InspectOptions{Target: path, JSON: true})
}

// BenchmarkInspectHuman100k: tt inspect (the tree view) of a torrent listing
// 100,000 files in nested directories.
func BenchmarkInspectHuman100k(b *testing.B) {
	path := bigTorrent(b, 4<<20, func(i int) []string {
		p := []string{fmt.Sprintf("disc %02d", i/5000), fmt.Sprintf("track %04d.flac", i)}
		if i%3 != 0 {
			p = []string{p[0], fmt.Sprintf("part %d", i/50%100), fmt.Sprintf("scans %d", i/10%10), p[1]}
		}
		return p
	}, func(i int) int64 { return int64(i*7919%3000000 + 1) })
	benchInspect(b, InspectOptions{Target: path, Files: true})
}

// bigTorrent writes a torrent of 100,000 files named and sized by path and
// length, and returns its path.
func bigTorrent(b *testing.B, pl int64, path func(int) []string, length func(int) int64) string {
	type file struct {
		Length int64    `bencode:"length"`
		Path   []string `bencode:"path"`
	}
	files := make([]file, 100000)
	var total int64
	for i := range files {
		files[i] = file{Length: length(i), Path: path(i)}
		total += files[i].Length
	}
	data, err := bencode.Marshal(map[string]any{"announce": "http://127.0.0.1:1/announce", "info": map[string]any{
		"name": "big", "piece length": pl, "files": files, "pieces": strings.Repeat("x", int(20*((total+pl-1)/pl))),
	}})
	if err != nil {
		b.Fatal(err)
	}
	p := filepath.Join(b.TempDir(), "big.torrent")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		b.Fatal(err)
	}
	return p
}

func benchInspect(b *testing.B, o InspectOptions) {
	env := &Env{Stdout: io.Discard, Stderr: io.Discard, Dir: "/", Getenv: os.Getenv}
	b.ReportAllocs()
	for b.Loop() {
		if err := Inspect(context.Background(), env, o); err != nil {
			b.Fatal(err)
		}
	}
}
