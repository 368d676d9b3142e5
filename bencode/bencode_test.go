package bencode

import (
	"errors"
	"math"
	"strings"
	"testing"
)

func TestParseErrors(t *testing.T) {
	tests := []struct {
		in       string
		sentinel error
		msg      string
	}{
		{"", ErrEmpty, "bencode: at byte 0: no data"},
		{"i", ErrTruncated, "bencode: at byte 1: unexpected end of data"},
		{"i12", ErrTruncated, "bencode: at byte 3: unexpected end of data"},
		{"ie", ErrInvalidByte, "bencode: at byte 0: invalid byte: integer without digits"},
		{"i-e", ErrInvalidByte, "bencode: at byte 0: invalid byte: integer without digits"},
		{"i1x", ErrInvalidByte, "bencode: at byte 2: invalid byte 'x' (0x78) in integer"},
		{"i03e", ErrLeadingZero, "bencode: at byte 0: leading zero"},
		{"i-0e", ErrNegativeZero, "bencode: at byte 0: negative zero"},
		{"i-01e", ErrLeadingZero, "bencode: at byte 0: leading zero"},
		{"i9223372036854775808e", ErrIntRange, "bencode: at byte 0: integer out of int64 range"},
		{"i-9223372036854775809e", ErrIntRange, "bencode: at byte 0: integer out of int64 range"},
		{"i99999999999999999999999999e", ErrIntRange, "bencode: at byte 0: integer out of int64 range"},
		{"5:abc", ErrStringLength, "bencode: at byte 0: string longer than the data left"},
		{"99999999999999999999999:a", ErrStringLength, "bencode: at byte 0: string longer than the data left"},
		{"03:abc", ErrLeadingZero, "bencode: at byte 0: leading zero"},
		{"3abc", ErrInvalidByte, "bencode: at byte 1: invalid byte 'a' (0x61) in string length"},
		{"l", ErrTruncated, "bencode: at byte 1: unexpected end of data"},
		{"li1e", ErrTruncated, "bencode: at byte 4: unexpected end of data"},
		{"d", ErrTruncated, "bencode: at byte 1: unexpected end of data"},
		{"di1ei2ee", ErrKeyNotString, "bencode: at byte 1: dictionary key is not a string"},
		{"d1:b0:1:a0:e", ErrUnsortedKeys, `bencode: at byte 6: dictionary keys not sorted: "a" after "b"`},
		{"d1:a0:1:a0:e", ErrDuplicateKey, `bencode: at byte 6: duplicate dictionary key "a"`},
		{"i1ei2e", ErrTrailing, "bencode: at byte 3: trailing data after the value"},
		{"x", ErrInvalidByte, "bencode: at byte 0: invalid byte 'x' (0x78)"},
		{"d4:infod5:filesld6:lengthi01eeeee", ErrLeadingZero, "bencode: info.files[0].length at byte 25: leading zero"},
		{"d4:infod5:filesld6:lengthi1eed6:lengthi-0eeeee", ErrNegativeZero, "bencode: info.files[1].length at byte 38: negative zero"},
		{"d3:a.bi1x", ErrInvalidByte, `bencode: "a.b" at byte 8: invalid byte 'x' (0x78) in integer`},
		{"d0:i1x", ErrInvalidByte, `bencode: "" at byte 5: invalid byte 'x' (0x78) in integer`},
	}
	for _, tc := range tests {
		_, _, err := Parse([]byte(tc.in), Options{})
		if err == nil {
			t.Errorf("Parse(%q): no error, want %v", tc.in, tc.sentinel)
			continue
		}
		if !errors.Is(err, tc.sentinel) {
			t.Errorf("Parse(%q) = %v, want errors.Is %v", tc.in, err, tc.sentinel)
		}
		if err.Error() != tc.msg {
			t.Errorf("Parse(%q) message\n got %s\nwant %s", tc.in, err, tc.msg)
		}
		var be *Error
		if !errors.As(err, &be) {
			t.Errorf("Parse(%q): %T is not *Error", tc.in, err)
		}
	}
}

func TestDepthLimit(t *testing.T) {
	deep := strings.Repeat("l", 101) + strings.Repeat("e", 101)
	if _, _, err := Parse([]byte(deep), Options{}); !errors.Is(err, ErrTooDeep) {
		t.Fatalf("depth 101: %v, want ErrTooDeep", err)
	}
	ok := strings.Repeat("l", 100) + strings.Repeat("e", 100)
	if _, _, err := Parse([]byte(ok), Options{}); err != nil {
		t.Fatalf("depth 100: %v", err)
	}
	if _, _, err := Parse([]byte("llee"), Options{MaxDepth: 1}); !errors.Is(err, ErrTooDeep) {
		t.Fatalf("MaxDepth 1: %v", err)
	}
	// A million opening brackets must fail fast, not exhaust the stack.
	huge := strings.Repeat("d1:a", 1_000_000)
	if _, _, err := Parse([]byte(huge), Options{Lenient: true}); !errors.Is(err, ErrTooDeep) {
		t.Fatalf("huge nesting: %v", err)
	}
}

func TestLenientWarnings(t *testing.T) {
	in := "d1:bi03e1:ai-0e1:ai1ee trailing"
	if _, _, err := Parse([]byte(in), Options{}); err == nil {
		t.Fatal("strict accepted non-canonical input")
	}
	v, warns, err := Parse([]byte(in), Options{Lenient: true})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, w := range warns {
		got = append(got, w.Error())
	}
	want := []string{
		"bencode: b at byte 4: leading zero",
		`bencode: at byte 8: dictionary keys not sorted: "a" after "b"`,
		"bencode: a at byte 11: negative zero",
		`bencode: at byte 15: duplicate dictionary key "a"`,
		"bencode: at byte 22: trailing data after the value",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("warnings\n got %q\nwant %q", got, want)
	}
	if string(v.Raw()) != "d1:bi03e1:ai-0e1:ai1ee" {
		t.Fatalf("raw %q", v.Raw())
	}
	a, _ := v.Get("a")
	if n, _ := a.Int(); n != 0 {
		t.Fatalf("first duplicate must win, got %d", n)
	}
	if c := string(AppendCanonical(nil, v)); c != "d1:ai0e1:bi3ee" {
		t.Fatalf("canonical %q", c)
	}
}

func TestWarningsBounded(t *testing.T) {
	in := "l" + strings.Repeat("i01e", 10000) + "e"
	_, warns, err := Parse([]byte(in), Options{Lenient: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(warns) != maxWarnings {
		t.Fatalf("%d warnings, want %d", len(warns), maxWarnings)
	}
}

func TestValueAccess(t *testing.T) {
	in := "d8:announce3:url4:infod6:lengthi-42e4:name5:hello6:piecesl1:a2:bbee3:numi9223372036854775807ee"
	v, _, err := Parse([]byte(in), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if v.Kind() != Dict || v.Len() != 3 {
		t.Fatalf("kind %v len %d", v.Kind(), v.Len())
	}
	info, ok := v.Get("info")
	if !ok || info.Kind() != Dict {
		t.Fatal("no info")
	}
	if string(info.Raw()) != "d6:lengthi-42e4:name5:hello6:piecesl1:a2:bbee" || info.Offset() != 22 {
		t.Fatalf("info raw %q at %d", info.Raw(), info.Offset())
	}
	l, _ := info.Get("length")
	if n, ok := l.Int(); !ok || n != -42 {
		t.Fatalf("length %d %v", n, ok)
	}
	if _, ok := l.Bytes(); ok {
		t.Fatal("Bytes on integer")
	}
	name, _ := info.Get("name")
	if s, ok := name.Str(); !ok || s != "hello" || name.Len() != 5 {
		t.Fatalf("name %q", s)
	}
	p, _ := info.Get("pieces")
	var elems []string
	for i, e := range p.List() {
		s, _ := e.Str()
		elems = append(elems, string(rune('0'+i))+s)
	}
	if strings.Join(elems, ",") != "0a,1bb" || p.Len() != 2 {
		t.Fatalf("list %v", elems)
	}
	num, _ := v.Get("num")
	if n, _ := num.Int(); n != math.MaxInt64 {
		t.Fatalf("num %d", n)
	}
	if _, ok := v.Get("missing"); ok {
		t.Fatal("found missing key")
	}
	if _, ok := num.Get("x"); ok {
		t.Fatal("Get on integer")
	}
	var zero Value
	if zero.Kind() != Invalid || zero.Len() != 0 {
		t.Fatal("zero value")
	}
	mn, _, _ := Parse([]byte("i-9223372036854775808e"), Options{})
	if n, ok := mn.Int(); !ok || n != math.MinInt64 {
		t.Fatalf("min int %d %v", n, ok)
	}
}

type sample struct {
	Name    string   `bencode:"name"`
	Length  int64    `bencode:"length"`
	Private bool     `bencode:"private,omitempty"`
	Tags    []string `bencode:"tags,omitempty"`
	Skip    string   `bencode:"-"`
	Extra   RawMessage
	hidden  int
}

func TestMarshal(t *testing.T) {
	tests := []struct {
		in   any
		want string
	}{
		{"spam", "4:spam"},
		{[]byte{0, 1}, "2:\x00\x01"},
		{[2]byte{'h', 'i'}, "2:hi"},
		{42, "i42e"},
		{int64(-7), "i-7e"},
		{uint32(7), "i7e"},
		{true, "i1e"},
		{false, "i0e"},
		{[]any{"a", 1, []string{}}, "l1:ai1elee"},
		{map[string]any{"z": 1, "a": "x", "B": 2}, "d1:Bi2e1:a1:x1:zi1ee"},
		{sample{Name: "n", Length: 3, Extra: RawMessage("le")}, "d5:ExtraLe6:lengthi3e4:name1:ne"},
		{&sample{Name: "n", Private: true, Tags: []string{"t"}, Extra: RawMessage("i0e")}, "d5:Extrai0e6:lengthi0e4:name1:n7:privatei1e4:tagsl1:tee"},
	}
	for _, tc := range tests {
		got, err := Marshal(tc.in)
		want := strings.Replace(tc.want, "ExtraLe", "Extrale", 1)
		if err != nil || string(got) != want {
			t.Errorf("Marshal(%#v) = %q, %v; want %q", tc.in, got, err, want)
		}
	}
	for _, bad := range []any{nil, 1.5, map[int]int{1: 1}, uint64(math.MaxUint64), (*sample)(nil), []any{func() {}}} {
		if _, err := Marshal(bad); !errors.Is(err, ErrUnsupported) {
			t.Errorf("Marshal(%#v): %v, want ErrUnsupported", bad, err)
		}
	}
	v, _, _ := Parse([]byte("d1:ai1ee"), Options{})
	if got, _ := Marshal(map[string]any{"v": v}); string(got) != "d1:vd1:ai1eee" {
		t.Errorf("Value embed %q", got)
	}
}

func BenchmarkParseLarge(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("d5:filesl")
	for i := range 100000 {
		sb.WriteString("d6:lengthi")
		sb.WriteString(strings.Repeat("7", 1+i%9))
		sb.WriteString("e4:pathl3:dir8:file.binee")
	}
	sb.WriteString("ee")
	data := []byte(sb.String())
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		v, _, err := Parse(data, Options{})
		if err != nil {
			b.Fatal(err)
		}
		files, _ := v.Get("files")
		n := 0
		for _, f := range files.List() {
			l, _ := f.Get("length")
			x, _ := l.Int()
			n += int(x & 1)
		}
		_ = n
	}
}

func TestIsCanonical(t *testing.T) {
	for in, want := range map[string]bool{
		"d1:ai1e1:bl1:xee": true, "i0e": true, "": false, "i01e": false, "i-0e": false,
		"d1:bi1e1:ai2ee": false, "d1:ai1e1:ai2ee": false, "i1ei2e": false, "l": false, "01:a": false,
	} {
		if got := IsCanonical([]byte(in)); got != want {
			t.Errorf("IsCanonical(%q) = %v, want %v", in, got, want)
		}
	}
}
