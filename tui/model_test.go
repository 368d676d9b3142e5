package tui

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"

	"tt/internal/session"
	"tt/picker"
)

var t0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

// fixture is a snapshot of a download in progress: every kind of piece,
// peer and tracker state appears.
func fixture() session.Stats {
	n := 120
	st := session.Stats{
		Name: "tt-demo", Pieces: n, PieceLength: 256 << 10, Have: 50, Total: int64(n) * 256 << 10,
		Wanted: int64(n-10) * 256 << 10, Left: int64(60) * 256 << 10,
		Downloaded: 14 << 20, Uploaded: 3 << 20, Wasted: 32 << 10, DownRate: 6.5 * (1 << 20), UpRate: 512 << 10,
		HashFails: 1, Banned: 1, Known: 7, Elapsed: 83 * time.Second, State: session.StateDownloading,
		Sources: map[session.PeerSource]int{session.SourceTracker: 2, session.SourceIncoming: 1},
		KnownBy: map[session.PeerSource]int{session.SourceTracker: 5, session.SourcePEX: 2},
	}
	st.PieceState = make([]uint8, n)
	st.Availability = make([]uint16, n)
	for i := range st.PieceState {
		switch {
		case i < 50:
			st.PieceState[i] = session.PieceHave
		case i < 54:
			st.PieceState[i] = session.PiecePartial
		case i >= 110:
			st.PieceState[i] = session.PieceSkipped
		}
		st.Availability[i] = uint16(i % 5)
	}
	st.Peers = []session.PeerStats{
		{Addr: "127.0.0.1:40001", Client: "libtorrent/2.0.8", Source: session.SourceTracker, AmInterested: true, PeerInterested: true,
			Seed: true, DownRate: 4 << 20, UpRate: 0, Progress: 1, Requests: 312, ChokeReason: "not interested", AmChoking: true},
		{Addr: "127.0.0.1:40002", Client: "tt 0.1.0", Source: session.SourceTracker, AmInterested: true, PeerInterested: true,
			DownRate: 2.5 * (1 << 20), UpRate: 512 << 10, Progress: 0.42, Requests: 96, ChokeReason: "top rate", Optimistic: false},
		{Addr: "[::1]:40003", Client: "", Source: session.SourceIncoming, PeerChoking: true, AmInterested: true, PeerInterested: true,
			Snubbed: true, Progress: 0.1, ChokeReason: "optimistic", Optimistic: true},
	}
	st.Files = []session.FileStats{
		{Path: "README.txt", Length: 90, Done: 90, Priority: picker.Normal},
		{Path: "video/episode-01.mkv", Length: 20 << 20, Done: 12 << 20, Priority: picker.High},
		{Path: "video/episode-02.mkv", Length: 8 << 20, Done: 0, Priority: picker.Normal},
		{Path: "extras/making-of.mp4", Length: 2 << 20, Done: 0, Priority: picker.Skip},
	}
	st.Trackers = []session.TrackerStats{
		{URL: "http://127.0.0.1:6969/announce", Tier: 0, Status: session.TrackerWorking, Seeders: 3, Leechers: 2, Peers: 4, Last: t0.Add(-20 * time.Second), Next: t0.Add(100 * time.Second)},
		{URL: "udp://127.0.0.1:6969", Tier: 0, Status: session.TrackerError, Error: "tracker: timed out after 4 tries", Next: t0.Add(15 * time.Second)},
	}
	return st
}

// fakeControl records what the keys asked for.
type fakeControl struct {
	calls []string
	fail  bool
}

func (f *fakeControl) Pause() error  { f.calls = append(f.calls, "pause"); return f.err() }
func (f *fakeControl) Resume() error { f.calls = append(f.calls, "resume"); return f.err() }
func (f *fakeControl) SetFilePriority(i int, p picker.Priority) error {
	f.calls = append(f.calls, fmt.Sprintf("prio %d %d", i, p))
	return f.err()
}
func (f *fakeControl) Stop(force bool) { f.calls = append(f.calls, fmt.Sprintf("stop %v", force)) }
func (f *fakeControl) err() error {
	if f.fail {
		return errors.New("session: not running")
	}
	return nil
}

func newTest(ctl Controller, ascii bool) Model {
	m := New(Options{Name: "tt-demo", InfoHash: "0123456789abcdef0123456789abcdef01234567", Control: ctl,
		Profile: termenv.Ascii, ASCII: ascii, Now: func() time.Time { return t0 }})
	// a minute of rates for the sparklines
	for i := 0; i < 60; i++ {
		st := fixture()
		st.DownRate = float64(i%12) * (1 << 19)
		st.UpRate = float64(i%5) * (1 << 17)
		m.setStats(st)
	}
	m.setStats(fixture())
	return m
}

func update(m Model, msgs ...tea.Msg) (Model, tea.Cmd) {
	var cmd tea.Cmd
	for _, msg := range msgs {
		var tm tea.Model
		tm, cmd = m.Update(msg)
		m = tm.(Model)
	}
	return m, cmd
}

func key(s string) tea.KeyMsg {
	switch s {
	case "tab":
		return tea.KeyMsg{Type: tea.KeyTab}
	case "shift+tab":
		return tea.KeyMsg{Type: tea.KeyShiftTab}
	case "down":
		return tea.KeyMsg{Type: tea.KeyDown}
	case "up":
		return tea.KeyMsg{Type: tea.KeyUp}
	case " ":
		return tea.KeyMsg{Type: tea.KeySpace, Runes: []rune{' '}}
	case "ctrl+c":
		return tea.KeyMsg{Type: tea.KeyCtrlC}
	}
	return tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(s)}
}

// golden compares got with testdata/NAME.golden; UPDATE_GOLDEN=1 rewrites it.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if os.Getenv("UPDATE_GOLDEN") != "" {
		os.MkdirAll("testdata", 0o755)
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with UPDATE_GOLDEN=1 to create it)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs from %s:\n--- got ---\n%s\n--- want ---\n%s", name, path, got, want)
	}
}

// checkFrame requires exactly h lines of at most w cells.
func checkFrame(t *testing.T, name, frame string, w, h int) {
	t.Helper()
	lines := strings.Split(frame, "\n")
	if len(lines) != h {
		t.Errorf("%s: %d lines, want %d", name, len(lines), h)
	}
	for i, l := range lines {
		if lw := lipgloss.Width(l); lw > w {
			t.Errorf("%s: line %d is %d cells wide, more than %d: %q", name, i+1, lw, w, l)
		}
		if strings.Contains(l, "\x1b") {
			t.Errorf("%s: line %d has an escape sequence under the ASCII profile: %q", name, i+1, l)
		}
	}
}

func TestViewsGolden(t *testing.T) {
	sizes := [][2]int{{80, 24}, {160, 48}, {60, 20}}
	for v := 0; v < numViews; v++ {
		for _, sz := range sizes {
			name := fmt.Sprintf("%s-%dx%d", strings.ToLower(viewNames[v]), sz[0], sz[1])
			t.Run(name, func(t *testing.T) {
				m, _ := update(newTest(nil, false), tea.WindowSizeMsg{Width: sz[0], Height: sz[1]}, key(fmt.Sprint(v+1)))
				frame := m.View()
				checkFrame(t, name, frame, sz[0], sz[1])
				golden(t, name, frame)
			})
		}
	}
}

func TestDumbTerminalGolden(t *testing.T) {
	for _, v := range []int{ViewOverview, ViewPieces} {
		name := "ascii-" + strings.ToLower(viewNames[v]) + "-80x24"
		m, _ := update(newTest(nil, true), tea.WindowSizeMsg{Width: 80, Height: 24}, key(fmt.Sprint(v+1)))
		frame := m.View()
		checkFrame(t, name, frame, 80, 24)
		for _, r := range frame {
			if r > 127 {
				t.Fatalf("%s: non-ASCII %q in a TERM=dumb frame", name, r)
			}
		}
		golden(t, name, frame)
	}
}

func TestStates(t *testing.T) {
	for _, c := range []struct {
		state        session.State
		reason, want string
	}{
		{session.StateStalled, "no peers connected", "stalled: no peers connected"},
		{session.StatePaused, "", "paused (p resumes)"},
		{session.StateSeeding, "", "seeding"},
		{session.StateEndgame, "", "endgame"},
		{session.StateChecking, "", "checking the data on disk"},
		{session.StateFetchingMetadata, "2 of 5 pieces", "fetching metadata from peers: 2 of 5 pieces"},
	} {
		m := newTest(nil, false)
		st := fixture()
		st.State, st.Reason = c.state, c.reason
		m.setStats(st)
		if v := m.View(); !strings.Contains(v, "state     "+c.want) {
			t.Errorf("state %s: view lacks %q:\n%s", c.state, c.want, v)
		}
	}
	var m Model = New(Options{Profile: termenv.Ascii})
	if v := m.View(); !strings.Contains(v, "waiting for the engine") {
		t.Errorf("before the first snapshot:\n%s", v)
	}
}

func TestKeysSwitchViews(t *testing.T) {
	m := newTest(nil, false)
	for i, want := range []int{ViewPeers, ViewPieces, ViewFiles, ViewTrackers, ViewOverview} {
		m, _ = update(m, key("tab"))
		if m.CurrentView() != want {
			t.Fatalf("tab %d: view %d, want %d", i+1, m.CurrentView(), want)
		}
	}
	m, _ = update(m, key("shift+tab"))
	if m.CurrentView() != ViewTrackers {
		t.Fatalf("shift+tab: view %d", m.CurrentView())
	}
	for _, c := range []struct {
		k    string
		want int
	}{{"1", ViewOverview}, {"2", ViewPeers}, {"3", ViewPieces}, {"4", ViewFiles}, {"5", ViewTrackers}, {"h", ViewFiles}, {"l", ViewTrackers}} {
		m, _ = update(m, key(c.k))
		if m.CurrentView() != c.want {
			t.Fatalf("key %s: view %d, want %d", c.k, m.CurrentView(), c.want)
		}
	}
}

func TestKeysPeers(t *testing.T) {
	m, _ := update(newTest(nil, false), key("2"))
	if m.peerCursor != 0 {
		t.Fatal("cursor does not start at the top")
	}
	m, _ = update(m, key("j"), key("down"), key("down"))
	if m.peerCursor != 2 {
		t.Fatalf("cursor %d after three downs over three peers, want 2", m.peerCursor)
	}
	m, _ = update(m, key("k"))
	if m.peerCursor != 1 {
		t.Fatalf("cursor %d after up", m.peerCursor)
	}
	order := func(m Model) string {
		var s []string
		for _, p := range m.sortedPeers() {
			s = append(s, p.Addr)
		}
		return strings.Join(s, " ")
	}
	want := []string{
		"127.0.0.1:40002 127.0.0.1:40001 [::1]:40003", // up rate
		"127.0.0.1:40001 127.0.0.1:40002 [::1]:40003", // progress
		"127.0.0.1:40001 127.0.0.1:40002 [::1]:40003", // address
		"127.0.0.1:40001 127.0.0.1:40002 [::1]:40003", // down rate again
	}
	if got := order(m); got != want[3] {
		t.Fatalf("default order %q", got)
	}
	for i, w := range want {
		m, _ = update(m, key("s"))
		if got := order(m); got != w {
			t.Fatalf("sort %d (%s): %q, want %q", i+1, sortNames[m.peerSort], got, w)
		}
	}
	if !strings.Contains(m.View(), "s sort (down rate)") {
		t.Fatal("help bar does not name the sort order")
	}
}

func TestKeysFilesAndPause(t *testing.T) {
	ctl := &fakeControl{}
	m, _ := update(newTest(ctl, false), key("4"), key(" "))
	m, _ = update(m, key("j"), key("+"), key("j"), key("-"), key("j"), key(" "), key("j"), key("j"))
	m, _ = update(m, key("p"))
	st := fixture()
	st.State = session.StatePaused
	m, _ = update(m, statsMsg(st), key("p"))
	want := []string{"prio 0 0", "prio 1 7", "prio 2 1", "prio 3 4", "pause", "resume"}
	if fmt.Sprint(ctl.calls) != fmt.Sprint(want) {
		t.Fatalf("calls %v, want %v", ctl.calls, want)
	}
	if m.fileCursor != 3 {
		t.Fatalf("file cursor %d, want 3 (the last)", m.fileCursor)
	}
	// + at the top priority stays there; space and +/- do nothing outside the files view.
	ctl.calls = nil
	m, _ = update(m, key("1"), key(" "), key("+"), key("-"))
	if len(ctl.calls) != 0 {
		t.Fatalf("keys outside the files view acted: %v", ctl.calls)
	}
	// A failing control call is shown, not fatal.
	ctl.fail = true
	m, _ = update(m, key("4"), key(" "))
	if !strings.Contains(m.View(), "session: not running") {
		t.Fatal("error of a control call not shown")
	}
}

func TestQuitGracefulThenForced(t *testing.T) {
	ctl := &fakeControl{}
	m, cmd := update(newTest(ctl, false), key("q"))
	if cmd != nil {
		t.Fatal("the first q quits at once; it should wait for the engine to stop")
	}
	if !strings.Contains(m.View(), "stopping") {
		t.Fatal("no stopping notice after q")
	}
	m, cmd = update(m, key("ctrl+c"))
	if cmd == nil || cmd() != tea.Quit() {
		t.Fatal("the second q does not quit")
	}
	if !m.Forced() || fmt.Sprint(ctl.calls) != "[stop false stop true]" {
		t.Fatalf("forced %v, calls %v", m.Forced(), ctl.calls)
	}
}

func TestSnapshotsAndClose(t *testing.T) {
	ch := make(chan session.Stats, 1)
	m := New(Options{Updates: ch, Refresh: 250 * time.Millisecond, Profile: termenv.Ascii})
	cmd := m.Init()
	ch <- fixture()
	msg := cmd()
	if _, ok := msg.(statsMsg); !ok {
		t.Fatalf("Init's command returned %T", msg)
	}
	m, cmd = update(m, msg)
	if !m.haveStats || cmd == nil {
		t.Fatal("snapshot not taken, or no next wait scheduled")
	}
	start := time.Now()
	if _, ok := cmd().(pollMsg); !ok {
		t.Fatal("a snapshot schedules a poll after the refresh interval")
	}
	if time.Since(start) < 200*time.Millisecond {
		t.Fatal("the next poll came before the refresh interval")
	}
	close(ch)
	_, cmd = update(m, pollMsg{})
	if msg := cmd(); msg != (closedMsg{}) {
		t.Fatalf("after close: %T", msg)
	}
	if _, cmd = update(m, closedMsg{}); cmd == nil || cmd() != tea.Quit() {
		t.Fatal("closing the updates does not quit")
	}
}

// TestKeysTogether: keys that arrive in one read act one by one.
func TestKeysTogether(t *testing.T) {
	ctl := &fakeControl{}
	m, _ := update(newTest(ctl, false), tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("5" + "1p")})
	if m.CurrentView() != ViewOverview || fmt.Sprint(ctl.calls) != "[pause]" {
		t.Fatalf("view %d, calls %v", m.CurrentView(), ctl.calls)
	}
}

func TestResize(t *testing.T) {
	m := newTest(nil, false)
	for _, sz := range [][2]int{{80, 24}, {60, 20}, {200, 60}, {20, 5}} {
		for v := 0; v < numViews; v++ {
			m, _ = update(m, tea.WindowSizeMsg{Width: sz[0], Height: sz[1]}, key(fmt.Sprint(v+1)))
			checkFrame(t, fmt.Sprintf("%s at %dx%d", viewNames[v], sz[0], sz[1]), m.View(), sz[0], sz[1])
		}
	}
}

// BenchmarkFrame200Peers is the cost of one snapshot and one frame with
// 200 peers and 4096 pieces on a 160x48 terminal, in each view; at the
// default refresh the view draws about once a second.
func BenchmarkFrame200Peers(b *testing.B) {
	st := fixture()
	st.Pieces = 4096
	st.PieceState = make([]uint8, st.Pieces)
	st.Availability = make([]uint16, st.Pieces)
	for i := range st.PieceState {
		st.PieceState[i] = uint8(i % 3)
		st.Availability[i] = uint16(i % 7)
	}
	st.Peers = nil
	for i := 0; i < 200; i++ {
		st.Peers = append(st.Peers, session.PeerStats{Addr: fmt.Sprintf("127.0.0.1:%d", 20000+i), Client: "libtorrent/2.0.8",
			AmInterested: true, PeerInterested: i%2 == 0, DownRate: float64(i * 1000), UpRate: float64(i * 10), Progress: float64(i) / 200})
	}
	for v := 0; v < numViews; v++ {
		b.Run(strings.ToLower(viewNames[v]), func(b *testing.B) {
			m, _ := update(newTest(nil, false), tea.WindowSizeMsg{Width: 160, Height: 48}, key(fmt.Sprint(v+1)))
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				m, _ = update(m, statsMsg(st))
				_ = m.View()
			}
		})
	}
}
