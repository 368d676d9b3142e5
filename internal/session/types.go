package session

import "fmt"

// This file holds the session's named values. Their text spellings are the
// ones docs/json.md documents; they live here and nowhere else.

// PeerSource says where a peer's address came from.
type PeerSource uint8

const (
	SourceManual   PeerSource = iota + 1 // --peer, or x.pe of a magnet link
	SourceTracker                        // a tracker's reply
	SourceDHT                            // a DHT lookup
	SourcePEX                            // another peer (ut_pex)
	SourceLSD                            // local service discovery
	SourceIncoming                       // it connected to us
)

var sourceNames = [...]string{SourceManual: "manual", SourceTracker: "tracker", SourceDHT: "dht",
	SourcePEX: "pex", SourceLSD: "lsd", SourceIncoming: "incoming"}

func (s PeerSource) String() string {
	if int(s) < len(sourceNames) && sourceNames[s] != "" {
		return sourceNames[s]
	}
	return fmt.Sprintf("source(%d)", uint8(s))
}

// MarshalText writes the JSON spelling.
func (s PeerSource) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// trusted says whether an address from this source is worth keeping over
// one that only another peer vouched for.
func (s PeerSource) trusted() bool { return s != SourcePEX }

// State is what a session is doing, as shown in snapshots.
type State uint8

const (
	StateDownloading State = iota
	StateEndgame
	StateStalled
	StatePaused
	StateComplete
	StateSeeding
	StateChecking         // the app checks the data on disk
	StateFetchingMetadata // a magnet link: no info dictionary yet
)

var stateNames = [...]string{StateDownloading: "downloading", StateEndgame: "endgame", StateStalled: "stalled",
	StatePaused: "paused", StateComplete: "complete", StateSeeding: "seeding", StateChecking: "checking",
	StateFetchingMetadata: "fetching metadata"}

func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("state(%d)", uint8(s))
}

// MarshalText writes the JSON spelling.
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// TrackerStatus is where a tracker stands, as shown in snapshots.
type TrackerStatus uint8

const (
	TrackerNotContacted TrackerStatus = iota
	TrackerAnnouncing
	TrackerWorking
	TrackerError
	TrackerDisabled
)

var trackerStatusNames = [...]string{TrackerNotContacted: "not contacted", TrackerAnnouncing: "announcing",
	TrackerWorking: "working", TrackerError: "error", TrackerDisabled: "disabled"}

func (s TrackerStatus) String() string {
	if int(s) < len(trackerStatusNames) {
		return trackerStatusNames[s]
	}
	return fmt.Sprintf("tracker(%d)", uint8(s))
}

// MarshalText writes the JSON spelling.
func (s TrackerStatus) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Carrier is the transport one connection runs over; its text is the
// "transport" of peer_connected and of the live view.
type Carrier string

// The transports of a connection.
const (
	OverTCP Carrier = "tcp"
	OverUTP Carrier = "utp"
)

// Cipher is what one connection's encryption came to, as shown in stats.
type Cipher string

// The encryption states of a connection.
const (
	EncPlain    Cipher = "plain" // no MSE
	EncRC4      Cipher = "rc4"   // MSE, RC4 selected
	EncMSEPlain Cipher = "mse"   // MSE handshake, plaintext payload selected
)

// EventType names an Event; its text is the NDJSON "type".
type EventType string

// The events of `tt get --json` (docs/json.md).
const (
	EvListening        EventType = "listening"
	EvListenError      EventType = "listen_error"
	EvListenPaused     EventType = "listen_paused"
	EvStarted          EventType = "started"
	EvPeerConnected    EventType = "peer_connected"
	EvPeerDisconnected EventType = "peer_disconnected"
	EvPeerBanned       EventType = "peer_banned"
	EvPieceVerified    EventType = "piece_verified"
	EvHashFailed       EventType = "hash_failed"
	EvTrackerReply     EventType = "tracker_reply"
	EvTrackerError     EventType = "tracker_error"
	EvDHTReply         EventType = "dht_reply"
	EvDHTError         EventType = "dht_error"
	EvDialFailed       EventType = "dial_failed"
	EvProgress         EventType = "progress"
	EvComplete         EventType = "complete"
	EvDone             EventType = "done"
	EvPaused           EventType = "paused"
	EvResumed          EventType = "resumed"
	EvMetadataPeer     EventType = "metadata_peer"
	EvMetadataPiece    EventType = "metadata_piece"
	EvMetadata         EventType = "metadata"
	// EvEventsDropped is written by the NDJSON writer, not the engine: it
	// counts the events left out while the reader could not keep up.
	EvEventsDropped EventType = "events_dropped"
)
