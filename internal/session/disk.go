package session

import (
	"bytes"
	"crypto/sha1"
	"fmt"
	"hash"
	"sync"

	"tt/peerwire"
	"tt/picker"
)

// diskJob writes one received block; ready marks the last block of a piece,
// after which the piece is hashed.
type diskJob struct {
	piece int
	begin int64
	data  []byte
	from  picker.PeerID
	ready bool
}

// diskEvent reports a write failure or a hashed piece.
type diskEvent struct {
	piece int
	ok    bool
	err   error
	// blockHashes are per-block SHA-1s of the piece as written, taken when
	// the piece failed, or when it passed after an earlier failure.
	blockHashes [][20]byte
}

// pieceHasher hashes a piece as its blocks are written, as long as they
// arrive in order (the usual case: requests go out in order), so that a
// completed piece need not be read back from disk.
type pieceHasher struct {
	h      hash.Hash
	next   int64
	broken bool // a block came out of order: read the piece back instead
}

// diskLoop writes blocks in arrival order, so a piece's blocks are all on
// disk before it is hashed. Pieces whose blocks came in order are judged
// from the running hash; the others are read back and hashed on a bounded
// pool of goroutines.
func (s *Session) diskLoop() {
	sem := make(chan struct{}, s.cfg.HashWorkers)
	var wg sync.WaitGroup
	hashers := map[int]*pieceHasher{}
	// Runs of contiguous blocks of one piece that are already queued are
	// written with one call: fewer system calls for the page cache.
	run := make([]byte, 0, maxWriteRun)
	var pending []diskJob
	var jobs []diskJob // the run being gathered, reused
	for {
		var j diskJob
		var ok bool
		if len(pending) > 0 {
			j, pending = pending[0], pending[1:]
			ok = true
		} else {
			j, ok = <-s.diskJobs
		}
		if !ok {
			break
		}
		jobs = append(jobs[:0], j)
		end := j.begin + int64(len(j.data))
	gather:
		for !j.ready && len(run)+int(end-jobs[0].begin) < maxWriteRun {
			select {
			case n, more := <-s.diskJobs:
				if !more {
					break gather
				}
				if n.piece != j.piece || n.begin != end {
					pending = append(pending, n)
					break gather
				}
				jobs = append(jobs, n)
				end += int64(len(n.data))
				j = n
			default:
				break gather
			}
		}
		data := jobs[0].data
		if len(jobs) > 1 {
			run = run[:0]
			for _, x := range jobs {
				run = append(run, x.data...)
			}
			data = run
		}
		first := jobs[0]
		err := s.store.WriteBlock(first.piece, first.begin, data)
		ph := hashers[first.piece]
		if ph == nil {
			ph = &pieceHasher{h: sha1.New()}
			hashers[first.piece] = ph
		}
		if err == nil && !ph.broken && first.begin == ph.next {
			ph.h.Write(data)
			ph.next += int64(len(data))
		} else {
			ph.broken = true
		}
		for _, x := range jobs {
			putBlock(x.data)
		}
		if err != nil {
			delete(hashers, first.piece)
			wg.Add(1)
			go func(ev diskEvent) { defer wg.Done(); s.postDisk(ev) }(diskEvent{piece: first.piece, err: fmt.Errorf("%w: %w", ErrDisk, err)})
			continue
		}
		if !j.ready {
			continue
		}
		delete(hashers, j.piece)
		if !ph.broken && ph.next == s.t.PieceLen(j.piece) {
			var sum [20]byte
			ph.h.Sum(sum[:0])
			wg.Add(1)
			go func(piece int) { defer wg.Done(); s.postDisk(s.judgePiece(piece, sum)) }(j.piece)
			continue
		}
		sem <- struct{}{}
		wg.Add(1)
		go func(piece int) {
			defer func() { <-sem; wg.Done() }()
			s.postDisk(s.hashPiece(piece))
		}(j.piece)
	}
	wg.Wait()
}

// maxWriteRun bounds one coalesced write.
const maxWriteRun = 1 << 20

// hashPiece reads a piece back from storage and judges it.
func (s *Session) hashPiece(piece int) diskEvent {
	sum, err := s.store.HashPiece(piece)
	if err != nil {
		return diskEvent{piece: piece, err: fmt.Errorf("%w: %w", ErrDisk, err)}
	}
	return s.judgePiece(piece, sum)
}

// judgePiece compares a piece's hash with the torrent's; for smart ban it
// also hashes the blocks of a piece that failed, or passed after failing.
func (s *Session) judgePiece(piece int, sum [20]byte) diskEvent {
	ev := diskEvent{piece: piece, ok: bytes.Equal(sum[:], s.t.PieceHash(piece))}
	if !ev.ok || s.suspectPiece(piece) {
		ev.blockHashes = s.blockHashes(piece)
	}
	return ev
}

// blockHashes hashes each 16 KiB block of a piece as it is on disk.
func (s *Session) blockHashes(piece int) [][20]byte {
	n := s.t.PieceLen(piece)
	var out [][20]byte
	buf := make([]byte, picker.BlockSize)
	for off := int64(0); off < n; off += picker.BlockSize {
		b := buf[:min(picker.BlockSize, n-off)]
		if _, err := s.store.ReadBlock(piece, off, b); err != nil {
			return nil
		}
		out = append(out, sha1.Sum(b))
	}
	return out
}

func (s *Session) postDisk(ev diskEvent) {
	select {
	case s.diskEvents <- ev:
	case <-s.ctx.Done():
	}
}

// suspect is what was known of a piece that failed its hash: who sent each
// block and what it hashed to.
type suspect struct {
	from   []picker.PeerID
	hashes [][20]byte
}

func (s *Session) suspectPiece(piece int) bool {
	s.suspectsMu.Lock()
	defer s.suspectsMu.Unlock()
	_, ok := s.suspects[piece]
	return ok
}

// handleDisk acts on a hashed piece or a disk failure.
func (s *Session) handleDisk(ev diskEvent) {
	if ev.err != nil {
		s.fatal = ev.err
		return
	}
	if ev.ok {
		s.pick.PieceVerified(ev.piece)
		s.blockSenders(ev.piece)
		s.smartBan(ev.piece, ev.blockHashes)
		s.updateLeft()
		for _, p := range s.peers {
			p.c.send(outItem{msg: peerwire.Message{Kind: peerwire.Have, Index: uint32(ev.piece)}})
			s.updateInterest(p)
		}
		s.emit(Event{Type: "piece_verified", Piece: ev.piece, Have: s.pick.HaveCount(), Pieces: s.numPieces})
		if s.pick.Complete() {
			s.onComplete()
		}
		return
	}
	s.hashFails++
	contributors := s.pick.PieceFailed(ev.piece)
	s.emit(Event{Type: "hash_failed", Piece: ev.piece, Peers: s.addrsOf(contributors)})
	// Remember who sent which block, so that when the piece later passes the
	// blocks that differ name the peer that lied.
	from := s.blockSenders(ev.piece)
	s.suspectsMu.Lock()
	s.suspects[ev.piece] = suspect{from: from, hashes: ev.blockHashes}
	s.suspectsMu.Unlock()
	if len(contributors) == 1 {
		s.strike(contributors[0], 1, ev.piece)
	}
	s.requestAll()
}

// smartBan compares a piece that passed with the blocks recorded when it
// failed: every block that changed came from a peer that sent bad data.
func (s *Session) smartBan(piece int, good [][20]byte) {
	s.suspectsMu.Lock()
	sus, ok := s.suspects[piece]
	delete(s.suspects, piece)
	s.suspectsMu.Unlock()
	if !ok || len(good) != len(sus.hashes) {
		return
	}
	for i := range good {
		if good[i] != sus.hashes[i] && i < len(sus.from) && sus.from[i] != 0 {
			s.strike(sus.from[i], 2, piece)
		}
	}
}

// banStrikes is how many strikes close a peer for good. A peer that alone
// sent a failing piece gets one; a block proven bad by smart ban, two.
const banStrikes = 2

func (s *Session) strike(id picker.PeerID, n, piece int) {
	p := s.peers[id]
	if p == nil {
		if a, ok := s.gone[id]; ok {
			if k := s.known[a]; k != nil {
				k.banned = true
			}
		}
		return
	}
	p.strikes += n
	if p.strikes < banStrikes {
		return
	}
	if k := s.known[p.c.addr]; k != nil {
		k.banned = true
	} else {
		s.known[p.c.addr] = &knownPeer{source: p.source, banned: true}
	}
	s.emit(Event{Type: "peer_banned", Peer: p.c.addr.String(), Piece: piece, Reason: "sent data that failed hash checks"})
	s.dropPeer(p, "banned: bad data")
}

// blockSenders lists who sent each block of a piece, and forgets it.
func (s *Session) blockSenders(piece int) []picker.PeerID {
	n := s.t.PieceLen(piece)
	var out []picker.PeerID
	for off := int64(0); off < n; off += picker.BlockSize {
		blk := picker.Block{Piece: piece, Begin: int(off), Length: int(min(picker.BlockSize, n-off))}
		out = append(out, s.blockFrom[blk])
		delete(s.blockFrom, blk)
	}
	return out
}

func (s *Session) addrsOf(ids []picker.PeerID) []string {
	var out []string
	for _, id := range ids {
		if p := s.peers[id]; p != nil {
			out = append(out, p.c.addr.String())
		} else if a, ok := s.gone[id]; ok {
			out = append(out, a.String())
		}
	}
	return out
}
