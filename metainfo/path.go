package metainfo

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

// ErrInsecurePath is returned for a file path that could escape the
// download directory or be read differently on another system: "..", ".",
// empty components, absolute paths, NUL bytes, or '/' or '\' inside a
// component.
var ErrInsecurePath = errors.New("metainfo: insecure file path")

// CheckComponent reports whether c is safe as one path component.
func CheckComponent(c string) error {
	switch {
	case c == "":
		return fmt.Errorf("%w: empty component", ErrInsecurePath)
	case c == "." || c == "..":
		return fmt.Errorf("%w: %q component", ErrInsecurePath, c)
	}
	// One pass over the bytes (torrents with 100,000 files check this
	// 300,000 times): NUL, '/' and '\\' are single bytes in UTF-8 and never
	// part of a multi-byte sequence.
	for i := 0; i < len(c); i++ {
		switch c[i] {
		case 0:
			return fmt.Errorf("%w: NUL byte in %q", ErrInsecurePath, c)
		case '/', '\\':
			return fmt.Errorf("%w: separator in %q", ErrInsecurePath, c)
		}
	}
	return nil
}

// CheckPath reports whether every component of p is safe.
func CheckPath(p []string) error {
	if len(p) == 0 {
		return fmt.Errorf("%w: empty path", ErrInsecurePath)
	}
	for _, c := range p {
		if err := CheckComponent(c); err != nil {
			return err
		}
	}
	return nil
}

// sanitizeComponent turns an unsafe component into a safe one that keeps
// as much of it as it can; "" means the component is dropped.
func sanitizeComponent(c string) string {
	switch c {
	case "", ".":
		return ""
	case "..":
		return "_"
	}
	return strings.Map(func(r rune) rune {
		if r == 0 || r == '/' || r == '\\' {
			return '_'
		}
		return r
	}, c)
}

// sanitizePath makes p safe: unsafe components are rewritten or dropped,
// and an empty result becomes "_".
func sanitizePath(p []string) []string {
	out := make([]string, 0, len(p))
	for _, c := range p {
		if s := sanitizeComponent(c); s != "" {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		out = append(out, "_")
	}
	return out
}

// JoinUnder joins the components of a path checked by CheckPath under root.
// It re-checks them, so that no caller can ever produce a path outside root.
func JoinUnder(root string, p []string) (string, error) {
	if err := CheckPath(p); err != nil {
		return "", err
	}
	full := filepath.Join(append([]string{root}, p...)...)
	rel, err := filepath.Rel(root, full)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return "", fmt.Errorf("%w: %q leaves %q", ErrInsecurePath, strings.Join(p, "/"), root)
	}
	return full, nil
}
