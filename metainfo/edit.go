package metainfo

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"

	"tt/bencode"
)

// ErrNodeAddr is returned for a DHT node that is not host:port.
var ErrNodeAddr = errors.New("metainfo: invalid DHT node")

// ErrInfoChanged is returned when an edit that must leave the info
// dictionary alone would have changed its bytes.
var ErrInfoChanged = errors.New("metainfo: edit changed the info dictionary")

// Changes are the new values of fields of a torrent. A nil field is left
// as it is; an empty string or list removes the field.
type Changes struct {
	Trackers         *[][]string // tiers; announce is the first tracker, announce-list written when there is more than one
	WebSeeds         *[]string   // url-list (BEP 19)
	Nodes            *[]string   // BEP 5 nodes, host:port
	Comment          *string
	CreatedBy        *string
	CreationDate     *int64
	DropCreationDate bool

	// Fields of the info dictionary: they change the info-hash.
	Private *bool
	Source  *string
	Name    *string
}

// ChangesInfo reports whether c touches the info dictionary.
func (c *Changes) ChangesInfo() bool { return c.Private != nil || c.Source != nil || c.Name != nil }

// EditResult is an edited torrent.
type EditResult struct {
	Data    []byte   // the new .torrent
	Torrent *Torrent // Data parsed (leniently)
	// Changed lists the keys whose bytes differ, in output order; info
	// keys as info.KEY.
	Changed []string
}

// Edit applies c to t, working on its bencoded bytes: every value that c
// does not name, the info dictionary included, is copied byte for byte,
// so that unless c changes the info dictionary the info-hash stays the
// same. Renaming a single-file v2 or hybrid torrent renames the file in
// its file tree too, as BEP 52 names that file by the torrent's name.
func Edit(t *Torrent, c Changes) (*EditResult, error) {
	root, _, err := bencode.Parse(t.Raw, bencode.Options{Lenient: true})
	if err != nil {
		return nil, err
	}
	if root.Kind() != bencode.Dict {
		return nil, fmt.Errorf("%w: top level is a %s, not a dictionary", ErrNotTorrent, root.Kind())
	}
	top := entriesOf(root)
	if err := editTop(&top, c); err != nil {
		return nil, err
	}
	if c.ChangesInfo() {
		infoV, ok := root.Get("info")
		if !ok || infoV.Kind() != bencode.Dict {
			return nil, &FieldError{Field: "info", Err: ErrMissingField, Detail: "no info dictionary"}
		}
		info := entriesOf(infoV)
		if err := editInfo(&info, t, c); err != nil {
			return nil, err
		}
		top.set("info", info.encode(nil))
	}
	data := top.encode(make([]byte, 0, len(t.Raw)+256))
	nt, err := Parse(data, Options{Lenient: true})
	if err != nil {
		return nil, fmt.Errorf("metainfo: edited torrent does not parse: %w", err)
	}
	if !c.ChangesInfo() && !bytes.Equal(nt.InfoRaw, t.InfoRaw) {
		return nil, ErrInfoChanged
	}
	changed := changedKeys(entriesOf(root), top, "")
	if c.ChangesInfo() {
		oldInfo, _ := root.Get("info")
		newRoot, _, _ := bencode.Parse(data, bencode.Options{Lenient: true})
		newInfo, _ := newRoot.Get("info")
		changed = append(changed, changedKeys(entriesOf(oldInfo), entriesOf(newInfo), "info.")...)
	}
	return &EditResult{Data: data, Torrent: nt, Changed: changed}, nil
}

func editTop(top *entries, c Changes) error {
	if c.Trackers != nil {
		var announce, list []byte
		var tiers [][]string
		for _, tier := range *c.Trackers {
			if len(tier) > 0 {
				tiers = append(tiers, tier)
			}
		}
		if len(tiers) > 0 {
			announce = bencode.AppendString(nil, tiers[0][0])
			if len(tiers) > 1 || len(tiers[0]) > 1 {
				var err error
				if list, err = bencode.Marshal(tiers); err != nil {
					return err
				}
			}
		}
		top.set("announce", announce)
		top.set("announce-list", list)
	}
	if c.WebSeeds != nil {
		var v []byte
		if len(*c.WebSeeds) > 0 {
			v, _ = bencode.Marshal(*c.WebSeeds)
		}
		top.set("url-list", v)
	}
	if c.Nodes != nil {
		var v []byte
		if len(*c.Nodes) > 0 {
			v = []byte{'l'}
			for _, n := range *c.Nodes {
				host, port, err := SplitNode(n)
				if err != nil {
					return err
				}
				v = append(v, 'l')
				v = bencode.AppendString(v, host)
				v = bencode.AppendInt(v, int64(port))
				v = append(v, 'e')
			}
			v = append(v, 'e')
		}
		top.set("nodes", v)
	}
	setString(top, "comment", c.Comment)
	setString(top, "created by", c.CreatedBy)
	switch {
	case c.DropCreationDate:
		top.set("creation date", nil)
	case c.CreationDate != nil:
		top.set("creation date", bencode.AppendInt(nil, *c.CreationDate))
	}
	return nil
}

func editInfo(info *entries, t *Torrent, c Changes) error {
	if c.Private != nil {
		var v []byte
		if *c.Private {
			v = bencode.AppendInt(nil, 1)
		}
		info.set("private", v)
	}
	setString(info, "source", c.Source)
	if c.Name == nil {
		return nil
	}
	if err := CheckComponent(*c.Name); err != nil {
		return fmt.Errorf("name %q: %w", *c.Name, err)
	}
	name := bencode.AppendString(nil, *c.Name)
	info.set("name", name)
	if info.has("name.utf-8") {
		info.set("name.utf-8", name)
	}
	if t.HasV2 && !t.Info.MultiFile {
		// A single-file v2 tree is {NAME: {"": {...}}}: its one key is the
		// file's name, which must stay the torrent's name.
		tree, ok := info.get("file tree")
		if !ok {
			return nil
		}
		tv, _, err := bencode.Parse(tree, bencode.Options{Lenient: true})
		if err != nil {
			return err
		}
		te := entriesOf(tv)
		if len(te.keys) != 1 {
			return nil
		}
		te.keys[0] = []byte(*c.Name)
		info.set("file tree", te.encode(nil))
	}
	return nil
}

func setString(e *entries, key string, v *string) {
	if v == nil {
		return
	}
	if *v == "" {
		e.set(key, nil)
		return
	}
	e.set(key, bencode.AppendString(nil, *v))
}

// SplitNode reads a DHT node written host:port ([v6]:port for IPv6).
func SplitNode(s string) (string, int, error) {
	host, ps, err := net.SplitHostPort(s)
	if err != nil || host == "" {
		return "", 0, fmt.Errorf("%w: %q (want host:port, [ipv6]:port)", ErrNodeAddr, s)
	}
	port, err := strconv.Atoi(ps)
	if err != nil || port < 1 || port > 65535 {
		return "", 0, fmt.Errorf("%w: %q (port must be 1-65535)", ErrNodeAddr, s)
	}
	return host, port, nil
}

// entries are the keys and raw values of a dictionary, in input order.
type entries struct {
	keys [][]byte
	vals [][]byte
}

func entriesOf(d bencode.Value) entries {
	var e entries
	for k, v := range d.Dict() {
		kb, _ := k.Bytes()
		e.keys = append(e.keys, kb)
		e.vals = append(e.vals, v.Raw())
	}
	return e
}

func (e *entries) get(key string) ([]byte, bool) {
	for i, k := range e.keys {
		if string(k) == key {
			return e.vals[i], true
		}
	}
	return nil, false
}

func (e *entries) has(key string) bool {
	_, ok := e.get(key)
	return ok
}

// set stores val under key (nil removes it): in the place of the first
// entry with that key, or else before the first key that sorts after it,
// so that a sorted dictionary stays sorted. Repeats of the key go.
func (e *entries) set(key string, val []byte) {
	at := -1
	for i := 0; i < len(e.keys); i++ {
		if string(e.keys[i]) != key {
			continue
		}
		if at < 0 {
			at = i
			continue
		}
		e.keys = slices.Delete(e.keys, i, i+1)
		e.vals = slices.Delete(e.vals, i, i+1)
		i--
	}
	switch {
	case at >= 0 && val == nil:
		e.keys = slices.Delete(e.keys, at, at+1)
		e.vals = slices.Delete(e.vals, at, at+1)
	case at >= 0:
		e.vals[at] = val
	case val != nil:
		at = len(e.keys)
		for i, k := range e.keys {
			if string(k) > key {
				at = i
				break
			}
		}
		e.keys = slices.Insert(e.keys, at, []byte(key))
		e.vals = slices.Insert(e.vals, at, val)
	}
}

func (e *entries) encode(dst []byte) []byte {
	dst = append(dst, 'd')
	for i, k := range e.keys {
		dst = bencode.AppendBytes(dst, k)
		dst = append(dst, e.vals[i]...)
	}
	return append(dst, 'e')
}

// changedKeys lists the keys added, removed or given other bytes between
// old and new, prefixed; "info" is left to the caller.
func changedKeys(old, new entries, prefix string) []string {
	var out []string
	seen := map[string]bool{}
	note := func(k string) {
		if !seen[k] && (prefix != "" || k != "info") {
			seen[k] = true
			out = append(out, prefix+k)
		}
	}
	for i, k := range new.keys {
		if ov, ok := old.get(string(k)); !ok || !bytes.Equal(ov, new.vals[i]) {
			note(string(k))
		}
	}
	for _, k := range old.keys {
		if !new.has(string(k)) {
			note(string(k))
		}
	}
	return out
}
