// Package interop holds helpers for tests that run real BitTorrent software
// (libtorrent, Transmission, aria2, mktorrent, opentracker) beside tt.
package interop

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// LibtorrentPython is the interpreter that has Debian's libtorrent binding.
const LibtorrentPython = "/usr/bin/python3"

// Need returns the path of an external program. A missing program skips the
// test, except under CI=true, where it fails: interop must really run there.
func Need(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		missing(t, name+" not installed (scripts/test installs it)")
	}
	return p
}

// NeedLibtorrent checks that the python binding is importable.
func NeedLibtorrent(t testing.TB) {
	t.Helper()
	if err := exec.Command(LibtorrentPython, "-c", "import libtorrent").Run(); err != nil {
		missing(t, "python3-libtorrent not installed (scripts/test installs it)")
	}
}

func missing(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// RepoRoot is the top of the source tree.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Script is the path of a helper script under scripts/interop.
func Script(name string) string {
	return filepath.Join(RepoRoot(), "scripts", "interop", name)
}

// BuildTT compiles tt into dir and returns its path.
func BuildTT(t testing.TB, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "tt")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/tt")
	cmd.Dir = RepoRoot()
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building tt: %v\n%s", err, out)
	}
	return bin
}
