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

// InspectFile is one file in the JSON document. Pad files are never
// listed: they are counted in InspectResult.PadFiles.
type InspectFile struct {
	Path   string `json:"path"`
	Length int64  `json:"length"`
	Offset int64  `json:"offset"`
	Attr   string `json:"attr,omitempty"`
	// PiecesRoot is the v2 merkle root (hex) of a non-empty file of a v2
	// or hybrid torrent; PieceLayer what the torrent holds of its piece
	// hashes (metainfo.LayerStatus).
	PiecesRoot string `json:"pieces_root,omitempty"`
	PieceLayer string `json:"piece_layer,omitempty"`
}

// InspectResult is the JSON document `tt inspect --json` prints (schema tt.inspect/1).
type InspectResult struct {
	Schema       string             `json:"schema"`
	Kind         string             `json:"kind"`    // "torrent" or "magnet"
	Version      string             `json:"version"` // "v1", "v2" or "hybrid"
	Name         string             `json:"name"`
	InfoHash     string             `json:"infohash"` // v1 only: never a SHA-1 for a v2-only torrent
	InfoHashV2   string             `json:"infohash_v2,omitempty"`
	InfoHashV2T  string             `json:"infohash_v2_truncated,omitempty"` // as trackers, the DHT and peers see it
	Magnet       string             `json:"magnet"`
	Private      bool               `json:"private"`
	Source       string             `json:"source,omitempty"`
	Comment      string             `json:"comment,omitempty"`
	CreatedBy    string             `json:"created_by,omitempty"`
	CreationDate *int64             `json:"creation_date"`
	PieceLength  int64              `json:"piece_length"`
	PieceCount   int                `json:"piece_count"`
	TotalSize    int64              `json:"total_size"` // content bytes, pad files left out
	PadFiles     int                `json:"pad_files,omitempty"`
	PadBytes     int64              `json:"pad_bytes,omitempty"`
	MultiFile    bool               `json:"multi_file"`
	V2Only       bool               `json:"v2_only"`
	Trackers     [][]string         `json:"trackers"`
	WebSeeds     []string           `json:"web_seeds"`
	Nodes        []string           `json:"dht_nodes"`
	Peers        []string           `json:"peers,omitempty"` // magnet x.pe
	SelectOnly   []int              `json:"select_only,omitempty"`
	Files        []InspectFile      `json:"files,omitempty"` // one file per line
	Findings     []metainfo.Finding `json:"findings"`        // last: lint runs while the files are written

	// numFiles counts the files of a torrent, pad files left out; layers
	// counts them by what the torrent holds of their piece hashes.
	numFiles int
	layers   [metainfo.LayerInvalid + 1]int
	// spaceSize is the length of the piece space, pad files included.
	spaceSize int64

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

// files iterates over the files described, pad files left out.
func (r *InspectResult) files(yield func(InspectFile) bool) {
	if t := r.torrent; t != nil {
		v2 := t.Info.V2Files
		if !t.FilesAgree() {
			v2 = nil // no v2 file is known to be any of Info.Files
		}
		k := 0 // the next v2 file: they are in the order of Info.Files
		for i := range t.Info.Files {
			f := &t.Info.Files[i]
			if f.Pad {
				continue
			}
			out := InspectFile{Path: t.FilePath(i), Length: f.Length, Offset: f.Offset, Attr: f.Attr}
			if k < len(v2) && v2[k].File == i {
				if g := &v2[k]; g.PiecesRoot != [32]byte{} || g.LayerStatus != metainfo.LayerNotNeeded {
					if g.PiecesRoot != [32]byte{} {
						out.PiecesRoot = hex.EncodeToString(g.PiecesRoot[:])
					}
					out.PieceLayer = g.LayerStatus.String()
				}
				k++
			}
			if !yield(out) {
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

// fileCount is the number of files described, pad files left out.
func (r *InspectResult) fileCount() int {
	if r.torrent != nil {
		return r.numFiles
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
		Schema: "tt.inspect/1", Kind: "torrent", Version: t.Version().String(), Name: in.Name,
		Magnet: t.Magnet().String(), Private: in.Private, Source: in.Source, Comment: t.Comment,
		CreatedBy: t.CreatedBy, PieceLength: in.PieceLength, PieceCount: t.NumPieces(),
		MultiFile: in.MultiFile, V2Only: t.V2Only(),
		Trackers: t.Trackers(), WebSeeds: t.URLList, Nodes: t.Nodes, spaceSize: in.TotalLength,
	}
	if v1, ok := t.InfoHashV1(); ok {
		r.InfoHash = hex.EncodeToString(v1[:])
	}
	if t.HasV2 {
		short := t.TruncatedInfoHashV2()
		r.InfoHashV2, r.InfoHashV2T = hex.EncodeToString(t.InfoHashV2[:]), hex.EncodeToString(short[:])
	}
	r.PadFiles, r.PadBytes = t.PadFiles()
	r.numFiles = len(in.Files) - r.PadFiles
	r.TotalSize = t.ContentSize()
	if t.FilesAgree() {
		for i := range in.V2Files {
			r.layers[in.V2Files[i].LayerStatus]++
		}
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
		Schema: "tt.inspect/1", Kind: "magnet", Version: m.Version().String(), Name: m.Name, Magnet: m.String(),
		WebSeeds: m.WebSeeds, Peers: m.Peers, SelectOnly: m.SelectOnly, TotalSize: -1,
	}
	if m.HasV1 {
		r.InfoHash = m.InfoHashHex()
	}
	if m.HasV2 {
		short := m.TruncatedInfoHashV2()
		r.InfoHashV2, r.InfoHashV2T = hex.EncodeToString(m.InfoHashV2[:]), hex.EncodeToString(short[:])
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
	switch r.Version {
	case "v2":
		row("Version", "v2 only")
	case "hybrid":
		row("Version", "hybrid (v1 and v2)")
	}
	row("Info hash", r.InfoHash)
	row("Info hash v2", r.InfoHashV2)
	row("  truncated", r.InfoHashV2T)
	if r.Kind == "torrent" {
		size := fmt.Sprintf("%s (%d bytes)", FormatSize(r.TotalSize), r.TotalSize)
		if r.MultiFile {
			size += fmt.Sprintf(" in %d files", r.fileCount())
		}
		if r.PadFiles > 0 {
			size += fmt.Sprintf(", and %d pad files of %s", r.PadFiles, FormatSize(r.PadBytes))
		}
		row("Size", size)
		pieces := fmt.Sprintf("%d × %s", r.PieceCount, FormatSize(r.PieceLength))
		if r.PieceCount > 0 {
			if last := r.spaceSize - int64(r.PieceCount-1)*r.PieceLength; last != r.PieceLength {
				pieces += fmt.Sprintf(" (last %s)", FormatSize(last))
			}
		}
		row("Pieces", pieces)
		row("Piece layers", layerSummary(r))
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
		for f := range r.files {
			fmt.Fprintf(w, "  %s  %s", printable(f.Path), FormatSize(f.Length))
			if note := fileNote(f); note != "" {
				fmt.Fprintf(w, "  %s", note)
			}
			w.WriteByte('\n')
		}
		return
	}
	// A line is its text indented by depth steps of two spaces; width counts
	// both in runes, and a directory's text is followed by a '/'.
	type line struct {
		depth, width int
		text         string
		size         int64  // -1 for a directory
		note         string // a v2 file's root and what is wrong with its piece layer
	}
	// eachLine produces the lines in order: once to size the column, once
	// to print, so that they are never all held.
	eachLine := func(emit func(line)) {
		add := func(depth int, text string, size int64, note string) {
			l := line{depth: depth, width: 2*depth + utf8.RuneCountInString(text), text: text, size: size, note: note}
			if size < 0 {
				l.width++
			}
			emit(l)
		}
		add(0, printable(r.Name), -1, "")
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
				add(d+1, parts[d], -1, "")
			}
			name := parts[len(parts)-1]
			if f.Attr != "" {
				name += " [" + f.Attr + "]"
			}
			add(len(parts), name, f.Length, fileNote(f))
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
		if l.note != "" {
			w.WriteString("  ")
			w.WriteString(l.note)
		}
		w.WriteByte('\n')
	})
}

// fileNote is what the tree shows after a v2 file's size: its pieces root,
// and what is wrong with its piece hashes.
func fileNote(f InspectFile) string {
	note := ""
	if f.PiecesRoot != "" {
		note = "root " + f.PiecesRoot
	}
	switch f.PieceLayer {
	case metainfo.LayerMissing.String():
		note += ", no piece layer"
	case metainfo.LayerInvalid.String():
		if f.PiecesRoot == "" {
			return "no valid pieces root"
		}
		note += ", bad piece layer"
	}
	return note
}

// layerSummary counts a v2 torrent's files by what it holds of their piece
// hashes: "" for a v1 torrent.
func layerSummary(r *InspectResult) string {
	var parts []string
	for st, n := range r.layers {
		if n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, metainfo.LayerStatus(st)))
		}
	}
	return strings.Join(parts, ", ")
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
		if f.PiecesRoot != "" {
			b = append(b, ", \"pieces_root\": "...)
			b = appendJSONString(b, f.PiecesRoot)
		}
		if f.PieceLayer != "" {
			b = append(b, ", \"piece_layer\": "...)
			b = appendJSONString(b, f.PieceLayer)
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
