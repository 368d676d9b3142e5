package main

import (
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
			return app.Inspect(c.Context, env, app.InspectOptions{
				Target: c.Args().First(), JSON: c.Bool("json"), Strict: c.Bool("strict"), Files: !c.Bool("no-files"),
			})
		},
	}
}
