package metainfo

import (
	"bytes"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unsafe"

	"tt/bencode"
	"tt/internal/merkle"
)

// Version says which hashes a torrent carries.
type Version uint8

// Versions of BitTorrent a torrent can be.
const (
	V1     Version = iota + 1 // SHA-1 piece hashes only (BEP 3)
	V2                        // v2 only: SHA-256 merkle trees (BEP 52)
	Hybrid                    // both, over the same content (BEP 52, "upgrade path")
)

func (v Version) String() string {
	switch v {
	case V1:
		return "v1"
	case V2:
		return "v2"
	case Hybrid:
		return "hybrid"
	}
	return "unknown"
}

// MarshalText spells versions in JSON as String does.
func (v Version) MarshalText() ([]byte, error) { return []byte(v.String()), nil }

// LayerStatus says what a torrent tells about the piece hashes of one v2
// file.
type LayerStatus uint8

// The piece hashes of a v2 file.
const (
	// LayerNotNeeded: the file is empty, a symlink, or at most one piece
	// long, so that its pieces root is its only piece hash.
	LayerNotNeeded LayerStatus = iota
	// LayerOK: "piece layers" holds the file's piece hashes, and they hash
	// to its pieces root.
	LayerOK
	// LayerMissing: the file is larger than a piece and "piece layers" has
	// nothing for it; its piece hashes must come from peers (BEP 52 hash
	// requests), or from the data itself.
	LayerMissing
	// LayerInvalid: what "piece layers" holds for the file has the wrong
	// size or does not hash to its root, or the file has no valid root. It
	// was dropped: the file has no piece hashes to trust.
	LayerInvalid
)

func (s LayerStatus) String() string {
	switch s {
	case LayerOK:
		return "ok"
	case LayerMissing:
		return "missing"
	case LayerInvalid:
		return "invalid"
	}
	return "not-needed"
}

// MarshalText spells layer statuses in JSON as String does.
func (s LayerStatus) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// V2File is one file of a v2 "file tree", in tree order.
type V2File struct {
	// Path is relative to the content root, as File.Path; it has passed
	// CheckPath. When the v1 and v2 file lists of a hybrid agree it is the
	// same slice as the v1 file's.
	Path    []string
	Length  int64  // 0 for a symlink
	Offset  int64  // where the file starts in the piece space: a multiple of the piece length for a non-empty file
	Attr    string // BEP 47 attributes ('p' never appears: a v2 file is never padding)
	Symlink []string

	// File is the index of this file in Info.Files, or -1 when the lists of
	// a hybrid disagree.
	File int

	// PiecesRoot is the root of the file's merkle tree; zero for an empty
	// file or a symlink, and for one whose root was missing or invalid
	// (a finding of lenient parsing).
	PiecesRoot [32]byte
	// Layer is the file's piece layer from "piece layers": 32 bytes for each
	// of its pieces, checked against PiecesRoot. It is set only when
	// LayerStatus is LayerOK, and shares the torrent's bytes.
	Layer       []byte
	LayerStatus LayerStatus
}

// NumPieces is the number of pieces of the file: in v2 every non-empty file
// starts a piece of its own.
func (f *V2File) NumPieces(pieceLength int64) int64 { return merkle.NumPieces(f.Length, pieceLength) }

// PieceHash returns the v2 hash of the file's piece i (counted from the
// file's first piece): from its piece layer, or its pieces root for a file
// of one piece. ok is false when the torrent does not carry it.
func (f *V2File) PieceHash(i int64, pieceLength int64) (h [32]byte, ok bool) {
	n := f.NumPieces(pieceLength)
	switch {
	case i < 0 || i >= n || f.PiecesRoot == [32]byte{}:
		return h, false
	case n == 1:
		return f.PiecesRoot, true
	case f.LayerStatus != LayerOK:
		return h, false
	}
	copy(h[:], f.Layer[i*32:])
	return h, true
}

// ContentSize is the number of bytes of the torrent's files, pad files
// left out (Info.TotalLength counts them).
func (t *Torrent) ContentSize() int64 { return t.Info.TotalLength - t.padBytes }

// PadFiles is the number of BEP 47 pad files in Info.Files, and their
// length.
func (t *Torrent) PadFiles() (n int, length int64) { return t.pads, t.padBytes }

// Version is the torrent's BitTorrent version: V1, V2 or Hybrid.
func (t *Torrent) Version() Version {
	switch {
	case t.HasV2 && t.HasV1():
		return Hybrid
	case t.HasV2:
		return V2
	}
	return V1
}

// HasV1 reports whether the torrent has v1 (SHA-1) piece hashes: a v1 or a
// hybrid torrent.
func (t *Torrent) HasV1() bool { return len(t.Info.Pieces) > 0 }

// InfoHashV1 is the SHA-1 of the info dictionary, the v1 info-hash; ok is
// false for a v2-only torrent, which has none.
func (t *Torrent) InfoHashV1() (h [20]byte, ok bool) {
	if !t.HasV1() {
		return h, false
	}
	return t.InfoHash, true
}

// TruncatedInfoHashV2 is the v2 info-hash cut to 20 bytes, as trackers, the
// DHT and the peer handshake use it (zero for a v1 torrent).
func (t *Torrent) TruncatedInfoHashV2() [20]byte { return [20]byte(t.InfoHashV2[:20]) }

// FilesAgree reports whether the v1 and v2 file lists of a hybrid describe
// the same content in the same places, as BEP 52 requires before a client
// joins both swarms. It is true for a torrent of one version. Strict
// parsing refuses a hybrid whose lists disagree; lenient parsing keeps it
// with a v1-v2-mismatch finding, and then V2File offsets are those of the
// v2 layout, not of Info.Files.
func (t *Torrent) FilesAgree() bool { return !t.disagree }

// V2FileAt returns the v2 file that is Info.Files[i], or nil when there is
// none (a pad file, a v1 torrent, or lists that disagree).
func (t *Torrent) V2FileAt(i int) *V2File {
	fs := t.Info.V2Files
	k, found := slices.BinarySearchFunc(fs, i, func(f V2File, i int) int { return f.File - i })
	if !found || t.disagree {
		return nil
	}
	return &fs[k]
}

// PieceHashV2 returns the v2 hash of piece i of the torrent (its index in
// the piece space, as in the wire protocol); ok is false when the torrent
// does not carry it, or i is past the end.
func (t *Torrent) PieceHashV2(i int) (h [32]byte, ok bool) {
	fs := t.Info.V2Files
	pl := t.Info.PieceLength
	at := int64(i) * pl
	if i < 0 || len(fs) == 0 || at/pl != int64(i) {
		return h, false
	}
	// The last file starting at or before the piece.
	k, _ := slices.BinarySearchFunc(fs, at, func(f V2File, at int64) int {
		if f.Offset <= at {
			return -1
		}
		return 1
	})
	for k--; k >= 0 && fs[k].Length == 0; k-- {
	}
	if k < 0 {
		return h, false
	}
	return fs[k].PieceHash((at-fs[k].Offset)/pl, pl)
}

// maxV2Pieces bounds the pieces of a v2 torrent: a torrent file tt reads
// cannot carry the piece layers of more. (A v1 torrent's count is bound by
// its piece hashes, which are in the file.)
const maxV2Pieces = MaxTorrentSize / 32

// treeField names a node of the file tree in findings and errors.
func treeField(path []string) string {
	return "info.file tree[" + strconv.Quote(strings.Join(path, "/")) + "]"
}

// fileTree reads the v2 "file tree" into Info.V2Files, laying the files
// out in the piece space.
func (p *parser) fileTree(tree bencode.Value) error {
	in := &p.t.Info
	if tree.Kind() != bencode.Dict {
		return p.errf("info.file tree", tree, ErrInvalidField, "file tree is a %s, not a dictionary", tree.Kind())
	}
	w := treeWalker{p: p, pl: in.PieceLength}
	if err := w.dir(tree, nil); err != nil {
		return err
	}
	in.V2Files = w.files
	// The tree shape says whether there is a directory: one file at the
	// top is a single-file torrent.
	in.MultiFile = len(w.files) != 1 || len(w.files[0].Path) != 1 || w.nodes > 1
	return nil
}

type treeWalker struct {
	p     *parser
	pl    int64
	files []V2File
	next  int64 // the end of the piece space so far
	nodes int   // top-level entries read
}

// bad is a node that is neither a file nor a directory: strict parsing
// refuses it, lenient parsing skips it.
func (w *treeWalker) bad(path []string, v bencode.Value, format string, args ...any) error {
	return w.p.soft("file-tree-node", SevError, treeField(path), v, ErrInvalidField, format, args...)
}

// dir reads a directory node: every entry is a named file or directory.
func (w *treeWalker) dir(node bencode.Value, path []string) error {
	for k, child := range node.Dict() {
		if len(path) == 0 {
			w.nodes++
		}
		name := viewBytesOf(k)
		if name == "" {
			// A "" key belongs in a file's node, alone; here it makes the
			// node both a file and a directory.
			what := "an empty name next to other entries"
			if len(path) == 0 {
				what = "the file tree itself describes a file"
			}
			if err := w.bad(path, child, "%s", what); err != nil {
				return err
			}
			continue
		}
		sub := append(path[:len(path):len(path)], name)
		if child.Kind() != bencode.Dict {
			if err := w.bad(sub, child, "node is a %s, not a dictionary", child.Kind()); err != nil {
				return err
			}
			continue
		}
		if _, ok := child.Get("length"); ok {
			// File properties without the "" level above them.
			if err := w.bad(sub, child, "node has a length but no \"\" entry: neither a file nor a directory"); err != nil {
				return err
			}
			continue
		}
		if props, ok := fileNode(child); ok {
			if err := w.file(sub, props); err != nil {
				return err
			}
			continue
		}
		if err := w.dir(child, sub); err != nil {
			return err
		}
	}
	return nil
}

// fileNode reports whether node is a file: a dictionary whose one entry,
// under the empty key, holds the file's properties.
func fileNode(node bencode.Value) (props bencode.Value, ok bool) {
	c := node.Cursor()
	if !c.More() {
		return props, false
	}
	if k, _ := c.Bytes(); len(k) != 0 {
		return props, false
	}
	props = c.Value()
	return props, !c.More()
}

// file reads a file's properties and lays it out after the files before.
func (w *treeWalker) file(path []string, props bencode.Value) error {
	p := w.p
	field := treeField(path)
	if props.Kind() != bencode.Dict {
		return w.bad(path, props, "file properties are a %s, not a dictionary", props.Kind())
	}
	// One pass over the properties; the first of repeated keys wins.
	var attrV, lv, rv, sv bencode.Value
	for k, v := range props.Dict() {
		var slot *bencode.Value
		switch viewBytesOf(k) {
		case "attr":
			slot = &attrV
		case "length":
			slot = &lv
		case "pieces root":
			slot = &rv
		case "symlink path":
			slot = &sv
		default:
			continue
		}
		if slot.Kind() == bencode.Invalid {
			*slot = v
		}
	}
	attr, isStr := viewStr(attrV)
	if attrV.Kind() != bencode.Invalid && !isStr {
		if err := p.soft("wrong-type", SevWarning, field+".attr", attrV, ErrInvalidField, "attr is a %s, not a string", attrV.Kind()); err != nil {
			return err
		}
	}
	symlink := strings.Contains(attr, "l")
	hasLength := lv.Kind() != bencode.Invalid
	n, isInt := lv.Int()
	switch {
	case symlink:
		n = 0 // a symlink takes no room in the piece space, whatever it says
	case !hasLength:
		return w.bad(path, props, "file without a length")
	case !isInt || n < 0:
		return p.errf(field+".length", lv, ErrInvalidField, "length must be a non-negative integer")
	}
	if strings.Contains(attr, "p") {
		if err := p.soft("pad-file-in-tree", SevError, field+".attr", props, ErrInvalidField, "a v2 file is marked as padding"); err != nil {
			return err
		}
		attr = strings.ReplaceAll(attr, "p", "")
	}
	f := V2File{Length: n, Attr: attr, File: -1}
	var err error
	if f.Path, err = p.checkPath(func(string) string { return field }, props.Offset(), path); err != nil {
		return err
	}
	if symlink {
		for _, c := range sv.List() {
			s, _ := viewStr(c)
			f.Symlink = append(f.Symlink, s)
		}
	}
	if n > 0 {
		root, ok := rv.Bytes()
		switch {
		case !ok || len(root) != 32:
			err = p.soft("pieces-root", SevError, field+".pieces root", props, ErrInvalidField, "a non-empty file needs a 32-byte pieces root")
		case bytes.Equal(root, make([]byte, 32)):
			err = p.soft("pieces-root", SevError, field+".pieces root", rv, ErrInvalidField, "pieces root is all zeros")
		default:
			f.PiecesRoot = [32]byte(root)
		}
		if err != nil {
			return err
		}
		if f.PiecesRoot == [32]byte{} {
			f.LayerStatus = LayerInvalid
		}
		// Every non-empty file starts a piece.
		if rem := w.next % w.pl; rem != 0 {
			if w.next > math.MaxInt64-(w.pl-rem) {
				return p.errAt(field+".length", props.Offset(), ErrInvalidField, "total length overflows")
			}
			w.next += w.pl - rem
		}
		if n > math.MaxInt64-w.next {
			return p.errAt(field+".length", props.Offset(), ErrInvalidField, "total length overflows")
		}
	}
	f.Offset = w.next
	w.next += n
	if pieces := w.next/w.pl + min(w.next%w.pl, 1); pieces > maxV2Pieces {
		return p.errAt(field+".length", props.Offset(), ErrInvalidField, "more than %d pieces: no torrent file tt reads can carry their piece layers", maxV2Pieces)
	}
	w.files = append(w.files, f)
	return nil
}

// viewBytesOf is viewStr for a dictionary key.
func viewBytesOf(k bencode.Value) string {
	s, _ := viewStr(k)
	return s
}

// v2Layout makes Info.Files of a v2-only torrent: the tree's files, each
// non-empty one after the pad file (BEP 47) that starts it on a piece
// boundary, as a hybrid's v1 list has them (empty files stay where the
// data before them ends, before the pad). No pad follows the last file.
func (p *parser) v2Layout() {
	in := &p.t.Info
	files := make([]File, 0, len(in.V2Files)+len(in.V2Files)/2)
	var at int64
	for i := range in.V2Files {
		f := &in.V2Files[i]
		if gap := f.Offset - at; gap > 0 {
			files = append(files, File{Path: []string{".pad", strconv.FormatInt(gap, 10)}, Length: gap, Offset: at, Attr: "p", Pad: true})
			p.t.pads++
			p.t.padBytes += gap
		}
		f.File = len(files)
		files = append(files, File{Path: f.Path, Length: f.Length, Offset: f.Offset, Attr: f.Attr, Symlink: f.Symlink})
		at = f.Offset + f.Length
	}
	in.Files, in.TotalLength = files, at
}

// agree checks that the v1 file list of a hybrid describes the v2 file
// tree: the same files in the same order, each non-empty one at the same
// offset (so pad files where v2 starts a piece), and the same content
// length, give or take a pad file at the end. It links each v2 file to its
// v1 entry.
func (p *parser) agree() error {
	in := &p.t.Info
	v2 := in.V2Files
	why := func() string {
		j := 0
		for i := range in.Files {
			f := &in.Files[i]
			if f.Pad {
				continue
			}
			if j == len(v2) {
				return fmt.Sprintf("v1 file %q is not in the v2 file tree", strings.Join(f.Path, "/"))
			}
			g := &v2[j]
			v1Len := f.Length
			if strings.Contains(f.Attr, "l") {
				v1Len = 0
			}
			switch {
			case !slices.Equal(f.Path, g.Path):
				return fmt.Sprintf("file %d is %q in v1, %q in v2", j, strings.Join(f.Path, "/"), strings.Join(g.Path, "/"))
			case v1Len != g.Length:
				return fmt.Sprintf("%q is %d bytes in v1, %d in v2", strings.Join(f.Path, "/"), f.Length, g.Length)
			case g.Length > 0 && f.Offset != g.Offset:
				return fmt.Sprintf("%q starts at byte %d in v1, %d in v2 (pad files missing or misplaced)", strings.Join(f.Path, "/"), f.Offset, g.Offset)
			case strings.Contains(f.Attr, "l") != strings.Contains(g.Attr, "l") || !slices.Equal(f.Symlink, g.Symlink):
				return fmt.Sprintf("%q is a symlink in one list only, or to other targets", strings.Join(f.Path, "/"))
			}
			j++
		}
		if j < len(v2) {
			return fmt.Sprintf("v2 file %q is not in the v1 file list", strings.Join(v2[j].Path, "/"))
		}
		end := v2End(v2)
		if in.TotalLength != end && in.TotalLength != alignUp(end, in.PieceLength) {
			return fmt.Sprintf("v1 content is %d bytes, v2 content %d", in.TotalLength, end)
		}
		return ""
	}()
	if why == "" {
		j := 0
		for i := range in.Files {
			if !in.Files[i].Pad {
				v2[j].File, v2[j].Path = i, in.Files[i].Path
				j++
			}
		}
		return nil
	}
	p.t.disagree = true
	return p.soft("v1-v2-mismatch", SevError, "info", p.infoD.Value, ErrFileMismatch, "v1 and v2 file lists disagree: %s", why)
}

// v2End is where the last non-empty v2 file ends.
func v2End(v2 []V2File) int64 {
	for i := len(v2) - 1; i >= 0; i-- {
		if v2[i].Length > 0 {
			return v2[i].Offset + v2[i].Length
		}
	}
	return 0
}

func alignUp(n, to int64) int64 {
	if rem := n % to; rem != 0 && n <= math.MaxInt64-(to-rem) {
		return n + to - rem
	}
	return n
}

// pieceLayers reads the top-level "piece layers" of a v2 torrent: for each
// file larger than a piece, its piece layer, which must be 32 bytes per
// piece and hash to the file's pieces root. What is wrong is refused
// (strict) or dropped with a finding (lenient).
func (p *parser) pieceLayers(root dict) error {
	in := &p.t.Info
	pl := in.PieceLength
	// Files larger than one piece, by root: identical files share one.
	byRoot := map[[32]byte][]int{}
	for i := range in.V2Files {
		f := &in.V2Files[i]
		if f.Length > pl && f.PiecesRoot != [32]byte{} {
			byRoot[f.PiecesRoot] = append(byRoot[f.PiecesRoot], i)
			f.LayerStatus = LayerMissing
		}
	}
	v, ok := root.Get("piece layers")
	if !ok {
		return nil
	}
	if v.Kind() != bencode.Dict {
		return p.soft("wrong-type", SevWarning, "piece layers", v, ErrInvalidField, "piece layers is a %s, not a dictionary", v.Kind())
	}
	seen := map[[32]byte]bool{}
	for k, layerV := range v.Dict() {
		key, _ := k.Bytes()
		field := "piece layers[" + fmt.Sprintf("%x", key) + "]"
		files := []int(nil)
		if len(key) == 32 && !seen[[32]byte(key)] {
			files = byRoot[[32]byte(key)]
			seen[[32]byte(key)] = true
		} else if len(key) == 32 {
			continue // a repeated key (lenient bencode): the first one counts
		}
		if len(files) == 0 {
			if err := p.soft("piece-layer-unknown", SevError, field, k, ErrPieceLayers, "no file larger than a piece has this pieces root"); err != nil {
				return err
			}
			continue
		}
		layer, isStr := layerV.Bytes()
		for _, i := range files {
			f := &in.V2Files[i]
			name := strings.Join(f.Path, "/")
			want := f.NumPieces(pl) * 32
			var err error
			switch {
			case !isStr:
				err = p.soft("piece-layer-size", SevError, field, layerV, ErrPieceLayers, "%q: piece layer is a %s, not a string", name, layerV.Kind())
			case int64(len(layer)) != want:
				err = p.soft("piece-layer-size", SevError, field, layerV, ErrPieceLayers, "%q: piece layer is %d bytes, %d pieces need %d", name, len(layer), want/32, want)
			case !layerHashesTo(layer, pl, f.PiecesRoot):
				err = p.soft("piece-layer-root", SevError, field, layerV, ErrPieceLayers, "%q: piece layer does not hash to the pieces root", name)
			default:
				f.Layer, f.LayerStatus = layer, LayerOK
				continue
			}
			if err != nil {
				return err
			}
			f.LayerStatus = LayerInvalid
		}
	}
	return nil
}

// layerHashesTo reports whether a piece layer, padded to a power of two
// with the pad hash of the piece height, hashes to root.
func layerHashesTo(layer []byte, pieceLength int64, root [32]byte) bool {
	hashes := unsafe.Slice((*merkle.Hash)(unsafe.Pointer(unsafe.SliceData(layer))), len(layer)/32)
	got, ok := merkle.RootFromPieceLayer(hashes, pieceLength)
	return ok && got == root
}

// lintV2 reports what a v2 or hybrid torrent lacks without being unusable.
// (Pad files that do not do their job are found with the paths, in one
// pass over the files.)
func lintV2(t *Torrent, add func(id string, sev Severity, field, format string, args ...any)) {
	in := &t.Info
	pl := in.PieceLength
	if in.MetaVersion != 0 && in.MetaVersion != 2 {
		add("meta-version-ignored", SevWarning, "info.meta version", "meta version %d: read as a v1 torrent (v2 torrents have 2)", in.MetaVersion)
	}
	for i := range in.V2Files {
		if f := &in.V2Files[i]; f.LayerStatus == LayerMissing {
			add("piece-layers-missing", SevWarning, "piece layers", "%q: no piece layer for its %d pieces; their hashes must come from peers",
				strings.Join(f.Path, "/"), f.NumPieces(pl))
		}
	}
	if t.Version() == Hybrid && in.MultiFile && !t.disagree && in.TotalLength%pl != 0 && v2End(in.V2Files) == in.TotalLength {
		add("pad-file-tail-missing", SevWarning, "info.files", "the v1 file list does not pad its last file to the end of its piece, as the v2 layout does")
	}
}

// lintPad reports a BEP 47 pad file of a v1 file list that does not fill up
// the rest of a piece. (A v2-only torrent's pad files are implied, never
// misplaced.)
func lintPad(t *Torrent, i int, add func(id string, sev Severity, field, format string, args ...any)) {
	f, pl := &t.Info.Files[i], t.Info.PieceLength
	if !t.V2Only() && (f.Length == 0 || f.Offset%pl == 0 || (f.Offset+f.Length)%pl != 0) {
		add("pad-file-misplaced", SevWarning, fmt.Sprintf("info.files[%d]", i), "pad file of %d bytes at byte %d does not fill up a piece", f.Length, f.Offset)
	}
}
