// Package lsd is Local Service Discovery (BEP 14): torrents announced by
// multicast to the local network, and peers learned from others' announces.
package lsd

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"time"
)

// Group is the IPv4 multicast group and port of BEP 14.
var Group = netip.MustParseAddrPort("239.192.152.143:6771")

// Interval is how often each torrent is announced; announces received
// from one address more often than MinGap are ignored.
const (
	Interval = 5 * time.Minute
	MinGap   = time.Second
)

// maxAnnounce bounds a datagram we parse; maxHashes the infohashes read
// from one.
const (
	maxAnnounce = 1400
	maxHashes   = 16
)

// Node listens to the group and announces torrents to it.
type Node struct {
	recv   *net.UDPConn
	send   *net.UDPConn
	group  netip.AddrPort
	port   int // our BitTorrent listen port
	cookie string

	mu    sync.Mutex
	subs  map[[20]byte]map[int]func([]netip.AddrPort)
	nextS int
	last  map[netip.Addr]time.Time

	done chan struct{}
}

// Listen joins group (Group when invalid) on every multicast interface
// that is up, for a client listening on port.
func Listen(group netip.AddrPort, port int) (*Node, error) {
	if !group.IsValid() {
		group = Group
	}
	ua := net.UDPAddrFromAddrPort(group)
	var recv *net.UDPConn
	var err error
	ifs, _ := net.Interfaces()
	for _, ifi := range ifs {
		if ifi.Flags&net.FlagUp == 0 || ifi.Flags&net.FlagMulticast == 0 || ifi.Flags&net.FlagLoopback != 0 {
			continue
		}
		if recv, err = net.ListenMulticastUDP("udp4", &ifi, ua); err == nil {
			break
		}
	}
	if recv == nil {
		if recv, err = net.ListenMulticastUDP("udp4", nil, ua); err != nil {
			return nil, fmt.Errorf("lsd: join %s: %w", group, err)
		}
	}
	send, err := net.ListenUDP("udp4", &net.UDPAddr{})
	if err != nil {
		recv.Close()
		return nil, fmt.Errorf("lsd: %w", err)
	}
	var c [8]byte
	rand.Read(c[:])
	n := &Node{recv: recv, send: send, group: group, port: port, cookie: hex.EncodeToString(c[:]),
		subs: make(map[[20]byte]map[int]func([]netip.AddrPort)), last: make(map[netip.Addr]time.Time), done: make(chan struct{})}
	go n.readLoop()
	return n, nil
}

// Close leaves the group.
func (n *Node) Close() error {
	err := n.recv.Close()
	n.send.Close()
	<-n.done
	return err
}

// format builds an announce of infohashes.
func format(group netip.AddrPort, port int, cookie string, ihs ...[20]byte) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "BT-SEARCH * HTTP/1.1\r\nHost: %s\r\nPort: %d\r\n", group, port)
	for _, ih := range ihs {
		fmt.Fprintf(&b, "Infohash: %x\r\n", ih[:])
	}
	if cookie != "" {
		fmt.Fprintf(&b, "cookie: %s\r\n", cookie)
	}
	b.WriteString("\r\n\r\n")
	return b.Bytes()
}

var errNotAnnounce = errors.New("lsd: not a BT-SEARCH announce")

// parse reads an announce: its port, infohashes and cookie.
func parse(data []byte) (port int, ihs [][20]byte, cookie string, err error) {
	if len(data) > maxAnnounce {
		return 0, nil, "", errNotAnnounce
	}
	lines := bytes.Split(data, []byte("\r\n"))
	if len(lines) < 3 || string(lines[0]) != "BT-SEARCH * HTTP/1.1" {
		return 0, nil, "", errNotAnnounce
	}
	for _, l := range lines[1:] {
		if len(l) == 0 {
			break
		}
		k, v, ok := bytes.Cut(l, []byte(":"))
		if !ok {
			return 0, nil, "", errNotAnnounce
		}
		v = bytes.TrimSpace(v)
		switch string(bytes.ToLower(bytes.TrimSpace(k))) {
		case "port":
			p, err := strconv.Atoi(string(v))
			if err != nil || p <= 0 || p > 65535 {
				return 0, nil, "", errNotAnnounce
			}
			port = p
		case "infohash":
			var ih [20]byte
			if len(v) != 40 || len(ihs) == maxHashes {
				continue
			}
			if _, err := hex.Decode(ih[:], v); err != nil {
				continue
			}
			ihs = append(ihs, ih)
		case "cookie":
			cookie = string(v)
		}
	}
	if port == 0 || len(ihs) == 0 {
		return 0, nil, "", errNotAnnounce
	}
	return port, ihs, cookie, nil
}

func (n *Node) readLoop() {
	defer close(n.done)
	buf := make([]byte, 2048)
	for {
		sz, from, err := n.recv.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		n.handle(from, buf[:sz], time.Now())
	}
}

// handle passes the peer of an announce to those looking for its torrents.
func (n *Node) handle(from netip.AddrPort, data []byte, now time.Time) {
	port, ihs, cookie, err := parse(data)
	if err != nil || cookie == n.cookie {
		return
	}
	ip := from.Addr().Unmap()
	n.mu.Lock()
	if t, ok := n.last[ip]; ok && now.Sub(t) < MinGap {
		n.mu.Unlock()
		return
	}
	if len(n.last) > 1024 {
		clear(n.last)
	}
	n.last[ip] = now
	var calls []func([]netip.AddrPort)
	for _, ih := range ihs {
		for _, f := range n.subs[ih] {
			calls = append(calls, f)
		}
	}
	n.mu.Unlock()
	peer := []netip.AddrPort{netip.AddrPortFrom(ip, uint16(port))}
	for _, f := range calls {
		f(peer)
	}
}

// Peers announces ih now and every Interval until ctx ends, and passes the
// peers that announce it to found (from the node's reader: found must not
// block).
func (n *Node) Peers(ctx context.Context, ih [20]byte, found func([]netip.AddrPort)) {
	n.mu.Lock()
	id := n.nextS
	n.nextS++
	if n.subs[ih] == nil {
		n.subs[ih] = make(map[int]func([]netip.AddrPort))
	}
	n.subs[ih][id] = found
	n.mu.Unlock()
	defer func() {
		n.mu.Lock()
		delete(n.subs[ih], id)
		if len(n.subs[ih]) == 0 {
			delete(n.subs, ih)
		}
		n.mu.Unlock()
	}()
	msg := format(n.group, n.port, n.cookie, ih)
	tick := time.NewTicker(Interval)
	defer tick.Stop()
	for {
		n.send.WriteToUDPAddrPort(msg, n.group)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
