package app

import (
	"encoding/hex"
	"errors"
	"os"
	"sync"
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
	mu      sync.Mutex
	s       *session.Session // nil while checking
	stop    func()
	stopped atomic.Bool // the user quit
	forced  atomic.Bool // twice: do not wait for the graceful stop
}

var errNotYet = errors.New("not running yet: still checking the data on disk")

func (c *control) session() *session.Session {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.s
}

func (c *control) Pause() error {
	if s := c.session(); s != nil {
		return s.Pause()
	}
	return errNotYet
}

func (c *control) Resume() error {
	if s := c.session(); s != nil {
		return s.Resume()
	}
	return errNotYet
}

func (c *control) SetFilePriority(i int, p picker.Priority) error {
	if s := c.session(); s != nil {
		return s.SetFilePriority(i, p)
	}
	return errNotYet
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
	once   sync.Once
	mu     sync.Mutex // publish against close
	closed bool
	ch     chan session.Stats
	forced chan struct{} // closed when the program ends after a forced quit
}

func startLive(env *Env, o SwarmOptions, name string, ih [20]byte, stop func()) *live {
	profile := termenv.NewOutput(env.Stderr, termenv.WithEnvironment(envLookup{env})).EnvColorProfile()
	ascii := env.Getenv("TERM") == "dumb"
	if ascii {
		profile = termenv.Ascii
	}
	l := &live{ctl: &control{stop: stop}, done: make(chan struct{}), ch: make(chan session.Stats, 1), forced: make(chan struct{})}
	m := tui.New(tui.Options{Name: name, InfoHash: hex.EncodeToString(ih[:]), Updates: l.ch, Control: l.ctl,
		Refresh: o.Refresh, Profile: profile, ASCII: ascii})
	opts := []tea.ProgramOption{tea.WithOutput(env.Stderr), tea.WithInput(env.Stdin), tea.WithoutSignalHandler()}
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
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
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
	l.once.Do(func() {
		l.mu.Lock()
		l.closed = true
		close(l.ch)
		l.mu.Unlock()
		select {
		case <-l.done:
		case <-time.After(3 * time.Second):
			l.prog.Kill()
			<-l.done
		}
	})
}

// attach gives the keys the session once checking is over.
func (l *live) attach(s *session.Session) {
	l.ctl.mu.Lock()
	l.ctl.s = s
	l.ctl.mu.Unlock()
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
