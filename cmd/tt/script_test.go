package main

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"tt/internal/app"
	"tt/metainfo"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"tt": func() { os.Exit(run(context.Background(), app.OSEnv(), os.Args)) },
	})
}

// TestScripts runs the end-to-end scripts in testdata/script: real tt
// processes, real files, golden outputs.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		UpdateScripts:       os.Getenv("UPDATE_GOLDEN") != "",
		Setup: func(e *testscript.Env) error {
			e.Setenv("TZ", "UTC")
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			// code N CMD ARGS... runs CMD and requires exit code N.
			"code": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) < 2 {
					ts.Fatalf("usage: code N CMD [ARGS...]")
				}
				want, err := strconv.Atoi(args[0])
				if err != nil {
					ts.Fatalf("code: %v", err)
				}
				got := 0
				if err := ts.Exec(args[1], args[2:]...); err != nil {
					var ee *exec.ExitError
					if !errors.As(err, &ee) {
						ts.Fatalf("code: %v", err)
					}
					got = ee.ExitCode()
				}
				if got != want {
					ts.Fatalf("exit code %d, want %d", got, want)
				}
			},
			// flipbyte FILE OFFSET inverts one byte in place.
			"flipbyte": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 2 {
					ts.Fatalf("usage: flipbyte FILE OFFSET")
				}
				off, err := strconv.ParseInt(args[1], 10, 64)
				ts.Check(err)
				f, err := os.OpenFile(ts.MkAbs(args[0]), os.O_RDWR, 0)
				ts.Check(err)
				defer f.Close()
				b := make([]byte, 1)
				_, err = f.ReadAt(b, off)
				ts.Check(err)
				b[0] ^= 0xff
				_, err = f.WriteAt(b, off)
				ts.Check(err)
			},
			// freeport VAR sets VAR to a TCP port on 127.0.0.1 that the OS
			// just handed out.
			"freeport": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 1 {
					ts.Fatalf("usage: freeport VAR")
				}
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				ts.Check(err)
				ts.Setenv(args[0], strconv.Itoa(ln.Addr().(*net.TCPAddr).Port))
				ln.Close()
			},
			// magnetof MAGVAR IHVAR TORRENT sets MAGVAR to the torrent's magnet
			// link and IHVAR to its info-hash.
			"magnetof": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 3 {
					ts.Fatalf("usage: magnetof MAGVAR IHVAR TORRENT")
				}
				t, err := metainfo.Load(ts.MkAbs(args[2]), nil, metainfo.Options{})
				ts.Check(err)
				ts.Setenv(args[0], "magnet:?xt=urn:btih:"+t.InfoHashHex()+"&dn="+t.Info.Name)
				ts.Setenv(args[1], t.InfoHashHex())
			},
			// mkdata FILE SIZE [SEED] writes SIZE pseudo-random bytes.
			"mkdata": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) < 2 {
					ts.Fatalf("usage: mkdata FILE SIZE [SEED]")
				}
				n, err := app.ParseSize(args[1])
				ts.Check(err)
				seed := uint64(1)
				if len(args) > 2 {
					s, err := strconv.ParseUint(args[2], 10, 64)
					ts.Check(err)
					seed = s
				}
				path := ts.MkAbs(args[0])
				ts.Check(os.MkdirAll(filepath.Dir(path), 0o755))
				ts.Check(os.WriteFile(path, pseudoRandom(n, seed), 0o644))
			},
		},
	})
}

// pseudoRandom is a reproducible byte stream (xorshift64*).
func pseudoRandom(n int64, seed uint64) []byte {
	b := make([]byte, n)
	x := seed*0x9E3779B97F4A7C15 | 1
	for i := range b {
		x ^= x >> 12
		x ^= x << 25
		x ^= x >> 27
		b[i] = byte((x * 0x2545F4914F6CDD1D) >> 56)
	}
	return b
}
