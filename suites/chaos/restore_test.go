package chaos_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/edmsdr/edmsdr/engine/dsn"
	"github.com/edmsdr/edmsdr/engine/finding"
	"github.com/edmsdr/edmsdr/engine/restore"
	"github.com/edmsdr/edmsdr/fixtures/edms"
	"github.com/edmsdr/edmsdr/fixtures/netfault"
	"github.com/edmsdr/edmsdr/fixtures/provider"
	"github.com/edmsdr/edmsdr/suites/label"
	"github.com/edmsdr/edmsdr/suites/suitekit"
)

// restoreScenario is one fault striking a restore at one step, and how the restore must end.
type restoreScenario struct {
	fault fault
	// at is the restore step (restore.Hook*) or atStart.
	at string
	// nth picks which time a repeated step (staged-entry, inserted-table) is reached; 0 means 1.
	nth int
	// deadline ends the restore's context that long after the fault struck; 0 means only the
	// spec's timeout bounds it.
	deadline time.Duration
	want     outcome
}

func (s restoreScenario) String() string {
	at := s.at
	if s.nth > 1 {
		at = fmt.Sprintf("%s #%d", s.at, s.nth)
	}
	return fmt.Sprintf("%s at %s: %s", s.fault.Name(), at, s.want)
}

// killScenarios kill the server at every step of a restore.
var killScenarios = []restoreScenario{
	{fault: serverKill{}, at: restore.HookStaging, want: unchanged},
	{fault: serverKill{}, at: restore.HookStagedEntry, nth: 3, want: unchanged},
	{fault: serverKill{}, at: restore.HookMapped, want: unchanged},
	{fault: serverKill{}, at: restore.HookPreflight, want: unchanged},
	{fault: serverKill{}, at: restore.HookInsertedTable, nth: 4, want: unchanged},
	{fault: serverKill{}, at: restore.HookValidated, want: unchanged},
	{fault: serverKill{}, at: restore.HookCommit, want: unchanged},
	{fault: serverKill{}, at: restore.HookCommitted, want: committed},
}

// containerKillScenarios are the kills a container (slower to restart) goes through: mid-COPY,
// mid-insert, just before COMMIT and just after it.
var containerKillScenarios = []restoreScenario{killScenarios[1], killScenarios[4], killScenarios[6], killScenarios[7]}

// networkRestoreScenarios break the network between the restore and its target.
var networkRestoreScenarios = []restoreScenario{
	{fault: netReset{after: 512 << 10, dir: netfault.Upstream}, at: restore.HookStaging, want: unchanged},
	{fault: netResetNow{}, at: restore.HookInsertedTable, nth: 3, want: unchanged},
	{fault: netLatency{d: 2 * time.Millisecond}, at: atStart, want: complete},
	{fault: netLatency{d: 100 * time.Millisecond}, at: atStart, deadline: 2 * time.Second, want: unchanged},
	{fault: netBlackhole{after: 512 << 10, dir: netfault.Upstream}, at: restore.HookStaging, deadline: 2 * time.Second, want: unchanged},
	{fault: netBlackhole{after: -1}, at: restore.HookPreflight, deadline: 2 * time.Second, want: unchanged},
	{fault: netBlackhole{after: -1}, at: restore.HookCommit, deadline: 2 * time.Second, want: unchanged},
	{fault: netReset{after: 0, dir: netfault.Downstream}, at: restore.HookCommit, want: committedUnacknowledged},
}

// sessionScenarios end the restore's statements or session from the server's side.
var sessionScenarios = []restoreScenario{
	// A slow link makes staging outlast the server's statement_timeout: the server cancels the
	// COPY. That is no fault of the package (regression: it was reported as a corrupt one).
	{fault: allOf{netLatency{d: 20 * time.Millisecond}, statementTimeout{d: time.Second}}, at: atStart, want: unchanged},
	{fault: sessionTerminated{}, at: restore.HookStagedEntry, nth: 2, want: unchanged},
	{fault: sessionTerminated{}, at: restore.HookInsertedTable, nth: 2, want: unchanged},
	{fault: sessionTerminated{}, at: restore.HookValidated, want: unchanged},
}

// state is what a restore must leave alone or complete: the logical digest and every sequence.
type state struct {
	digest    string
	sequences map[string]int64
}

func stateOf(ctx context.Context, u string) state {
	GinkgoHelper()
	st := state{digest: suitekit.Digest(ctx, u).Total, sequences: map[string]int64{}}
	conn := suitekit.Connect(ctx, u)
	rows, err := conn.Query(ctx, `SELECT schemaname || '.' || sequencename, coalesce(last_value, 0) FROM pg_sequences`)
	Expect(err).NotTo(HaveOccurred())
	for rows.Next() {
		var name string
		var v int64
		Expect(rows.Scan(&name, &v)).To(Succeed())
		st.sequences[name] = v
	}
	Expect(rows.Err()).NotTo(HaveOccurred())
	Expect(conn.Close(ctx)).To(Succeed())
	return st
}

// checkSequences accepts sequences that a failed restore moved forward, never backward, and
// reports them: setval is not transactional, and a restore that fails after validation (the
// connection lost at COMMIT, the server killed before the WAL reached disk or after) may leave
// them moved. Only ids are skipped; no data changes.
func checkSequences(before, after state) {
	GinkgoHelper()
	Expect(after.sequences).To(HaveLen(len(before.sequences)))
	var moved []string
	for name, v := range before.sequences {
		Expect(after.sequences).To(HaveKey(name))
		Expect(after.sequences[name]).To(BeNumerically(">=", v), "sequence %s went backwards", name)
		if after.sequences[name] != v {
			moved = append(moved, fmt.Sprintf("%s %d -> %d", name, v, after.sequences[name]))
		}
	}
	if len(moved) > 0 {
		sort.Strings(moved)
		AddReportEntry("sequences moved by the failed restore", strings.Join(moved, "\n"))
	}
}

// reinitTarget creates a database on server as a re-initialised install (schema and seeders).
func reinitTarget(ctx context.Context, server provider.Server) string {
	GinkgoHelper()
	db := suitekit.NewDatabase(ctx, server, "tgt")
	Expect(edms.Install(ctx, server.DSN(db), edms.SeedOptions{Reinit: true})).To(Succeed())
	return db
}

// stepHook calls strike the nth time the restore reaches step.
func stepHook(step string, nth int, strike func(context.Context)) func(context.Context, string) error {
	seen := 0
	return func(ctx context.Context, s string) error {
		if s != step {
			return nil
		}
		seen++
		if seen == max(nth, 1) {
			strike(ctx)
		}
		return nil
	}
}

// restoreVia restores pkg into the database at u with hook, on a connection of its own.
func restoreVia(ctx context.Context, u, pkg string, opts restore.Options) (*restore.Result, error) {
	conn, err := dsn.Connect(ctx, u)
	if err != nil {
		return nil, err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = conn.Close(cctx)
	}()
	f, err := os.Open(pkg)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return restore.Run(ctx, conn, f, opts)
}

// runRestoreScenario restores the suite's package into a re-initialised target on e's server
// while sc's fault strikes, heals the fault, checks the outcome, then restores again without it.
func runRestoreScenario(ctx SpecContext, e *env, sc restoreScenario) {
	if why := sc.fault.Available(e); why != "" {
		Skip(why)
	}
	db := reinitTarget(ctx, e.server)
	e.database = db
	before := stateOf(ctx, e.server.DSN(db))
	DeferCleanup(func(ctx SpecContext) error { return sc.fault.Heal(ctx, e) }, NodeTimeout(2*time.Minute))

	st, opCtx := newStriker(ctx, sc.fault, e, sc.deadline)
	defer st.stop()
	opts := restore.Options{}
	if sc.at == atStart {
		st.strike(ctx)
	} else {
		opts.Hook = stepHook(sc.at, sc.nth, st.strike)
	}
	res, err := restoreVia(opCtx, e.via(e.server.DSN(db)), src.pkg, opts)
	after := st.check("restore", err)
	AddReportEntry("restore", fmt.Sprintf("%s: ended %s after the fault, error: %v", sc, after.Round(time.Millisecond), err))
	Expect(sc.fault.Heal(ctx, e)).To(Succeed(), "heal %s", sc.fault.Name())

	now := stateOf(ctx, e.server.DSN(db))
	switch sc.want {
	case unchanged:
		Expect(err).To(HaveOccurred(), "the restore succeeded despite %s", sc.fault.Name())
		Expect(finding.FindingsOf(err)).To(BeEmpty(), "a fault is not a finding about the data: %v", err)
		if res != nil {
			Expect(res.Committed).To(BeFalse())
		}
		if sc.deadline > 0 {
			Expect(endedByContext(err)).To(BeTrue(), "what ended the restore: %v", err)
		}
		// Only a COMMIT left without an answer leaves the restore in doubt (after validation,
		// COMMIT is the next thing sent); before it, the restore knows that nothing was written.
		if sc.at != restore.HookValidated && sc.at != restore.HookCommit {
			Expect(err).NotTo(MatchError(restore.ErrCommitUnknown), "the restore failed before COMMIT: it knows the target is unchanged")
		}
		Expect(now.digest).To(Equal(before.digest), "the failed restore changed the target's data")
		checkSequences(before, now)
	case complete, committed:
		Expect(err).NotTo(HaveOccurred())
		Expect(res.Committed).To(BeTrue())
		Expect(now.digest).To(Equal(src.digest), "the committed restore did not survive %s", sc.fault.Name())
	case committedUnacknowledged:
		Expect(err).To(MatchError(restore.ErrCommitUnknown), "the restore cannot know that its COMMIT succeeded")
		Expect(now.digest).To(Equal(src.digest), "COMMIT reached the server: the target must be complete")
	}

	// The same restore, run again without the fault, finishes the job or finds nothing to do.
	again, err := suitekit.Restore(ctx, e.server.DSN(db), src.pkg, restore.Options{})
	Expect(err).NotTo(HaveOccurred(), "the restore run again after %s", sc.fault.Name())
	Expect(again.AlreadyRestored).To(Equal(sc.want != unchanged), "already restored")
	Expect(again.Committed).To(Equal(sc.want == unchanged), "committed")
	Expect(again.RestoredDigest).To(Equal(src.digest), "the target's digest, computed by the restore's validation")
}

var _ = Describe("The database server killed during a restore", Label(label.Chaos), func() {
	Context("on a local cluster", func() {
		for _, sc := range killScenarios {
			It(sc.String(), func(ctx SpecContext) {
				if local == nil {
					Skip("no local cluster: " + localSkip)
				}
				runRestoreScenario(ctx, &env{server: local}, sc)
			}, SpecTimeout(2*time.Minute))
		}
	})

	Context("on a container", Label(label.Container), func() {
		for _, sc := range containerKillScenarios {
			It(sc.String(), func(ctx SpecContext) {
				suitekit.SkipUnlessContainer(csrv)
				runRestoreScenario(ctx, &env{server: csrv}, sc)
			}, SpecTimeout(3*time.Minute))
		}
	})
})

var _ = Describe("The server ending the restore's statements or session", Label(label.Chaos), func() {
	for _, sc := range sessionScenarios {
		It(sc.String(), func(ctx SpecContext) {
			runRestoreScenario(ctx, &env{server: srv, proxy: proxyTo(ctx, srv)}, sc)
		}, SpecTimeout(2*time.Minute))
	}
})

var _ = Describe("The network failing during a restore", Label(label.Chaos), func() {
	for _, sc := range networkRestoreScenarios {
		It(sc.String(), func(ctx SpecContext) {
			runRestoreScenario(ctx, &env{server: srv, proxy: proxyTo(ctx, srv)}, sc)
		}, SpecTimeout(2*time.Minute))
	}

	It("leaves a blackholed restore's session holding its locks: a retry is refused (lock timeout), nothing is changed, and the retry succeeds once that session ends", func(ctx SpecContext) {
		e := &env{server: srv, proxy: proxyTo(ctx, srv)}
		db := reinitTarget(ctx, srv)
		direct := srv.DSN(db)
		before := stateOf(ctx, direct)
		st, opCtx := newStriker(ctx, netBlackhole{after: -1}, e, 2*time.Second)
		defer st.stop()
		_, err := restoreVia(opCtx, e.via(direct), src.pkg, restore.Options{Hook: stepHook(restore.HookMapped, 1, st.strike)})
		st.check("restore", err)
		Expect(endedByContext(err)).To(BeTrue(), "what ended the restore: %v", err)
		Expect(sessionsOn(ctx, db)).To(BeEquivalentTo(1), "the orphaned session is still there")

		// The orphan loads the tables that were empty before it straight in: it holds them
		// exclusively from staging on (their foreign keys and indexes are dropped for the load),
		// so even the retry's catalog reads wait on it, and give up after the lock timeout.
		_, err = suitekit.Restore(ctx, direct, src.pkg, restore.Options{LockTimeout: time.Second})
		var pgErr *pgconn.PgError
		Expect(errors.As(err, &pgErr)).To(BeTrue(), "a retry while the orphan holds its locks: %v", err)
		Expect(pgErr.Code).To(Equal("55P03"), "lock_not_available")

		// The partition ends with the connection dead: the server ends the session, rolling back.
		e.proxy.ResetAll()
		Eventually(func(ctx context.Context) int64 { return sessionsOn(ctx, db) }).WithContext(ctx).
			WithTimeout(30 * time.Second).Should(BeZero())
		Expect(stateOf(ctx, direct)).To(Equal(before), "neither the orphan nor the refused retry changed the target")
		res, err := suitekit.Restore(ctx, direct, src.pkg, restore.Options{})
		Expect(err).NotTo(HaveOccurred())
		Expect(res.Committed).To(BeTrue())
		Expect(suitekit.Digest(ctx, direct).Total).To(Equal(src.digest))
	}, SpecTimeout(2*time.Minute))
})

// sessionsOn counts the other sessions connected to database db on srv.
func sessionsOn(ctx context.Context, db string) int64 {
	GinkgoHelper()
	var n int64
	conn, err := dsn.Connect(ctx, srv.DSN("postgres"))
	Expect(err).NotTo(HaveOccurred())
	defer conn.Close(context.WithoutCancel(ctx))
	Expect(conn.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`, db).Scan(&n)).To(Succeed())
	return n
}
