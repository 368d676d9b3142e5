package session

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"sort"
	"strconv"
	"time"

	"tt/bencode"
	"tt/peerwire"
)

// Peer exchange (BEP 11, ut_pex): every minute each peer that speaks it
// is told which peers we connected to or lost since the last message.
// Private torrents (BEP 27) never use it.
const (
	pexExt       = "ut_pex"
	ourPEXID     = 2
	pexInterval  = time.Minute
	pexFirst     = 2 * time.Second // the first message after a connection
	pexMaxAdded  = 50              // per message, as the spec's rate rules ask
	pexMaxAccept = 200             // addresses taken from one message
)

// Flags of added peers.
const (
	pexEncryption = 0x01
	pexSeed       = 0x02
	pexUTP        = 0x04
	pexOutgoing   = 0x10 // reachable: we connected to it
)

// pexAllowed says whether this torrent may use PEX: not when private, nor
// when turned off.
// A magnet link's torrent may turn out private: until its metadata is
// known, PEX is offered; after, a private one stops it.
func (s *Session) pexAllowed() bool { return (s.t == nil || !s.t.Info.Private) && !s.cfg.NoPEX }

// listenAddr is where a peer accepts connections: the address we dialled,
// or for incoming peers their IP with the port from their extended
// handshake (zero when they gave none).
func (p *peerState) listenAddr() netip.AddrPort {
	if p.source != SourceIncoming {
		return p.c.addr
	}
	if p.listenPort == 0 {
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(p.c.addr.Addr(), p.listenPort)
}

// sendPEX sends each due peer what changed in our peer set since its last
// message.
func (s *Session) sendPEX(now time.Time) {
	if !s.pexAllowed() {
		return
	}
	current := map[netip.AddrPort]uint8{}
	for _, p := range s.peers {
		a := p.listenAddr()
		if !a.IsValid() {
			continue
		}
		var f uint8
		if _, seed := s.peerPieces(p); seed {
			f |= pexSeed
		}
		if p.enc == EncRC4 || p.enc == EncMSEPlain {
			f |= pexEncryption
		}
		if p.transport == OverUTP {
			f |= pexUTP
		}
		if p.source != SourceIncoming {
			f |= pexOutgoing
		}
		current[a] = f
	}
	for _, p := range s.peers {
		if p.utPEX == 0 || now.Before(p.pexNext) {
			continue
		}
		if p.pexSent == nil {
			p.pexSent = map[netip.AddrPort]bool{}
		}
		self := p.listenAddr()
		var added, dropped []netip.AddrPort
		for a := range current {
			if a != self && !p.pexSent[a] {
				added = append(added, a)
			}
		}
		for a := range p.pexSent {
			if _, ok := current[a]; !ok {
				dropped = append(dropped, a)
			}
		}
		sortAddrs(added)
		sortAddrs(dropped)
		if len(added) > pexMaxAdded {
			added = added[:pexMaxAdded]
		}
		if len(dropped) > pexMaxAdded {
			dropped = dropped[:pexMaxAdded]
		}
		p.pexNext = now.Add(pexInterval)
		if len(added) == 0 && len(dropped) == 0 {
			continue
		}
		for _, a := range added {
			p.pexSent[a] = true
		}
		for _, a := range dropped {
			delete(p.pexSent, a)
		}
		flags := make([]uint8, len(added))
		for i, a := range added {
			flags[i] = current[a]
		}
		p.c.send(outItem{msg: peerwire.Message{Kind: peerwire.Extended, ExtID: uint8(p.utPEX), Payload: appendPEX(nil, added, flags, dropped)}})
	}
}

func sortAddrs(a []netip.AddrPort) {
	sort.Slice(a, func(i, j int) bool { return a[i].Compare(a[j]) < 0 })
}

// appendPEX encodes a ut_pex message (keys in sorted order).
func appendPEX(dst []byte, added []netip.AddrPort, flags []uint8, dropped []netip.AddrPort) []byte {
	var a4, a6, f4, f6, d4, d6 []byte
	for i, a := range added {
		if a.Addr().Is4() || a.Addr().Is4In6() {
			a4 = appendCompact(a4, a)
			f4 = append(f4, flags[i])
		} else {
			a6 = appendCompact(a6, a)
			f6 = append(f6, flags[i])
		}
	}
	for _, a := range dropped {
		if a.Addr().Is4() || a.Addr().Is4In6() {
			d4 = appendCompact(d4, a)
		} else {
			d6 = appendCompact(d6, a)
		}
	}
	str := func(b []byte, key string, v []byte) []byte {
		b = strconv.AppendInt(b, int64(len(key)), 10)
		b = append(b, ':')
		b = append(b, key...)
		b = strconv.AppendInt(b, int64(len(v)), 10)
		b = append(b, ':')
		return append(b, v...)
	}
	dst = append(dst, 'd')
	dst = str(dst, "added", a4)
	dst = str(dst, "added.f", f4)
	dst = str(dst, "added6", a6)
	dst = str(dst, "added6.f", f6)
	dst = str(dst, "dropped", d4)
	dst = str(dst, "dropped6", d6)
	return append(dst, 'e')
}

func appendCompact(b []byte, a netip.AddrPort) []byte {
	ip := a.Addr().Unmap()
	if ip.Is4() {
		v := ip.As4()
		b = append(b, v[:]...)
	} else {
		v := ip.As16()
		b = append(b, v[:]...)
	}
	return binary.BigEndian.AppendUint16(b, a.Port())
}

var errPEX = errors.New("session: bad ut_pex message")

// parsePEX reads the added peers of a ut_pex message (at most
// pexMaxAccept). Dropped peers are ignored: a peer that another lost may
// still be fine for us.
func parsePEX(payload []byte) ([]netip.AddrPort, error) {
	v, _, err := bencode.Parse(payload, bencode.Options{Lenient: true, MaxDepth: 4})
	if err != nil || v.Kind() != bencode.Dict {
		return nil, errPEX
	}
	var out []netip.AddrPort
	for _, k := range []struct {
		key  string
		size int
	}{{"added", 6}, {"added6", 18}} {
		x, ok := v.Get(k.key)
		if !ok {
			continue
		}
		b, ok := x.Bytes()
		if !ok || len(b)%k.size != 0 {
			return nil, errPEX
		}
		for i := 0; i+k.size <= len(b) && len(out) < pexMaxAccept; i += k.size {
			ip, _ := netip.AddrFromSlice(b[i : i+k.size-2])
			port := binary.BigEndian.Uint16(b[i+k.size-2 : i+k.size])
			if port != 0 && ip.IsValid() && !ip.IsUnspecified() && !ip.IsMulticast() {
				out = append(out, netip.AddrPortFrom(ip, port))
			}
		}
	}
	return out, nil
}
