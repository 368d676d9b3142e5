package metainfo

import (
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// ErrMagnet is wrapped by every error ParseMagnet returns.
var ErrMagnet = errors.New("metainfo: invalid magnet link")

const (
	magnetPrefix = "magnet:?"

	// magnetMaxLen bounds the length of a link ParseMagnet accepts.
	magnetMaxLen = 64 << 10

	// magnetMaxSelect bounds how many file indices the so parameters of one
	// link may expand to, counting repeats.
	magnetMaxSelect = 1_000_000

	// magnetClipLen bounds how much of an offending value an error quotes.
	magnetClipLen = 120
)

// Magnet is a parsed magnet link (BEP 9, with BEP 53 select-only and the
// BitTorrent v2 btmh exact topic).
type Magnet struct {
	// InfoHash is the 20 bytes the swarm is known by, as Torrent.InfoHash:
	// the v1 info-hash from xt=urn:btih when HasV1, otherwise the v2
	// info-hash truncated to 20 bytes.
	InfoHash   [20]byte
	HasV1      bool
	InfoHashV2 [32]byte // v2 info-hash, from xt=urn:btmh (sha2-256 multihash)
	HasV2      bool
	Name       string   // dn
	Trackers   []string // tr, in order of appearance, without repeats
	WebSeeds   []string // ws, in order of appearance, without repeats
	Length     int64    // xl; -1 when absent
	SelectOnly []int    // so, expanded to sorted, distinct file indices
	Peers      []string // x.pe, as host:port with IPv6 literals as [addr]:port
}

// IsMagnet reports whether s starts with "magnet:?", in any case. It does not
// check the rest of the link.
func IsMagnet(s string) bool {
	return len(s) >= len(magnetPrefix) && strings.EqualFold(s[:len(magnetPrefix)], magnetPrefix)
}

// InfoHashHex is the v1 info-hash in lower-case hex (40 characters), or the
// v2 info-hash (64 characters) when the link carries no v1 hash.
func (m *Magnet) InfoHashHex() string {
	if !m.HasV1 && m.HasV2 {
		return hex.EncodeToString(m.InfoHashV2[:])
	}
	return hex.EncodeToString(m.InfoHash[:])
}

// Version is the BitTorrent version of the swarms a link names: V1 (btih
// only), V2 (btmh only) or Hybrid (both).
func (m *Magnet) Version() Version {
	switch {
	case m.HasV1 && m.HasV2:
		return Hybrid
	case m.HasV2:
		return V2
	}
	return V1
}

// TruncatedInfoHashV2 is the v2 info-hash cut to 20 bytes, as trackers, the
// DHT and the peer handshake use it (zero without a btmh).
func (m *Magnet) TruncatedInfoHashV2() [20]byte { return [20]byte(m.InfoHashV2[:20]) }

// ParseMagnet parses a magnet link. It understands xt (urn:btih as 40 hex or
// 32 base32 characters, urn:btmh as a sha2-256 multihash), dn, xl, tr, ws,
// so and x.pe, each also with a numeric index suffix such as tr.1. Other
// parameters, and xt values in other URN namespaces, are ignored. Every
// error wraps ErrMagnet and names the offending parameter and value.
func ParseMagnet(s string) (*Magnet, error) {
	if len(s) > magnetMaxLen {
		return nil, fmt.Errorf("%w: link is %d bytes, longer than the limit of %d", ErrMagnet, len(s), magnetMaxLen)
	}
	if !IsMagnet(s) {
		return nil, fmt.Errorf("%w: not a magnet link (must start with %q)", ErrMagnet, magnetPrefix)
	}
	m := &Magnet{Length: -1}
	var (
		haveLength bool
		selected   int
		trSeen     = map[string]bool{}
		wsSeen     = map[string]bool{}
		peerSeen   = map[string]bool{}
	)
	for part := range strings.SplitSeq(s[len(magnetPrefix):], "&") {
		if part == "" {
			continue
		}
		rawKey, rawVal, _ := strings.Cut(part, "=")
		key, err := url.QueryUnescape(rawKey)
		if err != nil {
			continue // cannot be a parameter this parser knows
		}
		name := magnetParamName(key)
		switch name {
		case "xt", "dn", "xl", "tr", "ws", "so", "x.pe":
		default:
			continue
		}
		val, err := url.QueryUnescape(rawVal)
		if err != nil {
			return nil, magnetErr(key, rawVal, "invalid percent-encoding")
		}
		switch name {
		case "xt":
			if err := m.parseExactTopic(key, val); err != nil {
				return nil, err
			}
		case "dn":
			if m.Name == "" {
				m.Name = val
			}
		case "xl":
			n, err := magnetUint(val)
			if err != nil {
				return nil, magnetErr(key, val, "%v", err)
			}
			if !haveLength {
				m.Length, haveLength = n, true
			}
		case "tr":
			if val != "" && !trSeen[val] {
				trSeen[val] = true
				m.Trackers = append(m.Trackers, val)
			}
		case "ws":
			if val != "" && !wsSeen[val] {
				wsSeen[val] = true
				m.WebSeeds = append(m.WebSeeds, val)
			}
		case "so":
			if val == "" {
				continue
			}
			m.SelectOnly, err = magnetSelectOnly(m.SelectOnly, val, &selected)
			if err != nil {
				return nil, magnetErr(key, val, "%v", err)
			}
		case "x.pe":
			if val == "" {
				continue
			}
			p, err := magnetPeer(val)
			if err != nil {
				return nil, magnetErr(key, val, "%v", err)
			}
			if !peerSeen[p] {
				peerSeen[p] = true
				m.Peers = append(m.Peers, p)
			}
		}
	}
	if !m.HasV1 && !m.HasV2 {
		return nil, fmt.Errorf("%w: no xt=urn:btih or urn:btmh", ErrMagnet)
	}
	if !m.HasV1 {
		m.InfoHash = [20]byte(m.InfoHashV2[:20])
	}
	if len(m.SelectOnly) > 0 {
		slices.Sort(m.SelectOnly)
		m.SelectOnly = slices.Clip(slices.Compact(m.SelectOnly))
	}
	return m, nil
}

// String builds the canonical link: xt (btih, then btmh), dn, xl, tr, ws, so
// and x.pe, with every value query-escaped. Empty names, trackers, web seeds
// and peers are left out, and so is xl when Length is negative.
func (m *Magnet) String() string {
	var b strings.Builder
	b.WriteString(magnetPrefix)
	first := true
	add := func(key, val string) {
		if !first {
			b.WriteByte('&')
		}
		first = false
		b.WriteString(key)
		b.WriteByte('=')
		magnetEscape(&b, val)
	}
	if m.HasV1 {
		add("xt", "urn:btih:"+hex.EncodeToString(m.InfoHash[:]))
	}
	if m.HasV2 {
		add("xt", "urn:btmh:1220"+hex.EncodeToString(m.InfoHashV2[:]))
	}
	if m.Name != "" {
		add("dn", m.Name)
	}
	if m.Length >= 0 {
		add("xl", strconv.FormatInt(m.Length, 10))
	}
	for _, t := range m.Trackers {
		if t != "" {
			add("tr", t)
		}
	}
	for _, w := range m.WebSeeds {
		if w != "" {
			add("ws", w)
		}
	}
	if len(m.SelectOnly) > 0 {
		add("so", magnetRanges(m.SelectOnly))
	}
	for _, p := range m.Peers {
		if p != "" {
			add("x.pe", p)
		}
	}
	return b.String()
}

// parseExactTopic records a btih or btmh exact topic. A second topic of the
// same kind must name the same hash.
func (m *Magnet) parseExactTopic(key, val string) error {
	const urnPrefix = "urn:btih:" // same length as "urn:btmh:"
	if len(val) < len(urnPrefix) {
		return nil
	}
	ns, hash := strings.ToLower(val[:len(urnPrefix)]), val[len(urnPrefix):]
	switch ns {
	case "urn:btih:":
		var h [20]byte
		switch len(hash) {
		case 40:
			if _, err := hex.Decode(h[:], []byte(hash)); err != nil {
				return magnetErr(key, val, "info-hash must be 40 hex or 32 base32 characters")
			}
		case 32:
			n, err := base32.StdEncoding.Decode(h[:], []byte(strings.ToUpper(hash)))
			if err != nil || n != len(h) {
				return magnetErr(key, val, "info-hash must be 40 hex or 32 base32 characters")
			}
		default:
			return magnetErr(key, val, "info-hash must be 40 hex or 32 base32 characters")
		}
		if m.HasV1 && h != m.InfoHash {
			return magnetErr(key, val, "conflicts with earlier btih %x", m.InfoHash)
		}
		m.InfoHash, m.HasV1 = h, true
	case "urn:btmh:":
		var h [32]byte
		if len(hash) != 68 || !strings.HasPrefix(hash, "1220") {
			return magnetErr(key, val, "multihash must be 1220 (sha2-256, 32 bytes) followed by 64 hex characters")
		}
		if _, err := hex.Decode(h[:], []byte(hash[4:])); err != nil {
			return magnetErr(key, val, "multihash must be 1220 (sha2-256, 32 bytes) followed by 64 hex characters")
		}
		if m.HasV2 && h != m.InfoHashV2 {
			return magnetErr(key, val, "conflicts with earlier btmh 1220%x", m.InfoHashV2)
		}
		m.InfoHashV2, m.HasV2 = h, true
	}
	return nil
}

// magnetParamName lower-cases a parameter name and drops a numeric index
// suffix: "TR.1" and "x.pe.2" become "tr" and "x.pe".
func magnetParamName(key string) string {
	k := strings.ToLower(key)
	if i := strings.LastIndexByte(k, '.'); i >= 0 && magnetDigits(k[i+1:]) {
		return k[:i]
	}
	return k
}

func magnetDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// magnetUint parses a plain decimal non-negative integer: no sign, no spaces.
func magnetUint(s string) (int64, error) {
	if !magnetDigits(s) {
		return 0, errors.New("not a non-negative integer")
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, errors.New("integer out of range")
	}
	return n, nil
}

// magnetSelectOnly appends the indices of one BEP 53 so value ("0,2,4-6") to
// out. *count carries the number of indices produced so far, repeats
// included, across all so parameters of the link.
func magnetSelectOnly(out []int, val string, count *int) ([]int, error) {
	elems := strings.Split(val, ",")
	for _, e := range elems {
		fail := func(msg string) error {
			if len(elems) > 1 {
				return fmt.Errorf("%q: %s", magnetClip(e), msg)
			}
			return errors.New(msg)
		}
		if e == "" {
			return nil, fail("empty index")
		}
		lo, hi, isRange := strings.Cut(e, "-")
		a, err := magnetUint(lo)
		if err != nil {
			return nil, fail("index " + err.Error())
		}
		b := a
		if isRange {
			if b, err = magnetUint(hi); err != nil {
				return nil, fail("range end " + err.Error())
			}
			if b < a {
				return nil, fail("range end before start")
			}
		}
		if b > int64(^uint(0)>>1) {
			return nil, fail("index out of range")
		}
		if b-a >= int64(magnetMaxSelect-*count) {
			return nil, fail(fmt.Sprintf("expands to more than %d indices", magnetMaxSelect))
		}
		*count += int(b-a) + 1
		for i := a; i <= b; i++ {
			out = append(out, int(i))
		}
	}
	return out, nil
}

// magnetRanges formats file indices as a BEP 53 so value, joining runs of
// consecutive indices into ranges. Negative indices are dropped.
func magnetRanges(idx []int) string {
	s := make([]int, 0, len(idx))
	for _, v := range idx {
		if v >= 0 {
			s = append(s, v)
		}
	}
	slices.Sort(s)
	s = slices.Compact(s)
	var b strings.Builder
	for i := 0; i < len(s); {
		j := i
		for j+1 < len(s) && s[j+1] == s[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(s[i]))
		if j > i {
			b.WriteByte('-')
			b.WriteString(strconv.Itoa(s[j]))
		}
		i = j + 1
	}
	return b.String()
}

// magnetPeer checks a BEP 9 x.pe peer address (hostname:port,
// ipv4-literal:port or [ipv6-literal]:port) and returns its normal form:
// IP literals in canonical text, host names in lower case, the port without
// leading zeros.
func magnetPeer(v string) (string, error) {
	var host, port string
	bracketed := strings.HasPrefix(v, "[")
	if bracketed {
		end := strings.IndexByte(v, ']')
		if end < 0 {
			return "", errors.New("missing ']' after IPv6 address")
		}
		host, port = v[1:end], v[end+1:]
		if port == "" {
			return "", errors.New("missing port")
		}
		if port[0] != ':' {
			return "", errors.New("unexpected text after ']'")
		}
		port = port[1:]
	} else {
		i := strings.LastIndexByte(v, ':')
		if i < 0 {
			return "", errors.New("missing port")
		}
		host, port = v[:i], v[i+1:]
		if strings.Contains(host, ":") {
			return "", errors.New("IPv6 address must be in brackets")
		}
	}
	if host == "" {
		return "", errors.New("missing host")
	}
	if port == "" {
		return "", errors.New("missing port")
	}
	if !magnetDigits(port) {
		return "", errors.New("port must be a number from 1 to 65535")
	}
	pn, err := strconv.ParseUint(port, 10, 16)
	if err != nil || pn == 0 {
		return "", errors.New("port must be a number from 1 to 65535")
	}
	if bracketed {
		a, err := netip.ParseAddr(host)
		if err != nil || !a.Is6() {
			return "", errors.New("invalid IPv6 address")
		}
		if a.Zone() != "" {
			return "", errors.New("IPv6 zone not allowed")
		}
		return netip.AddrPortFrom(a, uint16(pn)).String(), nil
	}
	if a, err := netip.ParseAddr(host); err == nil {
		return netip.AddrPortFrom(a, uint16(pn)).String(), nil
	}
	if err := magnetHostname(host); err != nil {
		return "", err
	}
	return strings.ToLower(host) + ":" + strconv.FormatUint(pn, 10), nil
}

// magnetHostname checks a DNS host name: dot-separated labels of letters,
// digits, '-' and '_', 1 to 63 bytes each, not starting or ending with '-',
// at most 253 bytes in all. A name whose last label is all digits would be
// an IPv4 address and is refused as a malformed one.
func magnetHostname(h string) error {
	if len(h) > 253 {
		return errors.New("invalid host name: longer than 253 bytes")
	}
	labels := strings.Split(h, ".")
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return errors.New("invalid host name")
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return errors.New("invalid host name")
			}
		}
	}
	if magnetDigits(labels[len(labels)-1]) {
		return errors.New("invalid IPv4 address")
	}
	return nil
}

// magnetEscape writes v query-escaped: unreserved characters and the
// delimiters that are unambiguous inside a query value (":/@!$'()*,?")
// stay as they are, everything else, space included, becomes %XX.
func magnetEscape(b *strings.Builder, v string) {
	const hexDigits = "0123456789ABCDEF"
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
			b.WriteByte(c)
		case strings.IndexByte("-._~:/@!$'()*,?", c) >= 0:
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&15])
		}
	}
}

func magnetErr(key, val, format string, args ...any) error {
	return fmt.Errorf("%w: %s %q: %s", ErrMagnet, key, magnetClip(val), fmt.Sprintf(format, args...))
}

// magnetClip shortens a value quoted in an error message.
func magnetClip(s string) string {
	if len(s) <= magnetClipLen {
		return s
	}
	return s[:magnetClipLen] + "..."
}
