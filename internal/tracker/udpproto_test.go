package tracker

import (
	"encoding/hex"
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"
)

func unhex(s string) []byte {
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		panic(err)
	}
	return b
}

func TestUDPRequestEncoding(t *testing.T) {
	if got, want := appendConnectRequest(nil, 0x01020304), unhex("00000417 27101980 00000000 01020304"); string(got) != string(want) {
		t.Fatalf("connect request %x", got)
	}
	req := &AnnounceRequest{
		InfoHash: hash("IIIIIIIIIIIIIIIIIIII"), PeerID: hash("PPPPPPPPPPPPPPPPPPPP"),
		Port: 6881, Uploaded: 3, Downloaded: 1, Left: 2, Event: EventStopped,
		NumWant: 0, Key: 0xcafebabe, IP: netip.MustParseAddr("::ffff:10.0.0.9"),
	}
	want := unhex("1122334455667788 00000001 0a0b0c0d" +
		strings.Repeat("49", 20) + strings.Repeat("50", 20) +
		"0000000000000001 0000000000000002 0000000000000003" +
		"00000003 0a000009 cafebabe ffffffff 1ae1")
	if got := appendAnnounceRequest(nil, 0x1122334455667788, 0x0a0b0c0d, req); string(got) != string(want) {
		t.Fatalf("announce request\n got %x\nwant %x", got, want)
	}
	got := appendScrapeRequest(nil, 1, 2, [][20]byte{hash("a"), hash("b")})
	want = unhex("0000000000000001 00000002 00000002 61" + strings.Repeat("00", 19) + "62" + strings.Repeat("00", 19))
	if string(got) != string(want) {
		t.Fatalf("scrape request %x", got)
	}
}

// udpResponseCases are literal tracker datagrams with what they must parse
// to; the fuzz target starts from them too.
var udpResponseCases = []struct {
	name    string
	data    string // hex
	v6      bool
	nScrape int
	want    udpResponse
	err     error
}{
	{name: "connect", data: "00000000 00000007 0102030405060708",
		want: udpResponse{action: actionConnect, tid: 7, connID: 0x0102030405060708}},
	{name: "connect, longer", data: "00000000 00000007 0102030405060708 ffff",
		want: udpResponse{action: actionConnect, tid: 7, connID: 0x0102030405060708}},
	{name: "connect short", data: "00000000 00000007 01020304", err: ErrBadResponse},
	{name: "announce v4", data: "00000001 00000009 00000708 00000002 00000003 7f000001 1ae1 0a000002 1ae2 010203",
		want: udpResponse{action: actionAnnounce, tid: 9, announce: &AnnounceResponse{
			Interval: 1800 * time.Second, Leechers: 2, Seeders: 3,
			Peers: []netip.AddrPort{ap("127.0.0.1:6881"), ap("10.0.0.2:6882")}}}},
	{name: "announce v6", v6: true,
		data: "00000001 00000009 0000003c 00000000 00000001" +
			"00000000000000000000000000000001 1ae1" +
			"00000000000000000000ffff0a000001 0050" +
			"20010db8000000000000000000000000 0000",
		want: udpResponse{action: actionAnnounce, tid: 9, announce: &AnnounceResponse{
			Interval: time.Minute, Seeders: 1,
			Peers: []netip.AddrPort{ap("[::1]:6881"), ap("10.0.0.1:80")}}}},
	{name: "announce without peers, negative counts", data: "00000001 00000001 00000000 ffffffff 80000000",
		want: udpResponse{action: actionAnnounce, tid: 1, announce: &AnnounceResponse{Peers: []netip.AddrPort{}}}},
	{name: "announce negative interval", data: "00000001 00000001 fffffff6 00000000 00000000", err: ErrBadResponse},
	{name: "announce short", data: "00000001 00000001 00000708 00000000", err: ErrBadResponse},
	{name: "announce empty", data: "00000001 00000001", err: ErrTrackerFailure},
	{name: "scrape", nScrape: 2, data: "00000002 00000005 00000001 00000002 00000003 0000000a 0000000b 0000000c",
		want: udpResponse{action: actionScrape, tid: 5, scrape: []ScrapeResult{
			{Seeders: 1, Completed: 2, Leechers: 3}, {Seeders: 10, Completed: 11, Leechers: 12}}}},
	{name: "scrape short", nScrape: 2, data: "00000002 00000005 00000001 00000002 00000003 0000000a", err: ErrBadResponse},
	{name: "error", data: "00000003 00000004 " + hex.EncodeToString([]byte("not registered")),
		want: udpResponse{action: actionError, tid: 4, message: "not registered"}},
	{name: "error, empty", data: "00000003 00000004", want: udpResponse{action: actionError, tid: 4}},
	{name: "unknown action", data: "00000004 00000004 00000000", err: ErrBadResponse},
	{name: "short header", data: "00000001 000000", err: ErrBadResponse},
	{name: "empty", data: "", err: ErrBadResponse},
}

func TestParseUDPResponse(t *testing.T) {
	for _, tc := range udpResponseCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseUDPResponse(unhex(tc.data), tc.v6, tc.nScrape)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("error = %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got  %+v %+v\nwant %+v %+v", got, got.announce, tc.want, tc.want.announce)
			}
		})
	}
}

func TestParseUDPResponsePeerLimit(t *testing.T) {
	b := appendUDPHeader(nil, actionAnnounce, 1)
	b = append(b, make([]byte, 12)...)
	for len(b)+6 <= maxDatagram {
		b = append(b, 10, 0, byte(len(b)>>8), byte(len(b)), 0, 1)
	}
	r, err := parseUDPResponse(b, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.announce.Peers) != MaxPeers || cap(r.announce.Peers) != MaxPeers {
		t.Fatalf("%d peers (capacity %d), want %d", len(r.announce.Peers), cap(r.announce.Peers), MaxPeers)
	}
}
