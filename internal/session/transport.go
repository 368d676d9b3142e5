package session

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"syscall"
	"time"

	"tt/internal/utp"
)

// Transport chooses how peers are dialled.
type Transport uint8

const (
	TransportBoth Transport = iota // uTP and TCP, uTP preferred (the default)
	TransportTCP
	TransportUTP
)

// ParseTransport reads "both", "tcp" or "utp".
func ParseTransport(s string) (Transport, error) {
	switch s {
	case "", "both":
		return TransportBoth, nil
	case "tcp":
		return TransportTCP, nil
	case "utp":
		return TransportUTP, nil
	}
	return 0, fmt.Errorf("transport %q: want tcp, utp or both", s)
}

// Once TCP has connected (or been refused), a uTP attempt to the same peer
// may still win for three times as long as TCP took (a uTP answer takes
// about as long as a TCP handshake), at least minGrace and at most
// maxGrace: uTP yields to other traffic, so it is preferred, but a peer
// without uTP must not cost much more than its TCP connect.
const (
	minGrace = 10 * time.Millisecond
	maxGrace = 300 * time.Millisecond
)

// dialer opens raw peer connections over the configured transports.
type dialer struct {
	utp  *utp.Socket // nil: TCP only
	mode Transport
}

func dialTCP(ctx context.Context, addr netip.AddrPort) (net.Conn, error) {
	d := net.Dialer{Timeout: 10 * time.Second}
	return d.DialContext(ctx, "tcp", addr.String())
}

// transports lists what may be tried for a peer; noUTP says uTP failed to
// reach it before.
func (d dialer) transports(noUTP bool) (useUTP, useTCP bool) {
	useUTP = d.utp != nil && d.mode != TransportTCP && !(noUTP && d.mode == TransportBoth)
	useTCP = d.mode != TransportUTP || d.utp == nil
	return useUTP, useTCP
}

// attempt is the outcome of one transport's connection attempt.
type attempt struct {
	c   net.Conn
	tr  Carrier
	err error
}

// spareWait bounds the wait for a spare that has not connected yet: the
// peer closed the chosen connection for it, so it is at most a round
// trip behind.
const spareWait = maxGrace

// spare is the attempt that lost a race of the transports, kept until the
// handshake on the winner shows whether the peer wants it. A peer that
// keeps one connection per address (Transmission) accepts both and
// closes whichever it took second, and that need not be the one that
// answered here first.
type spare struct {
	tr     Carrier
	res    <-chan attempt // the attempt's one result
	cancel context.CancelFunc
}

// take returns the spare's connection, or nil when it failed or is more
// than spareWait away.
func (s *spare) take() net.Conn {
	t := time.NewTimer(spareWait)
	defer t.Stop()
	select {
	case r := <-s.res:
		s.cancel()
		return r.c
	case <-t.C:
		s.drop()
		return nil
	}
}

// drop abandons the spare and closes its connection whenever it arrives.
func (s *spare) drop() {
	s.cancel()
	go func() {
		if r := <-s.res; r.c != nil {
			r.c.Close()
		}
	}()
}

// ready is a result channel that already holds r.
func ready(r attempt) <-chan attempt {
	ch := make(chan attempt, 1)
	ch <- r
	return ch
}

// dial connects to addr and returns the connection and its transport
// ("tcp" or "utp"). With both, the two race and uTP wins unless TCP
// connected longer than the grace above before it; the loser, connected
// or still trying, comes back as a spare (else nil), which the caller
// must take or drop.
func (d dialer) dial(ctx context.Context, addr netip.AddrPort, noUTP bool) (net.Conn, Carrier, *spare, error) {
	useUTP, useTCP := d.transports(noUTP)
	switch {
	case useUTP && !useTCP:
		c, err := d.utp.Dial(ctx, addr)
		if err != nil {
			return nil, "", nil, err
		}
		return c, OverUTP, nil, nil
	case !useUTP:
		c, err := dialTCP(ctx, addr)
		return c, OverTCP, nil, err
	}
	start := time.Now()
	ctx, cancel := context.WithCancel(ctx)
	utpRes, tcpRes := make(chan attempt, 1), make(chan attempt, 1)
	go func() {
		c, err := d.utp.Dial(ctx, addr)
		if err != nil {
			utpRes <- attempt{nil, OverUTP, err}
			return
		}
		utpRes <- attempt{c, OverUTP, nil}
	}()
	go func() {
		c, err := dialTCP(ctx, addr)
		tcpRes <- attempt{c, OverTCP, err}
	}()
	var tcp *attempt
	var utpErr error
	var grace <-chan time.Time
	for {
		select {
		case r := <-utpRes:
			switch {
			case r.err == nil && tcp != nil:
				return r.c, OverUTP, &spare{OverTCP, ready(*tcp), cancel}, nil
			case r.err == nil:
				return r.c, OverUTP, &spare{OverTCP, tcpRes, cancel}, nil
			case tcp != nil:
				cancel()
				return tcp.c, OverTCP, nil, tcpErr(*tcp, r.err)
			}
			utpErr, utpRes = r.err, nil // TCP has the last word
		case r := <-tcpRes:
			tcp, tcpRes = &r, nil
			if utpRes == nil {
				cancel()
				return r.c, OverTCP, nil, tcpErr(r, utpErr)
			}
			// TCP has its answer, a connection or a refusal from the
			// host: uTP gets the grace period, not its whole timeout.
			grace = time.After(min(max(3*time.Since(start), minGrace), maxGrace))
		case <-grace:
			s := &spare{OverUTP, utpRes, cancel}
			if tcp.err != nil {
				s.drop()
				return nil, "", nil, tcpErr(*tcp, errors.New("no answer"))
			}
			return tcp.c, OverTCP, s, nil
		}
	}
}

// tcpErr is the error of a race that TCP decided: none when it connected,
// else both transports' reasons.
func tcpErr(tcp attempt, utpErr error) error {
	if tcp.err == nil {
		return nil
	}
	return errors.Join(fmt.Errorf("tcp: %w", tcp.err), fmt.Errorf("utp: %w", utpErr))
}

// peerDial makes the connections of one dial to one peer. The first races
// the transports; later ones (a plaintext retry after a failed encryption
// handshake) keep to the transport that worked. *tr and *raw name the
// connection made last.
type peerDial struct {
	d     dialer
	addr  netip.AddrPort
	noUTP bool
	tr    *Carrier
	raw   *net.Conn
	spare *spare
}

// sticky returns the peerDial for addr; its dial method is a rawDial.
func (d dialer) sticky(addr netip.AddrPort, noUTP bool, tr *Carrier, raw *net.Conn) *peerDial {
	return &peerDial{d: d, addr: addr, noUTP: noUTP, tr: tr, raw: raw}
}

// dial opens the next connection to the peer.
func (p *peerDial) dial(ctx context.Context) (net.Conn, error) {
	p.drop() // a new connection replaces the race's loser too
	var c net.Conn
	var err error
	switch *p.tr {
	case "":
		c, *p.tr, p.spare, err = p.d.dial(ctx, p.addr, p.noUTP)
	case OverUTP:
		c, err = p.d.utp.Dial(ctx, p.addr)
	default:
		c, err = dialTCP(ctx, p.addr)
	}
	if err != nil {
		return nil, err
	}
	*p.raw = c
	return c, nil
}

// takeSpare returns the connection of the transport that lost the race,
// which becomes the connection made last, or nil when there is none.
func (p *peerDial) takeSpare() net.Conn {
	if p.spare == nil {
		return nil
	}
	s := p.spare
	p.spare = nil
	c := s.take()
	if c != nil {
		*p.tr, *p.raw = s.tr, c
	}
	return c
}

// drop closes the spare, if any: the handshake is over.
func (p *peerDial) drop() {
	if p.spare != nil {
		p.spare.drop()
		p.spare = nil
	}
}

// closedByPeer says that a handshake failed because the peer ended the
// connection (rather than by staying silent or by saying something wrong).
func closedByPeer(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// transportOf names the transport of an accepted connection.
func transportOf(nc net.Conn) Carrier {
	if _, ok := nc.(*utp.Conn); ok {
		return OverUTP
	}
	return OverTCP
}
