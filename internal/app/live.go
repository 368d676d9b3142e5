package app

import (
	"encoding/hex"
	"io"
	"os"
	"sync/atomic"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/muesli/termenv"

	"tt/internal/session"
	"tt/picker"
	"tt/tui"
)

// TUI modes of get and seed.
const (
	TUIAuto = ""    // when stdout and stderr are terminals, and neither --json nor -q
	TUIOn   = "on"  // --tui
	TUIOff  = "off" // --no-tui
)

// useTUI decides whether the live view runs.
func useTUI(env *Env, o SwarmOptions) bool {
	switch o.TUI {
	case TUIOn:
		return true
	case TUIOff:
		return false
	}
	return !o.JSON && !o.Quiet && env.tty(env.Stdout) && env.tty(env.Stderr)
}

// control is what the TUI's keys reach: the session, and the run's stop.
type control struct {
	s       *session.Session
	stop    func()
	stopped atomic.Bool // the user quit
	forced  atomic.Bool // twice: do not wait for the graceful stop
}

func (c *control) Pause() error  { return c.s.Pause() }
func (c *control) Resume() error { return c.s.Resume() }
func (c *control) SetFilePriority(i int, p picker.Priority) error {
	return c.s.SetFilePriority(i, p)
}
func (c *control) Stop(force bool) {
	c.stopped.Store(true)
	if force {
		c.forced.Store(true)
	}
	c.stop()
}

// live runs the TUI on stderr until updates is closed or the user quits.
// It returns when the program has ended.
type live struct {
	prog   *tea.Program
	ctl    *control
	done   chan struct{}
	ch     chan session.Stats
	forced chan struct{} // closed when the program ends after a forced quit
}

func startLive(env *Env, o SwarmOptions, name string, ih [20]byte, s *session.Session, stop func()) *live {
	profile := termenv.NewOutput(env.Stderr, termenv.WithEnvironment(envLookup{env})).EnvColorProfile()
	ascii := env.Getenv("TERM") == "dumb"
	if ascii {
		profile = termenv.Ascii
	}
	l := &live{ctl: &control{s: s, stop: stop}, done: make(chan struct{}), ch: make(chan session.Stats, 1), forced: make(chan struct{})}
	m := tui.New(tui.Options{Name: name, InfoHash: hex.EncodeToString(ih[:]), Updates: l.ch, Control: l.ctl,
		Refresh: o.Refresh, Profile: profile, ASCII: ascii})
	var in io.Reader = env.Stdin
	opts := []tea.ProgramOption{tea.WithOutput(env.Stderr), tea.WithInput(in), tea.WithoutSignalHandler()}
	if f, ok := env.Stderr.(*os.File); ok && isTerminal(f) {
		opts = append(opts, tea.WithAltScreen())
	}
	l.prog = tea.NewProgram(m, opts...)
	go func() {
		defer close(l.done)
		l.prog.Run()
		if l.ctl.forced.Load() {
			close(l.forced)
		}
	}()
	return l
}

// publish hands the view the newest snapshot, replacing an unread one.
func (l *live) publish(st session.Stats) {
	if l == nil {
		return
	}
	select {
	case <-l.ch:
	default:
	}
	select {
	case l.ch <- st:
	default:
	}
}

// finish closes the view (if the user has not) and waits for the
// terminal to be restored, at most a few seconds.
func (l *live) finish() {
	if l == nil {
		return
	}
	close(l.ch)
	select {
	case <-l.done:
	case <-time.After(3 * time.Second):
		l.prog.Kill()
		<-l.done
	}
}

// envLookup lets termenv read the command's environment (NO_COLOR, TERM,
// COLORTERM), not the process's.
type envLookup struct{ env *Env }

func (e envLookup) Environ() []string { return nil }
func (e envLookup) Getenv(k string) string {
	if e.env.Getenv == nil {
		return ""
	}
	return e.env.Getenv(k)
}
