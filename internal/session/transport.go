package session

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
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

// dial connects to addr and returns the connection and its transport
// ("tcp" or "utp"). With both, the two race and uTP wins unless TCP
// connected longer than the grace above before it.
func (d dialer) dial(ctx context.Context, addr netip.AddrPort, noUTP bool) (net.Conn, string, error) {
	useUTP, useTCP := d.transports(noUTP)
	switch {
	case useUTP && !useTCP:
		c, err := d.utp.Dial(ctx, addr)
		if err != nil {
			return nil, "", err
		}
		return c, "utp", nil
	case !useUTP:
		c, err := dialTCP(ctx, addr)
		return c, "tcp", err
	}
	type result struct {
		c   net.Conn
		tr  string
		err error
	}
	start := time.Now()
	ctx, cancel := context.WithCancel(ctx)
	results := make(chan result, 2)
	go func() {
		c, err := d.utp.Dial(ctx, addr)
		if err != nil {
			results <- result{nil, "utp", err}
			return
		}
		results <- result{c, "utp", nil}
	}()
	go func() {
		c, err := dialTCP(ctx, addr)
		results <- result{c, "tcp", err}
	}()
	// finish hands the losing attempt's connection, if any, to a closer.
	finish := func(pending int) {
		cancel()
		go func() {
			for range pending {
				if r := <-results; r.c != nil {
					r.c.Close()
				}
			}
		}()
	}
	var tcp net.Conn
	var errs []error
	var grace <-chan time.Time
	for pending := 2; pending > 0; {
		select {
		case r := <-results:
			pending--
			if r.err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", r.tr, r.err))
			}
			switch {
			case r.tr == "utp" && r.err == nil:
				if tcp != nil {
					tcp.Close()
				}
				finish(pending)
				return r.c, "utp", nil
			case r.tr == "tcp":
				// TCP has its answer, a connection or a refusal from the
				// host: uTP gets the grace period, not its whole timeout.
				tcp = r.c
				grace = time.After(min(max(3*time.Since(start), minGrace), maxGrace))
			}
		case <-grace:
			finish(pending)
			if tcp == nil {
				return nil, "", errors.Join(append(errs, errors.New("utp: no answer"))...)
			}
			return tcp, "tcp", nil
		}
	}
	cancel()
	if tcp != nil {
		return tcp, "tcp", nil
	}
	return nil, "", errors.Join(errs...)
}

// transportOf names the transport of an accepted connection.
func transportOf(nc net.Conn) string {
	if _, ok := nc.(*utp.Conn); ok {
		return "utp"
	}
	return "tcp"
}
