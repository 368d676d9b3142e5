//go:build !linux

package app

import "io"

// isTerminal reports false: the live view is built and tested for Linux
// terminals only, so elsewhere output is always the plain line form.
func isTerminal(w io.Writer) bool { return false }
