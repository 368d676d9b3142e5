package main

import (
	"github.com/urfave/cli/v2"

	"tt/internal/app"
)

func createCommand(env *app.Env) *cli.Command {
	return &cli.Command{
		Name:      "create",
		Usage:     "make a .torrent from a file or directory",
		ArgsUsage: "PATH",
		Description: "Files are ordered by the byte order of their path components. Hidden files, junk\n" +
			"(.DS_Store, Thumbs.db, desktop.ini, ._*), symlinks and special files are left out unless\n" +
			"asked for, and each one left out is named on stderr. SOURCE_DATE_EPOCH sets the creation date.\n" +
			"--piece-length auto (rule auto-v1): the smallest power of two giving at most 1,500 pieces,\n" +
			"between 16 KiB and 16 MiB. The default is a v1 torrent; --v2 and --hybrid need a power-of-two\n" +
			"piece length and read the data once for all hashes.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write the torrent to `FILE` (- for stdout; default NAME.torrent)"},
			&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "overwrite the output; accept a piece length outside 16 KiB–64 MiB or not a power of two"},
			&cli.StringSliceFlag{Name: "announce", Aliases: []string{"a"}, Usage: "tracker `URL`; repeat for more tiers, separate the trackers of one tier with commas"},
			&cli.StringSliceFlag{Name: "web-seed", Aliases: []string{"w"}, Usage: "web seed `URL` (BEP 19); repeatable"},
			&cli.BoolFlag{Name: "private", Aliases: []string{"p"}, Usage: "mark private (BEP 27): peers only from the trackers"},
			&cli.StringFlag{Name: "source", Aliases: []string{"s"}, Usage: "info source `TAG` (changes the info-hash)"},
			&cli.StringFlag{Name: "comment", Aliases: []string{"c"}, Usage: "free-text `COMMENT`"},
			&cli.StringFlag{Name: "name", Aliases: []string{"n"}, Usage: "torrent `NAME` (default: the file or directory name)"},
			&cli.StringFlag{Name: "piece-length", Aliases: []string{"l"}, Value: "auto", Usage: "`SIZE` of pieces: auto, or bytes with an optional suffix (256KiB, 1MiB)"},
			&cli.StringSliceFlag{Name: "include", Usage: "keep only files matching `GLOB` (path or base name); repeatable"},
			&cli.StringSliceFlag{Name: "exclude", Aliases: []string{"x"}, Usage: "leave out files matching `GLOB` (path or base name; dir/ for a directory); repeatable"},
			&cli.BoolFlag{Name: "include-hidden", Usage: "include files and directories whose names start with a dot"},
			&cli.BoolFlag{Name: "include-junk", Usage: "include .DS_Store, Thumbs.db, desktop.ini and ._* files"},
			&cli.BoolFlag{Name: "follow-symlinks", Usage: "hash the targets of symlinks instead of leaving them out"},
			&cli.BoolFlag{Name: "no-date", Usage: "leave out the creation date"},
			&cli.BoolFlag{Name: "no-created-by", Usage: "leave out the created-by field"},
			&cli.BoolFlag{Name: "magnet", Aliases: []string{"m"}, Usage: "print the magnet link on stdout"},
			&cli.BoolFlag{Name: "json", Usage: "print a JSON summary (schema tt.create/1) on stdout"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print nothing on stderr but errors"},
			&cli.BoolFlag{Name: "v2", Usage: "make a BitTorrent v2-only torrent (BEP 52; v1-only clients cannot use it)"},
			&cli.BoolFlag{Name: "hybrid", Usage: "make a hybrid v1+v2 torrent: pad files align every file to a piece (BEP 47)"},
			&cli.IntFlag{Name: "threads", Aliases: []string{"t"}, Usage: "hashing `N` threads (default: all cores)"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 1 {
				return app.Usagef("create: one PATH expected, got %d", c.NArg())
			}
			return app.Create(c.Context, env, app.CreateOptions{
				Source: c.Args().First(), Output: c.String("output"), Force: c.Bool("force"),
				Trackers: c.StringSlice("announce"), WebSeeds: c.StringSlice("web-seed"),
				Private: c.Bool("private"), SourceTag: c.String("source"), Comment: c.String("comment"),
				Name: c.String("name"), PieceLength: c.String("piece-length"),
				Include: c.StringSlice("include"), Exclude: c.StringSlice("exclude"),
				Hidden: c.Bool("include-hidden"), Junk: c.Bool("include-junk"), FollowSymlinks: c.Bool("follow-symlinks"),
				NoDate: c.Bool("no-date"), NoCreatedBy: c.Bool("no-created-by"),
				Magnet: c.Bool("magnet"), JSON: c.Bool("json"), Quiet: c.Bool("quiet"), Workers: c.Int("threads"),
				V2: c.Bool("v2"), Hybrid: c.Bool("hybrid"),
			})
		},
	}
}
