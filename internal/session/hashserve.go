package session

import (
	"errors"
	"fmt"
	"time"

	"golang.org/x/time/rate"

	"tt/internal/merkle"
	"tt/metainfo"
	"tt/peerwire"
)

// The seeding side of BEP 52 hash requests: a peer asks for a run of nodes
// of one file's merkle tree and the uncle hashes that prove them against
// the file's pieces root. They are answered from the piece layers of the
// torrent, so any layer from the piece layer up is served whatever pieces
// we have. Layers below the piece layer (the leaves, when pieces are larger
// than a block) would need the data and are rejected.

// Bounds of hash serving, per peer.
const (
	// maxServedHashes is the longest request answered: BEP 52 says a
	// request SHOULD NOT be longer, and libtorrent asks for piece hashes in
	// runs of 512.
	maxServedHashes = 512
	// Hashes sent, counted in nodes (32 bytes each): a burst of 32 full
	// runs, then 128 KiB a second. Requests beyond it are rejected.
	hashSendBurst = 32 * maxServedHashes
	hashSendRate  = 4096
	// Hash requests, answered or not: past this the peer is flooding and
	// is dropped.
	hashRequestBurst = 256
	hashRequestRate  = 64
)

var (
	errHashFlood     = errors.New("flood of hash requests")
	errUnaskedHashes = errors.New("hashes we did not ask for")
)

// hashQuota is what one peer may still ask of the hash server.
type hashQuota struct {
	requests *rate.Limiter // hash requests received
	hashes   *rate.Limiter // nodes sent in answers
}

func newHashQuota() *hashQuota {
	return &hashQuota{
		requests: rate.NewLimiter(hashRequestRate, hashRequestBurst),
		hashes:   rate.NewLimiter(hashSendRate, hashSendBurst),
	}
}

// hashServer answers hash requests for one torrent. The loop owns it.
type hashServer struct {
	t           *metainfo.Torrent
	pieceHeight int
	// files holds, by pieces root, the V2Files index of each file whose
	// piece layer the torrent carries.
	files map[[32]byte]int
	// trees holds the layers from the piece layer to the root of each file
	// asked about, built on its first request (about twice its piece layer).
	trees map[[32]byte][][]merkle.Hash
}

// newHashServer indexes t's files. A v1 torrent (or a v2 one without
// piece layers) gets a server that knows no root and rejects everything.
func newHashServer(t *metainfo.Torrent) *hashServer {
	hs := &hashServer{t: t, files: map[[32]byte]int{}, trees: map[[32]byte][][]merkle.Hash{}}
	h, ok := merkle.PieceHeight(t.Info.PieceLength)
	if !ok {
		return hs
	}
	hs.pieceHeight = h
	for i := range t.Info.V2Files {
		f := &t.Info.V2Files[i]
		if f.LayerStatus == metainfo.LayerOK && f.Length > 0 {
			hs.files[f.PiecesRoot] = i
		}
	}
	return hs
}

// hashServerFor returns the hash server of the current torrent, nil while
// it is not known (a magnet link before its metadata).
func (s *Session) hashServerFor() *hashServer {
	if s.t == nil {
		return nil
	}
	if s.hashes == nil || s.hashes.t != s.t {
		s.hashes = newHashServer(s.t)
	}
	return s.hashes
}

// handleHashMessage takes a hash request, hashes or hash reject.
func (s *Session) handleHashMessage(p *peerState, m peerwire.Message) error {
	switch m.Kind {
	case peerwire.HashRequest:
		return s.handleHashRequest(p, m.Payload)
	case peerwire.Hashes:
		if _, err := peerwire.ParseHashes(m.Payload); err != nil {
			return err
		}
		return errUnaskedHashes
	case peerwire.HashReject:
		// We send no hash requests yet, so a reject answers nothing.
		_, err := peerwire.ParseHashRequest(m.Payload)
		if err != nil && !errors.Is(err, peerwire.ErrBadHashRequest) {
			return err
		}
	}
	return nil
}

// handleHashRequest answers a hash request with hashes, or with a hash
// reject when we cannot or will not: a malformed request, an unknown root,
// nodes the tree does not have, a v1 torrent, or a peer over its quota. A
// peer past the flood bound is dropped.
func (s *Session) handleHashRequest(p *peerState, payload []byte) error {
	r, err := peerwire.ParseHashRequest(payload)
	if err != nil && !errors.Is(err, peerwire.ErrBadHashRequest) {
		return err
	}
	if p.hashQuota == nil {
		p.hashQuota = newHashQuota()
	}
	now := time.Now()
	if !p.hashQuota.requests.AllowN(now, 1) {
		return errHashFlood
	}
	reply := peerwire.Message{Kind: peerwire.HashReject, Payload: peerwire.AppendHashRequest(nil, r)}
	if hs := s.hashServerFor(); err == nil && hs != nil {
		if hashes, ok := hs.answer(r); ok && p.hashQuota.hashes.AllowN(now, r.NumHashes()) {
			reply = peerwire.Message{Kind: peerwire.Hashes, Payload: peerwire.AppendHashes(nil, peerwire.HashesMsg{HashRange: r, Hashes: hashes})}
		}
	}
	p.c.send(outItem{msg: reply})
	return nil
}

// answer returns the hashes of a hashes message for r, a request that
// passed Validate: r.Length nodes of layer r.Base (padding past the file's
// last node included), then the uncles. ok is false when the torrent
// cannot answer it.
func (hs *hashServer) answer(r peerwire.HashRange) (hashes []byte, ok bool) {
	i, known := hs.files[r.Root]
	if !known || r.Length > maxServedHashes {
		return nil, false
	}
	f := &hs.t.Info.V2Files[i]
	if err := checkHashRequest(r, merkle.NumBlocks(f.Length), hs.pieceHeight); err != nil {
		return nil, false
	}
	layers := hs.tree(f)
	base := int(r.Base) - hs.pieceHeight
	nodes, err := merkle.Proof(layers, base, int(r.Index), int(r.Length), int(r.ProofLayers))
	if err != nil || len(nodes) > r.NumHashes() {
		return nil, false
	}
	out := make([]byte, 0, r.NumHashes()*peerwire.HashSize)
	real := len(nodes) - r.NumUncles()
	for _, h := range nodes[:real] {
		out = append(out, h[:]...)
	}
	pad := merkle.PadHash(int(r.Base))
	for range int(r.Length) - real {
		out = append(out, pad[:]...)
	}
	for _, h := range nodes[real:] {
		out = append(out, h[:]...)
	}
	return out, true
}

// checkHashRequest checks a valid request against the tree of a file of
// numBlocks blocks whose piece layer is at pieceHeight: a base layer from
// the piece layer to below the root, the requested nodes inside the padded
// layer, and proof layers that stop below the root (as libtorrent's
// validate_hash_request does).
func checkHashRequest(r peerwire.HashRange, numBlocks int64, pieceHeight int) error {
	top := merkle.Height(numBlocks) // the root's height
	base := int(r.Base)
	switch {
	case base < pieceHeight:
		return fmt.Errorf("base %d below the piece layer %d", base, pieceHeight)
	case base >= top:
		return fmt.Errorf("base %d at or above the root at %d", base, top)
	case int64(r.Index)+int64(r.Length) > merkle.Width(numBlocks)>>base:
		return fmt.Errorf("nodes %d to %d past layer %d of %d", r.Index, r.Index+r.Length, base, merkle.Width(numBlocks)>>base)
	case int(r.ProofLayers) >= top-base:
		return fmt.Errorf("%d proof layers from %d pass the root at %d", r.ProofLayers, base, top)
	}
	return nil
}

// tree returns the layers of f's tree from the piece layer up, building
// them on first use.
func (hs *hashServer) tree(f *metainfo.V2File) [][]merkle.Hash {
	if l, ok := hs.trees[f.PiecesRoot]; ok {
		return l
	}
	piece := make([]merkle.Hash, len(f.Layer)/merkle.HashSize)
	for i := range piece {
		copy(piece[i][:], f.Layer[i*merkle.HashSize:])
	}
	l := merkle.Layers(piece, hs.pieceHeight, 0)
	hs.trees[f.PiecesRoot] = l
	return l
}
