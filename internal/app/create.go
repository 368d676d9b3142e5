package app

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"tt/internal/piecehash"
	"tt/metainfo"
)

// CreateOptions are the inputs of `tt create`.
type CreateOptions struct {
	Source         string
	Output         string   // "" = NAME.torrent in the working directory, "-" = stdout
	Force          bool     // overwrite Output; accept unusual piece lengths
	Trackers       []string // -a values: one tier each, commas between a tier's URLs
	WebSeeds       []string
	Private        bool
	SourceTag      string // the info "source" field
	Comment        string
	Name           string
	PieceLength    string // "auto" or a size
	Include        []string
	Exclude        []string
	Hidden         bool
	Junk           bool
	FollowSymlinks bool
	NoDate         bool
	NoCreatedBy    bool
	Magnet         bool
	JSON           bool
	Quiet          bool
	Workers        int
}

// CreateResult is the JSON document `tt create --json` prints (schema tt.create/1).
type CreateResult struct {
	Schema          string             `json:"schema"`
	Name            string             `json:"name"`
	InfoHash        string             `json:"infohash"`
	Output          string             `json:"output"`
	Magnet          string             `json:"magnet"`
	PieceLength     int64              `json:"piece_length"`
	PieceLengthRule string             `json:"piece_length_rule"`
	Pieces          int                `json:"pieces"`
	TotalSize       int64              `json:"total_size"`
	Files           int                `json:"files"`
	Private         bool               `json:"private"`
	Skipped         []metainfo.Skipped `json:"skipped"`
	Seconds         float64            `json:"seconds"`
	BytesPerSecond  float64            `json:"bytes_per_second"`
}

// ParseTiers turns repeated -a values into tiers: each value is a tier, and
// commas inside one value separate the trackers of that tier.
func ParseTiers(values []string) ([][]string, error) {
	var tiers [][]string
	for _, v := range values {
		var tier []string
		for _, u := range strings.Split(v, ",") {
			if u = strings.TrimSpace(u); u == "" {
				continue
			}
			if err := metainfo.CheckTrackerURL(u); err != nil {
				return nil, err
			}
			tier = append(tier, u)
		}
		if len(tier) > 0 {
			tiers = append(tiers, tier)
		}
	}
	return tiers, nil
}

// creationDate honours SOURCE_DATE_EPOCH for reproducible builds.
func creationDate(env *Env) (int64, error) {
	if s := env.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return 0, Usagef("SOURCE_DATE_EPOCH=%q is not a non-negative integer", s)
		}
		return n, nil
	}
	return env.Now().Unix(), nil
}

// Create builds a .torrent from files on disk.
func Create(ctx context.Context, env *Env, o CreateOptions) error {
	tiers, err := checkCreateOptions(o)
	if err != nil {
		return err
	}
	var date int64
	if !o.NoDate {
		if date, err = creationDate(env); err != nil {
			return err
		}
	}
	content, err := scanContent(env, o)
	if err != nil {
		return err
	}
	pl, rule, err := choosePieceLength(o.PieceLength, content.Total, o.Force)
	if err != nil {
		return err
	}
	name := content.Name
	if o.Name != "" {
		name = o.Name
	}
	out, err := createOutput(env, o, name)
	if err != nil {
		return err
	}

	start := time.Now()
	pieces, err := hashContent(ctx, env, o, content, pl)
	if err != nil {
		return err
	}
	elapsed := time.Since(start).Seconds()

	createdBy := ""
	if !o.NoCreatedBy {
		createdBy = "tt/" + Version
	}
	data, t, err := metainfo.Build(content, pieces, metainfo.BuildOptions{
		Name: name, PieceLength: pl, Trackers: tiers, WebSeeds: o.WebSeeds, Private: o.Private,
		Source: o.SourceTag, Comment: o.Comment, CreatedBy: createdBy, CreationDate: date,
	})
	if err != nil {
		return err
	}
	if out == "-" {
		if _, err := env.Stdout.Write(data); err != nil {
			return Exit(ExitIO, err)
		}
	} else if err := WriteFileAtomic(out, data, o.Force); err != nil {
		return err
	}
	return reportCreate(env, o, t, content, CreateResult{
		Schema: "tt.create/1", Name: name, InfoHash: t.InfoHashHex(), Output: out, Magnet: t.Magnet().String(),
		PieceLength: pl, PieceLengthRule: rule, Pieces: t.NumPieces(), TotalSize: content.Total,
		Files: len(content.Files), Private: o.Private, Skipped: content.Skipped, Seconds: elapsed,
	})
}

// checkCreateOptions refuses flags that cannot work together or cannot
// be right, before any file is read; it returns the parsed tracker tiers.
func checkCreateOptions(o CreateOptions) ([][]string, error) {
	if o.Source == "" {
		return nil, Usagef("create: missing PATH (the file or directory to make a torrent of)")
	}
	if o.Magnet && o.Output == "-" {
		return nil, Usagef("create: --magnet cannot be combined with -o - (both write to stdout)")
	}
	if o.JSON && o.Output == "-" {
		return nil, Usagef("create: --json cannot be combined with -o - (both write to stdout)")
	}
	tiers, err := ParseTiers(o.Trackers)
	if err != nil {
		return nil, Exit(ExitUsage, err)
	}
	for _, u := range o.WebSeeds {
		if err := metainfo.CheckWebSeedURL(u); err != nil {
			return nil, Exit(ExitUsage, err)
		}
	}
	if o.Name != "" {
		if err := metainfo.CheckComponent(o.Name); err != nil {
			return nil, Usagef("create: --name %q: %v", o.Name, err)
		}
	}
	if err := metainfo.CheckGlobs(append(append([]string{}, o.Include...), o.Exclude...)); err != nil {
		return nil, Exit(ExitUsage, err)
	}
	return tiers, nil
}

// scanContent lists the files to hash, telling what it skipped.
func scanContent(env *Env, o CreateOptions) (*metainfo.Content, error) {
	content, err := metainfo.Scan(env.Path(o.Source), metainfo.ScanOptions{
		Hidden: o.Hidden, Junk: o.Junk, FollowSymlinks: o.FollowSymlinks, Include: o.Include, Exclude: o.Exclude,
	})
	if content != nil && !o.Quiet {
		for _, s := range content.Skipped {
			fmt.Fprintf(env.Stderr, "tt: skipped %s: %s\n", printable(s.Path), s.Reason)
		}
	}
	if err != nil {
		return nil, Exit(exitForScan(err), err)
	}
	if content.Total == 0 {
		return nil, Exit(ExitFailure, fmt.Errorf("%s: %w: all files are empty", o.Source, metainfo.ErrEmptyContent))
	}
	return content, nil
}

// createOutput is where the torrent goes ("-" for stdout), refused when it
// exists and --force is not given.
func createOutput(env *Env, o CreateOptions, name string) (string, error) {
	out := o.Output
	if out == "" {
		out = name + ".torrent"
	}
	if out == "-" {
		return out, nil
	}
	out = env.Path(out)
	if !o.Force {
		if err := refuseExisting(out); err != nil {
			return "", err
		}
	}
	return out, nil
}

// hashContent hashes the files in pieces of pl, with a progress bar.
func hashContent(ctx context.Context, env *Env, o CreateOptions, content *metainfo.Content, pl int64) ([]byte, error) {
	files := make([]piecehash.File, len(content.Files))
	for i, f := range content.Files {
		files[i] = piecehash.File{Path: f.OSPath, Length: f.Length}
	}
	bar := startProgress(env, "hashing", content.Total, o.Quiet || o.JSON)
	pieces, err := piecehash.Hash(ctx, files, pl, piecehash.Options{Workers: o.Workers, Progress: bar.Set})
	bar.Finish()
	return pieces, err
}

// reportCreate prints what create made: JSON, the magnet link, or a line.
func reportCreate(env *Env, o CreateOptions, t *metainfo.Torrent, content *metainfo.Content, res CreateResult) error {
	switch {
	case o.JSON:
		if res.Skipped == nil {
			res.Skipped = []metainfo.Skipped{}
		}
		if res.Seconds > 0 {
			res.BytesPerSecond = float64(content.Total) / res.Seconds
		}
		return newJSONEncoder(env.Stdout).Encode(res)
	case o.Magnet:
		fmt.Fprintln(env.Stdout, res.Magnet)
	}
	if !o.Quiet && res.Output != "-" {
		fmt.Fprintf(env.Stderr, "tt: wrote %s (%s in %d files, %d pieces of %s, info-hash %s)\n",
			relTo(env.Dir, res.Output), FormatSize(content.Total), len(content.Files), t.NumPieces(), FormatSize(res.PieceLength), t.InfoHashHex())
	}
	return nil
}

func choosePieceLength(s string, total int64, force bool) (int64, string, error) {
	if s == "" || s == "auto" {
		return metainfo.AutoPieceLength(total), metainfo.AutoPieceLengthVersion, nil
	}
	pl, err := ParseSize(s)
	if err != nil {
		return 0, "", Usagef("--piece-length: %v", err)
	}
	if err := metainfo.CheckPieceLength(pl); err != nil {
		if !force || pl <= 0 {
			return 0, "", Usagef("--piece-length: %v (--force accepts it anyway)", err)
		}
	}
	return pl, "fixed", nil
}

func exitForScan(err error) int {
	if isIOError(err) {
		return ExitIO
	}
	return ExitFailure
}

func refuseExisting(path string) error {
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("%s: %w", path, ErrExists)
	}
	return nil
}

// relTo shows path relative to dir when it lies below it.
func relTo(dir, path string) string {
	if rel, err := filepath.Rel(dir, path); err == nil && !strings.HasPrefix(rel, "..") {
		return rel
	}
	return path
}
