package choker

import (
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

const old = 10 * time.Minute

// peer is an interested, choked, long-connected peer sending us down B/s.
func peer(id PeerID, down float64) Peer {
	return Peer{ID: id, Interested: true, Choked: true, DownloadRate: down, Age: old, Since: old}
}

func unchoked(p Peer) Peer     { p.Choked = false; return p }
func uninterested(p Peer) Peer { p.Interested = false; return p }
func snubbed(p Peer) Peer      { p.Snubbed = true; return p }
func seed(p Peer) Peer         { p.Seed = true; return p }

// leecher is an interested peer while we seed: we send it up B/s, and it
// has been in its current choke state for since.
func leecher(id PeerID, choked bool, since time.Duration, up float64) Peer {
	return Peer{ID: id, Interested: true, Choked: choked, UploadRate: up, Age: old, Since: since}
}

func u(id PeerID, r Reason) Decision { return Decision{ID: id, Unchoke: true, Reason: r} }
func c(id PeerID, r Reason) Decision { return Decision{ID: id, Unchoke: false, Reason: r} }

func TestDecide(t *testing.T) {
	noOpt := Config{OptimisticSlots: -1}
	two := Config{Slots: 2, OptimisticSlots: -1}
	for _, tc := range []struct {
		name    string
		cfg     Config
		in      Input
		between bool // OnSlotFree instead of Rechoke
		want    []Decision
		opt     []PeerID
	}{
		{
			name: "fewer peers than slots",
			in:   Input{Round: 1, Peers: []Peer{peer(1, 10), peer(2, 0)}},
			want: []Decision{u(1, TopRate), u(2, TopRate)},
		},
		{
			name: "no peers",
			in:   Input{Round: 0},
			want: []Decision{},
		},
		{
			name: "top four by download rate, the rest optimistic",
			in:   Input{Round: 1, Peers: []Peer{peer(1, 50), peer(2, 10), peer(3, 40), peer(4, 30), peer(5, 60)}},
			want: []Decision{u(1, TopRate), u(2, Optimistic), u(3, TopRate), u(4, TopRate), u(5, TopRate)},
			opt:  []PeerID{2},
		},
		{
			name: "ties go to unchoked peers, then lower IDs",
			in: Input{Round: 1, Peers: []Peer{
				peer(1, 10), peer(2, 10), peer(3, 10), unchoked(peer(4, 10)), unchoked(peer(5, 10)),
			}},
			want: []Decision{u(1, TopRate), u(2, TopRate), u(3, Optimistic), u(4, TopRate), u(5, TopRate)},
			opt:  []PeerID{3},
		},
		{
			name: "snubbed peer loses its regular slot but may be optimistic",
			in:   Input{Round: 1, Peers: []Peer{unchoked(snubbed(peer(1, 100))), peer(2, 5), peer(3, 1)}},
			want: []Decision{u(1, Optimistic), u(2, TopRate), u(3, TopRate)},
			opt:  []PeerID{1},
		},
		{
			name: "all snubbed",
			in:   Input{Round: 1, Optimistic: []PeerID{2}, Peers: []Peer{snubbed(peer(1, 0)), unchoked(snubbed(peer(2, 0))), snubbed(peer(3, 0))}},
			want: []Decision{c(1, Snubbed), u(2, Optimistic), c(3, Snubbed)},
			opt:  []PeerID{2},
		},
		{
			name: "not interested peers and seeds stay choked while slots are free",
			in:   Input{Round: 1, Peers: []Peer{uninterested(peer(1, 100)), uninterested(seed(peer(2, 0))), peer(3, 1)}},
			want: []Decision{c(1, NotInterested), c(2, NotInterested), u(3, TopRate)},
		},
		{
			name: "fast uninterested peers are unchoked when slots are full",
			cfg:  two,
			in: Input{Round: 1, Peers: []Peer{
				peer(1, 50), peer(2, 20), uninterested(peer(3, 30)), uninterested(peer(4, 10)),
				uninterested(seed(peer(5, 100))), uninterested(snubbed(peer(6, 90))),
			}},
			want: []Decision{u(1, TopRate), u(2, TopRate), u(3, FastUninterested), c(4, NotInterested), c(5, NotInterested), c(6, NotInterested)},
		},
		{
			name: "fast uninterested disabled",
			cfg:  Config{Slots: 2, OptimisticSlots: -1, ChokeUninterested: true},
			in:   Input{Round: 1, Peers: []Peer{peer(1, 50), peer(2, 20), uninterested(peer(3, 30))}},
			want: []Decision{u(1, TopRate), u(2, TopRate), c(3, NotInterested)},
		},
		{
			name: "optimistic peer earning a regular slot is replaced at once",
			in: Input{Round: 1, Optimistic: []PeerID{5}, Peers: []Peer{
				peer(1, 10), peer(2, 20), peer(3, 30), peer(4, 40), unchoked(peer(5, 100)),
			}},
			want: []Decision{u(1, Optimistic), u(2, TopRate), u(3, TopRate), u(4, TopRate), u(5, TopRate)},
			opt:  []PeerID{1},
		},
		{
			name: "optimistic kept between rotations",
			in: Input{Round: 4, Optimistic: []PeerID{6}, Peers: []Peer{
				peer(1, 60), peer(2, 50), peer(3, 40), peer(4, 30), peer(5, 20), unchoked(peer(6, 10)),
			}},
			want: []Decision{u(1, TopRate), u(2, TopRate), u(3, TopRate), u(4, TopRate), c(5, NotTopRate), u(6, Optimistic)},
			opt:  []PeerID{6},
		},
		{
			name: "optimistic rotates every third round",
			in: Input{Round: 3, Optimistic: []PeerID{6}, Peers: []Peer{
				peer(1, 60), peer(2, 50), peer(3, 40), peer(4, 30), peer(5, 20), unchoked(peer(6, 10)),
			}},
			want: []Decision{u(1, TopRate), u(2, TopRate), u(3, TopRate), u(4, TopRate), u(5, Optimistic), c(6, NotTopRate)},
			opt:  []PeerID{5},
		},
		{
			name: "rotation keeps the only candidate",
			in: Input{Round: 3, Optimistic: []PeerID{5}, Peers: []Peer{
				peer(1, 60), peer(2, 50), peer(3, 40), peer(4, 30), unchoked(peer(5, 10)),
			}},
			want: []Decision{u(1, TopRate), u(2, TopRate), u(3, TopRate), u(4, TopRate), u(5, Optimistic)},
			opt:  []PeerID{5},
		},
		{
			name: "optimistic peer that left is replaced",
			in: Input{Round: 2, Optimistic: []PeerID{9}, Peers: []Peer{
				peer(1, 60), peer(2, 50), peer(3, 40), peer(4, 30), peer(5, 20),
			}},
			want: []Decision{u(1, TopRate), u(2, TopRate), u(3, TopRate), u(4, TopRate), u(5, Optimistic)},
			opt:  []PeerID{5},
		},
		{
			name: "optimistic peer that lost interest is replaced",
			in: Input{Round: 2, Optimistic: []PeerID{6}, Peers: []Peer{
				peer(1, 60), peer(2, 50), peer(3, 40), peer(4, 30), peer(5, 20), unchoked(uninterested(peer(6, 0))),
			}},
			want: []Decision{u(1, TopRate), u(2, TopRate), u(3, TopRate), u(4, TopRate), u(5, Optimistic), c(6, NotInterested)},
			opt:  []PeerID{5},
		},
		{
			name: "seeding rotation",
			cfg:  two,
			in: Input{Seeding: true, Round: 1, Peers: []Peer{
				leecher(1, false, 10*time.Second, 100), // in its turn
				leecher(2, false, 40*time.Second, 500), // turn over
				leecher(3, true, 2*time.Minute, 0),     // waiting
				leecher(4, true, 5*time.Minute, 0),     // waiting longer
				uninterested(leecher(5, true, old, 0)),
			}},
			want: []Decision{u(1, SeedTurn), c(2, TurnOver), c(3, NotTopRate), u(4, SeedTurn), c(5, NotInterested)},
		},
		{
			name: "seeding with no one waiting keeps everyone",
			cfg:  two,
			in: Input{Seeding: true, Round: 1, Peers: []Peer{
				leecher(1, false, 5*time.Minute, 10), leecher(2, false, time.Minute, 20),
			}},
			want: []Decision{u(1, SeedTurn), u(2, SeedTurn)},
		},
		{
			name: "seeding: fastest turn-over peer keeps the spare slot",
			cfg:  two,
			in: Input{Seeding: true, Round: 1, Peers: []Peer{
				leecher(1, false, 40*time.Second, 10), leecher(2, false, 50*time.Second, 30), leecher(3, true, time.Minute, 0),
			}},
			want: []Decision{c(1, TurnOver), u(2, SeedTurn), u(3, SeedTurn)},
		},
		{
			name: "seeding ranks by upload rate, not download rate",
			cfg:  Config{Slots: 1, OptimisticSlots: -1},
			in: Input{Seeding: true, Round: 1, Peers: []Peer{
				{ID: 1, Interested: true, DownloadRate: 900, UploadRate: 10, Age: old, Since: time.Second},
				{ID: 2, Interested: true, DownloadRate: 0, UploadRate: 20, Age: old, Since: time.Second},
			}},
			want: []Decision{c(1, NotTopRate), u(2, SeedTurn)},
		},
		{
			name: "rechoke re-ranks everyone",
			cfg:  two,
			in:   Input{Round: 1, Peers: []Peer{unchoked(peer(1, 5)), peer(2, 50), peer(3, 40), unchoked(uninterested(peer(4, 0)))}},
			want: []Decision{c(1, NotTopRate), u(2, TopRate), u(3, TopRate), c(4, NotInterested)},
		},
		{
			name:    "slot free: current regular peers stay, the best waiting peer fills the slot",
			cfg:     two,
			between: true,
			in:      Input{Round: 1, Peers: []Peer{unchoked(peer(1, 5)), peer(2, 50), peer(3, 40), unchoked(uninterested(peer(4, 0)))}},
			want:    []Decision{u(1, TopRate), u(2, TopRate), c(3, NotTopRate), c(4, NotInterested)},
		},
		{
			name:    "slot free: fast uninterested peer turned interested pushes out the slowest",
			cfg:     two,
			between: true,
			in:      Input{Round: 1, Peers: []Peer{unchoked(peer(1, 10)), unchoked(peer(2, 20)), unchoked(peer(3, 30))}},
			want:    []Decision{c(1, NotTopRate), u(2, TopRate), u(3, TopRate)},
		},
		{
			name:    "slot free never rotates a valid optimistic peer",
			between: true,
			in: Input{Round: 3, Optimistic: []PeerID{6}, Peers: []Peer{
				peer(1, 60), peer(2, 50), peer(3, 40), peer(4, 30), peer(5, 20), unchoked(peer(6, 10)),
			}},
			want: []Decision{u(1, TopRate), u(2, TopRate), u(3, TopRate), u(4, TopRate), c(5, NotTopRate), u(6, Optimistic)},
			opt:  []PeerID{6},
		},
		{
			name: "no optimistic slots",
			cfg:  noOpt,
			in:   Input{Round: 0, Peers: []Peer{peer(1, 5), peer(2, 4), peer(3, 3), peer(4, 2), peer(5, 1)}},
			want: []Decision{u(1, TopRate), u(2, TopRate), u(3, TopRate), u(4, TopRate), c(5, NotTopRate)},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, 2))
			var got Result
			if tc.between {
				got = OnSlotFree(tc.cfg, tc.in, rng)
			} else {
				got = Rechoke(tc.cfg, tc.in, rng)
			}
			if !reflect.DeepEqual(got.Decisions, tc.want) {
				t.Errorf("decisions\n got %v\nwant %v", got.Decisions, tc.want)
			}
			if !reflect.DeepEqual(got.Optimistic, tc.opt) {
				t.Errorf("optimistic %v, want %v", got.Optimistic, tc.opt)
			}
		})
	}
}

func TestOptimisticWeighting(t *testing.T) {
	// No regular slots: the draw alone decides. Peer 2 is new (weight 3),
	// peers 1 and 3 are not (weight 1 each).
	in := Input{Round: 0, Peers: []Peer{peer(1, 0), peer(2, 0), peer(3, 0)}}
	in.Peers[1].Age = 30 * time.Second
	cfg := Config{Slots: -1}

	// Deterministic with a seeded generator.
	rng := rand.New(rand.NewPCG(7, 7))
	var seq []PeerID
	for range 10 {
		seq = append(seq, Rechoke(cfg, in, rng).Optimistic[0])
	}
	if want := []PeerID{3, 1, 2, 1, 2, 2, 3, 1, 2, 2}; !reflect.DeepEqual(seq, want) {
		t.Errorf("draws %v, want %v", seq, want)
	}

	// Distribution: 3/5 for the new peer, 1/5 for each of the others.
	counts := map[PeerID]int{}
	rng = rand.New(rand.NewPCG(1, 1))
	const n = 10000
	for range n {
		counts[Rechoke(cfg, in, rng).Optimistic[0]]++
	}
	for id, want := range map[PeerID]float64{1: 0.2, 2: 0.6, 3: 0.2} {
		if got := float64(counts[id]) / n; got < want-0.02 || got > want+0.02 {
			t.Errorf("peer %d drawn %.3f of the time, want %.2f", id, got, want)
		}
	}
}

func TestSeedingRotationOverTime(t *testing.T) {
	// Six interested leechers, two slots, no optimistic slot: simulate
	// rechokes every 10 s and check that everyone is served in turn.
	cfg := Config{Slots: 2, OptimisticSlots: -1}
	peers := make([]Peer, 6)
	for i := range peers {
		peers[i] = leecher(PeerID(i+1), true, time.Duration(i)*time.Second, 0)
	}
	served := map[PeerID]int{}
	var rounds [][]PeerID
	for round := range 9 {
		res := Rechoke(cfg, Input{Seeding: true, Round: round, Peers: peers}, nil)
		rounds = append(rounds, res.Unchoked())
		for i, d := range res.Decisions {
			p := &peers[i]
			if d.Unchoke == p.Choked { // state changes
				p.Choked = !d.Unchoke
				p.Since = 0
			}
			if d.Unchoke {
				served[p.ID]++
			}
			p.Since += RechokeInterval
		}
	}
	want := [][]PeerID{
		{5, 6}, {5, 6}, {5, 6},
		{3, 4}, {3, 4}, {3, 4},
		{1, 2}, {1, 2}, {1, 2},
	}
	if !reflect.DeepEqual(rounds, want) {
		t.Errorf("unchoked per round %v, want %v", rounds, want)
	}
	for id := PeerID(1); id <= 6; id++ {
		if served[id] != 3 {
			t.Errorf("peer %d served %d rounds", id, served[id])
		}
	}
}

func TestUnchokedAndReasons(t *testing.T) {
	r := Result{Decisions: []Decision{u(3, TopRate), c(1, Snubbed), u(2, Optimistic)}}
	if got := r.Unchoked(); !reflect.DeepEqual(got, []PeerID{3, 2}) {
		t.Errorf("Unchoked() = %v", got)
	}
	for r, want := range map[Reason]string{
		TopRate: "top rate", SeedTurn: "seeding turn", Optimistic: "optimistic",
		FastUninterested: "fast, not interested", NotInterested: "not interested", Snubbed: "snubbed",
		NotTopRate: "not in top slots", TurnOver: "seeding rotation", 0: "unknown", 200: "unknown",
	} {
		if r.String() != want {
			t.Errorf("Reason(%d) = %q, want %q", r, r.String(), want)
		}
	}
	if got := DefaultConfig().withDefaults(); got != DefaultConfig() {
		t.Errorf("defaults not stable: %+v", got)
	}
}
