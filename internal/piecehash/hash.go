package piecehash

import (
	"context"
	"crypto/sha1"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
)

// Hash returns the concatenated 20-byte SHA-1 digests of every piece of the
// content made of files. Every non-pad file must exist and be exactly Length
// bytes. A file that is missing, is not a regular file, has another size, or
// changes (size or modification time) while it is read makes Hash fail with
// an error naming the file that wraps the fs error, ErrNotRegular,
// ErrWrongSize or ErrFileChanged. If ctx is cancelled Hash returns ctx.Err().
func Hash(ctx context.Context, files []File, pieceLen int64, opt Options) ([]byte, error) {
	l, err := newLayout(files, pieceLen)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	info, err := statChecked(files)
	if err != nil {
		return nil, err
	}
	e := &engine{l: l, workers: opt.workers(), out: make([]byte, l.n*sha1.Size), info: info, hooks: opt.hooks}
	if err := e.run(ctx, opt.Progress); err != nil {
		return nil, err
	}
	return e.out, nil
}

// statChecked stats every non-pad file and refuses one that is missing,
// is not a regular file or does not have its length.
func statChecked(files []File) ([]statInfo, error) {
	info := statAll(files)
	for i, f := range files {
		if f.Pad {
			continue
		}
		in := &info[i]
		switch {
		case in.err != nil:
			return nil, in.err
		case !in.regular:
			return nil, fmt.Errorf("%s: %w", f.Path, ErrNotRegular)
		case in.size != f.Length:
			return nil, fmt.Errorf("%s: %w: %d bytes on disk, expected %d", f.Path, ErrWrongSize, in.size, f.Length)
		}
	}
	return info, nil
}

// statAll stats every non-pad file, several at a time when there are many
// so that a cold metadata cache costs less.
func statAll(files []File) []statInfo {
	info := make([]statInfo, len(files))
	n := len(files)
	g := min(8, 1+n/64)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range g {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if files[i].Pad {
					continue
				}
				st, err := os.Stat(files[i].Path)
				in := &info[i]
				if err != nil {
					in.err, in.size = err, -1
					continue
				}
				in.regular = st.Mode().IsRegular()
				in.size, in.mtime = st.Size(), st.ModTime()
			}
		}()
	}
	wg.Wait()
	return info
}
