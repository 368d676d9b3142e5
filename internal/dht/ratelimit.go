package dht

import (
	"net/netip"
	"time"

	"golang.org/x/time/rate"
)

// sourceLimits is the query rate limit per source IP address, whatever
// its port: a flood that rotates source ports shares one budget. It holds
// at most max addresses; a new one past that evicts the address seen
// least recently, so an active flooder keeps its (empty) budget and the
// others keep theirs. An evicted address starts again with a full burst,
// which is no more than it would have had after a quiet second or two.
// Not safe for concurrent use: the Server's mutex guards it.
type sourceLimits struct {
	limit rate.Limit
	burst int
	max   int
	m     map[netip.Addr]*source
	// head is the most recently seen source, head.prev the least: a
	// circular list through a sentinel.
	head source
}

type source struct {
	ip         netip.Addr
	lim        *rate.Limiter
	prev, next *source
}

func newSourceLimits(perSec float64, burst, max int) *sourceLimits {
	l := &sourceLimits{limit: rate.Limit(perSec), burst: burst, max: max, m: make(map[netip.Addr]*source)}
	l.head.prev, l.head.next = &l.head, &l.head
	return l
}

// allow reports whether one more query from ip may be answered at now.
func (l *sourceLimits) allow(ip netip.Addr, now time.Time) bool {
	ip = ip.Unmap()
	s, ok := l.m[ip]
	if ok {
		l.unlink(s)
	} else {
		if len(l.m) >= l.max {
			old := l.head.prev
			l.unlink(old)
			delete(l.m, old.ip)
		}
		s = &source{ip: ip, lim: rate.NewLimiter(l.limit, l.burst)}
		l.m[ip] = s
	}
	s.prev, s.next = &l.head, l.head.next
	l.head.next.prev = s
	l.head.next = s
	return s.lim.AllowN(now, 1)
}

// prune forgets the sources, least recently seen first, whose budget has
// refilled by now: forgetting them changes nothing they may send.
func (l *sourceLimits) prune(now time.Time) {
	for old := l.head.prev; old != &l.head; old = l.head.prev {
		if old.lim.TokensAt(now) < float64(l.burst) {
			return
		}
		l.unlink(old)
		delete(l.m, old.ip)
	}
}

func (l *sourceLimits) unlink(s *source) {
	s.prev.next = s.next
	s.next.prev = s.prev
	s.prev, s.next = nil, nil
}

func (l *sourceLimits) len() int { return len(l.m) }
