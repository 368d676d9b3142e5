package app

import (
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"tt/internal/merkle"
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
	V2             bool // a v2-only torrent (BEP 52)
	Hybrid         bool // a hybrid torrent: v1 and v2 over the same pieces
}

// CreateResult is the JSON document `tt create --json` prints (schema tt.create/1).
type CreateResult struct {
	Schema          string             `json:"schema"`
	Name            string             `json:"name"`
	InfoHash        string             `json:"infohash"`    // v1, or v2 for a v2-only torrent
	InfoHashV2      string             `json:"infohash_v2"` // "" for a v1 torrent
	Version         metainfo.Version   `json:"version"`
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

	createdBy := ""
	if !o.NoCreatedBy {
		createdBy = "tt/" + Version
	}
	start := time.Now()
	data, t, err := hashAndBuild(ctx, env, o, content, metainfo.BuildOptions{
		Name: name, PieceLength: pl, Trackers: tiers, WebSeeds: o.WebSeeds, Private: o.Private,
		Source: o.SourceTag, Comment: o.Comment, CreatedBy: createdBy, CreationDate: date,
	})
	if err != nil {
		return err
	}
	elapsed := time.Since(start).Seconds()
	if out == "-" {
		if _, err := env.Stdout.Write(data); err != nil {
			return Exit(ExitIO, err)
		}
	} else if err := WriteFileAtomic(out, data, o.Force); err != nil {
		return err
	}
	return reportCreate(env, o, t, content, CreateResult{
		Schema: "tt.create/1", Name: name, InfoHash: t.InfoHashHex(), InfoHashV2: infoHashV2Hex(t), Version: t.Version(),
		Output: out, Magnet: t.Magnet().String(),
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
	if o.V2 && o.Hybrid {
		return nil, Usagef("create: --v2 and --hybrid cannot be combined (--hybrid has v2 hashes too)")
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

// hashAndBuild hashes the content, as v1, v2 or hybrid as asked, and
// encodes the torrent.
func hashAndBuild(ctx context.Context, env *Env, o CreateOptions, content *metainfo.Content, bo metainfo.BuildOptions) ([]byte, *metainfo.Torrent, error) {
	if !o.V2 && !o.Hybrid {
		pieces, err := hashContent(ctx, env, o, content, bo.PieceLength)
		if err != nil {
			return nil, nil, err
		}
		return metainfo.Build(content, pieces, bo)
	}
	if _, ok := merkle.PieceHeight(bo.PieceLength); !ok {
		return nil, nil, Usagef("--piece-length: %d: v2 torrents need a power of two of at least 16 KiB", bo.PieceLength)
	}
	hashes, pieces, err := hashContentV2(ctx, env, o, content, bo.PieceLength)
	if err != nil {
		return nil, nil, err
	}
	return metainfo.BuildV2(content, hashes, pieces, bo)
}

// hashContentV2 hashes the files laid out on piece boundaries: their v2
// roots and layers, and for a hybrid the v1 pieces in the same read.
func hashContentV2(ctx context.Context, env *Env, o CreateOptions, content *metainfo.Content, pl int64) ([]metainfo.FileHashV2, []byte, error) {
	laid := metainfo.PieceAligned(content, pl)
	files := make([]piecehash.File, len(laid))
	var total int64
	for i, l := range laid {
		files[i] = piecehash.File{Length: l.Length, Pad: l.File < 0}
		if l.File >= 0 {
			files[i].Path = content.Files[l.File].OSPath
		}
		total += l.Length
	}
	bar := startProgress(env, "hashing", total, o.Quiet || o.JSON)
	sums, err := piecehash.HashV2(ctx, files, pl, o.Hybrid, piecehash.Options{Workers: o.Workers, Progress: bar.Set})
	bar.Finish()
	if err != nil {
		return nil, nil, err
	}
	hashes := make([]metainfo.FileHashV2, len(content.Files))
	for i, l := range laid {
		if l.File >= 0 {
			hashes[l.File] = metainfo.FileHashV2{Root: sums.Files[i].Root, Layer: sums.Files[i].Layer}
		}
	}
	return hashes, sums.Pieces, nil
}

// infoHashV2Hex is the full v2 info-hash in hex, or "" for a v1 torrent.
func infoHashV2Hex(t *metainfo.Torrent) string {
	if !t.HasV2 {
		return ""
	}
	return hex.EncodeToString(t.InfoHashV2[:])
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
		ids := "info-hash " + res.InfoHash
		switch t.Version() {
		case metainfo.V2:
			ids = "v2 info-hash " + res.InfoHashV2
		case metainfo.Hybrid:
			ids = "hybrid, info-hash " + res.InfoHash + ", v2 info-hash " + res.InfoHashV2
		}
		fmt.Fprintf(env.Stderr, "tt: wrote %s (%s in %d files, %d pieces of %s, %s)\n",
			relTo(env.Dir, res.Output), FormatSize(content.Total), len(content.Files), t.NumPieces(), FormatSize(res.PieceLength), ids)
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
