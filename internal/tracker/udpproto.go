package tracker

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"time"
)

// The UDP tracker protocol (BEP 15). All integers are big-endian.
const (
	udpProtocolID = 0x41727101980

	actionConnect  = 0
	actionAnnounce = 1
	actionScrape   = 2
	actionError    = 3

	connectRequestSize  = 16
	announceRequestSize = 98
	udpHeaderSize       = 8 // action, transaction id
	// maxScrapeHashes is the most info hashes one UDP scrape may carry.
	maxScrapeHashes = 74
	// maxDatagram bounds what the UDP code reads or builds.
	maxDatagram = 65507
)

func appendConnectRequest(dst []byte, tid uint32) []byte {
	dst = binary.BigEndian.AppendUint64(dst, udpProtocolID)
	dst = binary.BigEndian.AppendUint32(dst, actionConnect)
	return binary.BigEndian.AppendUint32(dst, tid)
}

func appendAnnounceRequest(dst []byte, connID uint64, tid uint32, req *AnnounceRequest) []byte {
	dst = binary.BigEndian.AppendUint64(dst, connID)
	dst = binary.BigEndian.AppendUint32(dst, actionAnnounce)
	dst = binary.BigEndian.AppendUint32(dst, tid)
	dst = append(dst, req.InfoHash[:]...)
	dst = append(dst, req.PeerID[:]...)
	dst = binary.BigEndian.AppendUint64(dst, uint64(max(req.Downloaded, 0)))
	dst = binary.BigEndian.AppendUint64(dst, uint64(max(req.Left, 0)))
	dst = binary.BigEndian.AppendUint64(dst, uint64(max(req.Uploaded, 0)))
	ev := req.Event
	if ev < EventNone || ev > EventStopped {
		ev = EventNone
	}
	dst = binary.BigEndian.AppendUint32(dst, uint32(ev))
	var ip [4]byte
	if req.IP.Unmap().Is4() {
		ip = req.IP.Unmap().As4()
	}
	dst = append(dst, ip[:]...)
	dst = binary.BigEndian.AppendUint32(dst, req.Key)
	numWant := req.NumWant
	if numWant <= 0 {
		numWant = -1
	}
	dst = binary.BigEndian.AppendUint32(dst, uint32(numWant))
	return binary.BigEndian.AppendUint16(dst, req.Port)
}

func appendScrapeRequest(dst []byte, connID uint64, tid uint32, hashes [][20]byte) []byte {
	dst = binary.BigEndian.AppendUint64(dst, connID)
	dst = binary.BigEndian.AppendUint32(dst, actionScrape)
	dst = binary.BigEndian.AppendUint32(dst, tid)
	for _, h := range hashes {
		dst = append(dst, h[:]...)
	}
	return dst
}

// udpResponse is one parsed datagram from a UDP tracker.
type udpResponse struct {
	action   uint32
	tid      uint32
	connID   uint64            // actionConnect
	announce *AnnounceResponse // actionAnnounce
	scrape   []ScrapeResult    // actionScrape, in request order
	message  string            // actionError
}

// parseUDPResponse parses a tracker datagram. v6 tells whether the tracker
// was reached over IPv6, which makes announce peers 18 bytes long instead
// of 6; nScrape is the number of info hashes a scrape asked about. Bytes
// past what the action defines (a partial peer, say) are ignored, as BEP 15
// asks.
func parseUDPResponse(b []byte, v6 bool, nScrape int) (udpResponse, error) {
	if len(b) < udpHeaderSize {
		return udpResponse{}, fmt.Errorf("%w: UDP packet of %d bytes", ErrBadResponse, len(b))
	}
	r := udpResponse{
		action: binary.BigEndian.Uint32(b[0:4]),
		tid:    binary.BigEndian.Uint32(b[4:8]),
	}
	body := b[udpHeaderSize:]
	switch r.action {
	case actionConnect:
		if len(body) < 8 {
			return r, fmt.Errorf("%w: connect answer of %d bytes", ErrBadResponse, len(b))
		}
		r.connID = binary.BigEndian.Uint64(body)
	case actionAnnounce:
		if len(body) == 0 {
			// opentracker answers this way for torrents it does not serve.
			return r, &FailureError{Reason: "empty announce answer: the tracker refused the torrent"}
		}
		if len(body) < 12 {
			return r, fmt.Errorf("%w: announce answer of %d bytes", ErrBadResponse, len(b))
		}
		interval := int32(binary.BigEndian.Uint32(body[0:4]))
		if interval < 0 {
			return r, fmt.Errorf("%w: interval %d out of range", ErrBadResponse, interval)
		}
		size := compactV4
		if v6 {
			size = compactV6
		}
		peers := body[12:]
		r.announce = &AnnounceResponse{
			Interval: time.Duration(interval) * time.Second,
			Leechers: int(max(int32(binary.BigEndian.Uint32(body[4:8])), 0)),
			Seeders:  int(max(int32(binary.BigEndian.Uint32(body[8:12])), 0)),
			Peers:    appendCompactPeers(make([]netip.AddrPort, 0, min(len(peers)/size, MaxPeers)), peers, size),
		}
	case actionScrape:
		if nScrape < 0 || len(body)/12 < nScrape {
			return r, fmt.Errorf("%w: scrape answer of %d bytes for %d torrents", ErrBadResponse, len(b), nScrape)
		}
		r.scrape = make([]ScrapeResult, nScrape)
		for i := range r.scrape {
			e := body[12*i:]
			r.scrape[i] = ScrapeResult{
				Seeders:   int(max(int32(binary.BigEndian.Uint32(e[0:4])), 0)),
				Completed: int(max(int32(binary.BigEndian.Uint32(e[4:8])), 0)),
				Leechers:  int(max(int32(binary.BigEndian.Uint32(e[8:12])), 0)),
			}
		}
	case actionError:
		r.message = clip(string(body))
	default:
		return r, fmt.Errorf("%w: unknown UDP action %d", ErrBadResponse, r.action)
	}
	return r, nil
}

func appendUDPHeader(dst []byte, action, tid uint32) []byte {
	dst = binary.BigEndian.AppendUint32(dst, action)
	return binary.BigEndian.AppendUint32(dst, tid)
}

func appendConnectResponse(dst []byte, tid uint32, connID uint64) []byte {
	dst = appendUDPHeader(dst, actionConnect, tid)
	return binary.BigEndian.AppendUint64(dst, connID)
}

// appendAnnounceResponse encodes an announce answer with 18-byte peers when
// v6 is set (IPv4 peers become IPv4-mapped) and 6-byte ones otherwise (IPv6
// peers are left out).
func appendAnnounceResponse(dst []byte, tid uint32, r *AnnounceResponse, v6 bool) []byte {
	dst = appendUDPHeader(dst, actionAnnounce, tid)
	dst = binary.BigEndian.AppendUint32(dst, u31(int64(r.Interval/time.Second)))
	dst = binary.BigEndian.AppendUint32(dst, u31(int64(r.Leechers)))
	dst = binary.BigEndian.AppendUint32(dst, u31(int64(r.Seeders)))
	for _, p := range r.Peers {
		if v6 || !isV6Peer(p) {
			dst = appendCompact(dst, p, v6)
		}
	}
	return dst
}

func appendScrapeResponse(dst []byte, tid uint32, rs []ScrapeResult) []byte {
	dst = appendUDPHeader(dst, actionScrape, tid)
	for _, r := range rs {
		dst = binary.BigEndian.AppendUint32(dst, u31(int64(r.Seeders)))
		dst = binary.BigEndian.AppendUint32(dst, u31(int64(r.Completed)))
		dst = binary.BigEndian.AppendUint32(dst, u31(int64(r.Leechers)))
	}
	return dst
}

func appendErrorResponse(dst []byte, tid uint32, msg string) []byte {
	dst = appendUDPHeader(dst, actionError, tid)
	return append(dst, msg...)
}

// isV6Peer reports whether p needs the 18-byte compact form.
func isV6Peer(p netip.AddrPort) bool {
	return !p.Addr().Unmap().Is4()
}

// u31 clamps n to the non-negative int32 range of the wire format.
func u31(n int64) uint32 {
	return uint32(min(max(n, 0), maxIntervalSeconds))
}
