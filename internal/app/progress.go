package app

import (
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	bprogress "github.com/charmbracelet/bubbles/progress"
	"github.com/muesli/termenv"
)

// progress draws a one-line progress meter on a terminal (a bubbles
// progress bar with the rate and ETA). It is safe to call Set from any
// goroutine; drawing happens on its own ticker.
type progress struct {
	w     io.Writer
	bar   bprogress.Model
	label string
	total int64
	start time.Time
	done  atomic.Int64
	stop  chan struct{}
	wg    sync.WaitGroup
}

// startProgress returns nil (a valid, silent meter) when w is not a terminal.
func startProgress(env *Env, label string, total int64, quiet bool) *progress {
	if quiet || !env.tty(env.Stderr) {
		return nil
	}
	profile := termenv.NewOutput(env.Stderr, termenv.WithEnvironment(envLookup{env})).EnvColorProfile()
	p := &progress{w: env.Stderr, label: label, total: total, start: time.Now(), stop: make(chan struct{}),
		bar: bprogress.New(bprogress.WithSolidFill("42"), bprogress.WithoutPercentage(), bprogress.WithWidth(24),
			bprogress.WithColorProfile(profile))}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-t.C:
				p.draw()
			}
		}
	}()
	return p
}

func (p *progress) Set(n int64) {
	if p != nil {
		p.done.Store(n)
	}
}

func (p *progress) draw() {
	done := p.done.Load()
	el := time.Since(p.start).Seconds()
	rate := 0.0
	if el > 0 {
		rate = float64(done) / el
	}
	pct := 100.0
	if p.total > 0 {
		pct = float64(done) * 100 / float64(p.total)
	}
	bar := p.bar.ViewAs(pct / 100)
	eta := "--"
	if rate > 0 && done < p.total {
		eta = time.Duration(float64(p.total-done) / rate * float64(time.Second)).Round(time.Second).String()
	}
	fmt.Fprintf(p.w, "\r\x1b[K%s %s %5.1f%%  %s / %s  %s/s  ETA %s", p.label, bar, pct,
		FormatSize(done), FormatSize(p.total), FormatSize(int64(rate)), eta)
}

// Finish stops drawing and clears the line.
func (p *progress) Finish() {
	if p == nil {
		return
	}
	close(p.stop)
	p.wg.Wait()
	fmt.Fprint(p.w, "\r\x1b[K")
}
