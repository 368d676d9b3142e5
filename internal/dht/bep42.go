package dht

import (
	"crypto/rand"
	"hash/crc32"
	"net/netip"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// BEP 42 ties a node id to its external address: the first 21 bits are a
// CRC32-C of the masked address and a 3-bit random number that is also the
// last byte of the id.
var (
	mask4 = [4]byte{0x03, 0x0f, 0x3f, 0xff}
	mask6 = [8]byte{0x01, 0x03, 0x07, 0x0f, 0x1f, 0x3f, 0x7f, 0xff}
)

func idPrefixCRC(ip netip.Addr, r byte) uint32 {
	if ip.Is4() || ip.Is4In6() {
		b := ip.Unmap().As4()
		for i := range b {
			b[i] &= mask4[i]
		}
		b[0] |= (r & 7) << 5
		return crc32.Checksum(b[:], castagnoli)
	}
	a := ip.As16()
	var b [8]byte
	for i := range b {
		b[i] = a[i] & mask6[i]
	}
	b[0] |= (r & 7) << 5
	return crc32.Checksum(b[:], castagnoli)
}

// exemptFromBEP42 reports addresses whose ids are not tied to them: local,
// private and loopback networks.
func exemptFromBEP42(ip netip.Addr) bool {
	ip = ip.Unmap()
	return ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsUnspecified()
}

// NodeIDFor returns a random node id valid for the external address ip.
func NodeIDFor(ip netip.Addr) ID {
	var id ID
	rand.Read(id[:])
	if !ip.IsValid() || exemptFromBEP42(ip) {
		return id
	}
	r := id[19] & 7
	crc := idPrefixCRC(ip, r)
	id[0] = byte(crc >> 24)
	id[1] = byte(crc >> 16)
	id[2] = byte(crc>>8)&0xf8 | id[2]&7
	id[19] = r | id[19]&^7
	return id
}

// ValidID reports whether id is a BEP 42 id for ip (always true for
// exempt addresses).
func ValidID(id ID, ip netip.Addr) bool {
	if exemptFromBEP42(ip) {
		return true
	}
	crc := idPrefixCRC(ip, id[19])
	return id[0] == byte(crc>>24) && id[1] == byte(crc>>16) && id[2]&0xf8 == byte(crc>>8)&0xf8
}
