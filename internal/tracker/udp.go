package tracker

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"
)

// PacketWriter sends datagrams. *net.UDPConn implements it, and so can a
// socket shared with uTP and the DHT: the UDP tracker client only writes
// through it and is handed its answers by HandlePacket.
type PacketWriter interface {
	WriteToUDPAddrPort(b []byte, addr netip.AddrPort) (int, error)
}

// UDPConfig tunes a UDPClient. The zero value follows BEP 15.
type UDPConfig struct {
	// BaseTimeout is the first wait for an answer; attempt n waits
	// BaseTimeout·2^n (15 s when 0).
	BaseTimeout time.Duration
	// MaxRetries is the number of retransmissions before giving up with
	// ErrTimeout (8 when 0, none when negative).
	MaxRetries int
	// ConnIDLifetime is how long a connection id is reused (1 minute when 0).
	ConnIDLifetime time.Duration
	// Now is the clock used for connection id expiry (time.Now when nil).
	Now func() time.Time
	// Resolver looks up tracker host names (net.DefaultResolver when nil).
	Resolver *net.Resolver
}

func (c UDPConfig) withDefaults() UDPConfig {
	if c.BaseTimeout <= 0 {
		c.BaseTimeout = 15 * time.Second
	}
	if c.MaxRetries == 0 {
		c.MaxRetries = 8
	} else if c.MaxRetries < 0 {
		c.MaxRetries = 0
	}
	if c.ConnIDLifetime <= 0 {
		c.ConnIDLifetime = time.Minute
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Resolver == nil {
		c.Resolver = net.DefaultResolver
	}
	return c
}

// UDPClient talks to UDP trackers (BEP 15). It writes through a PacketWriter
// and learns of answers through HandlePacket, so one UDP socket can serve
// the tracker client, uTP and the DHT (transport.UDPMux). It is safe for
// concurrent use.
type UDPClient struct {
	w   PacketWriter
	cfg UDPConfig

	mu      sync.Mutex
	pending map[uint32]*pendingTx
	conns   map[netip.AddrPort]connEntry

	closeOnce sync.Once
	closed    chan struct{}
}

type pendingTx struct {
	from netip.AddrPort
	ch   chan []byte // capacity 1; receives at most one datagram
}

type connEntry struct {
	id      uint64
	expires time.Time
}

// NewUDPClient returns a client that sends through w. Whoever reads the
// socket behind w must pass every datagram to HandlePacket.
func NewUDPClient(w PacketWriter, cfg UDPConfig) *UDPClient {
	return &UDPClient{
		w:       w,
		cfg:     cfg.withDefaults(),
		pending: make(map[uint32]*pendingTx),
		conns:   make(map[netip.AddrPort]connEntry),
		closed:  make(chan struct{}),
	}
}

// Close fails the requests in flight with ErrClosed.
func (c *UDPClient) Close() error {
	c.closeOnce.Do(func() { close(c.closed) })
	return nil
}

// HandlePacket offers the client a datagram read from the shared socket and
// reports whether it was the answer to one of its requests: its source is
// the tracker asked and it carries the transaction id of a request in flight.
// Tracker answers begin with a 32-bit action of 0 to 3, so their first byte
// is zero, unlike DHT messages ('d') and uTP packets (type and version).
// HandlePacket does not block and does not keep data.
func (c *UDPClient) HandlePacket(from netip.AddrPort, data []byte) bool {
	if len(data) < udpHeaderSize || data[0] != 0 || data[1] != 0 || data[2] != 0 || data[3] > actionError {
		return false
	}
	tid := uint32(data[4])<<24 | uint32(data[5])<<16 | uint32(data[6])<<8 | uint32(data[7])
	from = unmapAddrPort(from)
	c.mu.Lock()
	p, ok := c.pending[tid]
	if ok && p.from == from {
		delete(c.pending, tid)
	}
	c.mu.Unlock()
	if !ok || p.from != from {
		return false
	}
	p.ch <- append([]byte(nil), data...)
	return true
}

// Announce sends req to the UDP tracker at announceURL (udp://host:port).
func (c *UDPClient) Announce(ctx context.Context, announceURL string, req *AnnounceRequest) (*AnnounceResponse, error) {
	addr, err := c.resolve(ctx, announceURL)
	if err != nil {
		return nil, err
	}
	r, err := c.do(ctx, addr, actionAnnounce, 0, func(dst []byte, cid uint64, tid uint32) []byte {
		return appendAnnounceRequest(dst, cid, tid, req)
	})
	if err != nil {
		return nil, err
	}
	return r.announce, nil
}

// Scrape asks the UDP tracker at announceURL about the given torrents,
// maxScrapeHashes per request.
func (c *UDPClient) Scrape(ctx context.Context, announceURL string, infoHashes ...[20]byte) (map[[20]byte]ScrapeResult, error) {
	addr, err := c.resolve(ctx, announceURL)
	if err != nil {
		return nil, err
	}
	out := make(map[[20]byte]ScrapeResult, len(infoHashes))
	for len(infoHashes) > 0 {
		batch := infoHashes[:min(len(infoHashes), maxScrapeHashes)]
		infoHashes = infoHashes[len(batch):]
		r, err := c.do(ctx, addr, actionScrape, len(batch), func(dst []byte, cid uint64, tid uint32) []byte {
			return appendScrapeRequest(dst, cid, tid, batch)
		})
		if err != nil {
			return nil, err
		}
		for i, h := range batch {
			out[h] = r.scrape[i]
		}
	}
	return out, nil
}

// errNoAnswer marks one attempt that timed out.
var errNoAnswer = errors.New("tracker: no answer yet")

// do runs one request, connecting first when no fresh connection id is at
// hand, and retransmits after BaseTimeout·2^n with n growing on every
// timeout, connect and request alike.
func (c *UDPClient) do(ctx context.Context, addr netip.AddrPort, action uint32, nScrape int,
	build func(dst []byte, cid uint64, tid uint32) []byte) (udpResponse, error) {
	v6 := !addr.Addr().Is4()
	n := 0
	retriedStale := false
	timedOut := func() error {
		if n >= c.cfg.MaxRetries {
			return fmt.Errorf("%w: %s after %d attempts", ErrTimeout, addr, n+1)
		}
		n++
		return nil
	}
	for {
		cid, cached := c.connID(addr)
		if !cached {
			r, err := c.exchange(ctx, addr, actionConnect, v6, 0, c.timeout(n), func(tid uint32) []byte {
				return appendConnectRequest(make([]byte, 0, connectRequestSize), tid)
			})
			if err == errNoAnswer {
				if err := timedOut(); err != nil {
					return udpResponse{}, err
				}
				continue
			}
			if err != nil {
				return udpResponse{}, err
			}
			if r.action == actionError {
				return udpResponse{}, &FailureError{Reason: r.message}
			}
			cid = r.connID
			c.setConnID(addr, cid)
		}
		r, err := c.exchange(ctx, addr, action, v6, nScrape, c.timeout(n), func(tid uint32) []byte {
			return build(make([]byte, 0, announceRequestSize), cid, tid)
		})
		if err == errNoAnswer {
			if err := timedOut(); err != nil {
				return udpResponse{}, err
			}
			continue
		}
		if err != nil {
			return udpResponse{}, err
		}
		if r.action == actionError {
			c.forgetConnID(addr, cid)
			if cached && !retriedStale {
				// The tracker may have dropped a connection id we still
				// thought valid: connect again once before believing it.
				retriedStale = true
				continue
			}
			return udpResponse{}, &FailureError{Reason: r.message}
		}
		return r, nil
	}
}

// exchange sends one datagram and waits up to timeout for its answer.
func (c *UDPClient) exchange(ctx context.Context, addr netip.AddrPort, action uint32, v6 bool, nScrape int,
	timeout time.Duration, build func(tid uint32) []byte) (udpResponse, error) {
	tid, ch, err := c.register(addr)
	if err != nil {
		return udpResponse{}, err
	}
	defer c.unregister(tid)
	if _, err := c.w.WriteToUDPAddrPort(build(tid), addr); err != nil {
		return udpResponse{}, fmt.Errorf("tracker: sending to %s: %w", addr, err)
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return udpResponse{}, fmt.Errorf("tracker: %s: %w", addr, ctx.Err())
	case <-c.closed:
		return udpResponse{}, ErrClosed
	case <-timer.C:
		return udpResponse{}, errNoAnswer
	case data := <-ch:
		r, err := parseUDPResponse(data, v6, nScrape)
		if err != nil {
			return udpResponse{}, err
		}
		if r.action != action && r.action != actionError {
			return udpResponse{}, fmt.Errorf("%w: action %d in answer to action %d", ErrBadResponse, r.action, action)
		}
		return r, nil
	}
}

func (c *UDPClient) timeout(n int) time.Duration {
	d := c.cfg.BaseTimeout
	for range min(n, 16) {
		d *= 2
	}
	return d
}

// register reserves a fresh random transaction id for a request to addr.
func (c *UDPClient) register(addr netip.AddrPort) (uint32, chan []byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	select {
	case <-c.closed:
		return 0, nil, ErrClosed
	default:
	}
	for {
		tid := rand.Uint32()
		if _, taken := c.pending[tid]; !taken {
			ch := make(chan []byte, 1)
			c.pending[tid] = &pendingTx{from: addr, ch: ch}
			return tid, ch, nil
		}
	}
}

func (c *UDPClient) unregister(tid uint32) {
	c.mu.Lock()
	delete(c.pending, tid)
	c.mu.Unlock()
}

func (c *UDPClient) connID(addr netip.AddrPort) (uint64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.conns[addr]
	if !ok || !c.cfg.Now().Before(e.expires) {
		return 0, false
	}
	return e.id, true
}

func (c *UDPClient) setConnID(addr netip.AddrPort, id uint64) {
	now := c.cfg.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	for a, e := range c.conns {
		if !now.Before(e.expires) {
			delete(c.conns, a)
		}
	}
	c.conns[addr] = connEntry{id: id, expires: now.Add(c.cfg.ConnIDLifetime)}
}

func (c *UDPClient) forgetConnID(addr netip.AddrPort, id uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.conns[addr]; ok && e.id == id {
		delete(c.conns, addr)
	}
}

// resolve turns udp://host:port[/path] into the tracker's address.
func (c *UDPClient) resolve(ctx context.Context, announceURL string) (netip.AddrPort, error) {
	u, err := url.Parse(announceURL)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("%w: %w", ErrUnsupportedURL, err)
	}
	if !strings.EqualFold(u.Scheme, "udp") || u.Hostname() == "" || u.Port() == "" {
		return netip.AddrPort{}, fmt.Errorf("%w: %q", ErrUnsupportedURL, announceURL)
	}
	port, err := net.LookupPort("udp", u.Port())
	if err != nil || port <= 0 || port > 65535 {
		return netip.AddrPort{}, fmt.Errorf("%w: bad port in %q", ErrUnsupportedURL, announceURL)
	}
	host := u.Hostname()
	addr, err := netip.ParseAddr(host)
	if err != nil {
		addrs, lerr := c.cfg.Resolver.LookupNetIP(ctx, "ip", host)
		if lerr != nil {
			return netip.AddrPort{}, fmt.Errorf("tracker: resolving %s: %w", host, lerr)
		}
		if len(addrs) == 0 {
			return netip.AddrPort{}, fmt.Errorf("tracker: resolving %s: no addresses", host)
		}
		addr = addrs[0]
	}
	return netip.AddrPortFrom(addr.Unmap(), uint16(port)), nil
}

func unmapAddrPort(p netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(p.Addr().Unmap(), p.Port())
}
