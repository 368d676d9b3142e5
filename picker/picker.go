package picker

import (
	"errors"
	"math/rand/v2"
)

// BlockSize is the size of every block but the last one of the torrent.
const BlockSize = 16 * 1024

// Limits on the geometry New accepts.
const (
	MaxPieceLength = 1 << 30
	MaxPieces      = 1 << 24
)

// Errors returned by the picker.
var (
	ErrGeometry   = errors.New("picker: invalid geometry")
	ErrPiece      = errors.New("picker: piece index out of range")
	ErrBitfield   = errors.New("picker: bitfield does not match the piece count")
	ErrPriorities = errors.New("picker: priorities do not match the torrent")
)

// PeerID names a peer. The caller picks the values (a connection counter
// works well); the picker only compares them.
type PeerID int

// Block is one request: Length bytes at offset Begin of piece Piece.
type Block struct {
	Piece  int
	Begin  int
	Length int
}

// Request is a block requested from a peer.
type Request struct {
	Peer  PeerID
	Block Block
}

// Priority of a file or piece. Skip means do not download; higher values
// are downloaded first.
type Priority uint8

// Priority levels. Any value from Skip to MaxPriority is valid.
const (
	Skip        Priority = 0
	Low         Priority = 1
	Normal      Priority = 4
	High        Priority = 7
	MaxPriority Priority = 7
)

// Arrival says what to do with a block handed to Received.
type Arrival int

const (
	// Invalid: the block does not match the torrent's geometry.
	Invalid Arrival = iota
	// Unwanted: we have the block already or never asked for its piece;
	// drop the data.
	Unwanted
	// Stored: a block we needed; write it.
	Stored
	// PieceReady: a block we needed and the last one missing from its
	// piece; write it, then hash the piece and report PieceVerified or
	// PieceFailed.
	PieceReady
)

func (a Arrival) String() string {
	switch a {
	case Invalid:
		return "invalid"
	case Unwanted:
		return "unwanted"
	case Stored:
		return "stored"
	case PieceReady:
		return "piece-ready"
	}
	return "arrival?"
}

// Config describes the torrent and tunes the picker.
type Config struct {
	PieceLength int64 // bytes per piece, 1..MaxPieceLength
	TotalLength int64 // bytes in the torrent, at most MaxPieces pieces

	// RandomFirst: while fewer pieces than this are verified, untouched
	// pieces are chosen at random instead of rarest first. 0 means 4; a
	// negative value turns random-first off.
	RandomFirst int

	// MaxDuplicates bounds the outstanding requests of one block across all
	// peers during endgame. 0 means 2; values above 8 are treated as 8.
	MaxDuplicates int

	// Rand supplies every random choice. nil means a generator seeded from
	// the runtime's random source.
	Rand *rand.Rand
}

// DefaultRandomFirst and DefaultMaxDuplicates are the values used when the
// Config fields are zero.
const (
	DefaultRandomFirst   = 4
	DefaultMaxDuplicates = 2
)

type peerState struct {
	bits        Bitfield // nil words while seed
	seed        bool
	count       int // pieces it has
	want        int // pieces it has that we want (not meaningful for seeds)
	outstanding int // our requests to it
}

func (ps *peerState) has(i int) bool { return ps.seed || ps.bits.Has(i) }

// Picker is the block selection state of one torrent. Create it with New.
type Picker struct {
	numPieces   int
	pieceLen    int64
	total       int64
	blocksPer   int // blocks in every piece but the last
	maxDup      int
	randomFirst int
	rng         *rand.Rand
	sequential  bool

	have      Bitfield
	haveCount int
	prio      []Priority
	want      Bitfield // prio > Skip and not had
	missing   int      // want.Count()
	avail     []int32  // non-seed peers holding each piece
	seeds     int

	// Fresh pieces: wanted and untouched (no block requested or received).
	pos       []int32
	levels    [MaxPriority + 1]buckets
	levelBits [MaxPriority + 1]Bitfield
	seqCursor [MaxPriority + 1]int // word index below which levelBits is zero
	fresh     int

	parts  []*partial // by piece; nil unless started
	active []*partial // all started pieces
	open   []*partial // started pieces with blocks nobody requested
	spare  []*partial // recycled, full-size pieces only

	peers map[PeerID]*peerState

	cand  []*partial // scratch
	picks []int32    // scratch
}

// New returns a picker for the torrent described by cfg with no pieces,
// no peers and every piece at Normal priority.
func New(cfg Config) (*Picker, error) {
	if cfg.PieceLength <= 0 || cfg.PieceLength > MaxPieceLength || cfg.TotalLength <= 0 {
		return nil, ErrGeometry
	}
	np := (cfg.TotalLength-1)/cfg.PieceLength + 1
	if np > MaxPieces {
		return nil, ErrGeometry
	}
	n := int(np)
	p := &Picker{
		numPieces:   n,
		pieceLen:    cfg.PieceLength,
		total:       cfg.TotalLength,
		blocksPer:   int((cfg.PieceLength + BlockSize - 1) / BlockSize),
		maxDup:      cfg.MaxDuplicates,
		randomFirst: cfg.RandomFirst,
		rng:         cfg.Rand,
		have:        NewBitfield(n),
		prio:        make([]Priority, n),
		avail:       make([]int32, n),
		pos:         make([]int32, n),
		parts:       make([]*partial, n),
		peers:       make(map[PeerID]*peerState),
	}
	if p.maxDup <= 0 {
		p.maxDup = DefaultMaxDuplicates
	}
	p.maxDup = min(p.maxDup, 8)
	switch {
	case p.randomFirst == 0:
		p.randomFirst = DefaultRandomFirst
	case p.randomFirst < 0:
		p.randomFirst = 0
	}
	if p.rng == nil {
		p.rng = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	for i := range p.prio {
		p.prio[i] = Normal
	}
	for l := range p.levelBits {
		p.levelBits[l] = NewBitfield(n)
	}
	p.rebuild()
	return p, nil
}

// NumPieces returns the number of pieces.
func (p *Picker) NumPieces() int { return p.numPieces }

// PieceLength returns the length of piece i, 0 if out of range.
func (p *Picker) PieceLength(i int) int64 {
	switch {
	case i < 0 || i >= p.numPieces:
		return 0
	case i == p.numPieces-1:
		return p.total - int64(i)*p.pieceLen
	}
	return p.pieceLen
}

func (p *Picker) numBlocks(i int) int {
	return int((p.PieceLength(i) + BlockSize - 1) / BlockSize)
}

func (p *Picker) block(piece, b int) Block {
	begin := b * BlockSize
	l := min(p.PieceLength(piece)-int64(begin), BlockSize)
	return Block{Piece: piece, Begin: begin, Length: int(l)}
}

// locate checks b against the geometry and returns its block index.
func (p *Picker) locate(b Block) (int, bool) {
	if b.Piece < 0 || b.Piece >= p.numPieces || b.Begin < 0 || b.Begin%BlockSize != 0 {
		return 0, false
	}
	pl := p.PieceLength(b.Piece)
	if int64(b.Begin) >= pl || int64(b.Length) != min(pl-int64(b.Begin), BlockSize) {
		return 0, false
	}
	return b.Begin / BlockSize, true
}

// SetSequential switches sequential mode: untouched pieces are taken in
// increasing index within each priority level.
func (p *Picker) SetSequential(on bool) { p.sequential = on }

// Sequential reports whether sequential mode is on.
func (p *Picker) Sequential() bool { return p.sequential }

// PiecePriority returns the priority of piece i (Skip if out of range).
func (p *Picker) PiecePriority(i int) Priority {
	if i < 0 || i >= p.numPieces {
		return Skip
	}
	return p.prio[i]
}

// SetPiecePriorities sets every piece's priority; len(prios) must be
// NumPieces and every value at most MaxPriority. Started pieces keep their
// blocks and requests; a started piece set to Skip is no longer offered by
// Next.
func (p *Picker) SetPiecePriorities(prios []Priority) error {
	if len(prios) != p.numPieces {
		return ErrPriorities
	}
	for _, v := range prios {
		if v > MaxPriority {
			return ErrPriorities
		}
	}
	copy(p.prio, prios)
	p.rebuild()
	return nil
}

// SetFilePriorities maps file priorities to pieces. lengths are the file
// lengths in torrent order and must add up to the torrent's length; prios
// has one entry per file. A piece gets the highest priority of the files
// that have bytes in it; empty files cover no piece.
func (p *Picker) SetFilePriorities(lengths []int64, prios []Priority) error {
	if len(lengths) != len(prios) {
		return ErrPriorities
	}
	var sum int64
	for i, l := range lengths {
		if l < 0 || prios[i] > MaxPriority || l > p.total-sum {
			return ErrPriorities
		}
		sum += l
	}
	if sum != p.total {
		return ErrPriorities
	}
	out := make([]Priority, p.numPieces)
	var off int64
	for i, l := range lengths {
		if l == 0 {
			continue
		}
		first, last := int(off/p.pieceLen), int((off+l-1)/p.pieceLen)
		for j := first; j <= last; j++ {
			out[j] = max(out[j], prios[i])
		}
		off += l
	}
	copy(p.prio, out)
	p.rebuild()
	return nil
}

// rebuild recomputes everything derived from priorities and possession.
func (p *Picker) rebuild() {
	n := p.numPieces
	p.want = NewBitfield(n)
	p.missing = 0
	for i := range n {
		p.pos[i] = -1
	}
	var lists [MaxPriority + 1][]int32
	for i := range n {
		if p.prio[i] == Skip || p.have.Has(i) {
			continue
		}
		p.want.Set(i)
		p.missing++
		if p.parts[i] == nil {
			lists[p.prio[i]] = append(lists[p.prio[i]], int32(i))
		}
	}
	p.fresh = 0
	for l := Priority(0); l <= MaxPriority; l++ {
		bits := &p.levelBits[l]
		clear(bits.words)
		p.seqCursor[l] = 0
		p.levels[l].reset(p.pos)
		p.levels[l].build(lists[l], p.avail, p.rng)
		for _, i := range lists[l] {
			bits.Set(int(i))
		}
		p.fresh += len(lists[l])
	}
	for _, ps := range p.peers {
		ps.want = 0
		if !ps.seed {
			for wi, w := range ps.bits.words {
				ps.want += popcount(w & p.want.words[wi])
			}
		}
	}
}

func (p *Picker) freshInsert(i int) {
	l := p.prio[i]
	p.levels[l].insert(int32(i), int(p.avail[i]), p.rng)
	p.levelBits[l].Set(i)
	p.seqCursor[l] = min(p.seqCursor[l], i>>6)
	p.fresh++
}

func (p *Picker) freshRemove(i int) {
	if p.pos[i] < 0 {
		return
	}
	l := p.prio[i]
	p.levels[l].remove(int32(i), int(p.avail[i]))
	p.levelBits[l].Clear(i)
	p.fresh--
}

func (p *Picker) availInc(i int) {
	if p.pos[i] >= 0 {
		p.levels[p.prio[i]].inc(int32(i), int(p.avail[i]), p.rng)
	}
	p.avail[i]++
}

func (p *Picker) availDec(i int) {
	if p.pos[i] >= 0 {
		p.levels[p.prio[i]].dec(int32(i), int(p.avail[i]), p.rng)
	}
	p.avail[i]--
}

// Peer availability.

func (p *Picker) peer(id PeerID) *peerState {
	ps := p.peers[id]
	if ps == nil {
		ps = &peerState{}
		p.peers[id] = ps
	}
	return ps
}

// forget subtracts the peer's pieces from availability and empties its set.
func (p *Picker) forget(ps *peerState) {
	if ps.seed {
		p.seeds--
		ps.seed = false
	} else if ps.count > 0 {
		ps.bits.each(p.availDec)
		clear(ps.bits.words)
	}
	ps.count, ps.want = 0, 0
}

func (p *Picker) makeSeed(ps *peerState) {
	p.forget(ps)
	ps.seed = true
	ps.bits = Bitfield{}
	ps.count = p.numPieces
	p.seeds++
}

// PeerBitfield replaces what peer has with bits (a bitfield message).
func (p *Picker) PeerBitfield(peer PeerID, bits Bitfield) error {
	if bits.Len() != p.numPieces {
		return ErrBitfield
	}
	ps := p.peer(peer)
	c := bits.Count()
	if c == p.numPieces {
		p.makeSeed(ps)
		return nil
	}
	p.forget(ps)
	if ps.bits.n != p.numPieces {
		ps.bits = NewBitfield(p.numPieces)
	}
	copy(ps.bits.words, bits.words)
	ps.count = c
	bits.each(p.availInc)
	for wi, w := range bits.words {
		ps.want += popcount(w & p.want.words[wi])
	}
	return nil
}

// PeerHasAll records that peer has every piece (have-all, BEP 6).
func (p *Picker) PeerHasAll(peer PeerID) { p.makeSeed(p.peer(peer)) }

// PeerHasNone records that peer has no piece (have-none, BEP 6).
func (p *Picker) PeerHasNone(peer PeerID) { p.forget(p.peer(peer)) }

// PeerHas records that peer has piece i (a have message). Repeats are
// ignored.
func (p *Picker) PeerHas(peer PeerID, i int) error {
	if i < 0 || i >= p.numPieces {
		return ErrPiece
	}
	ps := p.peer(peer)
	if ps.has(i) {
		return nil
	}
	if ps.bits.n != p.numPieces {
		ps.bits = NewBitfield(p.numPieces)
	}
	ps.bits.Set(i)
	ps.count++
	p.availInc(i)
	if p.want.Has(i) {
		ps.want++
	}
	if ps.count == p.numPieces {
		p.makeSeed(ps)
	}
	return nil
}

// PeerGone forgets peer: its pieces leave the availability counts and its
// outstanding requests go back to the pool.
func (p *Picker) PeerGone(peer PeerID) {
	ps := p.peers[peer]
	if ps == nil {
		return
	}
	p.CancelAll(peer)
	p.forget(ps)
	delete(p.peers, peer)
}

// Interesting reports whether peer has a piece we want, that is whether we
// should be interested in it.
func (p *Picker) Interesting(peer PeerID) bool {
	ps := p.peers[peer]
	switch {
	case ps == nil:
		return false
	case ps.seed:
		return p.missing > 0
	}
	return ps.want > 0
}

// PeerPieces returns how many pieces peer has (repeated have messages
// count once) and whether it has them all.
func (p *Picker) PeerPieces(peer PeerID) (n int, seed bool) {
	if ps := p.peers[peer]; ps != nil {
		return ps.count, ps.seed
	}
	return 0, false
}

// Outstanding returns the number of our requests to peer not yet answered.
func (p *Picker) Outstanding(peer PeerID) int {
	if ps := p.peers[peer]; ps != nil {
		return ps.outstanding
	}
	return 0
}

// Queries.

// Have returns a copy of the set of verified pieces.
func (p *Picker) Have() Bitfield { return p.have.Clone() }

// Has reports whether piece i is verified (without copying the bitfield).
func (p *Picker) Has(i int) bool { return p.have.Has(i) }

// HaveCount returns the number of verified pieces.
func (p *Picker) HaveCount() int { return p.haveCount }

// Missing returns the number of wanted pieces not yet verified.
func (p *Picker) Missing() int { return p.missing }

// Complete reports whether every wanted piece is verified.
func (p *Picker) Complete() bool { return p.missing == 0 }

// Availability writes every piece's availability (peers holding it, seeds
// included) into dst, reusing it when large enough, and returns it.
func (p *Picker) Availability(dst []int) []int {
	if cap(dst) < p.numPieces {
		dst = make([]int, p.numPieces)
	}
	dst = dst[:p.numPieces]
	for i, a := range p.avail {
		dst[i] = int(a) + p.seeds
	}
	return dst
}

// PieceProgress returns how many blocks of piece i are received and how
// many it has.
func (p *Picker) PieceProgress(i int) (received, blocks int) {
	if i < 0 || i >= p.numPieces {
		return 0, 0
	}
	blocks = p.numBlocks(i)
	switch {
	case p.have.Has(i):
		return blocks, blocks
	case p.parts[i] != nil:
		return int(p.parts[i].received), blocks
	}
	return 0, blocks
}

// Endgame reports whether every block of every wanted piece is requested
// or received while some wanted piece is still unverified.
func (p *Picker) Endgame() bool {
	if p.missing == 0 || p.fresh > 0 {
		return false
	}
	for _, pt := range p.open {
		if p.prio[pt.piece] != Skip {
			return false
		}
	}
	return true
}

// Hash results.

// PieceVerified records that piece i passed its hash check (or was found
// on disk). Any requests still outstanding for it are dropped.
func (p *Picker) PieceVerified(i int) {
	if i < 0 || i >= p.numPieces || p.have.Has(i) {
		return
	}
	p.have.Set(i)
	p.haveCount++
	p.freshRemove(i)
	if pt := p.parts[i]; pt != nil {
		p.dropRequests(pt)
		p.dropPartial(pt)
	}
	if p.want.Has(i) {
		p.want.Clear(i)
		p.missing--
		for _, ps := range p.peers {
			if !ps.seed && ps.bits.Has(i) {
				ps.want--
			}
		}
	}
}

// PieceFailed records that piece i failed its hash check: its received
// blocks are discarded and go back to the pool. It returns the distinct
// peers that delivered those blocks, in order of first block.
func (p *Picker) PieceFailed(i int) []PeerID {
	if i < 0 || i >= p.numPieces || p.have.Has(i) {
		return nil
	}
	pt := p.parts[i]
	if pt == nil {
		return nil
	}
	var from []PeerID
	for b := range pt.recv {
		if !pt.recv[b] {
			continue
		}
		seen := false
		for _, f := range from {
			seen = seen || f == pt.from[b]
		}
		if !seen {
			from = append(from, pt.from[b])
		}
		pt.recv[b] = false
	}
	pt.received = 0
	pt.firstFree = 0
	p.updateOpen(pt)
	p.maybeRelease(pt)
	return from
}
