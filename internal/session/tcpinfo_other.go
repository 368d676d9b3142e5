//go:build !linux

package session

import (
	"net"
	"time"
)

// tcpRTT is not known on this system.
func tcpRTT(*net.TCPConn) time.Duration { return 0 }
