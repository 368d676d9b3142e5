package app

import (
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"

	"tt/internal/session"
)

// eventWriter writes session events as NDJSON on its own goroutine: the
// engine hands events over without ever waiting for the pipe.
type eventWriter struct {
	mu     sync.Mutex
	queue  []session.Event
	wake   chan struct{}
	done   chan struct{}
	closed bool
}

func newEventWriter(w io.Writer) *eventWriter {
	ew := &eventWriter{wake: make(chan struct{}, 1), done: make(chan struct{})}
	go func() {
		defer close(ew.done)
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		for {
			ew.mu.Lock()
			batch, closed := ew.queue, ew.closed
			ew.queue = nil
			ew.mu.Unlock()
			for _, e := range batch {
				if enc.Encode(e) != nil {
					return // the reader went away; the engine carries on
				}
			}
			if closed {
				return
			}
			<-ew.wake
		}
	}()
	return ew
}

// Emit queues an event; safe for concurrent use, never blocks on I/O.
func (ew *eventWriter) Emit(e session.Event) {
	ew.mu.Lock()
	if !ew.closed {
		ew.queue = append(ew.queue, e)
	}
	ew.mu.Unlock()
	select {
	case ew.wake <- struct{}{}:
	default:
	}
}

// Close flushes what is queued and stops.
func (ew *eventWriter) Close() {
	ew.mu.Lock()
	ew.closed = true
	ew.mu.Unlock()
	select {
	case ew.wake <- struct{}{}:
	default:
	}
	<-ew.done
}

// statusLine renders one plain progress line from a snapshot.
func statusLine(st session.Stats) string {
	pct := 100.0
	if st.Wanted > 0 {
		pct = float64(st.Wanted-st.Left) * 100 / float64(st.Wanted)
	}
	seeds := 0
	for _, p := range st.Peers {
		if p.Seed {
			seeds++
		}
	}
	eta := "-"
	if st.DownRate > 0 && st.Left > 0 {
		eta = time.Duration(float64(st.Left) / st.DownRate * float64(time.Second)).Round(time.Second).String()
	}
	state := "downloading"
	switch {
	case st.Complete && st.Seeding:
		state = "seeding"
	case st.Complete:
		state = "complete"
	case st.Endgame:
		state = "endgame"
	}
	return fmt.Sprintf("%s %5.1f%% %d/%d pieces  down %s/s  up %s/s  peers %d (%d seeds, %d known)  eta %s",
		state, pct, st.Have, st.Pieces, FormatSize(int64(st.DownRate)), FormatSize(int64(st.UpRate)),
		len(st.Peers), seeds, st.Known, eta)
}

// summaryLine is the last line of a plain run: what was moved, how fast.
func summaryLine(st session.Stats) string {
	secs := st.Elapsed.Seconds()
	rate := 0.0
	if secs > 0 {
		rate = float64(st.Downloaded) / secs
	}
	state := "stopped at"
	if st.Complete {
		state = "complete:"
	}
	return fmt.Sprintf("%s %s %d/%d pieces; downloaded %s in %s (%s/s), uploaded %s, %d hash failures",
		printable(st.Name), state, st.Have, st.Pieces, FormatSize(st.Downloaded), st.Elapsed.Round(100*time.Millisecond),
		FormatSize(int64(rate)), FormatSize(st.Uploaded), st.HashFails)
}
