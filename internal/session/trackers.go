package session

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"time"

	"tt/internal/tracker"
)

// trackerNote is what the tracker goroutine tells the loop of one tracker
// (or, with url empty, of all: their next announce).
type trackerNote struct {
	url      string
	status   TrackerStatus
	err      string
	reply    *tracker.AnnounceResponse
	at, next time.Time
}

// note hands a tracker's news to the loop.
func (s *Session) note(n trackerNote) {
	select {
	case s.notes <- n:
	case <-s.ctx.Done():
	}
}

// handleTrackerNote records a tracker's news in the snapshot list.
func (s *Session) handleTrackerNote(n trackerNote) {
	for i := range s.trackers {
		ts := &s.trackers[i]
		switch {
		case n.url == "":
			ts.Next = n.next
		case ts.URL == n.url:
			ts.Status, ts.Error = n.status, n.err
			if !n.at.IsZero() {
				ts.Last = n.at
			}
			if r := n.reply; r != nil {
				ts.Seeders, ts.Leechers, ts.Peers = r.Seeders, r.Leechers, len(r.Peers)
			}
		}
	}
}

// trackerLoop announces to the torrent's trackers (BEP 12 tiers) on their
// schedule, hands peers to the loop, says "completed" once, and "stopped"
// when the session ends.
func (s *Session) trackerLoop(ctx context.Context) {
	client := s.cfg.Tracker
	if client == nil {
		client = &tracker.Client{}
	}
	tiers := tracker.NewTiers(s.cfg.Trackers, nil)
	var sched tracker.Schedule
	var keyb [4]byte
	rand.Read(keyb[:])
	key := binary.BigEndian.Uint32(keyb[:])
	var trackerID, lastURL string
	completed := s.completed
	announce := func(ctx context.Context, ev tracker.Event) (*tracker.AnnounceResponse, error) {
		resp, url, err := s.tierAnnounce(ctx, client, tiers, &tracker.AnnounceRequest{
			InfoHash: s.infoHash, PeerID: s.peerID, Port: s.cfg.Port,
			Uploaded: s.uploaded.Load(), Downloaded: s.downloaded.Load(), Left: s.left.Load(),
			Event: ev, NumWant: 200, Key: key, TrackerID: trackerID,
		})
		if err == nil {
			lastURL = url
		}
		return resp, err
	}
	ev := tracker.EventStarted
	next := time.Now()
	for {
		wait := time.Until(next)
		timer := time.NewTimer(max(wait, 0))
		select {
		case <-ctx.Done():
			timer.Stop()
			// Say goodbye, briefly, to the tracker that last answered.
			if lastURL != "" {
				sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				client.Announce(sctx, lastURL, &tracker.AnnounceRequest{
					InfoHash: s.infoHash, PeerID: s.peerID, Port: s.cfg.Port,
					Uploaded: s.uploaded.Load(), Downloaded: s.downloaded.Load(), Left: s.left.Load(),
					Event: tracker.EventStopped, Key: key, TrackerID: trackerID,
				})
				cancel()
			}
			return
		case <-completed:
			timer.Stop()
			completed = nil
			if ev != tracker.EventStarted {
				ev = tracker.EventCompleted
			}
			next = time.Now()
			continue
		case <-s.wantPeers:
			// Out of peers: announce again as soon as the tracker allows.
			timer.Stop()
			if e := sched.Earliest(); !e.IsZero() && sched.Failures() == 0 && e.Before(next) {
				next = e
			}
			continue
		case <-timer.C:
		}
		resp, err := announce(ctx, ev)
		now := time.Now()
		if err != nil {
			next = sched.Failed(now)
			s.note(trackerNote{next: next})
			continue
		}
		ev = tracker.EventNone
		if resp.TrackerID != "" {
			trackerID = resp.TrackerID
		}
		next = sched.Succeeded(now, resp)
		if !s.metaKnown.Load() && next.Sub(now) > 30*time.Second {
			next = now.Add(30 * time.Second) // while fetching metadata, ask again soon
		}
		s.note(trackerNote{next: next})
		s.emit(Event{Type: EvTrackerReply, Tracker: lastURL, NumPeers: len(resp.Peers), Seeders: resp.Seeders, Leechers: resp.Leechers})
		select {
		case s.found <- foundPeers{peers: resp.Peers, source: SourceTracker}:
		case <-ctx.Done():
		}
	}
}

// tierAnnounce sends req to the tiers' trackers in BEP 12 order until one
// answers, reporting failures as tracker_error events and each tracker's
// status to the loop.
func (s *Session) tierAnnounce(ctx context.Context, client *tracker.Client, tiers *tracker.Tiers,
	req *tracker.AnnounceRequest) (*tracker.AnnounceResponse, string, error) {
	var resp *tracker.AnnounceResponse
	url, err := tiers.Try(ctx, func(ctx context.Context, url string) error {
		actx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		s.note(trackerNote{url: url, status: TrackerAnnouncing})
		r, err := client.Announce(actx, url, req)
		if err != nil {
			s.emit(Event{Type: EvTrackerError, Tracker: url, Error: err.Error()})
			s.note(trackerNote{url: url, status: TrackerError, err: err.Error(), at: time.Now()})
			return err
		}
		s.note(trackerNote{url: url, status: TrackerWorking, reply: r, at: time.Now()})
		resp = r
		return nil
	})
	return resp, url, err
}
