package utp

import "time"

// ledbat is the delay-based congestion controller of RFC 6817 as BEP 29
// applies it: the window grows while the one-way queuing delay our packets
// see is under the target and shrinks in proportion when above it, so a
// transfer fills an idle link but gives way as soon as a queue builds.
//
// Delays are measured by the receiver against our timestamps, so they
// carry an unknown clock offset; only differences from the base delay (the
// least delay seen in the last few minutes) matter, and the base is taken
// over a sliding window so that clock drift cannot accumulate.
type ledbat struct {
	mss       float64 // bytes per packet
	cwnd      float64 // bytes
	maxCwnd   float64
	target    float64 // microseconds
	slowStart bool
	ssthresh  float64 // slow start ends here (or when delay builds)

	// base delay: minima of one-minute buckets (the last baseBuckets).
	hist      [baseBuckets]uint32
	histN     int
	bucket    uint32 // minimum of the current bucket
	bucketAt  time.Time
	haveDelay bool
	// current delay: the least of the last few samples, against noise.
	recent  [4]uint32
	recentN int
}

const (
	baseBuckets  = 3 // a base delay over 2 to 3 minutes
	bucketLength = time.Minute
	gain         = 1.0
	minCwndPkts  = 2
)

func newLEDBAT(mss int, target time.Duration, maxCwnd int) *ledbat {
	return &ledbat{mss: float64(mss), cwnd: float64(minCwndPkts * mss), maxCwnd: float64(maxCwnd),
		target: float64(target.Microseconds()), slowStart: true, ssthresh: float64(maxCwnd)}
}

// wrapMin returns the earlier of two 32-bit microsecond clock values.
func wrapMin(a, b uint32) uint32 {
	if int32(b-a) < 0 {
		return b
	}
	return a
}

// sample records a one-way delay measured by the peer.
func (l *ledbat) sample(d uint32, now time.Time) {
	if !l.haveDelay {
		l.haveDelay, l.bucket, l.bucketAt = true, d, now
	}
	if now.Sub(l.bucketAt) >= bucketLength {
		copy(l.hist[1:], l.hist[:baseBuckets-1])
		l.hist[0] = l.bucket
		l.histN = min(l.histN+1, baseBuckets)
		l.bucket, l.bucketAt = d, now
	}
	l.bucket = wrapMin(l.bucket, d)
	copy(l.recent[1:], l.recent[:len(l.recent)-1])
	l.recent[0] = d
	l.recentN = min(l.recentN+1, len(l.recent))
}

// queuing returns the current queuing delay in microseconds (0 before any
// sample).
func (l *ledbat) queuing() float64 {
	if !l.haveDelay {
		return 0
	}
	base := l.bucket
	for _, h := range l.hist[:l.histN] {
		base = wrapMin(base, h)
	}
	cur := l.recent[0]
	for _, r := range l.recent[:l.recentN] {
		cur = wrapMin(cur, r)
	}
	return float64(cur - base)
}

// acked grows or shrinks the window for bytes newly acknowledged. The
// window only grows while the sender used it (limited is set): an idle
// or application-limited connection keeps its window.
func (l *ledbat) acked(bytes int, limited bool) {
	if bytes <= 0 {
		return
	}
	q := l.queuing()
	off := (l.target - q) / l.target
	if l.slowStart {
		if q > l.target/2 || l.cwnd >= l.ssthresh {
			l.slowStart = false
		} else if limited {
			l.cwnd += float64(bytes)
		}
	}
	if !l.slowStart {
		switch {
		case off > 0 && limited:
			// RFC 6817: at most GAIN packets more per round trip.
			l.cwnd += gain * off * float64(bytes) * l.mss / l.cwnd
		case off < 0:
			// Above the target the window shrinks in proportion to how far
			// above, by at most half per round trip (as fast as TCP backs
			// off, which RFC 6817 allows): a loss-based flow filling the
			// queue gets the link within a few round trips.
			l.cwnd -= min(-off, 1) * float64(bytes) / 2
		}
	}
	l.clamp()
}

// lost halves the window (a packet was lost: a queue overflowed).
func (l *ledbat) lost() {
	l.slowStart = false
	l.cwnd /= 2
	l.clamp()
	l.ssthresh = l.cwnd
}

// timedOut collapses the window to one packet (RFC 6817 §2.4.2); it
// grows back in slow start to half of what it was.
func (l *ledbat) timedOut() {
	l.ssthresh = max(l.cwnd/2, float64(minCwndPkts)*l.mss)
	l.slowStart = true
	l.cwnd = l.mss
}

// decay halves an unused window after an idle period.
func (l *ledbat) decay() {
	l.cwnd = max(l.cwnd/2, float64(minCwndPkts)*l.mss)
}

func (l *ledbat) clamp() {
	l.cwnd = min(max(l.cwnd, float64(minCwndPkts)*l.mss), l.maxCwnd)
}
