package utp

import (
	"context"
	"fmt"
	"io"
	"testing"
	"time"
)

// BenchmarkLoopback sends 256 MiB per iteration over one connection on
// loopback, both ends in this process.
func BenchmarkLoopback(b *testing.B) {
	for _, size := range []int{1400, 16 << 10} {
		b.Run(fmt.Sprintf("packet=%d", size), func(b *testing.B) { benchLoopback(b, Config{PacketSize: size}) })
	}
}

func benchLoopback(b *testing.B, cfg Config) {
	a, z := newEndpoint(b, cfg, nil), newEndpoint(b, cfg, nil)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	const size = 256 << 20
	done := make(chan error, 1)
	go func() {
		c, err := z.s.Accept()
		if err != nil {
			done <- err
			return
		}
		_, err = io.CopyN(io.Discard, c, int64(size)*int64(b.N))
		done <- err
	}()
	c, err := a.s.Dial(ctx, z.mux.LocalAddr())
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 1<<20)
	b.SetBytes(size)
	b.ResetTimer()
	for range b.N {
		for sent := 0; sent < size; sent += len(buf) {
			if _, err := c.Write(buf); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	st := c.Stats()
	b.ReportMetric(float64(st.Retransmits), "retransmits")
	b.ReportMetric(float64(st.Cwnd>>10), "cwnd_KiB")
}
