package session

import (
	"encoding/json"
	"net"
	"time"

	"tt/internal/choker"
	"tt/internal/utp"
)

// Event is one line of `tt get --json` (NDJSON). Type is one of: listening, started,
// peer_connected, peer_disconnected, peer_banned, piece_verified,
// hash_failed, tracker_reply, tracker_error, dht_reply, dht_error,
// dial_failed, progress, complete, done, and the metadata_* events of a
// magnet link. Fields that do not apply are left out.
type Event struct {
	Time       time.Time  `json:"time"`
	Type       EventType  `json:"type"`
	Peer       string     `json:"peer,omitempty"`
	Peers      []string   `json:"peers,omitempty"`
	Source     PeerSource `json:"source,omitempty"`
	Transport  Carrier    `json:"transport,omitempty"` // in peer_connected
	Reason     string     `json:"reason,omitempty"`
	Piece      int        `json:"-"` // in piece_verified, hash_failed, peer_banned
	Have       int        `json:"-"` // with Pieces, in started, progress, complete, done, piece_verified
	Pieces     int        `json:"-"`
	Downloaded int64      `json:"downloaded,omitempty"`
	Uploaded   int64      `json:"uploaded,omitempty"`
	Tracker    string     `json:"tracker,omitempty"`
	NumPeers   int        `json:"num_peers,omitempty"`
	Seeders    int        `json:"seeders,omitempty"`
	Leechers   int        `json:"leechers,omitempty"`
	Error      string     `json:"error,omitempty"`
	Port       int        `json:"port,omitempty"`
	DownRate   float64    `json:"down_rate,omitempty"` // bytes/s, in progress
	UpRate     float64    `json:"up_rate,omitempty"`
	Left       int64      `json:"left,omitempty"`
	Dropped    int        `json:"dropped,omitempty"` // in events_dropped
}

// MarshalJSON writes the counters that may be zero only where they mean
// something, so that piece 0 and "have 0 pieces" are not lost.
func (e Event) MarshalJSON() ([]byte, error) {
	type plain Event
	out := struct {
		plain
		Piece  *int `json:"piece,omitempty"`
		Have   *int `json:"have,omitempty"`
		Pieces *int `json:"pieces,omitempty"`
	}{plain: plain(e)}
	switch e.Type {
	case EvPieceVerified, EvHashFailed, EvMetadataPiece:
		out.Piece = &e.Piece
	case EvPeerBanned:
		if e.Piece >= 0 {
			out.Piece = &e.Piece
		}
	}
	if e.Pieces > 0 {
		out.Have, out.Pieces = &e.Have, &e.Pieces
	}
	return json.Marshal(out)
}

// PeerStats describes one connection in a Stats snapshot.
type PeerStats struct {
	Addr           string
	Client         string
	Source         PeerSource
	Encryption     Cipher
	Transport      Carrier
	RTT            time.Duration
	Cwnd           int           // uTP: congestion window, bytes
	QueuingDelay   time.Duration // uTP: one-way queuing delay our packets see (LEDBAT's measure)
	AmChoking      bool
	AmInterested   bool
	PeerChoking    bool
	PeerInterested bool
	Snubbed        bool
	Seed           bool
	Optimistic     bool
	ChokeReason    string
	DownRate       float64
	UpRate         float64
	Downloaded     int64
	Uploaded       int64
	Progress       float64 // fraction of pieces the peer has
	Requests       int     // our outstanding requests to it
	Uploads        int     // its requests we have queued
}

// Stats is a snapshot of a session, published every second.
type Stats struct {
	Name        string
	Pieces      int
	PieceLength int64
	Have        int
	Total       int64 // bytes of the torrent
	Left        int64 // bytes of wanted pieces not yet verified
	Wanted      int64 // bytes of wanted pieces
	Downloaded  int64 // payload bytes received
	Uploaded    int64 // payload bytes sent
	Wasted      int64 // received and not used
	DownRate    float64
	UpRate      float64
	HashFails   int
	Banned      int // peers banned for sending bad data
	Endgame     bool
	Complete    bool
	Seeding     bool // complete and serving others
	Known       int  // peer addresses known
	Peers       []PeerStats
	Elapsed     time.Duration
	State       State
	Reason      string             // why, when stalled; how far, when fetching metadata
	Sources     map[PeerSource]int // connected peers by source
	KnownBy     map[PeerSource]int // known addresses by source

	// With Config.Detail only:
	PieceState   []uint8  // per piece: PieceMissing, PiecePartial, PieceHave, PieceSkipped
	Availability []uint16 // per piece: peers that have it
	Files        []FileStats
	Trackers     []TrackerStats
}

// publish sends a snapshot; an unread older one is replaced.
func (s *Session) publish() {
	st := s.snapshot()
	select {
	case <-s.stats:
	default:
	}
	s.stats <- st
}

// Final is the last snapshot; call it only after Run has returned.
func (s *Session) Final() Stats { return s.snapshot() }

func (s *Session) snapshot() Stats {
	st := Stats{
		Name: s.cfg.Name, Downloaded: s.down.total, Uploaded: s.up.total, Wasted: s.wasted,
		DownRate: s.down.rate, UpRate: s.up.rate, HashFails: s.hashFails, Known: len(s.set.known), Banned: len(s.set.banned),
		Elapsed: time.Since(s.startedAt), Sources: map[PeerSource]int{}, KnownBy: map[PeerSource]int{},
	}
	if s.t != nil {
		st.Name, st.Pieces, st.PieceLength, st.Have = s.t.Info.Name, s.numPieces, s.t.Info.PieceLength, s.pick.HaveCount()
		st.Total, st.Left, st.Wanted = s.t.Info.TotalLength, s.left.Load(), s.wanted
		st.Endgame, st.Complete, st.Seeding = s.pick.Endgame(), s.pick.Complete(), s.pick.Complete() && s.cfg.Seed
		if s.cfg.Detail {
			s.detail(&st)
		}
	}
	st.State, st.Reason = s.state()
	for _, k := range s.set.known {
		st.KnownBy[k.source]++
	}
	opt := map[choker.PeerID]bool{}
	for _, id := range s.optimistic {
		opt[id] = true
	}
	for _, p := range s.peers {
		st.Sources[p.source]++
		n, seed := s.peerPieces(p)
		ps := PeerStats{
			Addr: p.c.addr.String(), Client: p.client, Source: p.source, Encryption: p.enc, Transport: p.transport,
			AmChoking: p.amChoking, AmInterested: p.amInterested, PeerChoking: p.peerChoking, PeerInterested: p.peerInterested,
			Snubbed: p.snubbed, Seed: seed, Optimistic: opt[choker.PeerID(p.c.id)], ChokeReason: p.reason.String(),
			DownRate: p.down.rate, UpRate: p.up.rate, Downloaded: p.down.total, Uploaded: p.up.total,
			Progress: float64(n) / float64(max(s.numPieces, 1)), Requests: len(p.requests), Uploads: p.uploads,
		}
		switch raw := p.raw.(type) {
		case *utp.Conn:
			us := raw.Stats()
			ps.RTT, ps.Cwnd, ps.QueuingDelay = us.RTT, us.Cwnd, us.QueuingDelay
		case *net.TCPConn:
			ps.RTT = tcpRTT(raw)
		}
		st.Peers = append(st.Peers, ps)
	}
	return st
}
