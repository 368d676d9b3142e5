//go:build !(linux && (amd64 || arm64 || riscv64 || loong64))

package piecehash

import "os"

const havePrefetch = false

func adviseSequential(*os.File) {}

func adviseWillNeed(*os.File, int64, int64) {}
