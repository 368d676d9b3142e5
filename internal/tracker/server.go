package tracker

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"tt/bencode"
)

// ServerConfig configures an embedded tracker. Zero fields take the
// defaults named beside them.
type ServerConfig struct {
	// HTTPAddr is the TCP address for HTTP announce and scrape
	// ("127.0.0.1:0", say); empty means no HTTP tracker.
	HTTPAddr string
	// UDPAddr is the UDP address for the BEP 15 tracker; empty means none.
	UDPAddr string

	Interval    time.Duration // told to clients (2 min)
	MinInterval time.Duration // told to clients (30 s)
	// PeerTTL drops peers that have not announced for this long
	// (3 × Interval).
	PeerTTL time.Duration

	DefaultNumWant   int // peers given when a client names no number (50)
	MaxNumWant       int // most peers given in one answer (200)
	MaxSwarms        int // torrents tracked at once (10000)
	MaxPeersPerSwarm int // peers kept per torrent (5000)

	// TrustIPParam lets clients name their address with the ip parameter
	// (HTTP) or field (UDP) instead of the packet's source address.
	TrustIPParam bool

	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// ErrorLog receives the HTTP server's errors (the log package's
	// standard logger when nil).
	ErrorLog *log.Logger
}

func (c ServerConfig) withDefaults() ServerConfig {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	c.Interval = orDefault(c.Interval, 2*time.Minute)
	c.MinInterval = orDefault(c.MinInterval, min(30*time.Second, c.Interval))
	c.PeerTTL = orDefault(c.PeerTTL, 3*c.Interval)
	def(&c.DefaultNumWant, 50)
	def(&c.MaxNumWant, 200)
	def(&c.MaxSwarms, 10000)
	def(&c.MaxPeersPerSwarm, 5000)
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Server is a small tracker: HTTP announce and scrape handlers on their own
// ServeMux and a UDP responder, tracking peers per info hash in memory.
type Server struct {
	cfg ServerConfig
	mux *http.ServeMux

	mu        sync.Mutex
	swarms    map[[20]byte]*swarm
	lastSweep time.Time

	secret [32]byte // keys UDP connection ids

	httpSrv *http.Server
	httpLn  net.Listener
	udp     *net.UDPConn
	wg      sync.WaitGroup

	closeOnce sync.Once
	closeErr  error
}

type swarm struct {
	peers     map[[20]byte]*swarmPeer
	seeders   int
	completed int
}

type swarmPeer struct {
	id      [20]byte
	addr    netip.AddrPort
	seeder  bool
	expires time.Time
}

// NewServer binds the configured addresses and starts serving; Close stops it.
func NewServer(cfg ServerConfig) (*Server, error) {
	s := &Server{
		cfg:    cfg.withDefaults(),
		mux:    http.NewServeMux(),
		swarms: make(map[[20]byte]*swarm),
	}
	rand.Read(s.secret[:])
	s.mux.HandleFunc("/announce", s.serveAnnounce)
	s.mux.HandleFunc("/scrape", s.serveScrape)

	if cfg.HTTPAddr != "" {
		ln, err := net.Listen("tcp", cfg.HTTPAddr)
		if err != nil {
			return nil, fmt.Errorf("tracker: %w", err)
		}
		s.httpLn = ln
		s.httpSrv = &http.Server{
			Handler:           s.mux,
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       30 * time.Second,
			WriteTimeout:      30 * time.Second,
			IdleTimeout:       2 * time.Minute,
			MaxHeaderBytes:    16 << 10,
			ErrorLog:          cfg.ErrorLog,
		}
	}
	if cfg.UDPAddr != "" {
		ua, err := net.ResolveUDPAddr("udp", cfg.UDPAddr)
		if err == nil {
			s.udp, err = net.ListenUDP("udp", ua)
		}
		if err != nil {
			if s.httpLn != nil {
				s.httpLn.Close()
			}
			return nil, fmt.Errorf("tracker: %w", err)
		}
	}
	if s.httpSrv != nil {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.httpSrv.Serve(s.httpLn)
		}()
	}
	if s.udp != nil {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.serveUDP()
		}()
	}
	return s, nil
}

// Handler returns the HTTP handler (/announce and /scrape), for mounting
// the tracker into another server.
func (s *Server) Handler() http.Handler { return s.mux }

// HTTPAddr returns the bound HTTP address (invalid when there is none).
func (s *Server) HTTPAddr() netip.AddrPort {
	if s.httpLn == nil {
		return netip.AddrPort{}
	}
	return unmapAddrPort(s.httpLn.Addr().(*net.TCPAddr).AddrPort())
}

// UDPAddr returns the bound UDP address (invalid when there is none).
func (s *Server) UDPAddr() netip.AddrPort {
	if s.udp == nil {
		return netip.AddrPort{}
	}
	return unmapAddrPort(s.udp.LocalAddr().(*net.UDPAddr).AddrPort())
}

// HTTPAnnounceURL returns http://ADDR/announce for the bound address.
func (s *Server) HTTPAnnounceURL() string {
	return "http://" + s.HTTPAddr().String() + "/announce"
}

// UDPAnnounceURL returns udp://ADDR/announce for the bound address.
func (s *Server) UDPAnnounceURL() string {
	return "udp://" + s.UDPAddr().String() + "/announce"
}

// Close stops both listeners and waits for their goroutines.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		var errs []error
		if s.httpSrv != nil {
			errs = append(errs, s.httpSrv.Close())
		}
		if s.udp != nil {
			errs = append(errs, s.udp.Close())
		}
		s.wg.Wait()
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}

// Stats returns the counts for one torrent and whether it is tracked.
func (s *Server) Stats(infoHash [20]byte) (ScrapeResult, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweepLocked(s.cfg.Now())
	sw, ok := s.swarms[infoHash]
	if !ok {
		return ScrapeResult{}, false
	}
	return sw.result(), true
}

func (sw *swarm) result() ScrapeResult {
	return ScrapeResult{Seeders: sw.seeders, Leechers: len(sw.peers) - sw.seeders, Completed: sw.completed}
}

// announceArgs is one announce, whichever protocol carried it.
type announceArgs struct {
	infoHash, peerID [20]byte
	addr             netip.AddrPort
	left             int64 // negative when unknown
	event            Event
	numWant          int // negative for the default
	// family restricts the peers given: 4, 6, or 0 for both.
	family int
}

// announce records a and returns the answer with the peers chosen for it.
func (s *Server) announce(a announceArgs) (*AnnounceResponse, []swarmPeer) {
	now := s.cfg.Now()
	numWant := a.numWant
	if numWant < 0 {
		numWant = s.cfg.DefaultNumWant
	}
	numWant = min(numWant, s.cfg.MaxNumWant)

	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweepLocked(now)
	resp := &AnnounceResponse{Interval: s.cfg.Interval, MinInterval: s.cfg.MinInterval}
	sw := s.swarms[a.infoHash]
	if sw == nil {
		if a.event == EventStopped || len(s.swarms) >= s.cfg.MaxSwarms {
			return resp, nil
		}
		sw = &swarm{peers: make(map[[20]byte]*swarmPeer)}
		s.swarms[a.infoHash] = sw
	}
	p := sw.peers[a.peerID]
	if a.event == EventStopped {
		if p != nil {
			sw.remove(p)
		}
		if len(sw.peers) == 0 {
			delete(s.swarms, a.infoHash)
		}
		r := sw.result()
		resp.Seeders, resp.Leechers = r.Seeders, r.Leechers
		return resp, nil
	}
	if p == nil && len(sw.peers) < s.cfg.MaxPeersPerSwarm {
		p = &swarmPeer{id: a.peerID}
		sw.peers[a.peerID] = p
	}
	if p != nil {
		seeder := a.left == 0
		if seeder && !p.seeder {
			sw.seeders++
		} else if !seeder && p.seeder {
			sw.seeders--
		}
		if a.event == EventCompleted && !p.seeder {
			sw.completed++
		}
		p.seeder = seeder
		p.addr = a.addr
		p.expires = now.Add(s.cfg.PeerTTL)
	}
	r := sw.result()
	resp.Seeders, resp.Leechers = r.Seeders, r.Leechers

	var chosen []swarmPeer
	for _, q := range sw.peers { // map order is random enough to spread peers
		if len(chosen) >= numWant {
			break
		}
		if q.id == a.peerID || q.addr == a.addr {
			continue
		}
		if v6 := isV6Peer(q.addr); a.family == 4 && v6 || a.family == 6 && !v6 {
			continue
		}
		chosen = append(chosen, *q)
		resp.Peers = append(resp.Peers, q.addr)
	}
	return resp, chosen
}

func (sw *swarm) remove(p *swarmPeer) {
	if p.seeder {
		sw.seeders--
	}
	delete(sw.peers, p.id)
}

// sweepLocked drops expired peers and empty swarms, at most once every
// PeerTTL/4.
func (s *Server) sweepLocked(now time.Time) {
	if now.Sub(s.lastSweep) < s.cfg.PeerTTL/4 {
		return
	}
	s.lastSweep = now
	for ih, sw := range s.swarms {
		for _, p := range sw.peers {
			if !now.Before(p.expires) {
				sw.remove(p)
			}
		}
		if len(sw.peers) == 0 {
			delete(s.swarms, ih)
		}
	}
}

func (s *Server) scrape(hashes [][20]byte) map[[20]byte]ScrapeResult {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweepLocked(s.cfg.Now())
	out := make(map[[20]byte]ScrapeResult)
	if len(hashes) == 0 {
		for ih, sw := range s.swarms {
			if len(out) >= MaxPeers {
				break
			}
			out[ih] = sw.result()
		}
		return out
	}
	for _, ih := range hashes {
		if sw, ok := s.swarms[ih]; ok {
			out[ih] = sw.result()
		}
	}
	return out
}

// HTTP

func (s *Server) serveAnnounce(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	fail := func(msg string) { writeBencode(w, map[string]any{"failure reason": msg}) }
	ih, pid := q.Get("info_hash"), q.Get("peer_id")
	if len(ih) != 20 {
		fail("invalid info_hash")
		return
	}
	if len(pid) != 20 {
		fail("invalid peer_id")
		return
	}
	event, ok := parseEvent(q.Get("event"))
	if !ok {
		fail("invalid event")
		return
	}
	port, err := strconv.ParseUint(q.Get("port"), 10, 16)
	if err != nil || port == 0 && event != EventStopped {
		fail("invalid port")
		return
	}
	remote, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		fail("unknown remote address")
		return
	}
	ip := remote.Addr().Unmap().WithZone("")
	if s.cfg.TrustIPParam {
		for _, name := range []string{"ip", "ipv6"} {
			if a, err := netip.ParseAddr(q.Get(name)); err == nil && a.Zone() == "" {
				ip = a.Unmap()
			}
		}
	}
	a := announceArgs{
		infoHash: [20]byte([]byte(ih)),
		peerID:   [20]byte([]byte(pid)),
		addr:     netip.AddrPortFrom(ip, uint16(port)),
		left:     -1,
		event:    event,
		numWant:  -1,
	}
	if v := q.Get("left"); v != "" {
		if a.left, err = strconv.ParseInt(v, 10, 64); err != nil || a.left < 0 {
			fail("invalid left")
			return
		}
	}
	if v := q.Get("numwant"); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n >= 0 {
			a.numWant = n
		}
	}
	resp, chosen := s.announce(a)
	out := map[string]any{
		"interval":     int64(resp.Interval / time.Second),
		"min interval": int64(resp.MinInterval / time.Second),
		"complete":     resp.Seeders,
		"incomplete":   resp.Leechers,
	}
	if q.Get("compact") == "0" {
		noID := q.Get("no_peer_id") == "1"
		list := make([]map[string]any, 0, len(chosen))
		for _, p := range chosen {
			d := map[string]any{"ip": p.addr.Addr().String(), "port": p.addr.Port()}
			if !noID {
				d["peer id"] = p.id[:]
			}
			list = append(list, d)
		}
		out["peers"] = list
	} else {
		var v4, v6 []byte
		for _, p := range resp.Peers {
			if isV6Peer(p) {
				v6 = appendCompact(v6, p, true)
			} else {
				v4 = appendCompact(v4, p, false)
			}
		}
		out["peers"] = v4
		if len(v6) > 0 {
			out["peers6"] = v6
		}
	}
	writeBencode(w, out)
}

func (s *Server) serveScrape(w http.ResponseWriter, r *http.Request) {
	var hashes [][20]byte
	for _, ih := range r.URL.Query()["info_hash"] {
		if len(ih) != 20 {
			writeBencode(w, map[string]any{"failure reason": "invalid info_hash"})
			return
		}
		if len(hashes) < MaxPeers {
			hashes = append(hashes, [20]byte([]byte(ih)))
		}
	}
	files := make(map[string]any)
	for ih, res := range s.scrape(hashes) {
		files[string(ih[:])] = map[string]any{
			"complete":   res.Seeders,
			"incomplete": res.Leechers,
			"downloaded": res.Completed,
		}
	}
	writeBencode(w, map[string]any{"files": files})
}

func writeBencode(w http.ResponseWriter, v any) {
	b, err := bencode.Marshal(v)
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.Write(b)
}

// UDP

func (s *Server) serveUDP() {
	buf := make([]byte, 2048)
	var out []byte
	for {
		n, from, err := s.udp.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		out = s.handleUDP(out[:0], buf[:n], from)
		if len(out) > 0 {
			s.udp.WriteToUDPAddrPort(out, from)
		}
	}
}

// handleUDP appends the answer to one request datagram to dst; nothing is
// appended for datagrams that deserve no answer.
func (s *Server) handleUDP(dst, req []byte, from netip.AddrPort) []byte {
	if len(req) < connectRequestSize {
		return dst
	}
	from = unmapAddrPort(from)
	cid := binary.BigEndian.Uint64(req[0:8])
	action := binary.BigEndian.Uint32(req[8:12])
	tid := binary.BigEndian.Uint32(req[12:16])
	now := s.cfg.Now()
	if action == actionConnect {
		if cid != udpProtocolID {
			return dst
		}
		return appendConnectResponse(dst, tid, s.connID(from.Addr(), now, 0))
	}
	if action != actionAnnounce && action != actionScrape {
		return appendErrorResponse(dst, tid, "unknown action")
	}
	if cid != s.connID(from.Addr(), now, 0) && cid != s.connID(from.Addr(), now, -1) {
		return appendErrorResponse(dst, tid, "connection id expired")
	}
	if action == actionScrape {
		n := min((len(req)-connectRequestSize)/20, maxScrapeHashes)
		if n == 0 {
			return appendErrorResponse(dst, tid, "no info_hash")
		}
		hashes := make([][20]byte, n)
		for i := range hashes {
			hashes[i] = [20]byte(req[16+20*i:])
		}
		got := s.scrape(hashes)
		rs := make([]ScrapeResult, n)
		for i, h := range hashes {
			rs[i] = got[h]
		}
		return appendScrapeResponse(dst, tid, rs)
	}
	if len(req) < announceRequestSize {
		return appendErrorResponse(dst, tid, "announce too short")
	}
	event := Event(binary.BigEndian.Uint32(req[80:84]))
	if event > EventStopped {
		event = EventNone
	}
	port := binary.BigEndian.Uint16(req[96:98])
	if port == 0 && event != EventStopped {
		return appendErrorResponse(dst, tid, "invalid port")
	}
	ip := from.Addr()
	if s.cfg.TrustIPParam {
		if a := netip.AddrFrom4([4]byte(req[84:88])); !a.IsUnspecified() {
			ip = a
		}
	}
	left := int64(binary.BigEndian.Uint64(req[64:72]))
	family := 4
	if !from.Addr().Is4() {
		family = 6
	}
	numWant := int(int32(binary.BigEndian.Uint32(req[92:96])))
	resp, _ := s.announce(announceArgs{
		infoHash: [20]byte(req[16:36]),
		peerID:   [20]byte(req[36:56]),
		addr:     netip.AddrPortFrom(ip, port),
		left:     max(left, -1),
		event:    event,
		numWant:  max(numWant, -1),
		family:   family,
	})
	return appendAnnounceResponse(dst, tid, resp, family == 6)
}

// connID derives the connection id for a client address in the current
// minute (age 0) or the previous one (age -1), so an id stays valid one to
// two minutes without the server remembering it. It depends on the IP
// address only: libtorrent shares one id among all its sockets.
func (s *Server) connID(addr netip.Addr, now time.Time, age int64) uint64 {
	var msg [8 + 16]byte
	binary.BigEndian.PutUint64(msg[0:8], uint64(now.Unix()/60+age))
	a := addr.As16()
	copy(msg[8:24], a[:])
	m := hmac.New(sha256.New, s.secret[:])
	m.Write(msg[:])
	return binary.BigEndian.Uint64(m.Sum(nil))
}
