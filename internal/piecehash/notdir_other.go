//go:build !unix

package piecehash

func isNotDir(error) bool { return false }
