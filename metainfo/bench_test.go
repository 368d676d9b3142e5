package metainfo

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"tt/bencode"
)

// bigTorrent builds a multi-file torrent listing n files the way large
// collections look: a few top-level folders, sub-folders of a few dozen
// files each, paths of 2 to 4 components, non-ASCII folder names, empty
// files, and lengths spread over several orders of magnitude. It is
// deterministic.
func bigTorrent(tb testing.TB, n int) []byte {
	tb.Helper()
	r := rand.New(rand.NewPCG(1, 2))
	words := []string{"Season", "Disc", "Extras", "Subs", "Samples", "Artwork", "Album", "CD", "Track", "Chapter",
		"Part", "Vol", "Scans", "Docs", "src", "lib", "data", "images", "Bonus Material", "Behind the Scenes", "Музыка", "写真"}
	exts := []string{".flac", ".mp3", ".mkv", ".srt", ".jpg", ".png", ".txt", ".nfo", ".pdf", ".dat", ".go", ".json"}
	files := make([]m, 0, n)
	var total int64
	for t := 0; len(files) < n; t++ {
		top := fmt.Sprintf("%s %03d", words[r.IntN(len(words))], t)
		for s := range 1 + r.IntN(8) {
			sub := fmt.Sprintf("%s %d", words[r.IntN(len(words))], s+1)
			for f := range 1 + r.IntN(60) {
				if len(files) == n {
					break
				}
				name := fmt.Sprintf("%02d - %s %d%s", f+1, strings.Repeat("x", r.IntN(20)), r.IntN(100000), exts[r.IntN(len(exts))])
				var path []string
				switch r.IntN(4) {
				case 0:
					path = []string{top, name}
				case 1, 2:
					path = []string{top, sub, name}
				default:
					path = []string{top, sub, fmt.Sprintf("d%d", f%5), name}
				}
				length := int64(r.ExpFloat64() * 2e6)
				if r.IntN(50) == 0 {
					length = 0
				}
				files = append(files, m{"length": length, "path": path})
				total += length
			}
		}
	}
	pl := int64(4 << 20)
	data, err := bencode.Marshal(m{
		"announce":      "udp://tracker.example.org:6969/announce",
		"announce-list": [][]string{{"udp://tracker.example.org:6969/announce"}, {"http://tracker.example.net/announce"}},
		"comment":       "a large collection", "created by": "tt/0.1.0", "creation date": 1700000000,
		"info": m{"name": "Collection", "piece length": pl, "files": files, "pieces": pieces(int((total + pl - 1) / pl))},
	})
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

func BenchmarkParse100k(b *testing.B) {
	data := bigTorrent(b, 100000)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(data, Options{Lenient: true}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLint100k(b *testing.B) {
	data := bigTorrent(b, 100000)
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		t, err := Parse(data, Options{Lenient: true})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if fs := Lint(t); len(fs) != 0 {
			b.Fatal(fs)
		}
	}
}
