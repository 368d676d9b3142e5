package interop

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// BenchmarkDHTMagnet measures, in a local DHT of 20 tt nodes with a
// libtorrent seeder announced in it, how long a magnet link with nothing
// but its info-hash takes to give the metadata and the first verified
// piece: tt get against libtorrent doing the same, one after the other in
// each iteration. Times run from starting the process; libtorrent's own
// figures from its session being up and tt's from its "listening" event
// are reported too (*_inner_*).
// Run by scripts/bench-dht.
func BenchmarkDHTMagnet(b *testing.B) {
	NeedLibtorrent(b)
	dir := b.TempDir()
	tt := BuildTT(b, dir)
	content, torrent := payloadTorrent(b, tt, dir, 64<<20, "256KiB")
	var info struct{ Infohash string }
	json.Unmarshal([]byte(run(b, tt, "inspect", "--json", "--no-files", torrent)), &info)
	magnet := "magnet:?xt=urn:btih:" + info.Infohash

	d := startLocalDHT(b, 20)
	lt := Start(b, dir, LibtorrentPython, Script("lt_peer.py"), "seed", torrent, filepath.Dir(content), "--dht-bootstrap", d.addrs[0])
	lt.WaitLine(b, 60*time.Second, func(l string) bool { return JSONField(l, "event") == "dht" })
	waitFor(b, 60*time.Second, "the seeder's announce", func() bool { return d.peersStored() > 0 })

	var ttMeta, ttPiece, ltMeta, ltPiece, ttInnerMeta, ttInnerPiece, ltInnerMeta, ltInnerPiece time.Duration
	b.ResetTimer()
	for i := range b.N {
		it := filepath.Join(dir, strconv.Itoa(i))
		os.MkdirAll(it, 0o755)
		node := d.addrs[(3+i)%len(d.addrs)]

		start := time.Now()
		p := Start(b, it, tt, "get", "--json", "--no-trackers", "--bind", "127.0.0.1", "--dht-bootstrap", node,
			"--dht-state", filepath.Join(it, "dht.dat"), "--stall-timeout", "60s", "-o", filepath.Join(it, "tt"), magnet)
		up := eventTime(b, p.WaitLine(b, 60*time.Second, func(l string) bool { return JSONField(l, "type") == "listening" }))
		line := p.WaitLine(b, 60*time.Second, func(l string) bool { return JSONField(l, "type") == "metadata" })
		ttMeta += time.Since(start)
		ttInnerMeta += eventTime(b, line).Sub(up)
		line = p.WaitLine(b, 60*time.Second, func(l string) bool { return JSONField(l, "type") == "piece_verified" })
		ttPiece += time.Since(start)
		ttInnerPiece += eventTime(b, line).Sub(up)
		if code := p.WaitExit(b, 120*time.Second); code != 0 {
			b.Fatalf("tt get exited %d: %s", code, p.Stderr())
		}

		start = time.Now()
		l := Start(b, it, LibtorrentPython, Script("lt_peer.py"), "magnet", magnet, filepath.Join(it, "lt"),
			"--dht-bootstrap", node, "--timeout", "120")
		line = l.WaitLine(b, 60*time.Second, func(l string) bool { return JSONField(l, "event") == "metadata" })
		ltMeta += time.Since(start)
		ltInnerMeta += seconds(b, JSONField(line, "seconds"))
		line = l.WaitLine(b, 60*time.Second, func(l string) bool { return JSONField(l, "event") == "first_piece" })
		ltPiece += time.Since(start)
		ltInnerPiece += seconds(b, JSONField(line, "seconds"))
		l.WaitLine(b, 120*time.Second, func(l string) bool { return JSONField(l, "event") == "finished" })
		l.Kill()
	}
	n := float64(b.N)
	for _, m := range []struct {
		d    time.Duration
		name string
	}{{ttMeta, "tt_metadata_s"}, {ttPiece, "tt_first_piece_s"}, {ltMeta, "lt_metadata_s"}, {ltPiece, "lt_first_piece_s"},
		{ttInnerMeta, "tt_inner_metadata_s"}, {ttInnerPiece, "tt_inner_first_piece_s"},
		{ltInnerMeta, "lt_inner_metadata_s"}, {ltInnerPiece, "lt_inner_first_piece_s"}} {
		b.ReportMetric(m.d.Seconds()/n, m.name)
	}
}

// eventTime is the time of an NDJSON event.
func eventTime(t testing.TB, line string) time.Time {
	tm, err := time.Parse(time.RFC3339Nano, JSONField(line, "time"))
	if err != nil {
		t.Fatalf("event time in %q: %v", line, err)
	}
	return tm
}

func seconds(t testing.TB, s string) time.Duration {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("seconds %q: %v", s, err)
	}
	return time.Duration(f * float64(time.Second))
}

// payloadTorrent writes a file of size bytes under dir/seed and a torrent
// of it with the given piece length; it returns both paths.
func payloadTorrent(t testing.TB, tt, dir string, size int, pieceLen string) (content, torrent string) {
	t.Helper()
	content = filepath.Join(dir, "seed", "payload.bin")
	os.MkdirAll(filepath.Dir(content), 0o755)
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i*13 + i>>12)
	}
	if err := os.WriteFile(content, data, 0o644); err != nil {
		t.Fatal(err)
	}
	torrent = filepath.Join(dir, "payload.torrent")
	run(t, tt, "create", "-q", "-l", pieceLen, "-o", torrent, content)
	return content, torrent
}
