package chaos_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/edmsdr/edmsdr/engine/backup"
	"github.com/edmsdr/edmsdr/engine/dsn"
	"github.com/edmsdr/edmsdr/engine/finding"
	"github.com/edmsdr/edmsdr/fixtures/netfault"
	"github.com/edmsdr/edmsdr/suites/label"
	"github.com/edmsdr/edmsdr/suites/suitekit"
)

// backupScenario is one fault striking a backup, and how the backup must end.
type backupScenario struct {
	fault fault
	// at is atStart or atSnapshot.
	at string
	// deadline ends the backup's context that long after the fault struck; 0 means only the
	// spec's timeout bounds it.
	deadline time.Duration
	// want is unchanged (an error, no file left) or complete.
	want outcome
}

func (s backupScenario) String() string {
	want := "fails, no file left"
	if s.want == complete {
		want = "completes"
	}
	return fmt.Sprintf("%s at %s: %s", s.fault.Name(), s.at, want)
}

var networkBackupScenarios = []backupScenario{
	{fault: netReset{after: 256 << 10, dir: netfault.Downstream}, at: atStart},
	{fault: netResetNow{}, at: atSnapshot},
	{fault: netLatency{d: 2 * time.Millisecond}, at: atStart, want: complete},
	{fault: netLatency{d: 100 * time.Millisecond}, at: atStart, deadline: 2 * time.Second},
	{fault: netBlackhole{after: 256 << 10, dir: netfault.Downstream}, at: atStart, deadline: 2 * time.Second},
	{fault: netBlackhole{after: -1}, at: atSnapshot, deadline: 2 * time.Second},
	{fault: netBlackhole{after: -1}, at: atStart, deadline: 2 * time.Second},
}

var killBackupScenarios = []backupScenario{
	{fault: serverKill{}, at: atSnapshot},
}

// filesIn lists the names in dir.
func filesIn(dir string) []string {
	GinkgoHelper()
	entries, err := os.ReadDir(dir)
	Expect(err).NotTo(HaveOccurred())
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// runBackupScenario backs up the database db of e's server into a fresh directory while sc's
// fault strikes, heals it and checks the outcome; then a backup to the same name without the
// fault must succeed with the source's digest.
func runBackupScenario(ctx SpecContext, e *env, db, wantDigest string, sc backupScenario) {
	if why := sc.fault.Available(e); why != "" {
		Skip(why)
	}
	DeferCleanup(func(ctx SpecContext) error { return sc.fault.Heal(ctx, e) }, NodeTimeout(2*time.Minute))
	dir := GinkgoT().TempDir()
	out := filepath.Join(dir, "chaos.edmsdr")

	st, opCtx := newStriker(ctx, sc.fault, e, sc.deadline)
	defer st.stop()
	opts := backup.Options{Tool: "edmsdr chaos"}
	switch sc.at {
	case atStart:
		st.strike(ctx)
	case atSnapshot:
		opts.Snapshot = func(ctx context.Context, _ string) error { st.strike(ctx); return nil }
	default:
		Fail("a backup has no step " + sc.at)
	}
	cfg, err := dsn.Config(e.via(e.server.DSN(db)))
	Expect(err).NotTo(HaveOccurred())
	res, err := backup.Run(opCtx, cfg, out, opts)
	after := st.check("backup", err)
	AddReportEntry("backup", fmt.Sprintf("%s: ended %s after the fault, error: %v", sc, after.Round(time.Millisecond), err))
	Expect(sc.fault.Heal(ctx, e)).To(Succeed(), "heal %s", sc.fault.Name())

	switch sc.want {
	case unchanged:
		Expect(err).To(HaveOccurred(), "the backup succeeded despite %s", sc.fault.Name())
		Expect(finding.FindingsOf(err)).To(BeEmpty(), "a fault is not a finding about the data: %v", err)
		if sc.deadline > 0 {
			Expect(endedByContext(err)).To(BeTrue(), "what ended the backup: %v", err)
		}
		Expect(filesIn(dir)).To(BeEmpty(), "a failed backup leaves nothing behind")
	case complete:
		Expect(err).NotTo(HaveOccurred())
		Expect(res.Manifest.Digest.Total).To(Equal(wantDigest))
		m, err := suitekit.Verify(out)
		Expect(err).NotTo(HaveOccurred())
		Expect(m.Digest.Total).To(Equal(wantDigest))
		Expect(filesIn(dir)).To(ConsistOf("chaos.edmsdr"))
		Expect(os.Remove(out)).To(Succeed())
	default:
		Fail(fmt.Sprintf("a backup cannot end %s", sc.want))
	}

	// The same backup, without the fault, succeeds.
	cfg, err = dsn.Config(e.server.DSN(db))
	Expect(err).NotTo(HaveOccurred())
	res, err = backup.Run(ctx, cfg, out, backup.Options{Tool: "edmsdr chaos"})
	Expect(err).NotTo(HaveOccurred(), "the backup run again after %s", sc.fault.Name())
	Expect(res.Manifest.Digest.Total).To(Equal(wantDigest))
	Expect(filesIn(dir)).To(ConsistOf("chaos.edmsdr"))
}

// dbOf returns the database name of a URL.
func dbOf(u string) string {
	GinkgoHelper()
	cfg, err := dsn.Config(u)
	Expect(err).NotTo(HaveOccurred())
	return cfg.Database
}

var _ = Describe("The network failing during a backup", Label(label.Chaos), func() {
	for _, sc := range networkBackupScenarios {
		It(sc.String(), func(ctx SpecContext) {
			runBackupScenario(ctx, &env{server: srv, proxy: proxyTo(ctx, srv)}, dbOf(src.url), src.digest, sc)
		}, SpecTimeout(2*time.Minute))
	}
})

var _ = Describe("The database server killed during a backup", Label(label.Chaos), func() {
	for _, sc := range killBackupScenarios {
		It(sc.String()+" (local cluster)", func(ctx SpecContext) {
			if local == nil {
				Skip("no local cluster: " + localSkip)
			}
			s := newSource(ctx, local, 2)
			runBackupScenario(ctx, &env{server: local}, dbOf(s.url), s.digest, sc)
		}, SpecTimeout(2*time.Minute))

		It(sc.String()+" (container)", Label(label.Container), func(ctx SpecContext) {
			suitekit.SkipUnlessContainer(csrv)
			s := newSource(ctx, csrv, 2)
			runBackupScenario(ctx, &env{server: csrv}, dbOf(s.url), s.digest, sc)
		}, SpecTimeout(3*time.Minute))
	}
})
