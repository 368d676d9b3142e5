package tui

import (
	"fmt"
	"math"
	"strings"

	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"

	"tt/internal/session"
	"tt/picker"
)

type styles struct {
	r                                      *lipgloss.Renderer
	title, label, dim, bad, good, sel, tab lipgloss.Style
	activeTab, help                        lipgloss.Style
	avail                                  []lipgloss.Style // missing pieces by availability: 0, 1, 2-3, 4+
	have, partial                          lipgloss.Style
}

func newStyles(p termenv.Profile) styles {
	r := lipgloss.NewRenderer(nil)
	r.SetColorProfile(p)
	s := styles{r: r}
	s.title = r.NewStyle().Bold(true)
	s.label = r.NewStyle().Foreground(lipgloss.Color("244"))
	s.dim = r.NewStyle().Foreground(lipgloss.Color("240"))
	s.bad = r.NewStyle().Foreground(lipgloss.Color("196"))
	s.good = r.NewStyle().Foreground(lipgloss.Color("42"))
	s.sel = r.NewStyle().Reverse(true)
	s.tab = r.NewStyle().Foreground(lipgloss.Color("244"))
	s.activeTab = r.NewStyle().Bold(true).Underline(true)
	s.help = r.NewStyle().Foreground(lipgloss.Color("241"))
	s.have = r.NewStyle().Foreground(lipgloss.Color("42"))
	s.partial = r.NewStyle().Foreground(lipgloss.Color("33"))
	for _, c := range []string{"196", "208", "226", "250"} {
		s.avail = append(s.avail, r.NewStyle().Foreground(lipgloss.Color(c)))
	}
	return s
}

// View draws the whole screen: tabs, the current view, the help bar.
func (m Model) View() string {
	w, h := max(m.width, 20), max(m.height, 5)
	var body []string
	if !m.haveStats {
		body = []string{"", "  waiting for the engine…"}
	} else {
		switch m.view {
		case ViewOverview:
			body = m.overview(w)
		case ViewPeers:
			body = m.peers(w, h-3)
		case ViewPieces:
			body = m.pieces(w, h-3)
		case ViewFiles:
			body = m.files(w, h-3)
		case ViewTrackers:
			body = m.trackers(w)
		}
	}
	lines := []string{m.tabs(w)}
	room := h - 2
	if len(body) > room {
		body = body[:room]
	}
	lines = append(lines, body...)
	for len(lines) < h-1 {
		lines = append(lines, "")
	}
	lines = append(lines, m.helpBar(w))
	for i, l := range lines {
		if lipgloss.Width(l) > w {
			lines[i] = m.sty.r.NewStyle().MaxWidth(w).Render(l)
		}
	}
	return strings.Join(lines, "\n")
}

func (m Model) tabs(w int) string {
	var parts []string
	for i, n := range viewNames {
		label := fmt.Sprintf("%d %s", i+1, n)
		if i == m.view {
			parts = append(parts, m.sty.activeTab.Render("["+label+"]"))
		} else {
			parts = append(parts, m.sty.tab.Render(" "+label+" "))
		}
	}
	name := m.o.Name
	if m.haveStats && m.st.Name != "" {
		name = m.st.Name
	}
	left := m.sty.title.Render("tt") + " " + strings.Join(parts, "")
	right := m.fit(name, max(w-lipgloss.Width(left)-1, 0))
	return left + " " + m.sty.dim.Render(right)
}

func (m Model) helpBar(w int) string {
	keys := "tab/1-5 views  q quit  p pause"
	switch m.view {
	case ViewPeers:
		keys += "  ↑↓/jk move  s sort (" + sortNames[m.peerSort] + ")"
	case ViewFiles:
		keys += "  ↑↓/jk move  space select  +/- priority"
	}
	if m.o.ASCII {
		keys = strings.ReplaceAll(keys, "↑↓/", "")
	}
	switch {
	case m.stopping:
		keys = "stopping: telling trackers, saving progress… (q again to quit at once)"
	case m.lastErr != "":
		return m.sty.bad.Render(m.fit(m.lastErr, w))
	}
	return m.sty.help.Render(m.fit(keys, w))
}

func (m Model) fit(s string, w int) string {
	if m.o.ASCII {
		s = strings.ReplaceAll(s, "…", "...")
		out := fit(s, w)
		return strings.ReplaceAll(out, "…", "~")
	}
	return fit(s, w)
}

func (m Model) stateLine() string {
	st := m.st
	switch st.State {
	case session.StateStalled:
		return m.sty.bad.Render("stalled") + ": " + st.Reason
	case session.StateSeeding, session.StateComplete:
		return m.sty.good.Render(st.State.String())
	case session.StatePaused:
		return m.sty.title.Render("paused") + " (p resumes)"
	case session.StateChecking:
		return "checking the data on disk"
	case session.StateFetchingMetadata:
		return "fetching metadata from peers: " + st.Reason
	}
	return st.State.String()
}

func (m Model) overview(w int) []string {
	st := m.st
	lbl := func(s string) string { return m.sty.label.Render(fmt.Sprintf("%-9s", s)) }
	pct := 1.0
	if st.Wanted > 0 {
		pct = float64(st.Wanted-st.Left) / float64(st.Wanted)
	}
	barW := max(w-36, 10)
	m.bar.Width = barW
	ratio := 0.0
	if st.Downloaded > 0 {
		ratio = float64(st.Uploaded) / float64(st.Downloaded)
	} else if st.Total > 0 {
		ratio = float64(st.Uploaded) / float64(st.Total)
	}
	sparkW := max(w-32, 8)
	etaS := eta(st.Left, st.DownRate)
	if m.o.ASCII && etaS == "∞" {
		etaS = "-"
	}
	lines := []string{
		"",
		lbl("name") + " " + m.fit(st.Name, w-10),
		lbl("infohash") + " " + m.o.InfoHash,
		lbl("state") + " " + m.stateLine(),
		"",
		lbl("progress") + " " + m.bar.ViewAs(pct) + fmt.Sprintf(" %5.1f%%  %d/%d", pct*100, st.Have, st.Pieces),
		lbl("") + " " + fmt.Sprintf("%s of %s", size(st.Wanted-st.Left), size(st.Wanted)),
		"",
		lbl("down") + " " + fmt.Sprintf("%-12s", rate(st.DownRate)) + " " + m.spark(m.down, sparkW),
		lbl("up") + " " + fmt.Sprintf("%-12s", rate(st.UpRate)) + " " + m.spark(m.up, sparkW),
		lbl("eta") + " " + fmt.Sprintf("%-12s", etaS) + " " + m.sty.label.Render("ratio ") + fmt.Sprintf("%.2f", ratio) +
			m.sty.label.Render("  elapsed ") + shortDuration(st.Elapsed),
		lbl("totals") + " " + fmt.Sprintf("down %s  up %s  wasted %s  hash failures %d",
			size(st.Downloaded), size(st.Uploaded), size(st.Wasted), st.HashFails),
		"",
		lbl("peers") + " " + m.peerSummary(),
	}
	if n := len(st.Trackers); n > 0 {
		working := 0
		for _, t := range st.Trackers {
			if t.Status == session.TrackerWorking {
				working++
			}
		}
		lines = append(lines, lbl("trackers")+" "+fmt.Sprintf("%d of %d working", working, n))
	}
	return lines
}

func (m Model) peerSummary() string {
	st := m.st
	seeds := 0
	for _, p := range st.Peers {
		if p.Seed {
			seeds++
		}
	}
	var src []string
	for _, k := range []session.PeerSource{session.SourceTracker, session.SourceDHT, session.SourcePEX,
		session.SourceLSD, session.SourceIncoming, session.SourceManual} {
		n, known := st.Sources[k], st.KnownBy[k]
		switch {
		case known > 0:
			src = append(src, fmt.Sprintf("%s %d/%d", k, n, known))
		case n > 0:
			src = append(src, fmt.Sprintf("%s %d", k, n))
		}
	}
	s := fmt.Sprintf("%d connected (%d seeds), %d known", len(st.Peers), seeds, st.Known)
	if len(src) > 0 {
		s += " · " + strings.Join(src, ", ")
	}
	if m.o.ASCII {
		s = strings.ReplaceAll(s, "·", "-")
	}
	return s
}

// spark draws the last w samples as a bar chart one row high.
func (m Model) spark(v []float64, w int) string {
	levels := []rune("▁▂▃▄▅▆▇█")
	if m.o.ASCII {
		levels = []rune("_.-=+*#@")
	}
	if len(v) > w {
		v = v[len(v)-w:]
	}
	peak := 0.0
	for _, x := range v {
		peak = math.Max(peak, x)
	}
	var b strings.Builder
	for i := 0; i < w-len(v); i++ {
		b.WriteRune(' ')
	}
	for _, x := range v {
		i := 0
		if peak > 0 {
			i = int(math.Round(x / peak * float64(len(levels)-1)))
		}
		b.WriteRune(levels[i])
	}
	return m.sty.good.Render(b.String())
}

func (m Model) flags(p session.PeerStats) string {
	// like libtorrent and Transmission: D/d downloading from it (unchoked/choked
	// while interested), U/u uploading to it, O optimistic, S snubbed, s seed
	var f []byte
	switch {
	case p.AmInterested && !p.PeerChoking:
		f = append(f, 'D')
	case p.AmInterested:
		f = append(f, 'd')
	}
	switch {
	case p.PeerInterested && !p.AmChoking:
		f = append(f, 'U')
	case p.PeerInterested:
		f = append(f, 'u')
	}
	if p.Optimistic {
		f = append(f, 'O')
	}
	if p.Snubbed {
		f = append(f, 'S')
	}
	if p.Seed {
		f = append(f, 's')
	}
	return string(f)
}

func (m Model) peers(w, h int) []string {
	ps := m.sortedPeers()
	wide := w >= 120
	header := fmt.Sprintf("%-21s %-14s %-4s %-5s %-5s %10s %10s %5s %4s", "address", "client", "via", "enc", "flags", "down", "up", "have", "reqs")
	if wide {
		header += fmt.Sprintf(" %6s  our choke", "theirs")
	}
	lines := []string{"", m.sty.label.Render(m.fit(header, w))}
	rows, first := window(h-2, m.peerCursor)
	if len(ps) == 0 {
		lines = append(lines, m.sty.dim.Render("  no peers connected"))
	}
	for i := first; i < len(ps) && i < first+rows; i++ {
		p := ps[i]
		client := p.Client
		if client == "" {
			client = "?"
		}
		transport := "TCP"
		if p.Transport == session.OverUTP {
			transport = "uTP"
		}
		enc := p.Encryption
		if enc == "" {
			enc = session.EncPlain
		}
		line := fmt.Sprintf("%-21s %-14s %-4s %-5s %-5s %10s %10s %4.0f%% %4d", m.fit(p.Addr, 21), m.fit(client, 14), transport, m.fit(string(enc), 5),
			m.flags(p), rate(p.DownRate), rate(p.UpRate), p.Progress*100, p.Requests)
		if wide {
			why := p.ChokeReason
			if why == "" || why == "unknown" {
				why = "not yet decided"
			}
			switch {
			case !p.PeerInterested:
				why = "-"
			case p.AmChoking:
				why = "choked: " + why
			default:
				why = "unchoked: " + why
			}
			line += fmt.Sprintf(" %6d  %s", p.Uploads, why)
		}
		line = m.fit(line, w)
		if i == m.peerCursor {
			line = m.sty.sel.Render(line)
		}
		lines = append(lines, line)
	}
	return lines
}

// pieces draws a map of the torrent: each cell is one piece, or a run of
// pieces when there are more than cells; colour shows the availability of
// what is missing, so rarest-first can be watched.
func (m Model) pieces(w, h int) []string {
	st := m.st
	n := len(st.PieceState)
	lines := []string{""}
	legend := fmt.Sprintf("%d pieces of %s", st.Pieces, size(st.PieceLength))
	if st.Endgame {
		legend += "  ENDGAME"
	}
	if st.HashFails > 0 {
		legend += fmt.Sprintf("  %d hash failures", st.HashFails)
	}
	if st.Banned > 0 {
		legend += fmt.Sprintf("  %d banned", st.Banned)
	}
	lines = append(lines, m.sty.label.Render(m.fit(legend, w)))
	if n == 0 {
		return append(lines, m.sty.dim.Render("  no piece map"))
	}
	cols := max(w-2, 1)
	rows := max(h-5, 1)
	cells := min(n, cols*rows)
	per := (n + cells - 1) / cells
	cells = (n + per - 1) / per
	gHave, gPart, gMiss, gSkip := "█", "▓", "░", " "
	if m.o.ASCII {
		gHave, gPart, gMiss, gSkip = "#", "+", ".", " "
	}
	// Cells of one kind are drawn in runs: one styled string per run, not
	// per cell. Kinds: have, downloading, skipped, then missing by
	// availability class.
	kinds := []lipgloss.Style{m.sty.have, m.sty.partial, m.sty.r.NewStyle()}
	kinds = append(kinds, m.sty.avail...)
	glyphs := []string{gHave, gPart, gSkip, gMiss, gMiss, gMiss, gMiss}
	// Each style's escape codes, taken once from a rendered marker.
	pre, post := make([]string, len(kinds)), make([]string, len(kinds))
	for k, st := range kinds {
		pre[k], post[k], _ = strings.Cut(st.Render("\x00"), "\x00")
	}
	var row, run strings.Builder
	cur := -1
	flush := func() {
		if run.Len() > 0 {
			row.WriteString(pre[cur] + run.String() + post[cur])
			run.Reset()
		}
	}
	row.WriteString(" ")
	for c := 0; c < cells; c++ {
		lo, hi := c*per, min((c+1)*per, n)
		have, part, skip, minAvail := 0, 0, 0, math.MaxInt
		for i := lo; i < hi; i++ {
			switch st.PieceState[i] {
			case session.PieceHave:
				have++
			case session.PiecePartial:
				part++
			case session.PieceSkipped:
				skip++
			default:
				if i < len(st.Availability) {
					minAvail = min(minAvail, int(st.Availability[i]))
				}
			}
		}
		kind := 3 + availClass(minAvail)
		switch {
		case have == hi-lo:
			kind = 0
		case part > 0:
			kind = 1
		case skip == hi-lo:
			kind = 2
		}
		if kind != cur {
			flush()
			cur = kind
		}
		run.WriteString(glyphs[kind])
		if (c+1)%cols == 0 {
			flush()
			lines = append(lines, row.String())
			row.Reset()
			row.WriteString(" ")
		}
	}
	flush()
	if row.Len() > 1 {
		lines = append(lines, row.String())
	}
	key := fmt.Sprintf("%s have  %s downloading  %s missing: ", gHave, gPart, gMiss)
	if m.o.Profile == termenv.Ascii {
		key += "(colour shows availability)"
	} else {
		key += m.availStyle(0).Render("none") + " " + m.availStyle(1).Render("1 peer") + " " +
			m.availStyle(2).Render("2-3") + " " + m.availStyle(4).Render("4+")
	}
	if per > 1 {
		key += fmt.Sprintf("  (%d pieces a cell)", per)
	}
	lines = append(lines, "", " "+key)
	return lines
}

func (m Model) availStyle(a int) lipgloss.Style { return m.sty.avail[availClass(a)] }

// availClass buckets availability: none, one peer, 2-3, 4 or more.
func availClass(a int) int {
	switch {
	case a <= 0:
		return 0
	case a == 1:
		return 1
	case a <= 3:
		return 2
	}
	return 3
}

func prioName(p picker.Priority) string {
	switch {
	case p == picker.Skip:
		return "skip"
	case p <= picker.Low:
		return "low"
	case p <= picker.Normal:
		return "normal"
	}
	return "high"
}

func (m Model) files(w, h int) []string {
	fs := m.st.Files
	lines := []string{"", m.sty.label.Render(m.fit(fmt.Sprintf("%-3s %-6s %6s %10s  %s", "sel", "prio", "done", "size", "path"), w))}
	rows, first := window(h-2, m.fileCursor)
	if len(fs) == 0 {
		lines = append(lines, m.sty.dim.Render("  no file list"))
	}
	for i := first; i < len(fs) && i < first+rows; i++ {
		f := fs[i]
		sel := "[x]"
		if f.Priority == picker.Skip {
			sel = "[ ]"
		}
		pct := 100.0
		if f.Length > 0 {
			pct = float64(f.Done) * 100 / float64(f.Length)
		}
		path := f.Path
		if f.Pad {
			path += " (padding)"
		}
		line := m.fit(fmt.Sprintf("%-3s %-6s %5.1f%% %10s  %s", sel, prioName(f.Priority), pct, size(f.Length), path), w)
		if i == m.fileCursor {
			line = m.sty.sel.Render(line)
		}
		lines = append(lines, line)
	}
	return lines
}

func (m Model) trackers(w int) []string {
	ts := m.st.Trackers
	lines := []string{""}
	if len(ts) == 0 {
		return append(lines, m.sty.dim.Render("  no trackers in this torrent"))
	}
	lines = append(lines, m.sty.label.Render(m.fit(fmt.Sprintf("%-4s %-12s %7s %7s %6s %-7s %-7s  %s", "tier", "status", "seeds", "leech", "peers", "last", "next", "url"), w)))
	for _, t := range ts {
		next := "-"
		if !t.Next.IsZero() && t.Status != session.TrackerDisabled {
			until := t.Next.Sub(m.o.Now())
			next = shortDuration(until)
			if until <= 0 {
				next = "now"
			}
		}
		last := "-"
		if !t.Last.IsZero() {
			last = shortDuration(m.o.Now().Sub(t.Last)) + " ago"
			if len(last) > 7 {
				last = shortDuration(m.o.Now().Sub(t.Last))
			}
		}
		status := t.Status.String()
		st := lipgloss.NewStyle()
		switch t.Status {
		case session.TrackerWorking:
			st = m.sty.good
		case session.TrackerError:
			st = m.sty.bad
		}
		lines = append(lines, m.fit(fmt.Sprintf("%-4d ", t.Tier+1)+st.Render(fmt.Sprintf("%-12s", status))+
			fmt.Sprintf(" %7d %7d %6d %-7s %-7s  %s", t.Seeders, t.Leechers, t.Peers, last, next, t.URL), w))
		if t.Error != "" {
			lines = append(lines, m.sty.bad.Render(m.fit("     "+t.Error, w)))
		}
	}
	return lines
}

// window is how many list rows fit in room lines, and the first one to
// show so that the cursor stays on screen.
func window(room, cursor int) (rows, first int) {
	rows = max(room, 1)
	if cursor >= rows {
		first = cursor - rows + 1
	}
	return rows, first
}
