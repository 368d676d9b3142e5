package picker

import (
	"errors"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
)

const kib = 1024

func newTest(t testing.TB, pieceLen, total int64, mod func(*Config)) *Picker {
	t.Helper()
	cfg := Config{PieceLength: pieceLen, TotalLength: total, RandomFirst: -1, Rand: rand.New(rand.NewPCG(1, 2))}
	if mod != nil {
		mod(&cfg)
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func mustCheck(t testing.TB, p *Picker) {
	t.Helper()
	if err := p.check(); err != nil {
		t.Fatal(err)
	}
}

func bitsOf(n int, pieces ...int) Bitfield {
	b := NewBitfield(n)
	for _, i := range pieces {
		b.Set(i)
	}
	return b
}

func blk(piece, begin, length int) Block { return Block{Piece: piece, Begin: begin, Length: length} }

func TestNewGeometry(t *testing.T) {
	for _, tc := range []struct {
		name        string
		pl, total   int64
		wantErr     bool
		pieces      int
		last        int64
		blocksFirst int
		blocksLast  int
	}{
		{"exact", 32 * kib, 96 * kib, false, 3, 32 * kib, 2, 2},
		{"short last", 32 * kib, 70 * kib, false, 3, 6 * kib, 2, 1},
		{"odd piece length", 40000, 100000, false, 3, 20000, 3, 2},
		{"one byte", 16 * kib, 1, false, 1, 1, 1, 1},
		{"zero piece length", 0, 10, true, 0, 0, 0, 0},
		{"zero total", 16 * kib, 0, true, 0, 0, 0, 0},
		{"piece too long", MaxPieceLength + 1, 1 << 40, true, 0, 0, 0, 0},
		{"too many pieces", 16 * kib, 16 * kib * (MaxPieces + 1), true, 0, 0, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := New(Config{PieceLength: tc.pl, TotalLength: tc.total})
			if tc.wantErr {
				if !errors.Is(err, ErrGeometry) {
					t.Fatalf("err = %v, want ErrGeometry", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			n := p.NumPieces()
			if n != tc.pieces || p.PieceLength(n-1) != tc.last || p.numBlocks(0) != tc.blocksFirst || p.numBlocks(n-1) != tc.blocksLast {
				t.Fatalf("pieces %d last %d blocks %d/%d", n, p.PieceLength(n-1), p.numBlocks(0), p.numBlocks(n-1))
			}
			mustCheck(t, p)
		})
	}
}

func TestBitfieldWire(t *testing.T) {
	for _, tc := range []struct {
		name   string
		in     []byte
		n      int
		want   []int
		errors bool
	}{
		{"empty", []byte{}, 0, nil, false},
		{"first and last of byte", []byte{0x81}, 8, []int{0, 7}, false},
		{"spare bits clear", []byte{0xff, 0xc0}, 10, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, false},
		{"spare bit set", []byte{0xff, 0xe0}, 10, nil, true},
		{"too short", []byte{0xff}, 10, nil, true},
		{"too long", []byte{0xff, 0, 0}, 10, nil, true},
		{"word boundary", []byte{0, 0, 0, 0, 0, 0, 0, 0x01, 0x80}, 72, []int{63, 64}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := BitfieldFromBytes(tc.in, tc.n)
			if tc.errors {
				if !errors.Is(err, ErrBitfield) {
					t.Fatalf("err = %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []int
			b.each(func(i int) { got = append(got, i) })
			if !reflect.DeepEqual(got, tc.want) || b.Count() != len(tc.want) {
				t.Fatalf("pieces %v, want %v", got, tc.want)
			}
			if out := b.Bytes(); !reflect.DeepEqual(out, tc.in) {
				t.Fatalf("Bytes() = %x, want %x", out, tc.in)
			}
		})
	}
	full := NewBitfield(70)
	full.SetAll()
	if full.Count() != 70 || full.Has(70) || full.Has(-1) {
		t.Fatalf("SetAll: count %d", full.Count())
	}
}

func TestBlocksOfOddGeometry(t *testing.T) {
	// 3 pieces of 40000 bytes, the last 20000: blocks 16384, 16384, 7232.
	p := newTest(t, 40000, 100000, nil)
	p.SetSequential(true)
	p.PeerHasAll(1)
	got := p.Next(1, 100)
	want := []Block{
		blk(0, 0, 16384), blk(0, 16384, 16384), blk(0, 32768, 7232),
		blk(1, 0, 16384), blk(1, 16384, 16384), blk(1, 32768, 7232),
		blk(2, 0, 16384), blk(2, 16384, 3616),
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Next = %v\nwant %v", got, want)
	}
	if p.Outstanding(1) != 8 || !p.Endgame() {
		t.Fatalf("outstanding %d endgame %v", p.Outstanding(1), p.Endgame())
	}
	mustCheck(t, p)
}

func TestReceivedValidation(t *testing.T) {
	p := newTest(t, 32*kib, 48*kib, nil) // pieces of 32 KiB and 16 KiB
	p.PeerHasAll(1)
	p.Next(1, 10)
	for _, tc := range []struct {
		name string
		b    Block
		want Arrival
	}{
		{"negative piece", blk(-1, 0, 16384), Invalid},
		{"piece out of range", blk(2, 0, 16384), Invalid},
		{"unaligned", blk(0, 100, 16384), Invalid},
		{"short length", blk(0, 0, 100), Invalid},
		{"past end", blk(1, 16384, 16384), Invalid},
		{"good", blk(1, 0, 16384), PieceReady},
		{"duplicate", blk(1, 0, 16384), Unwanted},
		{"first half", blk(0, 0, 16384), Stored},
		{"second half", blk(0, 16384, 16384), PieceReady},
	} {
		if _, got := p.Received(1, tc.b); got != tc.want {
			t.Errorf("%s: Received(%v) = %v, want %v", tc.name, tc.b, got, tc.want)
		}
	}
	mustCheck(t, p)
	p.PieceVerified(1)
	if _, got := p.Received(1, blk(1, 0, 16384)); got != Unwanted {
		t.Errorf("after verify: %v", got)
	}
}

// Four pieces of one block; availability 3, 1, 2, 4 in piece order.
func rarestSwarm(t *testing.T) *Picker {
	p := newTest(t, 16*kib, 64*kib, nil)
	must(t, p.PeerBitfield(1, bitsOf(4, 0, 1, 2, 3)))
	must(t, p.PeerBitfield(2, bitsOf(4, 0, 2, 3)))
	must(t, p.PeerBitfield(3, bitsOf(4, 0, 3)))
	must(t, p.PeerBitfield(4, bitsOf(4, 3)))
	mustCheck(t, p)
	return p
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func pieces(bs []Block) []int {
	var out []int
	for _, b := range bs {
		out = append(out, b.Piece)
	}
	return out
}

func TestRarestFirst(t *testing.T) {
	for _, tc := range []struct {
		name string
		peer PeerID
		n    int
		want []int
	}{
		{"peer with everything takes rarest first", 1, 4, []int{1, 2, 0, 3}},
		{"peer lacking the rarest", 2, 4, []int{2, 0, 3}},
		{"one at a time", 1, 1, []int{1}},
		{"only common piece", 4, 2, []int{3}},
		{"unknown peer", 9, 4, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := rarestSwarm(t)
			if got := pieces(p.Next(tc.peer, tc.n)); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("Next = %v, want %v", got, tc.want)
			}
			mustCheck(t, p)
		})
	}
}

func TestAvailabilityUpdates(t *testing.T) {
	p := rarestSwarm(t)
	p.PeerHasAll(5)
	must(t, p.PeerHas(4, 1))
	must(t, p.PeerHas(4, 1)) // repeated have is ignored
	must(t, p.PeerHas(3, 1))
	if got := p.Availability(nil); !reflect.DeepEqual(got, []int{4, 4, 3, 5}) {
		t.Fatalf("availability %v", got)
	}
	// Piece 2 is now the unique rarest.
	if got := pieces(p.Next(5, 1)); !reflect.DeepEqual(got, []int{2}) {
		t.Fatalf("Next = %v", got)
	}
	p.PeerGone(1)
	p.PeerGone(5)
	if got := p.Availability(nil); !reflect.DeepEqual(got, []int{2, 2, 1, 3}) {
		t.Fatalf("availability after leaving %v", got)
	}
	// A later bitfield replaces the earlier one.
	must(t, p.PeerBitfield(2, bitsOf(4, 1)))
	if got := p.Availability(nil); !reflect.DeepEqual(got, []int{1, 3, 0, 2}) {
		t.Fatalf("availability after new bitfield %v", got)
	}
	p.PeerHasNone(3)
	if got := p.Availability(nil); !reflect.DeepEqual(got, []int{0, 2, 0, 1}) {
		t.Fatalf("availability after have-none %v", got)
	}
	if err := p.PeerHas(3, 4); !errors.Is(err, ErrPiece) {
		t.Fatalf("PeerHas out of range: %v", err)
	}
	if err := p.PeerBitfield(3, NewBitfield(5)); !errors.Is(err, ErrBitfield) {
		t.Fatalf("PeerBitfield wrong length: %v", err)
	}
	mustCheck(t, p)
}

func TestHavesMakeASeed(t *testing.T) {
	p := newTest(t, 16*kib, 48*kib, nil)
	for i := range 3 {
		must(t, p.PeerHas(7, i))
	}
	if !p.peers[7].seed || p.seeds != 1 || !reflect.DeepEqual(p.Availability(nil), []int{1, 1, 1}) {
		t.Fatalf("seed %v seeds %d avail %v", p.peers[7].seed, p.seeds, p.Availability(nil))
	}
	mustCheck(t, p)
}

// TestRepeatedHavesCountOnce: a peer repeating have for one piece does not
// grow its count, nor become a seed.
func TestRepeatedHavesCountOnce(t *testing.T) {
	p := newTest(t, 16*kib, 48*kib, nil)
	for range 5 {
		must(t, p.PeerHas(7, 1))
	}
	if n, seed := p.PeerPieces(7); n != 1 || seed {
		t.Fatalf("PeerPieces = %d, %v; want 1, false", n, seed)
	}
	must(t, p.PeerHas(7, 0))
	must(t, p.PeerHas(7, 2))
	if n, seed := p.PeerPieces(7); n != 3 || !seed {
		t.Fatalf("PeerPieces = %d, %v; want 3, true", n, seed)
	}
	if n, seed := p.PeerPieces(99); n != 0 || seed {
		t.Fatalf("unknown peer: %d, %v", n, seed)
	}
	mustCheck(t, p)
}

func TestEqualRarityIsRandom(t *testing.T) {
	// Ten pieces, all held by one seed: every piece must come first for
	// some seed of the generator.
	seen := map[int]bool{}
	for s := range uint64(200) {
		p := newTest(t, 16*kib, 160*kib, func(c *Config) { c.Rand = rand.New(rand.NewPCG(s, s)) })
		p.PeerHasAll(1)
		seen[p.Next(1, 1)[0].Piece] = true
	}
	if len(seen) != 10 {
		t.Fatalf("first pieces seen: %v", seen)
	}
}

func TestRandomFirst(t *testing.T) {
	// Piece 0 is the unique rarest. Rarest first always starts with it;
	// random first does not, until RandomFirst pieces are verified.
	run := func(randomFirst, verified int) map[int]int {
		counts := map[int]int{}
		for s := range uint64(100) {
			p := newTest(t, 16*kib, 160*kib, func(c *Config) {
				c.RandomFirst = randomFirst
				c.Rand = rand.New(rand.NewPCG(s, 7))
			})
			p.PeerHasAll(1)
			must(t, p.PeerBitfield(2, bitsOf(10, 1, 2, 3, 4, 5, 6, 7, 8, 9)))
			for i := range verified {
				p.PieceVerified(9 - i)
			}
			counts[p.Next(1, 1)[0].Piece]++
		}
		return counts
	}
	if got := run(-1, 0); !reflect.DeepEqual(got, map[int]int{0: 100}) {
		t.Fatalf("rarest first: %v", got)
	}
	if got := run(3, 3); !reflect.DeepEqual(got, map[int]int{0: 100}) {
		t.Fatalf("after random-first phase: %v", got)
	}
	if got := run(3, 2); len(got) < 5 {
		t.Fatalf("random first: %v", got)
	}
}

func TestPartialFirst(t *testing.T) {
	// Four pieces of four blocks. Piece 3 is rarest but pieces already
	// started are finished first, most received blocks first.
	p := newTest(t, 64*kib, 256*kib, nil)
	p.PeerHasAll(1)
	p.PeerHasAll(2)
	must(t, p.PeerBitfield(3, bitsOf(4, 0, 1, 2)))
	must(t, p.PeerBitfield(4, bitsOf(4, 0, 1, 2)))
	p.Requested(3, blk(1, 0, 16*kib))
	p.Requested(3, blk(0, 0, 16*kib))
	p.Requested(3, blk(0, 16*kib, 16*kib))
	p.Received(3, blk(1, 0, 16*kib))
	mustCheck(t, p)
	got := p.Next(1, 6)
	want := []Block{
		blk(1, 16*kib, 16*kib), blk(1, 32*kib, 16*kib), blk(1, 48*kib, 16*kib), // one received
		blk(0, 32*kib, 16*kib), blk(0, 48*kib, 16*kib), // none received, two requested
		blk(3, 0, 16*kib), // then the rarest untouched piece
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Next = %v\nwant %v", got, want)
	}
	mustCheck(t, p)
}

func TestFilePriorities(t *testing.T) {
	// Pieces of 32 KiB; files of 40, 8, 0, 50 and 30 KiB (128 KiB, 4 pieces):
	// piece 0 = file a, piece 1 = a, b, d; piece 2 = d; piece 3 = d, e.
	p := newTest(t, 32*kib, 128*kib, nil)
	lengths := []int64{40 * kib, 8 * kib, 0, 50 * kib, 30 * kib}
	for _, tc := range []struct {
		name  string
		prios []Priority
		want  []Priority
	}{
		{"all normal", []Priority{Normal, Normal, Normal, Normal, Normal}, []Priority{Normal, Normal, Normal, Normal}},
		{"skip first", []Priority{Skip, Normal, High, Low, Skip}, []Priority{Skip, Normal, Low, Low}},
		{"max wins", []Priority{Skip, High, Skip, Skip, Low}, []Priority{Skip, High, Skip, Low}},
		{"empty file ignored", []Priority{Skip, Skip, High, Skip, Skip}, []Priority{Skip, Skip, Skip, Skip}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			must(t, p.SetFilePriorities(lengths, tc.prios))
			var got []Priority
			for i := range p.NumPieces() {
				got = append(got, p.PiecePriority(i))
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("piece priorities %v, want %v", got, tc.want)
			}
			mustCheck(t, p)
		})
	}
	for _, bad := range []struct {
		lengths []int64
		prios   []Priority
	}{
		{[]int64{128 * kib}, []Priority{Normal, Normal}},
		{[]int64{100 * kib}, []Priority{Normal}},
		{[]int64{200 * kib, -72 * kib}, []Priority{Normal, Normal}},
		{[]int64{128 * kib}, []Priority{MaxPriority + 1}},
	} {
		if err := p.SetFilePriorities(bad.lengths, bad.prios); !errors.Is(err, ErrPriorities) {
			t.Errorf("SetFilePriorities(%v, %v) = %v", bad.lengths, bad.prios, err)
		}
	}
	if err := p.SetPiecePriorities([]Priority{Normal}); !errors.Is(err, ErrPriorities) {
		t.Errorf("SetPiecePriorities wrong length: %v", err)
	}
}

func TestPriorityOrder(t *testing.T) {
	for _, tc := range []struct {
		name       string
		prios      []Priority
		sequential bool
		started    []int // pieces with a block requested by another peer
		want       []int // pieces of the blocks returned, one block per piece
	}{
		{"rarest within priority", []Priority{Normal, Normal, High, Low, Normal, Skip}, false, nil, []int{2, 1, 0, 4, 3}},
		{"sequential", []Priority{Normal, Normal, Normal, Normal, Normal, Normal}, true, nil, []int{0, 1, 2, 3, 4, 5}},
		{"sequential with priorities", []Priority{Low, Normal, High, Low, Normal, Skip}, true, nil, []int{2, 1, 4, 0, 3}},
		{"high untouched before low partial", []Priority{Low, Normal, High, Low, Normal, Skip}, false, []int{3}, []int{2, 1, 4, 3, 0}},
		{"partial before untouched of same level", []Priority{Normal, Normal, Normal, Normal, Normal, Normal}, true, []int{4}, []int{4, 0, 1, 2, 3, 5}},
		{"skipped partial never offered", []Priority{Normal, Normal, Normal, Normal, Normal, Skip}, false, []int{5}, []int{1, 0, 2, 3, 4}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Six two-block pieces; availability 2, 1, 3, 4, 5, 0 plus the seed.
			p := newTest(t, 32*kib, 192*kib, nil)
			p.PeerHasAll(1)
			holders := [][]int{{0, 1, 2, 3, 4}, {0, 2, 3, 4}, {2, 3, 4}, {3, 4}, {4}}
			for k, h := range holders {
				must(t, p.PeerBitfield(PeerID(10+k), bitsOf(6, h...)))
			}
			for _, i := range tc.started {
				p.Requested(2, blk(i, 0, 16*kib))
			}
			must(t, p.SetPiecePriorities(tc.prios))
			p.SetSequential(tc.sequential)
			mustCheck(t, p)
			// One block at a time until endgame; each piece is listed once.
			var got []int
			for !p.Endgame() {
				b := p.Next(1, 1)
				if len(b) != 1 {
					t.Fatalf("Next = %v before endgame", b)
				}
				got = append(got, b[0].Piece)
			}
			got = slices.Compact(got)
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("pieces %v, want %v", got, tc.want)
			}
			mustCheck(t, p)
		})
	}
}

func TestEndgame(t *testing.T) {
	// One piece of two blocks, three peers with everything.
	p := newTest(t, 32*kib, 32*kib, nil)
	for id := PeerID(1); id <= 3; id++ {
		p.PeerHasAll(id)
	}
	b0, b1 := blk(0, 0, 16*kib), blk(0, 16*kib, 16*kib)
	steps := []struct {
		name    string
		peer    PeerID
		n       int
		want    []Block
		endgame bool
	}{
		{"first peer takes the piece", 1, 5, []Block{b0, b1}, true},
		{"second peer duplicates", 2, 5, []Block{b0, b1}, true},
		{"third peer is over the bound", 3, 5, nil, true},
		{"first peer already has them all", 1, 5, nil, true},
	}
	for _, s := range steps {
		got := p.Next(s.peer, s.n)
		if !reflect.DeepEqual(got, s.want) || p.Endgame() != s.endgame {
			t.Fatalf("%s: Next = %v endgame %v", s.name, got, p.Endgame())
		}
		mustCheck(t, p)
	}
	cancels, a := p.Received(2, b0)
	if a != Stored || !reflect.DeepEqual(cancels, []Request{{Peer: 1, Block: b0}}) {
		t.Fatalf("Received = %v %v", cancels, a)
	}
	// Peer 1 rejects block 1: peer 3 may now duplicate it.
	if !p.Rejected(1, b1) {
		t.Fatal("Rejected: no such request")
	}
	if got := p.Next(3, 5); !reflect.DeepEqual(got, []Block{b1}) {
		t.Fatalf("Next after reject = %v", got)
	}
	cancels, a = p.Received(3, b1)
	if a != PieceReady || !reflect.DeepEqual(cancels, []Request{{Peer: 2, Block: b1}}) {
		t.Fatalf("Received = %v %v", cancels, a)
	}
	if _, a = p.Received(2, b1); a != Unwanted {
		t.Fatalf("late duplicate: %v", a)
	}
	for id := PeerID(1); id <= 3; id++ {
		if p.Outstanding(id) != 0 {
			t.Fatalf("peer %d outstanding %d", id, p.Outstanding(id))
		}
	}
	mustCheck(t, p)
	p.PieceVerified(0)
	if !p.Complete() || p.Endgame() || p.Next(1, 5) != nil {
		t.Fatalf("complete %v endgame %v", p.Complete(), p.Endgame())
	}
	mustCheck(t, p)
}

func TestPieceFailed(t *testing.T) {
	p := newTest(t, 48*kib, 48*kib, nil)
	p.PeerHasAll(1)
	p.PeerHasAll(2)
	p.PeerHasAll(3)
	bs := p.Next(1, 1)
	bs = append(bs, p.Next(2, 1)...)
	bs = append(bs, p.Next(3, 1)...)
	// Peer 2 delivers its block and peer 1's too (after a time-out).
	if !p.Timeout(1, bs[0]) {
		t.Fatal("Timeout: no such request")
	}
	p.Received(2, bs[0])
	p.Received(2, bs[1])
	if _, a := p.Received(3, bs[2]); a != PieceReady {
		t.Fatalf("last block: %v", a)
	}
	if got := p.PieceFailed(0); !reflect.DeepEqual(got, []PeerID{2, 3}) {
		t.Fatalf("PieceFailed = %v", got)
	}
	mustCheck(t, p)
	if r, n := p.PieceProgress(0); r != 0 || n != 3 || p.parts[0] != nil {
		t.Fatalf("progress %d/%d", r, n)
	}
	if got := p.Next(3, 5); len(got) != 3 {
		t.Fatalf("Next after failure = %v", got)
	}
	mustCheck(t, p)
}

func TestPeerGoneAndCancelAll(t *testing.T) {
	p := newTest(t, 32*kib, 64*kib, nil)
	p.PeerHasAll(1)
	must(t, p.PeerBitfield(2, bitsOf(2, 1)))
	got := p.Next(2, 1)
	p.Next(1, 3)
	if p.Outstanding(1) != 3 || p.Outstanding(2) != 1 {
		t.Fatalf("outstanding %d %d", p.Outstanding(1), p.Outstanding(2))
	}
	p.PeerGone(2)
	mustCheck(t, p)
	if p.Outstanding(2) != 0 || !reflect.DeepEqual(p.Availability(nil), []int{1, 1}) {
		t.Fatalf("after PeerGone: avail %v", p.Availability(nil))
	}
	if again := p.Next(1, 4); !reflect.DeepEqual(again, got) {
		t.Fatalf("freed block not offered again: %v, want %v", again, got)
	}
	if n := p.CancelAll(1); n != 4 || p.fresh != 2 || len(p.active) != 0 {
		t.Fatalf("CancelAll = %d, fresh %d", n, p.fresh)
	}
	mustCheck(t, p)
}

func TestInteresting(t *testing.T) {
	p := newTest(t, 16*kib, 48*kib, nil)
	must(t, p.PeerBitfield(1, bitsOf(3, 2)))
	p.PeerHasAll(2)
	if !p.Interesting(1) || !p.Interesting(2) || p.Interesting(3) {
		t.Fatal("initial interest")
	}
	p.PieceVerified(2)
	if p.Interesting(1) || !p.Interesting(2) {
		t.Fatal("after verifying piece 2")
	}
	must(t, p.SetPiecePriorities([]Priority{Skip, Skip, Normal}))
	if p.Interesting(2) || !p.Complete() {
		t.Fatal("after skipping the rest")
	}
	mustCheck(t, p)
}

func TestRequestedBookkeeping(t *testing.T) {
	p := newTest(t, 32*kib, 32*kib, nil)
	b0 := blk(0, 0, 16*kib)
	for _, s := range []struct {
		peer PeerID
		want bool
	}{{1, true}, {1, false}, {2, true}, {3, false}} {
		if got := p.Requested(s.peer, b0); got != s.want {
			t.Fatalf("Requested(%d) = %v", s.peer, got)
		}
	}
	if p.Cancelled(3, b0) || !p.Cancelled(1, b0) || !p.Cancelled(2, b0) {
		t.Fatal("Cancelled")
	}
	if p.parts[0] != nil || p.fresh != 1 {
		t.Fatal("piece not released")
	}
	if p.Requested(1, blk(0, 0, 1)) {
		t.Fatal("invalid block accepted")
	}
	mustCheck(t, p)
	// The block comes in after all: still useful.
	if _, a := p.Received(1, b0); a != Stored || p.fresh != 0 {
		t.Fatalf("late block: %v", a)
	}
	mustCheck(t, p)
	must(t, p.SetPiecePriorities([]Priority{Skip}))
	p.PieceFailed(0)
	if _, a := p.Received(1, b0); a != Unwanted {
		t.Fatalf("block of a skipped piece: %v", a)
	}
	mustCheck(t, p)
}
