package main

import (
	"github.com/urfave/cli/v2"

	"tt/internal/app"
)

func verifyCommand(env *app.Env) *cli.Command {
	return &cli.Command{
		Name:      "verify",
		Usage:     "check files on disk against a torrent",
		ArgsUsage: "TORRENT [CONTENT]",
		Description: "CONTENT is the file of a single-file torrent or the top directory of a multi-file one\n" +
			"(default: ./NAME). v2 torrents are checked against each file's merkle tree, hybrids against\n" +
			"both hash sets. Exit 0 when every piece matches, 4 when some pieces are corrupt,\n" +
			"5 when data is missing, 6 when files cannot be read, 3 when the torrent is bad\n" +
			"(also when a hybrid's v1 and v2 hashes describe different data).",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "json", Usage: "print a JSON report (schema tt.verify/1)"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print nothing but errors; the exit code tells"},
			&cli.IntFlag{Name: "threads", Aliases: []string{"t"}, Usage: "hashing `N` threads (default: all cores)"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 2 {
				return app.Usagef("verify: TORRENT [CONTENT] expected, got %d arguments", c.NArg())
			}
			return app.Verify(c.Context, env, app.VerifyOptions{
				Torrent: c.Args().Get(0), Content: c.Args().Get(1),
				JSON: c.Bool("json"), Quiet: c.Bool("quiet"), Workers: c.Int("threads"),
			})
		},
	}
}
