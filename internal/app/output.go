package app

import (
	"encoding/json"
	"fmt"
	"io"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"tt/internal/session"
)

// maxQueuedEvents bounds what the NDJSON writer holds for a slow reader
// (beside the batch being written). Events past it are counted and
// reported as one events_dropped line once the reader catches up;
// progress events replace each other instead, and the few essential ones
// are always kept.
const maxQueuedEvents = 1024

// closeWait bounds how long Close waits for a reader that stopped reading
// but keeps its end of the pipe open.
const closeWait = 2 * time.Second

// eventWriter writes session events as NDJSON on its own goroutine: the
// engine hands events over without ever waiting for the pipe, and the
// queue between them is bounded whatever the reader does.
type eventWriter struct {
	mu      sync.Mutex
	queue   []session.Event
	dropped int  // events left out since the last write
	failed  bool // a write failed: the reader went away
	closed  bool
	wake    chan struct{}
	done    chan struct{}
}

func newEventWriter(w io.Writer) *eventWriter {
	// A reader that goes away (tt get --json | head -1) must only stop the
	// events: without this a write to the closed pipe kills the process.
	signal.Ignore(syscall.SIGPIPE)
	ew := &eventWriter{wake: make(chan struct{}, 1), done: make(chan struct{})}
	go ew.run(w)
	return ew
}

func (ew *eventWriter) run(w io.Writer) {
	defer close(ew.done)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for {
		ew.mu.Lock()
		batch, closed, dropped := ew.queue, ew.closed, ew.dropped
		ew.queue, ew.dropped = nil, 0
		ew.mu.Unlock()
		if dropped > 0 {
			batch = append([]session.Event{{Time: time.Now(), Type: session.EvEventsDropped, Dropped: dropped}}, batch...)
		}
		for _, e := range batch {
			if enc.Encode(e) != nil {
				ew.mu.Lock()
				ew.failed, ew.queue = true, nil
				ew.mu.Unlock()
				return // the reader went away; the engine carries on
			}
		}
		if closed {
			return
		}
		<-ew.wake
	}
}

// essential events are few per run and never dropped for a slow reader.
func essential(t session.EventType) bool {
	switch t {
	case session.EvListening, session.EvListenError, session.EvStarted, session.EvMetadata,
		session.EvPeerBanned, session.EvComplete, session.EvDone:
		return true
	}
	return false
}

// Emit queues an event; safe for concurrent use, never blocks on I/O.
func (ew *eventWriter) Emit(e session.Event) {
	ew.mu.Lock()
	switch {
	case ew.closed || ew.failed:
	case e.Type == session.EvProgress:
		ew.replaceProgress(e)
	case len(ew.queue) >= maxQueuedEvents && !essential(e.Type):
		ew.dropped++
	default:
		ew.queue = append(ew.queue, e)
	}
	ew.mu.Unlock()
	select {
	case ew.wake <- struct{}{}:
	default:
	}
}

// replaceProgress queues e, dropping a progress event still waiting, so
// that a slow reader gets the newest figures once: at most one progress
// event ever waits, whatever the bound.
func (ew *eventWriter) replaceProgress(e session.Event) {
	for i := len(ew.queue) - 1; i >= 0; i-- {
		if ew.queue[i].Type == session.EvProgress {
			ew.queue = append(ew.queue[:i], ew.queue[i+1:]...)
			break
		}
	}
	ew.queue = append(ew.queue, e)
}

// queued reports how many events wait for the reader (for tests).
func (ew *eventWriter) queued() int {
	ew.mu.Lock()
	defer ew.mu.Unlock()
	return len(ew.queue)
}

// Close flushes what is queued and stops; it gives up after closeWait on
// a reader that holds its pipe open without reading.
func (ew *eventWriter) Close() {
	ew.mu.Lock()
	ew.closed = true
	ew.mu.Unlock()
	select {
	case ew.wake <- struct{}{}:
	default:
	}
	select {
	case <-ew.done:
	case <-time.After(closeWait):
	}
}

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
