package session

import (
	"context"
	"net/netip"
)

// LocalDiscovery announces a torrent on the local network and reports the
// peers that announce it there (BEP 14); *lsd.Node implements it. Peers
// runs until ctx ends; found must not block.
type LocalDiscovery interface {
	Peers(ctx context.Context, ih [20]byte, found func([]netip.AddrPort))
}

// lsdLoop feeds peers found on the local network to the loop.
func (s *Session) lsdLoop(ctx context.Context) {
	s.cfg.LSD.Peers(ctx, s.infoHash, func(ps []netip.AddrPort) {
		select {
		case s.found <- foundPeers{peers: ps, source: SourceLSD}:
		default: // the loop is busy; the next announce brings them again
		}
	})
}
