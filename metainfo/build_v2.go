package metainfo

import (
	"crypto/sha1"
	"errors"
	"fmt"
	"strconv"

	"tt/bencode"
	"tt/internal/merkle"
)

// ErrV2Hashes: the hashes given to BuildV2 do not fit the content.
var ErrV2Hashes = errors.New("metainfo: v2 hashes do not fit the content")

// FileHashV2 is the v2 hash of one file of a new torrent: its pieces root
// and, for a file larger than one piece, its piece layer (32 bytes a
// piece). An empty file has neither.
type FileHashV2 struct {
	Root  [32]byte
	Layer []byte
}

// LaidFile is one entry of the piece space of a v2 or hybrid torrent: a
// file of the content, or a BEP 47 pad file.
type LaidFile struct {
	File   int   // index in Content.Files; -1 for a pad file
	Length int64 // the file's length, or the pad's
}

// PieceAligned lays out the files of c for a v2 or hybrid torrent: every
// non-empty file starts a piece, with a pad file before it where the one
// before ends inside a piece. A torrent of several files also ends on a
// piece boundary, with a pad file after the last (as libtorrent 2.0.8 and
// later make them); a single file needs none. Empty files take no space
// and get no padding.
func PieceAligned(c *Content, pieceLength int64) []LaidFile {
	out := make([]LaidFile, 0, len(c.Files)*2)
	var at int64
	padTo := func() {
		if r := at % pieceLength; r != 0 {
			out = append(out, LaidFile{File: -1, Length: pieceLength - r})
			at += pieceLength - r
		}
	}
	for i, f := range c.Files {
		if f.Length > 0 {
			padTo()
		}
		out = append(out, LaidFile{File: i, Length: f.Length})
		at += f.Length
	}
	if c.MultiFile {
		padTo()
	}
	return out
}

type buildFileV1 struct {
	Attr   string   `bencode:"attr,omitempty"`
	Length int64    `bencode:"length"`
	Path   []string `bencode:"path"`
}

type buildInfoV2 struct {
	FileTree    map[string]any `bencode:"file tree"`
	Files       []buildFileV1  `bencode:"files,omitempty"`
	Length      *int64         `bencode:"length,omitempty"`
	MetaVersion int64          `bencode:"meta version"`
	Name        string         `bencode:"name"`
	PieceLength int64          `bencode:"piece length"`
	Pieces      []byte         `bencode:"pieces,omitempty"`
	Private     bool           `bencode:"private,omitempty"`
	Source      string         `bencode:"source,omitempty"`
}

// BuildV2 encodes a v2-only torrent (pieces nil) or a hybrid one (pieces
// holds the SHA-1 hashes of the pieces of PieceAligned(c, piece length)),
// with files[i] the v2 hash of c.Files[i], and parses the result back as
// Build does. The piece length must be a power of two of at least 16 KiB.
func BuildV2(c *Content, files []FileHashV2, pieces []byte, opt BuildOptions) ([]byte, *Torrent, error) {
	if c.Total == 0 {
		return nil, nil, fmt.Errorf("%w: total size is 0", ErrEmptyContent)
	}
	if _, ok := merkle.PieceHeight(opt.PieceLength); !ok {
		return nil, nil, fmt.Errorf("%w: %d (v2 needs a power of two of at least 16 KiB)", ErrPieceLength, opt.PieceLength)
	}
	if len(files) != len(c.Files) {
		return nil, nil, fmt.Errorf("%w: %d hashes for %d files", ErrV2Hashes, len(files), len(c.Files))
	}
	name, err := buildName(c, opt)
	if err != nil {
		return nil, nil, err
	}
	info := buildInfoV2{FileTree: map[string]any{}, MetaVersion: 2, Name: name, PieceLength: opt.PieceLength, Private: opt.Private, Source: opt.Source}
	layers := map[string][]byte{}
	for i, f := range c.Files {
		path := f.Path
		if !c.MultiFile {
			path = []string{name}
		}
		leaf, err := v2Leaf(f, files[i], opt.PieceLength)
		if err != nil {
			return nil, nil, err
		}
		if err := addToTree(info.FileTree, path, leaf); err != nil {
			return nil, nil, err
		}
		if files[i].Layer != nil {
			layers[string(files[i].Root[:])] = files[i].Layer
		}
	}
	if pieces != nil {
		if err := hybridFiles(&info, c, pieces); err != nil {
			return nil, nil, err
		}
	}
	infoRaw, err := bencode.Marshal(info)
	if err != nil {
		return nil, nil, err
	}
	return encodeTorrent(infoRaw, layers, opt)
}

// v2Leaf is the file tree entry of one file, after checking that its hash
// has the shape its length calls for.
func v2Leaf(f SourceFile, h FileHashV2, pieceLength int64) (map[string]any, error) {
	props := map[string]any{"length": f.Length}
	n := merkle.NumPieces(f.Length, pieceLength)
	switch {
	case f.Length == 0:
		if h.Root != ([32]byte{}) || h.Layer != nil {
			return nil, fmt.Errorf("%w: empty file %v has a hash", ErrV2Hashes, f.Path)
		}
		return props, nil
	case n == 1 && h.Layer != nil, n > 1 && int64(len(h.Layer)) != n*merkle.HashSize:
		return nil, fmt.Errorf("%w: %v has %d bytes of piece layer for %d pieces", ErrV2Hashes, f.Path, len(h.Layer), n)
	}
	props["pieces root"] = h.Root[:]
	return props, nil
}

// addToTree puts a file's properties at path in a file tree.
func addToTree(tree map[string]any, path []string, props map[string]any) error {
	for _, dir := range path[:len(path)-1] {
		sub, ok := tree[dir].(map[string]any)
		if !ok {
			if _, taken := tree[dir]; taken {
				return fmt.Errorf("%w: %q is a file and a directory", ErrV2Hashes, dir)
			}
			sub = map[string]any{}
			tree[dir] = sub
		}
		tree = sub
	}
	tree[path[len(path)-1]] = map[string]any{"": props}
	return nil
}

// hybridFiles adds the v1 half of a hybrid: the file list with its pad
// files (or the length of a single file) and the SHA-1 piece hashes.
func hybridFiles(info *buildInfoV2, c *Content, pieces []byte) error {
	laid := PieceAligned(c, info.PieceLength)
	var total int64
	for _, l := range laid {
		total += l.Length
	}
	if want := (total + info.PieceLength - 1) / info.PieceLength; int64(len(pieces)) != want*sha1.Size {
		return fmt.Errorf("metainfo: %d bytes of piece hashes for %d pieces", len(pieces), want)
	}
	info.Pieces = pieces
	if !c.MultiFile {
		n := c.Files[0].Length
		info.Length = &n
		return nil
	}
	for _, l := range laid {
		if l.File < 0 {
			info.Files = append(info.Files, buildFileV1{Attr: "p", Length: l.Length, Path: []string{".pad", strconv.FormatInt(l.Length, 10)}})
			continue
		}
		f := c.Files[l.File]
		info.Files = append(info.Files, buildFileV1{Length: f.Length, Path: f.Path})
	}
	return nil
}
