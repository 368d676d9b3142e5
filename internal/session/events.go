package session

import (
	"time"

	"tt/internal/choker"
)

// Event is one line of `tt get --json` (NDJSON). Type is one of: listening, started,
// peer_connected, peer_disconnected, peer_banned, piece_verified,
// hash_failed, tracker_reply, tracker_error, complete, done. Fields that do
// not apply are left out.
type Event struct {
	Time       time.Time `json:"time"`
	Type       string    `json:"type"`
	Peer       string    `json:"peer,omitempty"`
	Peers      []string  `json:"peers,omitempty"`
	Source     string    `json:"source,omitempty"`
	Reason     string    `json:"reason,omitempty"`
	Piece      int       `json:"piece,omitempty"`
	Have       int       `json:"have,omitempty"`
	Pieces     int       `json:"pieces,omitempty"`
	Downloaded int64     `json:"downloaded,omitempty"`
	Uploaded   int64     `json:"uploaded,omitempty"`
	Tracker    string    `json:"tracker,omitempty"`
	NumPeers   int       `json:"num_peers,omitempty"`
	Seeders    int       `json:"seeders,omitempty"`
	Leechers   int       `json:"leechers,omitempty"`
	Error      string    `json:"error,omitempty"`
	Port       int       `json:"port,omitempty"`
}

// PeerStats describes one connection in a Stats snapshot.
type PeerStats struct {
	Addr           string
	Client         string
	Source         string
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
	Name       string
	Pieces     int
	Have       int
	Total      int64 // bytes wanted
	Left       int64
	Downloaded int64 // payload bytes received
	Uploaded   int64 // payload bytes sent
	Wasted     int64 // received and not used
	DownRate   float64
	UpRate     float64
	HashFails  int
	Endgame    bool
	Complete   bool
	Known      int // peer addresses known
	Peers      []PeerStats
	Elapsed    time.Duration
}

// publish sends a snapshot; an unread older one is replaced.
func (s *Session) publish() {
	st := Stats{
		Name: s.t.Info.Name, Pieces: s.numPieces, Have: s.pick.HaveCount(),
		Total: s.t.Info.TotalLength, Left: s.left.Load(),
		Downloaded: s.down.total, Uploaded: s.up.total, Wasted: s.wasted,
		DownRate: s.down.rate, UpRate: s.up.rate, HashFails: s.hashFails,
		Endgame: s.pick.Endgame(), Complete: s.pick.Complete(), Known: len(s.known),
		Elapsed: time.Since(s.startedAt),
	}
	opt := map[choker.PeerID]bool{}
	for _, id := range s.optimistic {
		opt[id] = true
	}
	for _, p := range s.peers {
		st.Peers = append(st.Peers, PeerStats{
			Addr: p.c.addr.String(), Client: p.client, Source: p.source,
			AmChoking: p.amChoking, AmInterested: p.amInterested, PeerChoking: p.peerChoking, PeerInterested: p.peerInterested,
			Snubbed: p.snubbed, Seed: p.seed, Optimistic: opt[choker.PeerID(p.c.id)], ChokeReason: p.reason.String(),
			DownRate: p.down.rate, UpRate: p.up.rate, Downloaded: p.down.total, Uploaded: p.up.total,
			Progress: float64(p.haveCount) / float64(max(s.numPieces, 1)), Requests: len(p.requests), Uploads: p.uploads,
		})
	}
	select {
	case <-s.stats:
	default:
	}
	s.stats <- st
}
