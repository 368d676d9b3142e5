//go:build unix

package piecehash

import (
	"errors"
	"syscall"
)

// isNotDir reports whether err says that a path component is not a directory.
func isNotDir(err error) bool { return errors.Is(err, syscall.ENOTDIR) }
