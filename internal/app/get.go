package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"tt/internal/session"
	"tt/internal/storage"
	"tt/internal/tracker"
	"tt/metainfo"
	"tt/picker"
)

// Exit codes of get and seed (see README.md).
const (
	ExitStalled  = 10 // --stall-timeout or --timeout passed without completing
	ExitNoPeers  = 11 // no peer could be reached
	ExitDiskFull = 12 // no space left on the device
)

// SwarmOptions are the inputs of `tt get` and `tt seed`.
type SwarmOptions struct {
	Torrent        string
	Dir            string // get: where NAME goes (default: working directory)
	Content        string // seed: the content itself (file or top directory)
	Files          string // get: comma-separated file indices and ranges to download ("0,2-4"); empty: all
	Sequential     bool
	Port           int
	Bind           string // listen address (default all interfaces)
	Peers          []string
	MaxPeers       int
	UploadLimit    int64
	DownloadLimit  int64
	StallTimeout   time.Duration
	Timeout        time.Duration
	Seed           bool
	SeedRatio      float64
	SeedTime       time.Duration
	NoTrackers     bool
	NoDHT          bool
	NoLSD          bool
	NoPEX          bool
	DHTBootstrap   []string // host:port of nodes to join through (nil: the public routers)
	DHTState       string   // routing table file (empty: in the user cache directory)
	JSON           bool
	Quiet          bool
	StatusInterval time.Duration
	Encryption     string        // prefer, require, disable
	Transport      string        // outgoing connections: both (default), tcp, utp
	TUI            string        // TUIAuto, TUIOn, TUIOff
	Refresh        time.Duration // least time between TUI redraws
}

// Get downloads a torrent.
func Get(ctx context.Context, env *Env, o SwarmOptions) error {
	return runSwarm(ctx, env, o, false)
}

// Seed serves a torrent's verified content until stopped.
func Seed(ctx context.Context, env *Env, o SwarmOptions) error {
	o.Seed = true
	return runSwarm(ctx, env, o, true)
}

// swarmInput is a swarm command's input, resolved: a torrent, or a
// magnet link whose metadata the session fetches.
type swarmInput struct {
	t         *metainfo.Torrent // nil for a magnet link
	mag       *metainfo.Magnet
	peers     []netip.AddrPort
	enc       session.Encryption
	transport session.Transport
}

func (in *swarmInput) name() (string, [20]byte) {
	if in.t != nil {
		return in.t.Info.Name, in.t.InfoHash
	}
	return in.mag.Name, in.mag.InfoHash
}

// tiers are a magnet link's trackers, one tier each.
func (in *swarmInput) tiers() [][]string {
	var tiers [][]string
	for _, tr := range in.mag.Trackers {
		tiers = append(tiers, []string{tr})
	}
	return tiers
}

// resolveSwarm checks a swarm command's flags and reads its torrent or
// magnet link.
func resolveSwarm(env *Env, o SwarmOptions, link string, seeding bool) (*swarmInput, error) {
	if link == "" {
		return nil, Usagef("missing TORRENT")
	}
	in := &swarmInput{}
	var err error
	if in.peers, err = parsePeers(o.Peers); err != nil {
		return nil, Exit(ExitUsage, err)
	}
	if in.enc, err = session.ParseEncryption(o.Encryption); err != nil {
		return nil, Usagef("--encryption %q: want prefer, require or disable", o.Encryption)
	}
	if in.transport, err = session.ParseTransport(o.Transport); err != nil {
		return nil, Usagef("--transport %q: want both, tcp or utp", o.Transport)
	}
	if !metainfo.IsMagnet(link) {
		if in.t, err = loadTorrent(env, link); err != nil {
			return nil, err
		}
		if in.t.V2Only() {
			return nil, Exit(ExitBadTorrent, fmt.Errorf("%s: %w", link, metainfo.ErrV2Only))
		}
		return in, nil
	}
	if seeding {
		return nil, Usagef("seed: a .torrent file is needed, not a magnet link (tt get can fetch its metadata)")
	}
	if in.mag, err = metainfo.ParseMagnet(link); err != nil {
		return nil, Exit(ExitBadTorrent, err)
	}
	if !in.mag.HasV1 {
		return nil, Exit(ExitBadTorrent, errors.New("magnet link: no v1 info-hash (urn:btih); v2-only swarms are not supported"))
	}
	for _, p := range in.mag.Peers {
		if ap, err := netip.ParseAddrPort(p); err == nil {
			in.peers = append(in.peers, ap)
		}
	}
	return in, nil
}

// swarmNet is a swarm command's sockets: the TCP listener and the shared
// UDP socket (uTP, UDP trackers, the DHT) with local discovery.
type swarmNet struct {
	ln   net.Listener
	port uint16
	udp  *udpStack
}

func openSwarmNet(env *Env, o SwarmOptions, in *swarmInput) (*swarmNet, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(o.Bind, strconv.Itoa(o.Port)))
	if err != nil {
		return nil, Exit(ExitUsage, fmt.Errorf("listen on port %d: %w", o.Port, err))
	}
	port := uint16(ln.Addr().(*net.TCPAddr).Port)
	// A private torrent (BEP 27) never uses the DHT or local discovery. A
	// magnet link cannot say; its session turns both off if the metadata
	// is private.
	udp, err := openUDP(env, o, port, in.t == nil || !in.t.Info.Private)
	if err != nil {
		ln.Close()
		return nil, err
	}
	return &swarmNet{ln: ln, port: port, udp: udp}, nil
}

func (n *swarmNet) Close() {
	n.ln.Close()
	n.udp.Close()
}

// serve accepts peers on both transports until ctx ends. A listener that
// fails is reported, once, and the session carries on with what it has;
// one that pauses (out of descriptors) is reported as each run of pauses
// begins.
func (n *swarmNet) serve(ctx context.Context, env *Env, s *session.Session, ew *eventWriter, quiet bool) {
	report := func(what session.Carrier, typ session.EventType, err error) {
		if ew != nil {
			ew.Emit(session.Event{Time: time.Now(), Type: typ, Transport: what, Error: err.Error()})
		} else if !quiet && typ == session.EvListenError {
			fmt.Fprintf(env.Stderr, "tt: %s listener stopped: %v\n", what, err)
		} else if !quiet {
			fmt.Fprintf(env.Stderr, "tt: %s listener paused: %v\n", what, err)
		}
	}
	run := func(what session.Carrier, ln net.Listener) {
		o := session.ServeOptions{Paused: func(err error, wait time.Duration) {
			if wait <= session.FirstAcceptPause {
				report(what, session.EvListenPaused, err)
			}
		}}
		if err := session.ServeWith(ctx, ln, session.One{S: s}, o); err != nil && ctx.Err() == nil {
			report(what, session.EvListenError, err)
		}
	}
	go run(session.OverTCP, n.ln)
	go run(session.OverUTP, n.udp.utp)
}

// sessionConfig is the session's configuration for a swarm command.
func sessionConfig(o SwarmOptions, in *swarmInput, sn *swarmNet, ew *eventWriter) session.Config {
	cfg := session.Config{
		Torrent: in.t, Port: sn.port, Peers: in.peers,
		NoTrackers: o.NoTrackers, Tracker: &tracker.Client{UDP: sn.udp.tracker}, DHT: sn.udp.sessionDHT(), LSD: sn.udp.sessionLSD(), NoPEX: o.NoPEX,
		UTP: sn.udp.utp, Transport: in.transport,
		Seed: o.Seed || o.SeedRatio > 0 || o.SeedTime > 0, MaxPeers: o.MaxPeers,
		UploadRate: o.UploadLimit, DownRate: o.DownloadLimit, Sequential: o.Sequential,
		StallAfter: o.StallTimeout, ClientName: "tt " + Version, Encryption: in.enc,
	}
	if in.t == nil {
		cfg.InfoHash, cfg.Name, cfg.Trackers = in.mag.InfoHash, in.mag.Name, in.tiers()
	}
	if ew != nil {
		cfg.Events = ew.Emit
	}
	return cfg
}

// swarmStore opens a torrent's storage and finds what is already there:
// before the session for a .torrent file, from the session once a magnet
// link's metadata is known. The store it opened is kept for the summary.
type swarmStore struct {
	env     *Env
	o       SwarmOptions
	seeding bool
	view    *live
	mu      sync.Mutex
	store   *storage.Storage
}

func (ss *swarmStore) opened() *storage.Storage {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.store
}

// open is session.Config.Open.
func (ss *swarmStore) open(ctx context.Context, t *metainfo.Torrent) (session.Opened, error) {
	o, env := ss.o, ss.env
	dir := env.Path(o.Dir)
	if o.Dir == "" {
		dir = env.Dir
	}
	sopt := storage.Options{}
	if ss.seeding {
		if o.Content == "" {
			return session.Opened{}, Usagef("seed: missing CONTENT (the file or top directory of the torrent's data)")
		}
		sopt.ContentPath, sopt.ReadOnly = env.Path(o.Content), true
	}
	prios, err := filePriorities(t, o.Files)
	if err != nil {
		return session.Opened{}, Exit(ExitUsage, err)
	}
	if prios != nil {
		sopt.Skip = make([]bool, len(prios))
		for i, p := range prios {
			sopt.Skip[i] = p == picker.Skip
		}
	}
	if !ss.seeding {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return session.Opened{}, Exit(ExitIO, err)
		}
	}
	store, err := storage.Open(t, dir, sopt)
	if err != nil {
		return session.Opened{}, Exit(storageCode(err), err)
	}
	ss.mu.Lock()
	ss.store = store
	ss.mu.Unlock()
	have, err := ss.prepare(ctx, store, t)
	if err != nil {
		return session.Opened{}, err
	}
	op := session.Opened{Store: store, Have: have, Priorities: prios}
	if !ss.seeding {
		op.Checkpoint = func(h picker.Bitfield) { store.SaveResume(bitsOf(h)) }
	}
	return op, nil
}

// prepare finds the verified pieces and readies the files.
func (ss *swarmStore) prepare(ctx context.Context, store *storage.Storage, t *metainfo.Torrent) ([]bool, error) {
	have, err := startingPieces(ctx, ss.env, store, t, ss.o, ss.view)
	if err != nil {
		if ss.view != nil && ss.view.ctl.stopped.Load() {
			return nil, Exit(ExitInterrupted, errors.New("stopped while checking; nothing was downloaded yet"))
		}
		return nil, err
	}
	if ss.seeding {
		n := 0
		for _, h := range have {
			if h {
				n++
			}
		}
		if n != t.NumPieces() {
			return nil, Exit(ExitMissing, fmt.Errorf("seed: %d of %d pieces of %s are missing or corrupt (tt verify shows which)", t.NumPieces()-n, t.NumPieces(), ss.o.Content))
		}
		return have, nil
	}
	if err := store.Prepare(ctx, 8); err != nil {
		if ctx.Err() != nil {
			return nil, Exit(ExitInterrupted, errors.New("interrupted while creating the files"))
		}
		return nil, Exit(storageCode(err), err)
	}
	return have, nil
}

func (ss *swarmStore) Close() {
	if st := ss.opened(); st != nil {
		st.Close()
	}
}

func runSwarm(ctx context.Context, env *Env, o SwarmOptions, seeding bool) error {
	in, err := resolveSwarm(env, o, o.Torrent, seeding)
	if err != nil {
		return err
	}
	sn, err := openSwarmNet(env, o, in)
	if err != nil {
		return err
	}
	defer sn.Close()
	var ew *eventWriter
	if o.JSON {
		ew = newEventWriter(env.Stdout)
		defer ew.Close()
		ew.Emit(session.Event{Time: time.Now(), Type: session.EvListening, Port: int(sn.port)})
	}
	runCtx, stop := runContext(ctx, o)
	defer stop()
	var view *live
	if useTUI(env, o) {
		name, ih := in.name()
		view = startLive(env, o, name, ih, stop)
		defer view.finish()
	}
	ss := &swarmStore{env: env, o: o, seeding: seeding, view: view}
	defer ss.Close()
	cfg := sessionConfig(o, in, sn, ew)
	cfg.Detail = view != nil
	if in.t != nil {
		op, err := ss.open(runCtx, in.t)
		if err != nil {
			return err
		}
		cfg.Store, cfg.Have, cfg.Priorities, cfg.Checkpoint = op.Store, op.Have, op.Priorities, op.Checkpoint
	} else {
		cfg.Open = ss.open
		announceMagnet(env, o, in, view)
	}
	s, err := session.New(cfg)
	if err != nil {
		return Exit(ExitBadTorrent, err)
	}
	sn.serve(runCtx, env, s, ew, o.Quiet || o.JSON)
	if view != nil {
		view.attach(s)
	} else if in.t != nil && !o.Quiet && !o.JSON {
		fmt.Fprintf(env.Stderr, "tt: %s %s (%s, %d pieces) on port %d\n", map[bool]string{true: "seeding", false: "getting"}[seeding],
			printable(in.t.Info.Name), FormatSize(in.t.Info.TotalLength), in.t.NumPieces(), sn.port)
	}
	return runAndSummarize(ctx, runCtx, stop, env, o, s, ss, ew, view)
}

// announceMagnet says, in plain mode, that a magnet link's metadata is
// being fetched.
func announceMagnet(env *Env, o SwarmOptions, in *swarmInput, view *live) {
	if view != nil || o.Quiet || o.JSON {
		return
	}
	name := in.mag.Name
	if name == "" {
		name = in.mag.InfoHashHex()
	}
	fmt.Fprintf(env.Stderr, "tt: fetching the metadata of %s from peers\n", printable(name))
}

// runAndSummarize runs the session to its end, finishes the files, prints
// the summary and maps the outcome to an exit code.
func runAndSummarize(ctx, runCtx context.Context, stop func(), env *Env, o SwarmOptions, s *session.Session,
	ss *swarmStore, ew *eventWriter, view *live) error {
	var seedDone bool
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		seedDone = watchStats(runCtx, env, s, o, stop, ew, view)
	}()
	runDone := make(chan error, 1)
	go func() { runDone <- s.Run(runCtx) }()
	var forced <-chan struct{}
	if view != nil {
		forced = view.forced
	}
	var err error
	select {
	case err = <-runDone:
	case <-forced:
		return Exit(ExitInterrupted, errors.New("stopped at once; run the same command to resume"))
	}
	stop()
	<-watchDone
	view.finish()
	if store := ss.opened(); store != nil && !ss.seeding && s.Complete() {
		if ferr := store.Finish(); ferr != nil {
			return Exit(storageCode(ferr), ferr)
		}
		store.RemoveResume()
	}
	if !o.Quiet && !o.JSON && s.Torrent() != nil {
		fmt.Fprintf(env.Stderr, "tt: %s\n", summaryLine(s.Final()))
	}
	if view != nil && view.ctl.stopped.Load() && err != nil {
		if s.Torrent() == nil {
			return Exit(ExitInterrupted, errors.New("stopped while fetching the metadata"))
		}
		return Exit(ExitInterrupted, errors.New("stopped; progress saved, run the same command to resume"))
	}
	if err == nil || seedDone {
		return nil
	}
	return swarmError(ctx, runCtx, o, s, err)
}

// swarmError maps how a session ended to an exit code.
func swarmError(ctx, runCtx context.Context, o SwarmOptions, s *session.Session, err error) error {
	var ee *ExitError
	metadata := s.Torrent() == nil
	switch {
	case errors.As(err, &ee):
		return err
	case errors.Is(context.Cause(runCtx), errTimeout) && metadata:
		return Exit(ExitStalled, fmt.Errorf("timed out after %s fetching the metadata", o.Timeout))
	case errors.Is(context.Cause(runCtx), errTimeout):
		return Exit(ExitStalled, fmt.Errorf("timed out after %s", o.Timeout))
	case ctx.Err() != nil && metadata:
		return Exit(ExitInterrupted, errors.New("interrupted while fetching the metadata"))
	case ctx.Err() != nil:
		return Exit(ExitInterrupted, errors.New("interrupted; progress saved, run the same command to resume"))
	case errors.Is(err, session.ErrNoMetadata), errors.Is(err, session.ErrNoPeers):
		return Exit(ExitNoPeers, err)
	case errors.Is(err, session.ErrBadMetadata):
		return Exit(ExitBadTorrent, err)
	case errors.Is(err, session.ErrStalled):
		return Exit(ExitStalled, err)
	case errors.Is(err, session.ErrDisk):
		return Exit(storageCode(err), err)
	}
	return err
}

var errTimeout = errors.New("timeout")

// runContext is a swarm command's context: it ends with ctx, with stop,
// or at --timeout (its cause then errTimeout).
func runContext(ctx context.Context, o SwarmOptions) (context.Context, context.CancelFunc) {
	runCtx, cancel := context.WithCancel(ctx)
	if o.Timeout <= 0 {
		return runCtx, cancel
	}
	tctx, tcancel := context.WithTimeoutCause(runCtx, o.Timeout, errTimeout)
	return tctx, func() { tcancel(); cancel() }
}

// watchStats prints status lines and ends seeding once --seed-ratio or
// --seed-time is reached (returning true then).
func watchStats(ctx context.Context, env *Env, s *session.Session, o SwarmOptions, stop func(), ew *eventWriter, view *live) bool {
	interval := o.StatusInterval
	if interval <= 0 {
		interval = 5 * time.Second
	}
	var lastPrint, seedingSince time.Time
	for {
		select {
		case <-ctx.Done():
			return false
		case st := <-s.Stats():
			now := time.Now()
			view.publish(st)
			if st.Pieces == 0 {
				continue // the metadata is not known yet
			}
			if now.Sub(lastPrint) >= interval {
				switch {
				case view != nil:
				case ew != nil:
					ew.Emit(session.Event{Time: now, Type: session.EvProgress, Have: st.Have, Pieces: st.Pieces, Left: st.Left,
						Downloaded: st.Downloaded, Uploaded: st.Uploaded, DownRate: st.DownRate, UpRate: st.UpRate, NumPeers: len(st.Peers)})
				case !o.Quiet:
					fmt.Fprintf(env.Stderr, "tt: %s\n", statusLine(st))
				}
				lastPrint = now
			}
			if st.Complete && (o.SeedRatio > 0 || o.SeedTime > 0) {
				if seedingSince.IsZero() {
					seedingSince = now
				}
				ratioMet := o.SeedRatio > 0 && float64(st.Uploaded) >= o.SeedRatio*float64(st.Total)
				timeMet := o.SeedTime > 0 && now.Sub(seedingSince) >= o.SeedTime
				if ratioMet || timeMet {
					stop()
					return true
				}
			}
		}
	}
}

// startingPieces finds what is already on disk: the resume file when it
// is still valid, otherwise a full check.
func startingPieces(ctx context.Context, env *Env, store *storage.Storage, t *metainfo.Torrent, o SwarmOptions, view *live) ([]bool, error) {
	if have, ok := store.LoadResume(); ok {
		return have, nil
	}
	bar := startProgress(env, "checking", store.TotalLength(), o.Quiet || o.JSON || view != nil)
	progress := bar.Set
	if view != nil {
		start := time.Now()
		progress = func(done int64) {
			total := store.TotalLength()
			view.publish(session.Stats{Name: t.Info.Name, Pieces: t.NumPieces(), PieceLength: t.Info.PieceLength,
				Total: total, Wanted: total, Left: total - done, State: session.StateChecking, Elapsed: time.Since(start)})
		}
	}
	have, err := store.Check(ctx, progress)
	bar.Finish()
	if err != nil {
		if ctx.Err() != nil {
			return nil, Exit(ExitInterrupted, ctx.Err())
		}
		return nil, Exit(storageCode(err), err)
	}
	return have, nil
}

func bitsOf(b picker.Bitfield) []bool {
	out := make([]bool, b.Len())
	for i := range out {
		out[i] = b.Has(i)
	}
	return out
}

func storageCode(err error) int {
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, storage.ErrDiskFull) {
		return ExitDiskFull
	}
	if isIOError(err) {
		return ExitIO
	}
	return ExitFailure
}

// parsePeers reads HOST:PORT peer addresses (IP literals only).
func parsePeers(list []string) ([]netip.AddrPort, error) {
	var out []netip.AddrPort
	for _, s := range list {
		ap, err := netip.ParseAddrPort(s)
		if err != nil {
			host, port, serr := net.SplitHostPort(s)
			if serr != nil {
				return nil, fmt.Errorf("--peer %q: want IP:PORT or [IPv6]:PORT", s)
			}
			addrs, lerr := net.LookupHost(host)
			if lerr != nil || len(addrs) == 0 {
				return nil, fmt.Errorf("--peer %q: cannot resolve %s", s, host)
			}
			ap, err = netip.ParseAddrPort(net.JoinHostPort(addrs[0], port))
			if err != nil {
				return nil, fmt.Errorf("--peer %q: %v", s, err)
			}
		}
		out = append(out, ap)
	}
	return out, nil
}

// filePriorities turns a --files selection ("0,2-4") into per-file
// priorities; empty means every file.
func filePriorities(t *metainfo.Torrent, sel string) ([]picker.Priority, error) {
	if strings.TrimSpace(sel) == "" {
		return nil, nil
	}
	prios := make([]picker.Priority, len(t.Info.Files))
	for _, part := range strings.Split(sel, ",") {
		part = strings.TrimSpace(part)
		lo, hi, isRange := strings.Cut(part, "-")
		a, err1 := strconv.Atoi(lo)
		b := a
		var err2 error
		if isRange {
			b, err2 = strconv.Atoi(hi)
		}
		if err1 != nil || err2 != nil || a < 0 || b < a || b >= len(prios) {
			return nil, fmt.Errorf("--files %q: %q is not an index or range of 0-%d", sel, part, len(prios)-1)
		}
		for i := a; i <= b; i++ {
			prios[i] = picker.Normal
		}
	}
	return prios, nil
}
