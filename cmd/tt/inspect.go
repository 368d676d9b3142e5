package main

import (
	"runtime/debug"

	"github.com/urfave/cli/v2"

	"tt/internal/app"
)

func inspectCommand(env *app.Env) *cli.Command {
	return &cli.Command{
		Name:      "inspect",
		Aliases:   []string{"show"},
		Usage:     "describe and lint a .torrent file or magnet link",
		ArgsUsage: "TORRENT|-|MAGNET",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "json", Usage: "print JSON (schema tt.inspect/1)"},
			&cli.BoolFlag{Name: "strict", Usage: "exit 8 when lint finds errors"},
			&cli.BoolFlag{Name: "no-files", Usage: "leave the file list out of the human view"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 1 {
				return app.Usagef("inspect: one TORRENT expected, got %d", c.NArg())
			}
			if env.Getenv("GOGC") == "" && env.Getenv("GOMEMLIMIT") == "" {
				// Nearly everything inspect allocates lives until it exits,
				// so collecting on the way costs time and frees little: the
				// first collection comes at 40 MB (past what 100,000 files
				// need), later ones when the heap has grown elevenfold or
				// nears 1 GiB.
				debug.SetGCPercent(1000)
				debug.SetMemoryLimit(1 << 30)
				app.PrepareInspectHeap(env, c.Args().First())
			}
			return app.Inspect(c.Context, env, app.InspectOptions{
				Target: c.Args().First(), JSON: c.Bool("json"), Strict: c.Bool("strict"), Files: !c.Bool("no-files"),
			})
		},
	}
}
