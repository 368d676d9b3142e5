package storage

import (
	"bytes"
	"context"
	"crypto/sha1"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"tt/metainfo"
)

// fixture builds a torrent over files of the given sizes (a multi-file
// torrent unless there is one size and single is set) and returns it with
// its content.
func fixture(t *testing.T, sizes []int64, pieceLen int64, single bool) (*metainfo.Torrent, []byte, string) {
	t.Helper()
	src := filepath.Join(t.TempDir(), "content")
	rng := mrand.New(mrand.NewPCG(uint64(len(sizes)), uint64(pieceLen)))
	var content []byte
	if single {
		b := make([]byte, sizes[0])
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		content = b
		if err := os.WriteFile(src, b, 0o644); err != nil {
			t.Fatal(err)
		}
	} else {
		for i, n := range sizes {
			b := make([]byte, n)
			for j := range b {
				b[j] = byte(rng.Uint32())
			}
			content = append(content, b...)
			p := filepath.Join(src, fmt.Sprintf("d%d", i%2), fmt.Sprintf("f%d", i))
			os.MkdirAll(filepath.Dir(p), 0o755)
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	c, err := metainfo.Scan(src, metainfo.ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Scan orders files by path; rebuild the content in that order.
	content = content[:0]
	for _, f := range c.Files {
		b, err := os.ReadFile(f.OSPath)
		if err != nil {
			t.Fatal(err)
		}
		content = append(content, b...)
	}
	var pieces []byte
	for off := int64(0); off < int64(len(content)); off += pieceLen {
		h := sha1.Sum(content[off:min(off+pieceLen, int64(len(content)))])
		pieces = append(pieces, h[:]...)
	}
	_, tor, err := metainfo.Build(c, pieces, metainfo.BuildOptions{PieceLength: pieceLen})
	if err != nil {
		t.Fatal(err)
	}
	return tor, content, src
}

// writeAll writes every piece of content in a random order, in blocks.
func writeAll(t *testing.T, s *Storage, tor *metainfo.Torrent, content []byte, block int64) {
	t.Helper()
	type blk struct {
		piece int
		begin int64
	}
	var all []blk
	for p := 0; p < tor.NumPieces(); p++ {
		for b := int64(0); b < tor.PieceLen(p); b += block {
			all = append(all, blk{p, b})
		}
	}
	rng := mrand.New(mrand.NewPCG(1, 2))
	rng.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
	for _, b := range all {
		off := int64(b.piece)*tor.Info.PieceLength + b.begin
		n := min(block, tor.PieceLen(b.piece)-b.begin)
		if err := s.WriteBlock(b.piece, b.begin, content[off:off+n]); err != nil {
			t.Fatal(err)
		}
	}
}

func TestWriteReadHashAcrossFiles(t *testing.T) {
	// An empty file, files inside one piece, files straddling pieces, a short last piece.
	tor, content, _ := fixture(t, []int64{40000, 0, 1, 3, 70001, 16384}, 32768, false)
	dir := t.TempDir()
	s, err := Open(tor, dir, Options{MaxOpen: 2}) // few handles: eviction is exercised
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	writeAll(t, s, tor, content, 5000)
	if err := s.Finish(); err != nil {
		t.Fatal(err)
	}
	for p := 0; p < tor.NumPieces(); p++ {
		sum, err := s.HashPiece(p)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(sum[:], tor.PieceHash(p)) {
			t.Fatalf("piece %d hash differs", p)
		}
	}
	buf := make([]byte, 100)
	if _, err := s.ReadBlock(1, 32768-50, buf[:50]); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf[:50], content[65536-50:65536]) {
		t.Fatal("ReadBlock returned other bytes")
	}
	for i, f := range tor.Info.Files {
		got, err := os.ReadFile(filepath.Join(dir, tor.Info.Name, filepath.Join(f.Path...)))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, content[f.Offset:f.Offset+f.Length]) {
			t.Fatalf("file %d differs", i)
		}
	}
	have, err := s.Check(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for p, ok := range have {
		if !ok {
			t.Fatalf("Check: piece %d not ok", p)
		}
	}
}

func TestRangeErrors(t *testing.T) {
	tor, _, _ := fixture(t, []int64{50000}, 16384, true)
	s, err := Open(tor, t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	last := tor.NumPieces() - 1
	for _, c := range []struct {
		piece int
		begin int64
		n     int
	}{{-1, 0, 1}, {last + 1, 0, 1}, {0, -1, 1}, {0, 16384, 1}, {last, tor.PieceLen(last) - 1, 2}} {
		if err := s.WriteBlock(c.piece, c.begin, make([]byte, c.n)); !errors.Is(err, ErrRange) {
			t.Errorf("WriteBlock(%d, %d, %d): %v, want ErrRange", c.piece, c.begin, c.n, err)
		}
		if _, err := s.ReadBlock(c.piece, c.begin, make([]byte, c.n)); !errors.Is(err, ErrRange) {
			t.Errorf("ReadBlock(%d, %d, %d): %v, want ErrRange", c.piece, c.begin, c.n, err)
		}
	}
	if _, err := s.HashPiece(last + 1); !errors.Is(err, ErrRange) {
		t.Errorf("HashPiece out of range: %v", err)
	}
}

func TestSparseFullLengthOnFirstWrite(t *testing.T) {
	tor, content, _ := fixture(t, []int64{100000}, 16384, true)
	dir := t.TempDir()
	s, err := Open(tor, dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := os.Stat(filepath.Join(dir, tor.Info.Name)); !os.IsNotExist(err) {
		t.Fatalf("Open created the file: %v", err)
	}
	if err := s.WriteBlock(3, 0, content[3*16384:4*16384]); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, tor.Info.Name))
	if err != nil || fi.Size() != 100000 {
		t.Fatalf("after one block: %v, size %d, want 100000", err, fi.Size())
	}
	have, err := s.Check(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for p, ok := range have {
		if ok != (p == 3) {
			t.Fatalf("Check: piece %d = %v", p, ok)
		}
	}
}

func TestSymlinkOutsideRefused(t *testing.T) {
	tor, content, _ := fixture(t, []int64{1000, 2000}, 16384, false)
	dir, outside := t.TempDir(), t.TempDir()
	if err := os.Symlink(outside, filepath.Join(dir, tor.Info.Name)); err != nil {
		t.Fatal(err)
	}
	s, err := Open(tor, dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.WriteBlock(0, 0, content); err == nil {
		t.Fatal("write through a symlink leaving the directory succeeded")
	}
	if ents, _ := os.ReadDir(outside); len(ents) != 0 {
		t.Fatalf("wrote outside the download directory: %v", ents)
	}
}

func TestSeedReadOnlyContentPath(t *testing.T) {
	for _, single := range []bool{true, false} {
		t.Run(fmt.Sprint("single=", single), func(t *testing.T) {
			tor, content, src := fixture(t, []int64{30000, 5}, 16384, single)
			s, err := Open(tor, "", Options{ContentPath: src, ReadOnly: true})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			have, err := s.Check(context.Background(), nil)
			if err != nil {
				t.Fatal(err)
			}
			for p, ok := range have {
				if !ok {
					t.Fatalf("piece %d not found in %s", p, src)
				}
			}
			buf := make([]byte, tor.PieceLen(1))
			if _, err := s.ReadBlock(1, 0, buf); err != nil || !bytes.Equal(buf, content[16384:16384+len(buf)]) {
				t.Fatalf("ReadBlock: %v", err)
			}
			if err := s.WriteBlock(0, 0, []byte{1}); !errors.Is(err, ErrReadOnly) {
				t.Fatalf("write to read-only storage: %v", err)
			}
		})
	}
}

func TestShortFileRead(t *testing.T) {
	tor, _, src := fixture(t, []int64{40000}, 16384, true)
	if err := os.Truncate(src, 20000); err != nil {
		t.Fatal(err)
	}
	s, err := Open(tor, "", Options{ContentPath: src, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.ReadBlock(1, 0, make([]byte, 16384)); !errors.Is(err, ErrShort) {
		t.Fatalf("read past the end: %v, want ErrShort", err)
	}
	have, err := s.Check(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !have[0] || have[1] || have[2] {
		t.Fatalf("Check of a short file: %v", have)
	}
}

func TestResume(t *testing.T) {
	tor, content, _ := fixture(t, []int64{40000, 3, 30000}, 16384, false)
	dir := t.TempDir()
	s, err := Open(tor, dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, ok := s.LoadResume(); ok {
		t.Fatal("resume without a resume file")
	}
	writeAll(t, s, tor, content, 16384)
	have := make([]bool, tor.NumPieces())
	have[0], have[2] = true, true
	if err := s.SaveResume(have); err != nil {
		t.Fatal(err)
	}
	got, ok := s.LoadResume()
	if !ok || fmt.Sprint(got) != fmt.Sprint(have) {
		t.Fatalf("LoadResume = %v, %v; want %v", got, ok, have)
	}
	// A torrent with another infohash ignores it.
	other, _, _ := fixture(t, []int64{40000, 3, 30001}, 16384, false)
	s2, err := Open(other, dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s2.LoadResume(); ok {
		t.Fatal("resume file of another torrent accepted")
	}
	s2.Close()
	// Touching a file invalidates it.
	f0 := filepath.Join(dir, tor.Info.Name, filepath.Join(tor.Info.Files[0].Path...))
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(f0, later, later); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.LoadResume(); ok {
		t.Fatal("resume accepted after a file changed")
	}
	// Garbage is ignored, not trusted.
	if err := os.WriteFile(filepath.Join(dir, s.ResumeName()), []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.LoadResume(); ok {
		t.Fatal("garbage resume file accepted")
	}
	if err := s.RemoveResume(); err != nil {
		t.Fatal(err)
	}
	if err := s.RemoveResume(); err != nil {
		t.Fatalf("removing twice: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, s.ResumeName())); !os.IsNotExist(err) {
		t.Fatal("resume file still there")
	}
}

func TestConcurrentAccess(t *testing.T) {
	tor, content, _ := fixture(t, []int64{300000, 7, 200000}, 16384, false)
	s, err := Open(tor, t.TempDir(), Options{MaxOpen: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	writeAll(t, s, tor, content, 16384)
	errs := make(chan error, 4)
	for w := 0; w < 4; w++ {
		go func(w int) {
			for p := w; p < tor.NumPieces(); p += 4 {
				sum, err := s.HashPiece(p)
				if err == nil && !bytes.Equal(sum[:], tor.PieceHash(p)) {
					err = fmt.Errorf("piece %d differs", p)
				}
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}(w)
	}
	for w := 0; w < 4; w++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

// TestSeedThroughSymlink: content the user points at through a symbolic
// link is served (only writes are confined to the directory).
func TestSeedThroughSymlink(t *testing.T) {
	tor, content, src := fixture(t, []int64{40000}, 16384, true)
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(src, link); err != nil {
		t.Fatal(err)
	}
	s, err := Open(tor, "", Options{ContentPath: link, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	buf := make([]byte, 16384)
	if _, err := s.ReadBlock(1, 0, buf); err != nil || !bytes.Equal(buf, content[16384:32768]) {
		t.Fatalf("ReadBlock through a link: %v", err)
	}
}

func TestPrepareCreatesWantedFiles(t *testing.T) {
	sizes := make([]int64, 40)
	for i := range sizes {
		sizes[i] = int64(100 + i)
	}
	tor, content, _ := fixture(t, sizes, 16384, false)
	skip := make([]bool, len(tor.Info.Files))
	skip[3] = true
	dir := t.TempDir()
	s, err := Open(tor, dir, Options{Skip: skip})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Prepare(context.Background(), 4); err != nil {
		t.Fatal(err)
	}
	for i, f := range tor.Info.Files {
		fi, err := os.Stat(s.FilePath(i))
		switch {
		case i == 3 && err == nil:
			t.Fatal("a skipped file was created")
		case i != 3 && (err != nil || fi.Size() != f.Length):
			t.Fatalf("file %d: %v", i, err)
		}
	}
	writeAll(t, s, tor, content, 16384)
	for i, f := range tor.Info.Files {
		if i == 3 {
			continue
		}
		b, _ := os.ReadFile(s.FilePath(i))
		if !bytes.Equal(b, content[f.Offset:f.Offset+f.Length]) {
			t.Fatalf("file %d differs after writing", i)
		}
	}
}
