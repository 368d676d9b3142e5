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
	type file struct {
		Length int64    `bencode:"length"`
		Path   []string `bencode:"path"`
	}
	files := make([]file, 100000)
	var total int64
	for i := range files {
		files[i] = file{Length: int64(i%65536 + 1), Path: []string{fmt.Sprintf("dir%03d", i%1000), fmt.Sprintf("sub%02d", i%37), fmt.Sprintf("file%06d.dat", i)}}
		total += files[i].Length
	}
	pl := int64(1 << 20)
	data, err := bencode.Marshal(map[string]any{"announce": "http://127.0.0.1:1/announce", "info": map[string]any{
		"name": "big", "piece length": pl, "files": files, "pieces": strings.Repeat("x", int(20*((total+pl-1)/pl))),
	}})
	if err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(b.TempDir(), "big.torrent")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		b.Fatal(err)
	}
	env := &Env{Stdout: io.Discard, Stderr: io.Discard, Dir: "/", Getenv: os.Getenv}
	b.ReportAllocs()
	for b.Loop() {
		if err := Inspect(context.Background(), env, InspectOptions{Target: path, JSON: true}); err != nil {
			b.Fatal(err)
		}
	}
}
