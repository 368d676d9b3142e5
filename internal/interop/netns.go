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
	Dev  string // its end of the veth link
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
	id, tag, ip := netnsSetup(t)
	va, vb := "tta"+tag, "ttb"+tag // at most 15 bytes
	a := Netns{Name: "tt-a-" + tag, IP: fmt.Sprintf("10.231.%d.1", id), Dev: va}
	b := Netns{Name: "tt-b-" + tag, IP: fmt.Sprintf("10.231.%d.2", id), Dev: vb}
	addNetns(t, ip, a, b)
	ip("link", "add", va, "type", "veth", "peer", "name", vb)
	ip("link", "set", va, "netns", a.Name)
	ip("link", "set", vb, "netns", b.Name)
	for _, n := range []Netns{a, b} {
		ip("-n", n.Name, "link", "set", "lo", "up")
		ip("-n", n.Name, "addr", "add", n.IP+"/24", "dev", n.Dev)
		ip("-n", n.Name, "link", "set", n.Dev, "up")
		ip("-n", n.Name, "route", "add", "224.0.0.0/4", "dev", n.Dev)
	}
	return a, b
}

// NewRoutedNetns makes three namespaces, A — R — B: A and B on their own
// subnets (10.233.N.0/24 and 10.234.N.0/24), R forwarding between them.
// R's link towards B (r.Dev) is where a test shapes the path: a queue
// there is not on either end host, as on a real network. They are removed
// when the test ends. It needs root and iproute2.
func NewRoutedNetns(t *testing.T) (a, r, b Netns) {
	t.Helper()
	id, tag, ip := netnsSetup(t)
	a = Netns{Name: "tt-ra-" + tag, IP: fmt.Sprintf("10.233.%d.1", id), Dev: "tta" + tag}
	b = Netns{Name: "tt-rb-" + tag, IP: fmt.Sprintf("10.234.%d.2", id), Dev: "ttb" + tag}
	r = Netns{Name: "tt-rr-" + tag, IP: fmt.Sprintf("10.233.%d.254", id), Dev: "ttrb" + tag}
	ra := "ttra" + tag
	addNetns(t, ip, a, r, b)
	ip("link", "add", a.Dev, "type", "veth", "peer", "name", ra)
	ip("link", "add", r.Dev, "type", "veth", "peer", "name", b.Dev)
	ip("link", "set", a.Dev, "netns", a.Name)
	ip("link", "set", ra, "netns", r.Name)
	ip("link", "set", r.Dev, "netns", r.Name)
	ip("link", "set", b.Dev, "netns", b.Name)
	rb := fmt.Sprintf("10.234.%d.254", id)
	ip("-n", a.Name, "addr", "add", a.IP+"/24", "dev", a.Dev)
	ip("-n", r.Name, "addr", "add", r.IP+"/24", "dev", ra)
	ip("-n", r.Name, "addr", "add", rb+"/24", "dev", r.Dev)
	ip("-n", b.Name, "addr", "add", b.IP+"/24", "dev", b.Dev)
	for _, l := range [][2]string{{a.Name, a.Dev}, {r.Name, ra}, {r.Name, r.Dev}, {b.Name, b.Dev}, {a.Name, "lo"}, {r.Name, "lo"}, {b.Name, "lo"}} {
		ip("-n", l[0], "link", "set", l[1], "up")
	}
	ip("-n", a.Name, "route", "add", "default", "via", r.IP)
	ip("-n", b.Name, "route", "add", "default", "via", rb)
	if out, err := exec.Command("ip", "netns", "exec", r.Name, "sysctl", "-qw", "net.ipv4.ip_forward=1").CombinedOutput(); err != nil {
		t.Fatalf("forwarding in %s: %v\n%s", r.Name, err, out)
	}
	return a, r, b
}

// netnsSetup checks that namespaces can be made and returns a number and a
// tag unique to this call (for addresses and names) and a runner of ip
// commands that fails the test on error.
func netnsSetup(t *testing.T) (id int, tag string, ip func(args ...string)) {
	t.Helper()
	if os.Geteuid() != 0 {
		missing(t, "network namespaces need root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		missing(t, "ip (iproute2) not installed")
	}
	seq := netnsSeq.Add(1)
	id = (os.Getpid() + int(seq)) % 250
	tag = fmt.Sprintf("%d-%d", os.Getpid()%100000, seq)
	ip = func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v\n%s", args, err, out)
		}
	}
	return id, tag, ip
}

// addNetns makes the namespaces and deletes them when the test ends.
func addNetns(t *testing.T, ip func(args ...string), ns ...Netns) {
	for _, n := range ns {
		ip("netns", "add", n.Name)
		t.Cleanup(func() { exec.Command("ip", "netns", "del", n.Name).Run() })
	}
}
