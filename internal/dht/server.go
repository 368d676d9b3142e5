// Package dht is a Mainline DHT node (BEP 5): KRPC over a UDP socket shared
// with other protocols, a k-bucket routing table, iterative lookups, peer
// announces with rotating tokens, node ids per BEP 42 and a routing table
// that survives restarts.
package dht

import (
	"context"
	"crypto/rand"
	"crypto/sha1"
	"crypto/subtle"
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// PacketWriter sends datagrams; transport.UDPMux implements it.
type PacketWriter interface {
	WriteToUDPAddrPort(b []byte, addr netip.AddrPort) (int, error)
}

// DefaultBootstrap are the well-known public routers.
var DefaultBootstrap = []string{
	"router.bittorrent.com:6881",
	"dht.transmissionbt.com:6881",
	"router.utorrent.com:6881",
	"dht.libtorrent.org:25401",
}

// Config tunes a Server; the zero value follows BEP 5.
type Config struct {
	// ID is the node id; when zero one is made for ExternalIP (BEP 42), or
	// at random when that is unknown.
	ID         ID
	ExternalIP netip.Addr
	// Bootstrap nodes, host:port, asked when the table is empty.
	Bootstrap []string
	// K is the bucket size (8); Alpha the lookup parallelism (3).
	K, Alpha int
	// QueryTimeout is how long an answer is waited for (2 s).
	QueryTimeout time.Duration
	// MaxPeersPerHash and MaxHashes bound the announced peers kept
	// (2000 and 10000).
	MaxPeersPerHash, MaxHashes int
	// QueryRate is the queries per second answered from one source IP
	// address, whatever its port (20, with bursts of twice that); more are
	// dropped. MaxQuerySources bounds the addresses tracked (10000); past
	// it the one seen least recently is forgotten. Loopback sources are
	// not limited unless LimitLoopback is set: they are this host, and a
	// local swarm puts every node on one address.
	QueryRate       float64
	MaxQuerySources int
	LimitLoopback   bool
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Resolver looks up bootstrap host names (net.DefaultResolver when nil).
	Resolver *net.Resolver
}

func (c Config) withDefaults() Config {
	if c.K <= 0 {
		c.K = 8
	}
	if c.Alpha <= 0 {
		c.Alpha = 3
	}
	if c.QueryTimeout <= 0 {
		c.QueryTimeout = 2 * time.Second
	}
	if c.MaxPeersPerHash <= 0 {
		c.MaxPeersPerHash = 2000
	}
	if c.MaxHashes <= 0 {
		c.MaxHashes = 10000
	}
	if c.QueryRate <= 0 {
		c.QueryRate = 20
	}
	if c.MaxQuerySources <= 0 {
		c.MaxQuerySources = 10000
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Resolver == nil {
		c.Resolver = net.DefaultResolver
	}
	return c
}

// Stats are a node's counters.
type Stats struct {
	Nodes        int    `json:"nodes"`         // in the routing table
	Hashes       int    `json:"hashes"`        // infohashes with announced peers
	Peers        int    `json:"peers"`         // announced peers stored
	QueriesIn    uint64 `json:"queries_in"`    // answered
	QueriesOut   uint64 `json:"queries_out"`   // sent
	RepliesIn    uint64 `json:"replies_in"`    // answers and errors received
	Timeouts     uint64 `json:"timeouts"`      // queries unanswered
	Dropped      uint64 `json:"dropped"`       // over the rate limit
	Malformed    uint64 `json:"malformed"`     // undecodable datagrams
	Unsolicited  uint64 `json:"unsolicited"`   // answers to nothing we asked
	AnnouncesIn  uint64 `json:"announces_in"`  // peers stored from announce_peer
	BadTokens    uint64 `json:"bad_tokens"`    // announce_peer refused
	LookupsTotal uint64 `json:"lookups_total"` // iterative lookups run
}

// Server is one DHT node. HandlePacket must be given every datagram read
// from the socket behind the PacketWriter.
type Server struct {
	w   PacketWriter
	cfg Config

	mu        sync.Mutex
	id        ID
	tab       *table
	st        *store
	pending   map[pendingKey]chan *msg
	nextTx    uint16
	secret    [2][16]byte // current and previous token secrets
	rotated   time.Time
	limits    *sourceLimits
	votes     map[netip.Addr]int // external address as reported by others
	verifying map[netip.AddrPort]bool

	bootMu     sync.Mutex
	bootstrapN []netip.AddrPort // resolved bootstrap nodes

	closed    chan struct{}
	closeOnce sync.Once

	queriesIn, queriesOut, repliesIn, timeouts   atomic.Uint64
	dropped, malformed, unsolicited, announcesIn atomic.Uint64
	badTokens, lookups                           atomic.Uint64
}

type pendingKey struct {
	tx   uint16
	addr netip.AddrPort
}

var (
	errTimeout = errors.New("dht: query timed out")
	errClosed  = errors.New("dht: closed")
)

// New returns a node that sends through w.
func New(w PacketWriter, cfg Config) *Server {
	cfg = cfg.withDefaults()
	id := cfg.ID
	if id == (ID{}) {
		id = NodeIDFor(cfg.ExternalIP)
	}
	now := cfg.Now()
	s := &Server{
		w: w, cfg: cfg, id: id,
		tab:       newTable(id, cfg.K, now),
		st:        newStore(cfg.MaxPeersPerHash, cfg.MaxHashes),
		pending:   make(map[pendingKey]chan *msg),
		limits:    newSourceLimits(cfg.QueryRate, max(1, int(2*cfg.QueryRate)), cfg.MaxQuerySources),
		votes:     make(map[netip.Addr]int),
		verifying: make(map[netip.AddrPort]bool),
		rotated:   now,
		closed:    make(chan struct{}),
	}
	rand.Read(s.secret[0][:])
	rand.Read(s.secret[1][:])
	return s
}

// ID returns the node id.
func (s *Server) ID() ID {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.id
}

// Close stops the node's queries; answers in flight fail.
func (s *Server) Close() {
	s.closeOnce.Do(func() { close(s.closed) })
}

// Stats returns the counters so far.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	st := Stats{Nodes: s.tab.len(), Hashes: len(s.st.swarms), Peers: s.st.total}
	s.mu.Unlock()
	st.QueriesIn, st.QueriesOut = s.queriesIn.Load(), s.queriesOut.Load()
	st.RepliesIn, st.Timeouts = s.repliesIn.Load(), s.timeouts.Load()
	st.Dropped, st.Malformed = s.dropped.Load(), s.malformed.Load()
	st.Unsolicited, st.AnnouncesIn = s.unsolicited.Load(), s.announcesIn.Load()
	st.BadTokens, st.LookupsTotal = s.badTokens.Load(), s.lookups.Load()
	return st
}

// Nodes returns the nodes of the routing table.
func (s *Server) Nodes() []NodeInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tab.all()
}

// HandlePacket takes a datagram from the shared socket and reports whether
// it was a KRPC message (a bencoded dictionary: first byte 'd').
func (s *Server) HandlePacket(from netip.AddrPort, data []byte) bool {
	if len(data) == 0 || data[0] != 'd' {
		return false
	}
	m, err := decode(data)
	if err != nil {
		s.malformed.Add(1)
		return true
	}
	switch m.Y {
	case 'q':
		s.handleQuery(from, m)
	default:
		s.handleReply(from, m)
	}
	return true
}

func (s *Server) handleReply(from netip.AddrPort, m *msg) {
	if len(m.T) != 2 {
		s.unsolicited.Add(1)
		return
	}
	key := pendingKey{tx: uint16(m.T[0])<<8 | uint16(m.T[1]), addr: from}
	s.mu.Lock()
	ch, ok := s.pending[key]
	if ok {
		delete(s.pending, key)
	}
	s.mu.Unlock()
	if !ok {
		s.unsolicited.Add(1)
		return
	}
	s.repliesIn.Add(1)
	ch <- m // capacity 1, one send per key
}

// allow applies the per-source query rate limit. Called with s.mu held.
func (s *Server) allow(from netip.AddrPort, now time.Time) bool {
	ip := from.Addr().Unmap()
	if ip.IsLoopback() && !s.cfg.LimitLoopback {
		return true
	}
	return s.limits.allow(ip, now)
}

func (s *Server) token(ip netip.Addr, secret [16]byte) []byte {
	a := ip.Unmap().As16()
	h := sha1.New()
	h.Write(secret[:])
	h.Write(a[:])
	return h.Sum(nil)[:8]
}

func (s *Server) handleQuery(from netip.AddrPort, m *msg) {
	now := s.cfg.Now()
	s.mu.Lock()
	if !s.allow(from, now) {
		s.mu.Unlock()
		s.dropped.Add(1)
		return
	}
	s.queriesIn.Add(1)
	self := s.id
	r := ret{ID: self}
	code, text := 0, ""
	switch m.Q {
	case "ping":
	case "find_node":
		if !m.A.hasTarget {
			code, text = errProtocol, "find_node without target"
			break
		}
		r.Nodes = s.tab.closest(m.A.Target, s.cfg.K)
	case "get_peers":
		if !m.A.hasInfoHash {
			code, text = errProtocol, "get_peers without info_hash"
			break
		}
		r.Token = s.token(from.Addr(), s.secret[0])
		r.Values = s.st.get(m.A.InfoHash, 50, now)
		r.Nodes = s.tab.closest(m.A.InfoHash, s.cfg.K)
	case "announce_peer":
		port := m.A.Port
		if m.A.ImpliedPort {
			port = int(from.Port())
		}
		switch {
		case !m.A.hasInfoHash || port == 0:
			code, text = errProtocol, "announce_peer without info_hash or port"
		case !s.validToken(from.Addr(), m.A.Token):
			code, text = errProtocol, "bad token"
			s.badTokens.Add(1)
		default:
			if s.st.add(m.A.InfoHash, netip.AddrPortFrom(from.Addr(), uint16(port)), now) {
				s.announcesIn.Add(1)
			}
		}
	default:
		code, text = errMethod, "method unknown"
	}
	verify := !m.RO && s.wantToVerify(from, m.A.ID)
	s.mu.Unlock()

	var out []byte
	if code != 0 {
		out = encodeError(nil, m.T, code, text)
	} else {
		out = encodeResponse(nil, m.T, from, &r)
	}
	s.w.WriteToUDPAddrPort(out, from)
	if verify {
		// A node that queries us joins the table once it answers a ping.
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), s.cfg.QueryTimeout)
			s.query(ctx, from, "ping", args{})
			cancel()
			s.mu.Lock()
			delete(s.verifying, from)
			s.mu.Unlock()
		}()
	}
}

func (s *Server) validToken(ip netip.Addr, tok []byte) bool {
	for _, sec := range s.secret {
		if subtle.ConstantTimeCompare(tok, s.token(ip, sec)) == 1 {
			return true
		}
	}
	return false
}

// wantToVerify reports whether a querying node unknown to us should be
// pinged; at most 16 such pings are outstanding. Called with s.mu held.
func (s *Server) wantToVerify(from netip.AddrPort, id ID) bool {
	if n, ok := s.tab.byAddr[from]; ok && n.ID == id {
		return false
	}
	if s.verifying[from] || len(s.verifying) >= 16 || id == s.id {
		return false
	}
	s.verifying[from] = true
	return true
}

// query sends one query and waits for its answer. Answering nodes enter
// the routing table; silent ones are marked as failing.
func (s *Server) query(ctx context.Context, addr netip.AddrPort, method string, a args) (*msg, error) {
	s.mu.Lock()
	a.ID = s.id
	var key pendingKey
	for {
		s.nextTx++
		key = pendingKey{tx: s.nextTx, addr: addr}
		if _, busy := s.pending[key]; !busy {
			break
		}
	}
	ch := make(chan *msg, 1)
	s.pending[key] = ch
	s.mu.Unlock()
	out := encodeQuery(nil, []byte{byte(key.tx >> 8), byte(key.tx)}, method, &a, false)
	s.queriesOut.Add(1)
	_, err := s.w.WriteToUDPAddrPort(out, addr)
	if err == nil {
		timer := time.NewTimer(s.cfg.QueryTimeout)
		defer timer.Stop()
		select {
		case m := <-ch:
			return s.answered(addr, m)
		case <-timer.C:
			err = errTimeout
		case <-ctx.Done():
			err = ctx.Err()
		case <-s.closed:
			err = errClosed
		}
	}
	s.mu.Lock()
	delete(s.pending, key)
	if errors.Is(err, errTimeout) {
		s.timeouts.Add(1)
		s.tab.failed(addr)
	}
	s.mu.Unlock()
	return nil, err
}

func (s *Server) answered(addr netip.AddrPort, m *msg) (*msg, error) {
	if m.Y == 'e' {
		return nil, m.E
	}
	now := s.cfg.Now()
	s.mu.Lock()
	var stale *node
	if !m.RO {
		stale = s.tab.seen(NodeInfo{ID: m.R.ID, Addr: addr}, now)
	}
	if m.IP.IsValid() {
		s.vote(m.IP.Addr())
	}
	s.mu.Unlock()
	if stale != nil {
		go func(a netip.AddrPort) {
			ctx, cancel := context.WithTimeout(context.Background(), s.cfg.QueryTimeout)
			s.query(ctx, a, "ping", args{})
			cancel()
		}(stale.Addr)
	}
	return m, nil
}

// vote counts another node's view of our external address. Once enough
// agree and our id is not valid for it under BEP 42, the node takes a new
// id and rebuilds its table around it. Called with s.mu held.
func (s *Server) vote(ip netip.Addr) {
	if exemptFromBEP42(ip) || s.cfg.ID != (ID{}) {
		return
	}
	if len(s.votes) > 64 {
		clear(s.votes)
	}
	s.votes[ip]++
	if s.votes[ip] < 8 || ValidID(s.id, ip) {
		return
	}
	clear(s.votes)
	s.id = NodeIDFor(ip)
	old := s.tab
	s.tab = newTable(s.id, s.cfg.K, s.cfg.Now())
	for _, b := range old.buckets {
		for _, n := range b.nodes {
			s.tab.seen(n.NodeInfo, n.lastReply)
		}
	}
}
