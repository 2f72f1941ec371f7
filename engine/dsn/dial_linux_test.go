package dsn

import (
	"context"
	"net"
	"syscall"
	"testing"
	"time"
)

// TestDialSetsDeadPeerBounds dials a loopback listener through a parsed configuration and reads
// back the socket options: keepalive on with the package's timings, and TCP_USER_TIMEOUT.
func TestDialSetsDeadPeerBounds(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	defer ln.Close()
	cfg, err := Config("postgres://u@" + ln.Addr().String() + "/db?connect_timeout=5")
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := cfg.DialFunc(ctx, "tcp", ln.Addr().String())
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer conn.Close()
	raw, err := conn.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		name       string
		level, opt int
		value      int
	}{
		{"SO_KEEPALIVE", syscall.SOL_SOCKET, syscall.SO_KEEPALIVE, 1},
		{"TCP_KEEPIDLE", syscall.IPPROTO_TCP, syscall.TCP_KEEPIDLE, int(KeepAliveIdle.Seconds())},
		{"TCP_KEEPINTVL", syscall.IPPROTO_TCP, syscall.TCP_KEEPINTVL, int(KeepAliveInterval.Seconds())},
		{"TCP_KEEPCNT", syscall.IPPROTO_TCP, syscall.TCP_KEEPCNT, KeepAliveCount},
		{"TCP_USER_TIMEOUT", syscall.IPPROTO_TCP, tcpUserTimeout, int(UserTimeout.Milliseconds())},
	}
	for _, w := range want {
		var got int
		var gerr error
		if err := raw.Control(func(fd uintptr) { got, gerr = syscall.GetsockoptInt(int(fd), w.level, w.opt) }); err != nil {
			t.Fatal(err)
		}
		if gerr != nil || got != w.value {
			t.Errorf("%s = %d (%v), want %d", w.name, got, gerr, w.value)
		}
	}
}

// TestDialLeavesUnixSocketsAlone checks that a unix-socket connection (host=/dir) still dials:
// TCP options are not applied to it.
func TestDialLeavesUnixSocketsAlone(t *testing.T) {
	dir := t.TempDir()
	path := dir + "/.s.PGSQL.5432"
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	defer ln.Close()
	cfg, err := Config("host=" + dir + " user=u dbname=db")
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	conn, err := cfg.DialFunc(context.Background(), "unix", path)
	if err != nil {
		t.Fatalf("dial a unix socket: %v", err)
	}
	conn.Close()
}
