package tracker

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"
)

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

func TestAnnounceURL(t *testing.T) {
	req := &AnnounceRequest{
		InfoHash:   [20]byte([]byte("\x01\x02 ~abcdefghij\xff\xfe%&=+")),
		PeerID:     [20]byte([]byte("-TT0001-123456789012")),
		Port:       6881,
		Uploaded:   1,
		Downloaded: 2,
		Left:       3,
		Event:      EventStarted,
		NumWant:    30,
		Key:        0xbeef,
		TrackerID:  "t 1",
	}
	got, err := AnnounceURL("http://tr.example/announce?passkey=a%2Fb#frag", req)
	if err != nil {
		t.Fatal(err)
	}
	want := "http://tr.example/announce?passkey=a%2Fb" +
		"&info_hash=%01%02%20~abcdefghij%FF%FE%25%26%3D%2B" +
		"&peer_id=-TT0001-123456789012&port=6881&uploaded=1&downloaded=2&left=3" +
		"&compact=1&no_peer_id=1&event=started&numwant=30&key=0000beef&trackerid=t%201"
	if got != want {
		t.Fatalf("AnnounceURL:\n got %s\nwant %s", got, want)
	}
	u, _ := url.Parse(got)
	if ih := u.Query().Get("info_hash"); ih != string(req.InfoHash[:]) {
		t.Fatalf("info_hash decodes to %q", ih)
	}

	// No event, default numwant, an address, no query of its own.
	req = &AnnounceRequest{Port: 1, IP: netip.MustParseAddr("2001:db8::1")}
	got, err = AnnounceURL("https://tr.example:8443/a/announce", req)
	if err != nil {
		t.Fatal(err)
	}
	zero := strings.Repeat("%00", 20)
	want = "https://tr.example:8443/a/announce?info_hash=" + zero + "&peer_id=" + zero +
		"&port=1&uploaded=0&downloaded=0&left=0&compact=1&no_peer_id=1&key=00000000&ipv6=2001%3Adb8%3A%3A1"
	if got != want {
		t.Fatalf("AnnounceURL:\n got %s\nwant %s", got, want)
	}

	for _, bad := range []string{"udp://tr.example:80", "tr.example/announce", "http:///announce", "http://[::1/announce"} {
		if _, err := AnnounceURL(bad, req); !errors.Is(err, ErrUnsupportedURL) {
			t.Errorf("AnnounceURL(%q) error = %v, want ErrUnsupportedURL", bad, err)
		}
	}
}

func TestScrapeURL(t *testing.T) {
	ih := [20]byte([]byte("AAAAAAAAAAAAAAAAAAA\xff"))
	q := "info_hash=AAAAAAAAAAAAAAAAAAA%FF"
	for _, tc := range []struct {
		in, want string
		err      error
	}{
		{"http://t.example/announce", "http://t.example/scrape?" + q, nil},
		{"http://t.example:6969/x/announce.php?passkey=k", "http://t.example:6969/x/scrape.php?passkey=k&" + q, nil},
		{"http://t.example/announce/announce", "http://t.example/announce/scrape?" + q, nil},
		{"http://t.example/a%20b/announce", "http://t.example/a%20b/scrape?" + q, nil},
		{"http://t.example/announce/x", "", ErrNoScrape},
		{"http://t.example/a", "", ErrNoScrape},
		{"http://t.example", "", ErrNoScrape},
		{"udp://t.example:80/announce", "", ErrUnsupportedURL},
	} {
		got, err := ScrapeURL(tc.in, ih)
		if !errors.Is(err, tc.err) || got != tc.want {
			t.Errorf("ScrapeURL(%q) = %q, %v; want %q, %v", tc.in, got, err, tc.want, tc.err)
		}
	}
	if got, _ := ScrapeURL("http://t.example/announce"); got != "http://t.example/scrape" {
		t.Errorf("ScrapeURL without hashes = %q", got)
	}
}

// httpResponseCases are literal tracker bodies with what they must parse to;
// the fuzz target starts from them too.
var httpResponseCases = []struct {
	name string
	body string
	want *AnnounceResponse
	err  error
}{
	{
		name: "compact",
		body: "d8:intervali1800e5:peers12:\x7f\x00\x00\x01\x1a\xe1\x0a\x00\x00\x02\x1a\xe2e",
		want: &AnnounceResponse{Interval: 1800 * time.Second, Peers: []netip.AddrPort{ap("127.0.0.1:6881"), ap("10.0.0.2:6882")}},
	},
	{
		name: "everything, keys unsorted",
		body: "d8:intervali900e12:min intervali60e8:completei5e10:incompletei7e10:tracker id3:xyz" +
			"15:warning message4:slow5:peers6:\x01\x02\x03\x04\x00\x50" +
			"6:peers618:\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x1a\xe1e",
		want: &AnnounceResponse{
			Interval: 900 * time.Second, MinInterval: time.Minute, Seeders: 5, Leechers: 7,
			TrackerID: "xyz", Warning: "slow",
			Peers: []netip.AddrPort{ap("1.2.3.4:80"), ap("[::1]:6881")},
		},
	},
	{
		name: "dictionary model",
		body: "d8:intervali60e5:peersl" +
			"d2:ip7:1.2.3.47:peer id20:aaaaaaaaaaaaaaaaaaaa4:porti80ee" +
			"d2:ip3:::14:porti81ee" +
			"d2:ip12:host.example4:porti82ee" +
			"d2:ip7:5.6.7.84:porti0ee" +
			"d2:ip7:5.6.7.84:porti70000ee" +
			"d2:ip7:5.6.7.8e" +
			"d4:porti83ee" +
			"i5e" +
			"d2:ip15:::ffff:10.0.0.14:porti84ee" +
			"ee",
		want: &AnnounceResponse{Interval: time.Minute, Peers: []netip.AddrPort{ap("1.2.3.4:80"), ap("[::1]:81"), ap("10.0.0.1:84")}},
	},
	{
		name: "port zero and unspecified address skipped",
		body: "d5:peers18:\x00\x00\x00\x00\x1a\xe1\x01\x01\x01\x01\x00\x00\x02\x02\x02\x02\x00\x01e",
		want: &AnnounceResponse{Peers: []netip.AddrPort{ap("2.2.2.2:1")}},
	},
	{
		name: "warning without peers",
		body: "d8:intervali30e15:warning message11:be careful!e",
		want: &AnnounceResponse{Interval: 30 * time.Second, Warning: "be careful!"},
	},
	{
		name: "negative counts read as absent",
		body: "d8:completei-1e10:incompletei99999999999e8:intervali1ee",
		want: &AnnounceResponse{Interval: time.Second},
	},
	{name: "failure", body: "d14:failure reason14:not authorizede", err: &FailureError{Reason: "not authorized"}},
	{name: "failure wins over peers", body: "d14:failure reason3:bad8:intervali60e5:peers0:e", err: &FailureError{Reason: "bad"}},
	{name: "truncated", body: "d8:intervali1800e", err: ErrBadResponse},
	{name: "empty", body: "", err: ErrBadResponse},
	{name: "html", body: "<html>502 Bad Gateway</html>", err: ErrBadResponse},
	{name: "not a dictionary", body: "le", err: ErrBadResponse},
	{name: "peers not a multiple of 6", body: "d5:peers7:\x01\x02\x03\x04\x00\x50\x00e", err: ErrBadResponse},
	{name: "peers longer than the body", body: "d5:peers99999999:\x01\x02\x03\x04\x00\x50e", err: ErrBadResponse},
	{name: "peers6 not a multiple of 18", body: "d6:peers66:\x01\x02\x03\x04\x00\x50e", err: ErrBadResponse},
	{name: "peers an integer", body: "d5:peersi6ee", err: ErrBadResponse},
	{name: "peers6 a list", body: "d6:peers6lee", err: ErrBadResponse},
	{name: "negative interval", body: "d8:intervali-5ee", err: ErrBadResponse},
	{name: "interval a string", body: "d8:interval4:1800e", err: ErrBadResponse},
	{name: "huge min interval", body: "d12:min intervali1099511627776ee", err: ErrBadResponse},
	{name: "integer overflow", body: "d8:intervali99999999999999999999ee", err: ErrBadResponse},
	{name: "deep nesting", body: "d1:x" + strings.Repeat("l", 500) + strings.Repeat("e", 500) + "e", err: ErrBadResponse},
}

func TestParseHTTPResponse(t *testing.T) {
	for _, tc := range httpResponseCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseHTTPResponse([]byte(tc.body))
			if tc.err != nil {
				var fe *FailureError
				if want, ok := tc.err.(*FailureError); ok {
					if !errors.As(err, &fe) || *fe != *want || !errors.Is(err, ErrTrackerFailure) {
						t.Fatalf("error = %v, want %v", err, want)
					}
					return
				}
				if !errors.Is(err, tc.err) {
					t.Fatalf("error = %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestParseHTTPResponsePeerLimit(t *testing.T) {
	const n = MaxPeers + 1000
	body := []byte("d5:peers" + itoa(6*n) + ":")
	for i := range n {
		body = append(body, 10, byte(i>>16), byte(i>>8), byte(i), 0x1a, 0xe1)
	}
	body = append(body, 'e')
	got, err := ParseHTTPResponse(body)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Peers) != MaxPeers || got.Peers[MaxPeers-1] != ap("10.0.7.207:6881") {
		t.Fatalf("got %d peers, last %v", len(got.Peers), got.Peers[len(got.Peers)-1])
	}
	if cap(got.Peers) > MaxPeers {
		t.Fatalf("peer slice capacity %d exceeds MaxPeers", cap(got.Peers))
	}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

func TestParseHTTPScrape(t *testing.T) {
	ih := "AAAAAAAAAAAAAAAAAAAA"
	got, err := ParseHTTPScrape([]byte("d5:filesd3:abcd8:completei1ee20:" + ih +
		"d8:completei5e10:downloadedi50e10:incompletei10e4:name1:xeee"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[[20]byte]ScrapeResult{[20]byte([]byte(ih)): {Seeders: 5, Leechers: 10, Completed: 50}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	if _, err := ParseHTTPScrape([]byte("d14:failure reason4:nopee")); !errors.Is(err, ErrTrackerFailure) {
		t.Fatalf("failure: %v", err)
	}
	for _, bad := range []string{"de", "d5:filesi1ee", "d5:filesd", "x"} {
		if _, err := ParseHTTPScrape([]byte(bad)); !errors.Is(err, ErrBadResponse) {
			t.Errorf("ParseHTTPScrape(%q) error = %v", bad, err)
		}
	}
}

func TestHTTPClientStatus(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusForbidden)
		w.Write([]byte("d14:failure reason6:bannede"))
	}))
	defer srv.Close()
	c := &HTTPClient{Client: srv.Client()}
	_, err := c.Announce(t.Context(), srv.URL+"/announce", &AnnounceRequest{Port: 1})
	var se *StatusError
	if !errors.As(err, &se) || se.Code != 403 || se.Reason != "banned" || !errors.Is(err, ErrHTTPStatus) {
		t.Fatalf("error = %v", err)
	}
}

func TestHTTPClientBodyLimit(t *testing.T) {
	big := strings.Repeat("x", 2<<20)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Chunked, so the client cannot tell the size in advance.
		w.(http.Flusher).Flush()
		w.Write([]byte("d5:peers" + itoa(len(big)) + ":" + big + "e"))
	}))
	defer srv.Close()
	c := &HTTPClient{Client: srv.Client(), MaxBody: 1 << 20}
	_, err := c.Announce(t.Context(), srv.URL+"/announce", &AnnounceRequest{Port: 1})
	if !errors.Is(err, ErrBadResponse) || !strings.Contains(err.Error(), "exceeds") {
		t.Fatalf("error = %v", err)
	}
}

func TestHTTPClientDeadline(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	defer srv.Close()
	c := &HTTPClient{Client: srv.Client()}
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Announce(ctx, srv.URL+"/announce", &AnnounceRequest{Port: 1})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error = %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("took %v", d)
	}

	// Without a deadline in the context, Timeout applies.
	c.Timeout = 100 * time.Millisecond
	if _, err := c.Announce(t.Context(), srv.URL+"/announce", &AnnounceRequest{Port: 1}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error = %v", err)
	}
}
