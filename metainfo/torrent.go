// Package metainfo reads, checks and builds BitTorrent metainfo (.torrent
// files) and magnet links. It is the only gate for file paths: every path it
// hands out has passed CheckPath.
//
// It reads v1 torrents (BEP 3), v2 torrents (BEP 52) and hybrids that carry
// both. Every torrent has Info.Files, its content laid out in the piece
// space: a v1 file list as given, BEP 47 pad files included (marked Pad);
// for a v2-only torrent, the file tree's files with the pad files implied
// by v2's rule that every non-empty file starts a piece. A v2 or hybrid
// torrent also has Info.V2Files, the file tree in tree order with each
// file's pieces root and its piece layer from "piece layers", checked
// against the root when the torrent is parsed. Hybrids are checked for v1
// and v2 file lists that agree (FilesAgree).
//
// Info-hashes are hashes of the exact bytes of the info dictionary: SHA-1
// for v1 (InfoHashV1), SHA-256 for v2 (InfoHashV2). InfoHash is the 20
// bytes a swarm is known by on trackers, the DHT and the wire: the v1 hash
// when there is one, the truncated v2 hash of a v2-only torrent, which has
// no SHA-1 info-hash at all. Magnet links carry either or both (btih,
// btmh); Torrent.Magnet writes both for a hybrid.
//
// Parsing is strict (refusing anything non-canonical or inconsistent) or
// lenient (loading what mature clients load, with a Finding for each thing
// accepted or repaired); Lint adds the findings that do not stop a torrent
// from loading. Their ids are listed in docs/lint.md.
package metainfo

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"math"
	"os"
	"runtime"
	"strings"
	"sync"
	"unicode/utf8"
	"unsafe"

	"tt/bencode"
	"tt/internal/merkle"
)

// Sentinel errors for the ways a torrent can be unusable.
var (
	ErrNotTorrent    = errors.New("metainfo: not a torrent")
	ErrMissingField  = errors.New("metainfo: missing field")
	ErrInvalidField  = errors.New("metainfo: invalid field")
	ErrNoFiles       = errors.New("metainfo: no files")
	ErrPieces        = errors.New("metainfo: invalid pieces")
	ErrDuplicatePath = errors.New("metainfo: duplicate file path")
	ErrTooLarge      = errors.New("metainfo: torrent file too large")
	ErrV2Only        = errors.New("metainfo: v2-only torrent (no v1 piece hashes)")
	ErrMetaVersion   = errors.New("metainfo: unsupported meta version")
	ErrFileMismatch  = errors.New("metainfo: v1 and v2 file lists disagree")
	ErrPieceLayers   = errors.New("metainfo: invalid piece layers")
)

// MaxTorrentSize bounds how much of a .torrent file is read.
const MaxTorrentSize = 64 << 20

// FieldError names the field a problem was found in and where it is.
type FieldError struct {
	Field  string
	Offset int
	Err    error // a sentinel of this package
	Detail string
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("metainfo: %s at byte %d: %s", e.Field, e.Offset, e.Detail)
}

func (e *FieldError) Unwrap() error { return e.Err }

// Torrent is a parsed .torrent file.
type Torrent struct {
	Raw     []byte // the whole file
	InfoRaw []byte // the exact bytes of the info dictionary
	// InfoHash is the 20-byte info-hash of trackers, the DHT and the peer
	// handshake: the SHA-1 of InfoRaw for a torrent with v1 hashes, the
	// first 20 bytes of InfoHashV2 for a v2-only torrent.
	InfoHash   [20]byte
	InfoHashV2 [32]byte // SHA-256 of InfoRaw, when HasV2
	HasV2      bool     // meta version 2 (a v2 or hybrid torrent)

	Announce        string
	AnnounceList    [][]string // BEP 12 tiers
	URLList         []string   // BEP 19 web seeds
	Comment         string
	CreatedBy       string
	CreationDate    int64
	HasCreationDate bool
	Encoding        string
	Nodes           []string // BEP 5 DHT nodes, host:port

	Info Info

	// Findings lists what lenient parsing accepted or repaired, and what
	// Lint adds. Empty after a strict parse.
	Findings []Finding

	paths    []string // "/"-joined File paths, in file order
	disagree bool     // a hybrid's v1 and v2 file lists differ
	pads     int      // pad files in Info.Files
	padBytes int64    // and their length
}

// Info is the info dictionary.
type Info struct {
	Name        string
	PieceLength int64
	Pieces      []byte // concatenated 20-byte SHA-1 hashes (empty for v2-only)
	Private     bool
	Source      string
	MultiFile   bool
	MetaVersion int64  // "meta version": 2 for v2 and hybrid torrents, 0 when absent
	Files       []File // the content in the piece space, pad files included
	TotalLength int64  // the length of the piece space: the sum of Files' lengths
	V2Files     []V2File
}

// File is one file of the torrent, in torrent order.
type File struct {
	// Path is relative to the content root: for a single-file torrent it is
	// just the name; for a multi-file torrent, the path inside the directory
	// called Name. It has passed CheckPath.
	Path    []string
	Length  int64
	Offset  int64  // where the file starts in the concatenated content
	Attr    string // BEP 47 attributes (p pad, x executable, h hidden, l symlink)
	Pad     bool
	Symlink []string // BEP 47 symlink target, when Attr has 'l'
}

// InfoHashHex is the info-hash in lower-case hex: the v1 one (40
// characters), or for a v2-only torrent the v2 one (64 characters).
func (t *Torrent) InfoHashHex() string {
	if t.HasV2 && !t.HasV1() {
		return hex.EncodeToString(t.InfoHashV2[:])
	}
	return hex.EncodeToString(t.InfoHash[:])
}

// NumPieces is the number of pieces of the piece space (v1 and v2 count
// the same).
func (t *Torrent) NumPieces() int {
	return int((t.Info.TotalLength + t.Info.PieceLength - 1) / t.Info.PieceLength)
}

// PieceHash returns the expected SHA-1 of piece i.
func (t *Torrent) PieceHash(i int) []byte { return t.Info.Pieces[i*20 : i*20+20] }

// PieceLen returns the length of piece i; the last piece may be shorter.
func (t *Torrent) PieceLen(i int) int64 {
	start := int64(i) * t.Info.PieceLength
	return min(t.Info.PieceLength, t.Info.TotalLength-start)
}

// V2Only reports whether the torrent has no v1 piece hashes at all.
func (t *Torrent) V2Only() bool { return t.HasV2 && len(t.Info.Pieces) == 0 && t.Info.TotalLength > 0 }

// Trackers returns the announce URLs by tier: the announce-list when present
// (BEP 12), otherwise the single announce URL.
func (t *Torrent) Trackers() [][]string {
	if len(t.AnnounceList) > 0 {
		return t.AnnounceList
	}
	if t.Announce != "" {
		return [][]string{{t.Announce}}
	}
	return nil
}

// Options control Parse.
type Options struct {
	// Lenient loads what mature clients load — non-canonical bencode, unsafe
	// paths (sanitized), extra hashes — recording each as a Finding.
	Lenient bool
}

// Load reads and parses a .torrent file; "-" reads standard input via r.
func Load(path string, stdin io.Reader, opt Options) (*Torrent, error) {
	var r io.Reader
	if path == "-" {
		r = stdin
	} else {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
		if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() && fi.Size() <= MaxTorrentSize {
			data := make([]byte, fi.Size())
			if _, err := io.ReadFull(f, data); err == nil {
				return Parse(data, opt)
			}
			if _, err := f.Seek(0, io.SeekStart); err != nil {
				return nil, err
			}
		}
	}
	data, err := io.ReadAll(io.LimitReader(r, MaxTorrentSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxTorrentSize {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, MaxTorrentSize)
	}
	return Parse(data, opt)
}

// Parse parses a .torrent file held in data. The Torrent keeps data, and
// some of its strings share its memory: data must not be modified afterwards.
func Parse(data []byte, opt Options) (*Torrent, error) {
	root, warns, err := bencode.Parse(data, bencode.Options{Lenient: opt.Lenient})
	if err != nil {
		return nil, err
	}
	p := parser{lenient: opt.Lenient, t: &Torrent{Raw: data}, warned: len(warns) > 0}
	for _, w := range warns {
		p.t.Findings = append(p.t.Findings, bencodeFinding(w))
	}
	if root.Kind() != bencode.Dict {
		return nil, fmt.Errorf("%w: top level is a %s, not a dictionary", ErrNotTorrent, root.Kind())
	}
	if err := p.parse(root); err != nil {
		return nil, err
	}
	return p.t, nil
}

type parser struct {
	lenient bool
	warned  bool // the lenient scan departed from canonical form somewhere
	t       *Torrent
	infoD   dict // the info dictionary
}

func (p *parser) errf(field string, v bencode.Value, sentinel error, format string, args ...any) error {
	return p.errAt(field, v.Offset(), sentinel, format, args...)
}

// errAt is errf for a value known by its offset.
func (p *parser) errAt(field string, off int, sentinel error, format string, args ...any) error {
	return &FieldError{Field: field, Offset: off, Err: sentinel, Detail: fmt.Sprintf(format, args...)}
}

// soft is a problem that strict parsing refuses and lenient parsing records.
func (p *parser) soft(id string, sev Severity, field string, v bencode.Value, sentinel error, format string, args ...any) error {
	return p.softAt(id, sev, field, v.Offset(), sentinel, format, args...)
}

// softAt is soft for a value known by its offset.
func (p *parser) softAt(id string, sev Severity, field string, off int, sentinel error, format string, args ...any) error {
	err := p.errAt(field, off, sentinel, format, args...)
	if !p.lenient {
		return err
	}
	p.t.Findings = append(p.t.Findings, Finding{ID: id, Severity: sev, Field: field, Message: err.(*FieldError).Detail})
	return nil
}

// str reads an optional string field; a value of another type is refused
// strictly and ignored leniently.
func (p *parser) str(d getter, key, field string) (string, error) {
	v, ok := d.Get(key)
	if !ok {
		return "", nil
	}
	s, ok := v.Str()
	if !ok {
		return "", p.soft("wrong-type", SevWarning, field, v, ErrInvalidField, "%s is a %s, not a string", key, v.Kind())
	}
	return s, nil
}

func (p *parser) parse(rootV bencode.Value) error {
	t := p.t
	root := indexDict(rootV)
	infoV, ok := root.Get("info")
	if !ok {
		return &FieldError{Field: "info", Offset: 0, Err: ErrMissingField, Detail: "no info dictionary"}
	}
	if infoV.Kind() != bencode.Dict {
		return p.errf("info", infoV, ErrInvalidField, "info is a %s, not a dictionary", infoV.Kind())
	}
	t.InfoRaw = infoV.Raw()
	// Hashing the info of a large torrent takes as long as reading much of
	// it: do it alongside. Nothing reads the hashes before it is done. A
	// v2-only torrent has no SHA-1 info-hash, and a v1 torrent no v2 one.
	mv, _ := infoV.Get("meta version")
	_, v1 := infoV.Get("pieces")
	v2, _ := mv.Int()
	var sha1Sum [20]byte
	var hashing sync.WaitGroup
	if v1 || v2 != 2 {
		hashing.Go(func() { copy(sha1Sum[:], sum(sha1.New(), t.InfoRaw)) })
	}
	if v2 == 2 {
		hashing.Go(func() { copy(t.InfoHashV2[:], sum(sha256.New(), t.InfoRaw)) })
	}
	p.infoD = indexDict(infoV)
	err := p.fields(root)
	hashing.Wait()
	if err != nil {
		return err
	}
	switch {
	case !t.HasV2:
		t.InfoHash, t.InfoHashV2 = sha1Sum, [32]byte{}
	case t.HasV1():
		t.InfoHash = sha1Sum
	default:
		t.InfoHash = t.TruncatedInfoHashV2()
	}
	if !p.lenient || !p.warned || bencode.IsCanonical(t.InfoRaw) {
		// Strict parsing already refused non-canonical input; a lenient scan
		// without a single warning saw none.
	} else if t.HasV2 {
		// The order of a v2 file tree is that of its keys: unsorted, it is
		// ambiguous.
		t.Findings = append(t.Findings, Finding{ID: "v2-not-canonical", Severity: SevError, Field: "info",
			Message: "info dictionary of a v2 torrent is not canonical bencode; BEP 52 clients refuse it"})
	} else {
		t.Findings = append(t.Findings, Finding{ID: "info-not-canonical", Severity: SevWarning, Field: "info",
			Message: "info dictionary is not canonical bencode; other tools that re-encode it compute another info-hash"})
	}
	return nil
}

// fields reads the top-level fields and the info dictionary.
func (p *parser) fields(root dict) error {
	t := p.t
	var err error
	if t.Announce, err = p.str(root, "announce", "announce"); err != nil {
		return err
	}
	if err := p.announceList(root); err != nil {
		return err
	}
	if err := p.urlList(root); err != nil {
		return err
	}
	if t.Comment, err = p.str(root, "comment", "comment"); err != nil {
		return err
	}
	if t.CreatedBy, err = p.str(root, "created by", "created by"); err != nil {
		return err
	}
	if t.Encoding, err = p.str(root, "encoding", "encoding"); err != nil {
		return err
	}
	if v, ok := root.Get("creation date"); ok {
		n, isInt := v.Int()
		if !isInt {
			if err := p.soft("wrong-type", SevWarning, "creation date", v, ErrInvalidField, "creation date is a %s, not an integer", v.Kind()); err != nil {
				return err
			}
		} else {
			t.CreationDate, t.HasCreationDate = n, true
		}
	}
	p.nodes(root)
	if err := p.info(p.infoD); err != nil {
		return err
	}
	if t.HasV2 {
		return p.pieceLayers(root)
	}
	return nil
}

// sum returns the hash of data, fed a megabyte at a time: the assembly
// that hashes cannot be preempted, and a garbage collection would wait for
// all of a large info dictionary.
func sum(h hash.Hash, data []byte) []byte {
	for len(data) > 0 {
		n := min(len(data), 1<<20)
		h.Write(data[:n])
		data = data[n:]
	}
	return h.Sum(nil)
}

func (p *parser) announceList(root dict) error {
	v, ok := root.Get("announce-list")
	if !ok {
		return nil
	}
	if v.Kind() != bencode.List {
		return p.soft("wrong-type", SevWarning, "announce-list", v, ErrInvalidField, "announce-list is a %s, not a list of lists", v.Kind())
	}
	for i, tierV := range v.List() {
		field := fmt.Sprintf("announce-list[%d]", i)
		if tierV.Kind() != bencode.List {
			if err := p.soft("wrong-type", SevWarning, field, tierV, ErrInvalidField, "tier is a %s, not a list", tierV.Kind()); err != nil {
				return err
			}
			continue
		}
		var tier []string
		for j, u := range tierV.List() {
			s, ok := u.Str()
			if !ok {
				if err := p.soft("wrong-type", SevWarning, fmt.Sprintf("%s[%d]", field, j), u, ErrInvalidField, "tracker is a %s, not a string", u.Kind()); err != nil {
					return err
				}
				continue
			}
			if s = strings.TrimSpace(s); s != "" {
				tier = append(tier, s)
			}
		}
		if len(tier) > 0 {
			p.t.AnnounceList = append(p.t.AnnounceList, tier)
		}
	}
	return nil
}

func (p *parser) urlList(root dict) error {
	v, ok := root.Get("url-list")
	if !ok {
		return nil
	}
	if s, ok := v.Str(); ok {
		if s = strings.TrimSpace(s); s != "" {
			p.t.URLList = append(p.t.URLList, s)
		}
		return nil
	}
	if v.Kind() != bencode.List {
		return p.soft("wrong-type", SevWarning, "url-list", v, ErrInvalidField, "url-list is a %s, not a string or list", v.Kind())
	}
	for i, u := range v.List() {
		s, ok := u.Str()
		if !ok {
			if err := p.soft("wrong-type", SevWarning, fmt.Sprintf("url-list[%d]", i), u, ErrInvalidField, "web seed is a %s, not a string", u.Kind()); err != nil {
				return err
			}
			continue
		}
		if s = strings.TrimSpace(s); s != "" {
			p.t.URLList = append(p.t.URLList, s)
		}
	}
	return nil
}

// nodes reads BEP 5 "nodes": a list of [host, port] pairs. Malformed entries
// are skipped: the field is a hint, never a reason to refuse a torrent.
func (p *parser) nodes(root dict) {
	v, ok := root.Get("nodes")
	if !ok {
		return
	}
	for _, n := range v.List() {
		var host string
		var port int64
		for j, e := range n.List() {
			switch j {
			case 0:
				host, _ = e.Str()
			case 1:
				port, _ = e.Int()
			}
		}
		if host != "" && port > 0 && port < 65536 {
			if strings.Contains(host, ":") {
				host = "[" + host + "]"
			}
			p.t.Nodes = append(p.t.Nodes, fmt.Sprintf("%s:%d", host, port))
		}
	}
}

func (p *parser) info(d dict) error {
	t, in := p.t, &p.t.Info
	// BEP 52: the meta version comes first, so that a torrent of a newer
	// version says so rather than failing some other check.
	if v, ok := d.Get("meta version"); ok {
		n, isInt := v.Int()
		switch {
		case !isInt:
			if err := p.soft("wrong-type", SevWarning, "info.meta version", v, ErrInvalidField, "meta version is a %s, not an integer", v.Kind()); err != nil {
				return err
			}
		case n > 2:
			return p.errf("info.meta version", v, ErrMetaVersion, "meta version %d is newer than the 2 tt knows", n)
		default:
			in.MetaVersion = n
			t.HasV2 = n == 2
		}
	}
	// name (and name.utf-8, which is preferred when it is valid UTF-8)
	nameV, ok := d.Get("name")
	if !ok {
		return p.errf("info.name", d.Value, ErrMissingField, "no name")
	}
	name, ok := nameV.Str()
	if !ok {
		return p.errf("info.name", nameV, ErrInvalidField, "name is a %s, not a string", nameV.Kind())
	}
	if u, ok := d.Get("name.utf-8"); ok {
		if s, ok := u.Str(); ok && utf8.ValidString(s) && s != "" {
			name = s
		}
	}
	if err := CheckComponent(name); err != nil {
		if err := p.soft("insecure-path", SevError, "info.name", nameV, ErrInsecurePath, "name %q: %v", name, stripPrefix(err)); err != nil {
			return err
		}
		name = sanitizePath([]string{name})[0]
	}
	in.Name = name

	plV, ok := d.Get("piece length")
	if !ok {
		return p.errf("info.piece length", d.Value, ErrMissingField, "no piece length")
	}
	if in.PieceLength, ok = plV.Int(); !ok || in.PieceLength <= 0 {
		return p.errf("info.piece length", plV, ErrInvalidField, "piece length must be a positive integer")
	}
	if _, pow2 := merkle.PieceHeight(in.PieceLength); t.HasV2 && !pow2 {
		return p.errf("info.piece length", plV, ErrInvalidField, "piece length of a v2 torrent must be a power of two of at least 16 KiB")
	}
	if v, ok := d.Get("private"); ok {
		n, _ := v.Int()
		in.Private = n == 1
	}
	var err error
	if in.Source, err = p.str(d, "source", "info.source"); err != nil {
		return err
	}

	lengthV, hasLength := d.Get("length")
	filesV, hasFiles := d.Get("files")
	treeV, hasTree := d.Get("file tree")
	if t.HasV2 != hasTree {
		what := "meta version 2 without a file tree"
		if hasTree {
			what = "a file tree without meta version 2"
		}
		if !hasLength && !hasFiles {
			return p.errf("info", d.Value, ErrMetaVersion, "%s, and no v1 file list", what)
		}
		if err := p.soft("meta-version", SevError, "info", d.Value, ErrMetaVersion, "%s: read as a v1 torrent", what); err != nil {
			return err
		}
		t.HasV2 = false
	}
	if t.HasV2 {
		if err := p.fileTree(treeV); err != nil {
			return err
		}
	}
	switch {
	case hasLength && hasFiles:
		if err := p.soft("length-and-files", SevError, "info", d.Value, ErrInvalidField, "both length and files present"); err != nil {
			return err
		}
		fallthrough
	case hasFiles:
		if err := p.files(filesV); err != nil {
			return err
		}
	case hasLength:
		n, ok := lengthV.Int()
		if !ok || n < 0 {
			return p.errf("info.length", lengthV, ErrInvalidField, "length must be a non-negative integer")
		}
		in.Files = []File{{Path: []string{in.Name}, Length: n}}
		in.TotalLength = n
		in.MultiFile = false
	case t.HasV2:
		p.v2Layout()
	default:
		return p.errf("info", d.Value, ErrNoFiles, "neither length nor files")
	}
	if t.HasV2 && (hasLength || hasFiles) {
		if err := p.agree(); err != nil {
			return err
		}
	}
	if len(in.Files) == 0 {
		return p.errf("info", d.Value, ErrNoFiles, "empty file list")
	}
	if in.TotalLength == 0 {
		return p.errf("info", d.Value, ErrNoFiles, "total length is 0")
	}
	if err := p.uniquePaths(d); err != nil {
		return err
	}
	return p.pieces(d)
}

func (p *parser) pieces(d dict) error {
	t, in := p.t, &p.t.Info
	piecesV, ok := d.Get("pieces")
	if !ok {
		if t.HasV2 {
			return nil // v2-only: piece hashes live in the piece layers
		}
		return p.errf("info.pieces", d.Value, ErrMissingField, "no pieces")
	}
	pieces, ok := piecesV.Bytes()
	if !ok {
		return p.errf("info.pieces", piecesV, ErrPieces, "pieces is a %s, not a string", piecesV.Kind())
	}
	if len(pieces)%sha1.Size != 0 {
		return p.errf("info.pieces", piecesV, ErrPieces, "length %d is not a multiple of 20", len(pieces))
	}
	want := (in.TotalLength + in.PieceLength - 1) / in.PieceLength
	got := int64(len(pieces) / sha1.Size)
	if got < want {
		return p.errf("info.pieces", piecesV, ErrPieces, "%d piece hashes for %d pieces", got, want)
	}
	if got > want {
		if err := p.soft("piece-count", SevError, "info.pieces", piecesV, ErrPieces, "%d piece hashes for %d pieces", got, want); err != nil {
			return err
		}
		pieces = pieces[:want*sha1.Size]
	}
	in.Pieces = pieces
	return nil
}

// filesPerPart is how many entries of info.files make it worth parsing the
// list in parts on several processors.
const filesPerPart = 8192

func (p *parser) files(v bencode.Value) error {
	in := &p.t.Info
	in.MultiFile = true
	if v.Kind() != bencode.List {
		return p.errf("info.files", v, ErrInvalidField, "files is a %s, not a list", v.Kind())
	}
	n := v.Len()
	parts := max(1, min(runtime.GOMAXPROCS(0), n/filesPerPart, 8))
	in.Files = make([]File, n)
	p.t.paths = make([]string, n)
	if parts == 1 {
		total, err := p.fileRange(v.Cursor(), 0, in.Files, p.t.paths)
		in.TotalLength = total
		return err
	}
	// The list is cut into parts of equal counts; each is parsed with
	// offsets from its own start, into its own slice of the file list, and
	// records findings of its own. The parts are joined in order, so the
	// result (the first error, the findings) is that of one pass.
	type part struct {
		q     parser
		total int64
		err   error
	}
	ps := make([]part, parts)
	var wg sync.WaitGroup
	before := len(p.t.Findings)
	list, at := v.Cursor(), 0
	for k := range ps {
		first, last := k*n/parts, (k+1)*n/parts
		for ; at < first; at++ {
			list.Skip() // through the index: a nested value is jumped over
		}
		r := &ps[k]
		r.q = parser{lenient: p.lenient, warned: p.warned, t: &Torrent{}}
		c := list
		wg.Go(func() { r.total, r.err = r.q.fileRange(c, first, in.Files[first:last], p.t.paths[first:last]) })
	}
	wg.Wait()
	var total int64
	for k := range ps {
		r := &ps[k]
		if r.err != nil && k == 0 {
			return r.err
		}
		if r.err != nil || r.total > math.MaxInt64-total {
			// Only one pass can tell which file overflows the total, and
			// whether that comes before an error in a later part.
			p.t.Findings = p.t.Findings[:before]
			p.t.pads, p.t.padBytes = 0, 0
			total, err := p.fileRange(v.Cursor(), 0, in.Files, p.t.paths)
			in.TotalLength = total
			return err
		}
		p.t.Findings = append(p.t.Findings, r.q.t.Findings...)
		p.t.pads += r.q.t.pads
		p.t.padBytes += r.q.t.padBytes
		if k > 0 {
			for i := k * n / parts; i < (k+1)*n/parts; i++ {
				in.Files[i].Offset += total
			}
		}
		total += r.total
	}
	in.TotalLength = total
	return nil
}

// fileRange parses len(files) entries of info.files from list, the first of
// them entry first, into files, with offsets from the first one's start, and
// their "/"-joined paths into keys. It returns their total length.
func (p *parser) fileRange(list bencode.Cursor, first int, files []File, keys []string) (int64, error) {
	var (
		paths strArena
		total int64
	)
	for i := range files {
		f, off, err := p.fileEntry(&list, first+i, &paths)
		if err != nil {
			return 0, err
		}
		field := func(sub string) string { return fmt.Sprintf("info.files[%d]%s", first+i, sub) }
		if f.Path, err = p.checkPath(field, off, f.Path); err != nil {
			return 0, err
		}
		if f.Length > math.MaxInt64-total {
			return 0, p.errAt(field(".length"), off, ErrInvalidField, "total length overflows")
		}
		f.Offset = total
		total += f.Length
		if f.Pad {
			p.t.pads++
			p.t.padBytes += f.Length
		}
		files[i] = f
	}
	joinPathsInto(keys, files)
	return total, nil
}

// fileEntry reads entry i of info.files, the next element of list, taking
// path components from paths. It returns the file and the offset of its
// path.
func (p *parser) fileEntry(list *bencode.Cursor, i int, paths *strArena) (File, int, error) {
	var f0 File
	// Field names are built only when something is wrong.
	field := func(sub string) string { return fmt.Sprintf("info.files[%d]%s", i, sub) }
	fileOff := list.Offset()
	if k := list.Kind(); k != bencode.Dict {
		return f0, 0, p.errAt(field(""), fileOff, ErrInvalidField, "file entry is a %s, not a dictionary", k)
	}
	// One pass over the entries, reading the values of the common keys
	// on the way; the first of repeated keys wins, as in Get.
	var (
		lengthAt, attrAt, pathAt element
		n                        int64
		attr                     string
		pu, sv                   bencode.Value // path.utf-8 and symlink path, seldom there
		badComp                  = -1          // path's first component that is not a string
		badCompAt                element
	)
	entries, _ := list.Enter()
	for entries.More() {
		key, _ := entries.Bytes()
		switch string(key) {
		case "length":
			if lengthAt.kind == bencode.Invalid {
				lengthAt = elementAt(&entries)
				var ok bool
				if n, ok = entries.Int(); ok {
					continue
				}
			}
		case "attr":
			if attrAt.kind == bencode.Invalid {
				attrAt = elementAt(&entries)
				if b, ok := entries.Bytes(); ok {
					attr = viewBytes(b)
					continue
				}
			}
		case "path":
			if pathAt.kind == bencode.Invalid {
				if pathAt = elementAt(&entries); pathAt.kind == bencode.List {
					c, _ := entries.Enter()
					for j := 0; c.More(); j++ {
						b, ok := c.Bytes()
						if !ok {
							if badComp < 0 {
								badComp, badCompAt = j, elementAt(&c)
							}
							c.Skip()
							continue
						}
						paths.add(viewBytes(b))
					}
					continue
				}
			}
		case "path.utf-8":
			if pu.Kind() == bencode.Invalid {
				pu = entries.Value()
				continue
			}
		case "symlink path":
			if sv.Kind() == bencode.Invalid {
				sv = entries.Value()
				continue
			}
		}
		entries.Skip()
	}
	if attrAt.kind != bencode.Invalid && attrAt.kind != bencode.String {
		if err := p.softAt("wrong-type", SevWarning, field(".attr"), attrAt.off, ErrInvalidField, "attr is a %s, not a string", attrAt.kind); err != nil {
			return f0, 0, err
		}
	}
	if lengthAt.kind != bencode.Invalid {
		if lengthAt.kind != bencode.Int || n < 0 {
			return f0, 0, p.errAt(field(".length"), lengthAt.off, ErrInvalidField, "length must be a non-negative integer")
		}
	} else if !strings.Contains(attr, "l") {
		// Only a symlink may leave out its length (it has none).
		return f0, 0, p.errAt(field(".length"), fileOff, ErrMissingField, "no length")
	}
	if pu.Kind() != bencode.Invalid && validUTF8List(pu) {
		pathAt, badComp = element{pu.Offset(), bencode.List}, -1
		paths.drop()
		for _, c := range pu.List() {
			s, _ := viewStr(c)
			paths.add(s)
		}
	}
	var path []string
	switch {
	case pathAt.kind == bencode.Invalid && strings.Contains(attr, "p"):
		path = []string{".pad", fmt.Sprint(n)}
	case pathAt.kind == bencode.Invalid:
		return f0, 0, p.errAt(field(".path"), fileOff, ErrMissingField, "no path")
	case pathAt.kind != bencode.List:
		return f0, 0, p.errAt(field(".path"), pathAt.off, ErrInvalidField, "path is a %s, not a list", pathAt.kind)
	case badComp >= 0:
		return f0, 0, p.errAt(fmt.Sprintf("info.files[%d].path[%d]", i, badComp), badCompAt.off, ErrInvalidField, "path component is a %s, not a string", badCompAt.kind)
	default:
		path = paths.take()
	}
	f := File{Path: path, Length: n, Attr: attr, Pad: strings.Contains(attr, "p")}
	if strings.Contains(attr, "l") {
		for _, c := range sv.List() {
			s, _ := c.Str()
			f.Symlink = append(f.Symlink, s)
		}
	}
	return f, pathAt.off, nil
}

// element is where a value is and what kind; the zero element is no value.
type element struct {
	off  int
	kind bencode.Kind
}

// elementAt describes the next element of c, without reading it.
func elementAt(c *bencode.Cursor) element { return element{c.Offset(), c.Kind()} }

// strArena builds string slices one element at a time in shared blocks, so
// that the paths of 100,000 files take a few dozen allocations rather than
// 100,000.
type strArena struct {
	block []string
	start int // where the slice being built begins in block
}

// add appends s to the slice being built.
func (a *strArena) add(s string) {
	if len(a.block) == cap(a.block) {
		// A new block, taking along what is built so far.
		built := a.block[a.start:]
		a.block = append(make([]string, 0, max(4096, 2*len(built))), built...)
		a.start = 0
	}
	a.block = append(a.block, s)
}

// take returns the slice built and starts the next one. Its capacity ends
// with it: appending to it never writes into the next slice.
func (a *strArena) take() []string {
	s := a.block[a.start:len(a.block):len(a.block)]
	a.start = len(a.block)
	return s
}

// drop forgets the slice being built.
func (a *strArena) drop() { a.block = a.block[:a.start] }

// checkPath refuses an insecure path (strict) or returns it sanitized
// (lenient).
func (p *parser) checkPath(field func(string) string, off int, path []string) ([]string, error) {
	if err := CheckPath(path); err != nil {
		if err := p.softAt("insecure-path", SevError, field(".path"), off, ErrInsecurePath, "path %q: %v", strings.Join(path, "/"), stripPrefix(err)); err != nil {
			return nil, err
		}
		return sanitizePath(path), nil
	}
	return path, nil
}

func validUTF8List(v bencode.Value) bool {
	if v.Kind() != bencode.List {
		return false
	}
	for _, c := range v.List() {
		b, ok := c.Bytes()
		if !ok || !utf8.Valid(b) {
			return false
		}
	}
	return true
}

func stripPrefix(err error) string {
	return strings.TrimPrefix(err.Error(), "metainfo: ")
}

// uniquePaths refuses (strict) or renames (lenient) files whose paths clash:
// the same path twice, or a file where another file needs a directory.
func (p *parser) uniquePaths(d dict) error {
	files := p.t.Info.Files
	keys := p.t.paths // joined as the file list was read
	if len(keys) != len(files) {
		keys = joinPaths(files)
		p.t.paths = keys
	}
	if !mayClash(files, keys) {
		return nil
	}
	taken := make(map[string]bool, len(files))
	dirs := make(map[string]bool, len(files)/4+1)
	for _, k := range keys {
		// Every prefix ending before a '/' is a directory (substrings: no copies).
		for {
			slash := strings.LastIndexByte(k, '/')
			if slash < 0 || dirs[k[:slash]] {
				break
			}
			k = k[:slash]
			dirs[k] = true
		}
	}
	for i := range files {
		f := &files[i]
		if f.Pad {
			continue
		}
		key := keys[i]
		if !taken[key] && !dirs[key] {
			taken[key] = true
			continue
		}
		field := fmt.Sprintf("info.files[%d].path", i)
		if err := p.soft("duplicate-path", SevError, field, d.Value, ErrDuplicatePath, "%q is used by another file or directory", key); err != nil {
			return err
		}
		last := len(f.Path) - 1
		base := f.Path[last]
		for n := 1; taken[key] || dirs[key]; n++ {
			f.Path[last] = fmt.Sprintf("%s.%d", base, n)
			key = strings.Join(f.Path, "/")
		}
		keys[i] = key
		taken[key] = true
	}
	return nil
}

// joinPaths returns the "/"-joined path of each file.
func joinPaths(files []File) []string {
	keys := make([]string, len(files))
	joinPathsInto(keys, files)
	return keys
}

// joinPathsInto sets keys[i] to the "/"-joined path of files[i], all
// sharing one buffer.
func joinPathsInto(keys []string, files []File) {
	size := 0
	for i := range files {
		for _, c := range files[i].Path {
			size += len(c) + 1
		}
	}
	buf := make([]byte, 0, size)
	for i := range files {
		start := len(buf)
		for j, c := range files[i].Path {
			if j > 0 {
				buf = append(buf, '/')
			}
			buf = append(buf, c...)
		}
		// buf never grows past size, so earlier keys stay where they are.
		keys[i] = unsafe.String(unsafe.SliceData(buf[start:]), len(buf)-start)
	}
}

// Virtual reports whether a file has no bytes on disk of its own for tt to
// read or write: a BEP 47 pad file (zeros) or a symlink entry.
func (f *File) Virtual() bool { return f.Pad || strings.Contains(f.Attr, "l") }

// getter is what field readers need: a dictionary lookup.
type getter interface {
	Get(key string) (bencode.Value, bool)
}

// dict is a dictionary indexed once, so that reading many keys of a large
// info dictionary does not rescan its file list for each one.
type dict struct {
	bencode.Value
	m map[string]bencode.Value
}

func indexDict(v bencode.Value) dict {
	d := dict{Value: v, m: map[string]bencode.Value{}}
	for k, val := range v.Dict() {
		ks, _ := k.Str()
		if _, dup := d.m[ks]; !dup { // the first of repeated keys wins, as in Value.Get
			d.m[ks] = val
		}
	}
	return d
}

// Get returns the value under key.
func (d dict) Get(key string) (bencode.Value, bool) {
	v, ok := d.m[key]
	return v, ok
}

// viewStr returns a string's contents without copying them: the string
// shares the parsed data, which the Torrent keeps unchanged.
func viewStr(v bencode.Value) (string, bool) {
	b, ok := v.Bytes()
	return viewBytes(b), ok
}

// viewBytes is viewStr for contents already read.
func viewBytes(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}
