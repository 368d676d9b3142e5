package metainfo

import (
	"crypto/sha1"
	"errors"
	"fmt"
	"io/fs"
	"math/bits"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"

	"tt/bencode"
)

// Errors from Scan and Build.
var (
	ErrEmptyContent = errors.New("metainfo: nothing to put in the torrent")
	ErrPieceLength  = errors.New("metainfo: unsupported piece length")
	ErrTrackerURL   = errors.New("metainfo: invalid tracker URL")
	ErrWebSeedURL   = errors.New("metainfo: invalid web seed URL")
)

// Piece length limits for new torrents.
const (
	MinPieceLength = 16 << 10
	MaxPieceLength = 64 << 20
)

// AutoPieceLengthVersion names the formula of AutoPieceLength; it changes
// whenever the formula does, so that scripts can pin it.
const AutoPieceLengthVersion = "auto-v1"

// AutoPieceLength (auto-v1) is the smallest power of two that cuts total
// bytes into at most 1,500 pieces, kept between 16 KiB and 16 MiB.
func AutoPieceLength(total int64) int64 {
	pl := int64(MinPieceLength)
	for pl < 16<<20 && (total+pl-1)/pl > 1500 {
		pl <<= 1
	}
	return pl
}

// CheckPieceLength refuses piece lengths outside 16 KiB–64 MiB or not a power of two.
func CheckPieceLength(pl int64) error {
	if pl < MinPieceLength || pl > MaxPieceLength || bits.OnesCount64(uint64(pl)) != 1 {
		return fmt.Errorf("%w: %d (must be a power of two from 16 KiB to 64 MiB)", ErrPieceLength, pl)
	}
	return nil
}

// SourceFile is a file found by Scan.
type SourceFile struct {
	Path   []string // inside the torrent, relative to the content root
	OSPath string   // where to read it
	Length int64
}

// Skipped is something Scan left out, and why.
type Skipped struct {
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

// ScanOptions choose what Scan includes.
type ScanOptions struct {
	Hidden         bool     // include dot files and dot directories
	Junk           bool     // include junk files (see IsJunk)
	FollowSymlinks bool     // hash what symlinks point to instead of skipping them
	Include        []string // if set, keep only files matching one of these globs
	Exclude        []string // drop files matching any of these globs
}

// Content is what Scan found.
type Content struct {
	Name      string
	MultiFile bool
	Files     []SourceFile // in torrent order: byte order of path components
	Skipped   []Skipped
	Total     int64
}

// IsJunk reports whether a file name is operating-system clutter.
func IsJunk(name string) bool {
	switch strings.ToLower(name) {
	case ".ds_store", "thumbs.db", "ehthumbs.db", "desktop.ini", ".directory", ".localized":
		return true
	}
	return strings.HasPrefix(name, "._")
}

// matchAny reports whether rel (slash-separated) or its base name matches
// one of the globs.
func matchAny(globs []string, rel string) bool {
	base := path.Base(rel)
	for _, g := range globs {
		if ok, _ := path.Match(g, rel); ok {
			return true
		}
		if ok, _ := path.Match(g, base); ok {
			return true
		}
		// A glob naming a directory ("build/" or "build/*") covers all below it.
		if d := strings.TrimSuffix(strings.TrimSuffix(g, "*"), "/"); d != g && (strings.HasPrefix(rel, d+"/")) {
			return true
		}
	}
	return false
}

// CheckGlobs reports the first malformed glob.
func CheckGlobs(globs []string) error {
	for _, g := range globs {
		if _, err := path.Match(g, ""); err != nil {
			return fmt.Errorf("bad glob %q: %w", g, err)
		}
	}
	return nil
}

// Scan walks src (a file or a directory) and lists the files a torrent of it
// holds, in a deterministic order. Everything left out is listed in Skipped.
func Scan(src string, opt ScanOptions) (*Content, error) {
	if err := CheckGlobs(append(slices.Clone(opt.Include), opt.Exclude...)); err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(src)
	if err != nil {
		return nil, err
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return nil, err
	}
	c := &Content{Name: filepath.Base(abs)}
	if !fi.IsDir() {
		if !fi.Mode().IsRegular() {
			return nil, fmt.Errorf("%s: not a regular file or directory", src)
		}
		c.Files = []SourceFile{{Path: []string{c.Name}, OSPath: abs, Length: fi.Size()}}
		c.Total = fi.Size()
		return c, nil
	}
	c.MultiFile = true
	var root [][2]uint64
	if id, ok := fileID(fi); ok {
		root = append(root, id)
	}
	w := &walker{c: c, opt: opt, sem: make(chan struct{}, walkers)}
	w.dir(abs, nil, root)
	w.wg.Wait()
	if w.err != nil {
		return nil, w.err
	}
	byPath := func(a, b []string) int { return slices.Compare(a, b) }
	slices.SortFunc(c.Files, func(a, b SourceFile) int { return byPath(a.Path, b.Path) })
	// Skipped in the order one walk of sorted directories meets them.
	slices.SortFunc(c.Skipped, func(a, b Skipped) int {
		return byPath(strings.Split(a.Path, "/"), strings.Split(b.Path, "/"))
	})
	if len(c.Files) == 0 {
		return c, fmt.Errorf("%w: no files in %s", ErrEmptyContent, src)
	}
	return c, nil
}

func fileID(fi fs.FileInfo) ([2]uint64, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return [2]uint64{}, false
	}
	return [2]uint64{uint64(st.Dev), uint64(st.Ino)}, true
}

// walkers bounds how many directories are read at once. Reading a
// directory and the metadata of its entries is all system calls: several
// at a time use every processor, and on a cold cache keep the disk busy.
const walkers = 4

// walker lists the files of a tree, reading directories in parallel.
type walker struct {
	c   *Content
	opt ScanOptions
	sem chan struct{} // a token per directory read on a goroutine of its own
	wg  sync.WaitGroup

	mu      sync.Mutex // guards c.Files, c.Skipped, c.Total and the error
	err     error
	errPath []string // where err happened: of several, the first in walk order wins
}

// fail records err at rel unless an error earlier in walk order is known.
func (w *walker) fail(rel []string, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err == nil || slices.Compare(rel, w.errPath) < 0 {
		w.err, w.errPath = err, rel
	}
}

// dir lists the directory at dir, which is rel inside the content; above
// is the device and inode of it and of each directory it is inside, to
// recognize a loop through a followed symlink.
func (w *walker) dir(dir string, rel []string, above [][2]uint64) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		w.fail(rel, err)
		return
	}
	var (
		files   []SourceFile
		skipped []Skipped
		total   int64
	)
	defer func() {
		w.mu.Lock()
		w.c.Files = append(w.c.Files, files...)
		w.c.Skipped = append(w.c.Skipped, skipped...)
		w.c.Total += total
		w.mu.Unlock()
	}()
	opt := w.opt
	for _, e := range entries {
		name := e.Name()
		p := append(slices.Clone(rel), name)
		relStr := strings.Join(p, "/")
		osPath := filepath.Join(dir, name)
		skip := func(reason string) { skipped = append(skipped, Skipped{Path: relStr, Reason: reason}) }
		junk := IsJunk(name)
		if junk && !opt.Junk {
			skip("junk (use --include-junk)")
			continue
		}
		if !junk && !opt.Hidden && strings.HasPrefix(name, ".") {
			skip("hidden (use --include-hidden)")
			continue
		}
		if err := CheckComponent(name); err != nil {
			skip(stripPrefix(err))
			continue
		}
		fi, err := e.Info()
		if err != nil {
			w.fail(p, err)
			return
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			if !opt.FollowSymlinks {
				skip("symlink (use --follow-symlinks)")
				continue
			}
			if fi, err = os.Stat(osPath); err != nil {
				skip("broken symlink")
				continue
			}
		}
		switch {
		case fi.IsDir():
			id, ok := fileID(fi)
			if ok && slices.Contains(above, id) {
				skip("directory loop")
				continue
			}
			below := slices.Clip(above)
			if ok {
				below = append(below, id)
			}
			select {
			case w.sem <- struct{}{}:
				w.wg.Go(func() {
					defer func() { <-w.sem }()
					w.dir(osPath, p, below)
				})
			default:
				w.dir(osPath, p, below)
			}
		case fi.Mode().IsRegular():
			if len(opt.Include) > 0 && !matchAny(opt.Include, relStr) {
				skip("not matched by --include")
				continue
			}
			if matchAny(opt.Exclude, relStr) {
				skip("matched by --exclude")
				continue
			}
			files = append(files, SourceFile{Path: p, OSPath: osPath, Length: fi.Size()})
			total += fi.Size()
		default:
			skip("not a regular file (" + fi.Mode().Type().String() + ")")
		}
	}
}

// BuildOptions are the torrent-level choices of a new torrent.
type BuildOptions struct {
	Name         string     // defaults to the content's name
	PieceLength  int64      // already checked by the caller
	Trackers     [][]string // tiers
	WebSeeds     []string
	Private      bool
	Source       string
	Comment      string
	CreatedBy    string // omitted when empty
	CreationDate int64  // omitted when 0
}

// CheckTrackerURL accepts http, https and udp announce URLs.
func CheckTrackerURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || !(u.Scheme == "http" || u.Scheme == "https" || u.Scheme == "udp" || u.Scheme == "ws" || u.Scheme == "wss") {
		return fmt.Errorf("%w: %q (want http://, https:// or udp:// with a host)", ErrTrackerURL, s)
	}
	return nil
}

// CheckWebSeedURL accepts http and https URLs.
func CheckWebSeedURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || !(u.Scheme == "http" || u.Scheme == "https") {
		return fmt.Errorf("%w: %q (want http:// or https:// with a host)", ErrWebSeedURL, s)
	}
	return nil
}

type buildFile struct {
	Length int64    `bencode:"length"`
	Path   []string `bencode:"path"`
}

type buildInfo struct {
	Files       []buildFile `bencode:"files,omitempty"`
	Length      *int64      `bencode:"length,omitempty"`
	Name        string      `bencode:"name"`
	PieceLength int64       `bencode:"piece length"`
	Pieces      []byte      `bencode:"pieces"`
	Private     bool        `bencode:"private,omitempty"`
	Source      string      `bencode:"source,omitempty"`
}

type buildTorrent struct {
	Announce     string             `bencode:"announce,omitempty"`
	AnnounceList [][]string         `bencode:"announce-list,omitempty"`
	Comment      string             `bencode:"comment,omitempty"`
	CreatedBy    string             `bencode:"created by,omitempty"`
	CreationDate int64              `bencode:"creation date,omitempty"`
	Info         bencode.RawMessage `bencode:"info"`
	PieceLayers  map[string][]byte  `bencode:"piece layers,omitempty"`
	URLList      []string           `bencode:"url-list,omitempty"`
}

// Build encodes a torrent for content whose piece hashes are pieces, and
// parses the result back, so the returned Torrent is exactly what a reader
// of the bytes will see.
func Build(c *Content, pieces []byte, opt BuildOptions) ([]byte, *Torrent, error) {
	if c.Total == 0 {
		return nil, nil, fmt.Errorf("%w: total size is 0", ErrEmptyContent)
	}
	want := (c.Total + opt.PieceLength - 1) / opt.PieceLength
	if int64(len(pieces)) != want*sha1.Size {
		return nil, nil, fmt.Errorf("metainfo: %d bytes of piece hashes for %d pieces", len(pieces), want)
	}
	name, err := buildName(c, opt)
	if err != nil {
		return nil, nil, err
	}
	info := buildInfo{Name: name, PieceLength: opt.PieceLength, Pieces: pieces, Private: opt.Private, Source: opt.Source}
	if c.MultiFile {
		for _, f := range c.Files {
			info.Files = append(info.Files, buildFile{Length: f.Length, Path: f.Path})
		}
	} else {
		n := c.Files[0].Length
		info.Length = &n
	}
	infoRaw, err := bencode.Marshal(info)
	if err != nil {
		return nil, nil, err
	}
	return encodeTorrent(infoRaw, nil, opt)
}

// buildName is the name of a new torrent, checked.
func buildName(c *Content, opt BuildOptions) (string, error) {
	name := opt.Name
	if name == "" {
		name = c.Name
	}
	if err := CheckComponent(name); err != nil {
		return "", fmt.Errorf("name %q: %w", name, err)
	}
	return name, nil
}

// encodeTorrent wraps an encoded info dictionary (and for v2 the piece
// layers) in a torrent with the trackers and fields of opt, and parses the
// result back.
func encodeTorrent(infoRaw []byte, layers map[string][]byte, opt BuildOptions) ([]byte, *Torrent, error) {
	bt := buildTorrent{Comment: opt.Comment, CreatedBy: opt.CreatedBy, CreationDate: opt.CreationDate, Info: infoRaw, PieceLayers: layers, URLList: opt.WebSeeds}
	for _, tier := range opt.Trackers {
		for _, u := range tier {
			if err := CheckTrackerURL(u); err != nil {
				return nil, nil, err
			}
		}
	}
	for _, u := range opt.WebSeeds {
		if err := CheckWebSeedURL(u); err != nil {
			return nil, nil, err
		}
	}
	if len(opt.Trackers) > 0 {
		bt.Announce = opt.Trackers[0][0]
		if len(opt.Trackers) > 1 || len(opt.Trackers[0]) > 1 {
			bt.AnnounceList = opt.Trackers
		}
	}
	data, err := bencode.Marshal(bt)
	if err != nil {
		return nil, nil, err
	}
	t, err := Parse(data, Options{})
	if err != nil {
		return nil, nil, fmt.Errorf("metainfo: built torrent does not parse: %w", err)
	}
	return data, t, nil
}
