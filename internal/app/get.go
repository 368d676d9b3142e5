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

func runSwarm(ctx context.Context, env *Env, o SwarmOptions, seeding bool) error {
	if o.Torrent == "" {
		return Usagef("missing TORRENT")
	}
	peers, err := parsePeers(o.Peers)
	if err != nil {
		return Exit(ExitUsage, err)
	}
	enc, err := session.ParseEncryption(o.Encryption)
	if err != nil {
		return Usagef("--encryption %q: want prefer, require or disable", o.Encryption)
	}
	transport, err := session.ParseTransport(o.Transport)
	if err != nil {
		return Usagef("--transport %q: want both, tcp or utp", o.Transport)
	}
	magnet := metainfo.IsMagnet(o.Torrent)
	if magnet && seeding {
		return Usagef("seed: a .torrent file is needed, not a magnet link (tt get can fetch its metadata)")
	}
	var mag *metainfo.Magnet
	if magnet {
		if mag, err = metainfo.ParseMagnet(o.Torrent); err != nil {
			return Exit(ExitBadTorrent, err)
		}
		if !mag.HasV1 {
			return Exit(ExitBadTorrent, fmt.Errorf("magnet link: no v1 info-hash (urn:btih); v2-only swarms are not supported"))
		}
	}

	ln, err := net.Listen("tcp", net.JoinHostPort(o.Bind, strconv.Itoa(o.Port)))
	if err != nil {
		return Exit(ExitUsage, fmt.Errorf("listen on port %d: %w", o.Port, err))
	}
	defer ln.Close()
	port := uint16(ln.Addr().(*net.TCPAddr).Port)
	var ew *eventWriter
	if o.JSON {
		ew = newEventWriter(env.Stdout)
		defer ew.Close()
		ew.Emit(session.Event{Time: time.Now(), Type: "listening", Port: int(port)})
	}
	var t *metainfo.Torrent
	if !magnet {
		if t, err = loadTorrent(env, o.Torrent); err != nil {
			return err
		}
	}
	// A private torrent (BEP 27) never uses the DHT or local discovery. A
	// magnet link cannot say; its session turns both off if the metadata
	// is private.
	udp, err := openUDP(env, o, port, magnet || !t.Info.Private)
	if err != nil {
		return err
	}
	defer udp.Close()
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	if o.Timeout > 0 {
		var c context.CancelFunc
		runCtx, c = context.WithTimeoutCause(runCtx, o.Timeout, errTimeout)
		defer c()
	}
	tuiOn := useTUI(env, o)
	var view *live
	if tuiOn {
		name, ih := "", [20]byte{}
		if t != nil {
			name, ih = t.Info.Name, t.InfoHash
		} else {
			name, ih = mag.Name, mag.InfoHash
		}
		view = startLive(env, o, name, ih, stop)
		defer view.finish()
	}
	if magnet {
		if t, err = fetchMagnet(runCtx, env, o, mag, peers, port, enc, transport, udp, ew, view); err != nil {
			if view != nil && view.ctl.stopped.Load() {
				return Exit(ExitInterrupted, errors.New("stopped while fetching the metadata"))
			}
			return err
		}
	}
	if t.V2Only() {
		return Exit(ExitBadTorrent, fmt.Errorf("%s: %w", o.Torrent, metainfo.ErrV2Only))
	}
	dir := env.Path(o.Dir)
	if o.Dir == "" {
		dir = env.Dir
	}
	sopt := storage.Options{}
	if seeding {
		if o.Content == "" {
			return Usagef("seed: missing CONTENT (the file or top directory of the torrent's data)")
		}
		sopt.ContentPath, sopt.ReadOnly = env.Path(o.Content), true
	}
	prios, err := filePriorities(t, o.Files)
	if err != nil {
		return Exit(ExitUsage, err)
	}
	if prios != nil {
		sopt.Skip = make([]bool, len(prios))
		for i, p := range prios {
			sopt.Skip[i] = p == picker.Skip
		}
	}
	if !seeding {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return Exit(ExitIO, err)
		}
	}
	store, err := storage.Open(t, dir, sopt)
	if err != nil {
		return Exit(storageCode(err), err)
	}
	defer store.Close()

	have, err := startingPieces(runCtx, env, store, t, o, view)
	if err != nil {
		if view != nil && view.ctl.stopped.Load() {
			return Exit(ExitInterrupted, errors.New("stopped while checking; nothing was downloaded yet"))
		}
		return err
	}
	if !seeding {
		if err := store.Prepare(runCtx, 8); err != nil {
			if runCtx.Err() != nil {
				return Exit(ExitInterrupted, errors.New("interrupted while creating the files"))
			}
			return Exit(storageCode(err), err)
		}
	}
	if seeding {
		n := 0
		for _, h := range have {
			if h {
				n++
			}
		}
		if n != t.NumPieces() {
			return Exit(ExitMissing, fmt.Errorf("seed: %d of %d pieces of %s are missing or corrupt (tt verify shows which)", t.NumPieces()-n, t.NumPieces(), o.Content))
		}
	}

	cfg := session.Config{
		Torrent: t, Store: store, Have: have, Port: port, Peers: peers,
		NoTrackers: o.NoTrackers, Tracker: &tracker.Client{UDP: udp.tracker}, DHT: udp.sessionDHT(), LSD: udp.sessionLSD(), NoPEX: o.NoPEX,
		UTP: udp.utp, Transport: transport,
		Seed: o.Seed || o.SeedRatio > 0 || o.SeedTime > 0, MaxPeers: o.MaxPeers,
		UploadRate: o.UploadLimit, DownRate: o.DownloadLimit, Priorities: prios, Sequential: o.Sequential,
		StallAfter: o.StallTimeout, ClientName: "tt " + Version, Encryption: enc,
	}
	if !seeding {
		cfg.Checkpoint = func(h picker.Bitfield) { store.SaveResume(bitsOf(h)) }
	}
	cfg.Detail = tuiOn
	if ew != nil {
		cfg.Events = ew.Emit
	}
	s, err := session.New(cfg)
	if err != nil {
		return Exit(ExitBadTorrent, err)
	}
	go session.Serve(runCtx, ln, session.One{S: s})
	go session.Serve(runCtx, udp.utp, session.One{S: s})
	if view != nil {
		view.attach(s)
	} else if !o.Quiet && !o.JSON {
		fmt.Fprintf(env.Stderr, "tt: %s %s (%s, %d pieces) on port %d\n", map[bool]string{true: "seeding", false: "getting"}[seeding],
			printable(t.Info.Name), FormatSize(t.Info.TotalLength), t.NumPieces(), port)
	}
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
	select {
	case err = <-runDone:
	case <-forced:
		return Exit(ExitInterrupted, errors.New("stopped at once; run the same command to resume"))
	}
	stop()
	<-watchDone
	view.finish()
	if !seeding && s.Complete() {
		if ferr := store.Finish(); ferr != nil {
			return Exit(storageCode(ferr), ferr)
		}
		store.RemoveResume()
	}
	if !o.Quiet && !o.JSON {
		fmt.Fprintf(env.Stderr, "tt: %s\n", summaryLine(s.Final()))
	}
	if view != nil && view.ctl.stopped.Load() && err != nil {
		return Exit(ExitInterrupted, errors.New("stopped; progress saved, run the same command to resume"))
	}
	switch {
	case err == nil:
		return nil
	case seedDone:
		return nil
	case errors.Is(context.Cause(runCtx), errTimeout):
		return Exit(ExitStalled, fmt.Errorf("timed out after %s", o.Timeout))
	case ctx.Err() != nil:
		return Exit(ExitInterrupted, errors.New("interrupted; progress saved, run the same command to resume"))
	case errors.Is(err, session.ErrNoPeers):
		return Exit(ExitNoPeers, err)
	case errors.Is(err, session.ErrStalled):
		return Exit(ExitStalled, err)
	case errors.Is(err, session.ErrDisk):
		return Exit(storageCode(err), err)
	}
	return err
}

var errTimeout = errors.New("timeout")

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
			if now.Sub(lastPrint) >= interval {
				switch {
				case view != nil:
				case ew != nil:
					ew.Emit(session.Event{Time: now, Type: "progress", Have: st.Have, Pieces: st.Pieces, Left: st.Left,
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
				Total: total, Wanted: total, Left: total - done, State: "checking", Elapsed: time.Since(start)})
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

// fetchMagnet gets a magnet link's info dictionary from peers (BEP 9) and
// makes a torrent of it with the link's trackers.
func fetchMagnet(ctx context.Context, env *Env, o SwarmOptions, m *metainfo.Magnet, peers []netip.AddrPort,
	port uint16, enc session.Encryption, transport session.Transport, udp *udpStack, ew *eventWriter, view *live) (*metainfo.Torrent, error) {
	for _, p := range m.Peers {
		if ap, err := netip.ParseAddrPort(p); err == nil {
			peers = append(peers, ap)
		}
	}
	var tiers [][]string
	for _, tr := range m.Trackers {
		tiers = append(tiers, []string{tr})
	}
	cfg := session.FetchConfig{InfoHash: m.InfoHash, Port: port, Peers: peers, Trackers: tiers, NoTrackers: o.NoTrackers,
		Tracker: &tracker.Client{UDP: udp.tracker}, DHT: udp.sessionDHT(), LSD: udp.sessionLSD(), UTP: udp.utp, Transport: transport, Encryption: enc, ClientName: "tt " + Version, StallAfter: o.StallTimeout}
	if ew != nil {
		cfg.Events = ew.Emit
	}
	if view != nil {
		start := time.Now()
		var mu sync.Mutex
		reason, known := "looking for peers", map[string]int{}
		show := func() {
			n := 0
			for _, c := range known {
				n += c
			}
			view.publish(session.Stats{Name: m.Name, State: "fetching metadata", Reason: reason, Elapsed: time.Since(start),
				Known: n, KnownBy: known})
		}
		show()
		cfg.Progress = func(have, total int) {
			mu.Lock()
			defer mu.Unlock()
			reason = fmt.Sprintf("%d of %d pieces", have, total)
			show()
		}
		cfg.Found = func(bySource map[string]int) {
			mu.Lock()
			defer mu.Unlock()
			known = bySource
			show()
		}
	} else if !o.Quiet && !o.JSON {
		name := m.Name
		if name == "" {
			name = m.InfoHashHex()
		}
		fmt.Fprintf(env.Stderr, "tt: fetching the metadata of %s from peers\n", printable(name))
	}
	fctx := ctx
	if o.Timeout > 0 {
		var cancel context.CancelFunc
		fctx, cancel = context.WithTimeout(ctx, o.Timeout)
		defer cancel()
	}
	info, err := session.FetchMetadata(fctx, cfg)
	switch {
	case err == nil:
	case errors.Is(context.Cause(ctx), errTimeout) || (ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded)):
		return nil, Exit(ExitStalled, fmt.Errorf("timed out after %s fetching the metadata", o.Timeout))
	case ctx.Err() != nil:
		return nil, Exit(ExitInterrupted, errors.New("interrupted while fetching the metadata"))
	case errors.Is(err, session.ErrNoMetadata):
		return nil, Exit(ExitNoPeers, err)
	default:
		return nil, err
	}
	t, err := metainfo.Parse(torrentFromInfo(info, tiers), metainfo.Options{Lenient: true})
	if err != nil {
		return nil, Exit(ExitBadTorrent, fmt.Errorf("metadata from peers: %w", err))
	}
	if t.InfoHash != m.InfoHash {
		return nil, Exit(ExitBadTorrent, errors.New("metadata from peers: info-hash mismatch"))
	}
	return t, nil
}

// torrentFromInfo wraps an info dictionary and trackers into a torrent file.
func torrentFromInfo(info []byte, tiers [][]string) []byte {
	b := []byte("d")
	if len(tiers) > 0 {
		b = append(b, "13:announce-listl"...)
		for _, tier := range tiers {
			b = append(b, 'l')
			for _, u := range tier {
				b = strconv.AppendInt(b, int64(len(u)), 10)
				b = append(b, ':')
				b = append(b, u...)
			}
			b = append(b, 'e')
		}
		b = append(b, 'e')
	}
	b = append(b, "4:info"...)
	b = append(b, info...)
	return append(b, 'e')
}
