package app

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"tt/metainfo"
)

// InspectOptions are the inputs of `tt inspect`.
type InspectOptions struct {
	Target string // path, "-" or a magnet link
	JSON   bool
	Strict bool // exit ExitLint when lint finds errors
	Files  bool // list files in the human view (default true)
}

// InspectFile is one file in the JSON document.
type InspectFile struct {
	Path   string `json:"path"`
	Length int64  `json:"length"`
	Offset int64  `json:"offset"`
	Attr   string `json:"attr,omitempty"`
}

// InspectResult is the JSON document `tt inspect --json` prints (schema tt.inspect/1).
type InspectResult struct {
	Schema       string             `json:"schema"`
	Kind         string             `json:"kind"` // "torrent" or "magnet"
	Name         string             `json:"name"`
	InfoHash     string             `json:"infohash"`
	InfoHashV2   string             `json:"infohash_v2,omitempty"`
	Magnet       string             `json:"magnet"`
	Private      bool               `json:"private"`
	Source       string             `json:"source,omitempty"`
	Comment      string             `json:"comment,omitempty"`
	CreatedBy    string             `json:"created_by,omitempty"`
	CreationDate *int64             `json:"creation_date"`
	PieceLength  int64              `json:"piece_length"`
	PieceCount   int                `json:"piece_count"`
	TotalSize    int64              `json:"total_size"`
	MultiFile    bool               `json:"multi_file"`
	V2Only       bool               `json:"v2_only"`
	Trackers     [][]string         `json:"trackers"`
	WebSeeds     []string           `json:"web_seeds"`
	Nodes        []string           `json:"dht_nodes"`
	Peers        []string           `json:"peers,omitempty"` // magnet x.pe
	SelectOnly   []int              `json:"select_only,omitempty"`
	Files        []InspectFile      `json:"files,omitempty"` // written last, one file per line
	Findings     []metainfo.Finding `json:"findings"`
}

// Inspect describes a torrent file or magnet link.
func Inspect(ctx context.Context, env *Env, o InspectOptions) error {
	if o.Target == "" {
		return Usagef("inspect: missing TORRENT (a .torrent path, - for stdin, or a magnet link)")
	}
	var res *InspectResult
	if metainfo.IsMagnet(o.Target) {
		m, err := metainfo.ParseMagnet(o.Target)
		if err != nil {
			return Exit(ExitBadTorrent, err)
		}
		res = magnetResult(m)
	} else {
		t, err := loadTorrent(env, o.Target)
		if err != nil {
			return err
		}
		metainfo.Lint(t)
		res = torrentResult(t)
	}
	if o.JSON {
		if err := writeInspectJSON(env.Stdout, res); err != nil {
			return Exit(ExitIO, err)
		}
	} else {
		printInspect(env.Stdout, res, o.Files)
	}
	if o.Strict && metainfo.HasErrors(res.Findings) {
		n := 0
		for _, f := range res.Findings {
			if f.Severity == metainfo.SevError {
				n++
			}
		}
		return Exit(ExitLint, fmt.Errorf("%s: %d lint error(s)", o.Target, n))
	}
	return nil
}

func torrentResult(t *metainfo.Torrent) *InspectResult {
	in := &t.Info
	r := &InspectResult{
		Schema: "tt.inspect/1", Kind: "torrent", Name: in.Name, InfoHash: t.InfoHashHex(),
		Magnet: t.Magnet().String(), Private: in.Private, Source: in.Source, Comment: t.Comment,
		CreatedBy: t.CreatedBy, PieceLength: in.PieceLength, PieceCount: t.NumPieces(),
		TotalSize: in.TotalLength, MultiFile: in.MultiFile, V2Only: t.V2Only(),
		Trackers: t.Trackers(), WebSeeds: t.URLList, Nodes: t.Nodes, Findings: t.Findings,
	}
	if t.HasV2 {
		r.InfoHashV2 = hex.EncodeToString(t.InfoHashV2[:])
	}
	if t.HasCreationDate {
		d := t.CreationDate
		r.CreationDate = &d
	}
	r.Files = make([]InspectFile, len(in.Files))
	for i, f := range in.Files {
		r.Files[i] = InspectFile{Path: t.FilePath(i), Length: f.Length, Offset: f.Offset, Attr: f.Attr}
	}
	fillEmpty(r)
	return r
}

func magnetResult(m *metainfo.Magnet) *InspectResult {
	r := &InspectResult{
		Schema: "tt.inspect/1", Kind: "magnet", Name: m.Name, Magnet: m.String(),
		WebSeeds: m.WebSeeds, Peers: m.Peers, SelectOnly: m.SelectOnly, TotalSize: -1,
	}
	if m.HasV1 {
		r.InfoHash = m.InfoHashHex()
	}
	if m.HasV2 {
		r.InfoHashV2 = hex.EncodeToString(m.InfoHashV2[:])
	}
	if m.Length >= 0 {
		r.TotalSize = m.Length
	}
	for _, tr := range m.Trackers {
		r.Trackers = append(r.Trackers, []string{tr})
	}
	fillEmpty(r)
	return r
}

// fillEmpty makes absent lists [] rather than null, so scripts can iterate.
func fillEmpty(r *InspectResult) {
	if r.Trackers == nil {
		r.Trackers = [][]string{}
	}
	if r.WebSeeds == nil {
		r.WebSeeds = []string{}
	}
	if r.Nodes == nil {
		r.Nodes = []string{}
	}
	if r.Files == nil {
		r.Files = []InspectFile{}
	}
	if r.Findings == nil {
		r.Findings = []metainfo.Finding{}
	}
}

func printInspect(w io.Writer, r *InspectResult, listFiles bool) {
	row := func(label, value string) {
		if value != "" {
			fmt.Fprintf(w, "%-13s %s\n", label, printable(value))
		}
	}
	row("Name", r.Name)
	row("Info hash", r.InfoHash)
	row("Info hash v2", r.InfoHashV2)
	if r.Kind == "torrent" {
		size := fmt.Sprintf("%s (%d bytes)", FormatSize(r.TotalSize), r.TotalSize)
		if r.MultiFile {
			size += fmt.Sprintf(" in %d files", len(r.Files))
		}
		row("Size", size)
		pieces := fmt.Sprintf("%d × %s", r.PieceCount, FormatSize(r.PieceLength))
		if r.PieceCount > 0 {
			if last := r.TotalSize - int64(r.PieceCount-1)*r.PieceLength; last != r.PieceLength {
				pieces += fmt.Sprintf(" (last %s)", FormatSize(last))
			}
		}
		row("Pieces", pieces)
		row("Private", map[bool]string{true: "yes", false: "no"}[r.Private])
	} else if r.TotalSize >= 0 {
		row("Size", fmt.Sprintf("%s (%d bytes)", FormatSize(r.TotalSize), r.TotalSize))
	}
	row("Source", r.Source)
	row("Created by", r.CreatedBy)
	if r.CreationDate != nil {
		row("Created on", time.Unix(*r.CreationDate, 0).UTC().Format("2006-01-02 15:04:05 UTC"))
	}
	row("Comment", strings.ReplaceAll(r.Comment, "\n", " "))
	for i, tier := range r.Trackers {
		label := ""
		if i == 0 {
			label = "Trackers"
		}
		fmt.Fprintf(w, "%-13s tier %d: %s\n", label, i+1, printable(strings.Join(tier, ", ")))
	}
	for i, u := range r.WebSeeds {
		label := ""
		if i == 0 {
			label = "Web seeds"
		}
		fmt.Fprintf(w, "%-13s %s\n", label, printable(u))
	}
	row("DHT nodes", strings.Join(r.Nodes, ", "))
	row("Peers", strings.Join(r.Peers, ", "))
	row("Magnet", r.Magnet)
	if listFiles && r.Kind == "torrent" {
		fmt.Fprintln(w, "Files")
		printTree(w, r)
	}
	if len(r.Findings) > 0 {
		fmt.Fprintln(w, "Lint")
		for _, f := range r.Findings {
			fmt.Fprintf(w, "  %s\n", printable(f.String()))
		}
	}
}

// printTree draws the file list as an indented tree with sizes, sizes
// aligned in one column.
func printTree(w io.Writer, r *InspectResult) {
	if !r.MultiFile {
		fmt.Fprintf(w, "  %s  %s\n", printable(r.Name), FormatSize(r.TotalSize))
		return
	}
	type line struct{ text, size string }
	lines := []line{{text: printable(r.Name) + "/"}}
	var prev []string
	for _, f := range r.Files {
		parts := strings.Split(printable(f.Path), "/")
		common := 0
		for common < len(prev) && common < len(parts)-1 && prev[common] == parts[common] {
			common++
		}
		for d := common; d < len(parts)-1; d++ {
			lines = append(lines, line{text: strings.Repeat("  ", d+1) + parts[d] + "/"})
		}
		name := parts[len(parts)-1]
		if f.Attr != "" {
			name += " [" + f.Attr + "]"
		}
		lines = append(lines, line{text: strings.Repeat("  ", len(parts)) + name, size: FormatSize(f.Length)})
		prev = parts[:len(parts)-1]
	}
	width := 0
	for _, l := range lines {
		width = max(width, len([]rune(l.text)))
	}
	width = min(width, 60)
	for _, l := range lines {
		if l.size == "" {
			fmt.Fprintf(w, "  %s\n", l.text)
			continue
		}
		pad := width - len([]rune(l.text))
		fmt.Fprintf(w, "  %s%s  %10s\n", l.text, strings.Repeat(" ", max(pad, 0)), l.size)
	}
}

// printable makes text from a torrent safe to print on a terminal: control
// characters (escape sequences among them) and invalid UTF-8 are shown as
// Go escapes instead of being sent raw.
func printable(s string) string {
	safe := true
	for _, r := range s {
		if r == utf8.RuneError || unicode.IsControl(r) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	q := strconv.Quote(s)
	return q[1 : len(q)-1]
}

// writeInspectJSON prints r with its file list written by hand: a torrent
// may list 100,000 files, and generic indentation of those dominates.
func writeInspectJSON(w io.Writer, r *InspectResult) error {
	files := r.Files
	head := *r
	head.Files = nil
	var buf bytes.Buffer
	if err := newJSONEncoder(&buf).Encode(&head); err != nil {
		return err
	}
	size := buf.Len() + 32
	for _, f := range files {
		size += len(f.Path) + len(f.Attr) + 80
	}
	b := make([]byte, 0, size)
	b = append(b, bytes.TrimRight(buf.Bytes(), "\n")...)
	b = bytes.TrimRight(b[:len(b)-1], "\n") // drop the closing brace
	b = append(b, `,
  "files": [`...)
	for i, f := range files {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, "\n    {\"path\": "...)
		b = appendJSONString(b, f.Path)
		b = append(b, ", \"length\": "...)
		b = strconv.AppendInt(b, f.Length, 10)
		b = append(b, ", \"offset\": "...)
		b = strconv.AppendInt(b, f.Offset, 10)
		if f.Attr != "" {
			b = append(b, ", \"attr\": "...)
			b = appendJSONString(b, f.Attr)
		}
		b = append(b, '}')
	}
	if len(files) > 0 {
		b = append(b, "\n  "...)
	}
	b = append(b, "]\n}\n"...)
	_, err := w.Write(b)
	return err
}

// appendJSONString appends s as a JSON string: quotes, backslashes and
// control characters escaped, invalid UTF-8 replaced by U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\t':
				b = append(b, '\\', 't')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c < 0x20 || c == 0x7f:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}
