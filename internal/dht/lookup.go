package dht

import (
	"context"
	"crypto/rand"
	"errors"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"time"
)

// maxLookupQueries bounds the queries of one iterative lookup.
const maxLookupQueries = 256

type candState uint8

const (
	candNew candState = iota
	candAsked
	candAnswered
	candFailed
)

type candidate struct {
	NodeInfo
	known bool // id known (bootstrap nodes are asked before their id is)
	state candState
	token []byte
}

type lookupResult struct {
	c   *candidate
	m   *msg
	err error
}

// lookup runs an iterative find_node or get_peers for target: it asks the
// Alpha closest nodes not yet asked, learns closer ones from their answers,
// and stops when the K closest it knows have all answered. onPeers gets the
// peers of get_peers answers as they arrive. The answered nodes are
// returned closest first.
func (s *Server) lookup(ctx context.Context, target ID, method string, onPeers func([]netip.AddrPort)) []*candidate {
	s.lookups.Add(1)
	s.mu.Lock()
	start := s.tab.closest(target, 2*s.cfg.K)
	self := s.id
	s.mu.Unlock()
	var boot []netip.AddrPort
	if len(start) < s.cfg.K {
		boot = s.resolveBootstrap(ctx)
	}

	var cands []*candidate
	seen := make(map[netip.AddrPort]bool)
	add := func(n NodeInfo, known bool) {
		if seen[n.Addr] || (known && n.ID == self) {
			return
		}
		seen[n.Addr] = true
		cands = append(cands, &candidate{NodeInfo: n, known: known})
	}
	for _, n := range start {
		add(n, true)
	}
	if len(start) < s.cfg.K {
		for _, a := range boot {
			add(NodeInfo{Addr: a}, false)
		}
	}
	results := make(chan lookupResult)
	inflight, asked := 0, 0
	ask := func(c *candidate) {
		c.state = candAsked
		inflight++
		asked++
		a := args{}
		if method == "get_peers" {
			a.InfoHash, a.hasInfoHash = target, true
		} else {
			a.Target, a.hasTarget = target, true
		}
		go func() {
			m, err := s.query(ctx, c.Addr, method, a)
			results <- lookupResult{c, m, err}
		}()
	}
	sortCands := func() {
		slices.SortStableFunc(cands, func(a, b *candidate) int {
			// Nodes of unknown id (bootstrap) go first: they are how we start.
			if a.known != b.known {
				if !a.known {
					return -1
				}
				return 1
			}
			return cmpDistance(a.ID, b.ID, target)
		})
	}
	for {
		sortCands()
		// Ask more while fewer than Alpha are out and one of the K closest
		// live candidates has not been asked.
		live := 0
		done := true
		for _, c := range cands {
			if c.state == candFailed {
				continue
			}
			if c.known {
				live++
			}
			if c.state == candNew {
				if inflight < s.cfg.Alpha && asked < maxLookupQueries && ctx.Err() == nil {
					ask(c)
				} else {
					done = false
				}
			} else if c.state == candAsked {
				done = false
			}
			if live >= s.cfg.K {
				break
			}
		}
		if inflight == 0 && (done || asked >= maxLookupQueries || ctx.Err() != nil) {
			break
		}
		r := <-results
		inflight--
		if r.err != nil {
			r.c.state = candFailed
			continue
		}
		r.c.state = candAnswered
		r.c.ID, r.c.known = r.m.R.ID, true
		r.c.token = r.m.R.Token
		for _, n := range r.m.R.Nodes {
			add(n, true)
		}
		if len(r.m.R.Values) > 0 && onPeers != nil {
			onPeers(r.m.R.Values)
		}
	}
	var out []*candidate
	for _, c := range cands {
		if c.state == candAnswered && c.known {
			out = append(out, c)
		}
	}
	sortByCandDistance(out, target)
	return out[:min(len(out), s.cfg.K)]
}

func sortByCandDistance(cs []*candidate, target ID) {
	slices.SortFunc(cs, func(a, b *candidate) int { return cmpDistance(a.ID, b.ID, target) })
}

// ErrNoNodes means a lookup found no node to ask.
var ErrNoNodes = errors.New("dht: no node answered")

// GetPeers looks up the peers of an infohash, passing them to onPeers as
// they arrive (possibly more than once each).
func (s *Server) GetPeers(ctx context.Context, ih ID, onPeers func([]netip.AddrPort)) error {
	if len(s.lookup(ctx, ih, "get_peers", onPeers)) == 0 {
		return ErrNoNodes
	}
	return nil
}

// Announce looks up the peers of an infohash like GetPeers and then tells
// the closest nodes that we take part on port (the source port of our
// datagrams instead when port is 0). It returns how many nodes accepted.
func (s *Server) Announce(ctx context.Context, ih ID, port int, onPeers func([]netip.AddrPort)) (int, error) {
	closest := s.lookup(ctx, ih, "get_peers", onPeers)
	if len(closest) == 0 {
		return 0, ErrNoNodes
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := 0
	for _, c := range closest {
		if c.token == nil {
			continue
		}
		wg.Add(1)
		go func(c *candidate) {
			defer wg.Done()
			a := args{InfoHash: ih, hasInfoHash: true, Port: port, ImpliedPort: port == 0, Token: c.token}
			if _, err := s.query(ctx, c.Addr, "announce_peer", a); err == nil {
				mu.Lock()
				ok++
				mu.Unlock()
			}
		}(c)
	}
	wg.Wait()
	if ok == 0 {
		return 0, ErrNoNodes
	}
	return ok, nil
}

// Bootstrap fills the routing table with a lookup of our own id, starting
// from the bootstrap nodes. It fails when no node answered.
func (s *Server) Bootstrap(ctx context.Context) error {
	if len(s.lookup(ctx, s.ID(), "find_node", nil)) == 0 {
		return ErrNoNodes
	}
	return nil
}

// resolveBootstrap returns the addresses of the bootstrap nodes, looked up
// once (again later if none resolved).
func (s *Server) resolveBootstrap(ctx context.Context) []netip.AddrPort {
	s.bootMu.Lock()
	defer s.bootMu.Unlock()
	if s.bootstrapN != nil {
		return s.bootstrapN
	}
	addrs := []netip.AddrPort{}
	for _, hp := range s.cfg.Bootstrap {
		host, ps, err := net.SplitHostPort(hp)
		if err != nil {
			continue
		}
		port, err := strconv.Atoi(ps)
		if err != nil || port <= 0 || port > 65535 {
			continue
		}
		if ip, err := netip.ParseAddr(host); err == nil {
			addrs = append(addrs, netip.AddrPortFrom(ip.Unmap(), uint16(port)))
			continue
		}
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		ips, err := s.cfg.Resolver.LookupNetIP(rctx, "ip", host)
		cancel()
		if err != nil {
			continue
		}
		for _, ip := range ips {
			addrs = append(addrs, netip.AddrPortFrom(ip.Unmap(), uint16(port)))
		}
	}
	if len(addrs) > 0 {
		s.bootstrapN = addrs
	}
	return addrs
}

// Run maintains the node until ctx ends: it rotates token secrets every
// 5 minutes, expires announced peers and refreshes buckets unchanged for
// 15 minutes.
func (s *Server) Run(ctx context.Context) {
	tick := time.NewTicker(time.Minute)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.closed:
			return
		case <-tick.C:
		}
		now := s.cfg.Now()
		s.mu.Lock()
		if now.Sub(s.rotated) >= 5*time.Minute {
			s.secret[1] = s.secret[0]
			rand.Read(s.secret[0][:])
			s.rotated = now
		}
		s.st.expire(now)
		s.limits.prune(now)
		refresh := s.tab.stale(now, questionableAfter, randomID)
		s.mu.Unlock()
		for _, id := range refresh {
			s.lookup(ctx, id, "find_node", nil)
		}
	}
}

func randomID() ID {
	var id ID
	rand.Read(id[:])
	return id
}
