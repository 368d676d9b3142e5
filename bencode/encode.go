package bencode

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// ErrUnsupported is returned by Marshal for Go values bencode cannot express.
var ErrUnsupported = errors.New("bencode: unsupported type")

// RawMessage is pre-encoded bencode inserted verbatim by Marshal.
type RawMessage []byte

// Marshal encodes v in canonical form: dictionary keys sorted as raw byte
// strings, integers without leading zeros. It accepts strings, byte slices,
// integers, bools (as 0 or 1), slices and arrays, maps with string keys,
// structs (fields named by a `bencode:"name,omitempty"` tag, "-" to skip),
// pointers and interfaces to those, RawMessage and Value.
func Marshal(v any) ([]byte, error) {
	return Append(nil, v)
}

// Append appends the canonical encoding of v to dst.
func Append(dst []byte, v any) ([]byte, error) {
	return appendValue(dst, reflect.ValueOf(v))
}

var (
	rawType   = reflect.TypeFor[RawMessage]()
	valueType = reflect.TypeFor[Value]()
)

func appendValue(dst []byte, v reflect.Value) ([]byte, error) {
	if !v.IsValid() {
		return dst, fmt.Errorf("%w: nil", ErrUnsupported)
	}
	switch v.Type() {
	case rawType:
		return append(dst, v.Bytes()...), nil
	case valueType:
		return append(dst, v.Interface().(Value).Raw()...), nil
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return dst, fmt.Errorf("%w: nil %s", ErrUnsupported, v.Type())
		}
		return appendValue(dst, v.Elem())
	case reflect.String:
		return AppendString(dst, v.String()), nil
	case reflect.Bool:
		if v.Bool() {
			return AppendInt(dst, 1), nil
		}
		return AppendInt(dst, 0), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return AppendInt(dst, v.Int()), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		u := v.Uint()
		if u > math.MaxInt64 {
			return dst, fmt.Errorf("%w: %d exceeds int64", ErrUnsupported, u)
		}
		return AppendInt(dst, int64(u)), nil
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			if v.Kind() == reflect.Slice {
				return AppendBytes(dst, v.Bytes()), nil
			}
			b := make([]byte, v.Len())
			reflect.Copy(reflect.ValueOf(b), v)
			return AppendBytes(dst, b), nil
		}
		dst = append(dst, 'l')
		for i := range v.Len() {
			var err error
			if dst, err = appendValue(dst, v.Index(i)); err != nil {
				return dst, err
			}
		}
		return append(dst, 'e'), nil
	case reflect.Map:
		if v.Type().Key().Kind() != reflect.String {
			return dst, fmt.Errorf("%w: map key %s", ErrUnsupported, v.Type().Key())
		}
		keys := v.MapKeys()
		slices.SortFunc(keys, func(a, b reflect.Value) int { return strings.Compare(a.String(), b.String()) })
		dst = append(dst, 'd')
		for _, k := range keys {
			dst = AppendString(dst, k.String())
			var err error
			if dst, err = appendValue(dst, v.MapIndex(k)); err != nil {
				return dst, fmt.Errorf("%s: %w", k.String(), err)
			}
		}
		return append(dst, 'e'), nil
	case reflect.Struct:
		return appendStruct(dst, v)
	}
	return dst, fmt.Errorf("%w: %s", ErrUnsupported, v.Type())
}

type field struct {
	name  string
	index int
}

func appendStruct(dst []byte, v reflect.Value) ([]byte, error) {
	t := v.Type()
	var fields []field
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("bencode"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if opts == "omitempty" && v.Field(i).IsZero() {
			continue
		}
		fields = append(fields, field{name, i})
	}
	slices.SortFunc(fields, func(a, b field) int { return strings.Compare(a.name, b.name) })
	dst = append(dst, 'd')
	for i, f := range fields {
		if i > 0 && fields[i-1].name == f.name {
			return dst, fmt.Errorf("%w: duplicate key %q in %s", ErrUnsupported, f.name, t)
		}
		dst = AppendString(dst, f.name)
		var err error
		if dst, err = appendValue(dst, v.Field(f.index)); err != nil {
			return dst, fmt.Errorf("%s: %w", f.name, err)
		}
	}
	return append(dst, 'e'), nil
}

// AppendString appends s as a bencoded string.
func AppendString(dst []byte, s string) []byte {
	dst = strconv.AppendInt(dst, int64(len(s)), 10)
	dst = append(dst, ':')
	return append(dst, s...)
}

// AppendBytes appends b as a bencoded string.
func AppendBytes(dst []byte, b []byte) []byte {
	dst = strconv.AppendInt(dst, int64(len(b)), 10)
	dst = append(dst, ':')
	return append(dst, b...)
}

// AppendInt appends n as a bencoded integer.
func AppendInt(dst []byte, n int64) []byte {
	dst = append(dst, 'i')
	dst = strconv.AppendInt(dst, n, 10)
	return append(dst, 'e')
}
