package session

import "testing"

func TestClientFromPeerID(t *testing.T) {
	for id, want := range map[string]string{
		"-TR3000-abcdefghijkl":                   "Transmission 3.0",
		"-LT2080-abcdefghijkl":                   "libtorrent 2.0.8",
		"-qB4610-abcdefghijkl":                   "qBittorrent 4.6.1",
		"-TT0100-abcdefghijkl":                   "tt 0.1",
		"-ZZ1234-abcdefghijkl":                   "ZZ 1.2.3.4",
		"A2-1-36-0-abcdefghij":                   "aria2 1.36.0",
		"M7-4-3--abcdefghijkl":                   "",
		"\x00\x01-\x02\x03\x04\x05-abcdefghijkl": "",
	} {
		var b [20]byte
		copy(b[:], id)
		if got := clientFromPeerID(b); got != want {
			t.Errorf("%q: %q, want %q", id, got, want)
		}
	}
}
