package interop

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The LEDBAT test: namespaces A — R — B, R forwarding, its link towards B
// shaped by tbf to linkMbit with a queue of up to 400 ms (the bottleneck
// queue sits in the path, not on the sending host, where Linux's TCP small
// queues would cap a local TCP flow's share of it). A uTP transfer A → B
// runs alone for phase1, then a bulk TCP flow A → B (CUBIC, a loss-based
// TCP that fills queues) starts beside it for phase2. A ping A → B every
// 200 ms sees the queue.
const (
	linkMbit = 50
	phase1   = 15 * time.Second
	phase2   = 12 * time.Second
)

type ledbatResult struct {
	Sender          string
	UTPMbit         float64 // uTP payload rate alone, over the last 10 s of phase 1
	PingAloneMs     float64 // median ping while uTP runs alone (same window)
	TCPMbitBySecond []float64
	TCPReached70    time.Duration // since the TCP flow started; 0 if never
	UTPMbitWithTCP  float64       // uTP payload rate in the last 5 s of phase 2
	PingWithTCPMs   float64
	TCPMbitLast5    float64
	QueueLimitMs    float64
	UTPMbitBySecond []float64 // between tt's progress events (about a second apart)
	Drops           string    // tbf's counters at the end
}

func TestLEDBAT(t *testing.T) {
	if _, err := exec.LookPath("tc"); err != nil {
		missing(t, "tc (iproute2) not installed")
	}
	for _, sender := range []string{"tt", "libtorrent"} {
		t.Run(sender, func(t *testing.T) {
			if sender == "libtorrent" {
				NeedLibtorrent(t)
			}
			r := ledbatRun(t, sender)
			b, _ := json.Marshal(r)
			t.Logf("LEDBAT %s", b)
			if r.UTPMbit <= 0 || r.TCPMbitLast5 <= 0 || r.PingAloneMs <= 0 {
				t.Fatalf("%s: a flow or the ping was not measured", sender)
			}
			if sender != "tt" {
				return // its figures are for comparison only
			}
			if r.UTPMbit < 0.8*linkMbit {
				t.Errorf("uTP alone used %.1f Mbit/s, under 80%% of the %d Mbit/s link", r.UTPMbit, linkMbit)
			}
			if r.PingAloneMs > 200 {
				t.Errorf("uTP alone: ping %.0f ms, want near the 100 ms target (queue limit 400 ms)", r.PingAloneMs)
			}
			if r.TCPReached70 == 0 || r.TCPReached70 > 10*time.Second {
				t.Errorf("TCP beside uTP: 70%% of the link reached after %s (per second: %.1f)", r.TCPReached70, r.TCPMbitBySecond)
			}
		})
	}
}

var pingTime = regexp.MustCompile(`time=([0-9.]+) ms`)

func ledbatRun(t *testing.T, sender string) ledbatResult {
	a, r, b := NewRoutedNetns(t)
	dir := t.TempDir()
	tt := BuildTT(t, dir)
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
	}
	run("ip", "netns", "exec", r.Name, "tc", "qdisc", "add", "dev", r.Dev, "root", "tbf",
		"rate", fmt.Sprintf("%dmbit", linkMbit), "burst", "128kb", "latency", "400ms") // burst above a 64 KiB GSO segment

	content, torrent := payloadTorrent(t, tt, dir, 192<<20, "1MiB")

	port := 40000 + os.Getpid()%20000
	switch sender {
	case "tt":
		Start(t, dir, "ip", a.Cmd(tt, "seed", "-q", "--no-dht", "--no-lsd", "--no-trackers", "--port", strconv.Itoa(port), torrent, content)...)
	default:
		p := Start(t, dir, "ip", a.Cmd(LibtorrentPython, Script("lt_peer.py"), "seed", torrent, filepath.Dir(content),
			"--transport", "utp", "--listen", a.IP, "--port", strconv.Itoa(port))...)
		p.WaitLine(t, 60*time.Second, func(l string) bool { return JSONField(l, "event") == "listening" })
	}
	get := Start(t, dir, "ip", b.Cmd(tt, "get", "--json", "--status-interval", "1s", "--no-dht", "--no-lsd", "--no-trackers",
		"--transport", "utp", "--peer", fmt.Sprintf("%s:%d", a.IP, port), "--stall-timeout", "60s", "-o", filepath.Join(dir, "got"), torrent)...)
	get.WaitLine(t, 60*time.Second, func(l string) bool { return JSONField(l, "type") == "peer_connected" })
	start := time.Now()
	ping := Start(t, dir, "ip", a.Cmd("ping", "-n", "-i", "0.2", b.IP)...)
	pingAt := func(from, to time.Duration) []float64 {
		// ping prints a line per reply; reply i was sent about 200 ms × i
		// after the start.
		var ms []float64
		i := 0
		for _, l := range ping.Lines() {
			m := pingTime.FindStringSubmatch(l)
			if m == nil {
				continue
			}
			at := time.Duration(i) * 200 * time.Millisecond
			i++
			if at >= from && at < to {
				v, _ := strconv.ParseFloat(m[1], 64)
				ms = append(ms, v)
			}
		}
		return ms
	}
	time.Sleep(phase1) // the measurement window, not a readiness wait

	recv := Start(t, dir, "ip", b.Cmd(LibtorrentPython, Script("tcp_flow.py"), "recv", strconv.Itoa(port+1))...)
	recv.WaitLine(t, 20*time.Second, func(l string) bool { return JSONField(l, "event") == "listening" })
	tcpStart := time.Now()
	Start(t, dir, "ip", a.Cmd(LibtorrentPython, Script("tcp_flow.py"), "send", b.IP, strconv.Itoa(port+1), "cubic")...)
	time.Sleep(phase2)
	end := time.Now()

	res := ledbatResult{Sender: sender, QueueLimitMs: 400}
	down := progress(t, get.Lines())
	res.UTPMbit = rateMbit(down, start.Add(phase1-10*time.Second), start.Add(phase1))
	res.UTPMbitWithTCP = rateMbit(down, end.Add(-5*time.Second), end)
	res.PingAloneMs = median(pingAt(phase1-10*time.Second, phase1))
	res.PingWithTCPMs = median(pingAt(end.Sub(start)-5*time.Second, end.Sub(start)))
	var tcp []sample
	for _, l := range recv.Lines() {
		var s struct {
			T     float64
			Bytes int64
		}
		if json.Unmarshal([]byte(l), &s) == nil && s.T > 0 {
			tcp = append(tcp, sample{time.Unix(0, int64(s.T*1e9)), s.Bytes})
		}
	}
	for sec := 1; sec <= int(phase2/time.Second); sec++ {
		at := tcpStart.Add(time.Duration(sec) * time.Second)
		m := rateMbit(tcp, at.Add(-time.Second), at)
		res.TCPMbitBySecond = append(res.TCPMbitBySecond, m)
		if res.TCPReached70 == 0 && m >= 0.7*linkMbit {
			res.TCPReached70 = time.Duration(sec) * time.Second
		}
	}
	res.TCPMbitLast5 = rateMbit(tcp, end.Add(-5*time.Second), end)
	for i := 1; i < len(down); i++ {
		if down[i].at.After(start) && !down[i].at.After(end) {
			res.UTPMbitBySecond = append(res.UTPMbitBySecond, rateMbit(down[i-1:i+1], down[i-1].at, down[i].at))
		}
	}
	if out, err := exec.Command("ip", "netns", "exec", r.Name, "tc", "-s", "qdisc", "show", "dev", r.Dev).Output(); err == nil {
		if i := strings.Index(string(out), "(dropped"); i >= 0 {
			res.Drops = strings.SplitN(string(out)[i:], ")", 2)[0] + ")"
		}
	}
	return res
}

type sample struct {
	at    time.Time
	bytes int64
}

// progress reads the downloaded bytes of tt's progress events.
func progress(t *testing.T, lines []string) []sample {
	var out []sample
	for _, l := range lines {
		if JSONField(l, "type") != "progress" {
			continue
		}
		at, err := time.Parse(time.RFC3339Nano, JSONField(l, "time"))
		if err != nil {
			continue
		}
		n, _ := strconv.ParseFloat(JSONField(l, "downloaded"), 64)
		out = append(out, sample{at, int64(n)})
	}
	return out
}

// rateMbit is the rate between the samples nearest from and to.
func rateMbit(s []sample, from, to time.Time) float64 {
	var a, b *sample
	for i := range s {
		if a == nil && !s[i].at.Before(from) {
			a = &s[i]
		}
		if !s[i].at.After(to) {
			b = &s[i]
		}
	}
	if a == nil || b == nil || !b.at.After(a.at) {
		return 0
	}
	return float64(b.bytes-a.bytes) * 8 / 1e6 / b.at.Sub(a.at).Seconds()
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	v = slices.Clone(v)
	slices.Sort(v)
	return v[len(v)/2]
}
