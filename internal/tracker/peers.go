package tracker

import (
	"encoding/binary"
	"net/netip"
)

// Sizes of one compact peer (BEP 23, BEP 7).
const (
	compactV4 = 6
	compactV6 = 18
)

// appendCompactPeers decodes the compact peers in b (entries of size 6 or 18)
// into dst, stopping at MaxPeers in total. Entries with port 0 or an
// unspecified address are skipped. A partial trailing entry is ignored.
func appendCompactPeers(dst []netip.AddrPort, b []byte, size int) []netip.AddrPort {
	for ; len(b) >= size && len(dst) < MaxPeers; b = b[size:] {
		var addr netip.Addr
		if size == compactV4 {
			addr = netip.AddrFrom4([4]byte(b[:4]))
		} else {
			addr = netip.AddrFrom16([16]byte(b[:16])).Unmap()
		}
		port := binary.BigEndian.Uint16(b[size-2 : size])
		if port == 0 || addr.IsUnspecified() {
			continue
		}
		dst = append(dst, netip.AddrPortFrom(addr, port))
	}
	return dst
}

// appendCompact appends the compact form of p: 6 bytes for an IPv4 address
// (or an IPv4-mapped IPv6 one) when v6 is false, 18 bytes when v6 is true.
func appendCompact(dst []byte, p netip.AddrPort, v6 bool) []byte {
	if v6 {
		a := p.Addr().As16()
		dst = append(dst, a[:]...)
	} else {
		a := p.Addr().Unmap().As4()
		dst = append(dst, a[:]...)
	}
	return binary.BigEndian.AppendUint16(dst, p.Port())
}
