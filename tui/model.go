// Package tui is the live terminal view of a running torrent: a Bubble Tea
// model over the engine's snapshots. The engine publishes a session.Stats
// value on a channel where the newest replaces an unread one; the model
// waits for the next one (at most one per refresh interval), so the engine
// never waits for the screen. Keys act on the engine through Controller.
package tui

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/progress"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"

	"tt/internal/session"
	"tt/picker"
)

// Controller is what the keys act on.
type Controller interface {
	Pause() error
	Resume() error
	SetFilePriority(file int, p picker.Priority) error
	// Stop ends the run: gracefully (trackers told, progress saved), or at
	// once when force is set.
	Stop(force bool)
}

// Views, in tab order.
const (
	ViewOverview = iota
	ViewPeers
	ViewPieces
	ViewFiles
	ViewTrackers
	numViews
)

var viewNames = [numViews]string{"Overview", "Peers", "Pieces", "Files", "Trackers"}

// Peer sort orders, cycled with s.
const (
	sortDown = iota
	sortUp
	sortProgress
	sortAddr
	numSorts
)

var sortNames = [numSorts]string{"down rate", "up rate", "progress", "address"}

// Options configure a Model.
type Options struct {
	Name     string
	InfoHash string
	// Updates carries the engine's snapshots; closing it ends the program.
	Updates <-chan session.Stats
	Control Controller
	// Refresh is the least time between two redraws for new snapshots
	// (default 1 s): on a slow link, a longer one sends less.
	Refresh time.Duration
	// Profile is the colour profile (termenv.Ascii for none).
	Profile termenv.Profile
	// ASCII draws with ASCII characters only (for TERM=dumb).
	ASCII bool
	// History is how many rate samples the sparklines keep (default 120).
	History int
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Model is the TUI's state.
type Model struct {
	o             Options
	st            session.Stats
	haveStats     bool
	down, up      []float64
	view          int
	width, height int
	peerSort      int
	peerCursor    int
	fileCursor    int
	stopping      bool
	forced        bool
	lastErr       string
	sty           styles
	bar           progress.Model
}

// New makes a model; run it with tea.NewProgram.
func New(o Options) Model {
	if o.Refresh <= 0 {
		o.Refresh = time.Second
	}
	if o.History <= 0 {
		o.History = 120
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	m := Model{o: o, width: 80, height: 24}
	m.sty = newStyles(o.Profile)
	opts := []progress.Option{progress.WithoutPercentage(), progress.WithColorProfile(o.Profile)}
	if o.ASCII {
		opts = append(opts, progress.WithFillCharacters('#', '-'), progress.WithSolidFill("7"))
	} else {
		opts = append(opts, progress.WithSolidFill("42"))
	}
	m.bar = progress.New(opts...)
	return m
}

// Forced reports whether the user quit a second time, not waiting for the
// graceful stop.
func (m Model) Forced() bool { return m.forced }

// CurrentView returns the index of the view on screen.
func (m Model) CurrentView() int { return m.view }

type statsMsg session.Stats
type closedMsg struct{}
type pollMsg struct{}

// waitStats blocks until the next snapshot.
func (m Model) waitStats() tea.Cmd {
	ch := m.o.Updates
	return func() tea.Msg {
		st, ok := <-ch
		if !ok {
			return closedMsg{}
		}
		return statsMsg(st)
	}
}

// Init starts waiting for snapshots.
func (m Model) Init() tea.Cmd { return m.waitStats() }

// Update handles snapshots, resizes and keys.
func (m Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case statsMsg:
		m.setStats(session.Stats(msg))
		refresh := m.o.Refresh
		return m, tea.Tick(refresh, func(time.Time) tea.Msg { return pollMsg{} })
	case pollMsg:
		return m, m.waitStats()
	case closedMsg:
		return m, tea.Quit
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		return m, nil
	case tea.KeyMsg:
		return m.key(msg)
	}
	return m, nil
}

func (m *Model) setStats(st session.Stats) {
	m.st, m.haveStats = st, true
	m.down = appendRing(m.down, st.DownRate, m.o.History)
	m.up = appendRing(m.up, st.UpRate, m.o.History)
	m.peerCursor = clamp(m.peerCursor, 0, len(st.Peers)-1)
	m.fileCursor = clamp(m.fileCursor, 0, len(st.Files)-1)
}

func appendRing(s []float64, v float64, n int) []float64 {
	s = append(s, v)
	if len(s) > n {
		s = s[len(s)-n:]
	}
	return s
}

func clamp(v, lo, hi int) int {
	if hi < lo {
		return lo
	}
	return max(lo, min(v, hi))
}

func (m Model) key(k tea.KeyMsg) (tea.Model, tea.Cmd) {
	// Keys typed faster than the screen reads them arrive as one message.
	if k.Type == tea.KeyRunes && len(k.Runes) > 1 && !k.Paste {
		var cmds []tea.Cmd
		var tm tea.Model = m
		for _, r := range k.Runes {
			var cmd tea.Cmd
			tm, cmd = tm.(Model).key(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{r}})
			cmds = append(cmds, cmd)
		}
		return tm, tea.Batch(cmds...)
	}
	m.lastErr = ""
	switch k.String() {
	case "q", "ctrl+c":
		if m.stopping {
			m.forced = true
			if m.o.Control != nil {
				m.o.Control.Stop(true)
			}
			return m, tea.Quit
		}
		m.stopping = true
		if m.o.Control != nil {
			m.o.Control.Stop(false)
		}
		return m, nil
	case "tab", "right", "l":
		m.view = (m.view + 1) % numViews
	case "shift+tab", "left", "h":
		m.view = (m.view + numViews - 1) % numViews
	case "1", "2", "3", "4", "5":
		m.view = int(k.String()[0] - '1')
	case "down", "j":
		m.move(1)
	case "up", "k":
		m.move(-1)
	case "pgdown":
		m.move(m.listRows())
	case "pgup":
		m.move(-m.listRows())
	case "s":
		if m.view == ViewPeers {
			m.peerSort = (m.peerSort + 1) % numSorts
		}
	case "p":
		m.togglePause()
	case " ":
		m.toggleFile()
	case "+", "=":
		m.bumpPriority(1)
	case "-":
		m.bumpPriority(-1)
	}
	return m, nil
}

func (m *Model) move(d int) {
	switch m.view {
	case ViewPeers:
		m.peerCursor = clamp(m.peerCursor+d, 0, len(m.st.Peers)-1)
	case ViewFiles:
		m.fileCursor = clamp(m.fileCursor+d, 0, len(m.st.Files)-1)
	}
}

func (m *Model) togglePause() {
	if m.o.Control == nil || !m.haveStats {
		return
	}
	var err error
	if m.st.State == session.StatePaused {
		err = m.o.Control.Resume()
		m.st.State = session.StateDownloading
	} else {
		err = m.o.Control.Pause()
		m.st.State = session.StatePaused
	}
	m.note(err)
}

func (m *Model) toggleFile() {
	if m.view != ViewFiles || m.o.Control == nil || m.fileCursor >= len(m.st.Files) {
		return
	}
	f := &m.st.Files[m.fileCursor]
	p := picker.Normal
	if f.Priority != picker.Skip {
		p = picker.Skip
	}
	if err := m.o.Control.SetFilePriority(m.fileCursor, p); err == nil {
		f.Priority = p
	} else {
		m.note(err)
	}
}

// priorities are the levels +/- step through.
var priorities = []picker.Priority{picker.Skip, picker.Low, picker.Normal, picker.High}

func (m *Model) bumpPriority(d int) {
	if m.view != ViewFiles || m.o.Control == nil || m.fileCursor >= len(m.st.Files) {
		return
	}
	f := &m.st.Files[m.fileCursor]
	i := sort.Search(len(priorities), func(i int) bool { return priorities[i] >= f.Priority })
	i = clamp(i+d, 0, len(priorities)-1)
	if err := m.o.Control.SetFilePriority(m.fileCursor, priorities[i]); err == nil {
		f.Priority = priorities[i]
	} else {
		m.note(err)
	}
}

func (m *Model) note(err error) {
	if err != nil {
		m.lastErr = err.Error()
	}
}

// sortedPeers is the peers in the chosen order.
func (m Model) sortedPeers() []session.PeerStats {
	ps := append([]session.PeerStats(nil), m.st.Peers...)
	sort.SliceStable(ps, func(i, j int) bool {
		a, b := ps[i], ps[j]
		switch m.peerSort {
		case sortDown:
			if a.DownRate != b.DownRate {
				return a.DownRate > b.DownRate
			}
		case sortUp:
			if a.UpRate != b.UpRate {
				return a.UpRate > b.UpRate
			}
		case sortProgress:
			if a.Progress != b.Progress {
				return a.Progress > b.Progress
			}
		}
		return a.Addr < b.Addr
	})
	return ps
}

// listRows is how many table rows fit under the header and above the help.
func (m Model) listRows() int { return max(m.height-6, 1) }

// formatting helpers

func size(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for v := n / unit; v >= unit && exp < 5; v /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

func rate(r float64) string { return size(int64(r)) + "/s" }

func eta(left int64, r float64) string {
	if left <= 0 {
		return "done"
	}
	if r < 1 {
		return "∞"
	}
	d := time.Duration(float64(left) / r * float64(time.Second))
	return shortDuration(d)
}

func shortDuration(d time.Duration) string {
	d = d.Round(time.Second)
	h, mi, s := int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60
	switch {
	case h > 0:
		return fmt.Sprintf("%dh%02dm", h, mi)
	case mi > 0:
		return fmt.Sprintf("%dm%02ds", mi, s)
	}
	return fmt.Sprintf("%ds", s)
}

// fit cuts or pads s to exactly w cells.
func fit(s string, w int) string {
	if w <= 0 {
		return ""
	}
	sw := lipgloss.Width(s)
	if sw > w {
		r := []rune(s)
		for len(r) > 0 && lipgloss.Width(string(r)) > w-1 {
			r = r[:len(r)-1]
		}
		return string(r) + "…"
	}
	return s + strings.Repeat(" ", w-sw)
}
