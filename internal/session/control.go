package session

import (
	"errors"
	"fmt"
	"time"

	"tt/picker"
)

// FileStats is one file in a detailed snapshot.
type FileStats struct {
	Path     string // "/"-separated, inside the torrent
	Length   int64
	Done     int64 // bytes of verified pieces in this file
	Priority picker.Priority
	Pad      bool
}

// TrackerStats is one tracker in a detailed snapshot.
type TrackerStats struct {
	URL      string
	Tier     int
	Status   TrackerStatus
	Error    string
	Seeders  int
	Leechers int
	Peers    int // in the last reply
	Last     time.Time
	Next     time.Time
}

// Piece states in Stats.PieceState.
const (
	PieceMissing uint8 = iota
	PiecePartial       // some blocks received
	PieceHave          // verified
	PieceSkipped       // not wanted
)

// ErrStopped is returned by a control call made after the session ended.
var ErrStopped = errors.New("session: not running")

// do runs f on the event loop and waits for it.
func (s *Session) do(f func()) error {
	done := make(chan struct{})
	select {
	case s.control <- func() { f(); close(done) }:
	case <-s.ctx.Done():
		return ErrStopped
	}
	select {
	case <-done:
		return nil
	case <-s.ctx.Done():
		return ErrStopped
	}
}

// Pause disconnects every peer and stops connecting until Resume; the
// stall timeout does not run meanwhile.
func (s *Session) Pause() error {
	return s.do(func() {
		if s.paused {
			return
		}
		s.paused = true
		for _, p := range s.peers {
			s.dropPeer(p, "paused")
		}
		s.emit(Event{Type: EvPaused})
	})
}

// Resume undoes Pause.
func (s *Session) Resume() error {
	return s.do(func() {
		if !s.paused {
			return
		}
		s.paused = false
		s.lastData = time.Now()
		for _, k := range s.set.known {
			k.nextTry = time.Time{}
		}
		s.emit(Event{Type: EvResumed})
		s.connectMore()
	})
}

// SetFilePriority changes one file's priority (picker.Skip deselects it)
// while the session runs.
func (s *Session) SetFilePriority(file int, prio picker.Priority) error {
	var err error
	if derr := s.do(func() {
		if s.t == nil {
			err = errors.New("session: no metadata yet")
			return
		}
		if file < 0 || file >= len(s.prios) {
			err = fmt.Errorf("session: no file %d", file)
			return
		}
		next := append([]picker.Priority(nil), s.prios...)
		next[file] = prio
		if err = s.pick.SetFilePriorities(fileLengths(s.t), next); err != nil {
			return
		}
		s.prios = next
		wasDone := s.done
		s.updateLeft()
		if s.pick.Complete() {
			s.onComplete()
		} else if wasDone {
			s.reopen()
		}
		for _, p := range s.peers {
			s.updateInterest(p)
		}
		s.connectMore()
	}); derr != nil {
		return derr
	}
	return err
}

// reopen returns a complete session to downloading after more files were
// selected.
func (s *Session) reopen() {
	s.done = false
	s.completed = make(chan struct{})
	s.lastData = time.Now()
}

// state names what the session is doing, with the reason when stalled
// or fetching metadata.
func (s *Session) state() (State, string) {
	switch {
	case s.paused:
		return StatePaused, ""
	case s.t == nil:
		return StateFetchingMetadata, s.meta.progress(len(s.peers))
	case s.opening:
		return StateChecking, ""
	case s.pick.Complete() && s.cfg.Seed:
		return StateSeeding, ""
	case s.pick.Complete():
		return StateComplete, ""
	}
	if time.Since(s.lastData) >= stalledAfter {
		switch {
		case len(s.peers) == 0:
			return StateStalled, "no peers connected"
		case !s.anyInteresting():
			return StateStalled, "no connected peer has the missing pieces"
		case s.allChoking():
			return StateStalled, "every peer is choking us"
		}
		return StateStalled, "no data from the connected peers"
	}
	if s.pick.Endgame() {
		return StateEndgame, ""
	}
	return StateDownloading, ""
}

// stalledAfter is how long without data counts as stalled in snapshots.
const stalledAfter = 30 * time.Second

func (s *Session) anyInteresting() bool {
	for _, p := range s.peers {
		if p.amInterested {
			return true
		}
	}
	return false
}

func (s *Session) allChoking() bool {
	for _, p := range s.peers {
		if p.amInterested && !p.peerChoking {
			return false
		}
	}
	return true
}

// detail fills the parts of a snapshot only a live view needs.
func (s *Session) detail(st *Stats) {
	n := s.numPieces
	st.PieceState = make([]uint8, n)
	s.avail = s.pick.Availability(s.avail)
	st.Availability = make([]uint16, n)
	for i := 0; i < n; i++ {
		switch {
		case s.pick.Has(i):
			st.PieceState[i] = PieceHave
		case s.pick.PiecePriority(i) == picker.Skip:
			st.PieceState[i] = PieceSkipped
		default:
			if got, _ := s.pick.PieceProgress(i); got > 0 {
				st.PieceState[i] = PiecePartial
			}
		}
		st.Availability[i] = uint16(min(s.avail[i], 0xffff))
	}
	pl := s.t.Info.PieceLength
	for i, f := range s.t.Info.Files {
		fs := FileStats{Path: s.t.FilePath(i), Length: f.Length, Pad: f.Pad, Priority: picker.Normal}
		if s.prios != nil {
			fs.Priority = s.prios[i]
		}
		if f.Length > 0 {
			end := f.Offset + f.Length
			for p := int(f.Offset / pl); p <= int((end-1)/pl) && p < n; p++ {
				if s.pick.Has(p) {
					ps := int64(p) * pl
					fs.Done += min(end, ps+pl) - max(f.Offset, ps)
				}
			}
		}
		st.Files = append(st.Files, fs)
	}
	st.Trackers = append([]TrackerStats(nil), s.trackers...)
}
