package dht

import (
	"fmt"
	"os"
	"path/filepath"

	"tt/bencode"
)

// The routing table is kept between runs in a small bencoded file:
// d2:id20:…5:nodes…6:nodes6…e with nodes in compact form.

// SaveState writes the node's id and routing table to path atomically.
func (s *Server) SaveState(path string) error {
	id := s.ID()
	nodes := s.Nodes()
	var v4, v6 []byte
	for _, n := range nodes {
		if n.Addr.Addr().Is4() {
			v4 = appendCompactAddr(append(v4, n.ID[:]...), n.Addr)
		} else {
			v6 = appendCompactAddr(append(v6, n.ID[:]...), n.Addr)
		}
	}
	e := encoder{b: []byte{'d'}}
	e.bytes("id", id[:])
	e.bytes("nodes", v4)
	e.bytes("nodes6", v6)
	e.b = append(e.b, 'e')
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".dht-*")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(e.b); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return nil
}

// State is what SaveState wrote.
type State struct {
	ID    ID
	Nodes []NodeInfo
}

// LoadState reads a file written by SaveState.
func LoadState(path string) (State, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return State{}, err
	}
	v, _, err := bencode.Parse(data, bencode.Options{})
	if err != nil || v.Kind() != bencode.Dict {
		return State{}, fmt.Errorf("%s: not a DHT state file", path)
	}
	var st State
	if !idAt(v, "id", &st.ID) {
		return State{}, fmt.Errorf("%s: no node id", path)
	}
	if b, ok := bytesAt(v, "nodes"); ok {
		st.Nodes = appendCompactNodesAll(st.Nodes, b, 4)
	}
	if b, ok := bytesAt(v, "nodes6"); ok {
		st.Nodes = appendCompactNodesAll(st.Nodes, b, 16)
	}
	return st, nil
}

// appendCompactNodesAll is appendCompactNodes without the per-message cap.
func appendCompactNodesAll(dst []NodeInfo, b []byte, ipLen int) []NodeInfo {
	size := 20 + ipLen + 2
	for ; len(b) >= size; b = b[size:] {
		if ns := appendCompactNodes(nil, b[:size], ipLen); len(ns) == 1 {
			dst = append(dst, ns[0])
		}
	}
	return dst
}

// Addrs returns the addresses of nodes as host:port strings, to bootstrap
// from.
func Addrs(nodes []NodeInfo) []string {
	out := make([]string, len(nodes))
	for i, n := range nodes {
		out[i] = n.Addr.String()
	}
	return out
}
