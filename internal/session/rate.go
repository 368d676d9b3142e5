package session

import (
	"context"
	"time"

	"golang.org/x/time/rate"
)

// rateMeter is an exponentially weighted byte rate. The event loop owns it.
type rateMeter struct {
	rate  float64 // bytes per second
	acc   int64   // bytes since the last tick
	total int64
}

// rateTick is how often meters are folded; rateWindow their time constant.
const (
	rateTick   = time.Second
	rateWindow = 5.0 // seconds
)

func (m *rateMeter) add(n int) {
	m.acc += int64(n)
	m.total += int64(n)
}

// tick folds the bytes of the last interval into the rate.
func (m *rateMeter) tick(elapsed time.Duration) {
	secs := elapsed.Seconds()
	if secs <= 0 {
		return
	}
	inst := float64(m.acc) / secs
	alpha := secs / rateWindow
	if alpha > 1 {
		alpha = 1
	}
	if m.rate == 0 {
		m.rate = inst
	} else {
		m.rate += alpha * (inst - m.rate)
	}
	m.acc = 0
}

// bucket is a token bucket shared by the connection goroutines of one
// direction; a nil bucket does not limit. Its burst is a quarter second
// of the rate, at least 64 KiB.
type bucket struct {
	lim   *rate.Limiter
	burst int
}

func newBucket(bytesPerSec int64) *bucket {
	if bytesPerSec <= 0 {
		return nil
	}
	burst := int(max(bytesPerSec/4, 64<<10))
	return &bucket{lim: rate.NewLimiter(rate.Limit(bytesPerSec), burst), burst: burst}
}

// wait blocks until n bytes may pass, or ctx ends (or would end first,
// when it has a deadline). An n above the burst passes in burst-sized
// steps, each paced.
func (b *bucket) wait(ctx context.Context, n int) error {
	if b == nil {
		return nil
	}
	for n > 0 {
		step := min(n, b.burst)
		if err := b.lim.WaitN(ctx, step); err != nil {
			return err
		}
		n -= step
	}
	return nil
}
