package tracker

import (
	"errors"
	"slices"
	"testing"
	"time"

	"tt/internal/interop"
)

// TestOpentrackerInterop announces two fake peers to a real opentracker
// over HTTP and over UDP and checks that each learns of the other.
func TestOpentrackerInterop(t *testing.T) {
	ihHTTP, ihUDP, ihOther := hash("tt interop over http"), hash("tt interop over udp!"), hash("not on the whitelist")
	httpURL, udpURL := interop.StartOpentracker(t, ihHTTP, ihUDP)
	udp := listenUDP(t, UDPConfig{BaseTimeout: 250 * time.Millisecond, MaxRetries: 5})
	client := &Client{UDP: udp}

	for _, tc := range []struct {
		proto, url string
		ih         [20]byte
	}{{"http", httpURL, ihHTTP}, {"udp", udpURL, ihUDP}} {
		t.Run(tc.proto, func(t *testing.T) {
			announce := func(n int, ev Event, left int64) *AnnounceResponse {
				t.Helper()
				r, err := client.Announce(t.Context(), tc.url, &AnnounceRequest{
					InfoHash: tc.ih, PeerID: peerID(100 + n), Port: uint16(16880 + n), Left: left, Event: ev, Key: uint32(n),
				})
				if err != nil {
					t.Fatalf("peer %d: %v", n, err)
				}
				if r.Interval <= 0 {
					t.Fatalf("peer %d: interval %v", n, r.Interval)
				}
				return r
			}
			a, b := ap("127.0.0.1:16881"), ap("127.0.0.1:16882")
			announce(1, EventStarted, 1000)
			r := announce(2, EventStarted, 0)
			if !slices.Contains(r.Peers, a) {
				t.Fatalf("second peer sees %v, want %v among them", r.Peers, a)
			}
			if r.Seeders != 1 || r.Leechers != 1 {
				t.Fatalf("counts %d seeders %d leechers", r.Seeders, r.Leechers)
			}
			r = announce(1, EventNone, 500)
			if !slices.Contains(r.Peers, b) {
				t.Fatalf("first peer sees %v, want %v among them", r.Peers, b)
			}
			for _, p := range r.Peers {
				if p != a && p != b {
					t.Fatalf("unexpected peer %v", p)
				}
			}
			sc, err := client.Scrape(t.Context(), tc.url, tc.ih)
			if err != nil {
				t.Fatal(err)
			}
			if got := sc[tc.ih]; got.Seeders != 1 || got.Leechers != 1 {
				t.Fatalf("scrape %+v", sc)
			}
			announce(2, EventStopped, 0)
			r = announce(1, EventNone, 500)
			if slices.Contains(r.Peers, b) {
				t.Fatalf("stopped peer still listed: %v", r.Peers)
			}
		})
	}

	t.Run("not whitelisted", func(t *testing.T) {
		req := &AnnounceRequest{InfoHash: ihOther, PeerID: peerID(1), Port: 1}
		_, err := client.Announce(t.Context(), httpURL, req)
		if !errors.Is(err, ErrTrackerFailure) {
			t.Fatalf("http: error %v, want a tracker failure", err)
		}
		t.Logf("http: %v", err)
		// Over UDP opentracker answers with a bare announce header.
		_, err = client.Announce(t.Context(), udpURL, req)
		if !errors.Is(err, ErrTrackerFailure) {
			t.Fatalf("udp: error %v, want a tracker failure", err)
		}
		t.Logf("udp: %v", err)
	})
}
