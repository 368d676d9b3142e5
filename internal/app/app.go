// Package app implements tt's subcommands as library functions that take
// their whole world (standard streams, working directory, environment) as
// arguments, so they run the same in the binary and in tests.
package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"tt/bencode"
	"tt/metainfo"
)

// Version is tt's version, recorded in "created by".
const Version = "0.1.0"

// Exit codes. They are part of the interface: see README.md.
const (
	ExitOK          = 0
	ExitFailure     = 1 // anything not listed below
	ExitUsage       = 2 // bad flags or arguments
	ExitBadTorrent  = 3 // unreadable or invalid torrent or magnet link
	ExitCorrupt     = 4 // verify: some pieces do not match their hashes
	ExitMissing     = 5 // verify: files missing or of the wrong size
	ExitIO          = 6 // reading or writing files failed
	ExitExists      = 7 // output exists and --force was not given
	ExitLint        = 8 // inspect --strict: lint errors
	ExitInterrupted = 130
)

// Env is the world a command runs in.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Dir    string                 // working directory; relative paths resolve against it
	Getenv func(string) string    // environment lookup
	Now    func() time.Time       // clock
	IsTTY  func(w io.Writer) bool // whether w is an interactive terminal
}

// OSEnv is the environment of the running process.
func OSEnv() *Env {
	wd, _ := os.Getwd()
	return &Env{
		Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Dir: wd,
		Getenv: os.Getenv, Now: time.Now, IsTTY: isTerminal,
	}
}

// Path resolves p against the working directory.
func (e *Env) Path(p string) string {
	if p == "" || p == "-" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(e.Dir, p)
}

func (e *Env) tty(w io.Writer) bool {
	if e.IsTTY == nil {
		return false
	}
	if t := e.Getenv("TERM"); t == "dumb" {
		return false
	}
	return e.IsTTY(w)
}

// ExitError carries the exit code a failure maps to.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

// Exit wraps err with an exit code.
func Exit(code int, err error) error {
	if err == nil {
		return nil
	}
	return &ExitError{Code: code, Err: err}
}

// Usagef is a usage error.
func Usagef(format string, args ...any) error {
	return &ExitError{Code: ExitUsage, Err: fmt.Errorf(format, args...)}
}

// ErrExists is returned when an output file exists and --force is not set.
var ErrExists = errors.New("already exists (use --force to overwrite)")

// CodeOf maps an error to its exit code.
func CodeOf(err error) int {
	var ee *ExitError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &ee):
		return ee.Code
	case errors.Is(err, context.Canceled):
		return ExitInterrupted
	case errors.Is(err, ErrExists):
		return ExitExists
	case isTorrentError(err):
		return ExitBadTorrent
	case isIOError(err):
		return ExitIO
	}
	return ExitFailure
}

func isTorrentError(err error) bool {
	var be *bencode.Error
	var fe *metainfo.FieldError
	return errors.As(err, &be) || errors.As(err, &fe) ||
		errors.Is(err, metainfo.ErrNotTorrent) || errors.Is(err, metainfo.ErrMagnet) ||
		errors.Is(err, metainfo.ErrTooLarge) || errors.Is(err, metainfo.ErrV2Only)
}

func isIOError(err error) bool {
	var pe *fs.PathError
	var le *os.LinkError
	var se syscall.Errno
	return errors.As(err, &pe) || errors.As(err, &le) || errors.As(err, &se) || errors.Is(err, io.ErrUnexpectedEOF)
}

// WriteFileAtomic writes data to path through a temporary file in the same
// directory and a rename, so readers never see a partial file. Unless force
// is set, an existing path is left alone and ErrExists returned.
func WriteFileAtomic(path string, data []byte, force bool) error {
	if !force {
		if _, err := os.Lstat(path); err == nil {
			return fmt.Errorf("%s: %w", path, ErrExists)
		}
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if !force {
		// Link fails if path appeared meanwhile, so nothing is ever overwritten.
		if err := os.Link(tmp.Name(), path); err != nil {
			if errors.Is(err, fs.ErrExist) {
				return fmt.Errorf("%s: %w", path, ErrExists)
			}
			return err
		}
		return nil
	}
	return os.Rename(tmp.Name(), path)
}

// ParseSize reads a byte count: a plain number or one with a binary suffix
// (K, KiB, M, MiB, G, GiB; case-insensitive).
func ParseSize(s string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	mult := int64(1)
	for _, suf := range []struct {
		s string
		m int64
	}{{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"k", 1 << 10}, {"m", 1 << 20}, {"g", 1 << 30}} {
		if strings.HasSuffix(t, suf.s) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, suf.s)), suf.m
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("invalid size %q (use bytes or a suffix: 256KiB, 1MiB)", s)
	}
	return n * mult, nil
}

// FormatSize renders n bytes with a binary unit.
func FormatSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	f := float64(n)
	for _, u := range []string{"KiB", "MiB", "GiB", "TiB", "PiB"} {
		f /= unit
		if f < unit {
			if f == float64(int64(f)) {
				return fmt.Sprintf("%d %s", int64(f), u)
			}
			return fmt.Sprintf("%.1f %s", f, u)
		}
	}
	return fmt.Sprintf("%.1f EiB", f/unit)
}

// newJSONEncoder writes indented JSON without HTML escaping (magnet links
// keep their '&').
func newJSONEncoder(w io.Writer) *json.Encoder {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc
}

// loadTorrent reads a torrent leniently; unreadable files map to ExitIO,
// invalid contents to ExitBadTorrent.
func loadTorrent(env *Env, path string) (*metainfo.Torrent, error) {
	t, err := metainfo.Load(env.Path(path), env.Stdin, metainfo.Options{Lenient: true})
	if err != nil {
		code := ExitBadTorrent
		if isIOError(err) {
			code = ExitIO
		}
		return nil, Exit(code, fmt.Errorf("%s: %w", path, err))
	}
	return t, nil
}
