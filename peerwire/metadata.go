package peerwire

import (
	"errors"
	"fmt"
	"strconv"

	"tt/bencode"
)

// BEP 9: exchanging the info dictionary over the extension protocol.
const (
	// MetadataExt is the extension's name in the "m" dictionary.
	MetadataExt = "ut_metadata"
	// MetadataPieceSize is the size of every metadata piece but the last.
	MetadataPieceSize = 16384
	// MaxMetadataSize bounds the info dictionaries tt accepts (many clients use 8-16 MiB).
	MaxMetadataSize = 16 << 20
)

// Metadata message types.
const (
	MetadataRequest = 0
	MetadataData    = 1
	MetadataReject  = 2
)

// ErrMetadata reports a malformed ut_metadata message.
var ErrMetadata = errors.New("peerwire: bad ut_metadata message")

// MetadataMsg is one ut_metadata message.
type MetadataMsg struct {
	Type      int
	Piece     int
	TotalSize int    // in data messages
	Data      []byte // the piece, in data messages (aliases the payload)
}

// AppendMetadataMsg encodes m as an extended message payload.
func AppendMetadataMsg(dst []byte, m MetadataMsg) []byte {
	dst = append(dst, "d8:msg_typei"...)
	dst = strconv.AppendInt(dst, int64(m.Type), 10)
	dst = append(dst, "e5:piecei"...)
	dst = strconv.AppendInt(dst, int64(m.Piece), 10)
	dst = append(dst, 'e')
	if m.Type == MetadataData {
		dst = append(dst, "10:total_sizei"...)
		dst = strconv.AppendInt(dst, int64(m.TotalSize), 10)
		dst = append(dst, 'e')
	}
	dst = append(dst, 'e')
	return append(dst, m.Data...)
}

// ParseMetadataMsg decodes a ut_metadata payload: a dictionary, followed
// by the piece's bytes in a data message. Sizes and indices are checked:
// a piece is at most MetadataPieceSize, total_size at most MaxMetadataSize.
func ParseMetadataMsg(payload []byte) (MetadataMsg, error) {
	v, _, err := bencode.Parse(payload, bencode.Options{Lenient: true, MaxDepth: 4})
	if err != nil {
		return MetadataMsg{}, fmt.Errorf("%w: %w", ErrMetadata, err)
	}
	if v.Kind() != bencode.Dict {
		return MetadataMsg{}, fmt.Errorf("%w: not a dictionary", ErrMetadata)
	}
	field := func(k string) (int64, bool) {
		x, ok := v.Get(k)
		if !ok {
			return 0, false
		}
		return x.Int()
	}
	t, ok1 := field("msg_type")
	p, ok2 := field("piece")
	if !ok1 || !ok2 || t < 0 || t > 2 || p < 0 || p > MaxMetadataSize/MetadataPieceSize {
		return MetadataMsg{}, fmt.Errorf("%w: msg_type %d, piece %d", ErrMetadata, t, p)
	}
	m := MetadataMsg{Type: int(t), Piece: int(p)}
	if m.Type == MetadataData {
		total, ok := field("total_size")
		if !ok || total <= 0 || total > MaxMetadataSize {
			return MetadataMsg{}, fmt.Errorf("%w: total_size %d", ErrMetadata, total)
		}
		m.TotalSize = int(total)
		m.Data = payload[len(v.Raw()):]
		if len(m.Data) > MetadataPieceSize {
			return MetadataMsg{}, fmt.Errorf("%w: %d bytes in one piece", ErrMetadata, len(m.Data))
		}
	}
	return m, nil
}
