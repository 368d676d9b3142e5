package app

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"tt/metainfo"
)

func editEnv(dir string, stdin []byte) (*Env, *bytes.Buffer, *bytes.Buffer) {
	var out, errOut bytes.Buffer
	return &Env{Stdin: bytes.NewReader(stdin), Stdout: &out, Stderr: &errOut, Dir: dir,
		Getenv: func(string) string { return "" }, Now: func() time.Time { return time.Unix(1800000000, 0) }}, &out, &errOut
}

func copyFixture(t *testing.T, src, dir string) string {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, filepath.Base(src))
	if err := os.WriteFile(dst, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return dst
}

func sp(s string) *string { return &s }

// fixture is the absolute path of a torrent in metainfo/testdata.
func fixture(t *testing.T, elem ...string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join(append([]string{"..", "..", "metainfo", "testdata"}, elem...)...))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestEditCorpusInfoUnchanged: for every corpus and v2 torrent tt loads,
// the file tt edit writes holds the input's info bytes unchanged.
func TestEditCorpusInfoUnchanged(t *testing.T) {
	var paths []string
	for _, glob := range []string{"corpus/*.torrent", "v2/*.torrent"} {
		p, _ := filepath.Glob(fixture(t, glob))
		paths = append(paths, p...)
	}
	dir := t.TempDir()
	env, _, _ := editEnv(dir, nil)
	n := 0
	for _, p := range paths {
		in, err := metainfo.Load(p, nil, metainfo.Options{Lenient: true})
		if err != nil {
			continue
		}
		n++
		out := filepath.Join(dir, filepath.Base(p))
		err = Edit(env, EditOptions{Torrent: p, Output: out, Quiet: true,
			Announce: []string{"udp://t.example:1/a,http://u.example/a"}, AddWebSeeds: []string{"http://w.example/"},
			NoNodes: true, Comment: sp("c"), CreatedBy: sp(""), CreationDate: sp("now")})
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		got, err := metainfo.Load(out, nil, metainfo.Options{Lenient: true})
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if !bytes.Equal(got.InfoRaw, in.InfoRaw) || got.InfoHash != in.InfoHash {
			t.Fatalf("%s: info changed", p)
		}
		if got.CreationDate != 1800000000 || got.Comment != "c" || got.CreatedBy != "" || got.Nodes != nil {
			t.Fatalf("%s: fields %d %q %q %v", p, got.CreationDate, got.Comment, got.CreatedBy, got.Nodes)
		}
	}
	if n < 60 {
		t.Fatalf("only %d torrents loaded", n)
	}
}

// TestEditInPlaceNeedsForce: without --force neither the input nor another
// existing file is written; with it the input is replaced.
func TestEditInPlaceNeedsForce(t *testing.T) {
	dir := t.TempDir()
	p := copyFixture(t, fixture(t, "corpus", "base.torrent"), dir)
	before, _ := os.ReadFile(p)
	env, _, _ := editEnv(dir, nil)
	o := EditOptions{Torrent: "base.torrent", Comment: sp("new")}
	err := Edit(env, o)
	if CodeOf(err) != ExitExists || !strings.Contains(err.Error(), "base.torrent: editing in place") {
		t.Fatalf("in place without --force: %v", err)
	}
	o.Output = "./base.torrent"
	if err := Edit(env, o); CodeOf(err) != ExitExists {
		t.Fatalf("same file by another name: %v", err)
	}
	other := filepath.Join(dir, "other.torrent")
	os.WriteFile(other, []byte("keep"), 0o644)
	o.Output = "other.torrent"
	if err := Edit(env, o); CodeOf(err) != ExitExists {
		t.Fatalf("existing output: %v", err)
	}
	if after, _ := os.ReadFile(p); !bytes.Equal(after, before) {
		t.Fatal("input written without --force")
	}
	if b, _ := os.ReadFile(other); string(b) != "keep" {
		t.Fatal("output written without --force")
	}
	o.Output, o.Force = "", true
	if err := Edit(env, o); err != nil {
		t.Fatal(err)
	}
	got, err := metainfo.Load(p, nil, metainfo.Options{})
	if err != nil || got.Comment != "new" {
		t.Fatalf("%v %q", err, got.Comment)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 2 {
		t.Fatalf("temporary files left: %v", ents)
	}
}

// TestEditLists: replace or clear, then remove, then add, without repeats.
func TestEditLists(t *testing.T) {
	dir := t.TempDir()
	env, stdout, stderr := editEnv(dir, nil)
	base := fixture(t, "corpus", "base.torrent")
	step := func(o EditOptions) *metainfo.Torrent {
		t.Helper()
		o.Torrent, o.Output, o.Force = base, "out.torrent", true
		if err := Edit(env, o); err != nil {
			t.Fatal(err)
		}
		base = filepath.Join(dir, "out.torrent")
		got, err := metainfo.Load(base, nil, metainfo.Options{Lenient: true})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	got := step(EditOptions{Announce: []string{"http://a.example/1,http://b.example/1", "http://c.example/1"},
		WebSeeds: []string{"http://w1.example/", "http://w2.example/"}, Nodes: []string{"127.0.0.1:1", "[::1]:2"}})
	if !slices.EqualFunc(got.Trackers(), [][]string{{"http://a.example/1", "http://b.example/1"}, {"http://c.example/1"}}, slices.Equal) {
		t.Fatalf("set trackers: %v", got.Trackers())
	}
	got = step(EditOptions{RemoveAnnounce: []string{"http://c.example/1", "http://gone.example/"},
		AddAnnounce: []string{"http://a.example/1,http://d.example/1"}, RemoveWebSeeds: []string{"http://w1.example/"},
		AddWebSeeds: []string{"http://w2.example/", "http://w3.example/"}, RemoveNodes: []string{"[::1]:2"}, AddNodes: []string{"h.example:3"}})
	if !slices.EqualFunc(got.Trackers(), [][]string{{"http://a.example/1", "http://b.example/1"}, {"http://d.example/1"}}, slices.Equal) {
		t.Fatalf("edit trackers: %v", got.Trackers())
	}
	if !slices.Equal(got.URLList, []string{"http://w2.example/", "http://w3.example/"}) || !slices.Equal(got.Nodes, []string{"127.0.0.1:1", "h.example:3"}) {
		t.Fatalf("lists: %v %v", got.URLList, got.Nodes)
	}
	if !strings.Contains(stderr.String(), "tt: edit: tracker http://gone.example/ is not in the torrent\n") {
		t.Fatalf("stderr: %s", stderr)
	}
	got = step(EditOptions{NoAnnounce: true, NoWebSeeds: true, AddNodes: []string{"127.0.0.1:1"}, Quiet: true})
	if got.Trackers() != nil || got.URLList != nil || len(got.Nodes) != 2 {
		t.Fatalf("clear: %v %v %v", got.Trackers(), got.URLList, got.Nodes)
	}
	if stdout.Len() != 0 {
		t.Fatalf("stdout: %s", stdout)
	}
}

// TestEditRehashJSON: a rehashed hybrid reports both new hashes and both
// old ones, and what changed.
func TestEditRehashJSON(t *testing.T) {
	dir := t.TempDir()
	env, stdout, _ := editEnv(dir, nil)
	src := fixture(t, "v2", "hybrid-single.torrent")
	old, err := metainfo.Load(src, nil, metainfo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = Edit(env, EditOptions{Torrent: src, Output: "new.torrent", Name: sp("other"), Rehash: true, JSON: true})
	if err != nil {
		t.Fatal(err)
	}
	var r EditResult
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		t.Fatalf("%v\n%s", err, stdout)
	}
	nt, err := metainfo.Load(filepath.Join(dir, "new.torrent"), nil, metainfo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	v1, _ := old.InfoHashV1()
	if r.Schema != "tt.edit/1" || r.Output != "new.torrent" || r.Version != "hybrid" || !r.InfoChanged ||
		r.OldInfoHash != hex.EncodeToString(v1[:]) || r.OldInfoHashV2 != hex.EncodeToString(old.InfoHashV2[:]) ||
		r.InfoHash != nt.InfoHashHex() || r.InfoHashV2 != hex.EncodeToString(nt.InfoHashV2[:]) ||
		r.InfoHash == r.OldInfoHash || r.InfoHashV2 == r.OldInfoHashV2 || r.Name != "other" {
		t.Fatalf("%+v", r)
	}
	if !slices.Equal(r.Changed, []string{"info.file tree", "info.name"}) {
		t.Fatalf("changed %v", r.Changed)
	}
}

func TestEditUsage(t *testing.T) {
	src := fixture(t, "corpus", "base.torrent")
	for _, c := range []struct {
		o    EditOptions
		want string
	}{
		{EditOptions{Comment: sp("x")}, "missing TORRENT"},
		{EditOptions{Torrent: src}, "nothing to change"},
		{EditOptions{Torrent: src, Name: sp("x")}, "--name changes the info dictionary"},
		{EditOptions{Torrent: src, Private: new(bool)}, "--private changes the info dictionary"},
		{EditOptions{Torrent: src, Source: sp("")}, "--source changes the info dictionary"},
		{EditOptions{Torrent: src, Rehash: true, Comment: sp("x")}, "--rehash without"},
		{EditOptions{Torrent: src, Rehash: true, Name: sp("a/b")}, "--name \"a/b\""},
		{EditOptions{Torrent: src, Announce: []string{"ftp://x"}}, "--announce: metainfo: invalid tracker URL"},
		{EditOptions{Torrent: src, Announce: []string{","}}, "no tracker URL"},
		{EditOptions{Torrent: src, Announce: []string{"http://x/"}, NoAnnounce: true}, "cannot be combined with --no-announce"},
		{EditOptions{Torrent: src, AddWebSeeds: []string{"udp://x"}}, "--add-web-seed: metainfo: invalid web seed URL"},
		{EditOptions{Torrent: src, AddNodes: []string{"x"}}, "--add-node: metainfo: invalid DHT node"},
		{EditOptions{Torrent: src, CreationDate: sp("yesterday")}, "--creation-date \"yesterday\""},
		{EditOptions{Torrent: "-", JSON: true, Comment: sp("x")}, "--json cannot be combined"},
	} {
		env, _, _ := editEnv(t.TempDir(), nil)
		err := Edit(env, c.o)
		if CodeOf(err) != ExitUsage || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.o, err, c.want)
		}
	}
}

// TestEditStdio: - reads stdin and, without -o, writes stdout.
func TestEditStdio(t *testing.T) {
	data, err := os.ReadFile(fixture(t, "corpus", "base.torrent"))
	if err != nil {
		t.Fatal(err)
	}
	env, stdout, stderr := editEnv(t.TempDir(), data)
	if err := Edit(env, EditOptions{Torrent: "-", Comment: sp("piped")}); err != nil {
		t.Fatal(err)
	}
	got, err := metainfo.Parse(stdout.Bytes(), metainfo.Options{Lenient: true})
	if err != nil || got.Comment != "piped" {
		t.Fatalf("%v %q", err, got.Comment)
	}
	if !strings.HasPrefix(stderr.String(), "tt: wrote stdout (changed comment; info-hash ") {
		t.Fatalf("stderr: %s", stderr)
	}
	env, _, _ = editEnv(t.TempDir(), []byte("garbage"))
	if err := Edit(env, EditOptions{Torrent: "-", Comment: sp("x")}); CodeOf(err) != ExitBadTorrent || !strings.HasPrefix(err.Error(), "-: bencode: ") {
		t.Fatalf("bad stdin: %v", err)
	}
}

// TestEditRehashSaysHashes: the summary line names the new and the old
// hashes, both of them for a hybrid, the v2 one for a v2-only torrent.
func TestEditRehashSaysHashes(t *testing.T) {
	for _, c := range []struct{ fixture, want string }{
		{"hybrid-multi.torrent", `^tt: wrote new.torrent \(changed info.source; new info-hash v1 [0-9a-f]{40} v2 [0-9a-f]{64}, was v1 [0-9a-f]{40} v2 [0-9a-f]{64}\)\n$`},
		{"v2-single.torrent", `^tt: wrote new.torrent \(changed info.source; new info-hash v2 [0-9a-f]{64}, was v2 [0-9a-f]{64}\)\n$`},
	} {
		env, _, stderr := editEnv(t.TempDir(), nil)
		src := fixture(t, "v2", c.fixture)
		if err := Edit(env, EditOptions{Torrent: src, Output: "new.torrent", Source: sp("S"), Rehash: true}); err != nil {
			t.Fatal(err)
		}
		if !regexp.MustCompile(c.want).MatchString(stderr.String()) {
			t.Fatalf("%s: %q", c.fixture, stderr)
		}
		old, _ := metainfo.Load(src, nil, metainfo.Options{})
		if strings.Contains(stderr.String(), hex.EncodeToString(old.InfoHashV2[:])+",") {
			t.Fatalf("%s: the new v2 hash is the old one", c.fixture)
		}
	}
}
