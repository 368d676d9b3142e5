package peerwire

import (
	"encoding/binary"
	"fmt"
)

// Kind identifies a message. It is not the wire id: keep-alives have no id
// and every id without a defined message is Unknown.
type Kind uint8

// Message kinds.
const (
	KeepAlive     Kind = iota // length 0
	Choke                     // id 0
	Unchoke                   // id 1
	Interested                // id 2
	NotInterested             // id 3
	Have                      // id 4: Index
	Bitfield                  // id 5: Payload
	Request                   // id 6: Index, Begin, Length
	Piece                     // id 7: Index, Begin, Payload (the block)
	Cancel                    // id 8: Index, Begin, Length
	Port                      // id 9 (BEP 5): Port
	Suggest                   // id 13 (BEP 6): Index
	HaveAll                   // id 14 (BEP 6)
	HaveNone                  // id 15 (BEP 6)
	Reject                    // id 16 (BEP 6): Index, Begin, Length
	AllowedFast               // id 17 (BEP 6): Index
	Extended                  // id 20 (BEP 10): ExtID, Payload
	HashRequest               // id 21 (BEP 52): Payload (ParseHashRequest)
	Hashes                    // id 22 (BEP 52): Payload (ParseHashes)
	HashReject                // id 23 (BEP 52): Payload (ParseHashRequest)
	Unknown                   // any other id: ID, Payload
)

// kindInfo describes the wire form of a kind. Lengths are length-prefix
// values (the id byte included); max 0 means bounded only by the Reader.
type kindInfo struct {
	name     string
	id       byte
	min, max uint32
}

var kinds = [...]kindInfo{
	KeepAlive:     {"keep-alive", 0, 0, 0},
	Choke:         {"choke", 0, 1, 1},
	Unchoke:       {"unchoke", 1, 1, 1},
	Interested:    {"interested", 2, 1, 1},
	NotInterested: {"not interested", 3, 1, 1},
	Have:          {"have", 4, 5, 5},
	Bitfield:      {"bitfield", 5, 1, 0},
	Request:       {"request", 6, 13, 13},
	Piece:         {"piece", 7, 9, 0},
	Cancel:        {"cancel", 8, 13, 13},
	Port:          {"port", 9, 3, 3},
	Suggest:       {"suggest", 13, 5, 5},
	HaveAll:       {"have all", 14, 1, 1},
	HaveNone:      {"have none", 15, 1, 1},
	Reject:        {"reject", 16, 13, 13},
	AllowedFast:   {"allowed fast", 17, 5, 5},
	Extended:      {"extended", 20, 2, 0},
	HashRequest:   {"hash request", 21, 1 + hashRequestSize, 1 + hashRequestSize},
	Hashes:        {"hashes", 22, 1 + hashRequestSize, MaxHashesLength},
	HashReject:    {"hash reject", 23, 1 + hashRequestSize, 1 + hashRequestSize},
	Unknown:       {"unknown", 0, 1, 0},
}

// idKind maps a wire id to its kind.
var idKind = func() (t [256]Kind) {
	for i := range t {
		t[i] = Unknown
	}
	for k := Choke; k < Unknown; k++ {
		t[kinds[k].id] = k
	}
	return t
}()

func (k Kind) String() string {
	if int(k) < len(kinds) {
		return kinds[k].name
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// ID returns the wire id of k; false for KeepAlive, Unknown and invalid kinds.
func (k Kind) ID() (byte, bool) {
	if k == KeepAlive || k >= Unknown {
		return 0, false
	}
	return kinds[k].id, true
}

// Message is one peer wire message. Which fields are meaningful depends on
// Kind (see the Kind constants); the others are zero.
//
// A Message returned by Reader.ReadMessage may have a Payload that points
// into the Reader's buffer; see ReadMessage for how long it stays valid.
type Message struct {
	Kind Kind
	// ID is the wire id of an Unknown message.
	ID    byte
	Index uint32
	Begin uint32
	// Length is the requested length of a Request, Cancel or Reject.
	Length uint32
	// Port is the DHT port of a Port message.
	Port uint16
	// ExtID is the extended message id (0 for the extended handshake).
	ExtID byte
	// Payload is the bitfield, the block of a piece, the payload of an
	// extended message after its ExtID, the body of a hash request, hashes
	// or hash reject, or the body of an Unknown message.
	Payload []byte
}

func (m Message) String() string {
	switch m.Kind {
	case Have, Suggest, AllowedFast:
		return fmt.Sprintf("%s %d", m.Kind, m.Index)
	case Request, Cancel, Reject:
		return fmt.Sprintf("%s %d %d %d", m.Kind, m.Index, m.Begin, m.Length)
	case Piece:
		return fmt.Sprintf("piece %d %d (%d bytes)", m.Index, m.Begin, len(m.Payload))
	case Bitfield, HashRequest, Hashes, HashReject:
		return fmt.Sprintf("%s (%d bytes)", m.Kind, len(m.Payload))
	case Port:
		return fmt.Sprintf("port %d", m.Port)
	case Extended:
		return fmt.Sprintf("extended %d (%d bytes)", m.ExtID, len(m.Payload))
	case Unknown:
		return fmt.Sprintf("unknown id %d (%d bytes)", m.ID, len(m.Payload))
	}
	return m.Kind.String()
}

// AppendMessage appends the wire encoding of m to dst. An Unknown message
// is written with m.ID verbatim. A Kind outside the defined ones appends
// nothing.
func AppendMessage(dst []byte, m Message) []byte {
	switch m.Kind {
	case KeepAlive:
		return binary.BigEndian.AppendUint32(dst, 0)
	case Choke, Unchoke, Interested, NotInterested, HaveAll, HaveNone:
		return appendHeader(dst, 1, kinds[m.Kind].id)
	case Have, Suggest, AllowedFast:
		dst = appendHeader(dst, 5, kinds[m.Kind].id)
		return binary.BigEndian.AppendUint32(dst, m.Index)
	case Request, Cancel, Reject:
		dst = appendHeader(dst, 13, kinds[m.Kind].id)
		dst = binary.BigEndian.AppendUint32(dst, m.Index)
		dst = binary.BigEndian.AppendUint32(dst, m.Begin)
		return binary.BigEndian.AppendUint32(dst, m.Length)
	case Port:
		dst = appendHeader(dst, 3, kinds[Port].id)
		return binary.BigEndian.AppendUint16(dst, m.Port)
	case Bitfield, HashRequest, Hashes, HashReject:
		dst = appendHeader(dst, 1+uint32(len(m.Payload)), kinds[m.Kind].id)
		return append(dst, m.Payload...)
	case Piece:
		dst = AppendPieceHeader(dst, m.Index, m.Begin, len(m.Payload))
		return append(dst, m.Payload...)
	case Extended:
		dst = appendHeader(dst, 2+uint32(len(m.Payload)), kinds[Extended].id)
		dst = append(dst, m.ExtID)
		return append(dst, m.Payload...)
	case Unknown:
		dst = appendHeader(dst, 1+uint32(len(m.Payload)), m.ID)
		return append(dst, m.Payload...)
	}
	return dst
}

// AppendPieceHeader appends the 13 bytes that precede a block of blockLen
// bytes in a piece message, so that a writer can send the block from its
// own buffer (with net.Buffers, say) instead of copying it.
func AppendPieceHeader(dst []byte, index, begin uint32, blockLen int) []byte {
	dst = appendHeader(dst, 9+uint32(blockLen), kinds[Piece].id)
	dst = binary.BigEndian.AppendUint32(dst, index)
	return binary.BigEndian.AppendUint32(dst, begin)
}

func appendHeader(dst []byte, length uint32, id byte) []byte {
	dst = binary.BigEndian.AppendUint32(dst, length)
	return append(dst, id)
}
