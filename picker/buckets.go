package picker

import "math/rand/v2"

// buckets holds the fresh pieces of one priority level ordered by
// availability: order is a permutation of those pieces where bucket a (all
// pieces held by exactly a non-seed peers) occupies order[start[a]:start[a+1]].
// start has one entry per bucket plus a final sentinel equal to len(order).
//
// A piece whose availability changes by one moves to the neighbouring
// bucket with a single swap across the shared boundary, so a have message
// costs O(1). Inserting or removing a piece walks the boundaries above its
// bucket, O(number of buckets), which is at most one more than the largest
// number of peers seen at once. Every piece entering a bucket is swapped to
// a uniformly random position inside it, so each bucket stays in uniformly
// random order: taking pieces front to back is rarest first with random
// choice among equal availability, and a piece's index in order is a
// complete sort key.
type buckets struct {
	order []int32
	start []int32
	pos   []int32 // shared by all levels: pos[piece] is its index in order, -1 if absent
}

func (b *buckets) reset(pos []int32) {
	b.order = b.order[:0]
	b.start = append(b.start[:0], 0)
	b.pos = pos
}

func (b *buckets) swap(i, j int32) {
	pi, pj := b.order[i], b.order[j]
	b.order[i], b.order[j] = pj, pi
	b.pos[pj] = i
	b.pos[pi] = j
}

// grow makes sure buckets 0..k-1 exist.
func (b *buckets) grow(k int) {
	for len(b.start)-1 < k {
		b.start = append(b.start, int32(len(b.order)))
	}
}

// shuffleInto moves the element at index i, which lies in bucket a, to a
// uniformly random index of that bucket.
func (b *buckets) shuffleInto(i int32, a int, rng *rand.Rand) {
	lo, hi := b.start[a], b.start[a+1]
	if hi-lo > 1 {
		b.swap(i, lo+rng.Int32N(hi-lo))
	}
}

// insert adds piece p with availability a.
func (b *buckets) insert(p int32, a int, rng *rand.Rand) {
	b.grow(a + 1)
	i := int32(len(b.order))
	b.order = append(b.order, p)
	b.pos[p] = i
	k := len(b.start) - 1
	b.start[k] = i + 1 // p is now the last element of the last bucket
	for c := k - 1; c > a; c-- {
		j := b.start[c]
		b.swap(i, j)
		b.start[c] = j + 1
		i = j
	}
	b.shuffleInto(i, a, rng)
}

// remove deletes piece p, whose availability is a.
func (b *buckets) remove(p int32, a int) {
	i := b.pos[p]
	k := len(b.start) - 1
	for c := a; c < k; c++ {
		last := b.start[c+1] - 1
		b.swap(i, last)
		i = last
		b.start[c+1] = last // p leaves bucket c and becomes the first of c+1
	}
	b.order = b.order[:i]
	b.pos[p] = -1
}

// inc moves piece p from bucket a to bucket a+1.
func (b *buckets) inc(p int32, a int, rng *rand.Rand) {
	b.grow(a + 2)
	last := b.start[a+1] - 1
	b.swap(b.pos[p], last)
	b.start[a+1] = last
	b.shuffleInto(last, a+1, rng)
}

// dec moves piece p from bucket a to bucket a-1.
func (b *buckets) dec(p int32, a int, rng *rand.Rand) {
	first := b.start[a]
	b.swap(b.pos[p], first)
	b.start[a] = first + 1
	b.shuffleInto(first, a-1, rng)
}

// build replaces the contents with pieces, using avail for their buckets.
// pieces is shuffled in place.
func (b *buckets) build(pieces []int32, avail []int32, rng *rand.Rand) {
	rng.Shuffle(len(pieces), func(i, j int) { pieces[i], pieces[j] = pieces[j], pieces[i] })
	maxA := int32(-1)
	for _, p := range pieces {
		maxA = max(maxA, avail[p])
	}
	k := int(maxA) + 1
	b.start = b.start[:0]
	for range k + 1 {
		b.start = append(b.start, 0)
	}
	for _, p := range pieces {
		b.start[avail[p]+1]++
	}
	for c := 1; c <= k; c++ {
		b.start[c] += b.start[c-1]
	}
	if cap(b.order) < len(pieces) {
		b.order = make([]int32, len(pieces))
	}
	b.order = b.order[:len(pieces)]
	fill := append([]int32(nil), b.start[:k]...)
	for _, p := range pieces {
		a := avail[p]
		b.order[fill[a]] = p
		b.pos[p] = fill[a]
		fill[a]++
	}
}
