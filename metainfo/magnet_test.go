package metainfo

import (
	"encoding/hex"
	"errors"
	"reflect"
	"strings"
	"testing"
)

const (
	magTestHex    = "c12fe1c06bba254a9dc9f519b335aa7c1367a88a"
	magTestB32    = "YEX6DQDLXISUVHOJ6UM3GNNKPQJWPKEK" // the same 20 bytes
	magTestHex2   = "0123456789abcdef0123456789abcdef01234567"
	magTestB32Two = "AERUKZ4JVPG66AJDIVTYTK6N54ASGRLH" // the same 20 bytes as magTestHex2
	magTestV2     = "03ee5d27d20f46c2395fb00e407a85f87c885e2e072d01f4e4bc516474203fe1"
	magTestV2b    = "ffee5d27d20f46c2395fb00e407a85f87c885e2e072d01f4e4bc516474203fe1"
)

func magH1(s string) (h [20]byte) {
	if n, err := hex.Decode(h[:], []byte(s)); err != nil || n != len(h) {
		panic("bad test hash " + s)
	}
	return h
}

func magH2(s string) (h [32]byte) {
	if n, err := hex.Decode(h[:], []byte(s)); err != nil || n != len(h) {
		panic("bad test hash " + s)
	}
	return h
}

var magnetOK = []struct {
	name string
	in   string
	want Magnet
}{
	{"hex v1", "magnet:?xt=urn:btih:" + magTestHex,
		Magnet{InfoHash: magH1(magTestHex), HasV1: true, Length: -1}},
	{"upper-case hex", "magnet:?xt=urn:btih:" + strings.ToUpper(magTestHex),
		Magnet{InfoHash: magH1(magTestHex), HasV1: true, Length: -1}},
	{"base32 upper", "magnet:?xt=urn:btih:" + magTestB32,
		Magnet{InfoHash: magH1(magTestHex), HasV1: true, Length: -1}},
	{"base32 lower", "magnet:?xt=urn:btih:" + strings.ToLower(magTestB32),
		Magnet{InfoHash: magH1(magTestHex), HasV1: true, Length: -1}},
	{"upper-case scheme, key and urn", "MAGNET:?XT=URN:BTIH:" + magTestHex + "&DN=x",
		Magnet{InfoHash: magH1(magTestHex), HasV1: true, Name: "x", Length: -1}},
	{"v2 only", "magnet:?xt=urn:btmh:1220" + magTestV2,
		Magnet{InfoHash: magH1(magTestV2[:40]), InfoHashV2: magH2(magTestV2), HasV2: true, Length: -1}},
	{"v2 upper-case hex", "magnet:?xt=urn:btmh:1220" + strings.ToUpper(magTestV2),
		Magnet{InfoHash: magH1(magTestV2[:40]), InfoHashV2: magH2(magTestV2), HasV2: true, Length: -1}},
	{"hybrid, btmh first", "magnet:?xt=urn:btmh:1220" + magTestV2 + "&xt=urn:btih:" + magTestHex,
		Magnet{InfoHash: magH1(magTestHex), HasV1: true, InfoHashV2: magH2(magTestV2), HasV2: true, Length: -1}},
	{"same btih as hex and base32", "magnet:?xt=urn:btih:" + magTestHex + "&xt=urn:btih:" + magTestB32,
		Magnet{InfoHash: magH1(magTestHex), HasV1: true, Length: -1}},
	{"same btmh twice", "magnet:?xt=urn:btmh:1220" + magTestV2 + "&xt=urn:btmh:1220" + magTestV2,
		Magnet{InfoHash: magH1(magTestV2[:40]), InfoHashV2: magH2(magTestV2), HasV2: true, Length: -1}},
	{"every parameter",
		"magnet:?xt=urn:btih:" + magTestHex + "&dn=Big+Buck%20Bunny%2Fv1&xl=276134947" +
			"&tr=udp%3A%2F%2Ftracker.example%3A1337%2Fannounce&tr=https://t.example/a?k=1%26x%3D2" +
			"&tr=udp://tracker.example:1337/announce&ws=https%3A%2F%2Fseed.example%2Fbbb%2F" +
			"&so=0,2,4-6&x.pe=10.0.0.1:6881&x.pe=%5B2001%3Adb8%3A%3A1%5D%3A51413",
		Magnet{
			InfoHash: magH1(magTestHex), HasV1: true,
			Name:       "Big Buck Bunny/v1",
			Length:     276134947,
			Trackers:   []string{"udp://tracker.example:1337/announce", "https://t.example/a?k=1&x=2"},
			WebSeeds:   []string{"https://seed.example/bbb/"},
			SelectOnly: []int{0, 2, 4, 5, 6},
			Peers:      []string{"10.0.0.1:6881", "[2001:db8::1]:51413"},
		}},
	{"indexed parameters", "magnet:?xt.1=urn:btih:" + magTestHex + "&dn.1=a&tr.1=http://a/&tr.2=http://b/&ws.1=http://w/&so.1=3&x.pe.1=h:1",
		Magnet{InfoHash: magH1(magTestHex), HasV1: true, Name: "a", Length: -1,
			Trackers: []string{"http://a/", "http://b/"}, WebSeeds: []string{"http://w/"},
			SelectOnly: []int{3}, Peers: []string{"h:1"}}},
	{"unknown parameters and namespaces ignored",
		"magnet:?xt=urn:sha1:AAAA&xt=urn:ed2k:zz&as=%zz&kt=a+b&mt=x&x.foo=1&tr.x=http://no/&xt=urn:btih:" + magTestHex + "&bogus",
		Magnet{InfoHash: magH1(magTestHex), HasV1: true, Length: -1}},
	{"tracker and web seed repeats dropped, order kept",
		"magnet:?xt=urn:btih:" + magTestHex + "&tr=http://b/&tr=http://a/&tr=http://b/&ws=http://y/&ws=http://x/&ws=http://y/",
		Magnet{InfoHash: magH1(magTestHex), HasV1: true, Length: -1,
			Trackers: []string{"http://b/", "http://a/"}, WebSeeds: []string{"http://y/", "http://x/"}}},
	{"empty parameters skipped", "magnet:?&&xt=urn:btih:" + magTestHex + "&&dn=&dn=second&tr=&ws=&so=&x.pe=&",
		Magnet{InfoHash: magH1(magTestHex), HasV1: true, Name: "second", Length: -1}},
	{"first dn and xl win", "magnet:?xt=urn:btih:" + magTestHex + "&dn=one&dn=two&xl=0&xl=7",
		Magnet{InfoHash: magH1(magTestHex), HasV1: true, Name: "one", Length: 0}},
	{"so sorted and merged", "magnet:?xt=urn:btih:" + magTestHex + "&so=9,4-6,0,5&so=1-2,2,007",
		Magnet{InfoHash: magH1(magTestHex), HasV1: true, Length: -1, SelectOnly: []int{0, 1, 2, 4, 5, 6, 7, 9}}},
	{"so percent-encoded comma", "magnet:?xt=urn:btih:" + magTestHex + "&so=1%2C3",
		Magnet{InfoHash: magH1(magTestHex), HasV1: true, Length: -1, SelectOnly: []int{1, 3}}},
	{"peer forms normalised",
		"magnet:?xt=urn:btih:" + magTestHex +
			"&x.pe=Peer.Example.COM:0080&x.pe=[2001:DB8:0:0::1]:1&x.pe=[::ffff:1.2.3.4]:2&x.pe=peer.example.com:80&x.pe=a_b-c.d9:65535",
		Magnet{InfoHash: magH1(magTestHex), HasV1: true, Length: -1,
			Peers: []string{"peer.example.com:80", "[2001:db8::1]:1", "[::ffff:1.2.3.4]:2", "a_b-c.d9:65535"}}},
	{"xt not a urn ignored next to a btih", "magnet:?xt=btih&xt=urn:btih:" + magTestHex,
		Magnet{InfoHash: magH1(magTestHex), HasV1: true, Length: -1}},
}

const magErrPrefix = "metainfo: invalid magnet link: "

var magnetBad = []struct {
	name string
	in   string
	want string // the error text after magErrPrefix
}{
	{"empty", "", `not a magnet link (must start with "magnet:?")`},
	{"http url", "http://example.com/?xt=urn:btih:" + magTestHex, `not a magnet link (must start with "magnet:?")`},
	{"no question mark", "magnet:xt=urn:btih:" + magTestHex, `not a magnet link (must start with "magnet:?")`},
	{"no parameters", "magnet:?", `no xt=urn:btih or urn:btmh`},
	{"no xt", "magnet:?dn=x&tr=http://a/", `no xt=urn:btih or urn:btmh`},
	{"only foreign xt", "magnet:?xt=urn:sha1:" + magTestB32, `no xt=urn:btih or urn:btmh`},
	{"btih garbage", "magnet:?xt=urn:btih:zz", `xt "urn:btih:zz": info-hash must be 40 hex or 32 base32 characters`},
	{"btih 39 hex", "magnet:?xt=urn:btih:" + magTestHex[1:], `xt "urn:btih:` + magTestHex[1:] + `": info-hash must be 40 hex or 32 base32 characters`},
	{"btih 40 non-hex", "magnet:?xt=urn:btih:g" + magTestHex[1:], `xt "urn:btih:g` + magTestHex[1:] + `": info-hash must be 40 hex or 32 base32 characters`},
	{"btih 32 non-base32", "magnet:?xt=urn:btih:1" + magTestB32[1:], `xt "urn:btih:1` + magTestB32[1:] + `": info-hash must be 40 hex or 32 base32 characters`},
	{"btih empty", "magnet:?xt=urn:btih:", `xt "urn:btih:": info-hash must be 40 hex or 32 base32 characters`},
	{"indexed xt named as written", "magnet:?xt.2=urn:btih:zz", `xt.2 "urn:btih:zz": info-hash must be 40 hex or 32 base32 characters`},
	{"two different btih", "magnet:?xt=urn:btih:" + magTestHex + "&xt=urn:btih:" + magTestB32Two,
		`xt "urn:btih:` + magTestB32Two + `": conflicts with earlier btih ` + magTestHex},
	{"two different btmh", "magnet:?xt=urn:btmh:1220" + magTestV2 + "&xt=urn:btmh:1220" + magTestV2b,
		`xt "urn:btmh:1220` + magTestV2b + `": conflicts with earlier btmh 1220` + magTestV2},
	{"btmh not sha2-256", "magnet:?xt=urn:btmh:1120" + magTestV2,
		`xt "urn:btmh:1120` + magTestV2 + `": multihash must be 1220 (sha2-256, 32 bytes) followed by 64 hex characters`},
	{"btmh short", "magnet:?xt=urn:btmh:1220" + magTestV2[2:],
		`xt "urn:btmh:1220` + magTestV2[2:] + `": multihash must be 1220 (sha2-256, 32 bytes) followed by 64 hex characters`},
	{"btmh non-hex", "magnet:?xt=urn:btmh:1220" + magTestV2[:63] + "x",
		`xt "urn:btmh:1220` + magTestV2[:63] + `x": multihash must be 1220 (sha2-256, 32 bytes) followed by 64 hex characters`},
	{"bad percent-encoding", "magnet:?xt=urn:btih:" + magTestHex + "&tr=http://a/%zz", `tr "http://a/%zz": invalid percent-encoding`},
	{"xl negative", "magnet:?xt=urn:btih:" + magTestHex + "&xl=-5", `xl "-5": not a non-negative integer`},
	{"xl plus sign", "magnet:?xt=urn:btih:" + magTestHex + "&xl=%2B5", `xl "+5": not a non-negative integer`},
	{"xl empty", "magnet:?xt=urn:btih:" + magTestHex + "&xl=", `xl "": not a non-negative integer`},
	{"xl overflow", "magnet:?xt=urn:btih:" + magTestHex + "&xl=9223372036854775808", `xl "9223372036854775808": integer out of range`},
	{"xl later bad", "magnet:?xt=urn:btih:" + magTestHex + "&xl=1&xl=1.5", `xl "1.5": not a non-negative integer`},
	{"so reversed range", "magnet:?xt=urn:btih:" + magTestHex + "&so=3-1", `so "3-1": range end before start`},
	{"so reversed range in list", "magnet:?xt=urn:btih:" + magTestHex + "&so=0,3-1", `so "0,3-1": "3-1": range end before start`},
	{"so empty element", "magnet:?xt=urn:btih:" + magTestHex + "&so=1,,2", `so "1,,2": "": empty index`},
	{"so trailing comma", "magnet:?xt=urn:btih:" + magTestHex + "&so=1,", `so "1,": "": empty index`},
	{"so not a number", "magnet:?xt=urn:btih:" + magTestHex + "&so=a", `so "a": index not a non-negative integer`},
	{"so negative", "magnet:?xt=urn:btih:" + magTestHex + "&so=-1", `so "-1": index not a non-negative integer`},
	{"so open range", "magnet:?xt=urn:btih:" + magTestHex + "&so=1-", `so "1-": range end not a non-negative integer`},
	{"so double dash", "magnet:?xt=urn:btih:" + magTestHex + "&so=1-2-3", `so "1-2-3": range end not a non-negative integer`},
	{"so index overflow", "magnet:?xt=urn:btih:" + magTestHex + "&so=99999999999999999999", `so "99999999999999999999": index integer out of range`},
	{"so too many", "magnet:?xt=urn:btih:" + magTestHex + "&so=0-1000000", `so "0-1000000": expands to more than 1000000 indices`},
	{"so too many over two parameters", "magnet:?xt=urn:btih:" + magTestHex + "&so=0-599999&so.1=0-400000",
		`so.1 "0-400000": expands to more than 1000000 indices`},
	{"so huge range", "magnet:?xt=urn:btih:" + magTestHex + "&so=0-9223372036854775807", `so "0-9223372036854775807": expands to more than 1000000 indices`},
	{"peer missing port", "magnet:?xt=urn:btih:" + magTestHex + "&x.pe=1.2.3.4", `x.pe "1.2.3.4": missing port`},
	{"peer empty port", "magnet:?xt=urn:btih:" + magTestHex + "&x.pe=1.2.3.4:", `x.pe "1.2.3.4:": missing port`},
	{"peer missing host", "magnet:?xt=urn:btih:" + magTestHex + "&x.pe=:6881", `x.pe ":6881": missing host`},
	{"peer port zero", "magnet:?xt=urn:btih:" + magTestHex + "&x.pe=1.2.3.4:0", `x.pe "1.2.3.4:0": port must be a number from 1 to 65535`},
	{"peer port too big", "magnet:?xt=urn:btih:" + magTestHex + "&x.pe=1.2.3.4:65536", `x.pe "1.2.3.4:65536": port must be a number from 1 to 65535`},
	{"peer port name", "magnet:?xt=urn:btih:" + magTestHex + "&x.pe=h:http", `x.pe "h:http": port must be a number from 1 to 65535`},
	{"peer bare IPv6", "magnet:?xt=urn:btih:" + magTestHex + "&x.pe=2001:db8::1:80", `x.pe "2001:db8::1:80": IPv6 address must be in brackets`},
	{"peer unclosed bracket", "magnet:?xt=urn:btih:" + magTestHex + "&x.pe=[::1:80", `x.pe "[::1:80": missing ']' after IPv6 address`},
	{"peer bracket no port", "magnet:?xt=urn:btih:" + magTestHex + "&x.pe=[::1]", `x.pe "[::1]": missing port`},
	{"peer text after bracket", "magnet:?xt=urn:btih:" + magTestHex + "&x.pe=[::1]x80", `x.pe "[::1]x80": unexpected text after ']'`},
	{"peer bracketed IPv4", "magnet:?xt=urn:btih:" + magTestHex + "&x.pe=[1.2.3.4]:80", `x.pe "[1.2.3.4]:80": invalid IPv6 address`},
	{"peer empty brackets", "magnet:?xt=urn:btih:" + magTestHex + "&x.pe=[]:80", `x.pe "[]:80": missing host`},
	{"peer zone", "magnet:?xt=urn:btih:" + magTestHex + "&x.pe=[fe80::1%25eth0]:80", `x.pe "[fe80::1%eth0]:80": IPv6 zone not allowed`},
	{"peer bad host", "magnet:?xt=urn:btih:" + magTestHex + "&x.pe=bad-.host:80", `x.pe "bad-.host:80": invalid host name`},
	{"peer space in host", "magnet:?xt=urn:btih:" + magTestHex + "&x.pe=a+b:80", `x.pe "a b:80": invalid host name`},
	{"peer bad IPv4", "magnet:?xt=urn:btih:" + magTestHex + "&x.pe=1.2.3.256:80", `x.pe "1.2.3.256:80": invalid IPv4 address`},
	{"peer long host", "magnet:?xt=urn:btih:" + magTestHex + "&x.pe=" + strings.Repeat("a.", 127) + "a:1",
		`x.pe "` + strings.Repeat("a.", 60) + `...": invalid host name: longer than 253 bytes`},
	{"too long", "magnet:?xt=urn:btih:" + magTestHex + "&dn=" + strings.Repeat("x", 64<<10),
		`link is 65600 bytes, longer than the limit of 65536`},
}

func TestParseMagnet(t *testing.T) {
	for _, tc := range magnetOK {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseMagnet(tc.in)
			if err != nil {
				t.Fatalf("ParseMagnet(%q): %v", tc.in, err)
			}
			if !reflect.DeepEqual(*got, tc.want) {
				t.Fatalf("ParseMagnet(%q)\n got  %+v\n want %+v", tc.in, *got, tc.want)
			}
		})
	}
}

func TestParseMagnetErrors(t *testing.T) {
	for _, tc := range magnetBad {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseMagnet(tc.in)
			if err == nil {
				t.Fatalf("ParseMagnet(%q) = %+v, want error %q", tc.in, *got, tc.want)
			}
			if got != nil {
				t.Errorf("ParseMagnet returned a magnet along with an error")
			}
			if !errors.Is(err, ErrMagnet) {
				t.Errorf("error %v does not wrap ErrMagnet", err)
			}
			if err.Error() != magErrPrefix+tc.want {
				t.Errorf("error\n got  %s\n want %s", err, magErrPrefix+tc.want)
			}
			if strings.ContainsAny(err.Error(), "\r\n") {
				t.Errorf("error spans lines: %q", err)
			}
		})
	}
}

func TestParseMagnetLimits(t *testing.T) {
	m, err := ParseMagnet("magnet:?xt=urn:btih:" + magTestHex + "&so=0-999999")
	if err != nil {
		t.Fatal(err)
	}
	if len(m.SelectOnly) != 1_000_000 || m.SelectOnly[0] != 0 || m.SelectOnly[999_999] != 999_999 {
		t.Fatalf("so=0-999999 gave %d indices", len(m.SelectOnly))
	}
	if got := m.String(); got != "magnet:?xt=urn:btih:"+magTestHex+"&so=0-999999" {
		t.Fatalf("String() = %q", got)
	}

	in := "magnet:?xt=urn:btih:" + magTestHex + "&dn="
	in += strings.Repeat("x", 64<<10-len(in))
	if _, err := ParseMagnet(in); err != nil {
		t.Fatalf("link of exactly 64 KiB: %v", err)
	}
}

func TestMagnetBase32HexEquivalence(t *testing.T) {
	pairs := [][2]string{{magTestHex, magTestB32}, {magTestHex2, magTestB32Two}}
	for _, p := range pairs {
		for _, b32 := range []string{p[1], strings.ToLower(p[1])} {
			a, err := ParseMagnet("magnet:?xt=urn:btih:" + p[0])
			if err != nil {
				t.Fatal(err)
			}
			b, err := ParseMagnet("magnet:?xt=urn:btih:" + b32)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(a, b) {
				t.Errorf("hex %s and base32 %s differ: %x vs %x", p[0], b32, a.InfoHash, b.InfoHash)
			}
			if b.InfoHashHex() != p[0] {
				t.Errorf("InfoHashHex() = %s, want %s", b.InfoHashHex(), p[0])
			}
			if b.String() != "magnet:?xt=urn:btih:"+p[0] {
				t.Errorf("String() = %s", b.String())
			}
		}
	}
}

func TestMagnetString(t *testing.T) {
	m := &Magnet{
		InfoHash: magH1(magTestHex), HasV1: true,
		InfoHashV2: magH2(magTestV2), HasV2: true,
		Name:       "a b+c&d=e%f/g?h#i",
		Length:     42,
		Trackers:   []string{"udp://t.example:1337/announce", "https://t.example/a?k=1&x=2"},
		WebSeeds:   []string{"https://w.example/f;x"},
		SelectOnly: []int{6, 0, 4, 2, 5, 5},
		Peers:      []string{"1.2.3.4:5", "[::1]:6"},
	}
	want := "magnet:?xt=urn:btih:" + magTestHex +
		"&xt=urn:btmh:1220" + magTestV2 +
		"&dn=a%20b%2Bc%26d%3De%25f/g?h%23i" +
		"&xl=42" +
		"&tr=udp://t.example:1337/announce&tr=https://t.example/a?k%3D1%26x%3D2" +
		"&ws=https://w.example/f%3Bx" +
		"&so=0,2,4-6" +
		"&x.pe=1.2.3.4:5&x.pe=%5B::1%5D:6"
	if got := m.String(); got != want {
		t.Fatalf("String()\n got  %s\n want %s", got, want)
	}
	back, err := ParseMagnet(want)
	if err != nil {
		t.Fatal(err)
	}
	m.SelectOnly = []int{0, 2, 4, 5, 6}
	if !reflect.DeepEqual(back, m) {
		t.Fatalf("round trip\n got  %+v\n want %+v", back, m)
	}

	if got := (&Magnet{InfoHashV2: magH2(magTestV2), HasV2: true, Length: -1}).String(); got != "magnet:?xt=urn:btmh:1220"+magTestV2 {
		t.Errorf("v2-only String() = %s", got)
	}
	if got := (&Magnet{HasV1: true, Length: 0, Trackers: []string{""}, SelectOnly: []int{-1, 3}}).String(); got != "magnet:?xt=urn:btih:"+strings.Repeat("0", 40)+"&xl=0&so=3" {
		t.Errorf("String() with empty and negative entries = %s", got)
	}
}

func TestMagnetRoundTrip(t *testing.T) {
	for _, tc := range magnetOK {
		t.Run(tc.name, func(t *testing.T) {
			m, err := ParseMagnet(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			s := m.String()
			back, err := ParseMagnet(s)
			if err != nil {
				t.Fatalf("ParseMagnet(%q): %v", s, err)
			}
			if !reflect.DeepEqual(back, m) {
				t.Fatalf("round trip through %q\n got  %+v\n want %+v", s, back, m)
			}
			if s2 := back.String(); s2 != s {
				t.Fatalf("String() not stable: %q then %q", s, s2)
			}
		})
	}
}

func TestMagnetInfoHashHex(t *testing.T) {
	v1 := &Magnet{InfoHash: magH1(magTestHex), HasV1: true, InfoHashV2: magH2(magTestV2), HasV2: true}
	if got := v1.InfoHashHex(); got != magTestHex {
		t.Errorf("hybrid InfoHashHex() = %s", got)
	}
	v2 := &Magnet{InfoHashV2: magH2(magTestV2), HasV2: true}
	if got := v2.InfoHashHex(); got != magTestV2 {
		t.Errorf("v2-only InfoHashHex() = %s", got)
	}
}

func TestIsMagnet(t *testing.T) {
	for s, want := range map[string]bool{
		"magnet:?xt=urn:btih:" + magTestHex: true,
		"MAGNET:?":                          true,
		"Magnet:?anything":                  true,
		"magnet:":                           false,
		"magnet:xt=1":                       false,
		" magnet:?xt=1":                     false,
		"http://x/":                         false,
		"":                                  false,
	} {
		if got := IsMagnet(s); got != want {
			t.Errorf("IsMagnet(%q) = %v, want %v", s, got, want)
		}
	}
}

func FuzzParseMagnet(f *testing.F) {
	for _, tc := range magnetOK {
		f.Add(tc.in)
	}
	for _, tc := range magnetBad {
		if len(tc.in) <= 4096 {
			f.Add(tc.in)
		}
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseMagnet(s)
		if err != nil {
			if m != nil {
				t.Fatalf("magnet returned along with error %v", err)
			}
			if !errors.Is(err, ErrMagnet) {
				t.Fatalf("error %v does not wrap ErrMagnet", err)
			}
			if !strings.HasPrefix(err.Error(), magErrPrefix) || strings.ContainsAny(err.Error(), "\r\n") {
				t.Fatalf("badly formed error %q", err)
			}
			return
		}
		out := m.String()
		if !IsMagnet(out) {
			t.Fatalf("String() = %q is not a magnet link", out)
		}
		if len(out) > magnetMaxLen {
			return // escaping grew the link past the input bound
		}
		back, err := ParseMagnet(out)
		if err != nil {
			t.Fatalf("ParseMagnet(%q) parsed, but its String() %q does not: %v", s, out, err)
		}
		if !reflect.DeepEqual(back, m) {
			t.Fatalf("round trip of %q through %q\n got  %+v\n want %+v", s, out, back, m)
		}
		if again := back.String(); again != out {
			t.Fatalf("String() not stable: %q then %q", out, again)
		}
	})
}
