package session

import (
	"context"
	"net/netip"
	"time"

	"tt/internal/dht"
)

// DHT is what a session needs of a DHT node: peers for an infohash, and
// an announce of our own port. *dht.Server implements it.
type DHT interface {
	Announce(ctx context.Context, ih dht.ID, port int, onPeers func([]netip.AddrPort)) (int, error)
	GetPeers(ctx context.Context, ih dht.ID, onPeers func([]netip.AddrPort)) error
}

// DHT re-announce intervals: soon while nothing was found, every 15
// minutes after that (peers keep announcements for 30).
const (
	dhtRetryFirst = 5 * time.Second
	dhtRetryMax   = 2 * time.Minute
	dhtInterval   = 15 * time.Minute
)

// dhtLookups asks d for peers of ih until ctx ends, handing each batch to
// found. With announce set it also announces port. Private torrents never
// get here (BEP 27).
func dhtLookups(ctx context.Context, d DHT, ih [20]byte, port uint16, announce bool,
	found func([]netip.AddrPort), emit func(Event)) {
	retry := dhtRetryFirst
	for {
		n := 0
		onPeers := func(ps []netip.AddrPort) {
			n += len(ps)
			found(ps)
		}
		var err error
		if announce {
			_, err = d.Announce(ctx, ih, int(port), onPeers)
		} else {
			err = d.GetPeers(ctx, ih, onPeers)
		}
		if ctx.Err() != nil {
			return
		}
		wait := dhtInterval
		if err != nil {
			emit(Event{Type: "dht_error", Error: err.Error()})
		} else {
			emit(Event{Type: "dht_reply", NumPeers: n})
		}
		if err != nil || n == 0 {
			wait, retry = retry, min(2*retry, dhtRetryMax)
		} else {
			retry = dhtRetryFirst
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
		}
	}
}

func (s *Session) dhtLoop(ctx context.Context) {
	dhtLookups(ctx, s.cfg.DHT, s.infoHash, s.cfg.Port, true, func(ps []netip.AddrPort) {
		select {
		case s.found <- foundPeers{peers: ps, source: SourceDHT}:
		case <-ctx.Done():
		}
	}, s.emit)
}
