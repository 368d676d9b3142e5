package session

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"time"

	"tt/internal/tracker"
)

// trackerLoop announces to the torrent's trackers (BEP 12 tiers) on their
// schedule, hands peers to the loop, says "completed" once, and "stopped"
// when the session ends.
func (s *Session) trackerLoop(ctx context.Context) {
	client := s.cfg.Tracker
	if client == nil {
		client = &tracker.Client{}
	}
	tiers := tracker.NewTiers(s.t.Trackers(), nil)
	var sched tracker.Schedule
	var keyb [4]byte
	rand.Read(keyb[:])
	key := binary.BigEndian.Uint32(keyb[:])
	var trackerID, lastURL string
	completed := s.completed
	announce := func(ctx context.Context, ev tracker.Event) (*tracker.AnnounceResponse, error) {
		resp, url, err := tierAnnounce(ctx, client, tiers, &tracker.AnnounceRequest{
			InfoHash: s.t.InfoHash, PeerID: s.peerID, Port: s.cfg.Port,
			Uploaded: s.uploaded.Load(), Downloaded: s.downloaded.Load(), Left: s.left.Load(),
			Event: ev, NumWant: 200, Key: key, TrackerID: trackerID,
		}, 30*time.Second, s.emit, &s.trackers)
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
					InfoHash: s.t.InfoHash, PeerID: s.peerID, Port: s.cfg.Port,
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
			s.trackers.all(func(ts *TrackerStats) { ts.Next = next })
			continue
		}
		ev = tracker.EventNone
		if resp.TrackerID != "" {
			trackerID = resp.TrackerID
		}
		next = sched.Succeeded(now, resp)
		s.trackers.all(func(ts *TrackerStats) { ts.Next = next })
		s.emit(Event{Type: "tracker_reply", Tracker: lastURL, NumPeers: len(resp.Peers), Seeders: resp.Seeders, Leechers: resp.Leechers})
		select {
		case s.found <- foundPeers{peers: resp.Peers, source: "tracker"}:
		case <-ctx.Done():
		}
	}
}

// tierAnnounce sends req to the tiers' trackers in BEP 12 order until one
// answers, reporting failures as tracker_error events and (when board is
// set) each tracker's status.
func tierAnnounce(ctx context.Context, client *tracker.Client, tiers *tracker.Tiers, req *tracker.AnnounceRequest,
	timeout time.Duration, emit func(Event), board *trackerBoard) (*tracker.AnnounceResponse, string, error) {
	set := func(url string, f func(*TrackerStats)) {
		if board != nil {
			board.set(url, f)
		}
	}
	var resp *tracker.AnnounceResponse
	url, err := tiers.Try(ctx, func(ctx context.Context, url string) error {
		actx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		set(url, func(ts *TrackerStats) { ts.Status = "announcing" })
		r, err := client.Announce(actx, url, req)
		if err != nil {
			emit(Event{Type: "tracker_error", Tracker: url, Error: err.Error()})
			set(url, func(ts *TrackerStats) { ts.Status, ts.Error, ts.Last = "error", err.Error(), time.Now() })
			return err
		}
		set(url, func(ts *TrackerStats) {
			ts.Status, ts.Error, ts.Last = "working", "", time.Now()
			ts.Seeders, ts.Leechers, ts.Peers = r.Seeders, r.Leechers, len(r.Peers)
		})
		resp = r
		return nil
	})
	return resp, url, err
}
