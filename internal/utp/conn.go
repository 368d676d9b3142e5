package utp

import (
	"io"
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"time"
)

type connState uint8

const (
	stateSynSent connState = iota
	stateSynRecv
	stateConnected
	stateClosed
)

const (
	minRTO      = 500 * time.Millisecond // BEP 29
	maxRTO      = 60 * time.Second
	maxTimeouts = 8
	ackDelay    = time.Millisecond
	// ackEvery in-order packets are acknowledged together (others within
	// ackDelay): each ack costs a system call on both sides, and the
	// sender's window grows by bytes acknowledged, not by acks.
	ackEvery = 4
	// lingerTime bounds how long a closed connection waits for its FIN to
	// be acknowledged and for the peer's FIN; then it resets.
	lingerTime = 10 * time.Second
	// timeWait is how long a connection whose close completed still
	// answers a retransmitted FIN (its peer missed our ack): longer than
	// the peer's retransmission timeout.
	timeWait = 3 * time.Second
	// reorderLimit bounds how far ahead of the next expected packet data
	// is kept (the selective-ack bitmask reaches maxSACKBytes*8 ahead; the
	// receive window bounds the bytes).
	reorderLimit = 4096
)

type outPacket struct {
	seq    uint16
	typ    byte // stData or stFin
	data   []byte
	sentAt time.Time
	tx     int  // transmissions
	acked  bool // selectively acknowledged
	lost   bool // waits for retransmission
}

// Conn is one uTP connection; it implements net.Conn.
type Conn struct {
	s      *Socket
	remote netip.AddrPort
	recvID uint16 // in the peer's packets to us
	sendID uint16 // in our packets to the peer
	// synStateSeq is the sequence number of our answer to an incoming SYN.
	synStateSeq uint16
	mss         int

	mu        sync.Mutex
	state     connState
	connected chan struct{} // closed once established (for Dial)
	dead      chan struct{} // closed when the connection failed or closed
	failErr   error
	scratch   []byte

	// Sending.
	seq        uint16       // next sequence number to assign
	out        []*outPacket // unacknowledged packets in order; out[:sent] were sent
	sent       int
	queued     int // payload bytes in out
	inflight   int // payload bytes sent, not acked, not lost
	cc         *ledbat
	peerWnd    uint32
	rtt        time.Duration
	rttVar     time.Duration
	rto        time.Duration
	timeouts   int
	rtoTimer   *time.Timer
	lastSend   time.Time
	recovering bool
	recoverSeq uint16
	lastAck    uint16
	dupAcks    int
	finQueued  bool
	finAcked   bool
	writeCh    chan struct{}

	// Receiving.
	ackNr      uint16
	ooo        map[uint16]inPacket
	oooBytes   int
	rbuf       [][]byte
	rbufBytes  int
	eof        bool
	replyMicro uint32 // timestamp difference we report
	unacked    int
	ackTimer   *time.Timer
	ackArmed   bool
	wndSmall   bool
	readCh     chan struct{}

	rdl, wdl   time.Time
	userClosed bool
	// lingerTimer resets a closing connection after lingerTime, or
	// forgets one in time-wait.
	lingerTimer *time.Timer
	timeWait    bool

	retransmits, timeoutCount uint64
}

type inPacket struct {
	data []byte
	fin  bool
}

func newConn(s *Socket, remote netip.AddrPort, recvID, sendID uint16) *Conn {
	mss := s.cfg.packetSize()
	c := &Conn{s: s, remote: remote, recvID: recvID, sendID: sendID, mss: mss,
		connected: make(chan struct{}), dead: make(chan struct{}),
		cc: newLEDBAT(mss, s.cfg.Target, s.cfg.SendBuffer), rto: time.Second,
		ooo: make(map[uint16]inPacket), writeCh: make(chan struct{}, 1), readCh: make(chan struct{}, 1),
		peerWnd: uint32(mss)}
	c.rtoTimer = time.AfterFunc(time.Hour, c.onRTO)
	c.rtoTimer.Stop()
	c.ackTimer = time.AfterFunc(time.Hour, c.onAckTimer)
	c.ackTimer.Stop()
	return c
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// noteRecv records the peer's timestamp for the delay we report back.
func (c *Conn) noteRecv(h *header) { c.replyMicro = micros() - h.ts }

func (c *Conn) advertised() uint32 {
	n := c.s.cfg.RecvWindow - c.rbufBytes - c.oooBytes
	return uint32(max(n, 0))
}

func (c *Conn) header(typ byte, seq uint16) header {
	return header{typ: typ, connID: c.sendID, ts: micros(), tsDiff: c.replyMicro, wnd: c.advertised(), seq: seq, ack: c.ackNr}
}

// sack builds the selective-ack bitmask of packets held out of order
// (at most maxSACKBytes*8 of them after the next expected one).
func (c *Conn) sack() []byte {
	if len(c.ooo) == 0 {
		return nil
	}
	var bits [maxSACKBytes]byte
	top := -1
	for i := range maxSACKBytes * 8 {
		if _, ok := c.ooo[c.ackNr+2+uint16(i)]; ok {
			bits[i/8] |= 1 << (i % 8)
			top = i
		}
	}
	if top < 0 {
		return nil
	}
	n := (top/32 + 1) * 4
	return append([]byte(nil), bits[:n]...)
}

func (c *Conn) send(h *header, sack, payload []byte) {
	c.scratch = appendPacket(c.scratch[:0], h, sack, payload)
	c.s.w.WriteToUDPAddrPort(c.scratch, c.remote)
}

// stateSeq is the sequence number of our ST_STATE and ST_RESET packets:
// that of the next packet to be sent (they consume none), and once our
// FIN is sent, the FIN's. libtorrent drops any packet numbered past a FIN
// it received (so it never saw its own FIN acknowledged), and pure acks
// numbered beyond its reorder window, which data queued but not yet sent
// would reach.
func (c *Conn) stateSeq() uint16 {
	if c.sent < len(c.out) {
		return c.out[c.sent].seq
	}
	if c.finQueued {
		return c.seq - 1
	}
	return c.seq
}

// sendState acknowledges what has arrived. Called with c.mu held.
func (c *Conn) sendState() {
	h := c.header(stState, c.stateSeq())
	c.send(&h, c.sack(), nil)
	c.unacked = 0
	c.wndSmall = c.advertised() < uint32(c.mss)
	if c.ackArmed {
		c.ackTimer.Stop()
		c.ackArmed = false
	}
}

func (c *Conn) onAckTimer() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ackArmed = false
	if c.unacked > 0 && c.state != stateClosed {
		c.sendState()
	}
}

// handle processes a packet of this connection (from the socket's reader).
func (c *Conn) handle(h *header, sack, payload []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state == stateClosed {
		if c.timeWait && h.typ == stFin && h.seq == c.ackNr {
			c.noteRecv(h)
			c.sendState() // the peer missed our ack of its FIN
		}
		return
	}
	if h.typ == stReset {
		c.fail(syscall.ECONNRESET)
		return
	}
	c.noteRecv(h)
	c.peerWnd = h.wnd
	switch c.state {
	case stateSynSent:
		if h.typ != stState || h.ack != c.seq {
			return
		}
		c.state = stateConnected
		// The answer's sequence number is also that of the peer's first
		// data packet (libutp and libtorrent do not consume one for it).
		c.ackNr = h.seq - 1
		c.seq++ // the SYN took one
		c.lastAck = h.ack
		close(c.connected)
		if h.tsDiff != 0 {
			c.cc.sample(h.tsDiff, time.Now())
		}
		return
	case stateSynRecv:
		if h.typ == stSyn {
			// Our answer was lost: send it again.
			st := c.header(stState, c.synStateSeq)
			c.send(&st, nil, nil)
			return
		}
		c.state = stateConnected
	}
	if h.typ == stSyn {
		return
	}
	c.processAck(h, sack, len(payload) == 0 && h.typ == stState)
	if h.typ == stData || h.typ == stFin {
		c.receive(h.seq, payload, h.typ == stFin)
	}
	if c.finAcked && c.eof {
		c.finish()
		return
	}
	c.flush()
}

// processAck takes the acknowledgements of a packet.
func (c *Conn) processAck(h *header, sack []byte, pureAck bool) {
	if c.sent == 0 {
		c.lastAck = h.ack
		return
	}
	first, last := c.out[0].seq, c.out[c.sent-1].seq
	if seqLess(last, h.ack) || seqLess(h.ack, first-1) {
		return // acknowledges what we never sent, or long ago
	}
	now := time.Now()
	limited := c.inflight+c.mss > int(c.cc.cwnd)
	acked := 0
	var rttSample time.Duration
	for c.sent > 0 && !seqLess(h.ack, c.out[0].seq) {
		p := c.out[0]
		if !p.acked {
			acked += c.forget(p)
			if p.tx == 1 {
				rttSample = now.Sub(p.sentAt)
			}
		}
		c.out[0] = nil
		c.out = c.out[1:]
		c.sent--
	}
	if len(sack) > 0 && c.sent > 0 {
		base := h.ack + 2
		for i := 0; i < len(sack)*8; i++ {
			if sack[i/8]&(1<<(i%8)) == 0 {
				continue
			}
			idx := int(uint16(base + uint16(i) - c.out[0].seq))
			if idx < c.sent && !c.out[idx].acked {
				p := c.out[idx]
				acked += c.forget(p)
				p.acked, p.lost = true, false
				if p.tx == 1 {
					rttSample = now.Sub(p.sentAt)
				}
			}
		}
		c.detectLossSACK()
	} else if pureAck && acked == 0 && h.ack == c.lastAck {
		c.dupAcks++
		if c.dupAcks == 3 && c.sent > 0 {
			c.markLost(c.out[0])
		}
	}
	if h.ack != c.lastAck {
		c.dupAcks = 0
	}
	c.lastAck = h.ack
	if c.recovering && !seqLess(h.ack, c.recoverSeq) {
		c.recovering = false
	}
	if h.tsDiff != 0 {
		c.cc.sample(h.tsDiff, now)
	}
	if rttSample > 0 {
		c.updateRTT(rttSample)
	}
	if acked > 0 {
		c.cc.acked(acked, limited)
		c.timeouts = 0
		if c.sent > 0 {
			c.rtoTimer.Reset(c.rto)
		} else {
			c.rtoTimer.Stop()
		}
		signal(c.writeCh)
	}
	if c.finQueued && len(c.out) == 0 {
		// Our FIN is acknowledged: nothing more to deliver. The peer's
		// FIN is still to be received and acknowledged (see handle).
		c.finAcked = true
	}
}

// forget accounts for an acknowledged packet and returns its size.
func (c *Conn) forget(p *outPacket) int {
	n := len(p.data)
	if !p.lost {
		c.inflight -= n
	}
	c.queued -= n
	return n
}

// detectLossSACK marks lost the unacknowledged packets that at least
// three packets sent after them overtook (selectively acknowledged). A
// packet just retransmitted is not marked again until packets sent after
// the retransmission overtake it.
func (c *Conn) detectLossSACK() {
	var newest [3]time.Time // the latest send times of acked packets seen, newest first
	for i := c.sent - 1; i >= 0; i-- {
		p := c.out[i]
		if p.acked {
			for j, t := range newest {
				if p.sentAt.After(t) {
					copy(newest[j+1:], newest[j:len(newest)-1])
					newest[j] = p.sentAt
					break
				}
			}
			continue
		}
		if !p.lost && newest[2].After(p.sentAt) {
			c.markLost(p)
		}
	}
}

// markLost queues p for retransmission and halves the window, once per
// window of data.
func (c *Conn) markLost(p *outPacket) {
	if p.lost || p.acked {
		return
	}
	p.lost = true
	c.inflight -= len(p.data)
	if !c.recovering {
		c.cc.lost()
		c.recovering = true
		c.recoverSeq = c.out[c.sent-1].seq
	}
}

func (c *Conn) updateRTT(sample time.Duration) {
	if c.rtt == 0 {
		c.rtt, c.rttVar = sample, sample/2
	} else {
		d := c.rtt - sample
		if d < 0 {
			d = -d
		}
		c.rttVar += (d - c.rttVar) / 4
		c.rtt += (sample - c.rtt) / 8
	}
	c.rto = min(max(c.rtt+4*c.rttVar, minRTO), maxRTO)
}

// receive takes a data or FIN packet.
func (c *Conn) receive(seq uint16, payload []byte, fin bool) {
	next := c.ackNr + 1
	d := int(int16(seq - next))
	switch {
	case d < 0:
		c.sendState() // a duplicate: the sender missed our ack
		return
	case d > 0:
		if _, dup := c.ooo[seq]; !dup && d < reorderLimit && c.oooBytes+c.rbufBytes+len(payload) <= c.s.cfg.RecvWindow {
			c.ooo[seq] = inPacket{data: append([]byte(nil), payload...), fin: fin}
			c.oooBytes += len(payload)
		}
		c.sendState()
		return
	}
	if c.rbufBytes+c.oooBytes > c.s.cfg.RecvWindow+c.mss {
		return // over the window we advertised: dropped, the peer resends
	}
	c.deliver(payload, fin)
	c.ackNr = seq
	for {
		p, ok := c.ooo[c.ackNr+1]
		if !ok {
			break
		}
		delete(c.ooo, c.ackNr+1)
		c.oooBytes -= len(p.data)
		c.ackNr++
		c.deliver(p.data, p.fin)
	}
	c.unacked++
	if c.unacked >= ackEvery || c.eof || len(c.ooo) > 0 {
		c.sendState()
	} else if !c.ackArmed {
		c.ackArmed = true
		c.ackTimer.Reset(ackDelay)
	}
}

func (c *Conn) deliver(data []byte, fin bool) {
	if c.eof {
		return
	}
	if len(data) > 0 && !c.userClosed { // nobody reads it any more
		c.rbuf = append(c.rbuf, append([]byte(nil), data...))
		c.rbufBytes += len(data)
	}
	if fin {
		c.eof = true
	}
	signal(c.readCh)
}

// flush sends retransmissions, then new packets, as the windows allow.
func (c *Conn) flush() {
	if c.state != stateConnected {
		return
	}
	now := time.Now()
	if c.inflight == 0 && !c.lastSend.IsZero() && now.Sub(c.lastSend) > c.rto {
		c.cc.decay()
	}
	window := min(int(c.cc.cwnd), int(c.peerWnd))
	fits := func(n int) bool { return c.inflight == 0 || c.inflight+n <= window }
	for i := 0; i < c.sent; i++ {
		p := c.out[i]
		if !p.lost || p.acked {
			continue
		}
		if !fits(len(p.data)) {
			return
		}
		c.transmit(p, now)
		c.retransmits++
	}
	for c.sent < len(c.out) {
		p := c.out[c.sent]
		if !fits(len(p.data)) {
			break
		}
		c.transmit(p, now)
		c.sent++
	}
}

func (c *Conn) transmit(p *outPacket, now time.Time) {
	h := c.header(p.typ, p.seq)
	c.send(&h, nil, p.data)
	p.sentAt, p.lost = now, false
	p.tx++
	c.inflight += len(p.data)
	c.lastSend = now
	c.unacked = 0 // the packet carries our ack
	if c.ackArmed {
		c.ackTimer.Stop()
		c.ackArmed = false
	}
	if c.sent == 0 || p == c.out[0] {
		c.rtoTimer.Reset(c.rto)
	}
}

// onRTO: nothing was acknowledged for a whole timeout. Every packet in
// flight is taken as lost and the window collapses to one packet.
func (c *Conn) onRTO() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state != stateConnected || c.sent == 0 {
		return
	}
	c.timeouts++
	c.timeoutCount++
	if c.timeouts > maxTimeouts {
		c.fail(os.ErrDeadlineExceeded)
		return
	}
	c.cc.timedOut()
	c.rto = min(2*c.rto, maxRTO)
	for _, p := range c.out[:c.sent] {
		if !p.acked && !p.lost {
			p.lost = true
			c.inflight -= len(p.data)
		}
	}
	c.recovering = false
	c.flush()
	c.rtoTimer.Reset(c.rto)
}

// fail ends the connection with err and forgets it. Called with c.mu held.
func (c *Conn) fail(err error) {
	if c.end(err) {
		go c.s.remove(c)
	}
}

// end marks the connection closed with err; false if it already was.
func (c *Conn) end(err error) bool {
	if c.state == stateClosed {
		return false
	}
	c.state = stateClosed
	c.failErr = err
	close(c.dead)
	c.rtoTimer.Stop()
	c.ackTimer.Stop()
	if c.lingerTimer != nil {
		c.lingerTimer.Stop()
	}
	signal(c.readCh)
	signal(c.writeCh)
	return true
}

// finish ends a connection whose close completed both ways (our FIN
// acknowledged, the peer's received and acknowledged) and keeps it for
// timeWait to acknowledge the peer's FIN again if our ack was lost.
func (c *Conn) finish() {
	if c.end(net.ErrClosed) {
		c.timeWait = true
		c.lingerTimer = time.AfterFunc(timeWait, func() { c.s.remove(c) })
	}
}

// closing reports whether the connection waits for its close to be
// completed by the peer: our FIN queued, the peer's FIN not yet seen.
func (c *Conn) closing() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.finQueued && c.state == stateConnected && !c.eof
}

func (c *Conn) err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.failErr
}

// abort resets the connection, telling the peer, and forgets it.
func (c *Conn) abort() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.timeWait {
		c.timeWait = false
		c.lingerTimer.Stop()
		go c.s.remove(c)
		return
	}
	if c.state == stateConnected {
		h := c.header(stReset, c.stateSeq())
		if c.eof {
			// Acknowledge the peer's data but not its FIN: libtorrent's
			// FIN takes no sequence number of its own, and it ignores a
			// RESET that acknowledges a packet it never sent.
			h.ack--
		}
		c.send(&h, nil, nil)
	}
	c.fail(net.ErrClosed)
}

// wait blocks, with c.mu released, until ch is signalled, the connection
// dies or the deadline passes.
func (c *Conn) wait(ch chan struct{}, deadline time.Time) error {
	var timeout <-chan time.Time
	if !deadline.IsZero() {
		d := time.Until(deadline)
		if d <= 0 {
			return os.ErrDeadlineExceeded
		}
		t := time.NewTimer(d)
		defer t.Stop()
		timeout = t.C
	}
	c.mu.Unlock()
	defer c.mu.Lock()
	select {
	case <-ch:
		return nil
	case <-c.dead:
		return nil
	case <-timeout:
		return os.ErrDeadlineExceeded
	}
}

// Read reads data in order.
func (c *Conn) Read(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		if c.userClosed {
			return 0, net.ErrClosed
		}
		if c.rbufBytes > 0 {
			n := 0
			for n < len(b) && len(c.rbuf) > 0 {
				k := copy(b[n:], c.rbuf[0])
				n += k
				if k == len(c.rbuf[0]) {
					c.rbuf[0] = nil
					c.rbuf = c.rbuf[1:]
				} else {
					c.rbuf[0] = c.rbuf[0][k:]
				}
			}
			c.rbufBytes -= n
			if c.wndSmall && c.advertised() >= uint32(c.s.cfg.RecvWindow/4) && c.state == stateConnected {
				c.sendState() // the window reopened: tell the sender
			}
			return n, nil
		}
		if c.eof {
			return 0, io.EOF
		}
		if c.state == stateClosed {
			return 0, c.failErr
		}
		if err := c.wait(c.readCh, c.rdl); err != nil {
			return 0, err
		}
	}
}

// Write queues b for sending, blocking while the send buffer is full.
func (c *Conn) Write(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for n < len(b) {
		if c.userClosed || c.finQueued {
			return n, net.ErrClosed
		}
		if c.state == stateClosed {
			return n, c.failErr
		}
		if c.queued >= c.s.cfg.SendBuffer {
			if err := c.wait(c.writeCh, c.wdl); err != nil {
				return n, err
			}
			continue
		}
		for n < len(b) && c.queued < c.s.cfg.SendBuffer {
			k := min(c.mss, len(b)-n)
			c.out = append(c.out, &outPacket{seq: c.seq, typ: stData, data: append([]byte(nil), b[n:n+k]...)})
			c.seq++
			c.queued += k
			n += k
		}
		c.flush()
	}
	return n, nil
}

// Close sends what is queued, then a FIN, and lets go of the connection
// once the FIN is acknowledged and the peer's FIN received (or resets it
// after lingerTime).
func (c *Conn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.userClosed {
		return nil
	}
	c.userClosed = true
	signal(c.readCh)
	signal(c.writeCh)
	if c.state != stateConnected {
		c.fail(net.ErrClosed)
		return nil
	}
	c.finQueued = true
	c.out = append(c.out, &outPacket{seq: c.seq, typ: stFin})
	c.seq++
	c.flush()
	c.lingerTimer = time.AfterFunc(lingerTime, c.abort)
	return nil
}

// RaisePacketSize lets packets grow to n bytes of payload, for a peer that
// said it receives that much, as far as the path allows: only loopback
// paths are known to carry more than an Ethernet MTU.
func (c *Conn) RaisePacketSize(n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.remote.Addr().IsLoopback() {
		return
	}
	n = min(n, loopbackPacketSize)
	if n > c.mss {
		c.mss = n
		c.cc.mss = float64(n)
	}
}

// LocalAddr is the socket's address.
func (c *Conn) LocalAddr() net.Addr { return c.s.local }

// RemoteAddr is the peer's UDP address.
func (c *Conn) RemoteAddr() net.Addr { return net.UDPAddrFromAddrPort(c.remote) }

// SetDeadline sets both deadlines.
func (c *Conn) SetDeadline(t time.Time) error {
	c.SetReadDeadline(t)
	return c.SetWriteDeadline(t)
}

// SetReadDeadline bounds Read.
func (c *Conn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	c.rdl = t
	c.mu.Unlock()
	signal(c.readCh)
	return nil
}

// SetWriteDeadline bounds Write.
func (c *Conn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	c.wdl = t
	c.mu.Unlock()
	signal(c.writeCh)
	return nil
}

// Stats describe a connection's transport state.
type Stats struct {
	RTT          time.Duration
	Cwnd         int           // congestion window, bytes
	QueuingDelay time.Duration // one-way delay of our packets above the base delay
	PeerWindow   int           // the peer's receive window, bytes
	InFlight     int           // bytes sent, unacknowledged
	PacketSize   int
	Retransmits  uint64
	Timeouts     uint64
}

// Stats returns the connection's current transport state.
func (c *Conn) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return Stats{RTT: c.rtt, Cwnd: int(c.cc.cwnd), QueuingDelay: time.Duration(c.cc.queuing()) * time.Microsecond,
		PeerWindow: int(c.peerWnd), InFlight: c.inflight, PacketSize: c.mss, Retransmits: c.retransmits, Timeouts: c.timeoutCount}
}

var _ net.Conn = (*Conn)(nil)
