package app

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"tt/internal/piecehash"
	"tt/metainfo"
)

// VerifyOptions are the inputs of `tt verify`.
type VerifyOptions struct {
	Torrent string // path or "-"
	Content string // the file (single-file torrent) or top directory; default ./NAME
	JSON    bool
	Quiet   bool
	Workers int
}

// VerifyFile is one file's verdict in the JSON report.
type VerifyFile struct {
	Path         string `json:"path"`
	State        string `json:"state"` // ok, missing, wrong-size, unreadable, corrupt, incomplete
	Size         int64  `json:"size"`  // on disk; -1 when missing
	ExpectedSize int64  `json:"expected_size"`
	BadPieces    []int  `json:"bad_pieces"`
	Error        string `json:"error,omitempty"`
}

// VerifyResult is the JSON document `tt verify --json` prints (schema tt.verify/1).
type VerifyResult struct {
	Schema         string       `json:"schema"`
	Name           string       `json:"name"`
	InfoHash       string       `json:"infohash"`
	Content        string       `json:"content"`
	OK             bool         `json:"ok"`
	Verdict        string       `json:"verdict"` // ok, corrupt, missing, unreadable
	PiecesTotal    int          `json:"pieces_total"`
	PiecesOK       int          `json:"pieces_ok"`
	PiecesCorrupt  []int        `json:"pieces_corrupt"`
	PiecesMissing  int          `json:"pieces_missing"`
	Files          []VerifyFile `json:"files"`
	BytesRead      int64        `json:"bytes_read"`
	Seconds        float64      `json:"seconds"`
	BytesPerSecond float64      `json:"bytes_per_second"`
}

// Verify checks files on disk against a torrent.
func Verify(ctx context.Context, env *Env, o VerifyOptions) error {
	if o.Torrent == "" {
		return Usagef("verify: missing TORRENT")
	}
	t, err := loadTorrent(env, o.Torrent)
	if err != nil {
		return err
	}
	if t.V2Only() {
		return Exit(ExitBadTorrent, fmt.Errorf("%s: %w", o.Torrent, metainfo.ErrV2Only))
	}
	content := o.Content
	if content == "" {
		content = t.Info.Name
	}
	root := env.Path(content)
	if _, err := os.Stat(root); err != nil {
		return Exit(ExitMissing, fmt.Errorf("content %s: %w", content, err))
	}

	files, err := hashFiles(t, root)
	if err != nil {
		return Exit(ExitBadTorrent, err)
	}
	start := time.Now()
	bar := startProgress(env, "verifying", t.Info.TotalLength, o.Quiet || o.JSON)
	rep, err := piecehash.Verify(ctx, files, t.Info.PieceLength, t.Info.Pieces, piecehash.Options{Workers: o.Workers, Progress: bar.Set})
	bar.Finish()
	if err != nil {
		return err
	}
	res := verifyResult(t, content, rep, time.Since(start).Seconds())

	if o.JSON {
		enc := newJSONEncoder(env.Stdout)
		if err := enc.Encode(res); err != nil {
			return Exit(ExitIO, err)
		}
	} else if !o.Quiet {
		printVerify(env, res)
	}
	switch res.Verdict {
	case "corrupt":
		return Exit(ExitCorrupt, fmt.Errorf("%s: %d of %d pieces corrupt", content, len(res.PiecesCorrupt), res.PiecesTotal))
	case "missing":
		return Exit(ExitMissing, fmt.Errorf("%s: data missing: %d of %d pieces cannot be checked", content, res.PiecesMissing, res.PiecesTotal))
	case "unreadable":
		return Exit(ExitIO, fmt.Errorf("%s: some files cannot be read", content))
	}
	return nil
}

// hashFiles maps a torrent's files onto disk under root (the content path).
func hashFiles(t *metainfo.Torrent, root string) ([]piecehash.File, error) {
	files := make([]piecehash.File, len(t.Info.Files))
	for i, f := range t.Info.Files {
		if f.Virtual() {
			files[i] = piecehash.File{Length: f.Length, Pad: true}
			continue
		}
		p := root
		if t.Info.MultiFile {
			var err error
			if p, err = metainfo.JoinUnder(root, f.Path); err != nil {
				return nil, err
			}
		}
		files[i] = piecehash.File{Path: p, Length: f.Length}
	}
	return files, nil
}

func verifyResult(t *metainfo.Torrent, content string, rep *piecehash.Report, secs float64) *VerifyResult {
	res := &VerifyResult{
		Schema: "tt.verify/1", Name: t.Info.Name, InfoHash: t.InfoHashHex(), Content: content,
		PiecesTotal: len(rep.Pieces), PiecesOK: rep.OKPieces, PiecesCorrupt: []int{},
		BytesRead: rep.BytesRead, Seconds: secs,
	}
	if secs > 0 {
		res.BytesPerSecond = float64(rep.BytesRead) / secs
	}
	for i, st := range rep.Pieces {
		switch st {
		case piecehash.PieceCorrupt:
			res.PiecesCorrupt = append(res.PiecesCorrupt, i)
		case piecehash.PieceMissing:
			res.PiecesMissing++
		}
	}
	unreadable := false
	for i, fr := range rep.Files {
		f := t.Info.Files[i]
		vf := VerifyFile{Path: strings.Join(f.Path, "/"), Size: fr.Size, ExpectedSize: f.Length, BadPieces: fr.BadPieces}
		if vf.BadPieces == nil {
			vf.BadPieces = []int{}
		}
		switch {
		case f.Virtual():
		case fr.State == piecehash.FileOK:
			vf.State = "ok"
		case fr.State == piecehash.FileMissing:
			vf.State = "missing"
		case fr.State == piecehash.FileWrongSize:
			vf.State = "wrong-size"
		case fr.State == piecehash.FileUnreadable:
			vf.State = "unreadable"
			unreadable = true
		case hasCorrupt(rep.Pieces, fr.BadPieces):
			vf.State = "corrupt"
		default:
			// Its own bytes are all there, but pieces it shares with
			// missing data elsewhere cannot be checked.
			vf.State = "incomplete"
		}
		if fr.Err != nil {
			vf.Error = fr.Err.Error()
		}
		if !f.Virtual() {
			res.Files = append(res.Files, vf)
		}
	}
	switch {
	case len(res.PiecesCorrupt) > 0:
		res.Verdict = "corrupt"
	case unreadable:
		res.Verdict = "unreadable"
	case res.PiecesMissing > 0 || anyFileBad(res.Files):
		res.Verdict = "missing"
	default:
		res.Verdict, res.OK = "ok", true
	}
	return res
}

func hasCorrupt(pieces []piecehash.PieceState, idx []int) bool {
	for _, i := range idx {
		if pieces[i] == piecehash.PieceCorrupt {
			return true
		}
	}
	return false
}

func anyFileBad(files []VerifyFile) bool {
	for _, f := range files {
		if f.State != "ok" {
			return true
		}
	}
	return false
}

func printVerify(env *Env, r *VerifyResult) {
	w := env.Stdout
	for _, f := range r.Files {
		detail := ""
		switch f.State {
		case "wrong-size":
			detail = fmt.Sprintf(" (%d bytes on disk, torrent says %d)", f.Size, f.ExpectedSize)
		case "corrupt", "incomplete":
			detail = " (pieces " + formatRanges(f.BadPieces) + ")"
		case "unreadable":
			detail = " (" + f.Error + ")"
		}
		fmt.Fprintf(w, "%-10s %s%s\n", f.State, printable(f.Path), detail)
	}
	pct := 100.0
	if r.PiecesTotal > 0 {
		pct = float64(r.PiecesOK) * 100 / float64(r.PiecesTotal)
	}
	fmt.Fprintf(w, "%s: %d/%d pieces ok (%.1f%%)", r.Verdict, r.PiecesOK, r.PiecesTotal, pct)
	if len(r.PiecesCorrupt) > 0 {
		fmt.Fprintf(w, ", %d corrupt", len(r.PiecesCorrupt))
	}
	if r.PiecesMissing > 0 {
		fmt.Fprintf(w, ", %d missing", r.PiecesMissing)
	}
	fmt.Fprintf(w, "; %s read in %.2fs\n", FormatSize(r.BytesRead), r.Seconds)
}

// formatRanges renders sorted indices compactly: 1, 3-5, 9.
func formatRanges(idx []int) string {
	var parts []string
	for i := 0; i < len(idx); {
		j := i
		for j+1 < len(idx) && idx[j+1] == idx[j]+1 {
			j++
		}
		if j == i {
			parts = append(parts, strconv.Itoa(idx[i]))
		} else {
			parts = append(parts, fmt.Sprintf("%d-%d", idx[i], idx[j]))
		}
		i = j + 1
	}
	return strings.Join(parts, ", ")
}
