//go:build linux && (amd64 || arm64 || riscv64 || loong64)

package piecehash

import (
	"context"
	"sync/atomic"
	"testing"
)

// Direct reads, which start and end at any offset of a piece, give the
// same v2 sums.
func TestHashV2Direct(t *testing.T) {
	dir := t.TempDir()
	requireDirect(t, dir)
	pl := int64(16 << 10)
	files, content := makeFiles(t, dir, alignedSpecs([]int64{70001, 0, 3, 200000}, pl))
	var n atomic.Int64
	got, err := HashV2(context.Background(), files, pl, true, Options{Workers: 2, hooks: countDirect(&n)})
	if err != nil {
		t.Fatal(err)
	}
	if n.Load() == 0 {
		t.Fatal("no direct reads")
	}
	checkSums(t, got, refV2(t, files, content, pl), refHash(content, pl))
}
