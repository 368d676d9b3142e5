//go:build !linux

package app

import "io"

func isTerminal(w io.Writer) bool { return false }
