package main

import (
	"time"

	"github.com/urfave/cli/v2"

	"tt/internal/app"
)

// swarmFlags are shared by get and seed.
func swarmFlags() []cli.Flag {
	return append([]cli.Flag{
		&cli.IntFlag{Name: "port", Usage: "listen `PORT` for peers (0: any free port)"},
		&cli.StringFlag{Name: "bind", Usage: "listen `ADDRESS` (default: all interfaces)"},
		&cli.StringSliceFlag{Name: "peer", Usage: "connect to the peer at `HOST:PORT`; repeatable"},
		&cli.IntFlag{Name: "max-peers", Value: 50, Usage: "connections at most"},
		&cli.StringFlag{Name: "upload-limit", Usage: "upload `RATE` in bytes/s with an optional suffix (1MiB); 0: none"},
		&cli.StringFlag{Name: "download-limit", Usage: "download `RATE` in bytes/s with an optional suffix; 0: none"},
		&cli.DurationFlag{Name: "stall-timeout", Usage: "give up (exit 10, or 11 when no peer was ever reached) after this long without data"},
		&cli.DurationFlag{Name: "timeout", Usage: "give up (exit 10) after this long in all"},
		&cli.BoolFlag{Name: "no-trackers", Usage: "do not announce to the torrent's trackers"},
		&cli.StringFlag{Name: "encryption", Value: "prefer", Usage: "`POLICY` for peer connections: prefer (obfuscated handshake where the peer can), require (RC4 only), disable"},
		transportFlag(),
	}, append(dhtFlags(), outputFlags(5e9)...)...)
}

func transportFlag() cli.Flag {
	return &cli.StringFlag{Name: "transport", Value: "both", Usage: "`KIND` of outgoing connections: both (uTP preferred, TCP too), tcp, utp; incoming are accepted on both"}
}

// dhtFlags (peer discovery: the DHT and the local network) are shared by
// get, seed and magnet.
func dhtFlags() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "no-dht", Usage: "do not use the DHT (private torrents never do)"},
		&cli.StringSliceFlag{Name: "dht-bootstrap", Usage: "join the DHT through the node at `HOST:PORT`; repeatable (default: the public routers)"},
		&cli.StringFlag{Name: "dht-state", Usage: "keep the DHT routing table in `FILE` between runs (default: tt/dht.dat in the user cache directory)"},
		&cli.BoolFlag{Name: "no-lsd", Usage: "do not announce on or listen to the local network (BEP 14)"},
		&cli.BoolFlag{Name: "no-pex", Usage: "no peer exchange (BEP 11; private torrents never use it)"},
	}
}

// dhtOptions reads the flags of dhtFlags into o.
func dhtOptions(c *cli.Context, o *app.SwarmOptions) {
	o.NoDHT, o.NoLSD, o.NoPEX, o.DHTState = c.Bool("no-dht"), c.Bool("no-lsd"), c.Bool("no-pex"), c.String("dht-state")
	if c.IsSet("dht-bootstrap") {
		o.DHTBootstrap = c.StringSlice("dht-bootstrap")
	}
}

// outputFlags choose between the live view, status lines and NDJSON; get,
// seed and demo share them.
func outputFlags(statusInterval time.Duration) []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "json", Usage: "print events as NDJSON on stdout (see docs/json.md)"},
		&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print nothing but errors"},
		&cli.DurationFlag{Name: "status-interval", Value: statusInterval, Usage: "how often to print a status line (or, with --json, a progress event)"},
		&cli.BoolFlag{Name: "tui", Usage: "show the live view even when stdout is not a terminal (it draws on stderr)"},
		&cli.BoolFlag{Name: "no-tui", Usage: "never show the live view; print status lines instead"},
		&cli.DurationFlag{Name: "refresh", Value: 1e9, Usage: "least time between two redraws of the live view"},
	}
}

func swarmOptions(c *cli.Context) (app.SwarmOptions, error) {
	o := app.SwarmOptions{
		Port: c.Int("port"), Bind: c.String("bind"), Peers: c.StringSlice("peer"), MaxPeers: c.Int("max-peers"),
		StallTimeout: c.Duration("stall-timeout"), Timeout: c.Duration("timeout"), NoTrackers: c.Bool("no-trackers"),
		JSON: c.Bool("json"), Quiet: c.Bool("quiet"), StatusInterval: c.Duration("status-interval"),
		Refresh: c.Duration("refresh"), Encryption: c.String("encryption"), Transport: c.String("transport"),
	}
	dhtOptions(c, &o)
	switch {
	case c.Bool("tui") && c.Bool("no-tui"):
		return o, app.Usagef("--tui and --no-tui contradict each other")
	case c.Bool("tui"):
		o.TUI = app.TUIOn
	case c.Bool("no-tui"):
		o.TUI = app.TUIOff
	}
	for name, dst := range map[string]*int64{"upload-limit": &o.UploadLimit, "download-limit": &o.DownloadLimit} {
		if v := c.String(name); v != "" {
			n, err := app.ParseSize(v)
			if err != nil {
				return o, app.Usagef("--%s: %v", name, err)
			}
			*dst = n
		}
	}
	return o, nil
}

func getCommand(env *app.Env) *cli.Command {
	return &cli.Command{
		Name:      "get",
		Usage:     "download a torrent",
		ArgsUsage: "TORRENT",
		Description: "Downloads into DIR/NAME and exits 0 once every selected piece is verified.\n" +
			"Ctrl-C stops cleanly; running the same command again resumes.\n" +
			"Exit codes: 0 done, 3 bad torrent, 6 I/O error, 10 timed out or stalled, 11 no peers,\n" +
			"12 disk full, 130 interrupted.",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "download into `DIR` (default: the working directory)"},
			&cli.StringFlag{Name: "files", Usage: "download only these file `INDICES` (0,2-4; tt inspect lists them)"},
			&cli.BoolFlag{Name: "sequential", Usage: "fetch pieces in order"},
			&cli.BoolFlag{Name: "seed", Usage: "keep seeding after the download until stopped"},
			&cli.Float64Flag{Name: "seed-ratio", Usage: "keep seeding until uploaded/size reaches `RATIO`"},
			&cli.DurationFlag{Name: "seed-time", Usage: "keep seeding for this long"},
		}, swarmFlags()...),
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return app.Usagef("get: one TORRENT expected, got %d", c.NArg())
			}
			o, err := swarmOptions(c)
			if err != nil {
				return err
			}
			o.Torrent, o.Dir, o.Files, o.Sequential = c.Args().First(), c.String("output"), c.String("files"), c.Bool("sequential")
			o.Seed, o.SeedRatio, o.SeedTime = c.Bool("seed"), c.Float64("seed-ratio"), c.Duration("seed-time")
			return app.Get(c.Context, env, o)
		},
	}
}

func seedCommand(env *app.Env) *cli.Command {
	return &cli.Command{
		Name:      "seed",
		Usage:     "verify content and serve it to peers until stopped",
		ArgsUsage: "TORRENT CONTENT",
		Description: "CONTENT is the file of a single-file torrent or the top directory of a multi-file one.\n" +
			"--peer connects out to peers (for clients that only accept incoming connections).",
		Flags: swarmFlags(),
		Action: func(c *cli.Context) error {
			if c.NArg() != 2 {
				return app.Usagef("seed: TORRENT CONTENT expected, got %d arguments", c.NArg())
			}
			o, err := swarmOptions(c)
			if err != nil {
				return err
			}
			o.Torrent, o.Content = c.Args().Get(0), c.Args().Get(1)
			return app.Seed(c.Context, env, o)
		},
	}
}

func demoCommand(env *app.Env) *cli.Command {
	return &cli.Command{
		Name:  "demo",
		Usage: "download from a swarm built on this machine, to see tt at work",
		Description: "Starts a tracker and a few seeders of generated content inside this process, on\n" +
			"127.0.0.1 only, and downloads from them with the engine and live view of tt get.\n" +
			"Nothing leaves the machine; the files are removed afterwards unless --keep names a directory.",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "keep", Usage: "keep the torrent, the content and the download in `DIR` (new or empty)"},
			&cli.StringFlag{Name: "size", Value: "128MiB", Usage: "content `SIZE`"},
			&cli.IntFlag{Name: "seeders", Value: 3, Usage: "how many seeders"},
			&cli.StringFlag{Name: "rate", Value: "8MiB", Usage: "each seeder's upload `RATE` per second (0: unlimited)"},
		}, outputFlags(2e9)...),
		Action: func(c *cli.Context) error {
			if c.NArg() != 0 {
				return app.Usagef("demo: no arguments expected, got %d", c.NArg())
			}
			o, err := swarmOptions(c)
			if err != nil {
				return err
			}
			d := app.DemoOptions{Keep: c.String("keep"), Seeders: c.Int("seeders"), Swarm: o}
			if d.Size, err = app.ParseSize(c.String("size")); err != nil || d.Size < 1<<20 {
				return app.Usagef("--size %q: want a size of at least 1MiB", c.String("size"))
			}
			if d.Rate, err = app.ParseSize(c.String("rate")); err != nil {
				return app.Usagef("--rate: %v", err)
			}
			if d.Seeders < 1 || d.Seeders > 20 {
				return app.Usagef("--seeders %d: want 1 to 20", d.Seeders)
			}
			return app.Demo(c.Context, env, d)
		},
	}
}

func magnetCommand(env *app.Env) *cli.Command {
	return &cli.Command{
		Name:      "magnet",
		Usage:     "fetch a magnet link's metadata from peers and write it as a .torrent file",
		ArgsUsage: "MAGNET",
		Description: "Finds peers through --peer, the link's x.pe peers and its tr= trackers, fetches the info\n" +
			"dictionary from them (BEP 9), checks it against the info-hash and writes NAME.torrent (or -o FILE).\n" +
			"Exit codes: 0 written, 3 bad link, 7 the output exists, 10 timed out, 11 no peer served it.",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write to `FILE` (- for stdout)"},
			&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "overwrite the output"},
			&cli.BoolFlag{Name: "json", Usage: "print the torrent's tt.inspect/1 document on stdout"},
			&cli.StringSliceFlag{Name: "peer", Usage: "ask the peer at `HOST:PORT`; repeatable"},
			&cli.BoolFlag{Name: "no-trackers", Usage: "do not announce to the link's trackers"},
			&cli.StringFlag{Name: "encryption", Value: "prefer", Usage: "`POLICY`: prefer, require or disable"},
			transportFlag(),
			&cli.StringFlag{Name: "bind", Usage: "listen `ADDRESS`"},
			&cli.IntFlag{Name: "port", Usage: "listen `PORT` announced to trackers (0: any)"},
			&cli.DurationFlag{Name: "stall-timeout", Value: 60e9, Usage: "give up (exit 11) after this long without metadata"},
			&cli.DurationFlag{Name: "timeout", Usage: "give up (exit 10) after this long in all"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print nothing but errors"},
		}, dhtFlags()...),
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return app.Usagef("magnet: one MAGNET expected, got %d", c.NArg())
			}
			sw := app.SwarmOptions{Peers: c.StringSlice("peer"), NoTrackers: c.Bool("no-trackers"), Encryption: c.String("encryption"),
				Transport: c.String("transport"),
				Bind:      c.String("bind"), Port: c.Int("port"), StallTimeout: c.Duration("stall-timeout"), Timeout: c.Duration("timeout"),
				Quiet: c.Bool("quiet")}
			dhtOptions(c, &sw)
			return app.Magnet(c.Context, env, app.MagnetOptions{
				Link: c.Args().First(), Output: c.String("output"), Force: c.Bool("force"), JSON: c.Bool("json"), Swarm: sw,
			})
		},
	}
}
