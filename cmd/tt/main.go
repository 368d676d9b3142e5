// Command tt is a terminal-first BitTorrent toolkit.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"

	"github.com/urfave/cli/v2"

	"tt/internal/app"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// TT_CPUPROFILE=FILE writes a CPU profile of the run (for go tool pprof).
	if path := os.Getenv("TT_CPUPROFILE"); path != "" {
		if f, err := os.Create(path); err == nil && pprof.StartCPUProfile(f) == nil {
			defer f.Close()
		}
	}
	code := run(ctx, app.OSEnv(), os.Args)
	stop()
	pprof.StopCPUProfile()
	os.Exit(code)
}

// run executes tt with args (args[0] is the program name) and returns the
// exit code. Errors are printed as one line on env.Stderr.
func run(ctx context.Context, env *app.Env, args []string) int {
	a := newApp(env)
	err := a.RunContext(ctx, reorderArgs(a, args))
	if err == nil {
		return app.ExitOK
	}
	if ctx.Err() != nil && errors.Is(err, context.Canceled) {
		fmt.Fprintln(env.Stderr, "tt: interrupted")
		return app.ExitInterrupted
	}
	fmt.Fprintf(env.Stderr, "tt: %s\n", oneLine(err.Error()))
	return app.CodeOf(err)
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " ")), " ")
}

func newApp(env *app.Env) *cli.App {
	a := &cli.App{
		Name:    "tt",
		Usage:   "make, check and share torrents from the terminal",
		Version: app.Version,
		Description: "Flags may come before or after the arguments of a command.\n" +
			"Exit codes: 0 ok, 1 failure, 2 usage, 3 bad torrent, 4 corrupt data, 5 missing data,\n" +
			"6 I/O error, 7 output exists (use --force), 8 lint errors (inspect --strict), 10 timed out or stalled,\n" +
			"11 no peers, 12 disk full, 130 interrupted.",
		Reader:          env.Stdin,
		Writer:          env.Stdout,
		ErrWriter:       env.Stderr,
		HideHelpCommand: true,
		// Commas inside -a separate the trackers of one tier; never split flags on them.
		DisableSliceFlagSeparator: true,
		// The library would otherwise call os.Exit itself; main maps codes.
		ExitErrHandler: func(*cli.Context, error) {},
		OnUsageError:   usageError,
		Commands: []*cli.Command{
			createCommand(env),
			inspectCommand(env),
			editCommand(env),
			verifyCommand(env),
			getCommand(env),
			seedCommand(env),
			demoCommand(env),
			magnetCommand(env),
		},
	}
	for _, c := range a.Commands {
		c.OnUsageError = usageError
	}
	return a
}

// usageError turns a flag parsing failure into one line and exit code 2
// instead of the library's help dump on stdout.
func usageError(c *cli.Context, err error, _ bool) error {
	name := "tt"
	if c != nil && c.Command != nil && c.Command.Name != "" {
		name = "tt " + c.Command.Name
	}
	return app.Usagef("%v (see '%s --help')", err, name)
}

// reorderArgs moves a command's flags in front of its positional arguments,
// since the flag parser stops at the first positional one. "--" ends flags.
func reorderArgs(a *cli.App, args []string) []string {
	if len(args) < 2 {
		return args
	}
	var cmd *cli.Command
	ci := -1
	for i := 1; i < len(args); i++ {
		if strings.HasPrefix(args[i], "-") {
			continue
		}
		if cmd = a.Command(args[i]); cmd != nil {
			ci = i
		}
		break
	}
	if cmd == nil {
		return args
	}
	takesValue := map[string]bool{}
	for _, f := range cmd.Flags {
		_, isBool := f.(*cli.BoolFlag)
		for _, n := range f.Names() {
			takesValue[n] = !isBool
		}
	}
	var flags, positional []string
	rest := args[ci+1:]
	for i := 0; i < len(rest); i++ {
		s := rest[i]
		switch {
		case s == "--":
			positional = append(positional, rest[i+1:]...)
			i = len(rest)
		case s == "-" || !strings.HasPrefix(s, "-"):
			positional = append(positional, s)
		default:
			flags = append(flags, s)
			name := strings.TrimLeft(s, "-")
			if !strings.Contains(name, "=") && takesValue[name] && i+1 < len(rest) {
				i++
				flags = append(flags, rest[i])
			}
		}
	}
	out := append([]string{}, args[:ci+1]...)
	out = append(out, flags...)
	if len(positional) > 0 {
		out = append(out, "--")
		out = append(out, positional...)
	}
	return out
}
