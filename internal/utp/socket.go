package utp

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// PacketWriter sends datagrams; transport.UDPMux implements it.
type PacketWriter interface {
	WriteToUDPAddrPort(b []byte, addr netip.AddrPort) (int, error)
}

// Config tunes a Socket; the zero value follows BEP 29.
type Config struct {
	// Target is LEDBAT's target queuing delay (100 ms).
	Target time.Duration
	// PacketSize is the payload per packet (1400 bytes: within any path's
	// MTU, and what other clients read). See Conn.RaisePacketSize.
	PacketSize int
	// RecvWindow and SendBuffer bound what a connection keeps (4 MiB each).
	RecvWindow, SendBuffer int
	// ConnectTimeout bounds a Dial's SYN retries (6 s).
	ConnectTimeout time.Duration
}

func (c Config) withDefaults() Config {
	if c.Target <= 0 {
		c.Target = 100 * time.Millisecond
	}
	if c.RecvWindow <= 0 {
		c.RecvWindow = 4 << 20
	}
	if c.SendBuffer <= 0 {
		c.SendBuffer = 4 << 20
	}
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = 6 * time.Second
	}
	return c
}

// defaultPacketSize keeps packets within a 1500-byte MTU with room for
// tunnels; other clients read no more.
const defaultPacketSize = 1400

// MaxPacketSize is the largest payload this package receives (a datagram
// of up to 64 KiB less the header and a selective ack).
const MaxPacketSize = 65000

// loopbackPacketSize is the most payload sent to a loopback address
// (MTU 64 KiB) once the peer has said it can take it.
const loopbackPacketSize = 16 << 10

func (c Config) packetSize() int {
	if c.PacketSize > 0 {
		return c.PacketSize
	}
	return defaultPacketSize
}

type connKey struct {
	addr netip.AddrPort
	id   uint16 // the connection id the peer puts in packets to us
}

// Socket holds the uTP connections of one UDP socket. HandlePacket must be
// given every datagram read from it.
type Socket struct {
	w     PacketWriter
	local net.Addr
	cfg   Config

	mu     sync.Mutex
	conns  map[connKey]*Conn
	syns   map[connKey]*Conn // incoming connections by the id of their SYN
	closed bool
	accept chan *Conn
	done   chan struct{} // closed when Close starts
	// drained is closed when Close has finished with every connection;
	// a later or concurrent Close waits for it.
	drained chan struct{}
	resets  *rate.Limiter // RESETs to unknown connections

	// Counters.
	Received, Malformed, Unknown, ResetsSent atomic.Uint64
}

const (
	// resetRate bounds the RESETs sent to unknown connections, per second.
	resetRate = 100
	// closeWait bounds how long Socket.Close waits for closing
	// connections: a round trip and a retransmission.
	closeWait = time.Second
)

// NewSocket returns a socket that sends through w; local is its address.
func NewSocket(w PacketWriter, local net.Addr, cfg Config) *Socket {
	return &Socket{w: w, local: local, cfg: cfg.withDefaults(), conns: make(map[connKey]*Conn),
		syns: make(map[connKey]*Conn), accept: make(chan *Conn, 64), done: make(chan struct{}),
		drained: make(chan struct{}), resets: rate.NewLimiter(resetRate, resetRate)}
}

// HandlePacket takes a datagram and reports whether it was uTP.
func (s *Socket) HandlePacket(from netip.AddrPort, data []byte) bool {
	if !isPacket(data) {
		return false
	}
	s.Received.Add(1)
	h, sack, payload, err := parsePacket(data)
	if err != nil {
		s.Malformed.Add(1)
		return true
	}
	s.mu.Lock()
	c := s.conns[connKey{from, h.connID}]
	if c == nil && h.typ == stSyn {
		c = s.syns[connKey{from, h.connID}]
		if c == nil {
			c = s.incoming(from, &h)
			s.mu.Unlock()
			return true
		}
	}
	if c == nil && h.typ == stReset {
		c = s.resetTarget(from, h.connID)
	}
	s.mu.Unlock()
	if c == nil {
		s.Unknown.Add(1)
		if h.typ != stReset {
			s.reset(from, &h)
		}
		return true
	}
	c.handle(&h, sack, payload)
	return true
}

// resetTarget finds the connection a RESET with id is meant for when it
// carries the id that connection sends with: libutp, like this package
// for unknown connections, answers with the id of the packet it did not
// know, and its sender's receive id is one more or one less. Called with
// s.mu held.
func (s *Socket) resetTarget(from netip.AddrPort, id uint16) *Conn {
	for _, recv := range [2]uint16{id - 1, id + 1} {
		if c := s.conns[connKey{from, recv}]; c != nil && c.sendID == id {
			return c
		}
	}
	return nil
}

// incoming answers a new SYN. Called with s.mu held.
func (s *Socket) incoming(from netip.AddrPort, h *header) *Conn {
	if s.closed {
		return nil
	}
	key := connKey{from, h.connID + 1}
	if s.conns[key] != nil {
		return nil
	}
	if len(s.accept) == cap(s.accept) {
		// Nobody accepts fast enough: refuse rather than queue unbounded.
		s.resetLocked(from, h)
		return nil
	}
	c := newConn(s, from, h.connID+1, h.connID)
	c.state = stateSynRecv
	c.seq = uint16(rand.Uint32())
	c.ackNr = h.seq
	c.peerWnd = h.wnd
	c.noteRecv(h)
	s.conns[key] = c
	s.syns[connKey{from, h.connID}] = c
	c.synStateSeq = c.seq
	c.sendState() // its sequence number is that of our first data packet
	s.accept <- c // room was checked above, and only Accept takes from it
	return c
}

func (s *Socket) reset(to netip.AddrPort, h *header) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.resetLocked(to, h)
}

// resetLocked tells a peer that its connection is unknown, at most
// resetRate times a second. Called with s.mu held.
func (s *Socket) resetLocked(to netip.AddrPort, h *header) {
	if !s.resets.Allow() {
		return
	}
	s.ResetsSent.Add(1)
	r := header{typ: stReset, connID: h.connID, ts: micros(), seq: uint16(rand.Uint32()), ack: h.seq}
	s.w.WriteToUDPAddrPort(appendPacket(nil, &r, nil, nil), to)
}

func (s *Socket) remove(c *Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conns[connKey{c.remote, c.recvID}] == c {
		delete(s.conns, connKey{c.remote, c.recvID})
	}
	// An incoming connection is also known by its SYN's id: its send id.
	if s.syns[connKey{c.remote, c.sendID}] == c {
		delete(s.syns, connKey{c.remote, c.sendID})
	}
}

// Dial opens a connection to addr.
func (s *Socket) Dial(ctx context.Context, addr netip.AddrPort) (*Conn, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, net.ErrClosed
	}
	var id uint16
	for {
		id = uint16(rand.Uint32())
		if s.conns[connKey{addr, id}] == nil && s.conns[connKey{addr, id + 1}] == nil {
			break
		}
	}
	c := newConn(s, addr, id, id+1)
	c.state = stateSynSent
	c.seq = uint16(rand.Uint32())
	s.conns[connKey{addr, id}] = c
	s.mu.Unlock()

	ctx, cancel := context.WithTimeout(ctx, s.cfg.ConnectTimeout)
	defer cancel()
	wait := time.Second
	for {
		c.mu.Lock()
		h := c.header(stSyn, c.seq)
		h.connID = c.recvID // a SYN carries the id we receive on
		c.send(&h, nil, nil)
		c.mu.Unlock()
		t := time.NewTimer(wait)
		select {
		case <-c.connected:
			t.Stop()
			return c, nil
		case <-c.dead:
			t.Stop()
			s.remove(c)
			return nil, c.err()
		case <-ctx.Done():
			t.Stop()
			c.mu.Lock()
			c.fail(errors.New("utp: connect timed out"))
			c.mu.Unlock()
			s.remove(c)
			return nil, &net.OpError{Op: "dial", Net: "utp", Addr: net.UDPAddrFromAddrPort(addr), Err: ctx.Err()}
		case <-t.C:
			wait *= 2
		}
	}
}

// Accept waits for an incoming connection.
func (s *Socket) Accept() (net.Conn, error) {
	select {
	case c := <-s.accept:
		return c, nil
	case <-s.done:
		return nil, net.ErrClosed
	}
}

// Addr is the socket's local address.
func (s *Socket) Addr() net.Addr { return s.local }

// Close stops accepting, gives connections that are closing up to
// closeWait to complete their close with the peer, and resets every
// connection left. The UDP socket itself belongs to the caller and must
// go on delivering datagrams until Close returns, also when Close is
// called again (a listener closed as its context ends, then the socket):
// every call returns only once the first has finished.
func (s *Socket) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		<-s.drained
		return nil
	}
	s.closed = true
	close(s.done)
	defer close(s.drained)
	conns := make([]*Conn, 0, len(s.conns))
	for _, c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	// A peer that never sees our FIN acknowledged or its own FIN acked
	// keeps its side for seconds: libtorrent refuses a new connection
	// from the same address to the torrent until then.
	wait := time.NewTimer(closeWait)
	defer wait.Stop()
waiting:
	for _, c := range conns {
		if !c.closing() {
			continue
		}
		select {
		case <-c.dead:
		case <-wait.C:
			break waiting
		}
	}
	for _, c := range conns {
		c.abort()
	}
	return nil
}

// NumConns is the number of connections the socket holds.
func (s *Socket) NumConns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

var clockStart = time.Now()

// micros is the uTP timestamp clock: microseconds, wrapping at 2^32.
func micros() uint32 { return uint32(time.Since(clockStart).Microseconds()) }
