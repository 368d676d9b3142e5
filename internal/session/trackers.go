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
	an := s.newAnnouncer()
	var sched tracker.Schedule
	completed := s.completed
	ev := tracker.EventStarted
	next := time.Now()
	for {
		timer := time.NewTimer(max(time.Until(next), 0))
		select {
		case <-ctx.Done():
			timer.Stop()
			an.goodbye()
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
		resp, err := an.announce(ctx, ev)
		now := time.Now()
		if err != nil {
			next = sched.Failed(now)
			s.note(trackerNote{next: next})
			continue
		}
		ev = tracker.EventNone
		next = sched.Succeeded(now, resp)
		if !s.metaKnown.Load() && next.Sub(now) > 30*time.Second {
			next = now.Add(30 * time.Second) // while fetching metadata, ask again soon
		}
		s.note(trackerNote{next: next})
		s.emit(Event{Type: EvTrackerReply, Tracker: an.lastURL, NumPeers: len(resp.Peers), Seeders: resp.Seeders, Leechers: resp.Leechers})
		select {
		case s.found <- foundPeers{peers: resp.Peers, source: SourceTracker}:
		case <-ctx.Done():
		}
	}
}

// announcer is what trackerLoop keeps between announces: the tiers, the
// key and tracker id a tracker may ask to see again, and the tracker that
// last answered.
type announcer struct {
	s                  *Session
	client             *tracker.Client
	tiers              *tracker.Tiers
	key                uint32
	trackerID, lastURL string
}

func (s *Session) newAnnouncer() *announcer {
	client := s.cfg.Tracker
	if client == nil {
		client = &tracker.Client{}
	}
	var keyb [4]byte
	rand.Read(keyb[:])
	return &announcer{s: s, client: client, tiers: tracker.NewTiers(s.cfg.Trackers, nil), key: binary.BigEndian.Uint32(keyb[:])}
}

func (an *announcer) request(ev tracker.Event) *tracker.AnnounceRequest {
	s := an.s
	return &tracker.AnnounceRequest{
		InfoHash: s.infoHash, PeerID: s.peerID, Port: s.cfg.Port,
		Uploaded: s.uploaded.Load(), Downloaded: s.downloaded.Load(), Left: s.left.Load(),
		Event: ev, Key: an.key, TrackerID: an.trackerID,
	}
}

// announce asks the tiers in order and remembers who answered.
func (an *announcer) announce(ctx context.Context, ev tracker.Event) (*tracker.AnnounceResponse, error) {
	req := an.request(ev)
	req.NumWant = 200
	resp, url, err := an.s.tierAnnounce(ctx, an.client, an.tiers, req)
	if err != nil {
		return nil, err
	}
	an.lastURL = url
	if resp.TrackerID != "" {
		an.trackerID = resp.TrackerID
	}
	return resp, nil
}

// goodbye says stopped, briefly, to the tracker that last answered.
func (an *announcer) goodbye() {
	if an.lastURL == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	an.client.Announce(ctx, an.lastURL, an.request(tracker.EventStopped))
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
