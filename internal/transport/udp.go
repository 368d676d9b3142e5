// Package transport holds what carries peer connections and datagrams: the
// UDP socket that uTP, the UDP tracker client and the DHT share.
package transport

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
)

// PacketHandler is offered each datagram read from a shared socket. It
// reports whether the datagram was its own. It must not block and must not
// keep data after it returns.
type PacketHandler interface {
	HandlePacket(from netip.AddrPort, data []byte) bool
}

// socketBuffer is the socket receive and send buffer asked for.
const socketBuffer = 4 << 20

// maxDatagram is the largest UDP payload.
const maxDatagram = 65535

// UDPMux is one UDP socket shared by several protocols. A goroutine drains
// it continuously and hands every datagram to the handlers in the order they
// were added until one claims it.
type UDPMux struct {
	conn *net.UDPConn

	mu       sync.RWMutex
	handlers []PacketHandler

	in, out, unclaimed atomic.Uint64
	done               chan struct{}
	closeOnce          sync.Once
}

// ListenUDP opens a shared UDP socket on addr (host:port; port 0 picks one).
func ListenUDP(addr string) (*UDPMux, error) {
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("udp %s: %w", addr, err)
	}
	conn, err := net.ListenUDP("udp", ua)
	if err != nil {
		return nil, err
	}
	return NewUDPMux(conn), nil
}

// NewUDPMux shares conn; Close closes it.
func NewUDPMux(conn *net.UDPConn) *UDPMux {
	// Best effort (the kernel may cap them): a burst must not be dropped
	// while a handler runs, and a send must rarely wait for room, since
	// answers are sent from the reading goroutine.
	conn.SetReadBuffer(socketBuffer)
	conn.SetWriteBuffer(socketBuffer)
	m := &UDPMux{conn: conn, done: make(chan struct{})}
	go m.readLoop()
	return m
}

// Handle adds h after the handlers already added.
func (m *UDPMux) Handle(h PacketHandler) {
	m.mu.Lock()
	m.handlers = append(m.handlers, h)
	m.mu.Unlock()
}

// LocalAddr is the socket's address.
func (m *UDPMux) LocalAddr() netip.AddrPort {
	return m.conn.LocalAddr().(*net.UDPAddr).AddrPort()
}

// WriteToUDPAddrPort sends one datagram.
func (m *UDPMux) WriteToUDPAddrPort(b []byte, addr netip.AddrPort) (int, error) {
	n, err := m.conn.WriteToUDPAddrPort(b, addr)
	if err == nil {
		m.out.Add(1)
	}
	return n, err
}

// MuxStats counts datagrams.
type MuxStats struct {
	In, Out   uint64 // read and written
	Unclaimed uint64 // read but wanted by no handler
}

// Stats returns the counters so far.
func (m *UDPMux) Stats() MuxStats {
	return MuxStats{In: m.in.Load(), Out: m.out.Load(), Unclaimed: m.unclaimed.Load()}
}

func (m *UDPMux) readLoop() {
	defer close(m.done)
	buf := make([]byte, maxDatagram)
	for {
		n, from, err := m.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// ICMP errors surface as read errors on some systems; they say
			// nothing about the socket itself.
			continue
		}
		m.in.Add(1)
		from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
		m.mu.RLock()
		hs := m.handlers
		m.mu.RUnlock()
		claimed := false
		for _, h := range hs {
			if h.HandlePacket(from, buf[:n]) {
				claimed = true
				break
			}
		}
		if !claimed {
			m.unclaimed.Add(1)
		}
	}
}

// Close closes the socket and waits for the reader to stop.
func (m *UDPMux) Close() error {
	var err error
	m.closeOnce.Do(func() {
		err = m.conn.Close()
		<-m.done
	})
	return err
}
