package dsn

import (
	"fmt"
	"syscall"
)

// tcpUserTimeout is TCP_USER_TIMEOUT from <netinet/tcp.h> (the syscall package lacks it).
const tcpUserTimeout = 0x12

// setUserTimeout sets TCP_USER_TIMEOUT on TCP sockets before they connect.
func setUserTimeout(network, address string, c syscall.RawConn) error {
	switch network {
	case "tcp", "tcp4", "tcp6":
	default:
		return nil
	}
	var serr error
	if err := c.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, tcpUserTimeout, int(UserTimeout.Milliseconds()))
	}); err != nil {
		return fmt.Errorf("set TCP_USER_TIMEOUT for %s: %w", address, err)
	}
	if serr != nil {
		return fmt.Errorf("set TCP_USER_TIMEOUT for %s: %w", address, serr)
	}
	return nil
}
