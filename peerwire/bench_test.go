package peerwire

import (
	"testing"
)

// loopReader serves the same bytes forever, as a fast connection would.
type loopReader struct {
	data []byte
	off  int
}

func (l *loopReader) Read(p []byte) (int, error) {
	n := copy(p, l.data[l.off:])
	l.off = (l.off + n) % len(l.data)
	return n, nil
}

// pieceStream returns n piece messages of 16 KiB blocks back to back.
func pieceStream(n int) []byte {
	block := make([]byte, DefaultMaxRequest)
	for i := range block {
		block[i] = byte(i)
	}
	var stream []byte
	for i := range n {
		stream = AppendMessage(stream, Message{Kind: Piece, Index: uint32(i), Begin: 0, Payload: block})
		if i%8 == 0 {
			stream = AppendMessage(stream, Message{Kind: Have, Index: uint32(i)})
		}
	}
	return stream
}

func readPieces(b *testing.B, r *Reader) {
	b.SetBytes(DefaultMaxRequest + 13)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; {
		m, err := r.ReadMessage()
		if err != nil {
			b.Fatal(err)
		}
		if m.Kind == Piece {
			i++
		}
	}
}

func BenchmarkReadPiece(b *testing.B) {
	readPieces(b, NewReader(&loopReader{data: pieceStream(64)}))
}

// BenchmarkReadPieceBlockBuffer reads blocks into caller-owned buffers
// recycled from a small ring, as a storage writer would.
func BenchmarkReadPieceBlockBuffer(b *testing.B) {
	r := NewReader(&loopReader{data: pieceStream(64)})
	var ring [4][DefaultMaxRequest]byte
	next := 0
	r.BlockBuffer = func(n int) []byte {
		next = (next + 1) % len(ring)
		return ring[next][:0]
	}
	readPieces(b, r)
}

func BenchmarkAppendPiece(b *testing.B) {
	block := make([]byte, DefaultMaxRequest)
	buf := make([]byte, 0, 2*len(block))
	b.SetBytes(int64(len(block)) + 13)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendMessage(buf[:0], Message{Kind: Piece, Index: 1, Payload: block})
	}
}

// TestReadPieceNoAllocs holds the steady-state read path to zero allocations.
func TestReadPieceNoAllocs(t *testing.T) {
	r := NewReader(&loopReader{data: pieceStream(16)})
	for range 32 {
		if _, err := r.ReadMessage(); err != nil {
			t.Fatal(err)
		}
	}
	if n := testing.AllocsPerRun(1000, func() {
		if _, err := r.ReadMessage(); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Fatalf("%v allocations per message", n)
	}
}

// BenchmarkReadPieceTCP reads piece messages from a loopback TCP connection
// fed by another goroutine: kernel copies included.
func BenchmarkReadPieceTCP(b *testing.B) {
	dialed, accepted := tcpPair(b)
	stream := pieceStream(64)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			if _, err := accepted.Write(stream); err != nil {
				return
			}
		}
	}()
	readPieces(b, NewReader(dialed))
	b.StopTimer()
	dialed.Close()
	<-done
}
