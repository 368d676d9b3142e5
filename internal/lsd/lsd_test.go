package lsd

import (
	"net/netip"
	"slices"
	"testing"
	"time"
)

func TestFormatParse(t *testing.T) {
	a, b := [20]byte{1, 2, 3}, [20]byte{0xff}
	msg := format(Group, 6881, "abc", a, b)
	port, ihs, cookie, err := parse(msg)
	if err != nil || port != 6881 || !slices.Equal(ihs, [][20]byte{a, b}) || cookie != "abc" {
		t.Fatalf("parse(format) = %d %x %q %v", port, ihs, cookie, err)
	}
	// Header names are case-insensitive and the cookie is optional.
	other := "BT-SEARCH * HTTP/1.1\r\nhost: 239.192.152.143:6771\r\nport: 51413\r\ninfohash: " +
		"0102030000000000000000000000000000000000\r\n\r\n\r\n"
	if port, ihs, _, err := parse([]byte(other)); err != nil || port != 51413 || ihs[0] != a {
		t.Fatalf("lower-case headers: %d %x %v", port, ihs, err)
	}
	for _, bad := range []string{
		"", "GET / HTTP/1.1\r\n\r\n",
		"BT-SEARCH * HTTP/1.1\r\nPort: 0\r\nInfohash: 0102030000000000000000000000000000000000\r\n\r\n",
		"BT-SEARCH * HTTP/1.1\r\nPort: 99999\r\nInfohash: 0102030000000000000000000000000000000000\r\n\r\n",
		"BT-SEARCH * HTTP/1.1\r\nPort: 80\r\nInfohash: nothex\r\n\r\n",
		"BT-SEARCH * HTTP/1.1\r\nPort: 80\r\n\r\n",
		"BT-SEARCH * HTTP/1.1\r\nno colon here\r\n\r\n",
	} {
		if _, _, _, err := parse([]byte(bad)); err == nil {
			t.Errorf("parse(%q) accepted", bad)
		}
	}
}

func TestHandle(t *testing.T) {
	n := &Node{cookie: "mine", subs: map[[20]byte]map[int]func([]netip.AddrPort){}, last: map[netip.Addr]time.Time{}}
	ih := [20]byte{7}
	var got []netip.AddrPort
	n.subs[ih] = map[int]func([]netip.AddrPort){0: func(ps []netip.AddrPort) { got = append(got, ps...) }}
	from := netip.MustParseAddrPort("10.0.0.5:6771")
	now := time.Unix(1000, 0)
	n.handle(from, format(Group, 6881, "mine", ih), now) // our own announce, looped back
	n.handle(from, format(Group, 6881, "theirs", [20]byte{8}), now)
	if len(got) != 0 {
		t.Fatalf("own or unrelated announce delivered: %v", got)
	}
	n.handle(from, format(Group, 6881, "theirs", ih), now.Add(2*time.Second))
	n.handle(from, format(Group, 6882, "theirs", ih), now.Add(2*time.Second+time.Millisecond)) // too soon
	want := []netip.AddrPort{netip.MustParseAddrPort("10.0.0.5:6881")}
	if !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}
