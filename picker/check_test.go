package picker

import "fmt"

// check verifies every internal invariant the picker relies on.
func (p *Picker) check() error {
	n := p.numPieces
	fresh := 0
	for l := Priority(0); l <= MaxPriority; l++ {
		b := &p.levels[l]
		if len(b.start) == 0 || b.start[0] != 0 || int(b.start[len(b.start)-1]) != len(b.order) {
			return fmt.Errorf("level %d: bad bounds %v for %d pieces", l, b.start, len(b.order))
		}
		for a := 0; a+1 < len(b.start); a++ {
			if b.start[a] > b.start[a+1] {
				return fmt.Errorf("level %d: bounds not sorted %v", l, b.start)
			}
			for j := b.start[a]; j < b.start[a+1]; j++ {
				i := b.order[j]
				switch {
				case p.pos[i] != j:
					return fmt.Errorf("piece %d: pos %d, at %d", i, p.pos[i], j)
				case int(p.avail[i]) != a:
					return fmt.Errorf("piece %d: avail %d in bucket %d", i, p.avail[i], a)
				case p.prio[i] != l:
					return fmt.Errorf("piece %d: priority %d in level %d", i, p.prio[i], l)
				case !p.levelBits[l].Has(int(i)):
					return fmt.Errorf("piece %d: missing from level bits", i)
				}
			}
		}
		if c := p.levelBits[l].Count(); c != len(b.order) {
			return fmt.Errorf("level %d: %d bits for %d pieces", l, c, len(b.order))
		}
		fresh += len(b.order)
	}
	if fresh != p.fresh {
		return fmt.Errorf("fresh %d, counted %d", p.fresh, fresh)
	}

	avail := make([]int32, n)
	seeds := 0
	outstanding := map[PeerID]int{}
	for id, ps := range p.peers {
		if ps.seed {
			seeds++
			if ps.count != n {
				return fmt.Errorf("seed %d: count %d", id, ps.count)
			}
			continue
		}
		c, w := 0, 0
		ps.bits.each(func(i int) {
			avail[i]++
			c++
			if p.want.Has(i) {
				w++
			}
		})
		if c != ps.count || w != ps.want {
			return fmt.Errorf("peer %d: count %d want %d, counted %d %d", id, ps.count, ps.want, c, w)
		}
	}
	if seeds != p.seeds {
		return fmt.Errorf("seeds %d, counted %d", p.seeds, seeds)
	}

	missing := 0
	for i := range n {
		if avail[i] != p.avail[i] {
			return fmt.Errorf("piece %d: avail %d, counted %d", i, p.avail[i], avail[i])
		}
		wanted := p.prio[i] != Skip && !p.have.Has(i)
		if wanted != p.want.Has(i) {
			return fmt.Errorf("piece %d: want bit %v", i, !wanted)
		}
		if wanted {
			missing++
		}
		isFresh := p.pos[i] >= 0
		if isFresh != (wanted && p.parts[i] == nil) {
			return fmt.Errorf("piece %d: fresh %v, wanted %v, partial %v", i, isFresh, wanted, p.parts[i] != nil)
		}
		if p.have.Has(i) && p.parts[i] != nil {
			return fmt.Errorf("piece %d: had and partial", i)
		}
	}
	if missing != p.missing || p.have.Count() != p.haveCount {
		return fmt.Errorf("missing %d/%d, have %d/%d", p.missing, missing, p.haveCount, p.have.Count())
	}

	parts := 0
	for i, pt := range p.parts {
		if pt == nil {
			continue
		}
		parts++
		if pt.piece != i || p.active[pt.activeIdx] != pt {
			return fmt.Errorf("piece %d: partial misfiled", i)
		}
		var recv, pend int32
		for b := range int(pt.n) {
			own := p.owners(pt, b)
			if int(pt.nreq[b]) > p.maxDup {
				return fmt.Errorf("piece %d block %d: %d requests", i, b, pt.nreq[b])
			}
			if pt.recv[b] {
				recv++
				if len(own) != 0 {
					return fmt.Errorf("piece %d block %d: received with requests", i, b)
				}
			} else if len(own) > 0 {
				pend++
			}
			for k, o := range own {
				outstanding[o]++
				for _, o2 := range own[:k] {
					if o == o2 {
						return fmt.Errorf("piece %d block %d: peer %d twice", i, b, o)
					}
				}
			}
			if int32(b) < pt.firstFree && pt.isFree(int32(b)) {
				return fmt.Errorf("piece %d: free block %d below firstFree %d", i, b, pt.firstFree)
			}
		}
		if recv != pt.received || pend != pt.pending {
			return fmt.Errorf("piece %d: received %d pending %d, counted %d %d", i, pt.received, pt.pending, recv, pend)
		}
		if recv == 0 && pend == 0 {
			return fmt.Errorf("piece %d: empty partial", i)
		}
		if (pt.free() > 0) != (pt.openIdx >= 0) || (pt.openIdx >= 0 && p.open[pt.openIdx] != pt) {
			return fmt.Errorf("piece %d: open index %d with %d free", i, pt.openIdx, pt.free())
		}
	}
	if parts != len(p.active) {
		return fmt.Errorf("%d partials, %d active", parts, len(p.active))
	}
	for id, ps := range p.peers {
		if ps.outstanding != outstanding[id] {
			return fmt.Errorf("peer %d: outstanding %d, counted %d", id, ps.outstanding, outstanding[id])
		}
	}
	return nil
}
