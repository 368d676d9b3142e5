package peerwire

import "fmt"

// CheckIndex checks a piece index (of a have, suggest or allowed-fast
// message) against the number of pieces.
func CheckIndex(index uint32, numPieces int) error {
	if numPieces < 0 || uint64(index) >= uint64(numPieces) {
		return fmt.Errorf("%w: %d with %d pieces", ErrBadIndex, index, numPieces)
	}
	return nil
}

// CheckBitfield checks that bf has exactly ceil(numPieces/8) bytes and that
// the spare bits after the last piece are zero.
func CheckBitfield(bf []byte, numPieces int) error {
	if numPieces < 0 {
		return fmt.Errorf("%w: %d pieces", ErrBadBitfield, numPieces)
	}
	want := numPieces/8 + min(numPieces%8, 1)
	if len(bf) != want {
		return fmt.Errorf("%w: %d bytes for %d pieces, want %d", ErrBadBitfield, len(bf), numPieces, want)
	}
	if spare := numPieces % 8; spare != 0 && bf[want-1]&(0xff>>spare) != 0 {
		return fmt.Errorf("%w: spare bits set in last byte %#02x", ErrBadBitfield, bf[want-1])
	}
	return nil
}

// CheckRequest checks a request (or the cancel or reject of one) that a
// peer sent us: index in range, 0 < length <= maxReq, and begin+length
// within the piece, whose length pieceLen reports. maxReq 0 means
// DefaultMaxRequest.
func CheckRequest(index, begin, length uint32, numPieces int, pieceLen func(int) int64, maxReq uint32) error {
	if maxReq == 0 {
		maxReq = DefaultMaxRequest
	}
	return checkSpan(ErrBadRequest, index, begin, int64(length), int64(maxReq), numPieces, pieceLen)
}

// CheckBlock checks the block of a piece message a peer sent us: index in
// range, 0 < length <= MaxBlockLength, and begin+length within the piece.
// Whether we asked for that block is the caller's question.
func CheckBlock(index, begin uint32, length int, numPieces int, pieceLen func(int) int64) error {
	return checkSpan(ErrBadBlock, index, begin, int64(length), MaxBlockLength, numPieces, pieceLen)
}

func checkSpan(sentinel error, index, begin uint32, length, maxLen int64, numPieces int, pieceLen func(int) int64) error {
	if numPieces < 0 || uint64(index) >= uint64(numPieces) {
		return fmt.Errorf("%w: index %d with %d pieces", sentinel, index, numPieces)
	}
	if length <= 0 || length > maxLen {
		return fmt.Errorf("%w: length %d, want 1 to %d", sentinel, length, maxLen)
	}
	if pieceLen == nil {
		return fmt.Errorf("%w: no piece geometry", sentinel)
	}
	if plen := pieceLen(int(index)); int64(begin)+length > plen {
		return fmt.Errorf("%w: bytes %d to %d beyond piece %d of length %d", sentinel, begin, int64(begin)+length, index, plen)
	}
	return nil
}
