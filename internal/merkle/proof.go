package merkle

import "fmt"

// Layers returns every layer of a tree from base, a layer of nodes of the
// given height, up to the root: layers[0] is base and the last layer is the
// root alone. A layer holds only the nodes that cover some of the base
// (positions past them are padding), so layers[k] has ceil(len(base)/2^k)
// nodes until the top, which is padded to width positions of the base
// (0: Width(len(base))). It allocates one slice per layer.
func Layers(base []Hash, height int, width int64) [][]Hash {
	if width < int64(len(base)) || width&(width-1) != 0 {
		width = Width(int64(len(base)))
	}
	layers := [][]Hash{base}
	cur := base
	for h := height; width > 1; h++ {
		next := make([]Hash, (len(cur)+1)/2)
		for i := range next {
			r := PadHash(h)
			if 2*i+1 < len(cur) {
				r = cur[2*i+1]
			}
			next[i] = Parent(cur[2*i], r)
		}
		if len(cur) == 0 {
			next = []Hash{PadHash(h + 1)}
		}
		layers = append(layers, next)
		cur = next
		width /= 2
	}
	return layers
}

// NumUncles is how many uncle hashes a hashes message carries for a
// request of length base hashes with proofLayers proof layers: BEP 52 leaves
// out the layers the requested hashes already cover (the first
// log2(length)-1; length counts as the power of two it is padded to).
func NumUncles(length, proofLayers int) int {
	return max(0, proofLayers-Height(int64(length))+1)
}

// Proof returns the hashes of a hashes message: the nodes index to
// index+length-1 of layers[base] (fewer when the layer ends first), then
// the uncle hashes for proofLayers proof layers, lowest first. layers is a
// whole tree as Layers returns it from the leaves. index must be a multiple
// of the length padded to a power of two.
func Proof(layers [][]Hash, base, index, length, proofLayers int) ([]Hash, error) {
	if base < 0 || base >= len(layers) || length < 1 || index < 0 {
		return nil, fmt.Errorf("%w: base %d, index %d, length %d", ErrShape, base, index, length)
	}
	w := int(Width(int64(length)))
	if w == 0 || index%w != 0 || index >= len(layers[base]) {
		return nil, fmt.Errorf("%w: index %d, length %d, layer of %d", ErrShape, index, length, len(layers[base]))
	}
	end := min(index+length, len(layers[base]))
	out := append([]Hash(nil), layers[base][index:end]...)
	// The subtree of the requested nodes has its root at this height; the
	// uncles are the siblings of it and of its ancestors.
	h := base + Height(int64(length))
	pos := index / w
	for range NumUncles(length, proofLayers) {
		if h >= len(layers)-1 {
			return nil, fmt.Errorf("%w: %d proof layers reach past the root", ErrShape, proofLayers)
		}
		sib := pos ^ 1
		u := PadHash(h)
		if sib < len(layers[h]) {
			u = layers[h][sib]
		}
		out = append(out, u)
		h++
		pos /= 2
	}
	return out, nil
}

// VerifyProof checks the hashes of a hashes message against the pieces root
// of a file of numBlocks blocks: hashes holds length nodes of the layer at
// height base starting at position index, then uncle hashes that must lead
// up to the root. The nodes after the file's last one may be left out of
// hashes only at the end of the layer (length then counts them, as the
// request did); they are padding. It returns nil, or an error wrapping
// ErrShape or ErrProof.
func VerifyProof(root Hash, numBlocks int64, base, index, length int, hashes []Hash) error {
	top := Height(numBlocks) // the root's height
	if numBlocks < 1 || base < 0 || base > top || length < 1 || index < 0 || len(hashes) < 1 {
		return fmt.Errorf("%w: %d blocks, base %d, index %d, length %d", ErrShape, numBlocks, base, index, length)
	}
	w := Width(int64(length))
	real := int64(min(length, len(hashes))) // the base nodes in the message
	layerNodes := (numBlocks-1)>>base + 1   // base nodes that cover data
	switch {
	case w == 0 || base+Height(int64(length)) > top:
		return fmt.Errorf("%w: length %d at layer %d is more than the tree has", ErrShape, length, base)
	case int64(index)%w != 0:
		return fmt.Errorf("%w: index %d is not a multiple of %d", ErrShape, index, w)
	case int64(index) >= layerNodes:
		return fmt.Errorf("%w: index %d past the %d nodes of layer %d", ErrShape, index, layerNodes, base)
	case real < int64(length) && int64(index)+real < layerNodes:
		return fmt.Errorf("%w: %d of %d hashes, and the layer goes on", ErrShape, real, length)
	}
	sub := base + Height(int64(length)) // height of the requested nodes' subtree root
	uncles := hashes[real:]
	if sub+len(uncles) != top {
		return fmt.Errorf("%w: %d uncle hashes from height %d do not reach the root at height %d", ErrShape, len(uncles), sub, top)
	}
	got := climb(Root(hashes[:real], base, w), int64(index)/w, uncles)
	if got != root {
		return ErrProof
	}
	return nil
}

// climb hashes node, at position pos of its layer, up through the uncles.
func climb(node Hash, pos int64, uncles []Hash) Hash {
	for _, u := range uncles {
		if pos&1 == 0 {
			node = Parent(node, u)
		} else {
			node = Parent(u, node)
		}
		pos >>= 1
	}
	return node
}

// Climb is the ancestor of node, at position pos of its layer, that the
// uncle hashes (lowest first) lead to: for a proof that ends at a node the
// caller already trusts rather than at the root.
func Climb(node Hash, pos int64, uncles []Hash) Hash { return climb(node, pos, uncles) }
