package session

import (
	"crypto/sha1"
	"errors"
	"fmt"
	"strconv"
	"time"

	"tt/metainfo"
	"tt/peerwire"
	"tt/picker"
)

// ErrBadMetadata ends a session whose info dictionary, though it hashes to
// the info-hash, is not a usable torrent.
var ErrBadMetadata = errors.New("session: metadata from peers")

// metaFetch assembles a magnet link's info dictionary (BEP 9) from the
// session's own connections. It trusts no single peer: the size to
// assemble is the one most peers announce that has not failed, every piece
// is remembered with its sender, and after a failed check the pieces are
// fetched again from other peers, then from one peer alone. Only a peer
// whose data is proven wrong is banned: one that sent a piece that differs
// from the piece of the dictionary that verified, one that announced
// another size than it has, or one whose dictionary alone failed.
type metaFetch struct {
	size    int // being assembled; 0: not chosen
	pieces  [][]byte
	from    []picker.PeerID
	askedOf []picker.PeerID
	askedAt []time.Time
	have    int

	solo    picker.PeerID // the attempt asks this peer alone
	tried   map[picker.PeerID]bool
	failed  map[int]int // by size: assemblies that failed the check
	sent    map[metaKey][]metaRecord
	pending map[picker.PeerID]int // requests outstanding, by peer
	refused map[picker.PeerID]time.Time

	torrent *metainfo.Torrent // once verified
}

type metaKey struct{ size, piece int }

// metaRecord is one piece of a failed assembly: who sent what.
type metaRecord struct {
	from picker.PeerID
	sum  [20]byte
}

// Metadata request timing.
const (
	metaRequestTimeout = 5 * time.Second
	metaRefusedFor     = 30 * time.Second
	metaSpreadAttempts = 2 // attempts that spread pieces over peers; then one peer at a time
	metaPerPeer        = 4 // requests outstanding to one peer (libtorrent refuses more)
)

func newMetaFetch() *metaFetch {
	return &metaFetch{tried: map[picker.PeerID]bool{}, failed: map[int]int{}, sent: map[metaKey][]metaRecord{},
		pending: map[picker.PeerID]int{}, refused: map[picker.PeerID]time.Time{}}
}

func (m *metaFetch) numPieces() int {
	return (m.size + peerwire.MetadataPieceSize - 1) / peerwire.MetadataPieceSize
}

// progress says how far the assembly is, for snapshots.
func (m *metaFetch) progress(peers int) string {
	if m.size == 0 {
		if peers == 0 {
			return "looking for peers"
		}
		return fmt.Sprintf("asking %d peers", peers)
	}
	return fmt.Sprintf("%d of %d pieces", m.have, m.numPieces())
}

func (m *metaFetch) peerGone(id picker.PeerID) {
	for i, of := range m.askedOf {
		if of == id {
			m.askedOf[i] = 0
		}
	}
	delete(m.pending, id)
	delete(m.refused, id)
	if m.solo == id {
		m.solo = 0
	}
}

// expire frees the pieces whose requests went unanswered; their peers
// are not asked again for a while.
func (m *metaFetch) expire(now time.Time) {
	for i, id := range m.askedOf {
		if id != 0 && now.Sub(m.askedAt[i]) > metaRequestTimeout {
			m.askedOf[i] = 0
			m.pending[id]--
			m.refused[id] = now
		}
	}
}

// restart drops the assembly under way; the next ask chooses again.
func (m *metaFetch) restart() {
	m.size, m.pieces, m.from, m.askedOf, m.askedAt, m.have, m.solo = 0, nil, nil, nil, nil, 0, 0
	clear(m.pending)
}

// askable says whether a peer can be asked for metadata of size now.
func (s *Session) askable(p *peerState, size int, now time.Time) bool {
	if p == nil || p.utMetadata == 0 || p.metaSize != size || s.set.isBanned(p.c.addr) {
		return false
	}
	if at, ok := s.meta.refused[p.c.id]; ok && now.Sub(at) < metaRefusedFor {
		return false
	}
	return true
}

// chooseSize picks the size to assemble: the fewest failures first, then
// the most peers announcing it, then the smaller.
func (s *Session) chooseSize(now time.Time) int {
	m := s.meta
	votes := map[int]int{}
	for _, p := range s.peers {
		if s.askable(p, p.metaSize, now) {
			votes[p.metaSize]++
		}
	}
	best := 0
	for size, n := range votes {
		switch {
		case best == 0, m.failed[size] < m.failed[best],
			m.failed[size] == m.failed[best] && n > votes[best],
			m.failed[size] == m.failed[best] && n == votes[best] && size < best:
			best = size
		}
	}
	return best
}

// askMetadata sends metadata requests to every peer that can take one.
func (s *Session) askMetadata() {
	m := s.meta
	if m == nil || m.torrent != nil || s.paused {
		return
	}
	now := time.Now()
	if m.size == 0 || !s.anyAskable(m.size, now) {
		size := s.chooseSize(now)
		if size == 0 {
			return
		}
		if size != m.size {
			m.restart()
			m.size = size
			n := m.numPieces()
			m.pieces, m.from, m.askedOf, m.askedAt = make([][]byte, n), make([]picker.PeerID, n), make([]picker.PeerID, n), make([]time.Time, n)
		}
	}
	if m.failed[m.size] >= metaSpreadAttempts && (m.solo == 0 || !s.askable(s.peers[m.solo], m.size, now)) {
		if m.solo = s.soloPeer(m.size, now); m.solo == 0 {
			return // every peer of this size was tried alone
		}
	}
	for _, p := range s.peers {
		if (m.solo != 0 && p.c.id != m.solo) || !s.askable(p, m.size, now) {
			continue
		}
		for m.pending[p.c.id] < metaPerPeer {
			i := m.pick(p.c.id, now)
			if i < 0 {
				return
			}
			m.askedOf[i], m.askedAt[i] = p.c.id, now
			m.pending[p.c.id]++
			req := peerwire.AppendMetadataMsg(nil, peerwire.MetadataMsg{Type: peerwire.MetadataRequest, Piece: i})
			p.c.send(outItem{msg: peerwire.Message{Kind: peerwire.Extended, ExtID: uint8(p.utMetadata), Payload: req}})
		}
	}
}

func (s *Session) anyAskable(size int, now time.Time) bool {
	for _, p := range s.peers {
		if s.askable(p, size, now) {
			return true
		}
	}
	return false
}

// soloPeer chooses the next peer to assemble the whole dictionary from:
// one not yet tried alone, with the fewest pieces in failed assemblies.
func (s *Session) soloPeer(size int, now time.Time) picker.PeerID {
	blamed := map[picker.PeerID]int{}
	for k, recs := range s.meta.sent {
		if k.size == size {
			for _, r := range recs {
				blamed[r.from]++
			}
		}
	}
	var best picker.PeerID
	for id, p := range s.peers {
		if s.meta.tried[id] || !s.askable(p, size, now) {
			continue
		}
		if best == 0 || blamed[id] < blamed[best] || (blamed[id] == blamed[best] && id < best) {
			best = id
		}
	}
	if best != 0 {
		s.meta.tried[best] = true
	}
	return best
}

// pick chooses the piece to ask a peer for: a missing one nobody is asked
// for, preferring one this peer did not send in a failed assembly. -1:
// none.
func (m *metaFetch) pick(id picker.PeerID, now time.Time) int {
	fallback := -1
	for i := range m.pieces {
		if m.pieces[i] != nil || m.askedOf[i] != 0 {
			continue
		}
		if !m.sentBefore(i, id) {
			return i
		}
		if fallback < 0 {
			fallback = i
		}
	}
	return fallback
}

func (m *metaFetch) sentBefore(i int, id picker.PeerID) bool {
	for _, r := range m.sent[metaKey{m.size, i}] {
		if r.from == id {
			return true
		}
	}
	return false
}

// metadataReply takes a peer's answer to our request.
func (s *Session) metadataReply(p *peerState, mm peerwire.MetadataMsg) error {
	m := s.meta
	i := mm.Piece
	if i < 0 || i >= len(m.askedOf) || m.askedOf[i] != p.c.id {
		return nil // not asked, or asked before a restart: ignored
	}
	m.askedOf[i] = 0
	m.pending[p.c.id]--
	if mm.Type == peerwire.MetadataReject {
		m.refused[p.c.id] = time.Now()
		s.askMetadata()
		return nil
	}
	want := min(peerwire.MetadataPieceSize, m.size-i*peerwire.MetadataPieceSize)
	if mm.TotalSize != m.size || len(mm.Data) != want {
		return fmt.Errorf("metadata piece %d: %d bytes of %d, want %d of %d", i, len(mm.Data), mm.TotalSize, want, m.size)
	}
	if m.pieces[i] == nil {
		m.pieces[i], m.from[i] = append([]byte(nil), mm.Data...), p.c.id
		m.have++
		s.lastData = time.Now()
		s.emit(Event{Type: EvMetadataPiece, Peer: p.c.addr.String(), Piece: i})
	}
	if m.have == len(m.pieces) {
		s.metadataComplete()
	}
	s.askMetadata()
	return nil
}

// metadataComplete checks an assembled dictionary against the info-hash.
func (s *Session) metadataComplete() {
	m := s.meta
	info := make([]byte, 0, m.size)
	for _, b := range m.pieces {
		info = append(info, b...)
	}
	if sha1.Sum(info) != s.infoHash {
		s.metadataFailed()
		return
	}
	s.banMetadataLiars()
	// The event says the dictionary matches the info-hash (docs/json.md);
	// parsing a large one takes a while longer.
	s.emit(Event{Type: EvMetadata, Reason: strconv.Itoa(len(info)) + " bytes"})
	t, err := metainfo.Parse(TorrentFile(info, s.cfg.Trackers), metainfo.Options{Lenient: true})
	if err != nil {
		s.fatal = fmt.Errorf("%w: %w", ErrBadMetadata, err)
		return
	}
	m.torrent = t
	m.restart()
	if s.cfg.MetadataOnly {
		return
	}
	if t.Info.Private {
		s.discover() // BEP 27: no DHT, local discovery or PEX
	}
	s.opening = true
	s.openDone = make(chan struct{})
	go func() {
		defer close(s.openDone)
		o, err := s.cfg.Open(s.ctx, t)
		s.opened <- openResult{t: t, o: o, err: err} // buffered: never blocks
	}()
}

// metadataFailed records an assembly that did not hash to the info-hash
// and starts another.
func (s *Session) metadataFailed() {
	m := s.meta
	if m.solo != 0 {
		// One peer sent all of it: proven wrong.
		s.banPeerID(m.solo, "sent metadata that does not match the info-hash")
	}
	for i, b := range m.pieces {
		k := metaKey{m.size, i}
		m.sent[k] = append(m.sent[k], metaRecord{from: m.from[i], sum: sha1.Sum(b)})
	}
	m.failed[m.size]++
	m.restart()
}

// banMetadataLiars bans, once the dictionary verified, the peers proven
// to have lied about it.
func (s *Session) banMetadataLiars() {
	m := s.meta
	liars := map[picker.PeerID]string{}
	for k, recs := range m.sent {
		for _, r := range recs {
			if k.size != m.size || sha1.Sum(m.pieces[k.piece]) != r.sum {
				liars[r.from] = "sent a metadata piece that differs from the verified one"
			}
		}
	}
	for id, p := range s.peers {
		if p.metaSize != 0 && p.metaSize != m.size {
			liars[id] = "announced a wrong metadata_size"
		}
	}
	for id, why := range liars {
		s.banPeerID(id, why)
	}
}

// banPeerID bans a peer that is connected or recently gone.
func (s *Session) banPeerID(id picker.PeerID, why string) {
	if p := s.peers[id]; p != nil {
		s.banAddr(p.c.addr, -1, why)
	} else if a, ok := s.set.gone[id]; ok {
		s.banAddr(a, -1, why)
	}
}

// openResult is what Config.Open returned.
type openResult struct {
	t   *metainfo.Torrent
	o   Opened
	err error
}

// handleOpened carries on with the torrent once its storage is open:
// the connected peers stay, learn what we have, and downloading starts.
func (s *Session) handleOpened(r openResult) {
	s.opening = false
	if r.err != nil {
		s.fatal = r.err
		return
	}
	if err := s.attach(r.t, r.o); err != nil {
		s.fatal = err
		return
	}
	s.meta = nil
	s.startDisk()
	s.updateLeft()
	s.lastData = time.Now()
	s.emitStarted()
	have := s.pick.Have()
	for _, p := range s.peers {
		if err := s.applyEarly(p); err != nil {
			s.dropPeer(p, err.Error())
			continue
		}
		var items []outItem
		for i := range s.numPieces {
			if have.Has(i) {
				items = append(items, outItem{msg: peerwire.Message{Kind: peerwire.Have, Index: uint32(i)}})
			}
		}
		p.c.send(items...)
		s.updateInterest(p)
	}
	if s.pick.Complete() {
		s.onComplete()
	}
	s.connectMore()
}

// TorrentFile wraps an info dictionary and trackers into a .torrent file.
func TorrentFile(info []byte, tiers [][]string) []byte {
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
