// Package choker decides which peers we upload to: the tit-for-tat choking
// algorithm of BEP 3 with optimistic unchoking, anti-snubbing and a seeding
// rotation.
//
// The package is a pure function over a snapshot. The caller (the
// torrent's event loop) measures rates, ages and snubbing with its own
// clock, describes every connected peer in a Peer value, and calls
//
//   - Rechoke every RechokeInterval (10 s), incrementing Input.Round each
//     time, and
//   - OnSlotFree right away when an unchoked peer leaves or loses interest,
//     or a peer we unchoked while it was uninterested becomes interested,
//     so a slot does not stay idle until the next tick.
//
// Both return one Decision per peer, with the reason shown by the TUI, and
// the optimistic peers to pass back in the next Input. The caller sends
// choke or unchoke only to peers whose decision differs from Peer.Choked.
//
// # Rules
//
// Regular slots (Config.Slots, default 4) go to interested peers that are
// not snubbed:
//
//   - Leeching: the peers with the highest DownloadRate (what they send
//     us). Ties go to a peer we already unchoke, then to the lower ID.
//   - Seeding: peers are taken in rotation order: first the peers we
//     unchoked less than Config.SeedTurn (30 s) ago, highest UploadRate
//     first; then choked peers, the one choked for longest first; last the
//     peers unchoked for SeedTurn or more, highest UploadRate first. So
//     while more peers wait than there are slots, every unchoked peer keeps
//     its slot for one turn and then gives way (reason TurnOver) to the
//     peers that waited longest, and a peer we just choked waits the
//     longest to come back. With no one waiting, peers keep their slots.
//
// Rechoke re-ranks everyone. OnSlotFree first keeps every peer that holds
// a regular slot and is still eligible (only if there are now more of them
// than slots are the worst ranked choked), then fills the free slots in
// ranking order; it never re-draws a valid optimistic peer. This avoids
// fibrillation between ticks, as BEP 3 asks.
//
// While leeching and with every regular slot taken, an uninterested peer
// that is not a seed and sends to us faster than the slowest regular peer
// is unchoked as well (FastUninterested, BEP 3): unchoking it costs
// nothing until it becomes interested, and then OnSlotFree chokes the
// slowest regular peer in its favour. Config.ChokeUninterested turns this
// off.
//
// Optimistic slots (Config.OptimisticSlots, default 1) go to interested
// peers left without a regular slot, snubbed ones included: anti-snubbing
// takes a snubbed peer's regular slot away but leaves it the optimistic
// one. The optimistic peer is drawn again on rounds where Round is a
// multiple of Config.OptimisticEvery (3, i.e. every 30 s), or sooner when
// it leaves, loses interest or wins a regular slot. The draw is weighted:
// a peer connected for less than Config.NewPeerAge (60 s) counts
// Config.NewPeerWeight (3) times. On a rotation the previous optimistic
// peers are left out of the draw when anyone else can be drawn.
//
// Unlike the mainline client described in BEP 3, where the optimistic peer
// is one of four, the optimistic slots here come on top of the regular
// ones (4 + 1 by default).
package choker

import (
	"math/rand/v2"
	"slices"
	"time"
)

// Intervals the caller uses with this package.
const (
	// RechokeInterval is how often to call Rechoke.
	RechokeInterval = 10 * time.Second
	// SnubTimeout: a peer is snubbed when we have been interested in it and
	// unchoked by it for this long without receiving a block.
	SnubTimeout = 60 * time.Second
)

// Config tunes the choker. Zero fields take the defaults in DefaultConfig.
type Config struct {
	// Slots is the number of regular unchoke slots. Default 4; negative
	// means none.
	Slots int
	// OptimisticSlots is the number of optimistic unchokes, on top of
	// Slots. Default 1; negative means none.
	OptimisticSlots int
	// OptimisticEvery is the number of rechoke rounds between optimistic
	// draws. Default 3 (30 s).
	OptimisticEvery int
	// NewPeerAge: peers connected for less than this are new. Default 60 s.
	NewPeerAge time.Duration
	// NewPeerWeight is a new peer's weight in the optimistic draw; other
	// peers weigh 1. Default 3.
	NewPeerWeight int
	// SeedTurn is how long a peer keeps a regular slot while seeding
	// before it gives way to waiting peers. Default 30 s.
	SeedTurn time.Duration
	// ChokeUninterested disables unchoking fast uninterested peers.
	ChokeUninterested bool
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		Slots:           4,
		OptimisticSlots: 1,
		OptimisticEvery: 3,
		NewPeerAge:      60 * time.Second,
		NewPeerWeight:   3,
		SeedTurn:        30 * time.Second,
	}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	switch {
	case c.Slots == 0:
		c.Slots = d.Slots
	case c.Slots < 0:
		c.Slots = 0
	}
	switch {
	case c.OptimisticSlots == 0:
		c.OptimisticSlots = d.OptimisticSlots
	case c.OptimisticSlots < 0:
		c.OptimisticSlots = 0
	}
	if c.OptimisticEvery <= 0 {
		c.OptimisticEvery = d.OptimisticEvery
	}
	if c.NewPeerAge <= 0 {
		c.NewPeerAge = d.NewPeerAge
	}
	if c.NewPeerWeight <= 0 {
		c.NewPeerWeight = d.NewPeerWeight
	}
	if c.SeedTurn <= 0 {
		c.SeedTurn = d.SeedTurn
	}
	return c
}

// PeerID names a peer; the caller picks the values.
type PeerID int

// Peer is the snapshot of one connected peer.
type Peer struct {
	ID           PeerID
	Interested   bool    // it wants our data
	Choked       bool    // we choke it now
	DownloadRate float64 // bytes/s it sends us
	UploadRate   float64 // bytes/s we send it
	// Snubbed: no block from it for SnubTimeout while we were interested
	// and it did not choke us.
	Snubbed bool
	Age     time.Duration // since it connected
	// Since is how long ago we last choked or unchoked it (its age if we
	// never did). Used by the seeding rotation.
	Since time.Duration
	Seed  bool // it has every piece
}

// Input is everything a decision depends on besides Config and randomness.
type Input struct {
	Peers   []Peer
	Seeding bool // we have every wanted piece
	// Round counts Rechoke calls; the optimistic peer is drawn again when it
	// is a multiple of Config.OptimisticEvery.
	Round int
	// Optimistic are the current optimistic peers (the previous
	// Result.Optimistic).
	Optimistic []PeerID
}

// Reason explains a decision.
type Reason uint8

// Reasons for unchoking (the first four) and choking.
const (
	// TopRate: regular slot while leeching, among the best download rates.
	TopRate Reason = iota + 1
	// SeedTurn: regular slot while seeding, its turn in the rotation.
	SeedTurn
	// Optimistic: optimistic slot.
	Optimistic
	// FastUninterested: not interested, but it sends to us faster than the
	// slowest regular peer (BEP 3).
	FastUninterested
	// NotInterested: it does not want our data.
	NotInterested
	// Snubbed: it has sent us nothing for a minute although we asked.
	Snubbed
	// NotTopRate: the regular slots went to faster peers (leeching) or to
	// peers ahead of it in the rotation (seeding).
	NotTopRate
	// TurnOver: seeding, it held a slot for a full turn and gives way to
	// peers that waited longer.
	TurnOver
)

var reasonNames = [...]string{
	TopRate:          "top rate",
	SeedTurn:         "seeding turn",
	Optimistic:       "optimistic",
	FastUninterested: "fast, not interested",
	NotInterested:    "not interested",
	Snubbed:          "snubbed",
	NotTopRate:       "not in top slots",
	TurnOver:         "seeding rotation",
}

func (r Reason) String() string {
	if int(r) < len(reasonNames) && reasonNames[r] != "" {
		return reasonNames[r]
	}
	return "unknown"
}

// Decision is the outcome for one peer.
type Decision struct {
	ID      PeerID
	Unchoke bool
	Reason  Reason
}

// Result is the outcome of one decision.
type Result struct {
	// Decisions has one entry per input peer, in input order.
	Decisions []Decision
	// Optimistic are the optimistic peers now; pass them back in the next
	// Input.
	Optimistic []PeerID
}

// Unchoked returns the IDs of the peers to unchoke, in input order.
func (r Result) Unchoked() []PeerID {
	var out []PeerID
	for _, d := range r.Decisions {
		if d.Unchoke {
			out = append(out, d.ID)
		}
	}
	return out
}

// Rechoke is the periodic decision, to call every RechokeInterval. rng
// drives the optimistic draw; nil means a generator seeded from the
// runtime's random source.
func Rechoke(cfg Config, in Input, rng *rand.Rand) Result {
	return decide(cfg, in, rng, true)
}

// OnSlotFree is the decision between ticks, when a slot may have become
// free or a peer's interest changed. It keeps current regular peers that
// are still eligible and the optimistic peer if still valid.
func OnSlotFree(cfg Config, in Input, rng *rand.Rand) Result {
	return decide(cfg, in, rng, false)
}

func decide(cfg Config, in Input, rng *rand.Rand, tick bool) Result {
	cfg = cfg.withDefaults()
	peers := in.Peers
	dec := make([]Decision, len(peers))
	for i, p := range peers {
		dec[i].ID = p.ID
	}
	wasOpt := func(i int) bool { return slices.Contains(in.Optimistic, peers[i].ID) }

	// Regular slots.
	var elig []int
	for i, p := range peers {
		if p.Interested && !p.Snubbed {
			elig = append(elig, i)
		}
	}
	seedGroup := func(i int) int {
		p := peers[i]
		switch {
		case p.Choked:
			return 1
		case p.Since < cfg.SeedTurn:
			return 0
		}
		return 2
	}
	slices.SortStableFunc(elig, func(a, b int) int {
		pa, pb := peers[a], peers[b]
		if !tick {
			// Sticky: current regular peers first.
			ka, kb := !pa.Choked && !wasOpt(a), !pb.Choked && !wasOpt(b)
			if ka != kb {
				return boolFirst(ka)
			}
		}
		if in.Seeding {
			ga, gb := seedGroup(a), seedGroup(b)
			if ga != gb {
				return ga - gb
			}
			if ga == 1 {
				if c := cmpDesc(pa.Since, pb.Since); c != 0 {
					return c
				}
			} else if c := cmpDesc(pa.UploadRate, pb.UploadRate); c != 0 {
				return c
			}
		} else {
			if c := cmpDesc(pa.DownloadRate, pb.DownloadRate); c != 0 {
				return c
			}
			if pa.Choked != pb.Choked {
				return boolFirst(!pa.Choked)
			}
		}
		return int(pa.ID) - int(pb.ID)
	})
	nReg := min(cfg.Slots, len(elig))
	regular := make([]bool, len(peers))
	slowest := 0.0
	for k, i := range elig {
		if k < nReg {
			regular[i] = true
			dec[i] = Decision{ID: peers[i].ID, Unchoke: true, Reason: TopRate}
			if in.Seeding {
				dec[i].Reason = SeedTurn
			}
			if k == 0 || peers[i].DownloadRate < slowest {
				slowest = peers[i].DownloadRate
			}
			continue
		}
		dec[i].Reason = NotTopRate
		if in.Seeding && seedGroup(i) == 2 {
			dec[i].Reason = TurnOver
		}
	}

	// Optimistic slots.
	var cand []int
	for i, p := range peers {
		if p.Interested && !regular[i] {
			cand = append(cand, i)
		}
	}
	rotate := tick && in.Round%cfg.OptimisticEvery == 0
	var opt []PeerID
	if !rotate {
		for _, i := range cand {
			if wasOpt(i) && len(opt) < cfg.OptimisticSlots {
				opt = append(opt, peers[i].ID)
				dec[i] = Decision{ID: peers[i].ID, Unchoke: true, Reason: Optimistic}
			}
		}
	}
	pool := cand[:0:0]
	for _, i := range cand {
		if !dec[i].Unchoke && !(rotate && wasOpt(i)) {
			pool = append(pool, i)
		}
	}
	if rotate && len(pool) < cfg.OptimisticSlots-len(opt) {
		// Not enough newcomers: previous optimistic peers may be drawn again.
		for _, i := range cand {
			if wasOpt(i) {
				pool = append(pool, i)
			}
		}
	}
	for len(opt) < cfg.OptimisticSlots && len(pool) > 0 {
		if rng == nil {
			rng = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
		}
		k := draw(pool, peers, cfg, rng)
		i := pool[k]
		pool = slices.Delete(pool, k, k+1)
		opt = append(opt, peers[i].ID)
		dec[i] = Decision{ID: peers[i].ID, Unchoke: true, Reason: Optimistic}
	}

	// Everyone else.
	full := nReg == cfg.Slots && nReg > 0
	for i, p := range peers {
		switch {
		case dec[i].Unchoke:
		case p.Interested && p.Snubbed:
			dec[i].Reason = Snubbed
		case !p.Interested:
			dec[i].Reason = NotInterested
			if !in.Seeding && !cfg.ChokeUninterested && full && !p.Seed && !p.Snubbed && p.DownloadRate > slowest {
				dec[i] = Decision{ID: p.ID, Unchoke: true, Reason: FastUninterested}
			}
		}
	}
	return Result{Decisions: dec, Optimistic: opt}
}

// draw picks an index of pool at random, new peers weighing more.
func draw(pool []int, peers []Peer, cfg Config, rng *rand.Rand) int {
	weight := func(i int) int {
		if peers[i].Age < cfg.NewPeerAge {
			return cfg.NewPeerWeight
		}
		return 1
	}
	total := 0
	for _, i := range pool {
		total += weight(i)
	}
	x := rng.IntN(total)
	for k, i := range pool {
		if x -= weight(i); x < 0 {
			return k
		}
	}
	return len(pool) - 1
}

func boolFirst(a bool) int {
	if a {
		return -1
	}
	return 1
}

func cmpDesc[T float64 | time.Duration](a, b T) int {
	switch {
	case a > b:
		return -1
	case a < b:
		return 1
	}
	return 0
}
