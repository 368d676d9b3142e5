// Package picker decides which blocks to request from which peer.
//
// A Picker is a plain data structure owned by one torrent's event loop. It
// has no locks, goroutines, clock or I/O; randomness comes from the
// *rand.Rand in Config. Every method is synchronous and must be called from
// a single goroutine.
//
// # Geometry
//
// A torrent of TotalLength bytes is cut into pieces of PieceLength bytes
// (the last one shorter) and every piece into blocks of BlockSize (16 KiB;
// the last block of the last piece shorter). Blocks are requested with the
// Block values Next returns and identified on arrival by the same triple.
//
// # What the picker tracks
//
//   - the pieces we have (PieceVerified), and the pieces we want: priority
//     above Skip and not had. Piece priorities come from file priorities
//     (SetFilePriorities: a piece spanning several files gets the highest
//     of their priorities) or are set directly (SetPiecePriorities);
//   - every peer's pieces (PeerBitfield, PeerHas, PeerHasAll, PeerHasNone,
//     PeerGone) and from them each piece's availability. The picker keeps
//     its own copy of each peer's set, so a repeated have message cannot
//     inflate availability and a departing peer is subtracted exactly. A
//     peer holding every piece is counted as a seed and costs nothing per
//     piece;
//   - for every started ("partial") piece, each block's outstanding
//     requests (which peers) and which peer delivered it.
//
// # Order of selection
//
// Next(peer, n) returns up to n blocks the peer has and we lack, and
// records them as requested from that peer. Candidates are taken in this
// order:
//
//  1. Higher piece priority first. Within one priority level:
//  2. Partial pieces with blocks nobody has requested, most received blocks
//     first (lowest index first in sequential mode), so started pieces are
//     finished before new ones are opened (BEP 3 "strict priority").
//  3. Untouched pieces:
//     - in sequential mode, lowest index first;
//     - while fewer than Config.RandomFirst pieces are verified, a
//     uniformly random piece, so there is something to trade quickly;
//     - otherwise rarest first: fewest peers holding it, uniformly random
//     among equal availability.
//  4. Endgame: once every wanted block is requested or received (Endgame
//     reports it), blocks still outstanding may be requested again from
//     other peers, as long as a block has at most Config.MaxDuplicates
//     outstanding requests in all. Received returns the requests to cancel.
//
// Blocks inside a piece are requested in increasing offset.
//
// # Bookkeeping
//
// Received records an arriving block and says whether to store it and
// whether its piece is ready to hash; PieceVerified and PieceFailed report
// the hash result (PieceFailed returns the peers that contributed blocks,
// for smart-ban accounting, and puts the piece back in the pool). Rejected,
// Cancelled and Timeout put one requested block back in the pool;
// CancelAll and PeerGone do so for all of a peer's requests.
//
// # Cost
//
// Let P be the number of pieces, K the number of availability buckets (at
// most one more than the peers connected at once) and A the number of
// started pieces. A have message costs O(1); a bitfield O(P/64 + pieces
// set); PieceVerified O(K + peers); Next for a peer that has most pieces
// O(A log A + n) plus O(K) for every piece it opens. For a peer holding few
// pieces Next falls back to one pass over the words of the fresh set and the
// peer's bitfield, O(P/64). Changing priorities rebuilds everything, O(P +
// peers·P/64).
package picker
