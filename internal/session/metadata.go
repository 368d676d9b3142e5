package session

import (
	"context"
	"crypto/sha1"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"sync"
	"time"

	"tt/internal/tracker"
	"tt/internal/utp"
	"tt/peerwire"
)

// ErrNoMetadata ends a metadata fetch that found no peer able to serve it.
var ErrNoMetadata = errors.New("session: no peer served the metadata")

// FetchConfig describes a BEP 9 metadata fetch for a magnet link.
type FetchConfig struct {
	InfoHash   [20]byte
	PeerID     [20]byte
	Port       uint16 // announced to trackers
	Peers      []netip.AddrPort
	Trackers   [][]string
	Tracker    *tracker.Client
	NoTrackers bool
	DHT        DHT            // peers from the DHT (nil: none)
	LSD        LocalDiscovery // peers from the local network (nil: none)
	UTP        *utp.Socket    // dial over uTP too (nil: TCP only)
	Transport  Transport
	Encryption Encryption
	ClientName string
	// StallAfter gives up when no metadata arrives for this long (0: never).
	StallAfter time.Duration
	// Events, if set, receives metadata_peer, metadata_piece and metadata
	// events (and the tracker events of the announces).
	Events func(Event)
	// Progress, if set, is called with pieces received and the total.
	Progress func(have, total int)
	// Found, if set, is called with the peer addresses tried so far by
	// source (manual, tracker, dht, lsd) whenever new ones are found.
	Found func(bySource map[string]int)
}

// metaState assembles the info dictionary from pieces sent by any peer.
type metaState struct {
	mu       sync.Mutex
	size     int
	pieces   [][]byte
	from     []netip.AddrPort
	claimed  []time.Time
	have     int
	done     chan struct{}
	info     []byte
	bad      map[netip.AddrPort]bool
	lastData time.Time
}

// FetchMetadata finds peers (given and from the trackers), and downloads
// the info dictionary from those that speak ut_metadata, spreading the
// pieces over them. The result's SHA-1 is the info-hash.
func FetchMetadata(ctx context.Context, cfg FetchConfig) ([]byte, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if cfg.PeerID == ([20]byte{}) {
		cfg.PeerID = NewPeerID()
	}
	st := &metaState{done: make(chan struct{}), bad: map[netip.AddrPort]bool{}, lastData: time.Now()}
	emit := func(e Event) {
		if cfg.Events != nil {
			e.Time = time.Now()
			cfg.Events(e)
		}
	}
	found := make(chan foundPeers, 8)
	found <- foundPeers{peers: cfg.Peers, source: "manual"}
	if !cfg.NoTrackers && len(cfg.Trackers) > 0 {
		go announceForPeers(ctx, cfg, found, emit)
	}
	if cfg.DHT != nil {
		go dhtLookups(ctx, cfg.DHT, cfg.InfoHash, cfg.Port, false, func(ps []netip.AddrPort) {
			select {
			case found <- foundPeers{peers: ps, source: "dht"}:
			case <-ctx.Done():
			}
		}, emit)
	}
	if cfg.LSD != nil {
		go cfg.LSD.Peers(ctx, cfg.InfoHash, func(ps []netip.AddrPort) {
			select {
			case found <- foundPeers{peers: ps, source: "lsd"}:
			default:
			}
		})
	}
	tried := map[netip.AddrPort]bool{}
	everTried := map[netip.AddrPort]string{} // → source
	bySource := map[string]int{}
	retry := make(chan foundPeers, 64)
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	defer wg.Wait()
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-st.done:
			emit(Event{Type: "metadata", Reason: fmt.Sprintf("%d bytes", len(st.info))})
			return st.info, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		case a := <-retry:
			delete(tried, a.peers[0])
			select {
			case found <- a:
			default:
			}
		case f := <-found:
			for _, a := range f.peers {
				if tried[a] || !a.IsValid() || a.Port() == 0 || (a.Port() == cfg.Port && a.Addr().IsLoopback()) {
					continue
				}
				tried[a] = true
				if _, ok := everTried[a]; !ok {
					everTried[a] = f.source
					bySource[f.source]++
					if cfg.Found != nil {
						cfg.Found(maps.Clone(bySource))
					}
				}
				wg.Add(1)
				go func(a netip.AddrPort, source string) {
					defer wg.Done()
					select {
					case sem <- struct{}{}:
					case <-ctx.Done():
						return
					}
					defer func() { <-sem }()
					err := fetchFrom(ctx, cfg, a, source, st, emit)
					if err != nil && ctx.Err() == nil {
						emit(Event{Type: "metadata_peer", Peer: a.String(), Source: source, Error: err.Error()})
						// Let it be tried again later, unless it lied.
						time.AfterFunc(5*time.Second, func() {
							st.mu.Lock()
							bad := st.bad[a]
							st.mu.Unlock()
							if !bad {
								select {
								case retry <- foundPeers{peers: []netip.AddrPort{a}, source: source}:
								default:
								}
							}
						})
					}
				}(a, f.source)
			}
		case <-tick.C:
			st.mu.Lock()
			idle := time.Since(st.lastData)
			st.mu.Unlock()
			if cfg.StallAfter > 0 && idle > cfg.StallAfter {
				return nil, fmt.Errorf("%w within %s", ErrNoMetadata, cfg.StallAfter)
			}
		}
	}
}

// announceForPeers announces to the magnet's trackers until ctx ends.
func announceForPeers(ctx context.Context, cfg FetchConfig, found chan<- foundPeers, emit func(Event)) {
	client := cfg.Tracker
	if client == nil {
		client = &tracker.Client{}
	}
	tiers := tracker.NewTiers(cfg.Trackers, nil)
	var sched tracker.Schedule
	next := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Until(next)):
		}
		resp, url, err := tierAnnounce(ctx, client, tiers, &tracker.AnnounceRequest{InfoHash: cfg.InfoHash, PeerID: cfg.PeerID,
			Port: cfg.Port, Left: 1, Event: tracker.EventStarted, NumWant: 200}, 15*time.Second, emit, nil)
		if err != nil {
			next = sched.Failed(time.Now())
			continue
		}
		emit(Event{Type: "tracker_reply", Tracker: url, NumPeers: len(resp.Peers), Seeders: resp.Seeders, Leechers: resp.Leechers})
		next = time.Now().Add(30 * time.Second) // while fetching metadata, ask again soon
		select {
		case found <- foundPeers{peers: resp.Peers, source: "tracker"}:
		case <-ctx.Done():
			return
		}
	}
}

// claim picks the next piece to ask for: one nobody has, or whose request
// is older than 10 s. -1 when none is left.
func (st *metaState) claim() int {
	st.mu.Lock()
	defer st.mu.Unlock()
	now := time.Now()
	for i := range st.pieces {
		if st.pieces[i] == nil && now.Sub(st.claimed[i]) > 10*time.Second {
			st.claimed[i] = now
			return i
		}
	}
	return -1
}

// setSize fixes the metadata size from the first peer that tells it; a
// peer that names another is refused.
func (st *metaState) setSize(n int) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.size == 0 {
		st.size = n
		k := (n + peerwire.MetadataPieceSize - 1) / peerwire.MetadataPieceSize
		st.pieces, st.from, st.claimed = make([][]byte, k), make([]netip.AddrPort, k), make([]time.Time, k)
		return nil
	}
	if n != st.size {
		return fmt.Errorf("metadata_size %d, others said %d", n, st.size)
	}
	return nil
}

// put stores a piece; when the last arrives the whole is checked against
// the info-hash. A mismatch bans every peer that contributed and starts
// over.
func (st *metaState) put(ih [20]byte, from netip.AddrPort, m peerwire.MetadataMsg, progress func(int, int)) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	if m.TotalSize != st.size || m.Piece >= len(st.pieces) {
		return fmt.Errorf("piece %d of %d bytes does not fit %d bytes of metadata", m.Piece, m.TotalSize, st.size)
	}
	want := min(peerwire.MetadataPieceSize, st.size-m.Piece*peerwire.MetadataPieceSize)
	if len(m.Data) != want {
		return fmt.Errorf("piece %d has %d bytes, want %d", m.Piece, len(m.Data), want)
	}
	if st.pieces[m.Piece] != nil || st.info != nil {
		return nil
	}
	st.pieces[m.Piece] = append([]byte(nil), m.Data...)
	st.from[m.Piece] = from
	st.have++
	st.lastData = time.Now()
	if progress != nil {
		progress(st.have, len(st.pieces))
	}
	if st.have < len(st.pieces) {
		return nil
	}
	info := make([]byte, 0, st.size)
	for _, p := range st.pieces {
		info = append(info, p...)
	}
	if sha1.Sum(info) == ih {
		st.info = info
		close(st.done)
		return nil
	}
	for i := range st.pieces {
		st.bad[st.from[i]] = true
		st.pieces[i], st.claimed[i] = nil, time.Time{}
	}
	st.have = 0
	return errors.New("metadata does not match the info-hash; its senders are banned")
}

// fetchFrom connects to one peer and asks it for metadata pieces until the
// metadata is complete or the peer fails.
func fetchFrom(ctx context.Context, cfg FetchConfig, addr netip.AddrPort, source string, st *metaState, emit func(Event)) error {
	ours := peerwire.Handshake{InfoHash: cfg.InfoHash, PeerID: cfg.PeerID}
	ours.Set(peerwire.BitExtended)
	ours.Set(peerwire.BitFast)
	var tr string
	var raw net.Conn
	d := dialer{utp: cfg.UTP, mode: cfg.Transport}
	nc, hs, _, _, err := dialTorrent(ctx, d.sticky(addr, false, &tr, &raw), ours, cfg.Encryption, false)
	if err != nil {
		return err
	}
	defer nc.Close()
	stop := context.AfterFunc(ctx, func() { nc.Close() })
	defer stop()
	if !hs.Supports(peerwire.BitExtended) {
		return errors.New("no extension protocol")
	}
	eh := peerwire.ExtendedHandshake{M: map[string]int64{peerwire.MetadataExt: ourMetadataID}, V: cfg.ClientName, Reqq: 250}
	b, err := eh.Marshal()
	if err != nil {
		return err
	}
	if _, err := nc.Write(peerwire.AppendMessage(nil, peerwire.Message{Kind: peerwire.Extended, ExtID: 0, Payload: b})); err != nil {
		return err
	}
	emit(Event{Type: "metadata_peer", Peer: addr.String(), Source: source})
	r := peerwire.NewReader(nc)
	r.MaxLength = peerwire.MetadataPieceSize + 1024 + 1<<20 // a large bitfield may come first
	var theirID uint8
	pending := -1
	ask := func() error {
		if pending = st.claim(); pending < 0 {
			return nil
		}
		req := peerwire.AppendMetadataMsg(nil, peerwire.MetadataMsg{Type: peerwire.MetadataRequest, Piece: pending})
		_, err := nc.Write(peerwire.AppendMessage(nil, peerwire.Message{Kind: peerwire.Extended, ExtID: theirID, Payload: req}))
		return err
	}
	type read struct {
		m   peerwire.Message
		err error
	}
	msgs := make(chan read)
	go func() {
		for {
			nc.SetReadDeadline(time.Now().Add(30 * time.Second))
			m, err := r.ReadMessage()
			if err == nil && m.Kind == peerwire.Extended {
				m.Payload = append([]byte(nil), m.Payload...)
			}
			select {
			case msgs <- read{m, err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	poll := time.NewTicker(300 * time.Millisecond)
	defer poll.Stop()
	for {
		var in read
		select {
		case <-st.done:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case <-poll.C:
			// Pieces free up when another peer's request times out or the
			// whole failed its check.
			if theirID != 0 && pending < 0 {
				if err := ask(); err != nil {
					return err
				}
			}
			continue
		case in = <-msgs:
		}
		if in.err != nil {
			return in.err
		}
		m := in.m
		if m.Kind != peerwire.Extended {
			continue
		}
		switch {
		case m.ExtID == 0:
			peh, err := peerwire.ParseExtendedHandshake(m.Payload)
			if err != nil {
				return err
			}
			id := peh.M[peerwire.MetadataExt]
			if id <= 0 || id > 255 || peh.MetadataSize <= 0 || peh.MetadataSize > peerwire.MaxMetadataSize {
				return fmt.Errorf("no ut_metadata (id %d, metadata_size %d)", id, peh.MetadataSize)
			}
			if err := st.setSize(int(peh.MetadataSize)); err != nil {
				return err
			}
			theirID = uint8(id)
			if err := ask(); err != nil {
				return err
			}
		case m.ExtID == ourMetadataID && theirID != 0:
			mm, err := peerwire.ParseMetadataMsg(m.Payload)
			if err != nil {
				return err
			}
			switch mm.Type {
			case peerwire.MetadataReject:
				return errors.New("rejected our metadata request")
			case peerwire.MetadataData:
				if mm.Piece != pending {
					return fmt.Errorf("sent piece %d, we asked for %d", mm.Piece, pending)
				}
				if err := st.put(cfg.InfoHash, addr, mm, cfg.Progress); err != nil {
					return err
				}
				emit(Event{Type: "metadata_piece", Peer: addr.String(), Piece: mm.Piece})
				if err := ask(); err != nil {
					return err
				}
			}
		}
	}
}
