package app

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"os"
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
	Files        []InspectFile      `json:"files,omitempty"` // one file per line
	Findings     []metainfo.Finding `json:"findings"`        // last: lint runs while the files are written

	// torrent, when set, is where the files are read from instead of
	// Files: a torrent may list 100,000, and a copy only to write them out
	// costs time.
	torrent *metainfo.Torrent
	// linted, when set, delivers Findings: the lint of a large torrent
	// runs while its files are written out.
	linted chan []metainfo.Finding
}

// findings waits for the lint, if it is still running, and returns Findings.
func (r *InspectResult) findings() []metainfo.Finding {
	if r.linted != nil {
		r.Findings, r.linted = <-r.linted, nil
		fillEmpty(r)
	}
	return r.Findings
}

// files iterates over the files described.
func (r *InspectResult) files(yield func(InspectFile) bool) {
	if t := r.torrent; t != nil {
		for i, f := range t.Info.Files {
			if !yield(InspectFile{Path: t.FilePath(i), Length: f.Length, Offset: f.Offset, Attr: f.Attr}) {
				return
			}
		}
		return
	}
	for _, f := range r.Files {
		if !yield(f) {
			return
		}
	}
}

// numFiles is the number of files described.
func (r *InspectResult) numFiles() int {
	if r.torrent != nil {
		return len(r.torrent.Info.Files)
	}
	return len(r.Files)
}

// PrepareInspectHeap readies the heap of a process that is about to inspect
// target: what parsing allocates, about five times the file's size, lives
// until the process exits, so it is grown at once in huge pages (see
// growHeapHuge). It costs a collection; Inspect does not call it.
func PrepareInspectHeap(env *Env, target string) {
	if target == "-" || metainfo.IsMagnet(target) {
		return
	}
	if fi, err := os.Stat(env.Path(target)); err == nil && fi.Mode().IsRegular() {
		growHeapHuge(6 * fi.Size())
	}
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
		res = torrentResult(t)
		res.linted = make(chan []metainfo.Finding, 1)
		go func() { res.linted <- metainfo.Lint(t) }()
	}
	if o.JSON {
		if err := writeInspectJSON(env.Stdout, res); err != nil {
			return Exit(ExitIO, err)
		}
	} else {
		printInspect(env.Stdout, res, o.Files)
	}
	if findings := res.findings(); o.Strict && metainfo.HasErrors(findings) {
		n := 0
		for _, f := range findings {
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
		Trackers: t.Trackers(), WebSeeds: t.URLList, Nodes: t.Nodes,
	}
	if t.HasV2 {
		r.InfoHashV2 = hex.EncodeToString(t.InfoHashV2[:])
	}
	if t.HasCreationDate {
		d := t.CreationDate
		r.CreationDate = &d
	}
	r.torrent = t
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

func printInspect(out io.Writer, r *InspectResult, listFiles bool) {
	w := bufio.NewWriterSize(out, 64<<10)
	defer w.Flush()
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
			size += fmt.Sprintf(" in %d files", r.numFiles())
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
	if findings := r.findings(); len(findings) > 0 {
		fmt.Fprintln(w, "Lint")
		for _, f := range findings {
			fmt.Fprintf(w, "  %s\n", printable(f.String()))
		}
	}
}

// printTree draws the file list as an indented tree with sizes, sizes
// aligned in one column.
func printTree(w *bufio.Writer, r *InspectResult) {
	if !r.MultiFile {
		fmt.Fprintf(w, "  %s  %s\n", printable(r.Name), FormatSize(r.TotalSize))
		return
	}
	// A line is its text indented by depth steps of two spaces; width counts
	// both in runes, and a directory's text is followed by a '/'.
	type line struct {
		depth, width int
		text         string
		size         int64 // -1 for a directory
	}
	// eachLine produces the lines in order: once to size the column, once
	// to print, so that they are never all held.
	eachLine := func(emit func(line)) {
		add := func(depth int, text string, size int64) {
			l := line{depth: depth, width: 2*depth + utf8.RuneCountInString(text), text: text, size: size}
			if size < 0 {
				l.width++
			}
			emit(l)
		}
		add(0, printable(r.Name), -1)
		// The directories of the previous file and the components of this
		// one, as substrings of their printable paths.
		var prev, parts []string
		for f := range r.files {
			parts = parts[:0]
			for rest := printable(f.Path); ; {
				c, after, found := strings.Cut(rest, "/")
				parts = append(parts, c)
				if !found {
					break
				}
				rest = after
			}
			common := 0
			for common < len(prev) && common < len(parts)-1 && prev[common] == parts[common] {
				common++
			}
			for d := common; d < len(parts)-1; d++ {
				add(d+1, parts[d], -1)
			}
			name := parts[len(parts)-1]
			if f.Attr != "" {
				name += " [" + f.Attr + "]"
			}
			add(len(parts), name, f.Length)
			// This file's directories become prev, and prev's array holds
			// the next file's parts.
			prev, parts = parts[:len(parts)-1], prev[:0]
		}
	}
	column := 0
	eachLine(func(l line) { column = max(column, l.width) })
	column = min(column, 60)
	const spaces = "                                                                "
	pad := func(n int) {
		for ; n > 0; n -= len(spaces) {
			w.WriteString(spaces[:min(n, len(spaces))])
		}
	}
	eachLine(func(l line) {
		pad(2 + 2*l.depth)
		w.WriteString(l.text)
		if l.size < 0 {
			w.WriteString("/\n")
			return
		}
		size := FormatSize(l.size) // ASCII: its length is its width
		pad(max(column-l.width, 0) + 2 + max(10-len(size), 0))
		w.WriteString(size)
		w.WriteByte('\n')
	})
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
// may list 100,000 files, and generic indentation of those dominates. The
// list goes out in chunks, never as one document-sized buffer, and the
// findings follow it.
func writeInspectJSON(w io.Writer, r *InspectResult) error {
	head := *r
	head.Files, head.Findings, head.linted = nil, nil, nil
	var buf bytes.Buffer
	if err := newJSONEncoder(&buf).Encode(&head); err != nil {
		return err
	}
	// The head ends with the findings left empty: the list goes there.
	const tail = ",\n  \"findings\": null\n}\n"
	if !bytes.HasSuffix(buf.Bytes(), []byte(tail)) {
		return fmt.Errorf("inspect: unexpected JSON head %q", buf.Bytes()[max(0, buf.Len()-40):])
	}
	const chunk = 64 << 10
	b := make([]byte, 0, max(buf.Len(), chunk)+1024)
	b = append(b, buf.Bytes()[:buf.Len()-len(tail)]...)
	b = append(b, `,
  "files": [`...)
	i := 0
	for f := range r.files {
		if len(b) >= chunk {
			if _, err := w.Write(b); err != nil {
				return err
			}
			b = b[:0]
		}
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
		i++
	}
	if i > 0 {
		b = append(b, "\n  "...)
	}
	b = append(b, "],\n  \"findings\": "...)
	buf.Reset()
	enc := newJSONEncoder(&buf)
	enc.SetIndent("  ", "  ")
	if err := enc.Encode(r.findings()); err != nil {
		return err
	}
	b = append(b, bytes.TrimSuffix(buf.Bytes(), []byte("\n"))...)
	b = append(b, "\n}\n"...)
	_, err := w.Write(b)
	return err
}

// jsonPlain marks the bytes appendJSONString copies as they are: printable
// ASCII other than the quote and the backslash.
var jsonPlain = func() (t [256]bool) {
	for c := 0x20; c < 0x7f; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// appendJSONString appends s as a JSON string: quotes, backslashes and
// control characters escaped, invalid UTF-8 replaced by U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		start := i
		for i < len(s) && jsonPlain[s[i]] {
			i++
		}
		b = append(b, s[start:i]...)
		if i == len(s) {
			break
		}
		c := s[i]
		if c < utf8.RuneSelf {
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\t':
				b = append(b, '\\', 't')
			case '\r':
				b = append(b, '\\', 'r')
			default: // the other control characters and DEL
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
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
