package tracker

import (
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"tt/bencode"
)

// encodeHTTPResponse is the inverse of ParseHTTPResponse for what it keeps.
func encodeHTTPResponse(r *AnnounceResponse) []byte {
	var v4, v6 []byte
	for _, p := range r.Peers {
		if isV6Peer(p) {
			v6 = appendCompact(v6, p, true)
		} else {
			v4 = appendCompact(v4, p, false)
		}
	}
	m := map[string]any{
		"interval":     int64(r.Interval / time.Second),
		"min interval": int64(r.MinInterval / time.Second),
		"complete":     r.Seeders,
		"incomplete":   r.Leechers,
		"peers":        v4,
		"peers6":       v6,
	}
	if r.TrackerID != "" {
		m["tracker id"] = r.TrackerID
	}
	if r.Warning != "" {
		m["warning message"] = r.Warning
	}
	b, err := bencode.Marshal(m)
	if err != nil {
		panic(err)
	}
	return b
}

// familyOrder puts IPv4 peers before IPv6 ones, keeping the order within
// each family, as a round trip through peers and peers6 does.
func familyOrder(p []netip.AddrPort) []netip.AddrPort {
	out := slices.Clone(p)
	slices.SortStableFunc(out, func(a, b netip.AddrPort) int {
		av, bv := isV6Peer(a), isV6Peer(b)
		switch {
		case av == bv:
			return 0
		case av:
			return 1
		}
		return -1
	})
	return out
}

func addSeedFiles(f *testing.F, dir string) {
	paths, _ := filepath.Glob(filepath.Join("testdata", dir, "*"))
	for _, p := range paths {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
}

// FuzzParseHTTPResponse checks that no body makes ParseHTTPResponse panic
// or keep more than MaxPeers peers, and that what it accepts survives a
// re-encoding unchanged.
func FuzzParseHTTPResponse(f *testing.F) {
	for _, tc := range httpResponseCases {
		f.Add([]byte(tc.body))
	}
	addSeedFiles(f, "http")
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := ParseHTTPResponse(body)
		if err != nil {
			if r != nil {
				t.Fatal("response and error")
			}
			return
		}
		if len(r.Peers) > MaxPeers || r.Interval < 0 || r.MinInterval < 0 || r.Seeders < 0 || r.Leechers < 0 {
			t.Fatalf("out of bounds: %+v", r)
		}
		again, err := ParseHTTPResponse(encodeHTTPResponse(r))
		if err != nil {
			t.Fatalf("re-encoded response fails: %v", err)
		}
		r.Peers = familyOrder(r.Peers)
		if len(r.Peers) == 0 {
			r.Peers = nil
		}
		if len(again.Peers) == 0 {
			again.Peers = nil
		}
		if !reflect.DeepEqual(r, again) {
			t.Fatalf("round trip:\n%+v\n%+v", r, again)
		}
	})
}

// FuzzParseUDPResponse checks that no datagram makes parseUDPResponse or
// HandlePacket panic, that peers stay within MaxPeers, and that what parses
// survives a re-encoding unchanged.
func FuzzParseUDPResponse(f *testing.F) {
	for _, tc := range udpResponseCases {
		f.Add(unhex(tc.data), tc.v6, uint8(tc.nScrape))
	}
	c := NewUDPClient(discardWriter{}, UDPConfig{})
	f.Fuzz(func(t *testing.T, data []byte, v6 bool, nScrape uint8) {
		if c.HandlePacket(ap("127.0.0.1:1"), data) {
			t.Fatal("HandlePacket claimed a packet with no request in flight")
		}
		n := int(nScrape % (maxScrapeHashes + 1))
		r, err := parseUDPResponse(data, v6, n)
		if err != nil {
			return
		}
		var b []byte
		switch r.action {
		case actionConnect:
			b = appendConnectResponse(nil, r.tid, r.connID)
		case actionAnnounce:
			if len(r.announce.Peers) > MaxPeers || r.announce.Seeders < 0 || r.announce.Leechers < 0 {
				t.Fatalf("out of bounds: %+v", r.announce)
			}
			b = appendAnnounceResponse(nil, r.tid, r.announce, v6)
		case actionScrape:
			if len(r.scrape) != n {
				t.Fatalf("%d scrape results for %d hashes", len(r.scrape), n)
			}
			b = appendScrapeResponse(nil, r.tid, r.scrape)
		case actionError:
			b = appendErrorResponse(nil, r.tid, r.message)
		default:
			t.Fatalf("accepted action %d", r.action)
		}
		again, err := parseUDPResponse(b, v6, n)
		if err != nil {
			t.Fatalf("re-encoded datagram fails: %v", err)
		}
		if !reflect.DeepEqual(r, again) {
			t.Fatalf("round trip:\n%+v %+v\n%+v %+v", r, r.announce, again, again.announce)
		}
	})
}
