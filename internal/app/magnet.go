package app

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"tt/internal/session"
	"tt/metainfo"
)

// MagnetOptions are the inputs of `tt magnet`.
type MagnetOptions struct {
	Link   string
	Output string // "" = NAME.torrent in the working directory, "-" = stdout
	Force  bool
	JSON   bool
	Swarm  SwarmOptions // peers, trackers, encryption, timeouts, quiet
}

// Magnet fetches a magnet link's metadata from peers and writes it as a
// .torrent file with the link's trackers.
func Magnet(ctx context.Context, env *Env, o MagnetOptions) error {
	if !metainfo.IsMagnet(o.Link) {
		return Usagef("magnet: %q is not a magnet link", o.Link)
	}
	m, err := metainfo.ParseMagnet(o.Link)
	if err != nil {
		return Exit(ExitBadTorrent, err)
	}
	if !m.HasV1 {
		return Exit(ExitBadTorrent, errors.New("magnet link: no v1 info-hash (urn:btih)"))
	}
	out := o.Output
	if out != "-" && out != "" {
		out = env.Path(out)
		if !o.Force {
			if err := refuseExisting(out); err != nil {
				return err
			}
		}
	}
	sw := o.Swarm
	sw.JSON = false // the document below is the output, not events
	t, err := fetchMetadata(ctx, env, sw, o.Link)
	if err != nil {
		return err
	}
	data := session.TorrentFile(t.InfoRaw, t.Trackers())
	if out == "" {
		out = filepath.Join(env.Dir, t.Info.Name+".torrent")
		if !o.Force {
			if err := refuseExisting(out); err != nil {
				return err
			}
		}
	}
	if out == "-" {
		if _, err := env.Stdout.Write(data); err != nil {
			return Exit(ExitIO, err)
		}
	} else if err := WriteFileAtomic(out, data, o.Force); err != nil {
		if errors.Is(err, ErrExists) {
			return err
		}
		return Exit(ExitIO, err)
	}
	if o.JSON && out != "-" {
		return writeInspectJSON(env.Stdout, torrentResult(t))
	}
	if !o.Swarm.Quiet && out != "-" {
		fmt.Fprintf(env.Stderr, "tt: wrote %s: %s, %s in %d files, info-hash %s\n", relTo(env.Dir, out), printable(t.Info.Name),
			FormatSize(t.Info.TotalLength), len(t.Info.Files), t.InfoHashHex())
	}
	return nil
}

// fetchMetadata runs a session that ends once a magnet link's metadata
// has verified.
func fetchMetadata(ctx context.Context, env *Env, o SwarmOptions, link string) (*metainfo.Torrent, error) {
	in, err := resolveSwarm(env, o, link, false)
	if err != nil {
		return nil, err
	}
	sn, err := openSwarmNet(env, o, in)
	if err != nil {
		return nil, err
	}
	defer sn.Close()
	runCtx, stop := runContext(ctx, o)
	defer stop()
	cfg := sessionConfig(o, in, sn, nil)
	cfg.MetadataOnly = true
	s, err := session.New(cfg)
	if err != nil {
		return nil, Exit(ExitBadTorrent, err)
	}
	sn.serve(runCtx, env, s, nil, o.Quiet)
	announceMagnet(env, o, in, nil)
	if err := s.Run(runCtx); err != nil {
		return nil, swarmError(ctx, runCtx, o, s, err)
	}
	return s.Torrent(), nil
}
