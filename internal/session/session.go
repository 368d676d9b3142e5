// Package session runs one torrent: its event loop owns all of the
// torrent's mutable state (peers, requests, choking, progress); connection
// goroutines only frame and parse, and disk writes, hashing and tracker
// announces run beside it and report back over channels.
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
	"sync"
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
)

// Storage is where pieces live; internal/storage implements it.
type Storage interface {
	WriteBlock(piece int, begin int64, data []byte) error
	ReadBlock(piece int, begin int64, buf []byte) (int, error)
	HashPiece(piece int) ([20]byte, error)
}

// Config describes a session.
type Config struct {
	Torrent *metainfo.Torrent
	Store   Storage
	Have    []bool // pieces already verified on disk
	PeerID  [20]byte
	Port    uint16 // our listen port, announced to trackers and peers

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
}

// Session is one running torrent.
type Session struct {
	cfg       Config
	t         *metainfo.Torrent
	store     Storage
	peerID    [20]byte
	numPieces int
	ctx       context.Context // ends when Run ends
	cancel    context.CancelFunc
	rng       *mrand.Rand

	pick   *picker.Picker
	peers  map[picker.PeerID]*peerState
	nextID picker.PeerID
	known  map[netip.AddrPort]*knownPeer
	dials  int

	connEvents chan connEvent
	newConns   chan pendingConn
	dialFailed chan dialFailure
	diskEvents chan diskEvent
	found      chan foundPeers
	diskJobs   chan diskJob
	completed  chan struct{}
	stats      chan Stats
	wantPeers  chan struct{} // the loop has no peer left to talk to or dial

	upLimit, downLimit *bucket
	down, up           rateMeter
	wasted             int64
	wanted             int64 // bytes of wanted pieces
	control            chan func()
	paused             bool
	announcedComplete  bool
	prios              []picker.Priority // per file
	avail              []int
	trackers           trackerBoard
	hashFails          int
	round              int
	optimistic         []choker.PeerID
	lastData           time.Time
	blockFrom          map[picker.Block]picker.PeerID // sender of each stored block of unverified pieces
	gone               map[picker.PeerID]netip.AddrPort
	suspectsMu         sync.Mutex
	suspects           map[int]suspect
	startedAt          time.Time
	everConnected      bool
	done               bool
	fatal              error

	// read by the tracker goroutine
	uploaded, downloaded, left atomic.Int64
}

type pendingConn struct {
	nc        net.Conn
	hs        peerwire.Handshake
	source    string
	addr      netip.AddrPort // dialled address, or zero for incoming
	enc       string         // encPlain, encRC4, encMSEPlain
	fellBack  bool           // MSE failed and plaintext worked
	transport string         // "tcp" or "utp"
	raw       net.Conn       // the transport connection under nc
}

type knownPeer struct {
	noMSE     bool // an MSE handshake failed where plaintext worked
	noUTP     bool // dialled over TCP because uTP did not answer first
	source    string
	connected bool
	dialing   bool
	banned    bool
	failures  int
	nextTry   time.Time
}

type dialFailure struct {
	addr netip.AddrPort
	err  error
}

type foundPeers struct {
	peers  []netip.AddrPort
	source string
}

type peerState struct {
	c                           *conn
	source                      string
	client                      string
	transport                   string   // "tcp" or "utp"
	raw                         net.Conn // the transport connection
	amChoking, amInterested     bool
	peerChoking, peerInterested bool
	fast, extended              bool
	sawHaves                    bool // a bitfield, have-all or have-none arrived
	reqq                        int
	requests                    map[picker.Block]time.Time
	uploads                     int
	down, up                    rateMeter
	lastPiece, connectedAt      time.Time
	chokeChanged                time.Time
	snubbed, seed               bool
	strikes                     int
	reason                      choker.Reason
	enc                         string
	utMetadata                  int64 // the peer's id for ut_metadata; 0: none
	utPEX                       int64 // the peer's id for ut_pex; 0: none
	listenPort                  uint16
	pexSent                     map[netip.AddrPort]bool // what this peer has been told of
	pexNext                     time.Time
	haveCount                   int
	depth                       int // request queue floor, grown like TCP slow start
}

// New prepares a session; Run starts it.
func New(cfg Config) (*Session, error) {
	t := cfg.Torrent
	if t == nil || cfg.Store == nil {
		return nil, errors.New("session: torrent and storage are required")
	}
	if t.V2Only() {
		return nil, metainfo.ErrV2Only
	}
	pk, err := picker.New(picker.Config{PieceLength: t.Info.PieceLength, TotalLength: t.Info.TotalLength})
	if err != nil {
		return nil, err
	}
	if cfg.Priorities != nil {
		lengths := make([]int64, len(t.Info.Files))
		for i, f := range t.Info.Files {
			lengths[i] = f.Length
		}
		if err := pk.SetFilePriorities(lengths, cfg.Priorities); err != nil {
			return nil, err
		}
	}
	pk.SetSequential(cfg.Sequential)
	for i, ok := range cfg.Have {
		if ok {
			pk.PieceVerified(i)
		}
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
	var seed [32]byte
	rand.Read(seed[:])
	s := &Session{
		cfg: cfg, t: t, store: cfg.Store, peerID: cfg.PeerID, numPieces: t.NumPieces(),
		rng:  mrand.New(mrand.NewChaCha8(seed)),
		pick: pk, peers: map[picker.PeerID]*peerState{}, known: map[netip.AddrPort]*knownPeer{},
		connEvents: make(chan connEvent, 256), newConns: make(chan pendingConn, 16), dialFailed: make(chan dialFailure, 16),
		diskEvents: make(chan diskEvent, 64), found: make(chan foundPeers, 4), diskJobs: make(chan diskJob, 1024),
		completed: make(chan struct{}), stats: make(chan Stats, 1), wantPeers: make(chan struct{}, 1),
		upLimit: newBucket(cfg.UploadRate), downLimit: newBucket(cfg.DownRate),
		blockFrom: map[picker.Block]picker.PeerID{}, gone: map[picker.PeerID]netip.AddrPort{}, suspects: map[int]suspect{},
	}
	for _, a := range cfg.Peers {
		s.known[a] = &knownPeer{source: "manual"}
	}
	s.control = make(chan func())
	s.prios = make([]picker.Priority, len(t.Info.Files))
	for i := range s.prios {
		s.prios[i] = picker.Normal
		if cfg.Priorities != nil {
			s.prios[i] = cfg.Priorities[i]
		}
	}
	for tier, urls := range t.Trackers() {
		for _, u := range urls {
			status := "not contacted"
			if cfg.NoTrackers {
				status = "disabled"
			}
			s.trackers.list = append(s.trackers.list, TrackerStats{URL: u, Tier: tier, Status: status})
		}
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s, nil
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
func (s *Session) accept(nc, raw net.Conn, hs peerwire.Handshake, enc string) bool {
	select {
	case s.newConns <- pendingConn{nc: nc, hs: hs, source: "incoming", enc: enc, transport: transportOf(raw), raw: raw}:
		return true
	case <-s.ctx.Done():
		return false
	}
}

// Handshake is what the session answers an incoming handshake with.
func (s *Session) Handshake() peerwire.Handshake { return s.ourHandshake() }

// InfoHash of the session's torrent.
func (s *Session) InfoHash() [20]byte { return s.t.InfoHash }

// Complete reports whether every wanted piece is verified. Call it only
// after Run has returned.
func (s *Session) Complete() bool { return s.pick.Complete() }

// Run drives the torrent until it is complete (unless seeding), ctx ends,
// or a fatal error. It returns nil when the download completed.
func (s *Session) Run(parent context.Context) error {
	ctx, cancel := s.ctx, s.cancel
	stop := context.AfterFunc(parent, cancel)
	defer stop()
	s.startedAt = time.Now()
	s.lastData = s.startedAt
	diskDone := make(chan struct{})
	go func() { s.diskLoop(); close(diskDone) }()
	trackerDone := make(chan struct{})
	if !s.cfg.NoTrackers && len(s.t.Trackers()) > 0 {
		go func() { s.trackerLoop(ctx); close(trackerDone) }()
	} else {
		close(trackerDone)
	}
	dhtDone := make(chan struct{})
	if s.cfg.DHT != nil && !s.t.Info.Private {
		go func() { s.dhtLoop(ctx); close(dhtDone) }()
	} else {
		close(dhtDone)
	}
	lsdDone := make(chan struct{})
	if s.cfg.LSD != nil && !s.t.Info.Private {
		go func() { s.lsdLoop(ctx); close(lsdDone) }()
	} else {
		close(lsdDone)
	}
	s.emit(Event{Type: "started", Pieces: s.numPieces, Have: s.pick.HaveCount()})
	err := s.loop(ctx)
	if err != nil && parent.Err() != nil {
		err = parent.Err()
	}
	cancel()
	for _, p := range s.peers {
		p.c.close()
	}
	close(s.diskJobs)
	<-diskDone
	<-trackerDone
	<-dhtDone
	<-lsdDone
	if s.cfg.Checkpoint != nil {
		s.cfg.Checkpoint(s.pick.Have())
	}
	s.publish()
	if err == nil && s.pick.Complete() {
		s.emit(Event{Type: "done", Have: s.pick.HaveCount(), Pieces: s.numPieces, Downloaded: s.down.total, Uploaded: s.up.total})
	}
	return err
}

func (s *Session) loop(ctx context.Context) error {
	tick := time.NewTicker(rateTick)
	defer tick.Stop()
	rechoke := time.NewTicker(choker.RechokeInterval)
	defer rechoke.Stop()
	checkpoint := time.NewTicker(30 * time.Second)
	defer checkpoint.Stop()
	last := time.Now()
	s.updateLeft()
	if s.pick.Complete() {
		s.onComplete()
		if !s.cfg.Seed {
			return nil
		}
	}
	s.connectMore()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case ev := <-s.connEvents:
			s.handleConnEvent(ev)
		case nc := <-s.newConns:
			s.handleNewConn(nc)
		case f := <-s.dialFailed:
			a := f.addr
			s.dials--
			s.emit(Event{Type: "dial_failed", Peer: a.String(), Error: f.err.Error()})
			if k := s.known[a]; k != nil {
				k.dialing = false
				k.failures++
				k.nextTry = time.Now().Add(redialDelay(k.failures))
			}
		case ev := <-s.diskEvents:
			s.handleDisk(ev)
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
			if s.cfg.Checkpoint != nil {
				s.cfg.Checkpoint(s.pick.Have())
			}
		}
		if s.fatal != nil {
			return s.fatal
		}
		if s.done && !s.cfg.Seed {
			return nil
		}
		if err := s.checkStall(); err != nil {
			return err
		}
	}
}

// redialDelay is how long to wait before dialling a peer again after its
// n-th failure in a row: 1 s, 2 s, 4 s, … up to 2 minutes. A peer that has
// just started often refuses the first try (its listener is up before
// the torrent is), so the first retries come quickly.
func redialDelay(n int) time.Duration {
	if n > 8 {
		return 2 * time.Minute
	}
	return min(time.Second<<max(n-1, 0), 2*time.Minute)
}

func (s *Session) checkStall() error {
	if s.cfg.StallAfter <= 0 || s.done || s.paused || time.Since(s.lastData) < s.cfg.StallAfter {
		return nil
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

// addPeers records addresses to connect to.
func (s *Session) addPeers(addrs []netip.AddrPort, source string) {
	for _, a := range addrs {
		if !a.IsValid() || a.Port() == 0 {
			continue
		}
		if _, ok := s.known[a]; !ok && len(s.known) < 4000 {
			s.known[a] = &knownPeer{source: source}
		}
	}
	s.connectMore()
}

// connectMore dials known peers while there is room.
func (s *Session) connectMore() {
	if (s.done && !s.cfg.Seed) || s.paused {
		return
	}
	now := time.Now()
	for a, k := range s.known {
		if len(s.peers)+s.dials >= s.cfg.MaxPeers || s.dials >= 8 {
			return
		}
		if k.connected || k.dialing || k.banned || now.Before(k.nextTry) || s.isSelf(a) {
			continue
		}
		k.dialing = true
		s.dials++
		go func(a netip.AddrPort, source string, plainOnly, noUTP bool) {
			var tr string
			var raw net.Conn
			d := dialer{utp: s.cfg.UTP, mode: s.cfg.Transport}
			nc, hs, enc, fellBack, err := s.dialPeer(s.ctx, d.sticky(a, noUTP, &tr, &raw), plainOnly)
			if err != nil {
				select {
				case s.dialFailed <- dialFailure{a, err}:
				case <-s.ctx.Done():
				}
				return
			}
			select {
			case s.newConns <- pendingConn{nc: nc, hs: hs, source: source, addr: a, enc: enc, fellBack: fellBack, transport: tr, raw: raw}:
			case <-s.ctx.Done():
				nc.Close()
			}
		}(a, k.source, k.noMSE, k.noUTP)
	}
}

func (s *Session) isSelf(a netip.AddrPort) bool {
	return s.cfg.Port != 0 && a.Port() == s.cfg.Port && a.Addr().IsLoopback()
}

func (s *Session) handleNewConn(n pendingConn) {
	if n.addr.IsValid() {
		s.dials--
		if k := s.known[n.addr]; k != nil {
			k.dialing = false
			k.noMSE = k.noMSE || n.fellBack
			k.noUTP = k.noUTP || n.transport == "tcp"
		}
	}
	reject := func(why string) {
		n.nc.Close()
		if k := s.known[n.addr]; k != nil {
			k.nextTry = time.Now().Add(5 * time.Minute)
		}
		_ = why
	}
	if n.hs.PeerID == s.peerID {
		reject("self")
		if k := s.known[n.addr]; k != nil {
			k.banned = true
		}
		return
	}
	if n.hs.InfoHash != s.t.InfoHash || len(s.peers) >= s.cfg.MaxPeers+10 || (s.done && !s.cfg.Seed) || s.paused {
		reject("unwanted")
		return
	}
	for _, p := range s.peers {
		if p.c.hs.PeerID == n.hs.PeerID {
			reject("duplicate")
			return
		}
	}
	ap, _ := netip.ParseAddrPort(n.nc.RemoteAddr().String())
	if k := s.known[ap]; k != nil && k.banned {
		reject("banned")
		return
	}
	s.nextID++
	c := newConn(s.nextID, n.nc, n.hs)
	if n.addr.IsValid() {
		c.addr = n.addr
		if k := s.known[n.addr]; k != nil {
			k.connected, k.failures = true, 0
		}
	}
	now := time.Now()
	p := &peerState{
		c: c, source: n.source, client: clientFromPeerID(n.hs.PeerID), enc: n.enc, transport: n.transport, raw: n.raw,
		amChoking: true, peerChoking: true,
		fast: n.hs.Supports(peerwire.BitFast), extended: n.hs.Supports(peerwire.BitExtended),
		reqq: 250, depth: initialDepth, requests: map[picker.Block]time.Time{}, connectedAt: now, chokeChanged: now, lastPiece: now,
	}
	s.peers[c.id] = p
	s.everConnected = true
	go s.readLoop(c)
	go s.writeLoop(c)

	var first []outItem
	have := s.pick.Have()
	switch {
	case p.fast && have.Count() == s.numPieces:
		first = append(first, outItem{msg: peerwire.Message{Kind: peerwire.HaveAll}})
	case p.fast && have.Count() == 0:
		first = append(first, outItem{msg: peerwire.Message{Kind: peerwire.HaveNone}})
	case have.Count() > 0:
		first = append(first, outItem{msg: peerwire.Message{Kind: peerwire.Bitfield, Payload: have.Bytes()}})
	}
	if p.extended {
		eh := peerwire.ExtendedHandshake{M: map[string]int64{peerwire.MetadataExt: ourMetadataID}, V: s.cfg.ClientName,
			P: int64(s.cfg.Port), Reqq: maxQueuedUploads, MetadataSize: int64(len(s.t.InfoRaw))}
		if s.pexAllowed() {
			eh.M[pexExt] = ourPEXID
		}
		if ip := c.addr.Addr().Unmap(); ip.IsValid() {
			eh.YourIP = ip.AsSlice() // how we see them (BEP 10 yourip)
		}
		if p.transport == "utp" {
			eh.UTPPacket = utp.MaxPacketSize
		}
		if b, err := eh.Marshal(); err == nil {
			first = append(first, outItem{msg: peerwire.Message{Kind: peerwire.Extended, ExtID: 0, Payload: b}})
		}
	}
	c.send(first...)
	s.emit(Event{Type: "peer_connected", Peer: c.addr.String(), Source: n.source, Transport: n.transport})
	// A free upload slot goes to the newcomer once it says it is interested.
}

func (s *Session) dropPeer(p *peerState, why string) {
	c := p.c
	if _, ok := s.peers[c.id]; !ok {
		return
	}
	delete(s.peers, c.id)
	s.gone[c.id] = c.addr
	c.close()
	s.pick.PeerGone(c.id)
	if k := s.known[c.addr]; k != nil {
		k.connected = false
		k.nextTry = time.Now().Add(30 * time.Second)
	}
	s.emit(Event{Type: "peer_disconnected", Peer: c.addr.String(), Reason: why})
	if !p.amChoking {
		s.rechoke(true)
	}
	s.requestAll()
	s.connectMore()
}

func (s *Session) handleConnEvent(ev connEvent) {
	p := s.peers[ev.c.id]
	if p == nil {
		if ev.msg.Kind == peerwire.Piece {
			putBlock(ev.msg.Payload)
		}
		return
	}
	switch {
	case ev.err != nil:
		s.dropPeer(p, ev.err.Error())
	case ev.sent > 0:
		p.up.add(ev.sent)
		s.up.add(ev.sent)
		p.uploads = max(p.uploads-ev.blocks, 0)
	default:
		if err := s.handleMessage(p, ev.msg); err != nil {
			s.dropPeer(p, err.Error())
		}
	}
}

func (s *Session) pieceLen(i int) int64 { return s.t.PieceLen(i) }

func (s *Session) handleMessage(p *peerState, m peerwire.Message) error {
	id := p.c.id
	switch m.Kind {
	case peerwire.KeepAlive:
	case peerwire.Choke:
		p.peerChoking = true
		if !p.fast {
			for blk := range p.requests {
				s.pick.Cancelled(id, blk)
			}
			clear(p.requests)
		}
	case peerwire.Unchoke:
		p.peerChoking = false
		s.requestMore(p)
	case peerwire.Interested:
		p.peerInterested = true
		if p.amChoking {
			s.rechoke(true)
		}
	case peerwire.NotInterested:
		p.peerInterested = false
		if !p.amChoking {
			s.rechoke(true)
		}
	case peerwire.Have:
		if err := s.pick.PeerHas(id, int(m.Index)); err != nil {
			return err
		}
		p.haveCount++
		s.updateInterest(p)
	case peerwire.Bitfield:
		if p.sawHaves || p.haveCount > 0 {
			return errors.New("bitfield after other have messages")
		}
		p.sawHaves = true
		if err := peerwire.CheckBitfield(m.Payload, s.numPieces); err != nil {
			return err
		}
		bf, err := picker.BitfieldFromBytes(m.Payload, s.numPieces)
		if err != nil {
			return err
		}
		if err := s.pick.PeerBitfield(id, bf); err != nil {
			return err
		}
		p.haveCount = bf.Count()
		s.updateInterest(p)
	case peerwire.HaveAll, peerwire.HaveNone:
		if !p.fast || p.sawHaves || p.haveCount > 0 {
			return errors.New("have-all/have-none without the fast extension or after other have messages")
		}
		p.sawHaves = true
		if m.Kind == peerwire.HaveAll {
			s.pick.PeerHasAll(id)
			p.haveCount = s.numPieces
		} else {
			s.pick.PeerHasNone(id)
		}
		s.updateInterest(p)
	case peerwire.Request:
		return s.handleRequest(p, m)
	case peerwire.Cancel:
		p.uploads -= len(p.c.dropUploads(&m))
	case peerwire.Piece:
		return s.handlePiece(p, m)
	case peerwire.Reject:
		if !p.fast {
			return errors.New("reject without the fast extension")
		}
		blk := picker.Block{Piece: int(m.Index), Begin: int(m.Begin), Length: int(m.Length)}
		if _, ok := p.requests[blk]; ok {
			delete(p.requests, blk)
			s.pick.Rejected(id, blk)
		}
	case peerwire.Extended:
		if m.ExtID == peerwire.ExtendedHandshakeID {
			eh, err := peerwire.ParseExtendedHandshake(m.Payload)
			if err != nil {
				return err
			}
			if eh.Reqq > 0 {
				p.reqq = int(eh.Reqq)
			}
			if uc, ok := p.raw.(*utp.Conn); ok && eh.UTPPacket > 0 {
				uc.RaisePacketSize(int(min(eh.UTPPacket, utp.MaxPacketSize)))
			}
			if eh.V != "" {
				p.client = eh.V
			}
			p.utMetadata = eh.M[peerwire.MetadataExt]
			if eh.P > 0 && eh.P < 65536 {
				p.listenPort = uint16(eh.P)
			}
			if s.pexAllowed() {
				p.utPEX = eh.M[pexExt]
				p.pexNext = time.Now().Add(pexFirst)
			}
		} else if m.ExtID == ourMetadataID {
			s.serveMetadata(p, m.Payload)
		} else if m.ExtID == ourPEXID && s.pexAllowed() {
			addrs, err := parsePEX(m.Payload)
			if err != nil {
				return err
			}
			s.addPeers(addrs, "pex")
		}
	default:
		// suggest, allowed-fast, port and unknown messages are not used yet
	}
	p.seed = p.haveCount == s.numPieces
	return nil
}

// ourMetadataID is the extended message id we receive ut_metadata under.
const ourMetadataID = 1

// serveMetadata answers a BEP 9 request with a piece of the info
// dictionary (or a reject when we cannot).
func (s *Session) serveMetadata(p *peerState, payload []byte) {
	m, err := peerwire.ParseMetadataMsg(payload)
	if err != nil || m.Type != peerwire.MetadataRequest || p.utMetadata == 0 {
		return
	}
	info := s.t.InfoRaw
	off := m.Piece * peerwire.MetadataPieceSize
	reply := peerwire.MetadataMsg{Type: peerwire.MetadataReject, Piece: m.Piece}
	if len(info) > 0 && off < len(info) {
		reply = peerwire.MetadataMsg{Type: peerwire.MetadataData, Piece: m.Piece, TotalSize: len(info),
			Data: info[off:min(off+peerwire.MetadataPieceSize, len(info))]}
	}
	p.c.send(outItem{msg: peerwire.Message{Kind: peerwire.Extended, ExtID: uint8(p.utMetadata), Payload: peerwire.AppendMetadataMsg(nil, reply)}})
}

// maxQueuedUploads bounds the blocks one peer may have us queue; it is
// the reqq we advertise (BEP 10), so a well-behaved peer never exceeds it.
// Queued requests are small descriptors: blocks are read as they are sent.
const maxQueuedUploads = 2000

func (s *Session) handleRequest(p *peerState, m peerwire.Message) error {
	if err := peerwire.CheckRequest(m.Index, m.Begin, m.Length, s.numPieces, s.pieceLen, 0); err != nil {
		return err
	}
	reject := func() {
		if p.fast {
			p.c.send(outItem{msg: peerwire.Message{Kind: peerwire.Reject, Index: m.Index, Begin: m.Begin, Length: m.Length}})
		}
	}
	if p.amChoking || !s.pick.Has(int(m.Index)) || p.uploads >= maxQueuedUploads {
		reject()
		return nil
	}
	p.uploads++
	p.c.send(outItem{piece: true, msg: peerwire.Message{Kind: peerwire.Piece, Index: m.Index, Begin: m.Begin, Length: m.Length}})
	return nil
}

func (s *Session) handlePiece(p *peerState, m peerwire.Message) error {
	if err := peerwire.CheckBlock(m.Index, m.Begin, len(m.Payload), s.numPieces, s.pieceLen); err != nil {
		putBlock(m.Payload)
		return err
	}
	blk := picker.Block{Piece: int(m.Index), Begin: int(m.Begin), Length: len(m.Payload)}
	_, asked := p.requests[blk]
	delete(p.requests, blk)
	n := len(m.Payload)
	p.down.add(n)
	s.down.add(n)
	s.downloaded.Add(int64(n))
	p.lastPiece = time.Now()
	s.lastData = p.lastPiece
	p.snubbed = false
	// Slow start: every answered request allows one more outstanding, so
	// the queue doubles each round trip until the measured rate takes over.
	if p.depth < maxDepth && int(p.down.rate*queueTime/picker.BlockSize) < p.depth {
		p.depth++
	}
	if !asked {
		s.wasted += int64(n)
		putBlock(m.Payload)
		return nil
	}
	cancels, arrival := s.pick.Received(p.c.id, blk)
	for _, r := range cancels {
		if q := s.peers[r.Peer]; q != nil {
			delete(q.requests, r.Block)
			q.c.send(outItem{msg: peerwire.Message{Kind: peerwire.Cancel, Index: uint32(r.Block.Piece), Begin: uint32(r.Block.Begin), Length: uint32(r.Block.Length)}})
		}
	}
	switch arrival {
	case picker.Stored, picker.PieceReady:
		s.blockFrom[blk] = p.c.id
		s.diskJobs <- diskJob{piece: blk.Piece, begin: int64(blk.Begin), data: m.Payload, from: p.c.id, ready: arrival == picker.PieceReady}
	default:
		s.wasted += int64(n)
		putBlock(m.Payload)
	}
	s.requestMore(p)
	return nil
}

// updateInterest tells the peer whether we want something it has.
func (s *Session) updateInterest(p *peerState) {
	want := !s.pick.Complete() && s.pick.Interesting(p.c.id)
	if want == p.amInterested {
		if want {
			s.requestMore(p)
		}
		return
	}
	p.amInterested = want
	kind := peerwire.NotInterested
	if want {
		kind = peerwire.Interested
	}
	p.c.send(outItem{msg: peerwire.Message{Kind: kind}})
	if want {
		s.requestMore(p)
	}
}

// queueTime is how much data, in seconds at its measured rate, each peer
// should have requested and not yet received.
const queueTime = 2.0

// Request queue bounds per peer (also capped by the peer's reqq).
const (
	initialDepth = 16
	maxDepth     = 1000
)

func (s *Session) requestMore(p *peerState) {
	if p.peerChoking || !p.amInterested || s.done {
		return
	}
	depth := int(p.down.rate * queueTime / picker.BlockSize)
	depth = max(depth, p.depth)
	depth = min(depth, p.reqq, maxDepth)
	n := depth - len(p.requests)
	if n <= 0 {
		return
	}
	blocks := s.pick.Next(p.c.id, n)
	if len(blocks) == 0 {
		return
	}
	now := time.Now()
	items := make([]outItem, 0, len(blocks))
	for _, b := range blocks { // Next has recorded them as requested
		p.requests[b] = now
		items = append(items, outItem{msg: peerwire.Message{Kind: peerwire.Request, Index: uint32(b.Piece), Begin: uint32(b.Begin), Length: uint32(b.Length)}})
	}
	p.c.send(items...)
}

func (s *Session) requestAll() {
	for _, p := range s.peers {
		s.requestMore(p)
	}
}

// Request timeouts and snubbing.
const (
	requestTimeout = 30 * time.Second
	snubTimeout    = choker.SnubTimeout
)

func (s *Session) handleTick(elapsed time.Duration) {
	now := time.Now()
	s.down.tick(elapsed)
	s.up.tick(elapsed)
	s.uploaded.Store(s.up.total)
	for _, p := range s.peers {
		p.down.tick(elapsed)
		p.up.tick(elapsed)
		timedOut := false
		for blk, at := range p.requests {
			if now.Sub(at) > requestTimeout {
				delete(p.requests, blk)
				s.pick.Timeout(p.c.id, blk)
				timedOut = true
			}
		}
		if p.amInterested && !p.peerChoking && now.Sub(p.lastPiece) > snubTimeout {
			p.snubbed, p.depth = true, initialDepth
		}
		if timedOut {
			s.requestAll()
		}
	}
	s.sendPEX(now)
	s.connectMore()
	if !s.done && len(s.peers) == 0 && s.dials == 0 {
		select {
		case s.wantPeers <- struct{}{}:
		default:
		}
	}
	s.publish()
}

func (s *Session) rechoke(slotOnly bool) {
	cfg := choker.DefaultConfig()
	in := choker.Input{Seeding: s.pick.Complete(), Round: s.round, Optimistic: s.optimistic}
	now := time.Now()
	for _, p := range s.peers {
		in.Peers = append(in.Peers, choker.Peer{
			ID: choker.PeerID(p.c.id), Interested: p.peerInterested, Choked: p.amChoking,
			DownloadRate: p.down.rate, UploadRate: p.up.rate, Snubbed: p.snubbed,
			Age: now.Sub(p.connectedAt), Since: now.Sub(p.chokeChanged), Seed: p.seed,
		})
	}
	var res choker.Result
	if slotOnly {
		res = choker.OnSlotFree(cfg, in, s.rng)
	} else {
		s.round++
		res = choker.Rechoke(cfg, in, s.rng)
	}
	s.optimistic = res.Optimistic
	for _, d := range res.Decisions {
		p := s.peers[picker.PeerID(d.ID)]
		if p == nil {
			continue
		}
		p.reason = d.Reason
		if d.Unchoke == !p.amChoking {
			continue
		}
		p.amChoking = !d.Unchoke
		p.chokeChanged = now
		if p.amChoking {
			p.c.send(outItem{msg: peerwire.Message{Kind: peerwire.Choke}})
			dropped := p.c.dropUploads(nil)
			p.uploads -= len(dropped)
			if p.fast {
				for _, it := range dropped {
					p.c.send(outItem{msg: peerwire.Message{Kind: peerwire.Reject, Index: it.msg.Index, Begin: it.msg.Begin, Length: it.msg.Length}})
				}
			}
		} else {
			p.c.send(outItem{msg: peerwire.Message{Kind: peerwire.Unchoke}})
		}
	}
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
		if p.seed && !s.cfg.Seed {
			continue
		}
	}
	s.emit(Event{Type: "complete", Have: s.pick.HaveCount(), Pieces: s.numPieces, Downloaded: s.down.total})
}
