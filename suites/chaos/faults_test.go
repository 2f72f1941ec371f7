package chaos_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/jackc/pgx/v5"

	"github.com/edmsdr/edmsdr/engine/dsn"
	"github.com/edmsdr/edmsdr/fixtures/netfault"
	"github.com/edmsdr/edmsdr/fixtures/provider"
)

// env is where a fault strikes: the server the operation's database lives on and, for network
// faults, the proxy the tool connects through.
type env struct {
	server provider.Server
	proxy  *netfault.Proxy
	// database is the database the operation works on (faults aimed at its sessions).
	database string
	// killed is set while the server is down after a kill.
	killed bool
}

// via returns the URL the tool connects with: through the proxy when there is one.
func (e *env) via(u string) string {
	if e.proxy == nil {
		return u
	}
	parsed, err := url.Parse(u)
	Expect(err).NotTo(HaveOccurred(), "parse %s", u)
	parsed.Host = e.proxy.Addr()
	return parsed.String()
}

// proxyTo starts a proxy in front of server for the current spec (closed when it ends).
func proxyTo(ctx context.Context, server provider.Server) *netfault.Proxy {
	GinkgoHelper()
	parsed, err := url.Parse(server.DSN("postgres"))
	Expect(err).NotTo(HaveOccurred())
	p, err := netfault.Start(ctx, parsed.Host)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(p.Close)
	return p
}

// fault is one way the world breaks while an operation runs: a name, where it can strike, what it
// does, and how the world is put back so that the outcome can be checked.
type fault interface {
	// Name identifies the fault in spec names and reports.
	Name() string
	// Available returns why the fault cannot strike in e, or "" when it can.
	Available(e *env) string
	// Inject breaks the world and returns once the fault is in effect.
	Inject(ctx context.Context, e *env) error
	// Heal puts the world back (the server up, the network clean); it is safe to call when Inject
	// did not run, and more than once.
	Heal(ctx context.Context, e *env) error
}

// serverKill crashes the database server: SIGKILL of every server process of a local cluster,
// docker kill of a container. Heal starts it again (crash recovery).
type serverKill struct{}

func (serverKill) Name() string { return "server killed" }

func (serverKill) Available(e *env) string {
	if e.server == nil {
		return "no server to kill"
	}
	if k := e.server.Kind(); k != "local" && k != "container" {
		return "a " + k + " server is not ours to kill"
	}
	return ""
}

func (serverKill) Inject(ctx context.Context, e *env) error {
	e.killed = true
	return e.server.Kill(ctx)
}

func (serverKill) Heal(ctx context.Context, e *env) error {
	if !e.killed {
		return nil
	}
	if err := e.server.Start(ctx); err != nil {
		return err
	}
	e.killed = false
	return nil
}

// sessionTerminated ends every other session on the operation's database from the server's side
// (pg_terminate_backend, as an administrator or a failover does): the server sends its FATAL
// error, then closes the connection.
type sessionTerminated struct{}

func (sessionTerminated) Name() string { return "session terminated" }

func (sessionTerminated) Available(e *env) string {
	if e.server == nil {
		return "no server"
	}
	return ""
}

func (sessionTerminated) Inject(ctx context.Context, e *env) error {
	conn, err := dsn.Connect(ctx, e.server.DSN("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var n int
	if err := conn.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid, 10000)) FROM pg_stat_activity
		WHERE datname = $1 AND pid <> pg_backend_pid()`, e.database).Scan(&n); err != nil {
		return fmt.Errorf("terminate the sessions on %s: %w", e.database, err)
	}
	if n == 0 {
		return fmt.Errorf("terminate the sessions on %s: none found", e.database)
	}
	return nil
}

func (sessionTerminated) Heal(context.Context, *env) error { return nil }

// statementTimeout sets statement_timeout on the operation's database, as a DBA may: new
// sessions get it, and the server cancels any statement that runs longer (SQLSTATE 57014).
type statementTimeout struct{ d time.Duration }

func (f statementTimeout) Name() string { return fmt.Sprintf("statement_timeout %s", f.d) }

func (statementTimeout) Available(e *env) string {
	if e.server == nil {
		return "no server"
	}
	return ""
}

func (f statementTimeout) Inject(ctx context.Context, e *env) error {
	return alterDatabase(ctx, e, fmt.Sprintf("SET statement_timeout = %d", f.d.Milliseconds()))
}

func (statementTimeout) Heal(ctx context.Context, e *env) error {
	return alterDatabase(ctx, e, "RESET statement_timeout")
}

func alterDatabase(ctx context.Context, e *env, clause string) error {
	conn, err := dsn.Connect(ctx, e.server.DSN("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "ALTER DATABASE "+pgx.Identifier{e.database}.Sanitize()+" "+clause); err != nil {
		return fmt.Errorf("alter database %s %s: %w", e.database, clause, err)
	}
	return nil
}

// allOf strikes several faults together: injected in order, healed in reverse.
type allOf []fault

func (fs allOf) Name() string {
	names := make([]string, len(fs))
	for i, f := range fs {
		names[i] = f.Name()
	}
	return strings.Join(names, " + ")
}

func (fs allOf) Available(e *env) string {
	for _, f := range fs {
		if why := f.Available(e); why != "" {
			return why
		}
	}
	return ""
}

func (fs allOf) Inject(ctx context.Context, e *env) error {
	for _, f := range fs {
		if err := f.Inject(ctx, e); err != nil {
			return err
		}
	}
	return nil
}

func (fs allOf) Heal(ctx context.Context, e *env) error {
	var errs []error
	for i := len(fs) - 1; i >= 0; i-- {
		errs = append(errs, fs[i].Heal(ctx, e))
	}
	return errors.Join(errs...)
}

// needsProxy is the availability of every network fault.
func needsProxy(e *env) string {
	if e.proxy == nil {
		return "network faults need the proxy between the tool and the server"
	}
	return ""
}

// netReset resets every connection through the proxy (RST both ways) once after more bytes have
// passed in dir; 0 means at the next chunk in dir.
type netReset struct {
	after int64
	dir   netfault.Direction
}

func (f netReset) Name() string {
	if f.after == 0 {
		return fmt.Sprintf("connections reset at the next %s byte", f.dir)
	}
	return fmt.Sprintf("connections reset after %s %s", size(f.after), f.dir)
}
func (netReset) Available(e *env) string { return needsProxy(e) }
func (f netReset) Inject(_ context.Context, e *env) error {
	e.proxy.ResetAfter(f.after, f.dir)
	return nil
}
func (netReset) Heal(_ context.Context, e *env) error { e.proxy.Heal(); return nil }

// netResetNow resets every open connection through the proxy at once.
type netResetNow struct{}

func (netResetNow) Name() string            { return "connections reset" }
func (netResetNow) Available(e *env) string { return needsProxy(e) }
func (netResetNow) Inject(_ context.Context, e *env) error {
	e.proxy.ResetAll()
	return nil
}
func (netResetNow) Heal(_ context.Context, e *env) error { e.proxy.Heal(); return nil }

// netLatency delays every chunk the proxy forwards, both ways.
type netLatency struct{ d time.Duration }

func (f netLatency) Name() string          { return fmt.Sprintf("%s latency", f.d) }
func (netLatency) Available(e *env) string { return needsProxy(e) }
func (f netLatency) Inject(_ context.Context, e *env) error {
	e.proxy.SetLatency(f.d)
	return nil
}
func (netLatency) Heal(_ context.Context, e *env) error { e.proxy.Heal(); return nil }

// netBlackhole stops forwarding once after more bytes have passed in dir (after < 0: at once),
// every socket left open: nobody hears anything, as with a hung server or a dead middlebox. Heal
// ends the held connections with a reset, what they held undelivered (both ends of a long
// partition have given up by the time it ends), and lets new connections through.
type netBlackhole struct {
	after int64
	dir   netfault.Direction
}

func (f netBlackhole) Name() string {
	if f.after < 0 {
		return "network blackholed"
	}
	return fmt.Sprintf("network blackholed after %s %s", size(f.after), f.dir)
}
func (netBlackhole) Available(e *env) string { return needsProxy(e) }
func (f netBlackhole) Inject(_ context.Context, e *env) error {
	if f.after < 0 {
		e.proxy.Blackhole()
	} else {
		e.proxy.BlackholeAfter(f.after, f.dir)
	}
	return nil
}
func (netBlackhole) Heal(_ context.Context, e *env) error {
	e.proxy.ResetAll()
	e.proxy.Heal()
	return nil
}

// outcome is how an operation hit by a fault must end.
type outcome int

const (
	// unchanged: the operation fails with an error; once the fault heals, a restore's target is
	// exactly as it was and a backup left no file behind.
	unchanged outcome = iota
	// complete: the operation succeeds despite the fault, with the full result.
	complete
	// committed: the fault strikes after COMMIT returned: the restore succeeded and its full
	// result survives the fault.
	committed
	// committedUnacknowledged: COMMIT reached the server but its reply never came back: the
	// restore reports an error, the target holds the full result, and a re-run is a no-op.
	committedUnacknowledged
)

func (o outcome) String() string {
	switch o {
	case unchanged:
		return "fails, target unchanged"
	case complete:
		return "completes"
	case committed:
		return "stays committed"
	case committedUnacknowledged:
		return "commits unacknowledged, target complete"
	}
	return fmt.Sprintf("outcome(%d)", int(o))
}

// Moments a fault strikes besides the restore's own steps (restore.Hook*).
const (
	atStart    = "start"    // before the operation connects
	atSnapshot = "snapshot" // a backup has exported its snapshot, no data read yet
)

// slack is how much longer than its deadline an operation may take to give up (cleanup, a loaded
// machine); an operation that hangs takes far longer.
const slack = 15 * time.Second

func size(n int64) string {
	if n >= 1<<10 && n%(1<<10) == 0 {
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// striker injects a scenario's fault at its moment and, when the scenario has a deadline, ends
// the operation's context that long after the fault struck (so that the time an operation takes
// to reach its step on a loaded machine does not count).
type striker struct {
	fault    fault
	env      *env
	deadline time.Duration
	cancel   context.CancelCauseFunc
	timer    *time.Timer

	struck bool
	at     time.Time
	err    error
}

// newStriker returns the striker and the context the operation runs under; stop it when done.
func newStriker(ctx context.Context, f fault, e *env, deadline time.Duration) (*striker, context.Context) {
	opCtx, cancel := context.WithCancelCause(ctx)
	return &striker{fault: f, env: e, deadline: deadline, cancel: cancel}, opCtx
}

// strike injects the fault (once) and arms the deadline.
func (s *striker) strike(ctx context.Context) {
	if s.struck {
		return
	}
	s.struck, s.at = true, time.Now()
	s.err = s.fault.Inject(ctx, s.env)
	if s.deadline > 0 {
		s.timer = time.AfterFunc(s.deadline, func() {
			s.cancel(fmt.Errorf("deadline: %s after %s", s.deadline, s.fault.Name()))
		})
	}
}

// stop disarms the deadline and releases the context.
func (s *striker) stop() {
	if s.timer != nil {
		s.timer.Stop()
	}
	s.cancel(nil)
}

// check asserts that the fault struck, and that the operation, which returned err, gave up within
// its deadline; it returns how long the operation ran after the fault.
func (s *striker) check(what string, err error) time.Duration {
	GinkgoHelper()
	Expect(s.err).NotTo(HaveOccurred(), "inject %s", s.fault.Name())
	Expect(s.struck).To(BeTrue(), "the %s never reached the fault's moment (error: %v)", what, err)
	after := time.Since(s.at)
	if s.deadline > 0 {
		Expect(after).To(BeNumerically("<", s.deadline+slack), "the %s outlived its deadline", what)
	}
	return after
}

// endedByContext reports whether err says the operation's context ended it.
func endedByContext(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}
