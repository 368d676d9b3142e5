package main

import (
	"slices"
	"testing"

	"tt/internal/app"
)

func TestReorderArgs(t *testing.T) {
	a := newApp(&app.Env{})
	for _, tc := range []struct{ in, want []string }{
		{[]string{"tt", "create", "dir", "-o", "x", "--private"}, []string{"tt", "create", "-o", "x", "--private", "--", "dir"}},
		{[]string{"tt", "verify", "t.torrent", "--json", "data"}, []string{"tt", "verify", "--json", "--", "t.torrent", "data"}},
		{[]string{"tt", "inspect", "-", "--json"}, []string{"tt", "inspect", "--json", "--", "-"}},
		{[]string{"tt", "create", "--", "-odd-name"}, []string{"tt", "create", "--", "-odd-name"}},
		{[]string{"tt", "create", "-l=16KiB", "d"}, []string{"tt", "create", "-l=16KiB", "--", "d"}},
		{[]string{"tt", "--help"}, []string{"tt", "--help"}},
		{[]string{"tt", "nosuch", "x"}, []string{"tt", "nosuch", "x"}},
	} {
		if got := reorderArgs(a, tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("reorderArgs(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
