// Package session runs one torrent: its event loop owns all of the
// torrent's mutable state (peers, requests, choking, progress, and for a
// magnet link the metadata being assembled); connection goroutines only
// frame and parse, and disk writes, hashing and tracker announces run
// beside it and report back over channels. The loop never blocks on a
// send: work for other goroutines waits in queues it owns.
package session

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"net/netip"
	"runtime"
	"sync/atomic"
	"time"

	"tt/internal/choker"
	"tt/internal/tracker"
	"tt/internal/utp"
	"tt/metainfo"
	"tt/peerwire"
	"tt/picker"
)

// Errors Run ends with.
var (
	ErrStalled = errors.New("session: stalled: no data received")
	ErrNoPeers = errors.New("session: no peers")
	ErrDisk    = errors.New("session: disk error")
	// ErrNoMetadata ends a magnet link's session that found no peer able
	// to serve the info dictionary.
	ErrNoMetadata = errors.New("session: no peer served the metadata")
)

// Storage is where pieces live; internal/storage implements it.
type Storage interface {
	WriteBlock(piece int, begin int64, data []byte) error
	ReadBlock(piece int, begin int64, buf []byte) (int, error)
	HashPiece(piece int) ([20]byte, error)
}

// Opened is what Config.Open returns once a magnet link's metadata is
// known: where the data goes and what of it is already there.
type Opened struct {
	Store      Storage
	Have       []bool
	Priorities []picker.Priority          // per file; nil means all normal
	Checkpoint func(have picker.Bitfield) // as Config.Checkpoint
}

// Config describes a session.
type Config struct {
	// Torrent and Store, or for a magnet link InfoHash (and Trackers) with
	// Open: the session then starts by fetching the info dictionary (BEP 9)
	// over the same connections it downloads on.
	Torrent  *metainfo.Torrent
	Store    Storage
	Have     []bool // pieces already verified on disk
	InfoHash [20]byte
	Name     string     // shown until the metadata is known (a magnet link's dn)
	Trackers [][]string // a magnet link's tiers
	// Open is called on its own goroutine once a magnet link's info
	// dictionary has verified. Nil with MetadataOnly.
	Open func(ctx context.Context, t *metainfo.Torrent) (Opened, error)
	// MetadataOnly ends Run (with nil) as soon as the metadata verified;
	// Torrent then returns it.
	MetadataOnly bool

	PeerID [20]byte
	Port   uint16 // our listen port, announced to trackers and peers

	Peers      []netip.AddrPort // manual peers, always dialled
	NoTrackers bool
	Tracker    *tracker.Client
	DHT        DHT            // peers from the DHT (nil: none; never for a private torrent)
	LSD        LocalDiscovery // peers from the local network (nil: none; never for a private torrent)
	NoPEX      bool           // no peer exchange (never for a private torrent)
	UTP        *utp.Socket    // dial and accept over uTP too (nil: TCP only)
	Transport  Transport      // which transports outgoing connections use

	Seed        bool // keep serving after the download completes
	MaxPeers    int  // connections (default 50)
	UploadRate  int64
	DownRate    int64
	Priorities  []picker.Priority // per file; nil means all normal
	Sequential  bool
	StallAfter  time.Duration              // give up when nothing arrives for this long (0: never)
	Checkpoint  func(have picker.Bitfield) // called periodically and at the end with the verified pieces
	Events      func(Event)                // called from the loop and the tracker goroutine: safe for concurrent use, never blocking
	Detail      bool                       // snapshots carry piece, file and tracker detail (for a live view)
	ClientName  string
	HashWorkers int
	Encryption  Encryption // MSE policy (default prefer)
	// MaxDiskBacklog bounds the bytes received and not yet written plus
	// those requested and not yet received: at the bound no more blocks
	// are requested (default 16 MiB).
	MaxDiskBacklog int64
	// HandshakeTimeout bounds each outgoing handshake, MSE included
	// (default 20 s); ServeOptions has the incoming one.
	HandshakeTimeout time.Duration
}

// Session is one running torrent.
type Session struct {
	cfg      Config
	infoHash [20]byte
	// bannedIPs is a copy of the peer set's bans that the loop publishes
	// for listeners, which refuse a banned IP before any handshake.
	bannedIPs atomic.Pointer[map[netip.Addr]struct{}]
	peerID    [20]byte
	ctx       context.Context // ends when Run ends
	cancel    context.CancelFunc
	rng       *mrand.Rand

	// The torrent, once known (from the start, or when a magnet link's
	// metadata has verified and storage is open). Until then t is nil.
	t         *metainfo.Torrent
	store     Storage
	numPieces int
	pick      *picker.Picker
	meta      *metaFetch // a magnet link's metadata, while it is fetched
	opening   bool       // Config.Open is running

	// hashes answers BEP 52 hash requests, from the first one on.
	hashes *hashServer

	peers  map[picker.PeerID]*peerState
	nextID picker.PeerID
	set    peerSet

	connEvents chan connEvent
	newConns   chan pendingConn // unbuffered: a connection handed over is the loop's, never left in a queue after Run
	dialFailed chan dialFailure
	diskEvents chan diskEvent
	found      chan foundPeers
	diskJobs   chan diskJob
	notes      chan trackerNote
	opened     chan openResult
	completed  chan struct{}
	stats      chan Stats
	wantPeers  chan struct{} // the loop has no peer left to talk to or dial
	control    chan func()
	diskDone   chan struct{} // nil until the disk goroutine runs
	openDone   chan struct{} // nil until Config.Open runs
	discover   context.CancelFunc

	disk disk // blocks waiting for the disk goroutine

	upLimit, downLimit *bucket
	down, up           rateMeter
	wasted             int64
	wanted             int64 // bytes of wanted pieces
	paused             bool
	announcedComplete  bool
	prios              []picker.Priority // per file
	avail              []int
	trackers           []TrackerStats
	hashFails          int
	round              int
	optimistic         []choker.PeerID
	lastData           time.Time
	blockFrom          map[picker.Block]picker.PeerID // sender of each stored block of unverified pieces
	suspects           map[int]suspect
	startedAt          time.Time
	everConnected      bool
	done               bool
	fatal              error

	// read by the tracker goroutine
	uploaded, downloaded, left atomic.Int64
	metaKnown                  atomic.Bool
}

type pendingConn struct {
	nc        net.Conn
	hs        peerwire.Handshake
	source    PeerSource
	addr      netip.AddrPort // dialled address, or zero for incoming
	enc       Cipher
	fellBack  bool // MSE failed and plaintext worked
	transport Carrier
	raw       net.Conn // the transport connection under nc
}

type dialFailure struct {
	addr netip.AddrPort
	err  error
}

type foundPeers struct {
	peers  []netip.AddrPort
	source PeerSource
}

// New prepares a session; Run starts it.
func New(cfg Config) (*Session, error) {
	t := cfg.Torrent
	switch {
	case t == nil && (cfg.InfoHash == [20]byte{} || (cfg.Open == nil && !cfg.MetadataOnly)):
		return nil, errors.New("session: a torrent and storage, or an info-hash and Open, are required")
	case t != nil && cfg.Store == nil:
		return nil, errors.New("session: torrent and storage are required")
	case t != nil && t.V2Only():
		return nil, metainfo.ErrV2Only
	}
	if cfg.MaxPeers <= 0 {
		cfg.MaxPeers = 50
	}
	if cfg.HashWorkers <= 0 {
		cfg.HashWorkers = runtime.GOMAXPROCS(0)
	}
	if cfg.ClientName == "" {
		cfg.ClientName = "tt"
	}
	if cfg.PeerID == ([20]byte{}) {
		cfg.PeerID = NewPeerID()
	}
	if cfg.MaxDiskBacklog <= 0 {
		cfg.MaxDiskBacklog = 16 << 20
	}
	var seed [32]byte
	rand.Read(seed[:])
	s := &Session{
		cfg: cfg, infoHash: cfg.InfoHash, peerID: cfg.PeerID,
		rng:   mrand.New(mrand.NewChaCha8(seed)),
		peers: map[picker.PeerID]*peerState{}, set: newPeerSet(),
		connEvents: make(chan connEvent, 256), newConns: make(chan pendingConn), dialFailed: make(chan dialFailure, 16),
		diskEvents: make(chan diskEvent, 64), found: make(chan foundPeers, 4), diskJobs: make(chan diskJob, 64),
		notes: make(chan trackerNote, 16), opened: make(chan openResult, 1),
		completed: make(chan struct{}), stats: make(chan Stats, 1), wantPeers: make(chan struct{}, 1), control: make(chan func()),
		upLimit: newBucket(cfg.UploadRate), downLimit: newBucket(cfg.DownRate),
		blockFrom: map[picker.Block]picker.PeerID{}, suspects: map[int]suspect{},
	}
	for _, a := range cfg.Peers {
		s.set.add(a, SourceManual)
	}
	trackers := cfg.Trackers
	if t != nil {
		s.infoHash = t.InfoHash
		trackers = t.Trackers()
		if err := s.attach(t, Opened{Store: cfg.Store, Have: cfg.Have, Priorities: cfg.Priorities, Checkpoint: cfg.Checkpoint}); err != nil {
			return nil, err
		}
	} else {
		s.meta = newMetaFetch()
		s.left.Store(1) // unknown: not a seed
	}
	for tier, urls := range trackers {
		for _, u := range urls {
			status := TrackerNotContacted
			if cfg.NoTrackers {
				status = TrackerDisabled
			}
			s.trackers = append(s.trackers, TrackerStats{URL: u, Tier: tier, Status: status})
		}
	}
	s.cfg.Trackers = trackers
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

// attach gives the session its torrent and storage: at New, or once a
// magnet link's metadata has verified and Open has returned.
func (s *Session) attach(t *metainfo.Torrent, o Opened) error {
	if t.V2Only() {
		return metainfo.ErrV2Only
	}
	pk, err := picker.New(picker.Config{PieceLength: t.Info.PieceLength, TotalLength: t.Info.TotalLength})
	if err != nil {
		return err
	}
	if o.Priorities != nil {
		if err := pk.SetFilePriorities(fileLengths(t), o.Priorities); err != nil {
			return err
		}
	}
	pk.SetSequential(s.cfg.Sequential)
	for i, ok := range o.Have {
		if ok && i < t.NumPieces() {
			pk.PieceVerified(i)
		}
	}
	s.t, s.store, s.numPieces, s.pick = t, o.Store, t.NumPieces(), pk
	s.metaKnown.Store(true)
	s.cfg.Checkpoint = o.Checkpoint
	s.prios = make([]picker.Priority, len(t.Info.Files))
	for i := range s.prios {
		s.prios[i] = picker.Normal
		if o.Priorities != nil {
			s.prios[i] = o.Priorities[i]
		}
	}
	return nil
}

// NewPeerID makes a peer id in the common -XXyyyy- style.
func NewPeerID() [20]byte {
	var id [20]byte
	copy(id[:], "-TT0100-")
	rand.Read(id[8:])
	return id
}

// Stats is the channel of snapshots; the newest replaces an unread one.
func (s *Session) Stats() <-chan Stats { return s.stats }

// accept hands the session a connection a peer opened, after the handshake.
// It returns false when the session no longer runs.
func (s *Session) accept(nc, raw net.Conn, hs peerwire.Handshake, enc Cipher) bool {
	select {
	case s.newConns <- pendingConn{nc: nc, hs: hs, source: SourceIncoming, enc: enc, transport: transportOf(raw), raw: raw}:
		return true
	case <-s.ctx.Done():
		return false
	}
}

// Handshake is what the session answers an incoming handshake with.
func (s *Session) Handshake() peerwire.Handshake { return s.ourHandshake() }

// InfoHash of the session's torrent.
func (s *Session) InfoHash() [20]byte { return s.infoHash }

// Torrent returns the torrent, nil while a magnet link's metadata is
// unknown. Call it only after Run has returned.
func (s *Session) Torrent() *metainfo.Torrent {
	if s.t != nil {
		return s.t
	}
	if s.meta != nil {
		return s.meta.torrent
	}
	return nil
}

// Complete reports whether every wanted piece is verified. Call it only
// after Run has returned.
func (s *Session) Complete() bool { return s.pick != nil && s.pick.Complete() }

// Run drives the torrent until it is complete (unless seeding), ctx ends,
// or a fatal error. It returns nil when the download completed (or, with
// MetadataOnly, when the metadata did).
func (s *Session) Run(parent context.Context) error {
	ctx, cancel := s.ctx, s.cancel
	stop := context.AfterFunc(parent, cancel)
	defer stop()
	s.startedAt = time.Now()
	s.lastData = s.startedAt
	if s.t != nil {
		s.startDisk()
	}
	trackerDone := make(chan struct{})
	if !s.cfg.NoTrackers && len(s.cfg.Trackers) > 0 {
		go func() { s.trackerLoop(ctx); close(trackerDone) }()
	} else {
		close(trackerDone)
	}
	dctx, dcancel := context.WithCancel(ctx)
	s.discover = dcancel
	discoverDone := s.startDiscovery(dctx)
	if s.t != nil {
		s.emitStarted()
	}
	err := s.loop(ctx)
	if err != nil && parent.Err() != nil {
		err = parent.Err()
	}
	cancel()
	for _, p := range s.peers {
		p.c.close()
	}
	if s.openDone != nil {
		<-s.openDone // it was handed s.ctx, now over
	}
	if s.diskDone != nil {
		close(s.diskJobs)
		<-s.diskDone
	}
	<-trackerDone
	<-discoverDone
	if s.t != nil {
		if s.cfg.Checkpoint != nil {
			s.cfg.Checkpoint(s.pick.Have())
		}
		s.publish()
		if err == nil && s.pick.Complete() {
			s.emit(Event{Type: EvDone, Have: s.pick.HaveCount(), Pieces: s.numPieces, Downloaded: s.down.total, Uploaded: s.up.total})
		}
	}
	return err
}

func (s *Session) emitStarted() {
	s.emit(Event{Type: EvStarted, Pieces: s.numPieces, Have: s.pick.HaveCount()})
}

// startDiscovery runs the DHT and local discovery beside the loop until
// ctx ends (or the torrent turns out private); the channel closes when
// both have stopped.
func (s *Session) startDiscovery(ctx context.Context) <-chan struct{} {
	done := make(chan struct{})
	private := s.t != nil && s.t.Info.Private
	n := 0
	finished := make(chan struct{}, 2)
	if s.cfg.DHT != nil && !private {
		n++
		go func() { s.dhtLoop(ctx); finished <- struct{}{} }()
	}
	if s.cfg.LSD != nil && !private {
		n++
		go func() { s.lsdLoop(ctx); finished <- struct{}{} }()
	}
	go func() {
		for range n {
			<-finished
		}
		close(done)
	}()
	return done
}

func (s *Session) loop(ctx context.Context) error {
	tick := time.NewTicker(rateTick)
	defer tick.Stop()
	rechoke := time.NewTicker(choker.RechokeInterval)
	defer rechoke.Stop()
	checkpoint := time.NewTicker(30 * time.Second)
	defer checkpoint.Stop()
	last := time.Now()
	if s.t != nil {
		s.updateLeft()
		if s.pick.Complete() {
			s.onComplete()
			if !s.cfg.Seed {
				return nil
			}
		}
	}
	s.connectMore()
	for {
		toDisk, next := s.disk.head(s.diskJobs)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case ev := <-s.connEvents:
			s.handleConnEvent(ev)
		case nc := <-s.newConns:
			s.handleNewConn(nc)
		case f := <-s.dialFailed:
			s.handleDialFailed(f)
		case toDisk <- next:
			s.disk.sent()
		case ev := <-s.diskEvents:
			s.handleDisk(ev)
		case n := <-s.notes:
			s.handleTrackerNote(n)
		case r := <-s.opened:
			s.handleOpened(r)
		case f := <-s.control:
			f()
		case f := <-s.found:
			s.addPeers(f.peers, f.source)
		case now := <-tick.C:
			s.handleTick(now.Sub(last))
			last = now
		case <-rechoke.C:
			s.rechoke(false)
		case <-checkpoint.C:
			if s.t != nil && s.cfg.Checkpoint != nil {
				s.cfg.Checkpoint(s.pick.Have())
			}
		}
		if s.fatal != nil {
			return s.fatal
		}
		if s.meta != nil && s.meta.torrent != nil && s.cfg.MetadataOnly {
			return nil
		}
		if s.done && !s.cfg.Seed {
			return nil
		}
		if err := s.checkStall(); err != nil {
			return err
		}
	}
}

func (s *Session) checkStall() error {
	if s.cfg.StallAfter <= 0 || s.done || s.paused || s.opening || time.Since(s.lastData) < s.cfg.StallAfter {
		return nil
	}
	if s.t == nil {
		return fmt.Errorf("%w within %s", ErrNoMetadata, s.cfg.StallAfter)
	}
	if !s.everConnected {
		return fmt.Errorf("%w after %s", ErrNoPeers, s.cfg.StallAfter)
	}
	return fmt.Errorf("%w for %s", ErrStalled, s.cfg.StallAfter)
}

func (s *Session) emit(e Event) {
	if s.cfg.Events != nil {
		e.Time = time.Now()
		s.cfg.Events(e)
	}
}

// post is how goroutines beside the loop report; it gives up when the
// session is over.
func (s *Session) post(ev connEvent) {
	select {
	case s.connEvents <- ev:
	case <-s.ctx.Done():
	}
}

func (s *Session) updateLeft() {
	var left, wanted int64
	for i := 0; i < s.numPieces; i++ {
		if s.pick.PiecePriority(i) == picker.Skip {
			continue
		}
		wanted += s.t.PieceLen(i)
		if !s.pick.Has(i) {
			left += s.t.PieceLen(i)
		}
	}
	s.left.Store(left)
	s.wanted = wanted
}

func (s *Session) onComplete() {
	if s.done {
		return
	}
	s.done = true
	s.left.Store(0)
	if !s.announcedComplete {
		s.announcedComplete = true
		close(s.completed)
	}
	for _, p := range s.peers {
		s.updateInterest(p)
	}
	s.emit(Event{Type: EvComplete, Have: s.pick.HaveCount(), Pieces: s.numPieces, Downloaded: s.down.total})
}

func fileLengths(t *metainfo.Torrent) []int64 {
	out := make([]int64, len(t.Info.Files))
	for i, f := range t.Info.Files {
		out[i] = f.Length
	}
	return out
}
