package metainfo

import (
	"errors"
	"fmt"
	"math/bits"
	"strings"
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

// portability returns why a component cannot be created on Windows, or "".
func portability(c string) string {
	base, _, _ := strings.Cut(c, ".")
	if base = strings.TrimRight(base, " "); (len(base) == 3 || len(base) == 4) && windowsReserved[strings.ToUpper(base)] {
		return "reserved name on Windows"
	}
	for i := 0; i < len(c); i++ {
		if b := c[i]; b < 0x20 || b == '<' || b == '>' || b == ':' || b == '"' || b == '|' || b == '?' || b == '*' {
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
		add("v2-only", SevInfo, "info", "v2-only torrent: no v1 piece hashes, so tt cannot verify or download it")
	}
	if !utf8.ValidString(in.Name) {
		add("invalid-utf8", SevWarning, "info.name", "name %q is not valid UTF-8", in.Name)
	}

	folded := make(map[string]int, len(in.Files))
	for i, f := range in.Files {
		if f.Pad {
			continue
		}
		field := func() string {
			if !in.MultiFile {
				return "info.name"
			}
			return fmt.Sprintf("info.files[%d].path", i)
		}
		p := t.FilePath(i)
		for _, c := range f.Path {
			if !utf8.ValidString(c) {
				add("invalid-utf8", SevWarning, field(), "%q is not valid UTF-8", p)
			}
			if why := portability(c); why != "" {
				add("non-portable-path", SevWarning, field(), "%q: %s", p, why)
			}
		}
		key := strings.ToLower(p)
		if j, ok := folded[key]; ok && t.FilePath(j) != p {
			add("case-collision", SevWarning, field(), "%q and %q differ only in case", t.FilePath(j), p)
		}
		folded[key] = i
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

// FilePath is file i's path inside the content root, joined with "/".
func (t *Torrent) FilePath(i int) string {
	if i < len(t.paths) {
		return t.paths[i]
	}
	return strings.Join(t.Info.Files[i].Path, "/")
}
