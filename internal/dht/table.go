package dht

import (
	"math/bits"
	"net/netip"
	"slices"
	"time"
)

// Node states (BEP 5): a node is good while it answered within the last
// 15 minutes; questionable after that; bad once it failed to answer several
// queries in a row.
const (
	questionableAfter = 15 * time.Minute
	badAfterFailures  = 2
)

type node struct {
	NodeInfo
	lastReply time.Time
	fails     int
}

func (n *node) bad() bool { return n.fails >= badAfterFailures }

func (n *node) questionable(now time.Time) bool {
	return n.fails > 0 || now.Sub(n.lastReply) > questionableAfter
}

type bucket struct {
	nodes   []*node
	spare   []*node // replacement cache: answered, waiting for room
	changed time.Time
}

// table is the routing table: buckets indexed by how many leading bits a
// node's id shares with ours. The last bucket holds every node sharing at
// least that many bits; when it overflows it splits, which is BEP 5's
// splitting of the bucket whose range contains our own id.
type table struct {
	self    ID
	k       int
	buckets []*bucket
	byAddr  map[netip.AddrPort]*node
}

func newTable(self ID, k int, now time.Time) *table {
	return &table{self: self, k: k, buckets: []*bucket{{changed: now}}, byAddr: make(map[netip.AddrPort]*node)}
}

// commonPrefix is the number of leading bits a and b share (160 if equal).
func commonPrefix(a, b ID) int {
	for i := range a {
		if x := a[i] ^ b[i]; x != 0 {
			return i*8 + bits.LeadingZeros8(x)
		}
	}
	return 160
}

func (t *table) bucketFor(id ID) int {
	return min(commonPrefix(t.self, id), len(t.buckets)-1)
}

func (t *table) len() int { return len(t.byAddr) }

// seen records that n answered a query. It returns a questionable node the
// caller should ping when n could only be kept as a spare.
func (t *table) seen(n NodeInfo, now time.Time) (ping *node) {
	if n.ID == t.self {
		return nil
	}
	if old, ok := t.byAddr[n.Addr]; ok {
		if old.ID == n.ID {
			old.lastReply, old.fails = now, 0
			return nil
		}
		// The address now answers with another id: forget the old one.
		t.remove(old)
	}
	for {
		i := t.bucketFor(n.ID)
		b := t.buckets[i]
		if j := slices.IndexFunc(b.nodes, func(x *node) bool { return x.ID == n.ID }); j >= 0 {
			// Same id, new address: keep the node that answers.
			delete(t.byAddr, b.nodes[j].Addr)
			b.nodes[j].Addr, b.nodes[j].lastReply, b.nodes[j].fails = n.Addr, now, 0
			t.byAddr[n.Addr] = b.nodes[j]
			return nil
		}
		if len(b.nodes) < t.k {
			nn := &node{NodeInfo: n, lastReply: now}
			b.nodes = append(b.nodes, nn)
			b.changed = now
			t.byAddr[n.Addr] = nn
			b.spare = slices.DeleteFunc(b.spare, func(x *node) bool { return x.Addr == n.Addr })
			return nil
		}
		if i == len(t.buckets)-1 && len(t.buckets) < 160 {
			t.split()
			continue
		}
		if j := slices.IndexFunc(b.nodes, (*node).bad); j >= 0 {
			delete(t.byAddr, b.nodes[j].Addr)
			nn := &node{NodeInfo: n, lastReply: now}
			b.nodes[j] = nn
			b.changed = now
			t.byAddr[n.Addr] = nn
			return nil
		}
		b.spare = slices.DeleteFunc(b.spare, func(x *node) bool { return x.Addr == n.Addr || x.ID == n.ID })
		b.spare = append(b.spare, &node{NodeInfo: n, lastReply: now})
		if len(b.spare) > t.k {
			b.spare = b.spare[1:]
		}
		// Ping the most stale questionable node; if it fails it is replaced.
		var stale *node
		for _, x := range b.nodes {
			if x.questionable(now) && (stale == nil || x.lastReply.Before(stale.lastReply)) {
				stale = x
			}
		}
		return stale
	}
}

// split moves the nodes of the last bucket that share one more bit with us
// into a new last bucket.
func (t *table) split() {
	last := t.buckets[len(t.buckets)-1]
	depth := len(t.buckets) - 1
	near := &bucket{changed: last.changed}
	near.nodes, last.nodes = t.partition(last.nodes, depth)
	near.spare, last.spare = t.partition(last.spare, depth)
	t.buckets = append(t.buckets, near)
}

// partition splits ns into the nodes sharing more than depth bits with us
// and the others.
func (t *table) partition(ns []*node, depth int) (near, far []*node) {
	for _, n := range ns {
		if commonPrefix(t.self, n.ID) > depth {
			near = append(near, n)
		} else {
			far = append(far, n)
		}
	}
	return near, far
}

// failed records that the node at addr did not answer. A bad node is
// replaced by the newest spare of its bucket, if any.
func (t *table) failed(addr netip.AddrPort) {
	n, ok := t.byAddr[addr]
	if !ok {
		return
	}
	n.fails++
	if !n.bad() {
		return
	}
	b := t.buckets[t.bucketFor(n.ID)]
	if len(b.spare) == 0 {
		return
	}
	s := b.spare[len(b.spare)-1]
	b.spare = b.spare[:len(b.spare)-1]
	t.remove(n)
	b.nodes = append(b.nodes, s)
	t.byAddr[s.Addr] = s
}

func (t *table) remove(n *node) {
	b := t.buckets[t.bucketFor(n.ID)]
	b.nodes = slices.DeleteFunc(b.nodes, func(x *node) bool { return x == n })
	delete(t.byAddr, n.Addr)
}

// closest returns up to n good-or-questionable nodes nearest to target.
func (t *table) closest(target ID, n int) []NodeInfo {
	all := make([]NodeInfo, 0, len(t.byAddr))
	for _, b := range t.buckets {
		for _, x := range b.nodes {
			if !x.bad() {
				all = append(all, x.NodeInfo)
			}
		}
	}
	sortByDistance(all, target)
	return all[:min(n, len(all))]
}

// stale returns, for each bucket unchanged for longer than d, a random id
// in its range to look up (BEP 5 refresh).
func (t *table) stale(now time.Time, d time.Duration, random func() ID) []ID {
	var out []ID
	for i, b := range t.buckets {
		if now.Sub(b.changed) < d {
			continue
		}
		b.changed = now
		out = append(out, idInBucket(t.self, i, i == len(t.buckets)-1, random()))
	}
	return out
}

// idInBucket returns an id sharing exactly depth leading bits with self
// (at least depth bits for the last bucket), the rest taken from r.
func idInBucket(self ID, depth int, last bool, r ID) ID {
	id := r
	for bit := 0; bit < depth && bit < 160; bit++ {
		mask := byte(0x80 >> (bit % 8))
		id[bit/8] = id[bit/8]&^mask | self[bit/8]&mask
	}
	if !last && depth < 160 {
		mask := byte(0x80 >> (depth % 8))
		id[depth/8] = id[depth/8]&^mask | ^self[depth/8]&mask
	}
	return id
}

func (t *table) all() []NodeInfo {
	out := make([]NodeInfo, 0, len(t.byAddr))
	for _, b := range t.buckets {
		for _, x := range b.nodes {
			out = append(out, x.NodeInfo)
		}
	}
	return out
}

// cmpDistance orders a and b by XOR distance to target (-1: a is closer).
func cmpDistance(a, b, target ID) int {
	for i := range target {
		da, db := a[i]^target[i], b[i]^target[i]
		if da != db {
			if da < db {
				return -1
			}
			return 1
		}
	}
	return 0
}

func sortByDistance(ns []NodeInfo, target ID) {
	slices.SortFunc(ns, func(a, b NodeInfo) int { return cmpDistance(a.ID, b.ID, target) })
}
