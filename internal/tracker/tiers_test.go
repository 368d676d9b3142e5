package tracker

import (
	"context"
	"errors"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestNewTiers(t *testing.T) {
	list := [][]string{{"a1", "a2", "a3", "a4"}, {}, {"", "a2", "b1"}, {"c1"}}
	tiers := NewTiers(list, rand.New(rand.NewPCG(1, 2)))
	got := tiers.List()
	if len(got) != 3 || tiers.Len() != 6 {
		t.Fatalf("tiers %v", got)
	}
	if first := slices.Sorted(slices.Values(got[0])); !slices.Equal(first, []string{"a1", "a2", "a3", "a4"}) {
		t.Fatalf("first tier %v is not a permutation", got[0])
	}
	if !slices.Equal(got[1], []string{"b1"}) || !slices.Equal(got[2], []string{"c1"}) {
		t.Fatalf("tiers %v", got)
	}
	if !slices.Equal(tiers.Order(), slices.Concat(got...)) {
		t.Fatalf("order %v", tiers.Order())
	}
	// Same seed, same shuffle; the input is not modified.
	if again := NewTiers(list, rand.New(rand.NewPCG(1, 2))).List(); !reflect.DeepEqual(again, got) {
		t.Fatalf("shuffle not reproducible: %v vs %v", again, got)
	}
	if !slices.Equal(list[0], []string{"a1", "a2", "a3", "a4"}) {
		t.Fatal("input modified")
	}
	// Shuffling happens: some seed moves something.
	moved := false
	for seed := range uint64(20) {
		if !slices.Equal(NewTiers(list, rand.New(rand.NewPCG(seed, 0))).List()[0], list[0]) {
			moved = true
		}
	}
	if !moved {
		t.Fatal("tiers never shuffled")
	}
}

func TestTiersTry(t *testing.T) {
	tiers := &Tiers{tiers: [][]string{{"a1", "a2", "a3"}, {"b1", "b2"}, {"c1"}}}
	up := map[string]bool{"a3": true, "b2": true}
	var calls []string
	announce := func(ctx context.Context, u string) error {
		calls = append(calls, u)
		if up[u] {
			return nil
		}
		return errors.New("unreachable")
	}

	u, err := tiers.Try(t.Context(), announce)
	if err != nil || u != "a3" || !slices.Equal(calls, []string{"a1", "a2", "a3"}) {
		t.Fatalf("Try = %q, %v after %v", u, err, calls)
	}
	if got := tiers.List()[0]; !slices.Equal(got, []string{"a3", "a1", "a2"}) {
		t.Fatalf("responding tracker not moved to the front: %v", got)
	}

	// The first tier goes down: fall to the next tier.
	up["a3"] = false
	calls = nil
	u, err = tiers.Try(t.Context(), announce)
	if err != nil || u != "b2" || !slices.Equal(calls, []string{"a3", "a1", "a2", "b1", "b2"}) {
		t.Fatalf("Try = %q, %v after %v", u, err, calls)
	}
	if want := [][]string{{"a3", "a1", "a2"}, {"b2", "b1"}, {"c1"}}; !reflect.DeepEqual(tiers.List(), want) {
		t.Fatalf("tiers %v, want %v", tiers.List(), want)
	}

	// Everything down: every error is reported.
	up["b2"] = false
	calls = nil
	_, err = tiers.Try(t.Context(), announce)
	if err == nil || len(calls) != 6 || !strings.Contains(err.Error(), "c1: unreachable") {
		t.Fatalf("all down: %v after %v", err, calls)
	}

	// A cancelled context stops the walk.
	ctx, cancel := context.WithCancel(t.Context())
	calls = nil
	_, err = tiers.Try(ctx, func(ctx context.Context, u string) error {
		calls = append(calls, u)
		cancel()
		return ctx.Err()
	})
	if !errors.Is(err, context.Canceled) || len(calls) != 1 {
		t.Fatalf("cancelled: %v after %v", err, calls)
	}

	if _, err := NewTiers(nil, nil).Try(t.Context(), announce); !errors.Is(err, ErrNoTrackers) {
		t.Fatalf("empty: %v", err)
	}
}

func TestSchedule(t *testing.T) {
	t0 := time.Date(2024, 1, 1, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	var s Schedule
	if !s.Earliest().IsZero() {
		t.Fatal("Earliest before any announce")
	}
	steps := []struct {
		name string
		resp *AnnounceResponse // nil for a failure
		want time.Duration
	}{
		{"interval", &AnnounceResponse{Interval: 20 * time.Minute}, 20 * time.Minute},
		{"no interval", &AnnounceResponse{}, 30 * time.Minute},
		{"min interval wins", &AnnounceResponse{Interval: time.Minute, MinInterval: 5 * time.Minute}, 5 * time.Minute},
		{"floor", &AnnounceResponse{Interval: time.Second}, 30 * time.Second},
		{"failure 1", nil, 15 * time.Second},
		{"failure 2", nil, 30 * time.Second},
		{"failure 3", nil, time.Minute},
		{"failure 4", nil, 2 * time.Minute},
		{"failure 5", nil, 4 * time.Minute},
		{"failure 6", nil, 8 * time.Minute},
		{"failure 7", nil, 16 * time.Minute},
		{"failure 8", nil, 30 * time.Minute},
		{"failure 9", nil, 30 * time.Minute},
		{"success resets", &AnnounceResponse{Interval: 10 * time.Minute, MinInterval: 2 * time.Minute}, 10 * time.Minute},
		{"failure again", nil, 15 * time.Second},
	}
	for _, st := range steps {
		var next time.Time
		if st.resp != nil {
			next = s.Succeeded(t0, st.resp)
		} else {
			next = s.Failed(t0)
		}
		if next != at(st.want) {
			t.Fatalf("%s: next in %v, want %v", st.name, next.Sub(t0), st.want)
		}
	}
	if s.Failures() != 1 || s.Earliest() != at(2*time.Minute) {
		t.Fatalf("failures %d, earliest %v", s.Failures(), s.Earliest().Sub(t0))
	}

	custom := Schedule{DefaultInterval: time.Hour, Floor: time.Second, RetryBase: time.Second, MaxBackoff: 3 * time.Second}
	if got := custom.Succeeded(t0, &AnnounceResponse{Interval: 2 * time.Second}); got != at(2*time.Second) {
		t.Fatalf("custom floor: %v", got.Sub(t0))
	}
	if got := custom.Succeeded(t0, &AnnounceResponse{}); got != at(time.Hour) {
		t.Fatalf("custom default: %v", got.Sub(t0))
	}
	for i, want := range []time.Duration{time.Second, 2 * time.Second, 3 * time.Second, 3 * time.Second} {
		if got := custom.Failed(t0); got != at(want) {
			t.Fatalf("custom failure %d: %v, want %v", i+1, got.Sub(t0), want)
		}
	}
}
