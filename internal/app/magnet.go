package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strconv"

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
	peers, err := parsePeers(o.Swarm.Peers)
	if err != nil {
		return Exit(ExitUsage, err)
	}
	enc, err := session.ParseEncryption(o.Swarm.Encryption)
	if err != nil {
		return Usagef("--encryption %q: want prefer, require or disable", o.Swarm.Encryption)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(o.Swarm.Bind, strconv.Itoa(o.Swarm.Port)))
	if err != nil {
		return Exit(ExitUsage, fmt.Errorf("listen on port %d: %w", o.Swarm.Port, err))
	}
	defer ln.Close()
	port := uint16(ln.Addr().(*net.TCPAddr).Port)
	udp, err := openUDP(env, o.Swarm, port, true)
	if err != nil {
		return err
	}
	defer udp.Close()
	sw := o.Swarm
	sw.JSON = false // the document below is the output, not events
	transport, err := session.ParseTransport(o.Swarm.Transport)
	if err != nil {
		return Usagef("--transport %q: want both, tcp or utp", o.Swarm.Transport)
	}
	t, err := fetchMagnet(ctx, env, sw, m, peers, port, enc, transport, udp, nil, nil)
	if err != nil {
		return err
	}
	var tiers [][]string
	for _, tr := range m.Trackers {
		tiers = append(tiers, []string{tr})
	}
	data := torrentFromInfo(t.InfoRaw, tiers)
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
