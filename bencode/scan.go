// Package bencode validates, reads and writes bencoded data.
//
// Untrusted input goes through Parse first: a single pass that checks the
// syntax against explicit limits (nesting depth, string lengths never beyond
// the bytes left, integers that fit int64) and, in strict mode, the canonical
// form (no leading zeros, no -0, sorted unique dictionary keys, exactly one
// top-level value). Parse returns a Value: a zero-copy view into the input,
// so the exact bytes of any value (the info dictionary of a torrent, say) are
// available as they were received. A Cursor reads the elements of a large
// list or dictionary without making a Value of each.
package bencode

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Sentinel errors. Every error returned by Parse is an *Error that wraps one of them.
var (
	ErrTruncated    = errors.New("bencode: unexpected end of data")
	ErrInvalidByte  = errors.New("bencode: invalid byte")
	ErrLeadingZero  = errors.New("bencode: leading zero")
	ErrNegativeZero = errors.New("bencode: negative zero")
	ErrIntRange     = errors.New("bencode: integer out of int64 range")
	ErrStringLength = errors.New("bencode: string longer than the data left")
	ErrKeyNotString = errors.New("bencode: dictionary key is not a string")
	ErrUnsortedKeys = errors.New("bencode: dictionary keys not sorted")
	ErrDuplicateKey = errors.New("bencode: duplicate dictionary key")
	ErrTooDeep      = errors.New("bencode: nesting too deep")
	ErrTrailing     = errors.New("bencode: trailing data after the value")
	ErrEmpty        = errors.New("bencode: no data")
)

// Error locates a problem in the input: its byte offset and the key path of
// the value it belongs to (for example info.files[3].length).
type Error struct {
	Offset int
	Path   string
	Err    error
}

func (e *Error) Error() string {
	msg := strings.TrimPrefix(e.Err.Error(), "bencode: ")
	if e.Path == "" {
		return fmt.Sprintf("bencode: at byte %d: %s", e.Offset, msg)
	}
	return fmt.Sprintf("bencode: %s at byte %d: %s", e.Path, e.Offset, msg)
}

func (e *Error) Unwrap() error { return e.Err }

// DefaultMaxDepth is the nesting limit used when Options.MaxDepth is zero.
const DefaultMaxDepth = 100

// maxWarnings bounds how many non-fatal findings lenient parsing records.
const maxWarnings = 64

// Options control Parse.
type Options struct {
	// Lenient accepts what real clients accept — unsorted or duplicate keys,
	// leading zeros, -0, trailing bytes after the value — and reports each as
	// a warning instead of an error.
	Lenient bool
	// MaxDepth limits nesting of lists and dictionaries (DefaultMaxDepth when 0).
	MaxDepth int
}

// Parse validates data as exactly one bencoded value and returns a view of it.
// In lenient mode the second result lists the departures from canonical form
// that were accepted. Parse never panics and allocates nothing in proportion
// to lengths claimed by the input. For a document of 16 KiB or more it also
// records where each list and dictionary ends, so that walking the Value
// passes over nested values without scanning them again.
func Parse(data []byte, opt Options) (Value, []*Error, error) {
	return parse(data, opt, len(data) >= indexMin && uint64(len(data)) <= math.MaxUint32)
}

// indexMin is the document size from which Parse records where each list
// and dictionary ends (up to 4 GiB: the index holds 32-bit offsets). Below
// it, rescanning nested values while walking costs less than the index.
const indexMin = 16 << 10

func parse(data []byte, opt Options, withIndex bool) (Value, []*Error, error) {
	if opt.MaxDepth <= 0 {
		opt.MaxDepth = DefaultMaxDepth
	}
	s := scanner{data: data, opt: opt}
	if len(data) == 0 {
		return Value{}, nil, &Error{Offset: 0, Err: ErrEmpty}
	}
	if withIndex {
		s.ix = &index{}
	}
	end, err := s.run()
	if err != nil || len(s.warnings) > 0 {
		// Errors and warnings name the key path of where they are, which
		// costs a third of the scan to keep track of: it is tracked only on
		// a second pass, which finds the same.
		again := scanner{data: data, opt: opt, track: true}
		end, err = again.run()
		s.warnings = again.warnings
	}
	if err != nil {
		return Value{}, s.warnings, err
	}
	_, aux, _ := span(data, s.ix, 0, 0)
	return Value{data: data[:end:end], off: 0, end: end, ix: s.ix, aux: aux}, s.warnings, nil
}

// IsCanonical reports whether data is exactly one value in canonical form.
func IsCanonical(data []byte) bool {
	// One strict scan: the yes or no needs no key path, so no second pass.
	s := scanner{data: data, opt: Options{MaxDepth: DefaultMaxDepth}}
	if len(data) == 0 {
		return false
	}
	_, err := s.run()
	return err == nil
}

type pathElem struct {
	key   []byte
	index int // -1 for a dictionary key
}

type scanner struct {
	data     []byte
	opt      Options
	track    bool       // keep path, for errors and warnings to name
	path     []pathElem // where the scan is, when tracked
	warnings []*Error
	ix       *index // nil when not recording
}

// run scans the one value data must hold and returns where it ends.
func (s *scanner) run() (int, error) {
	end, err := s.value(0, 0)
	if err == nil && end != len(s.data) {
		err = s.soft(end, ErrTrailing)
	}
	return end, err
}

// open reserves the index slot of a container that starts being scanned.
func (s *scanner) open() int {
	if s.ix == nil {
		return 0
	}
	return s.ix.add()
}

// close records where the container in slot ends, once its contents (and
// their slots) have been scanned.
func (s *scanner) close(slot, end int) {
	if s.ix != nil {
		*s.ix.at(slot) = containerEnd{end: uint32(end), next: uint32(s.ix.n)}
	}
}

func (s *scanner) fail(off int, err error) *Error {
	return &Error{Offset: off, Path: formatPath(s.path), Err: err}
}

// soft reports a departure from canonical form: an error in strict mode, a
// warning in lenient mode.
func (s *scanner) soft(off int, err error) error {
	e := s.fail(off, err)
	if !s.opt.Lenient {
		return e
	}
	if len(s.warnings) < maxWarnings {
		s.warnings = append(s.warnings, e)
	}
	return nil
}

// value checks the value starting at off and returns the offset just past it.
func (s *scanner) value(off, depth int) (int, error) {
	if off >= len(s.data) {
		return off, s.fail(off, ErrTruncated)
	}
	switch c := s.data[off]; {
	case c == 'i':
		return s.integer(off)
	case c >= '0' && c <= '9':
		_, end, err := s.str(off)
		return end, err
	case c == 'l':
		if depth >= s.opt.MaxDepth {
			return off, s.fail(off, ErrTooDeep)
		}
		slot := s.open()
		off++
		for i := 0; ; i++ {
			if off >= len(s.data) {
				return off, s.fail(off, ErrTruncated)
			}
			if s.data[off] == 'e' {
				s.close(slot, off+1)
				return off + 1, nil
			}
			if !s.track {
				end, err := s.value(off, depth+1)
				if err != nil {
					return end, err
				}
				off = end
				continue
			}
			s.path = append(s.path, pathElem{index: i})
			end, err := s.value(off, depth+1)
			s.path = s.path[:len(s.path)-1]
			if err != nil {
				return end, err
			}
			off = end
		}
	case c == 'd':
		if depth >= s.opt.MaxDepth {
			return off, s.fail(off, ErrTooDeep)
		}
		slot := s.open()
		end, err := s.dict(off+1, depth)
		if err == nil {
			s.close(slot, end)
		}
		return end, err
	default:
		return off, s.fail(off, fmt.Errorf("%w %s", ErrInvalidByte, quoteByte(c)))
	}
}

func (s *scanner) dict(off, depth int) (int, error) {
	var prev []byte
	first := true
	for {
		if off >= len(s.data) {
			return off, s.fail(off, ErrTruncated)
		}
		if s.data[off] == 'e' {
			return off + 1, nil
		}
		c := s.data[off]
		if c < '0' || c > '9' {
			return off, s.fail(off, ErrKeyNotString)
		}
		key, end, err := s.str(off)
		if err != nil {
			return end, err
		}
		if !first {
			switch cmp := bytes.Compare(prev, key); {
			case cmp == 0:
				if err := s.soft(off, fmt.Errorf("%w %q", ErrDuplicateKey, key)); err != nil {
					return off, err
				}
			case cmp > 0:
				if err := s.soft(off, fmt.Errorf("%w: %q after %q", ErrUnsortedKeys, key, prev)); err != nil {
					return off, err
				}
			}
		}
		first, prev = false, key
		if s.track {
			s.path = append(s.path, pathElem{key: key, index: -1})
			end, err = s.value(end, depth+1)
			s.path = s.path[:len(s.path)-1]
		} else {
			end, err = s.value(end, depth+1)
		}
		if err != nil {
			return end, err
		}
		off = end
	}
}

// integer checks i<digits>e at off.
func (s *scanner) integer(off int) (int, error) {
	i := off + 1
	neg := false
	if i < len(s.data) && s.data[i] == '-' {
		neg = true
		i++
	}
	start := i
	for i < len(s.data) && s.data[i] >= '0' && s.data[i] <= '9' {
		i++
	}
	if i >= len(s.data) {
		return i, s.fail(i, ErrTruncated)
	}
	if s.data[i] != 'e' {
		return i, s.fail(i, fmt.Errorf("%w %s in integer", ErrInvalidByte, quoteByte(s.data[i])))
	}
	digits := s.data[start:i]
	if len(digits) == 0 {
		return i, s.fail(off, fmt.Errorf("%w: integer without digits", ErrInvalidByte))
	}
	if _, ok := parseInt(s.data[off+1 : i]); !ok {
		return i, s.fail(off, ErrIntRange)
	}
	if len(digits) > 1 && digits[0] == '0' {
		if err := s.soft(off, ErrLeadingZero); err != nil {
			return i, err
		}
	} else if neg && digits[0] == '0' {
		if err := s.soft(off, ErrNegativeZero); err != nil {
			return i, err
		}
	}
	return i + 1, nil
}

// str checks <len>:<bytes> at off and returns the bytes.
func (s *scanner) str(off int) ([]byte, int, error) {
	data := s.data // a local: the loop need not reload it
	i, n := off, 0
	for ; i < len(data); i++ {
		d := data[i] - '0'
		if d > 9 {
			break
		}
		// The length can never exceed the input size, so stop as soon as it does.
		if n = n*10 + int(d); n > len(data) {
			return nil, i, s.fail(off, ErrStringLength)
		}
	}
	if i >= len(data) {
		return nil, i, s.fail(i, ErrTruncated)
	}
	if data[i] != ':' {
		return nil, i, s.fail(i, fmt.Errorf("%w %s in string length", ErrInvalidByte, quoteByte(data[i])))
	}
	if i-off > 1 && data[off] == '0' {
		if err := s.soft(off, ErrLeadingZero); err != nil {
			return nil, i, err
		}
	}
	i++
	if n > len(data)-i {
		return nil, i, s.fail(off, ErrStringLength)
	}
	return data[i : i+n : i+n], i + n, nil
}

// parseInt parses an optionally negative decimal without allocation.
func parseInt(b []byte) (int64, bool) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) == 0 {
		return 0, false
	}
	if len(b) < 19 {
		// Fewer than 19 digits always fit.
		var v int64
		for _, c := range b {
			if c < '0' || c > '9' {
				return 0, false
			}
			v = v*10 + int64(c-'0')
		}
		if neg {
			v = -v
		}
		return v, true
	}
	// Accumulate as a negative number: its range is one larger.
	var v int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := int64(c - '0')
		if v < (math.MinInt64+d)/10 {
			return 0, false
		}
		v = v*10 - d
	}
	if !neg {
		if v == math.MinInt64 {
			return 0, false
		}
		v = -v
	}
	return v, true
}

func quoteByte(c byte) string {
	return strconv.QuoteRune(rune(c)) + fmt.Sprintf(" (0x%02x)", c)
}

func formatPath(p []pathElem) string {
	var b strings.Builder
	for _, e := range p {
		if e.index >= 0 {
			fmt.Fprintf(&b, "[%d]", e.index)
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(formatKey(e.key))
	}
	return b.String()
}

// formatKey renders a dictionary key for a path: plain when it is a simple
// name, quoted otherwise.
func formatKey(k []byte) string {
	if len(k) == 0 {
		return `""`
	}
	for _, c := range k {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == ' ') {
			return strconv.Quote(string(k))
		}
	}
	return string(k)
}
