package app

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"tt/internal/dht"
	"tt/internal/lsd"
	"tt/internal/session"
	"tt/internal/tracker"
	"tt/internal/transport"
	"tt/internal/utp"
)

// udpStack is the UDP side of a swarm command: one socket shared by the
// UDP tracker client and the DHT node, and local discovery's multicast.
type udpStack struct {
	mux     *transport.UDPMux
	tracker *tracker.UDPClient
	utp     *utp.Socket // uTP connections, in and out
	dht     *dht.Server // nil when the DHT is off
	lsd     *lsd.Node   // nil when local discovery is off
	state   string      // where the routing table is saved ("" : nowhere)
	stop    context.CancelFunc
	done    chan struct{}
	booted  chan struct{} // closed when the DHT's bootstrap lookup ends
}

// defaultDHTState is where the routing table is kept between runs.
func defaultDHTState() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "tt", "dht.dat")
}

// openUDP opens the shared socket on the TCP listener's port when it is
// free (another one otherwise). Unless public is false (a private torrent)
// it starts the DHT and local discovery, each unless turned off; a node
// bound to loopback has no local network to announce to.
func openUDP(env *Env, o SwarmOptions, tcpPort uint16, public bool) (*udpStack, error) {
	mux, err := transport.ListenUDP(net.JoinHostPort(o.Bind, strconv.Itoa(int(tcpPort))))
	if err != nil {
		if mux, err = transport.ListenUDP(net.JoinHostPort(o.Bind, "0")); err != nil {
			return nil, Exit(ExitIO, fmt.Errorf("udp socket: %w", err))
		}
	}
	u := &udpStack{mux: mux, tracker: tracker.NewUDPClient(mux, tracker.UDPConfig{}), done: make(chan struct{})}
	mux.Handle(u.tracker)
	u.utp = utp.NewSocket(mux, net.UDPAddrFromAddrPort(mux.LocalAddr()), utp.Config{})
	mux.Handle(u.utp)
	bindIP, _ := netip.ParseAddr(o.Bind)
	if public && !o.NoLSD && !bindIP.IsLoopback() {
		// Without a multicast route there is no local network to join;
		// the other sources still work.
		u.lsd, _ = lsd.Listen(netip.AddrPort{}, int(tcpPort))
	}
	if !public || o.NoDHT {
		close(u.done)
		u.stop = func() {}
		return u, nil
	}
	bootstrap := o.DHTBootstrap
	if bootstrap == nil {
		bootstrap = dht.DefaultBootstrap
	}
	u.state = o.DHTState
	if u.state == "" {
		u.state = defaultDHTState()
	} else {
		u.state = env.Path(u.state)
	}
	cfg := dht.Config{Bootstrap: bootstrap}
	if st, err := dht.LoadState(u.state); err == nil {
		cfg.ID = st.ID
		cfg.Bootstrap = append(dht.Addrs(st.Nodes), bootstrap...)
	}
	if bindIP.IsLoopback() {
		// A socket bound to loopback reaches loopback nodes only.
		cfg.Bootstrap = slices.DeleteFunc(cfg.Bootstrap, func(hp string) bool {
			ap, err := netip.ParseAddrPort(hp)
			return err != nil || !ap.Addr().IsLoopback()
		})
	}
	u.dht = dht.New(mux, cfg)
	mux.Handle(u.dht)
	ctx, cancel := context.WithCancel(context.Background())
	u.stop = cancel
	u.booted = make(chan struct{})
	go func() {
		defer close(u.done)
		go func() {
			defer close(u.booted)
			u.dht.Bootstrap(ctx)
		}()
		u.dht.Run(ctx)
	}()
	return u, nil
}

// sessionDHT returns the DHT for a session: a nil interface when it is off.
func (u *udpStack) sessionDHT() session.DHT {
	if u.dht == nil {
		return nil
	}
	return u.dht
}

// sessionLSD returns local discovery for a session: a nil interface when
// it is off.
func (u *udpStack) sessionLSD() session.LocalDiscovery {
	if u.lsd == nil {
		return nil
	}
	return u.lsd
}

// bootstrapGrace bounds how long Close waits for the bootstrap lookup to
// end before it saves the routing table.
const bootstrapGrace = 2 * time.Second

// Close saves the routing table and closes the sockets.
func (u *udpStack) Close() {
	if u.lsd != nil {
		u.lsd.Close()
	}
	if u.dht != nil && u.state != "" {
		// A run shorter than the bootstrap lookup would save a table
		// that the lookup was still filling: give it a moment.
		t := time.NewTimer(bootstrapGrace)
		select {
		case <-u.booted:
		case <-t.C:
		}
		t.Stop()
	}
	u.stop()
	<-u.done
	if u.dht != nil {
		u.dht.Close()
		if u.state != "" && u.dht.Stats().Nodes > 0 {
			u.dht.SaveState(u.state)
		}
	}
	u.tracker.Close()
	u.utp.Close()
	u.mux.Close()
}
