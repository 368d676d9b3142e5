package main

import (
	"github.com/urfave/cli/v2"

	"tt/internal/app"
)

func editCommand(env *app.Env) *cli.Command {
	return &cli.Command{
		Name:      "edit",
		Usage:     "change a .torrent's trackers, web seeds, comment and other fields outside info",
		ArgsUsage: "TORRENT|-",
		Description: "Everything outside the info dictionary can change without changing the info-hash:\n" +
			"the info bytes are copied as they are. --private, --source and --name change info and so\n" +
			"the info-hash (both hashes of a v2 or hybrid torrent): they need --rehash. Lists change in\n" +
			"this order: replace (--announce, --web-seed, --node) or clear (--no-...), then remove, then add;\n" +
			"what is there already is not added twice. An empty --comment, --created-by, --creation-date\n" +
			"or --source removes the field. Without -o the TORRENT is edited in place, which needs --force.\n" +
			"Exit codes: 0 ok, 2 usage (info flags without --rehash too), 3 bad torrent, 6 I/O error,\n" +
			"7 output exists (use --force).",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write the torrent to `FILE` (- for stdout; default: TORRENT itself)"},
			&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "overwrite the output, TORRENT itself included"},
			&cli.StringSliceFlag{Name: "announce", Aliases: []string{"a"}, Usage: "replace the trackers with a tier of `URLS` (commas between a tier's trackers); repeatable"},
			&cli.StringSliceFlag{Name: "add-announce", Usage: "append a tier of trackers (`URLS`, comma-separated); repeatable"},
			&cli.StringSliceFlag{Name: "remove-announce", Usage: "remove the tracker `URL` from every tier; repeatable"},
			&cli.BoolFlag{Name: "no-announce", Usage: "remove every tracker"},
			&cli.StringSliceFlag{Name: "web-seed", Aliases: []string{"w"}, Usage: "replace the web seeds (BEP 19) with `URL`; repeatable"},
			&cli.StringSliceFlag{Name: "add-web-seed", Usage: "add the web seed `URL`; repeatable"},
			&cli.StringSliceFlag{Name: "remove-web-seed", Usage: "remove the web seed `URL`; repeatable"},
			&cli.BoolFlag{Name: "no-web-seeds", Usage: "remove every web seed"},
			&cli.StringSliceFlag{Name: "node", Usage: "replace the DHT nodes (BEP 5) with `HOST:PORT`; repeatable"},
			&cli.StringSliceFlag{Name: "add-node", Usage: "add the DHT node `HOST:PORT`; repeatable"},
			&cli.StringSliceFlag{Name: "remove-node", Usage: "remove the DHT node `HOST:PORT`; repeatable"},
			&cli.BoolFlag{Name: "no-nodes", Usage: "remove every DHT node"},
			&cli.StringFlag{Name: "comment", Aliases: []string{"c"}, Usage: "set the comment to `TEXT` (\"\" removes it)"},
			&cli.StringFlag{Name: "created-by", Usage: "set created by to `TEXT` (\"\" removes it)"},
			&cli.StringFlag{Name: "creation-date", Usage: "set the creation date: `DATE` in Unix seconds, RFC 3339, or now (\"\" removes it)"},
			&cli.BoolFlag{Name: "private", Aliases: []string{"p"}, Usage: "mark private (BEP 27); --private=false unmarks (changes the info-hash: needs --rehash)"},
			&cli.StringFlag{Name: "source", Aliases: []string{"s"}, Usage: "set the info source `TAG` (\"\" removes it; needs --rehash)"},
			&cli.StringFlag{Name: "name", Aliases: []string{"n"}, Usage: "rename the torrent to `NAME` (needs --rehash)"},
			&cli.BoolFlag{Name: "rehash", Usage: "allow --private, --source and --name, which make a torrent with another info-hash"},
			&cli.BoolFlag{Name: "json", Usage: "print a JSON summary (schema tt.edit/1) on stdout"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print nothing on stderr but errors"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 1 {
				return app.Usagef("edit: one TORRENT expected, got %d", c.NArg())
			}
			str := func(name string) *string {
				if !c.IsSet(name) {
					return nil
				}
				s := c.String(name)
				return &s
			}
			var private *bool
			if c.IsSet("private") {
				p := c.Bool("private")
				private = &p
			}
			return app.Edit(env, app.EditOptions{
				Torrent: c.Args().First(), Output: c.String("output"), Force: c.Bool("force"),
				Rehash: c.Bool("rehash"), JSON: c.Bool("json"), Quiet: c.Bool("quiet"),
				Announce: c.StringSlice("announce"), AddAnnounce: c.StringSlice("add-announce"),
				RemoveAnnounce: c.StringSlice("remove-announce"), NoAnnounce: c.Bool("no-announce"),
				WebSeeds: c.StringSlice("web-seed"), AddWebSeeds: c.StringSlice("add-web-seed"),
				RemoveWebSeeds: c.StringSlice("remove-web-seed"), NoWebSeeds: c.Bool("no-web-seeds"),
				Nodes: c.StringSlice("node"), AddNodes: c.StringSlice("add-node"),
				RemoveNodes: c.StringSlice("remove-node"), NoNodes: c.Bool("no-nodes"),
				Comment: str("comment"), CreatedBy: str("created-by"), CreationDate: str("creation-date"),
				Private: private, Source: str("source"), Name: str("name"),
			})
		},
	}
}
