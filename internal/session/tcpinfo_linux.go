package session

import (
	"net"
	"syscall"
	"time"
	"unsafe"
)

// tcpRTT is the kernel's smoothed round-trip time of a TCP connection.
func tcpRTT(c *net.TCPConn) time.Duration {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0
	}
	var info syscall.TCPInfo
	var rtt time.Duration
	rc.Control(func(fd uintptr) {
		size := uint32(unsafe.Sizeof(info))
		_, _, e := syscall.Syscall6(syscall.SYS_GETSOCKOPT, fd, syscall.IPPROTO_TCP, syscall.TCP_INFO,
			uintptr(unsafe.Pointer(&info)), uintptr(unsafe.Pointer(&size)), 0)
		if e == 0 {
			rtt = time.Duration(info.Rtt) * time.Microsecond
		}
	})
	return rtt
}
