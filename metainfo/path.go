package metainfo

import (
	"errors"
	"fmt"
	"hash/maphash"
	"math/bits"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
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

// mayClash reports whether two of the files might clash: have the same
// path (keys[i] is the "/"-joined path of files[i]), or one a path that
// another needs as a directory. It compares sorted 64-bit hashes of the
// paths and of the directories, which for 100,000 files costs a fraction of
// the map of strings an exact answer needs; a hash collision only makes it
// answer true.
func mayClash(files []File, keys []string) bool {
	seed := maphash.MakeSeed()
	// A path clashes only with a directory of as many components: those at
	// depths no file has are not listed. Bit d-1 of depths is set when a
	// file has d components; directories deeper than 64 are all listed.
	var depths uint64
	for i := range files {
		if d := len(files[i].Path); !files[i].Pad && d <= 64 {
			depths |= 1 << (d - 1)
		}
	}
	// The hashes of a long list are computed in parts, one per processor.
	parts := max(1, min(runtime.GOMAXPROCS(0), len(files)/filesPerPart, 8))
	lists := make([][]uint64, parts)
	var wg sync.WaitGroup
	for k := range lists {
		first, last := k*len(files)/parts, (k+1)*len(files)/parts
		wg.Go(func() { lists[k] = clashEntries(seed, depths, files[first:last], keys[first:last]) })
	}
	wg.Wait()
	entries := lists[0]
	if parts > 1 {
		entries = slices.Concat(lists...)
	}
	return clashingHashes(entries)
}

// clashEntries lists the hashes mayClash compares for files (whose joined
// paths are keys): each file's path, and the directories of a depth in
// depths. Each entry is a hash with its low bit set for a file's path and
// clear for a directory: directories may repeat, files may not.
func clashEntries(seed maphash.Seed, depths uint64, files []File, keys []string) []uint64 {
	// Room for a file and two new directories each: capacity that goes
	// unused is never touched.
	entries := make([]uint64, 0, 3*len(keys))
	// seen keeps one directory hash per slot, so that a directory met again
	// soon after others is seldom listed twice (which would only cost time).
	// It stays small enough for the processor's cache.
	var seen [16384]uint64
	const mask = uint64(len(seen) - 1)
	prevDir := ""
	for i, k := range keys {
		dir := ""
		if p := files[i].Path; len(p) > 1 {
			dir = k[:len(k)-len(p[len(p)-1])-1]
		}
		if dir != prevDir {
			// List dir and its parents, down to the first that is listed
			// already: all of its own parents are too.
			d := len(files[i].Path) - 1 // dir[:j] has d components
			for j := len(dir); j > 0; j, d = strings.LastIndexByte(dir[:j], '/'), d-1 {
				if j <= len(prevDir) && prevDir[:j] == dir[:j] && (j == len(prevDir) || prevDir[j] == '/') {
					break // the previous file's directory or one of its parents
				}
				if d <= 64 && depths&(1<<(d-1)) == 0 {
					continue
				}
				h := maphash.String(seed, dir[:j]) &^ 1
				slot := &seen[h>>1&mask]
				if *slot == h && h != 0 {
					break
				}
				*slot = h
				entries = append(entries, h)
			}
			prevDir = dir
		}
		if !files[i].Pad {
			entries = append(entries, maphash.String(seed, k)|1)
		}
	}
	return entries
}

// clashingHashes reports whether two entries (as in mayClash) have the same
// hash and at least one of them is a file. It buckets the entries by their
// top bits with a counting sort, a few entries per bucket, and compares only
// within buckets: hashes spread evenly, so that is two passes over the data.
func clashingHashes(entries []uint64) bool {
	shift := 64 - max(bits.Len(uint(len(entries)))-2, 0)
	ends := make([]int32, 1<<(64-shift)+1)
	for _, e := range entries {
		ends[e>>shift+1]++
	}
	for b := 1; b < len(ends); b++ {
		ends[b] += ends[b-1]
	}
	// Placing an entry advances its bucket's start, which ends up at the
	// bucket's end.
	sorted := make([]uint64, len(entries))
	for _, e := range entries {
		b := e >> shift
		sorted[ends[b]] = e
		ends[b]++
	}
	start := int32(0)
	for _, end := range ends[:len(ends)-1] {
		bucket := sorted[start:end]
		start = end
		if len(bucket) <= 8 {
			for i, a := range bucket {
				for _, b := range bucket[i+1:] {
					if a>>1 == b>>1 && (a|b)&1 == 1 {
						return true
					}
				}
			}
			continue
		}
		slices.Sort(bucket)
		for i := 1; i < len(bucket); i++ {
			// Equal hashes sort together, a directory's before a file's.
			if bucket[i]>>1 == bucket[i-1]>>1 && bucket[i]&1 == 1 {
				return true
			}
		}
	}
	return false
}
