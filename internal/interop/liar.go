package interop

import (
	"bytes"
	"io"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"tt/internal/mse"
	"tt/peerwire"
)

// Liar is a fake peer for one info-hash that speaks just enough of the
// protocol (plaintext or MSE, BEP 10, BEP 9) to offer a magnet link's
// metadata, and lies about it: it announces the metadata_size it is given
// and answers every request for a piece of that size with the bytes its
// piece function returns. It has none of the torrent's data.
type Liar struct {
	Addr netip.AddrPort

	infoHash [20]byte
	size     int
	piece    func(i int) []byte

	ln     net.Listener
	wg     sync.WaitGroup
	mu     sync.Mutex
	closed bool
	done   chan struct{} // closed when the test ends
	gate   chan struct{} // answers wait until it is closed
	conns  []net.Conn
	asked  []int // pieces requested, in order
}

// liarConnLife bounds one connection: no test runs longer.
const liarConnLife = 3 * time.Minute

// StartLiar listens on ip (a loopback address) and serves connections
// until the test ends. piece(i) is the payload of metadata piece i; it
// should be as long as a piece of a dictionary of size bytes, or the
// peer reading it drops the connection for a malformed reply instead of
// having to find the lie out.
func StartLiar(t testing.TB, ip string, infoHash [20]byte, size int, piece func(i int) []byte) *Liar {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatalf("liar: %v", err)
	}
	l := &Liar{Addr: ln.Addr().(*net.TCPAddr).AddrPort(), infoHash: infoHash, size: size, piece: piece, ln: ln,
		done: make(chan struct{}), gate: make(chan struct{})}
	close(l.gate)
	l.wg.Add(1)
	go l.accept()
	t.Cleanup(l.close)
	return l
}

// Asked lists the metadata pieces requested of the liar so far.
func (l *Liar) Asked() []int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]int(nil), l.asked...)
}

// Hold makes the liar keep its answers to requests until Release.
func (l *Liar) Hold() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.gate = make(chan struct{})
}

// Release sends the answers held back and answers at once from then on.
func (l *Liar) Release() {
	l.mu.Lock()
	defer l.mu.Unlock()
	select {
	case <-l.gate:
	default:
		close(l.gate)
	}
}

// held reports whether the liar is holding its answers back.
func (l *Liar) held() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	select {
	case <-l.gate:
		return false
	default:
		return true
	}
}

func (l *Liar) close() {
	l.ln.Close()
	l.mu.Lock()
	l.closed = true
	close(l.done)
	for _, c := range l.conns {
		c.Close()
	}
	l.mu.Unlock()
	l.wg.Wait()
}

func (l *Liar) accept() {
	defer l.wg.Done()
	for {
		c, err := l.ln.Accept()
		if err != nil {
			return
		}
		l.mu.Lock()
		if l.closed {
			l.mu.Unlock()
			c.Close()
			return
		}
		l.conns = append(l.conns, c)
		l.wg.Add(1)
		l.mu.Unlock()
		go func() {
			defer l.wg.Done()
			defer c.Close()
			l.serve(c)
		}()
	}
}

// serve runs one connection until it fails or is closed.
func (l *Liar) serve(nc net.Conn) {
	c, err := l.handshake(nc)
	if err != nil {
		return
	}
	eh, _ := peerwire.ExtendedHandshake{M: map[string]int64{peerwire.MetadataExt: liarMetadataID}, V: "liar",
		MetadataSize: int64(l.size)}.Marshal()
	if _, err := c.Write(peerwire.AppendMessage(nil, peerwire.Message{Kind: peerwire.Extended, ExtID: peerwire.ExtendedHandshakeID, Payload: eh})); err != nil {
		return
	}
	r := peerwire.NewReader(c)
	var theirs int64 // the peer's id for ut_metadata
	for {
		m, err := r.ReadMessage()
		if err != nil {
			return
		}
		if m.Kind != peerwire.Extended {
			continue
		}
		switch m.ExtID {
		case peerwire.ExtendedHandshakeID:
			if h, err := peerwire.ParseExtendedHandshake(m.Payload); err == nil {
				theirs = h.M[peerwire.MetadataExt]
			}
		case liarMetadataID:
			mm, err := peerwire.ParseMetadataMsg(m.Payload)
			if err != nil || mm.Type != peerwire.MetadataRequest || theirs == 0 {
				continue
			}
			l.mu.Lock()
			l.asked = append(l.asked, mm.Piece)
			gate := l.gate
			l.mu.Unlock()
			select {
			case <-gate:
			case <-l.done:
				return
			}
			reply := peerwire.MetadataMsg{Type: peerwire.MetadataReject, Piece: mm.Piece}
			if mm.Piece >= 0 && mm.Piece*peerwire.MetadataPieceSize < l.size {
				reply = peerwire.MetadataMsg{Type: peerwire.MetadataData, Piece: mm.Piece, TotalSize: l.size, Data: l.piece(mm.Piece)}
			}
			msg := peerwire.Message{Kind: peerwire.Extended, ExtID: uint8(theirs), Payload: peerwire.AppendMetadataMsg(nil, reply)}
			if _, err := c.Write(peerwire.AppendMessage(nil, msg)); err != nil {
				return
			}
		}
	}
}

// liarMetadataID is the id the liar receives ut_metadata under.
const liarMetadataID = 3

// handshake answers a plaintext or MSE handshake for the liar's
// info-hash and returns the connection to speak BitTorrent on.
func (l *Liar) handshake(nc net.Conn) (net.Conn, error) {
	deadline := time.Now().Add(20 * time.Second)
	nc.SetDeadline(deadline)
	first := make([]byte, 20)
	if _, err := io.ReadFull(nc, first); err != nil {
		return nil, err
	}
	var c net.Conn = &replayConn{Conn: nc, r: io.MultiReader(bytes.NewReader(first), nc)}
	if string(first) != "\x13"+peerwire.Protocol {
		skeys := mse.MatchSKEY(func(yield func([20]byte) bool) { yield(l.infoHash) })
		choose := func(provide uint32) uint32 {
			if provide&mse.Plaintext != 0 {
				return mse.Plaintext
			}
			return provide & mse.RC4
		}
		mc, err := mse.Receive(nc, first, skeys, choose, deadline)
		if err != nil {
			return nil, err
		}
		c = mc
	}
	ours := peerwire.Handshake{InfoHash: l.infoHash, PeerID: [20]byte([]byte("-LI0001-liarliarliar"))}
	ours.Set(peerwire.BitExtended)
	if _, err := peerwire.HandshakeIncoming(c, deadline, func(ih [20]byte) (peerwire.Handshake, bool) { return ours, ih == l.infoHash }); err != nil {
		return nil, err
	}
	nc.SetDeadline(time.Now().Add(liarConnLife))
	return c, nil
}

// replayConn reads bytes already taken from the connection first.
type replayConn struct {
	net.Conn
	r io.Reader
}

func (c *replayConn) Read(b []byte) (int, error) { return c.r.Read(b) }
