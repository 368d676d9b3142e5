package interop

import (
	"fmt"
	"os"
	"os/exec"
	"sync/atomic"
	"testing"
)

var netnsSeq atomic.Int32

// Netns is a network namespace made by a test, joined to its pair by a
// veth link; IP is the address the test gave it.
type Netns struct {
	Name string
	IP   string
}

// Cmd returns the argv that runs name with args inside the namespace.
func (n Netns) Cmd(name string, args ...string) []string {
	return append([]string{"netns", "exec", n.Name, name}, args...)
}

// NewNetnsPair makes two namespaces linked by a veth pair on 10.231.N.0/24
// with multicast routed over the link, and removes them when the test ends.
// It needs root and iproute2.
func NewNetnsPair(t *testing.T) (Netns, Netns) {
	t.Helper()
	if os.Geteuid() != 0 {
		missing(t, "network namespaces need root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		missing(t, "ip (iproute2) not installed")
	}
	seq := netnsSeq.Add(1)
	id := (os.Getpid() + int(seq)) % 250
	tag := fmt.Sprintf("%d-%d", os.Getpid()%100000, seq)
	a := Netns{Name: "tt-a-" + tag, IP: fmt.Sprintf("10.231.%d.1", id)}
	b := Netns{Name: "tt-b-" + tag, IP: fmt.Sprintf("10.231.%d.2", id)}
	va, vb := "tta"+tag, "ttb"+tag // at most 15 bytes
	ip := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v\n%s", args, err, out)
		}
	}
	ip("netns", "add", a.Name)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", a.Name).Run() })
	ip("netns", "add", b.Name)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", b.Name).Run() })
	ip("link", "add", va, "type", "veth", "peer", "name", vb)
	ip("link", "set", va, "netns", a.Name)
	ip("link", "set", vb, "netns", b.Name)
	for _, n := range []struct {
		ns  Netns
		dev string
	}{{a, va}, {b, vb}} {
		ip("-n", n.ns.Name, "link", "set", "lo", "up")
		ip("-n", n.ns.Name, "addr", "add", n.ns.IP+"/24", "dev", n.dev)
		ip("-n", n.ns.Name, "link", "set", n.dev, "up")
		ip("-n", n.ns.Name, "route", "add", "224.0.0.0/4", "dev", n.dev)
	}
	return a, b
}
