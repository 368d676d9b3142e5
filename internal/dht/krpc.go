package dht

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	"tt/bencode"
)

// ID is a 160-bit node id or infohash.
type ID [20]byte

func (id ID) String() string { return fmt.Sprintf("%x", id[:]) }

// NodeInfo is a node's id and address, as carried in compact form.
type NodeInfo struct {
	ID   ID
	Addr netip.AddrPort
}

// KRPC error codes (BEP 5).
const (
	errGeneric  = 201
	errServer   = 202
	errProtocol = 203
	errMethod   = 204
)

// Decoding limits: a datagram is at most 64 KiB, so these only bound what a
// single message may make us keep.
const (
	maxTxID    = 16  // transaction ids are 2 bytes in practice
	maxToken   = 64  // tokens are a few bytes
	maxValues  = 200 // peers in one get_peers answer
	maxNodes   = 64  // nodes in one answer (8 is usual)
	maxErrText = 256
)

var errMalformed = errors.New("malformed KRPC message")

// msg is one KRPC message. Only the fields of its kind are set.
type msg struct {
	T  []byte // transaction id
	Y  byte   // 'q', 'r' or 'e'
	Q  string // query method
	A  args
	R  ret
	E  krpcError
	IP netip.AddrPort // BEP 42: the requester's address as seen by the responder
	RO bool           // BEP 43: the querying node is read-only
}

type args struct {
	ID          ID
	Target      ID // find_node
	InfoHash    ID // get_peers, announce_peer
	Port        int
	ImpliedPort bool
	Token       []byte
	hasTarget   bool
	hasInfoHash bool
}

type ret struct {
	ID     ID
	hasID  bool
	Nodes  []NodeInfo // compact IPv4 ("nodes") and IPv6 ("nodes6") together
	Token  []byte
	Values []netip.AddrPort
}

type krpcError struct {
	Code int
	Msg  string
}

func (e krpcError) Error() string { return fmt.Sprintf("KRPC error %d: %s", e.Code, e.Msg) }

// decode parses a KRPC datagram. It never panics; what it keeps is bounded
// by the limits above, and slices it returns are copies.
func decode(data []byte) (*msg, error) {
	v, _, err := bencode.Parse(data, bencode.Options{Lenient: true, MaxDepth: 4})
	if err != nil {
		return nil, err
	}
	if v.Kind() != bencode.Dict {
		return nil, errMalformed
	}
	m := &msg{}
	t, ok := bytesAt(v, "t")
	if !ok || len(t) > maxTxID {
		return nil, errMalformed
	}
	m.T = append([]byte(nil), t...)
	y, ok := bytesAt(v, "y")
	if !ok || len(y) != 1 {
		return nil, errMalformed
	}
	m.Y = y[0]
	if ip, ok := bytesAt(v, "ip"); ok {
		m.IP, _ = parseCompactAddr(ip)
	}
	if ro, ok := v.Get("ro"); ok {
		n, _ := ro.Int()
		m.RO = n == 1
	}
	switch m.Y {
	case 'q':
		q, ok := bytesAt(v, "q")
		if !ok || len(q) > 32 {
			return nil, errMalformed
		}
		m.Q = string(q)
		a, ok := v.Get("a")
		if !ok || a.Kind() != bencode.Dict {
			return nil, errMalformed
		}
		if !idAt(a, "id", &m.A.ID) {
			return nil, errMalformed
		}
		m.A.hasTarget = idAt(a, "target", &m.A.Target)
		m.A.hasInfoHash = idAt(a, "info_hash", &m.A.InfoHash)
		if p, ok := a.Get("port"); ok {
			n, ok := p.Int()
			if !ok || n < 0 || n > 65535 {
				return nil, errMalformed
			}
			m.A.Port = int(n)
		}
		if ip, ok := a.Get("implied_port"); ok {
			n, _ := ip.Int()
			m.A.ImpliedPort = n != 0
		}
		if tok, ok := bytesAt(a, "token"); ok {
			if len(tok) > maxToken {
				return nil, errMalformed
			}
			m.A.Token = append([]byte(nil), tok...)
		}
	case 'r':
		r, ok := v.Get("r")
		if !ok || r.Kind() != bencode.Dict {
			return nil, errMalformed
		}
		m.R.hasID = idAt(r, "id", &m.R.ID)
		if !m.R.hasID {
			return nil, errMalformed
		}
		if b, ok := bytesAt(r, "nodes"); ok {
			m.R.Nodes = appendCompactNodes(m.R.Nodes, b, 4)
		}
		if b, ok := bytesAt(r, "nodes6"); ok {
			m.R.Nodes = appendCompactNodes(m.R.Nodes, b, 16)
		}
		if tok, ok := bytesAt(r, "token"); ok && len(tok) <= maxToken {
			m.R.Token = append([]byte(nil), tok...)
		}
		if vals, ok := r.Get("values"); ok {
			for _, e := range vals.List() {
				if len(m.R.Values) == maxValues {
					break
				}
				if b, ok := e.Bytes(); ok {
					if ap, ok := parseCompactAddr(b); ok && ap.Port() != 0 {
						m.R.Values = append(m.R.Values, ap)
					}
				}
			}
		}
	case 'e':
		e, ok := v.Get("e")
		if !ok || e.Kind() != bencode.List {
			return nil, errMalformed
		}
		for i, x := range e.List() {
			switch i {
			case 0:
				n, _ := x.Int()
				m.E.Code = int(n)
			case 1:
				s, _ := x.Bytes()
				if len(s) > maxErrText {
					s = s[:maxErrText]
				}
				m.E.Msg = string(s)
			}
		}
	default:
		return nil, errMalformed
	}
	return m, nil
}

func bytesAt(d bencode.Value, key string) ([]byte, bool) {
	v, ok := d.Get(key)
	if !ok {
		return nil, false
	}
	return v.Bytes()
}

func idAt(d bencode.Value, key string, id *ID) bool {
	b, ok := bytesAt(d, key)
	if !ok || len(b) != len(id) {
		return false
	}
	copy(id[:], b)
	return true
}

// parseCompactAddr reads a 6-byte IPv4 or 18-byte IPv6 address and port.
func parseCompactAddr(b []byte) (netip.AddrPort, bool) {
	switch len(b) {
	case 6:
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[:4])), binary.BigEndian.Uint16(b[4:])), true
	case 18:
		return netip.AddrPortFrom(netip.AddrFrom16([16]byte(b[:16])).Unmap(), binary.BigEndian.Uint16(b[16:])), true
	}
	return netip.AddrPort{}, false
}

func appendCompactAddr(dst []byte, a netip.AddrPort) []byte {
	if a.Addr().Is4() {
		ip := a.Addr().As4()
		dst = append(dst, ip[:]...)
	} else {
		ip := a.Addr().As16()
		dst = append(dst, ip[:]...)
	}
	return binary.BigEndian.AppendUint16(dst, a.Port())
}

// appendCompactNodes parses a "nodes" (ipLen 4) or "nodes6" (ipLen 16)
// string; a trailing partial entry and nodes with port 0 are ignored.
func appendCompactNodes(dst []NodeInfo, b []byte, ipLen int) []NodeInfo {
	size := 20 + ipLen + 2
	for len(b) >= size && len(dst) < maxNodes {
		var n NodeInfo
		copy(n.ID[:], b[:20])
		n.Addr, _ = parseCompactAddr(b[20:size])
		b = b[size:]
		if n.Addr.Port() != 0 && n.Addr.Addr().IsValid() {
			dst = append(dst, n)
		}
	}
	return dst
}

// encoder builds a KRPC message with keys in sorted order.
type encoder struct{ b []byte }

func (e *encoder) str(k, v string) {
	e.b = bencode.AppendString(e.b, k)
	e.b = bencode.AppendString(e.b, v)
}

func (e *encoder) bytes(k string, v []byte) {
	e.b = bencode.AppendString(e.b, k)
	e.b = bencode.AppendBytes(e.b, v)
}

func (e *encoder) int(k string, v int64) {
	e.b = bencode.AppendString(e.b, k)
	e.b = bencode.AppendInt(e.b, v)
}

func (e *encoder) key(k string) { e.b = bencode.AppendString(e.b, k) }

// encodeQuery builds a query. Keys of a are written in sorted order.
func encodeQuery(dst []byte, tx []byte, method string, a *args, readOnly bool) []byte {
	e := encoder{b: append(dst, 'd')}
	e.key("a")
	e.b = append(e.b, 'd')
	e.bytes("id", a.ID[:])
	if method == "announce_peer" && a.ImpliedPort {
		e.int("implied_port", 1)
	}
	if a.hasInfoHash {
		e.bytes("info_hash", a.InfoHash[:])
	}
	if method == "announce_peer" {
		e.int("port", int64(a.Port))
	}
	if a.hasTarget {
		e.bytes("target", a.Target[:])
	}
	if a.Token != nil {
		e.bytes("token", a.Token)
	}
	e.b = append(e.b, 'e')
	e.str("q", method)
	if readOnly {
		e.int("ro", 1)
	}
	e.bytes("t", tx)
	e.str("y", "q")
	return append(e.b, 'e')
}

// encodeResponse builds an answer to a query from requester.
func encodeResponse(dst []byte, tx []byte, requester netip.AddrPort, r *ret) []byte {
	e := encoder{b: append(dst, 'd')}
	e.bytes("ip", appendCompactAddr(nil, requester))
	e.key("r")
	e.b = append(e.b, 'd')
	e.bytes("id", r.ID[:])
	var v4, v6 []byte
	for _, n := range r.Nodes {
		if n.Addr.Addr().Is4() {
			v4 = appendCompactAddr(append(v4, n.ID[:]...), n.Addr)
		} else {
			v6 = appendCompactAddr(append(v6, n.ID[:]...), n.Addr)
		}
	}
	if v4 != nil {
		e.bytes("nodes", v4)
	}
	if v6 != nil {
		e.bytes("nodes6", v6)
	}
	if r.Token != nil {
		e.bytes("token", r.Token)
	}
	if len(r.Values) > 0 {
		e.key("values")
		e.b = append(e.b, 'l')
		for _, p := range r.Values {
			e.b = bencode.AppendBytes(e.b, appendCompactAddr(nil, p))
		}
		e.b = append(e.b, 'e')
	}
	e.b = append(e.b, 'e')
	e.bytes("t", tx)
	e.str("y", "r")
	return append(e.b, 'e')
}

// encodeError builds an error answer.
func encodeError(dst []byte, tx []byte, code int, text string) []byte {
	e := encoder{b: append(dst, 'd')}
	e.key("e")
	e.b = append(e.b, 'l')
	e.b = bencode.AppendInt(e.b, int64(code))
	e.b = bencode.AppendString(e.b, text)
	e.b = append(e.b, 'e')
	e.bytes("t", tx)
	e.str("y", "e")
	return append(e.b, 'e')
}
