package tracker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"tt/bencode"
)

// DefaultHTTPTimeout bounds one HTTP tracker request when the caller's
// context has no deadline of its own.
const DefaultHTTPTimeout = 30 * time.Second

// HTTPClient announces to and scrapes HTTP(S) trackers.
type HTTPClient struct {
	// Client does the requests; nil means one built by NewStdHTTPClient.
	Client *http.Client
	// MaxBody bounds a response body (MaxResponseSize when 0).
	MaxBody int64
	// UserAgent is sent when not empty.
	UserAgent string
	// Timeout bounds a request whose context has no deadline
	// (DefaultHTTPTimeout when 0).
	Timeout time.Duration
}

var defaultHTTP = NewStdHTTPClient()

// NewStdHTTPClient returns an http.Client with timeouts suited to
// trackers: bounded dialing, TLS handshake, header wait and overall time, and
// at most five redirects.
func NewStdHTTPClient() *http.Client {
	tr := &http.Transport{
		Proxy:                  http.ProxyFromEnvironment,
		DialContext:            (&net.Dialer{Timeout: 15 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:    15 * time.Second,
		ResponseHeaderTimeout:  30 * time.Second,
		IdleConnTimeout:        90 * time.Second,
		MaxIdleConns:           32,
		MaxIdleConnsPerHost:    2,
		MaxResponseHeaderBytes: 64 << 10,
		ForceAttemptHTTP2:      true,
	}
	return &http.Client{
		Transport: tr,
		Timeout:   2 * time.Minute,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 5 {
				return errors.New("tracker: too many redirects")
			}
			return nil
		},
	}
}

// Announce sends req to the HTTP tracker at announceURL.
func (c *HTTPClient) Announce(ctx context.Context, announceURL string, req *AnnounceRequest) (*AnnounceResponse, error) {
	u, err := AnnounceURL(announceURL, req)
	if err != nil {
		return nil, err
	}
	body, err := c.get(ctx, u)
	if err != nil {
		return nil, err
	}
	return ParseHTTPResponse(body)
}

// Scrape asks the HTTP tracker whose announce URL is announceURL about the
// given torrents (BEP 48).
func (c *HTTPClient) Scrape(ctx context.Context, announceURL string, infoHashes ...[20]byte) (map[[20]byte]ScrapeResult, error) {
	u, err := ScrapeURL(announceURL, infoHashes...)
	if err != nil {
		return nil, err
	}
	body, err := c.get(ctx, u)
	if err != nil {
		return nil, err
	}
	return ParseHTTPScrape(body)
}

func (c *HTTPClient) get(ctx context.Context, u string) ([]byte, error) {
	if _, ok := ctx.Deadline(); !ok {
		timeout := c.Timeout
		if timeout <= 0 {
			timeout = DefaultHTTPTimeout
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnsupportedURL, err)
	}
	if c.UserAgent != "" {
		req.Header.Set("User-Agent", c.UserAgent)
	}
	hc := c.Client
	if hc == nil {
		hc = defaultHTTP
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("tracker: %w", err)
	}
	defer resp.Body.Close()
	limit := c.MaxBody
	if limit <= 0 {
		limit = MaxResponseSize
	}
	if resp.StatusCode != http.StatusOK {
		// A short look at the body: trackers often explain themselves there.
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		se := &StatusError{Code: resp.StatusCode, Status: resp.Status}
		if root, _, err := bencode.Parse(b, bencode.Options{Lenient: true}); err == nil {
			if v, ok := root.Get("failure reason"); ok {
				se.Reason, _ = v.Str()
				se.Reason = clip(se.Reason)
			}
		}
		return nil, se
	}
	if resp.ContentLength > limit {
		return nil, fmt.Errorf("%w: body of %d bytes exceeds %d", ErrBadResponse, resp.ContentLength, limit)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("tracker: reading response: %w", err)
	}
	if int64(len(body)) > limit {
		return nil, fmt.Errorf("%w: body exceeds %d bytes", ErrBadResponse, limit)
	}
	return body, nil
}

// AnnounceURL returns the GET URL announcing req to the tracker at
// announceURL. A query already in announceURL (a passkey, say) is kept as it
// is and the announce parameters are appended to it.
func AnnounceURL(announceURL string, req *AnnounceRequest) (string, error) {
	u, err := parseHTTPURL(announceURL)
	if err != nil {
		return "", err
	}
	q := make([]byte, 0, 256)
	q = appendParam(q, "info_hash", req.InfoHash[:])
	q = appendParam(q, "peer_id", req.PeerID[:])
	q = appendNum(q, "port", int64(req.Port))
	q = appendNum(q, "uploaded", max(req.Uploaded, 0))
	q = appendNum(q, "downloaded", max(req.Downloaded, 0))
	q = appendNum(q, "left", max(req.Left, 0))
	q = append(q, "&compact=1&no_peer_id=1"...)
	if ev := req.Event.String(); ev != "" {
		q = appendParam(q, "event", []byte(ev))
	}
	if req.NumWant > 0 {
		q = appendNum(q, "numwant", int64(req.NumWant))
	}
	q = append(q, "&key="...)
	q = append(q, fmt.Sprintf("%08x", req.Key)...)
	if req.IP.IsValid() {
		name := "ip"
		if req.IP.Is6() && !req.IP.Is4In6() {
			name = "ipv6"
		}
		q = appendParam(q, name, []byte(req.IP.Unmap().String()))
	}
	if req.TrackerID != "" {
		q = appendParam(q, "trackerid", []byte(req.TrackerID))
	}
	return withQuery(u, q[1:]), nil // q starts with '&'
}

// ScrapeURL returns the scrape URL for the tracker at announceURL asking
// about infoHashes: the path's last element must begin with "announce",
// which becomes "scrape" (BEP 48); otherwise the error wraps ErrNoScrape.
func ScrapeURL(announceURL string, infoHashes ...[20]byte) (string, error) {
	u, err := parseHTTPURL(announceURL)
	if err != nil {
		return "", err
	}
	path := u.EscapedPath()
	slash := strings.LastIndexByte(path, '/')
	if slash < 0 || !strings.HasPrefix(path[slash+1:], "announce") {
		return "", fmt.Errorf("%w: %s", ErrNoScrape, announceURL)
	}
	path = path[:slash+1] + "scrape" + path[slash+1+len("announce"):]
	if u.Path, err = url.PathUnescape(path); err != nil {
		return "", fmt.Errorf("%w: %w", ErrUnsupportedURL, err)
	}
	u.RawPath = path
	var q []byte
	for _, ih := range infoHashes {
		q = appendParam(q, "info_hash", ih[:])
	}
	if len(q) > 0 {
		q = q[1:]
	}
	return withQuery(u, q), nil
}

func parseHTTPURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnsupportedURL, err)
	}
	if s := strings.ToLower(u.Scheme); (s != "http" && s != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w: %q", ErrUnsupportedURL, raw)
	}
	u.Fragment, u.RawFragment = "", ""
	return u, nil
}

// withQuery appends the already-escaped query q to u's own query.
func withQuery(u *url.URL, q []byte) string {
	switch {
	case len(q) == 0:
	case u.RawQuery == "":
		u.RawQuery = string(q)
	default:
		u.RawQuery = strings.TrimSuffix(u.RawQuery, "&") + "&" + string(q)
	}
	u.ForceQuery = false
	return u.String()
}

func appendParam(q []byte, name string, value []byte) []byte {
	q = append(q, '&')
	q = append(q, name...)
	q = append(q, '=')
	return appendEscaped(q, value)
}

func appendNum(q []byte, name string, n int64) []byte {
	q = append(q, '&')
	q = append(q, name...)
	q = append(q, '=')
	return strconv.AppendInt(q, n, 10)
}

// appendEscaped percent-encodes every byte of b except RFC 3986's
// unreserved characters, so raw binary (an info hash) survives any tracker.
func appendEscaped(dst, b []byte) []byte {
	const hex = "0123456789ABCDEF"
	for _, c := range b {
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			dst = append(dst, c)
		} else {
			dst = append(dst, '%', hex[c>>4], hex[c&15])
		}
	}
	return dst
}

// ParseHTTPResponse parses the body of an HTTP announce answer: compact
// "peers" (BEP 23) or the original list of dictionaries, "peers6" (BEP 7),
// the intervals, counts, tracker id and warning. A "failure reason" yields a
// *FailureError; anything malformed an error wrapping ErrBadResponse. At most
// MaxPeers peers are kept.
func ParseHTTPResponse(body []byte) (*AnnounceResponse, error) {
	root, err := parseDict(body)
	if err != nil {
		return nil, err
	}
	if v, ok := root.Get("failure reason"); ok {
		reason, _ := v.Str()
		return nil, &FailureError{Reason: clip(reason)}
	}
	resp := &AnnounceResponse{}
	if resp.Interval, err = durationField(root, "interval"); err != nil {
		return nil, err
	}
	if resp.MinInterval, err = durationField(root, "min interval"); err != nil {
		return nil, err
	}
	if v, ok := root.Get("tracker id"); ok {
		if s, ok := v.Str(); ok && len(s) <= maxText {
			resp.TrackerID = s
		}
	}
	if v, ok := root.Get("warning message"); ok {
		s, _ := v.Str()
		resp.Warning = clip(s)
	}
	resp.Seeders = countField(root, "complete")
	resp.Leechers = countField(root, "incomplete")

	if v, ok := root.Get("peers"); ok {
		switch v.Kind() {
		case bencode.String:
			b, _ := v.Bytes()
			if len(b)%compactV4 != 0 {
				return nil, fmt.Errorf("%w: peers string of %d bytes is not a multiple of %d", ErrBadResponse, len(b), compactV4)
			}
			resp.Peers = appendCompactPeers(make([]netip.AddrPort, 0, min(len(b)/compactV4, MaxPeers)), b, compactV4)
		case bencode.List:
			for _, p := range v.List() {
				if len(resp.Peers) >= MaxPeers {
					break
				}
				if ap, ok := dictPeer(p); ok {
					resp.Peers = append(resp.Peers, ap)
				}
			}
		default:
			return nil, fmt.Errorf("%w: peers is a %s", ErrBadResponse, v.Kind())
		}
	}
	if v, ok := root.Get("peers6"); ok {
		b, ok := v.Bytes()
		if !ok {
			return nil, fmt.Errorf("%w: peers6 is a %s", ErrBadResponse, v.Kind())
		}
		if len(b)%compactV6 != 0 {
			return nil, fmt.Errorf("%w: peers6 string of %d bytes is not a multiple of %d", ErrBadResponse, len(b), compactV6)
		}
		resp.Peers = appendCompactPeers(resp.Peers, b, compactV6)
	}
	return resp, nil
}

// dictPeer reads one peer of the original model: a dictionary with "ip" (an
// address literal; host names are not resolved) and "port".
func dictPeer(p bencode.Value) (netip.AddrPort, bool) {
	ipv, ok := p.Get("ip")
	if !ok {
		return netip.AddrPort{}, false
	}
	ipb, ok := ipv.Bytes()
	if !ok || len(ipb) > 64 {
		return netip.AddrPort{}, false
	}
	addr, err := netip.ParseAddr(string(ipb))
	if err != nil || addr.Zone() != "" || addr.IsUnspecified() {
		return netip.AddrPort{}, false
	}
	pv, ok := p.Get("port")
	if !ok {
		return netip.AddrPort{}, false
	}
	port, ok := pv.Int()
	if !ok || port <= 0 || port > 65535 {
		return netip.AddrPort{}, false
	}
	return netip.AddrPortFrom(addr.Unmap(), uint16(port)), true
}

// ParseHTTPScrape parses the body of an HTTP scrape answer (BEP 48). Entries
// whose key is not a 20-byte info hash are skipped; at most MaxPeers entries
// are read.
func ParseHTTPScrape(body []byte) (map[[20]byte]ScrapeResult, error) {
	root, err := parseDict(body)
	if err != nil {
		return nil, err
	}
	if v, ok := root.Get("failure reason"); ok {
		reason, _ := v.Str()
		return nil, &FailureError{Reason: clip(reason)}
	}
	files, ok := root.Get("files")
	if !ok || files.Kind() != bencode.Dict {
		return nil, fmt.Errorf("%w: scrape answer without a files dictionary", ErrBadResponse)
	}
	out := make(map[[20]byte]ScrapeResult)
	for k, v := range files.Dict() {
		if len(out) >= MaxPeers {
			break
		}
		kb, _ := k.Bytes()
		if len(kb) != 20 || v.Kind() != bencode.Dict {
			continue
		}
		out[[20]byte(kb)] = ScrapeResult{
			Seeders:   countField(v, "complete"),
			Leechers:  countField(v, "incomplete"),
			Completed: countField(v, "downloaded"),
		}
	}
	return out, nil
}

func parseDict(body []byte) (bencode.Value, error) {
	root, _, err := bencode.Parse(body, bencode.Options{Lenient: true})
	if err != nil {
		return bencode.Value{}, fmt.Errorf("%w: %w", ErrBadResponse, err)
	}
	if root.Kind() != bencode.Dict {
		return bencode.Value{}, fmt.Errorf("%w: top level is a %s, not a dictionary", ErrBadResponse, root.Kind())
	}
	return root, nil
}

// durationField reads an optional count of seconds; negative or absurd
// values are errors.
func durationField(d bencode.Value, key string) (time.Duration, error) {
	v, ok := d.Get(key)
	if !ok {
		return 0, nil
	}
	n, ok := v.Int()
	if !ok {
		return 0, fmt.Errorf("%w: %s is a %s, not an integer", ErrBadResponse, key, v.Kind())
	}
	if n < 0 || n > maxIntervalSeconds {
		return 0, fmt.Errorf("%w: %s %d out of range", ErrBadResponse, key, n)
	}
	return seconds(n), nil
}

// countField reads an optional swarm count; anything but a sane
// non-negative integer counts as absent.
func countField(d bencode.Value, key string) int {
	v, ok := d.Get(key)
	if !ok {
		return 0
	}
	n, ok := v.Int()
	if !ok || n < 0 || n > 1<<31-1 {
		return 0
	}
	return int(n)
}
