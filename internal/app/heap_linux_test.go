package app

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"
)

// hugeAdvised reports whether every mapping that overlaps [addr, addr+size)
// is marked MADV_HUGEPAGE ("hg" in /proc/self/smaps), and whether any does.
func hugeAdvised(t *testing.T, addr, size uintptr) (all, any bool) {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Skip(err)
	}
	defer f.Close()
	all = true
	var overlaps bool
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		if lo, hi, ok := strings.Cut(fields[0], "-"); ok && len(fields) >= 5 {
			b, err1 := strconv.ParseUint(lo, 16, 64)
			e, err2 := strconv.ParseUint(hi, 16, 64)
			if err1 == nil && err2 == nil {
				overlaps = uintptr(b) < addr+size && addr < uintptr(e)
				continue
			}
		}
		if fields[0] == "VmFlags:" && overlaps {
			hg := false
			for _, fl := range fields[1:] {
				hg = hg || fl == "hg"
			}
			all, any = all && hg, any || hg
		}
	}
	return all && any, any
}

// TestGrowHeapHuge: a small request does nothing; a large one advises a
// range of at least most of it, and smaps shows that range marked.
func TestGrowHeapHuge(t *testing.T) {
	if _, err := os.Stat("/sys/kernel/mm/transparent_hugepage/enabled"); err != nil {
		t.Skip("no transparent huge pages here")
	}
	if _, n := growHeapHuge(1 << 20); n != 0 {
		t.Fatalf("1 MiB: %d bytes advised, want none", n)
	}
	addr, n := growHeapHuge(48 << 20)
	if n < 40<<20 {
		t.Fatalf("48 MiB: %d bytes advised", n)
	}
	if all, _ := hugeAdvised(t, addr, n); !all {
		t.Fatalf("the advised range %#x+%d is not marked hg in smaps", addr, n)
	}
}
