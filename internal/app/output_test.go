package app

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"testing"
	"time"

	"tt/internal/session"
)

// TestEventWriterSlowReader: a reader that does not read holds back at
// most maxQueuedEvents events (beside the batch being written); progress
// events replace each other, essential ones are kept, and once the reader
// catches up it learns how many were left out.
func TestEventWriterSlowReader(t *testing.T) {
	r, w := io.Pipe()
	defer r.Close()
	ew := newEventWriter(w)
	const n = 10 * maxQueuedEvents
	for i := 0; i < n; i++ {
		ew.Emit(session.Event{Type: session.EvPieceVerified, Piece: i, Have: i + 1, Pieces: n})
	}
	for i := 0; i < 100; i++ {
		ew.Emit(session.Event{Type: session.EvProgress, Have: i, Pieces: n})
	}
	ew.Emit(session.Event{Type: session.EvComplete, Have: n, Pieces: n})
	if q := ew.queued(); q > maxQueuedEvents+2 {
		t.Fatalf("%d events queued for a reader that does not read, want at most %d", q, maxQueuedEvents+2)
	}

	lines := make(chan []session.Event, 1)
	go func() {
		var got []session.Event
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			var e session.Event
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
				t.Errorf("bad line %q: %v", sc.Text(), err)
			}
			got = append(got, e)
			if e.Type == session.EvComplete {
				break
			}
		}
		lines <- got
	}()
	var got []session.Event
	select {
	case got = <-lines:
	case <-time.After(10 * time.Second):
		t.Fatal("the writer did not flush within 10 s")
	}
	w.Close()
	ew.Close()

	var verified, progress, dropped int
	for _, e := range got {
		switch e.Type {
		case session.EvPieceVerified:
			verified++
		case session.EvProgress:
			progress++
		case session.EvEventsDropped:
			dropped += e.Dropped
		}
	}
	if progress != 1 {
		t.Errorf("%d progress events written, want the newest one only", progress)
	}
	if verified+dropped != n {
		t.Errorf("%d piece events written and %d reported dropped, want %d in all", verified, dropped, n)
	}
	if dropped == 0 || verified > 2*maxQueuedEvents {
		t.Errorf("%d written, %d dropped: the queue was not bounded", verified, dropped)
	}
	if last := got[len(got)-1]; last.Type != session.EvComplete {
		t.Errorf("last event %s, want complete", last.Type)
	}
}

// failWriter fails every write, as a closed pipe does.
type failWriter struct{ writes chan struct{} }

func (f failWriter) Write([]byte) (int, error) {
	select {
	case f.writes <- struct{}{}:
	default:
	}
	return 0, errors.New("broken pipe")
}

// TestEventWriterReaderGone: once a write fails nothing more is queued,
// and Close returns at once.
func TestEventWriterReaderGone(t *testing.T) {
	fw := failWriter{writes: make(chan struct{}, 1)}
	ew := newEventWriter(fw)
	ew.Emit(session.Event{Type: session.EvListening, Port: 1})
	select {
	case <-fw.writes:
	case <-time.After(5 * time.Second):
		t.Fatal("no write within 5 s")
	}
	select {
	case <-ew.done:
	case <-time.After(5 * time.Second):
		t.Fatal("the writer did not stop after a failed write")
	}
	for i := 0; i < 10*maxQueuedEvents; i++ {
		ew.Emit(session.Event{Type: session.EvComplete})
	}
	if q := ew.queued(); q != 0 {
		t.Fatalf("%d events queued after the reader went away", q)
	}
	ew.Close()
}

// TestEventWriterCloseStuckReader: a reader that keeps the pipe open
// without reading cannot hold the process at exit.
func TestEventWriterCloseStuckReader(t *testing.T) {
	r, w := io.Pipe()
	ew := newEventWriter(w)
	ew.Emit(session.Event{Type: session.EvDone})
	start := time.Now()
	ew.Close()
	if d := time.Since(start); d > closeWait+time.Second {
		t.Fatalf("Close took %v with a stuck reader", d)
	}
	r.Close() // ends the blocked write, so the writer goroutine exits
	<-ew.done
}
