package storage

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
)

// resumeFormat names the layout of the resume file; a file of another
// format is ignored (and a full check runs).
const resumeFormat = "tt.resume/1"

// resumeLimit bounds what LoadResume reads: a bitfield of 2^24 pieces and
// the sizes of a million files fit well within it.
const resumeLimit = 64 << 20

type resumeFile struct {
	Format   string       `json:"format"`
	InfoHash string       `json:"infohash"`
	Pieces   int          `json:"pieces"`
	Have     []byte       `json:"have"` // bitfield, high bit first
	Files    []resumeStat `json:"files"`
}

type resumeStat struct {
	Size  int64 `json:"size"`  // -1: absent
	MTime int64 `json:"mtime"` // nanoseconds since the epoch
}

// ResumeName is the resume file's name inside Dir: hidden, and fixed in
// length whatever the torrent's name.
func (s *Storage) ResumeName() string {
	return ".tt-resume-" + hex.EncodeToString(s.t.InfoHash[:])
}

// stats records the size and modification time of every file.
func (s *Storage) stats() []resumeStat {
	out := make([]resumeStat, len(s.names))
	for i, name := range s.names {
		out[i] = resumeStat{Size: -1}
		if name == "" {
			out[i].Size = 0
			continue
		}
		if fi, err := s.root.Stat(name); err == nil && fi.Mode().IsRegular() {
			out[i] = resumeStat{Size: fi.Size(), MTime: fi.ModTime().UnixNano()}
		}
	}
	return out
}

// SaveResume records the verified pieces, atomically. It must be called
// when no writes are in flight, so that the recorded times are final.
func (s *Storage) SaveResume(have []bool) error {
	if s.ro {
		return ErrReadOnly
	}
	if len(have) != s.t.NumPieces() {
		return fmt.Errorf("storage: resume: %d pieces, torrent has %d", len(have), s.t.NumPieces())
	}
	bits := make([]byte, (len(have)+7)/8)
	for i, h := range have {
		if h {
			bits[i/8] |= 0x80 >> (i % 8)
		}
	}
	rf := resumeFile{Format: resumeFormat, InfoHash: hex.EncodeToString(s.t.InfoHash[:]), Pieces: len(have), Have: bits, Files: s.stats()}
	data, err := json.Marshal(rf)
	if err != nil {
		return err
	}
	name := s.ResumeName()
	tmp := name + ".tmp"
	if err := s.root.WriteFile(tmp, data, 0o644); err != nil {
		s.root.Remove(tmp)
		return diskError(err)
	}
	if err := s.root.Rename(tmp, name); err != nil {
		s.root.Remove(tmp)
		return err
	}
	return nil
}

// LoadResume returns the verified pieces recorded by SaveResume, and false
// when there is no resume file or the files changed since it was written.
func (s *Storage) LoadResume() ([]bool, bool) {
	f, err := s.root.Open(s.ResumeName())
	if err != nil {
		return nil, false
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || fi.Size() > resumeLimit {
		return nil, false
	}
	var rf resumeFile
	if err := json.NewDecoder(f).Decode(&rf); err != nil {
		return nil, false
	}
	n := s.t.NumPieces()
	if rf.Format != resumeFormat || rf.InfoHash != hex.EncodeToString(s.t.InfoHash[:]) ||
		rf.Pieces != n || len(rf.Have) != (n+7)/8 || len(rf.Files) != len(s.names) {
		return nil, false
	}
	now := s.stats()
	for i := range now {
		if now[i] != rf.Files[i] {
			return nil, false
		}
	}
	have := make([]bool, n)
	for i := range have {
		have[i] = rf.Have[i/8]&(0x80>>(i%8)) != 0
	}
	return have, true
}

// RemoveResume deletes the resume file, if any.
func (s *Storage) RemoveResume() error {
	err := s.root.Remove(s.ResumeName())
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}
