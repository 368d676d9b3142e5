package session

import (
	"net"
	"time"

	"golang.org/x/sys/unix"
)

// tcpRTT is the kernel's smoothed round-trip time of a TCP connection
// (TCP_INFO), or 0 when it cannot be read.
func tcpRTT(c *net.TCPConn) time.Duration {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0
	}
	var rtt time.Duration
	rc.Control(func(fd uintptr) {
		if info, err := unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO); err == nil {
			rtt = time.Duration(info.Rtt) * time.Microsecond
		}
	})
	return rtt
}
