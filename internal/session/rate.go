package session

import (
	"context"
	"sync"
	"time"
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
// direction; a nil bucket does not limit.
type bucket struct {
	mu     sync.Mutex
	rate   float64 // tokens (bytes) per second
	burst  float64
	tokens float64
	last   time.Time
}

func newBucket(bytesPerSec int64) *bucket {
	if bytesPerSec <= 0 {
		return nil
	}
	burst := max(float64(bytesPerSec)/4, 64<<10)
	return &bucket{rate: float64(bytesPerSec), burst: burst, tokens: burst, last: time.Now()}
}

// wait blocks until n bytes may pass, or ctx ends.
func (b *bucket) wait(ctx context.Context, n int) error {
	if b == nil {
		return nil
	}
	for {
		b.mu.Lock()
		now := time.Now()
		b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
		b.last = now
		if b.tokens >= float64(n) || b.tokens >= b.burst {
			b.tokens -= float64(n)
			b.mu.Unlock()
			return nil
		}
		need := (float64(n) - b.tokens) / b.rate
		b.mu.Unlock()
		t := time.NewTimer(time.Duration(need * float64(time.Second)))
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}
