//go:build !linux

package dsn

import "syscall"

// setUserTimeout does nothing where TCP_USER_TIMEOUT is not known: the system's retransmission
// limit bounds unacknowledged data.
func setUserTimeout(string, string, syscall.RawConn) error { return nil }
