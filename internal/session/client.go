package session

import (
	"fmt"
	"strings"
)

// azureusClients names the common two-letter codes of "-XX1234-" peer ids.
var azureusClients = map[string]string{
	"AZ": "Vuze", "BC": "BitComet", "BT": "BitTorrent", "DE": "Deluge", "KT": "KTorrent",
	"LT": "libtorrent", "lt": "libTorrent (rakshasa)", "qB": "qBittorrent", "TR": "Transmission",
	"UT": "µTorrent", "UM": "µTorrent Mac", "WW": "WebTorrent", "TT": "tt", "A2": "aria2",
	"FD": "Free Download Manager", "BI": "BiglyBT", "TX": "Tixati", "PI": "PicoTorrent",
}

// clientFromPeerID guesses a client's name and version from its peer id,
// for peers that send no BEP 10 "v". It returns "" when it cannot tell.
func clientFromPeerID(id [20]byte) string {
	if id[0] == '-' && id[7] == '-' {
		code, ver := string(id[1:3]), string(id[3:7])
		name, ok := azureusClients[code]
		if !ok {
			if !printableASCII(code) {
				return ""
			}
			name = code
		}
		if !printableASCII(ver) {
			return name
		}
		var parts []string
		for _, c := range strings.TrimRight(ver, "0") {
			parts = append(parts, string(c))
		}
		if len(parts) < 2 {
			parts = append(parts, "0")
		}
		return fmt.Sprintf("%s %s", name, strings.Join(parts, "."))
	}
	// aria2 uses "A2-1-36-0-" style ids.
	if s := string(id[:3]); s == "A2-" {
		v := strings.SplitN(string(id[3:]), "-", 4)
		if len(v) == 4 {
			return fmt.Sprintf("aria2 %s.%s.%s", v[0], v[1], v[2])
		}
		return "aria2"
	}
	return ""
}

func printableASCII(s string) bool {
	for _, c := range []byte(s) {
		if c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}
