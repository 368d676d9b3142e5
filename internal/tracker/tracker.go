// Package tracker speaks the BitTorrent tracker protocols: HTTP announce and
// scrape (BEP 3, 7, 23, 48), the UDP tracker protocol (BEP 15) and the
// multitracker announce-list (BEP 12). It also holds a small embedded tracker,
// Server, for tests and demos.
//
// Everything a tracker sends is untrusted: response bodies and datagrams are
// bounded in size, integers are range-checked and peer lists are capped at
// MaxPeers before anything is allocated for them.
package tracker

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
	"time"
)

// Sentinel errors. Errors returned by this package wrap one of them.
var (
	// ErrTrackerFailure is wrapped by *FailureError: the tracker answered
	// with a "failure reason" (HTTP) or an error packet (UDP).
	ErrTrackerFailure = errors.New("tracker: tracker reported failure")
	// ErrBadResponse means the tracker's answer could not be parsed or
	// broke a limit.
	ErrBadResponse = errors.New("tracker: malformed response")
	// ErrHTTPStatus is wrapped by *StatusError for answers other than 200 OK.
	ErrHTTPStatus = errors.New("tracker: HTTP status not OK")
	// ErrTimeout means a UDP tracker did not answer after every retransmission.
	ErrTimeout = errors.New("tracker: no response from tracker")
	// ErrUnsupportedURL means the announce URL has a scheme or shape this
	// package cannot use.
	ErrUnsupportedURL = errors.New("tracker: unsupported tracker URL")
	// ErrNoScrape means the announce URL has no scrape counterpart (BEP 48).
	ErrNoScrape = errors.New("tracker: tracker URL does not support scrape")
	// ErrClosed is returned by a UDPClient after Close.
	ErrClosed = errors.New("tracker: client closed")
)

// Limits on what a tracker may make us hold.
const (
	// MaxPeers is the most peers taken from one response; the rest are ignored.
	MaxPeers = 2000
	// MaxResponseSize bounds an HTTP tracker response body.
	MaxResponseSize = 4 << 20
	// maxText bounds failure reasons, warnings and tracker ids kept from a response.
	maxText = 1024
	// maxIntervalSeconds bounds announce intervals (the UDP field is an int32).
	maxIntervalSeconds = 1<<31 - 1
)

// FailureError carries the tracker's own explanation of a refused request.
type FailureError struct {
	Reason string
}

func (e *FailureError) Error() string {
	return fmt.Sprintf("tracker: tracker failure: %q", e.Reason)
}

func (e *FailureError) Unwrap() error { return ErrTrackerFailure }

// StatusError is an HTTP tracker answer with a status other than 200 OK.
type StatusError struct {
	Code   int
	Status string
	// Reason is the "failure reason" of the body, when it had one.
	Reason string
}

func (e *StatusError) Error() string {
	if e.Reason != "" {
		return fmt.Sprintf("tracker: HTTP status %s: %q", e.Status, e.Reason)
	}
	return fmt.Sprintf("tracker: HTTP status %s", e.Status)
}

func (e *StatusError) Unwrap() error { return ErrHTTPStatus }

// Event is the announce event. The values are those of the UDP protocol.
type Event int32

// Announce events.
const (
	EventNone      Event = 0
	EventCompleted Event = 1
	EventStarted   Event = 2
	EventStopped   Event = 3
)

// String returns the HTTP spelling of the event ("" for EventNone).
func (e Event) String() string {
	switch e {
	case EventCompleted:
		return "completed"
	case EventStarted:
		return "started"
	case EventStopped:
		return "stopped"
	}
	return ""
}

func parseEvent(s string) (Event, bool) {
	switch s {
	case "", "empty", "paused":
		return EventNone, true
	case "started":
		return EventStarted, true
	case "completed":
		return EventCompleted, true
	case "stopped":
		return EventStopped, true
	}
	return EventNone, false
}

// AnnounceRequest is what a client tells a tracker.
type AnnounceRequest struct {
	InfoHash [20]byte
	PeerID   [20]byte
	Port     uint16

	Uploaded, Downloaded, Left int64

	Event Event
	// NumWant is how many peers are wanted; 0 or less asks for the
	// tracker's default.
	NumWant int32
	// Key identifies this client across IP address changes.
	Key uint32
	// IP optionally tells the tracker our address; most trackers ignore it.
	IP netip.Addr
	// TrackerID echoes the "tracker id" of a previous response (HTTP only).
	TrackerID string
}

// AnnounceResponse is what a tracker answers.
type AnnounceResponse struct {
	Interval    time.Duration
	MinInterval time.Duration
	Peers       []netip.AddrPort
	// Seeders and Leechers are the swarm counts the tracker reports
	// (zero when it reports none).
	Seeders, Leechers int
	TrackerID         string
	Warning           string
}

// ScrapeResult is one torrent's line of a scrape answer.
type ScrapeResult struct {
	Seeders   int // "complete"
	Leechers  int // "incomplete"
	Completed int // "downloaded": how many times the torrent was completed
}

// Client announces to tracker URLs of any supported scheme.
type Client struct {
	// HTTP serves http:// and https:// URLs (a default one when nil).
	HTTP *HTTPClient
	// UDP serves udp:// URLs; they fail with ErrUnsupportedURL when nil.
	UDP *UDPClient
}

// Announce sends req to the tracker at announceURL.
func (c *Client) Announce(ctx context.Context, announceURL string, req *AnnounceRequest) (*AnnounceResponse, error) {
	switch scheme(announceURL) {
	case "http", "https":
		return c.httpClient().Announce(ctx, announceURL, req)
	case "udp":
		if c.UDP == nil {
			return nil, fmt.Errorf("%w: no UDP client for %s", ErrUnsupportedURL, announceURL)
		}
		return c.UDP.Announce(ctx, announceURL, req)
	}
	return nil, fmt.Errorf("%w: %q", ErrUnsupportedURL, announceURL)
}

// Scrape asks the tracker at announceURL about the given torrents. Torrents
// the tracker does not know are missing from the result.
func (c *Client) Scrape(ctx context.Context, announceURL string, infoHashes ...[20]byte) (map[[20]byte]ScrapeResult, error) {
	switch scheme(announceURL) {
	case "http", "https":
		return c.httpClient().Scrape(ctx, announceURL, infoHashes...)
	case "udp":
		if c.UDP == nil {
			return nil, fmt.Errorf("%w: no UDP client for %s", ErrUnsupportedURL, announceURL)
		}
		return c.UDP.Scrape(ctx, announceURL, infoHashes...)
	}
	return nil, fmt.Errorf("%w: %q", ErrUnsupportedURL, announceURL)
}

func (c *Client) httpClient() *HTTPClient {
	if c.HTTP == nil {
		return &HTTPClient{}
	}
	return c.HTTP
}

func scheme(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return ""
	}
	return strings.ToLower(u.Scheme)
}

// seconds converts a checked count of seconds to a Duration.
func seconds(n int64) time.Duration { return time.Duration(n) * time.Second }

// clip truncates tracker-provided text to maxText bytes.
func clip(s string) string {
	if len(s) > maxText {
		return s[:maxText]
	}
	return s
}
