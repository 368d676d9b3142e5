package metainfo

// Magnet returns the magnet link of a torrent: its info-hashes (btih for
// v1, btmh for v2, both for a hybrid), name, size (pad files left out),
// trackers and web seeds.
func (t *Torrent) Magnet() *Magnet {
	m := &Magnet{
		InfoHash: t.InfoHash, HasV1: t.HasV1(),
		InfoHashV2: t.InfoHashV2, HasV2: t.HasV2,
		Name: t.Info.Name, Length: t.ContentSize(),
		WebSeeds: t.URLList,
	}
	seen := map[string]bool{}
	for _, tier := range t.Trackers() {
		for _, u := range tier {
			if !seen[u] {
				seen[u] = true
				m.Trackers = append(m.Trackers, u)
			}
		}
	}
	return m
}
