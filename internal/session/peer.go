package session

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"tt/peerwire"
	"tt/picker"
)

// Timeouts of a peer connection.
const (
	idleTimeout    = 2 * time.Minute // nothing at all received
	keepAliveEvery = 90 * time.Second
	writeTimeout   = 60 * time.Second
)

// defaultHandshakeTimeout bounds the whole handshake exchange, MSE
// included, unless Config.HandshakeTimeout or ServeOptions say otherwise.
const defaultHandshakeTimeout = 20 * time.Second

// orDefaultHandshake is d, or the default when d is not set.
func orDefaultHandshake(d time.Duration) time.Duration {
	if d <= 0 {
		return defaultHandshakeTimeout
	}
	return d
}

// blockPool recycles 16 KiB block buffers between readers and the disk.
var blockPool = sync.Pool{New: func() any { b := make([]byte, picker.BlockSize); return &b }}

func getBlock(n int) []byte {
	if n > picker.BlockSize {
		return make([]byte, n)
	}
	return (*blockPool.Get().(*[]byte))[:n]
}

func putBlock(b []byte) {
	if cap(b) == picker.BlockSize {
		b = b[:picker.BlockSize]
		blockPool.Put(&b)
	}
}

// outItem is one thing a writer goroutine sends: a message, or a block it
// reads from storage and sends as a piece message.
type outItem struct {
	msg   peerwire.Message
	piece bool // send block (msg.Index, msg.Begin, msg.Length) from storage
}

// conn is one peer connection's I/O: a reader goroutine that frames and
// parses, a writer goroutine that drains a queue. Neither holds torrent state.
type conn struct {
	id   picker.PeerID
	addr netip.AddrPort
	nc   net.Conn
	hs   peerwire.Handshake

	mu      sync.Mutex
	queue   []outItem
	wake    chan struct{}
	closed  chan struct{}
	once    sync.Once
	sentAny time.Time
}

func newConn(id picker.PeerID, nc net.Conn, hs peerwire.Handshake) *conn {
	ap, _ := netip.ParseAddrPort(nc.RemoteAddr().String())
	return &conn{id: id, addr: ap, nc: nc, hs: hs, wake: make(chan struct{}, 1), closed: make(chan struct{})}
}

// maxSendQueue bounds what may wait for one peer's writer: requests,
// uploads and haves stay far below it unless the peer stops reading, and
// then the connection is closed.
const maxSendQueue = 1 << 16

// send queues items; it never blocks the event loop.
func (c *conn) send(items ...outItem) {
	c.mu.Lock()
	over := len(c.queue)+len(items) > maxSendQueue
	if !over {
		c.queue = append(c.queue, items...)
	}
	c.mu.Unlock()
	if over {
		c.close() // its reader fails and tells the loop
		return
	}
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// dropUploads removes queued blocks not yet sent and returns them: all of
// them (on choke), or just the one matching only (on cancel).
func (c *conn) dropUploads(only *peerwire.Message) []outItem {
	c.mu.Lock()
	defer c.mu.Unlock()
	var dropped []outItem
	kept := c.queue[:0]
	for _, it := range c.queue {
		if it.piece && (only == nil || (it.msg.Index == only.Index && it.msg.Begin == only.Begin && it.msg.Length == only.Length)) {
			dropped = append(dropped, it)
			continue
		}
		kept = append(kept, it)
	}
	clear(c.queue[len(kept):])
	c.queue = kept
	return dropped
}

func (c *conn) close() {
	c.once.Do(func() {
		close(c.closed)
		c.nc.Close()
	})
}

// connEvent is what connection goroutines tell the loop.
type connEvent struct {
	c      *conn
	msg    peerwire.Message // Payload owned by the loop (copied or pooled)
	sent   int              // payload bytes of piece messages the writer sent
	blocks int              // and how many blocks that was
	err    error            // the connection ended
}

// readLoop reads messages until an error and hands each to the loop.
func (s *Session) readLoop(c *conn) {
	r := peerwire.NewReader(c.nc)
	r.MaxLength = max(peerwire.DefaultMaxLength, uint32(s.numPieces/8+64))
	r.BlockBuffer = getBlock
	for {
		c.nc.SetReadDeadline(time.Now().Add(idleTimeout))
		m, err := r.ReadMessage()
		if err != nil {
			s.post(connEvent{c: c, err: err})
			return
		}
		switch m.Kind {
		case peerwire.Piece:
			if err := s.downLimit.wait(s.ctx, len(m.Payload)); err != nil {
				s.post(connEvent{c: c, err: err})
				return
			}
		case peerwire.Bitfield, peerwire.Extended, peerwire.Unknown,
			peerwire.HashRequest, peerwire.Hashes, peerwire.HashReject:
			m.Payload = append([]byte(nil), m.Payload...)
		}
		select {
		case s.connEvents <- connEvent{c: c, msg: m}:
		case <-c.closed:
			return
		case <-s.ctx.Done():
			return
		}
	}
}

// writeLoop sends queued items; piece blocks are read from storage here,
// off the event loop.
func (s *Session) writeLoop(c *conn) {
	buf := make([]byte, 0, 64<<10)
	block := make([]byte, 0, picker.BlockSize)
	keepAlive := time.NewTicker(keepAliveEvery)
	defer keepAlive.Stop()
	fail := func(err error) { s.post(connEvent{c: c, err: err}); c.close() }
	for {
		c.mu.Lock()
		items := c.queue
		c.queue = nil
		c.mu.Unlock()
		if len(items) == 0 {
			select {
			case <-c.closed:
				return
			case <-c.wake:
				continue
			case <-keepAlive.C:
				items = []outItem{{msg: peerwire.Message{Kind: peerwire.KeepAlive}}}
			}
		}
		buf = buf[:0]
		sentBytes, sentBlocks := 0, 0
		for _, it := range items {
			if !it.piece {
				buf = peerwire.AppendMessage(buf, it.msg)
				continue
			}
			n := int(it.msg.Length)
			if cap(block) < n {
				block = make([]byte, n)
			}
			block = block[:n]
			if _, err := s.store.ReadBlock(int(it.msg.Index), int64(it.msg.Begin), block); err != nil {
				// Our own data cannot be read: that ends the session, not just this peer.
				s.postDisk(diskEvent{piece: int(it.msg.Index), err: fmt.Errorf("%w: %w", ErrDisk, err)})
				fail(err)
				return
			}
			if err := s.upLimit.wait(s.ctx, n); err != nil {
				fail(err)
				return
			}
			buf = peerwire.AppendPieceHeader(buf, it.msg.Index, it.msg.Begin, n)
			buf = append(buf, block...)
			sentBytes += n
			sentBlocks++
			if len(buf) >= 256<<10 {
				if err := c.write(buf); err != nil {
					fail(err)
					return
				}
				buf = buf[:0]
				s.post(connEvent{c: c, sent: sentBytes, blocks: sentBlocks})
				sentBytes, sentBlocks = 0, 0
			}
		}
		if len(buf) > 0 {
			if err := c.write(buf); err != nil {
				fail(err)
				return
			}
		}
		if sentBlocks > 0 {
			s.post(connEvent{c: c, sent: sentBytes, blocks: sentBlocks})
		}
	}
}

func (c *conn) write(b []byte) error {
	c.nc.SetWriteDeadline(time.Now().Add(writeTimeout))
	_, err := c.nc.Write(b)
	return err
}

// dialPlain opens an outgoing connection and performs a plaintext handshake.
func dialPlain(ctx context.Context, dial rawDial, ours peerwire.Handshake, limit time.Duration) (net.Conn, peerwire.Handshake, error) {
	nc, err := dial(ctx)
	if err != nil {
		return nil, peerwire.Handshake{}, err
	}
	hs, err := peerwire.HandshakeOutgoing(nc, ours, time.Now().Add(limit))
	if err != nil {
		nc.Close()
		return nil, hs, err
	}
	return nc, hs, nil
}

func (s *Session) ourHandshake() peerwire.Handshake {
	h := peerwire.Handshake{InfoHash: s.infoHash, PeerID: s.peerID}
	h.Set(peerwire.BitExtended)
	h.Set(peerwire.BitFast)
	return h
}
