package tracker

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"
)

// ErrNoTrackers is returned by Tiers.Try when the announce-list is empty.
var ErrNoTrackers = errors.New("tracker: no trackers")

// Tiers is a torrent's announce-list (BEP 12): tiers tried in order, the
// trackers of a tier in an order shuffled once, a tracker that answers moved
// to the front of its tier. It is not safe for concurrent use: it belongs to
// the goroutine that owns the torrent.
type Tiers struct {
	tiers [][]string
}

// NewTiers copies announceList, dropping empty URLs, repeated URLs and empty
// tiers, and shuffles each tier with r (the global source when nil).
func NewTiers(announceList [][]string, r *rand.Rand) *Tiers {
	shuffle := rand.Shuffle
	if r != nil {
		shuffle = r.Shuffle
	}
	seen := make(map[string]bool)
	t := &Tiers{}
	for _, tier := range announceList {
		var urls []string
		for _, u := range tier {
			if u == "" || seen[u] {
				continue
			}
			seen[u] = true
			urls = append(urls, u)
		}
		if len(urls) == 0 {
			continue
		}
		shuffle(len(urls), func(i, j int) { urls[i], urls[j] = urls[j], urls[i] })
		t.tiers = append(t.tiers, urls)
	}
	return t
}

// Len returns the number of trackers.
func (t *Tiers) Len() int {
	n := 0
	for _, tier := range t.tiers {
		n += len(tier)
	}
	return n
}

// List returns a copy of the tiers in their current order.
func (t *Tiers) List() [][]string {
	out := make([][]string, len(t.tiers))
	for i, tier := range t.tiers {
		out[i] = slices.Clone(tier)
	}
	return out
}

// Order returns every tracker in the order they are to be tried.
func (t *Tiers) Order() []string {
	return slices.Concat(t.tiers...)
}

// Succeeded moves url to the front of its tier.
func (t *Tiers) Succeeded(url string) {
	for _, tier := range t.tiers {
		if i := slices.Index(tier, url); i >= 0 {
			copy(tier[1:i+1], tier[:i])
			tier[0] = url
			return
		}
	}
}

// Try calls announce on each tracker in order until one succeeds, moves that
// one to the front of its tier and returns its URL. When all fail it returns
// their errors joined; it stops early when ctx is done.
func (t *Tiers) Try(ctx context.Context, announce func(ctx context.Context, url string) error) (string, error) {
	order := t.Order()
	if len(order) == 0 {
		return "", ErrNoTrackers
	}
	var errs []error
	for _, u := range order {
		if err := ctx.Err(); err != nil {
			errs = append(errs, err)
			break
		}
		err := announce(ctx, u)
		if err == nil {
			t.Succeeded(u)
			return u, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", u, err))
	}
	return "", errors.Join(errs...)
}

// Schedule decides when to announce next. It holds no clock: every method
// is given the current time.
type Schedule struct {
	// DefaultInterval is used when the tracker names no interval (30 min when 0).
	DefaultInterval time.Duration
	// Floor is the shortest interval followed, whatever the tracker says
	// (30 s when 0).
	Floor time.Duration
	// RetryBase is the wait after a first failure, doubled after each
	// further one (15 s when 0).
	RetryBase time.Duration
	// MaxBackoff caps the wait after failures (30 min when 0).
	MaxBackoff time.Duration

	failures    int
	minInterval time.Duration
	last        time.Time
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// Succeeded records an answer at now and returns when to announce next:
// after the tracker's interval, never sooner than its min interval or Floor.
func (s *Schedule) Succeeded(now time.Time, r *AnnounceResponse) time.Time {
	s.failures = 0
	s.last = now
	s.minInterval = r.MinInterval
	iv := orDefault(r.Interval, orDefault(s.DefaultInterval, 30*time.Minute))
	iv = max(iv, r.MinInterval, orDefault(s.Floor, 30*time.Second))
	return now.Add(iv)
}

// Failed records a failed announce at now and returns when to try again:
// RetryBase·2^(failures-1), capped at MaxBackoff.
func (s *Schedule) Failed(now time.Time) time.Time {
	s.failures++
	limit := orDefault(s.MaxBackoff, 30*time.Minute)
	d := orDefault(s.RetryBase, 15*time.Second)
	for i := 1; i < s.failures && d < limit; i++ {
		d *= 2
	}
	return now.Add(min(d, limit))
}

// Failures returns the number of failures since the last success.
func (s *Schedule) Failures() int { return s.failures }

// Earliest returns the first time an extra announce (asking for more peers,
// say) respects the tracker's min interval and Floor. Events (completed,
// stopped) need not wait for it.
func (s *Schedule) Earliest() time.Time {
	if s.last.IsZero() {
		return s.last
	}
	return s.last.Add(max(s.minInterval, orDefault(s.Floor, 30*time.Second)))
}
