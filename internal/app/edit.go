package app

import (
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"tt/metainfo"
)

// EditOptions are the inputs of `tt edit`. A nil pointer leaves its field
// alone; an empty string removes it.
type EditOptions struct {
	Torrent string
	Output  string // "" = edit Torrent in place (stdout when Torrent is "-"), "-" = stdout
	Force   bool   // overwrite Output, Torrent itself included
	Rehash  bool   // allow the changes to info, and so to the info-hash
	JSON    bool
	Quiet   bool

	Announce       []string // replace the trackers: a tier each, commas between a tier's URLs
	AddAnnounce    []string // tiers to append
	RemoveAnnounce []string // tracker URLs to remove from every tier
	NoAnnounce     bool     // remove every tracker
	WebSeeds       []string // replace the web seeds
	AddWebSeeds    []string
	RemoveWebSeeds []string
	NoWebSeeds     bool
	Nodes          []string // replace the DHT nodes (host:port)
	AddNodes       []string
	RemoveNodes    []string
	NoNodes        bool
	Comment        *string
	CreatedBy      *string
	CreationDate   *string // Unix seconds, RFC 3339, "now", or "" to remove

	Private *bool
	Source  *string
	Name    *string
}

// EditResult is the JSON document `tt edit --json` prints (schema tt.edit/1).
type EditResult struct {
	Schema        string     `json:"schema"`
	Input         string     `json:"input"`
	Output        string     `json:"output"`
	Name          string     `json:"name"`
	Version       string     `json:"version"`
	InfoHash      string     `json:"infohash"`
	InfoHashV2    string     `json:"infohash_v2,omitempty"`
	OldInfoHash   string     `json:"old_infohash"`
	OldInfoHashV2 string     `json:"old_infohash_v2,omitempty"`
	InfoChanged   bool       `json:"info_changed"`
	Changed       []string   `json:"changed"`
	Trackers      [][]string `json:"trackers"`
	WebSeeds      []string   `json:"web_seeds"`
	Nodes         []string   `json:"dht_nodes"`
	Comment       string     `json:"comment,omitempty"`
	CreatedBy     string     `json:"created_by,omitempty"`
	CreationDate  *int64     `json:"creation_date"`
	Private       bool       `json:"private"`
	Source        string     `json:"source,omitempty"`
}

// Edit changes the fields of a torrent outside its info dictionary, and
// with Rehash those inside it, copying everything else byte for byte.
func Edit(env *Env, o EditOptions) error {
	edits, err := checkEditOptions(env, o)
	if err != nil {
		return err
	}
	out, err := editOutput(env, o)
	if err != nil {
		return err
	}
	t, err := loadTorrent(env, o.Torrent)
	if err != nil {
		return err
	}
	c := edits.changes(env, o, t)
	r, err := metainfo.Edit(t, c)
	if err != nil {
		return Exit(ExitBadTorrent, fmt.Errorf("%s: %w", o.Torrent, err))
	}
	if out == "-" {
		if _, err := env.Stdout.Write(r.Data); err != nil {
			return Exit(ExitIO, fmt.Errorf("stdout: %w", err))
		}
	} else if err := WriteFileAtomic(out, r.Data, o.Force); err != nil {
		if errors.Is(err, ErrExists) {
			return err
		}
		return Exit(ExitIO, fmt.Errorf("%s: %w", relTo(env.Dir, out), err))
	}
	return reportEdit(env, o, out, t, r)
}

// editEdits are the checked values of the list and date flags.
type editEdits struct {
	announce, addAnnounce [][]string
	date                  *int64
}

// checkEditOptions refuses what cannot work before the torrent is read.
func checkEditOptions(env *Env, o EditOptions) (editEdits, error) {
	var e editEdits
	if o.Torrent == "" {
		return e, Usagef("edit: missing TORRENT (the .torrent file to edit, or - for stdin)")
	}
	if o.JSON && (o.Output == "-" || o.Output == "" && o.Torrent == "-") {
		return e, Usagef("edit: --json cannot be combined with writing the torrent to stdout (give -o FILE)")
	}
	for _, f := range []struct {
		name string
		set  bool
	}{{"--private", o.Private != nil}, {"--source", o.Source != nil}, {"--name", o.Name != nil}} {
		if f.set && !o.Rehash {
			return e, Usagef("edit: %s changes the info dictionary and so the info-hash: a new swarm (add --rehash to do it anyway)", f.name)
		}
	}
	if o.Rehash && o.Private == nil && o.Source == nil && o.Name == nil {
		return e, Usagef("edit: --rehash without --private, --source or --name")
	}
	for _, f := range []struct {
		name string
		set  bool
		no   string
		none bool
	}{
		{"--announce", len(o.Announce) > 0, "--no-announce", o.NoAnnounce},
		{"--web-seed", len(o.WebSeeds) > 0, "--no-web-seeds", o.NoWebSeeds},
		{"--node", len(o.Nodes) > 0, "--no-nodes", o.NoNodes},
	} {
		if f.set && f.none {
			return e, Usagef("edit: %s cannot be combined with %s", f.name, f.no)
		}
	}
	var err error
	if e.announce, err = ParseTiers(o.Announce); err != nil {
		return e, Usagef("edit: --announce: %v", err)
	}
	if len(o.Announce) > 0 && len(e.announce) == 0 {
		return e, Usagef("edit: --announce: no tracker URL given (--no-announce removes them all)")
	}
	if e.addAnnounce, err = ParseTiers(o.AddAnnounce); err != nil {
		return e, Usagef("edit: --add-announce: %v", err)
	}
	for _, list := range []struct {
		flag string
		urls []string
	}{{"--web-seed", o.WebSeeds}, {"--add-web-seed", o.AddWebSeeds}} {
		for _, u := range list.urls {
			if err := metainfo.CheckWebSeedURL(u); err != nil {
				return e, Usagef("edit: %s: %v", list.flag, err)
			}
		}
	}
	for _, list := range []struct {
		flag  string
		nodes []string
	}{{"--node", o.Nodes}, {"--add-node", o.AddNodes}, {"--remove-node", o.RemoveNodes}} {
		for _, n := range list.nodes {
			if _, _, err := metainfo.SplitNode(n); err != nil {
				return e, Usagef("edit: %s: %v", list.flag, err)
			}
		}
	}
	if o.Name != nil {
		if err := metainfo.CheckComponent(*o.Name); err != nil {
			return e, Usagef("edit: --name %q: %v", *o.Name, err)
		}
	}
	if o.CreationDate != nil && *o.CreationDate != "" {
		n, err := parseDate(env, *o.CreationDate)
		if err != nil {
			return e, err
		}
		e.date = &n
	}
	if !o.anyChange() {
		return e, Usagef("edit: nothing to change (see 'tt edit --help')")
	}
	return e, nil
}

func (o EditOptions) anyChange() bool {
	return len(o.Announce)+len(o.AddAnnounce)+len(o.RemoveAnnounce)+len(o.WebSeeds)+len(o.AddWebSeeds)+
		len(o.RemoveWebSeeds)+len(o.Nodes)+len(o.AddNodes)+len(o.RemoveNodes) > 0 ||
		o.NoAnnounce || o.NoWebSeeds || o.NoNodes || o.Comment != nil || o.CreatedBy != nil ||
		o.CreationDate != nil || o.Private != nil || o.Source != nil || o.Name != nil
}

// parseDate reads --creation-date: Unix seconds, RFC 3339, or "now"
// (SOURCE_DATE_EPOCH when it is set).
func parseDate(env *Env, s string) (int64, error) {
	if s == "now" {
		return creationDate(env)
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && n >= 0 {
		return n, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil && t.Unix() >= 0 {
		return t.Unix(), nil
	}
	return 0, Usagef("edit: --creation-date %q: want Unix seconds, an RFC 3339 time (2006-01-02T15:04:05Z) or now", s)
}

// editOutput is where the edited torrent goes ("-" for stdout). Writing
// over an existing file, the input included, needs --force.
func editOutput(env *Env, o EditOptions) (string, error) {
	out := o.Output
	if out == "" {
		out = o.Torrent
	}
	if out == "-" {
		return out, nil
	}
	out = env.Path(out)
	if o.Force {
		return out, nil
	}
	if o.Torrent != "-" && samePath(env.Path(o.Torrent), out) {
		return "", Exit(ExitExists, fmt.Errorf("%s: editing in place replaces the input (use --force, or -o OUT)", o.Torrent))
	}
	if _, err := os.Lstat(out); err == nil {
		shown := o.Output
		if shown == "" {
			shown = o.Torrent
		}
		return "", fmt.Errorf("%s: %w", shown, ErrExists)
	}
	return out, nil
}

// samePath reports whether a and b name one file.
func samePath(a, b string) bool {
	if filepath.Clean(a) == filepath.Clean(b) {
		return true
	}
	fa, errA := os.Stat(a)
	fb, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(fa, fb)
}

// changes works out the new values from the torrent's and the flags.
func (e editEdits) changes(env *Env, o EditOptions, t *metainfo.Torrent) metainfo.Changes {
	c := metainfo.Changes{Comment: o.Comment, CreatedBy: o.CreatedBy, Private: o.Private, Source: o.Source, Name: o.Name}
	warn := func(format string, args ...any) {
		if !o.Quiet {
			fmt.Fprintf(env.Stderr, "tt: edit: "+format+"\n", args...)
		}
	}
	if o.NoAnnounce || len(e.announce) > 0 || len(o.RemoveAnnounce) > 0 || len(e.addAnnounce) > 0 {
		tiers := t.Trackers()
		switch {
		case o.NoAnnounce:
			tiers = nil
		case len(e.announce) > 0:
			tiers = e.announce
		}
		tiers = removeTrackers(tiers, o.RemoveAnnounce, warn)
		c.Trackers = ptrTo(addTiers(tiers, e.addAnnounce))
	}
	if o.NoWebSeeds || len(o.WebSeeds) > 0 || len(o.RemoveWebSeeds) > 0 || len(o.AddWebSeeds) > 0 {
		c.WebSeeds = ptrTo(editList(t.URLList, o.WebSeeds, o.NoWebSeeds, o.AddWebSeeds, o.RemoveWebSeeds, "web seed", warn))
	}
	if o.NoNodes || len(o.Nodes) > 0 || len(o.RemoveNodes) > 0 || len(o.AddNodes) > 0 {
		norm := func(l []string) []string {
			out := make([]string, 0, len(l))
			for _, n := range l {
				host, port, _ := metainfo.SplitNode(n)
				if strings.Contains(host, ":") {
					host = "[" + host + "]"
				}
				out = append(out, host+":"+strconv.Itoa(port))
			}
			return out
		}
		c.Nodes = ptrTo(editList(t.Nodes, norm(o.Nodes), o.NoNodes, norm(o.AddNodes), norm(o.RemoveNodes), "DHT node", warn))
	}
	if o.CreationDate != nil {
		c.CreationDate, c.DropCreationDate = e.date, e.date == nil
	}
	return c
}

func ptrTo[T any](v T) *T { return &v }

// removeTrackers takes urls out of every tier; tiers left empty go.
func removeTrackers(tiers [][]string, urls []string, warn func(string, ...any)) [][]string {
	var out [][]string
	found := map[string]bool{}
	for _, tier := range tiers {
		var kept []string
		for _, u := range tier {
			if slices.Contains(urls, u) {
				found[u] = true
				continue
			}
			kept = append(kept, u)
		}
		if len(kept) > 0 {
			out = append(out, kept)
		}
	}
	for _, u := range urls {
		if !found[u] {
			warn("tracker %s is not in the torrent", printable(u))
		}
	}
	return out
}

// addTiers appends tiers, leaving out trackers the torrent has already.
func addTiers(tiers, add [][]string) [][]string {
	have := map[string]bool{}
	for _, tier := range tiers {
		for _, u := range tier {
			have[u] = true
		}
	}
	out := slices.Clone(tiers)
	for _, tier := range add {
		var fresh []string
		for _, u := range tier {
			if !have[u] {
				have[u] = true
				fresh = append(fresh, u)
			}
		}
		if len(fresh) > 0 {
			out = append(out, fresh)
		}
	}
	if out == nil {
		out = [][]string{}
	}
	return out
}

// editList applies replace or clear, then remove, then add (without
// repeats) to a list of strings.
func editList(cur, replace []string, clear bool, add, remove []string, what string, warn func(string, ...any)) []string {
	base := cur
	switch {
	case clear:
		base = nil
	case len(replace) > 0:
		base = replace
	}
	out := []string{}
	for _, s := range base {
		if !slices.Contains(remove, s) && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	for _, s := range remove {
		if !slices.Contains(base, s) {
			warn("%s %s is not in the torrent", what, printable(s))
		}
	}
	for _, s := range add {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// reportEdit prints what edit wrote: JSON on stdout, or a line on stderr.
func reportEdit(env *Env, o EditOptions, out string, old *metainfo.Torrent, r *metainfo.EditResult) error {
	t := r.Torrent
	infoChanged := old.InfoHash != t.InfoHash || old.InfoHashV2 != t.InfoHashV2
	if o.JSON {
		res := EditResult{
			Schema: "tt.edit/1", Input: o.Torrent, Output: out, Name: t.Info.Name, Version: t.Version().String(),
			InfoHash: v1Hex(t), OldInfoHash: v1Hex(old), InfoChanged: infoChanged, Changed: r.Changed,
			Trackers: t.Trackers(), WebSeeds: t.URLList, Nodes: t.Nodes, Comment: t.Comment,
			CreatedBy: t.CreatedBy, Private: t.Info.Private, Source: t.Info.Source,
		}
		if out != "-" {
			res.Output = relTo(env.Dir, out)
		}
		if t.HasV2 {
			res.InfoHashV2 = hex.EncodeToString(t.InfoHashV2[:])
		}
		if old.HasV2 {
			res.OldInfoHashV2 = hex.EncodeToString(old.InfoHashV2[:])
		}
		if t.HasCreationDate {
			res.CreationDate = &t.CreationDate
		}
		if res.Changed == nil {
			res.Changed = []string{}
		}
		if res.Trackers == nil {
			res.Trackers = [][]string{}
		}
		if res.WebSeeds == nil {
			res.WebSeeds = []string{}
		}
		if res.Nodes == nil {
			res.Nodes = []string{}
		}
		return newJSONEncoder(env.Stdout).Encode(res)
	}
	if o.Quiet {
		return nil
	}
	where := "stdout"
	if out != "-" {
		where = relTo(env.Dir, out)
	}
	changed := "nothing changed"
	if len(r.Changed) > 0 {
		changed = "changed " + strings.Join(r.Changed, ", ")
	}
	hashes := "info-hash " + t.InfoHashHex() + " unchanged"
	if infoChanged {
		hashes = "new info-hash " + hashPair(t) + ", was " + hashPair(old)
	}
	fmt.Fprintf(env.Stderr, "tt: wrote %s (%s; %s)\n", where, changed, hashes)
	return nil
}

// v1Hex is the SHA-1 info-hash in hex, "" for a v2-only torrent.
func v1Hex(t *metainfo.Torrent) string {
	if h, ok := t.InfoHashV1(); ok {
		return hex.EncodeToString(h[:])
	}
	return ""
}

// hashPair names a torrent's info-hashes: v1, v2, or both for a hybrid.
func hashPair(t *metainfo.Torrent) string {
	switch t.Version() {
	case metainfo.Hybrid:
		return "v1 " + v1Hex(t) + " v2 " + hex.EncodeToString(t.InfoHashV2[:])
	case metainfo.V2:
		return "v2 " + hex.EncodeToString(t.InfoHashV2[:])
	}
	return t.InfoHashHex()
}
