package dht

import (
	"math/rand/v2"
	"net/netip"
	"time"
)

// peerTTL is how long an announced peer is kept without a new announce.
const peerTTL = 30 * time.Minute

// store keeps the peers announced to us, bounded per infohash and overall.
type store struct {
	maxPerHash, maxHashes int
	swarms                map[ID]map[netip.AddrPort]time.Time // peer → expiry
	total                 int
}

func newStore(maxPerHash, maxHashes int) *store {
	return &store{maxPerHash: maxPerHash, maxHashes: maxHashes, swarms: make(map[ID]map[netip.AddrPort]time.Time)}
}

// add stores or refreshes a peer; it reports false when a limit refused it.
func (s *store) add(ih ID, p netip.AddrPort, now time.Time) bool {
	sw, ok := s.swarms[ih]
	if !ok {
		if len(s.swarms) >= s.maxHashes {
			return false
		}
		sw = make(map[netip.AddrPort]time.Time)
		s.swarms[ih] = sw
	}
	if _, ok := sw[p]; !ok {
		if len(sw) >= s.maxPerHash {
			return false
		}
		s.total++
	}
	sw[p] = now.Add(peerTTL)
	return true
}

// get returns up to n live peers of ih, a random sample when there are more.
func (s *store) get(ih ID, n int, now time.Time) []netip.AddrPort {
	sw := s.swarms[ih]
	out := make([]netip.AddrPort, 0, min(n, len(sw)))
	seen := 0
	for p, exp := range sw {
		if now.After(exp) {
			continue
		}
		seen++
		if len(out) < n {
			out = append(out, p)
		} else if j := rand.IntN(seen); j < n {
			out[j] = p // reservoir sampling
		}
	}
	return out
}

// expire drops peers whose announce is older than peerTTL.
func (s *store) expire(now time.Time) {
	for ih, sw := range s.swarms {
		for p, exp := range sw {
			if now.After(exp) {
				delete(sw, p)
				s.total--
			}
		}
		if len(sw) == 0 {
			delete(s.swarms, ih)
		}
	}
}
