package session

import (
	"bytes"
	"crypto/sha1"
	"fmt"
	"hash"
	"sync"
	"time"

	"tt/peerwire"
	"tt/picker"
)

// diskJob writes one received block; ready marks the last block of a piece,
// after which the piece is hashed (and, when suspect, its blocks too, for
// smart ban).
type diskJob struct {
	piece   int
	begin   int64
	data    []byte
	ready   bool
	suspect bool
}

// diskEvent reports bytes written, a write failure or a hashed piece.
type diskEvent struct {
	piece   int
	written int64 // bytes now on disk (a write, not a hash result)
	ok      bool
	err     error
	// blockHashes are per-block SHA-1s of the piece as written, taken when
	// the piece failed, or when it passed after an earlier failure.
	blockHashes [][20]byte
}

// disk is the loop's side of the disk goroutine: received blocks wait in
// queue until the goroutine takes them, so the loop never blocks on it.
// backlog counts the bytes received and not yet written. Blocks requested
// and not yet received count against the bound as well, since they are on
// their way: once the two reach it no more blocks are requested, until
// they are down to half.
type disk struct {
	queue     []diskJob
	backlog   int64
	peak      int64 // the largest backlog so far
	throttled bool
}

func (d *disk) push(j diskJob) {
	d.queue = append(d.queue, j)
	d.backlog += int64(len(j.data))
	d.peak = max(d.peak, d.backlog)
}

// head returns the channel to offer the next job on, nil when none waits.
func (d *disk) head(ch chan diskJob) (chan<- diskJob, diskJob) {
	if len(d.queue) == 0 {
		return nil, diskJob{}
	}
	return ch, d.queue[0]
}

// sent drops the job head offered, now taken.
func (d *disk) sent() {
	d.queue[0] = diskJob{}
	d.queue = d.queue[1:]
	if len(d.queue) == 0 {
		d.queue = d.queue[:0:0]
	}
}

// room says how many more blocks may be requested with requested bytes
// already asked for, 0 while requests wait for the disk.
func (d *disk) room(requested, limit int64) int {
	pending := d.backlog + requested
	if d.throttled {
		d.throttled = pending > limit/2
	} else {
		d.throttled = pending >= limit
	}
	if d.throttled {
		return 0
	}
	return int((limit - pending + picker.BlockSize - 1) / picker.BlockSize)
}

// diskRoom is how many more blocks may be requested before what waits
// for the disk, or is on its way, reaches Config.MaxDiskBacklog.
func (s *Session) diskRoom() int {
	requested := 0
	for _, p := range s.peers {
		requested += len(p.requests)
	}
	return s.disk.room(int64(requested)*picker.BlockSize, s.cfg.MaxDiskBacklog)
}

// startDisk runs the disk goroutine.
func (s *Session) startDisk() {
	s.diskDone = make(chan struct{})
	go func() { s.diskLoop(); close(s.diskDone) }()
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
	w := &diskWriter{s: s, hashers: map[int]*pieceHasher{}, run: make([]byte, 0, maxWriteRun)}
	for {
		j, ok := w.next()
		if !ok {
			break
		}
		last := w.gather(j)
		n, ph, err := w.write()
		if err != nil {
			s.postDisk(diskEvent{piece: last.piece, err: fmt.Errorf("%w: %w", ErrDisk, err)})
			continue
		}
		s.postDisk(diskEvent{piece: -1, written: n})
		if !last.ready {
			continue
		}
		delete(w.hashers, last.piece)
		if !ph.broken && ph.next == s.t.PieceLen(last.piece) {
			var sum [20]byte
			ph.h.Sum(sum[:0])
			wg.Add(1)
			go func(piece int, suspect bool) { defer wg.Done(); s.postDisk(s.judgePiece(piece, sum, suspect)) }(last.piece, last.suspect)
			continue
		}
		sem <- struct{}{}
		wg.Add(1)
		go func(piece int, suspect bool) {
			defer func() { <-sem; wg.Done() }()
			s.postDisk(s.hashPiece(piece, suspect))
		}(last.piece, last.suspect)
	}
	wg.Wait()
}

// diskWriter is diskLoop's state: the running hashes of the pieces being
// written and the run of contiguous blocks of one piece gathered for one
// write call (fewer system calls for the page cache).
type diskWriter struct {
	s       *Session
	hashers map[int]*pieceHasher
	run     []byte    // the gathered blocks' bytes, reused
	pending []diskJob // taken from the queue but not part of the run
	jobs    []diskJob // the run being gathered, reused
}

// next takes the next job: one held back by gather first, then the queue.
func (w *diskWriter) next() (diskJob, bool) {
	if len(w.pending) > 0 {
		j := w.pending[0]
		w.pending = w.pending[1:]
		return j, true
	}
	j, ok := <-w.s.diskJobs
	return j, ok
}

// gather starts a run with j and adds the blocks already queued that
// follow it in the same piece, up to maxWriteRun or a piece's last block;
// it returns the run's last job.
func (w *diskWriter) gather(j diskJob) diskJob {
	w.jobs = append(w.jobs[:0], j)
	end := j.begin + int64(len(j.data))
	for !j.ready && end-w.jobs[0].begin < maxWriteRun {
		var n diskJob
		var more bool
		select {
		case n, more = <-w.s.diskJobs:
		default:
			return j
		}
		if !more {
			return j
		}
		if n.piece != j.piece || n.begin != end {
			w.pending = append(w.pending, n)
			return j
		}
		w.jobs = append(w.jobs, n)
		end += int64(len(n.data))
		j = n
	}
	return j
}

// write stores the gathered run, feeds it to its piece's running hash and
// returns the blocks to the pool. On an error the piece's hash is dropped.
func (w *diskWriter) write() (int64, *pieceHasher, error) {
	data := w.jobs[0].data
	if len(w.jobs) > 1 {
		w.run = w.run[:0]
		for _, x := range w.jobs {
			w.run = append(w.run, x.data...)
		}
		data = w.run
	}
	first := w.jobs[0]
	err := w.s.store.WriteBlock(first.piece, first.begin, data)
	ph := w.hashers[first.piece]
	if ph == nil {
		ph = &pieceHasher{h: sha1.New()}
		w.hashers[first.piece] = ph
	}
	if err == nil && !ph.broken && first.begin == ph.next {
		ph.h.Write(data)
		ph.next += int64(len(data))
	} else {
		ph.broken = true
	}
	n := int64(len(data))
	for _, x := range w.jobs {
		putBlock(x.data)
	}
	if err != nil {
		delete(w.hashers, first.piece)
	}
	return n, ph, err
}

// maxWriteRun bounds one coalesced write. Larger runs cost more than they
// save: at 1 MiB a 2 GiB download took twice the system time (the copy,
// the hash and the write of a run no longer share the CPU's cache).
const maxWriteRun = 128 << 10

// hashPiece reads a piece back from storage and judges it.
func (s *Session) hashPiece(piece int, suspect bool) diskEvent {
	sum, err := s.store.HashPiece(piece)
	if err != nil {
		return diskEvent{piece: piece, err: fmt.Errorf("%w: %w", ErrDisk, err)}
	}
	return s.judgePiece(piece, sum, suspect)
}

// judgePiece compares a piece's hash with the torrent's; for smart ban it
// also hashes the blocks of a piece that failed, or passed after failing.
func (s *Session) judgePiece(piece int, sum [20]byte, suspect bool) diskEvent {
	ev := diskEvent{piece: piece, ok: bytes.Equal(sum[:], s.t.PieceHash(piece))}
	if !ev.ok || suspect {
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

// handleDisk acts on a hashed piece or a disk failure.
func (s *Session) handleDisk(ev diskEvent) {
	if ev.err != nil {
		s.fatal = ev.err
		return
	}
	if ev.written > 0 {
		s.disk.backlog -= ev.written
		if s.disk.throttled {
			// Data waits for the disk, not for the swarm: as long as
			// writes complete the session is not stalled.
			s.lastData = time.Now()
			if s.diskRoom() > 0 {
				s.requestAll()
			}
		}
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
		s.emit(Event{Type: EvPieceVerified, Piece: ev.piece, Have: s.pick.HaveCount(), Pieces: s.numPieces})
		if s.pick.Complete() {
			s.onComplete()
		}
		return
	}
	s.hashFails++
	contributors := s.pick.PieceFailed(ev.piece)
	s.emit(Event{Type: EvHashFailed, Piece: ev.piece, Peers: s.addrsOf(contributors)})
	// Remember who sent which block, so that when the piece later passes the
	// blocks that differ name the peer that lied.
	s.suspects[ev.piece] = suspect{from: s.blockSenders(ev.piece), hashes: ev.blockHashes}
	if len(contributors) == 1 {
		s.strike(contributors[0], 1, ev.piece, badData)
	}
	s.requestAll()
}

// smartBan compares a piece that passed with the blocks recorded when it
// failed: every block that changed came from a peer that sent bad data.
func (s *Session) smartBan(piece int, good [][20]byte) {
	sus, ok := s.suspects[piece]
	delete(s.suspects, piece)
	if !ok || len(good) != len(sus.hashes) {
		return
	}
	for i := range good {
		if good[i] != sus.hashes[i] && i < len(sus.from) && sus.from[i] != 0 {
			s.strike(sus.from[i], 2, piece, badData)
		}
	}
}

// badData is why a peer is banned for failing pieces.
const badData = "sent data that failed hash checks"

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
