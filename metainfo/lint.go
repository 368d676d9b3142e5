package metainfo

import (
	"errors"
	"fmt"
	"hash/maphash"
	"math/bits"
	"strings"
	"unicode"
	"unicode/utf8"

	"tt/bencode"
)

// Severity ranks a finding.
type Severity uint8

// Severities, most serious first.
const (
	SevError Severity = iota
	SevWarning
	SevInfo
)

func (s Severity) String() string {
	switch s {
	case SevError:
		return "error"
	case SevWarning:
		return "warning"
	}
	return "info"
}

// MarshalText makes severities readable in JSON.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads what MarshalText writes.
func (s *Severity) UnmarshalText(b []byte) error {
	for v := SevError; v <= SevInfo; v++ {
		if string(b) == v.String() {
			*s = v
			return nil
		}
	}
	return fmt.Errorf("metainfo: unknown severity %q", b)
}

// Finding is one lint result. ID is stable across versions (documented in
// docs/lint.md); Message may change.
type Finding struct {
	ID       string   `json:"id"`
	Severity Severity `json:"severity"`
	Field    string   `json:"field,omitempty"`
	Message  string   `json:"message"`
}

func (f Finding) String() string {
	if f.Field == "" {
		return fmt.Sprintf("%s %s: %s", f.Severity, f.ID, f.Message)
	}
	return fmt.Sprintf("%s %s: %s: %s", f.Severity, f.ID, f.Field, f.Message)
}

// HasErrors reports whether any finding is of severity Error.
func HasErrors(fs []Finding) bool {
	for _, f := range fs {
		if f.Severity == SevError {
			return true
		}
	}
	return false
}

func bencodeFinding(e *bencode.Error) Finding {
	id := "bencode"
	switch {
	case errors.Is(e, bencode.ErrUnsortedKeys):
		id = "unsorted-keys"
	case errors.Is(e, bencode.ErrDuplicateKey):
		id = "duplicate-key"
	case errors.Is(e, bencode.ErrTrailing):
		id = "trailing-data"
	case errors.Is(e, bencode.ErrLeadingZero):
		id = "leading-zero"
	case errors.Is(e, bencode.ErrNegativeZero):
		id = "negative-zero"
	}
	return Finding{ID: id, Severity: SevWarning, Field: e.Path, Message: strings.TrimPrefix(e.Error(), "bencode: ")}
}

// windowsReserved are device names Windows will not create as files, with or
// without an extension.
var windowsReserved = map[string]bool{
	"CON": true, "PRN": true, "AUX": true, "NUL": true,
	"COM1": true, "COM2": true, "COM3": true, "COM4": true, "COM5": true, "COM6": true, "COM7": true, "COM8": true, "COM9": true,
	"LPT1": true, "LPT2": true, "LPT3": true, "LPT4": true, "LPT5": true, "LPT6": true, "LPT7": true, "LPT8": true, "LPT9": true,
}

// notOnWindows marks the bytes Windows does not allow in a file name.
var notOnWindows = func() (t [256]bool) {
	for b := range 0x20 {
		t[b] = true
	}
	for _, b := range []byte(`<>:"|?*`) {
		t[b] = true
	}
	return t
}()

// portability returns why a component cannot be created on Windows, or "".
func portability(c string) string {
	base := c
	if dot := strings.IndexByte(c, '.'); dot >= 0 {
		base = c[:dot]
	}
	if base = strings.TrimRight(base, " "); len(base) == 3 || len(base) == 4 {
		// Upper-cased byte by byte: the only non-ASCII letters whose upper
		// case is ASCII (ı and ſ) give I and S, in no reserved name.
		var upper [4]byte
		for i := range len(base) {
			upper[i] = base[i]
			if 'a' <= upper[i] && upper[i] <= 'z' {
				upper[i] -= 'a' - 'A'
			}
		}
		if windowsReserved[string(upper[:len(base)])] {
			return "reserved name on Windows"
		}
	}
	for i := 0; i < len(c); i++ {
		if b := c[i]; notOnWindows[b] {
			return fmt.Sprintf("character %q not allowed on Windows", rune(b))
		}
	}
	if strings.HasSuffix(c, ".") || strings.HasSuffix(c, " ") {
		return "trailing dot or space is dropped on Windows"
	}
	return ""
}

// Lint checks a parsed torrent for problems that do not stop it from
// loading, appending to t.Findings (which already holds what lenient parsing
// recorded) and returning the full list.
func Lint(t *Torrent) []Finding {
	add := func(id string, sev Severity, field, format string, args ...any) {
		t.Findings = append(t.Findings, Finding{ID: id, Severity: sev, Field: field, Message: fmt.Sprintf(format, args...)})
	}
	in := &t.Info
	pl := in.PieceLength
	if bits.OnesCount64(uint64(pl)) != 1 {
		add("piece-length-not-power-of-two", SevWarning, "info.piece length", "%d is not a power of two", pl)
	}
	if pl < 16<<10 {
		add("piece-length-small", SevWarning, "info.piece length", "%d is under 16 KiB", pl)
	}
	if pl > 64<<20 {
		add("piece-length-large", SevWarning, "info.piece length", "%d is over 64 MiB; many clients refuse it", pl)
	}
	if t.V2Only() {
		add("v2-only", SevInfo, "info", "v2-only torrent: v1-only clients cannot use it, and tt cannot download it yet")
	}
	lintV2(t, add)
	if !utf8.ValidString(in.Name) {
		add("invalid-utf8", SevWarning, "info.name", "name %q is not valid UTF-8", in.Name)
	}

	// Most torrents have no two paths that differ only in case: while the
	// paths are checked, hashes tell whether that is certain. Only when it
	// is not are the paths checked again, with the map of lower-cased paths
	// an exact answer needs.
	mayCollide := make(chan bool, 1)
	go func() { mayCollide <- mayFoldCollide(t) }()
	before := len(t.Findings)
	lintPaths(t, add, nil)
	if <-mayCollide {
		t.Findings = t.Findings[:before]
		lintPaths(t, add, make(map[string]int, len(in.Files)))
	}

	trackers := t.Trackers()
	if in.Private && len(trackers) == 0 {
		add("private-no-tracker", SevError, "info.private", "private torrent without a tracker cannot find peers")
	}
	seen := map[string]bool{}
	for _, tier := range trackers {
		for _, u := range tier {
			if seen[u] {
				add("duplicate-tracker", SevWarning, "announce-list", "%s listed more than once", u)
			}
			seen[u] = true
		}
	}
	if len(trackers) == 0 && len(t.Nodes) == 0 && !in.Private {
		add("no-tracker", SevInfo, "announce", "no trackers: peers must come from DHT, PEX or given addresses")
	}
	seenWS := map[string]bool{}
	for _, u := range t.URLList {
		if seenWS[u] {
			add("duplicate-web-seed", SevWarning, "url-list", "%s listed more than once", u)
		}
		seenWS[u] = true
	}
	return t.Findings
}

// lintPaths checks the path of each file, and with folded (lower-cased path
// to file index) also looks for paths that differ only in case.
func lintPaths(t *Torrent, add func(id string, sev Severity, field, format string, args ...any), folded map[string]int) {
	in := &t.Info
	// The checks of a component are those of the previous file's component
	// at the same depth when the two are equal: every file of a directory
	// shares its parents.
	type compCheck struct {
		comp  string
		valid bool   // valid UTF-8
		why   string // from portability
	}
	var checks []compCheck
	for i := range in.Files {
		f := &in.Files[i]
		if f.Pad {
			lintPad(t, i, add)
			continue
		}
		field := func() string {
			if !in.MultiFile {
				return "info.name"
			}
			return fmt.Sprintf("info.files[%d].path", i)
		}
		p := t.FilePath(i)
		for j, c := range f.Path {
			switch {
			case j == len(checks):
				checks = append(checks, compCheck{c, utf8.ValidString(c), portability(c)})
			case checks[j].comp != c:
				checks[j] = compCheck{c, utf8.ValidString(c), portability(c)}
			}
			if !checks[j].valid {
				add("invalid-utf8", SevWarning, field(), "%q is not valid UTF-8", p)
			}
			if why := checks[j].why; why != "" {
				add("non-portable-path", SevWarning, field(), "%q: %s", p, why)
			}
		}
		if folded == nil {
			continue
		}
		key := strings.ToLower(p)
		if j, ok := folded[key]; ok && t.FilePath(j) != p {
			add("case-collision", SevWarning, field(), "%q and %q differ only in case", t.FilePath(j), p)
		}
		folded[key] = i
	}
}

// mayFoldCollide reports whether the lower-cased paths of two files (pad
// files aside) might be equal, by comparing hashes of them; a hash
// collision only makes it answer true.
func mayFoldCollide(t *Torrent) bool {
	seed := maphash.MakeSeed()
	hashes := make([]uint64, 0, len(t.Info.Files))
	// The previous files' components by depth, lower-cased: a component
	// equal to the previous file's at its depth is not lower-cased again.
	type comp struct {
		s     string
		lower []byte
	}
	var (
		prev []comp
		path []byte
	)
	for i := range t.Info.Files {
		f := &t.Info.Files[i]
		if f.Pad {
			continue
		}
		if p := t.FilePath(i); isLower(p) {
			hashes = append(hashes, maphash.String(seed, p)|1)
			continue
		}
		// Components hold no '/', so lower-casing them one by one
		// lower-cases the path.
		path = path[:0]
		for j, c := range f.Path {
			switch {
			case j == len(prev):
				prev = append(prev, comp{c, appendLower(nil, c)})
			case prev[j].s != c:
				prev[j] = comp{c, appendLower(prev[j].lower[:0], c)}
			}
			if j > 0 {
				path = append(path, '/')
			}
			path = append(path, prev[j].lower...)
		}
		hashes = append(hashes, maphash.Bytes(seed, path)|1)
	}
	return clashingHashes(hashes)
}

// isLower reports whether s is ASCII without upper-case letters, so that
// strings.ToLower(s) == s.
func isLower(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= utf8.RuneSelf || 'A' <= c && c <= 'Z' {
			return false
		}
	}
	return true
}

// appendLower appends strings.ToLower(s) to dst without allocating a string.
func appendLower(dst []byte, s string) []byte {
	start := len(dst)
	dst = append(dst, s...)
	for i := start; i < len(dst); i++ {
		switch c := dst[i]; {
		case c >= utf8.RuneSelf:
			return appendLowerRunes(dst[:i], s[i-start:])
		case 'A' <= c && c <= 'Z':
			dst[i] = c + 'a' - 'A'
		}
	}
	return dst
}

// appendLowerRunes lower-cases rune by rune; like strings.ToLower, it
// writes each invalid byte as U+FFFD.
func appendLowerRunes(dst []byte, s string) []byte {
	for _, r := range s {
		dst = utf8.AppendRune(dst, unicode.ToLower(r))
	}
	return dst
}

// FilePath is file i's path inside the content root, joined with "/".
func (t *Torrent) FilePath(i int) string {
	if i < len(t.paths) {
		return t.paths[i]
	}
	return strings.Join(t.Info.Files[i].Path, "/")
}
