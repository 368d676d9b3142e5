package app

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"
)

// hugeAdvised sums the sizes of the mappings marked MADV_HUGEPAGE ("hg").
func hugeAdvised(t *testing.T) int64 {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Skip(err)
	}
	defer f.Close()
	var total, size int64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		switch {
		case len(fields) >= 2 && fields[0] == "Size:":
			size, _ = strconv.ParseInt(fields[1], 10, 64)
		case len(fields) >= 1 && fields[0] == "VmFlags:":
			for _, fl := range fields[1:] {
				if fl == "hg" {
					total += size << 10
				}
			}
		}
	}
	return total
}

func TestGrowHeapHuge(t *testing.T) {
	if _, err := os.Stat("/sys/kernel/mm/transparent_hugepage/enabled"); err != nil {
		t.Skip("no transparent huge pages here")
	}
	before := hugeAdvised(t)
	growHeapHuge(1 << 20) // too small to matter: nothing happens
	if got := hugeAdvised(t); got != before {
		t.Fatalf("1 MiB: %d bytes advised, before %d", got, before)
	}
	growHeapHuge(48 << 20)
	if got := hugeAdvised(t) - before; got < 40<<20 {
		t.Fatalf("48 MiB: %d bytes advised", got)
	}
	// The range is free again: allocations fill it.
	b := make([]byte, 32<<20)
	for i := range b {
		b[i] = byte(i)
	}
	if b[len(b)-1] != byte(len(b)-1) {
		t.Fatal("memory")
	}
}
