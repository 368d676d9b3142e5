package app

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"tt/internal/merkle"
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
	State        string `json:"state"` // ok, missing, wrong-size, unreadable, corrupt, incomplete, disagree
	Size         int64  `json:"size"`  // on disk; -1 when missing
	ExpectedSize int64  `json:"expected_size"`
	BadPieces    []int  `json:"bad_pieces"`
	// CorruptRanges are the byte ranges of the file whose v2 hashes fail
	// (v2 and hybrid torrents only).
	CorruptRanges []ByteRange `json:"corrupt_ranges,omitempty"`
	Error         string      `json:"error,omitempty"`
}

// ByteRange is a run of bytes of one file.
type ByteRange struct {
	Offset int64 `json:"offset"`
	Length int64 `json:"length"`
}

// VerifyResult is the JSON document `tt verify --json` prints (schema tt.verify/1).
type VerifyResult struct {
	Schema        string `json:"schema"`
	Name          string `json:"name"`
	InfoHash      string `json:"infohash"`
	Version       string `json:"version"` // v1, v2 or hybrid: the hashes checked
	Content       string `json:"content"`
	OK            bool   `json:"ok"`
	Verdict       string `json:"verdict"` // ok, corrupt, missing, unreadable, disagree
	PiecesTotal   int    `json:"pieces_total"`
	PiecesOK      int    `json:"pieces_ok"`
	PiecesCorrupt []int  `json:"pieces_corrupt"`
	PiecesMissing int    `json:"pieces_missing"`
	// PiecesDisagree are the pieces of a hybrid that pass one hash set and
	// fail the other: its v1 and v2 hashes describe different data.
	PiecesDisagree []int        `json:"pieces_disagree,omitempty"`
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
	content := o.Content
	if content == "" {
		content = t.Info.Name
	}
	root := env.Path(content)
	if _, err := os.Stat(root); err != nil {
		return Exit(ExitMissing, fmt.Errorf("content %s: %w", content, err))
	}

	res, err := runVerify(ctx, env, o, t, content, root)
	if err != nil {
		return err
	}

	if o.JSON {
		enc := newJSONEncoder(env.Stdout)
		if err := enc.Encode(res); err != nil {
			return Exit(ExitIO, err)
		}
	} else if !o.Quiet {
		printVerify(env, res)
	}
	switch res.Verdict {
	case "disagree":
		return Exit(ExitBadTorrent, fmt.Errorf("%s: the torrent's v1 and v2 hashes describe different data (%d pieces pass one and fail the other)", content, len(res.PiecesDisagree)))
	case "corrupt":
		return Exit(ExitCorrupt, fmt.Errorf("%s: %d of %d pieces corrupt", content, len(res.PiecesCorrupt), res.PiecesTotal))
	case "missing":
		return Exit(ExitMissing, fmt.Errorf("%s: data missing: %d of %d pieces cannot be checked", content, res.PiecesMissing, res.PiecesTotal))
	case "unreadable":
		return Exit(ExitIO, fmt.Errorf("%s: some files cannot be read", content))
	}
	return nil
}

// runVerify checks the content against every hash set the torrent has:
// a hybrid whose file lists agree in one read of the data, one whose lists
// differ in one read per layout.
func runVerify(ctx context.Context, env *Env, o VerifyOptions, t *metainfo.Torrent, content, root string) (*VerifyResult, error) {
	oneRead := t.Version() == metainfo.Hybrid && t.FilesAgree()
	var total int64
	if t.HasV1() {
		total += t.Info.TotalLength
	}
	if t.HasV2 && !oneRead {
		total += t.ContentSize()
	}
	start := time.Now()
	bar := startProgress(env, "verifying", total, o.Quiet || o.JSON)
	defer bar.Finish()
	opt := piecehash.Options{Workers: o.Workers, Progress: bar.Set}
	var rep1 *piecehash.Report
	var rep2 *piecehash.V2Report
	var base int64
	v2files, idx, err := hashFilesV2(t, root)
	if err != nil {
		return nil, Exit(ExitBadTorrent, err)
	}
	if t.HasV1() {
		files, err := hashFiles(t, root)
		if err != nil {
			return nil, Exit(ExitBadTorrent, err)
		}
		if oneRead {
			var v2 []piecehash.PieceState
			rep1, v2, err = piecehash.VerifyHybrid(ctx, files, t.Info.PieceLength, t.Info.Pieces, func(p int) (merkle.Hash, bool) {
				h, ok := t.PieceHashV2(p)
				return merkle.Hash(h), ok
			}, opt)
			rep2 = hybridV2Report(t, rep1, v2, idx)
		} else {
			rep1, err = piecehash.Verify(ctx, files, t.Info.PieceLength, t.Info.Pieces, opt)
		}
		if err != nil {
			return nil, err
		}
		base = t.Info.TotalLength
	}
	if !t.HasV2 {
		return verifyResult(t, content, rep1, time.Since(start).Seconds()), nil
	}
	if rep2 == nil {
		opt.Progress = func(d int64) { bar.Set(base + d) }
		if rep2, err = piecehash.VerifyV2(ctx, v2files, t.Info.PieceLength, opt); err != nil {
			return nil, err
		}
	}
	return verifyResultV2(t, content, rep1, rep2, idx, time.Since(start).Seconds()), nil
}

// hybridV2Report is the v2 side of a hybrid checked in one read: the v2
// files (idx into V2Files) with the file states of the v1 check and the v2
// states of their pieces.
func hybridV2Report(t *metainfo.Torrent, rep1 *piecehash.Report, v2 []piecehash.PieceState, idx []int) *piecehash.V2Report {
	if rep1 == nil {
		return nil
	}
	pl := t.Info.PieceLength
	rep := &piecehash.V2Report{Files: make([]piecehash.V2FileReport, len(idx))}
	for k, i := range idx {
		f := &t.Info.V2Files[i]
		fr := rep1.Files[f.File]
		r := &rep.Files[k]
		r.State, r.Size, r.Err = fr.State, fr.Size, fr.Err
		first := f.Offset / pl
		r.Pieces = v2[min(first, int64(len(v2))):min(first+f.NumPieces(pl), int64(len(v2)))]
		for p, st := range r.Pieces {
			switch st {
			case piecehash.PieceOK:
				rep.OKPieces++
			case piecehash.PieceCorrupt, piecehash.PieceMissing:
				r.BadPieces = append(r.BadPieces, p)
			}
		}
		rep.Pieces += len(r.Pieces)
	}
	return rep
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
		Schema: "tt.verify/1", Name: t.Info.Name, InfoHash: t.InfoHashHex(), Version: t.Version().String(), Content: content,
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
	setVerdict(res, unreadable)
	return res
}

// setVerdict sets the verdict from the pieces and files, worst first.
func setVerdict(res *VerifyResult, unreadable bool) {
	switch {
	case len(res.PiecesDisagree) > 0:
		res.Verdict = "disagree"
	case len(res.PiecesCorrupt) > 0:
		res.Verdict = "corrupt"
	case unreadable:
		res.Verdict = "unreadable"
	case res.PiecesMissing > 0 || anyFileBad(res.Files):
		res.Verdict = "missing"
	default:
		res.Verdict, res.OK = "ok", true
	}
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
		case "corrupt", "incomplete", "disagree":
			detail = " (pieces " + formatRanges(f.BadPieces)
			if len(f.CorruptRanges) > 0 {
				detail += "; bytes " + formatByteRanges(f.CorruptRanges)
			}
			detail += ")"
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
	if len(r.PiecesDisagree) > 0 {
		fmt.Fprintf(w, ", %d where the v1 and v2 hashes disagree", len(r.PiecesDisagree))
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

// hashFilesV2 maps a v2 torrent's files (symlinks left out) onto disk
// under root, with their hashes; idx gives each one's index in V2Files.
func hashFilesV2(t *metainfo.Torrent, root string) (files []piecehash.V2File, idx []int, err error) {
	for i := range t.Info.V2Files {
		f := &t.Info.V2Files[i]
		if len(f.Symlink) > 0 || strings.Contains(f.Attr, "l") {
			continue
		}
		p := root
		if t.Info.MultiFile {
			if p, err = metainfo.JoinUnder(root, f.Path); err != nil {
				return nil, nil, err
			}
		}
		vf := piecehash.V2File{Path: p, Length: f.Length, Root: f.PiecesRoot}
		if f.LayerStatus == metainfo.LayerOK {
			vf.Layer = f.Layer
		}
		files, idx = append(files, vf), append(idx, i)
	}
	return files, idx, nil
}

// combine is the verdict on a piece of a hybrid from its v1 and v2 states
// (either may be PieceUnchecked: no hash, or no such hash set); disagree is
// set when the data passes one hash and fails the other.
func combine(s1, s2 piecehash.PieceState) (st piecehash.PieceState, disagree bool) {
	switch {
	case s1 == piecehash.PieceOK && s2 == piecehash.PieceCorrupt, s1 == piecehash.PieceCorrupt && s2 == piecehash.PieceOK:
		return piecehash.PieceCorrupt, true
	case s1 == piecehash.PieceMissing || s2 == piecehash.PieceMissing:
		return piecehash.PieceMissing, false
	case s1 == piecehash.PieceCorrupt || s2 == piecehash.PieceCorrupt:
		return piecehash.PieceCorrupt, false
	case s1 == piecehash.PieceOK || s2 == piecehash.PieceOK:
		return piecehash.PieceOK, false
	}
	return piecehash.PieceUnchecked, false
}

// verifyResultV2 is the report on a v2 torrent (rep1 nil) or a hybrid,
// whose pieces are judged by both hash sets.
func verifyResultV2(t *metainfo.Torrent, content string, rep1 *piecehash.Report, rep2 *piecehash.V2Report, idx []int, secs float64) *VerifyResult {
	pl := t.Info.PieceLength
	n := t.NumPieces()
	res := &VerifyResult{
		Schema: "tt.verify/1", Name: t.Info.Name, InfoHash: t.InfoHashHex(), Version: t.Version().String(), Content: content,
		PiecesTotal: n, PiecesCorrupt: []int{}, BytesRead: rep2.BytesRead, Seconds: secs,
	}
	v2 := make([]piecehash.PieceState, n)
	for k, fr := range rep2.Files {
		base := int(t.Info.V2Files[idx[k]].Offset / pl)
		for p, s := range fr.Pieces {
			if base+p < n {
				v2[base+p] = s
			}
		}
	}
	states := make([]piecehash.PieceState, n)
	disagree := make([]bool, n)
	for p := range n {
		s1 := piecehash.PieceUnchecked
		if rep1 != nil && p < len(rep1.Pieces) {
			s1 = rep1.Pieces[p]
		}
		states[p], disagree[p] = combine(s1, v2[p])
		// When the file lists disagree, piece p is not the same data in
		// both layouts: a failure of either is only a failure.
		disagree[p] = disagree[p] && t.FilesAgree()
		switch {
		case disagree[p]:
			res.PiecesDisagree = append(res.PiecesDisagree, p)
		case states[p] == piecehash.PieceOK:
			res.PiecesOK++
		case states[p] == piecehash.PieceCorrupt:
			res.PiecesCorrupt = append(res.PiecesCorrupt, p)
		case states[p] == piecehash.PieceMissing:
			res.PiecesMissing++
		}
	}
	if rep1 != nil {
		res.BytesRead += rep1.BytesRead
	}
	if secs > 0 {
		res.BytesPerSecond = float64(res.BytesRead) / secs
	}
	unreadable := false
	for k, fr := range rep2.Files {
		f := &t.Info.V2Files[idx[k]]
		vf := VerifyFile{Path: strings.Join(f.Path, "/"), Size: fr.Size, ExpectedSize: f.Length, BadPieces: []int{}}
		base := int(f.Offset / pl)
		corrupt, dis := false, false
		for p := range fr.Pieces {
			g := base + p
			if g >= n || states[g] == piecehash.PieceOK {
				continue
			}
			vf.BadPieces = append(vf.BadPieces, g)
			corrupt = corrupt || states[g] == piecehash.PieceCorrupt
			dis = dis || disagree[g]
			if fr.Pieces[p] == piecehash.PieceCorrupt {
				vf.CorruptRanges = addRange(vf.CorruptRanges, int64(p)*pl, min(pl, f.Length-int64(p)*pl))
			}
		}
		switch {
		case fr.State == piecehash.FileMissing:
			vf.State = "missing"
		case fr.State == piecehash.FileWrongSize:
			vf.State = "wrong-size"
		case fr.State == piecehash.FileUnreadable:
			vf.State, unreadable = "unreadable", true
		case dis:
			vf.State = "disagree"
		case corrupt:
			vf.State = "corrupt"
		case len(vf.BadPieces) > 0:
			vf.State = "incomplete"
		default:
			vf.State = "ok"
		}
		if fr.Err != nil {
			vf.Error = fr.Err.Error()
		}
		res.Files = append(res.Files, vf)
	}
	setVerdict(res, unreadable)
	return res
}

// addRange appends a byte range, joining it to the last one when they touch.
func addRange(rs []ByteRange, off, n int64) []ByteRange {
	if k := len(rs) - 1; k >= 0 && rs[k].Offset+rs[k].Length == off {
		rs[k].Length += n
		return rs
	}
	return append(rs, ByteRange{off, n})
}

// formatByteRanges renders byte ranges as first-last byte offsets.
func formatByteRanges(rs []ByteRange) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = fmt.Sprintf("%d-%d", r.Offset, r.Offset+r.Length-1)
	}
	return strings.Join(parts, ", ")
}
