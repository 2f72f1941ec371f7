package dsn

import (
	"net"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// Dead-peer bounds of every TCP connection Config sets up. A server or network that vanishes
// without a word (power cut, partition, a NAT entry dropped) is noticed within about UserTimeout,
// whatever the connection was doing: an idle connection through keepalive probes, one with
// unacknowledged data through TCP_USER_TIMEOUT (Linux; elsewhere the system's retransmission
// limit, about 15 minutes, applies). A server that is only busy still answers at the TCP level
// and is never cut off. Neither bounds a peer that keeps the connection open but never answers
// (a hung server, a blackholing proxy): only a deadline on the operation does (--timeout).
const (
	// KeepAliveIdle is how long a connection stays quiet before the first keepalive probe.
	KeepAliveIdle = 30 * time.Second
	// KeepAliveInterval separates unanswered keepalive probes.
	KeepAliveInterval = 10 * time.Second
	// KeepAliveCount is how many unanswered probes end the connection.
	KeepAliveCount = 9
	// UserTimeout is how long sent data may stay unacknowledged (or keepalive probes
	// unanswered) before the kernel ends the connection (TCP_USER_TIMEOUT).
	UserTimeout = 2 * time.Minute
)

// dialer returns the dial function of every connection: connectTimeout (connect_timeout,
// PGCONNECT_TIMEOUT; 0 means none) bounds the TCP connect, and the dead-peer bounds apply.
func dialer(connectTimeout time.Duration) pgconn.DialFunc {
	d := &net.Dialer{
		Timeout: connectTimeout,
		KeepAliveConfig: net.KeepAliveConfig{
			Enable: true, Idle: KeepAliveIdle, Interval: KeepAliveInterval, Count: KeepAliveCount,
		},
		Control: setUserTimeout,
	}
	return d.DialContext
}
