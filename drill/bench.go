package drill

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/edmsdr/edmsdr/drill/idpath"
	"github.com/edmsdr/edmsdr/engine/backup"
	"github.com/edmsdr/edmsdr/engine/dsn"
	"github.com/edmsdr/edmsdr/engine/finding"
	"github.com/edmsdr/edmsdr/engine/introspect"
	"github.com/edmsdr/edmsdr/engine/pack"
	"github.com/edmsdr/edmsdr/engine/pgquote"
	"github.com/edmsdr/edmsdr/engine/restore"
	"github.com/edmsdr/edmsdr/engine/schema"
	"github.com/edmsdr/edmsdr/reports"
)

// ScenarioBench is a sample of the bench suite ('make bench' runs it in full): on the drill's
// scratch server and data, the id path against edmsdr backup + restore into an empty schema.
const ScenarioBench = "bench"

// The bench scenario's measurements and reference budgets (issue 11's; a ratio above its budget
// is a FAIL only under Config.BenchBudget).
const (
	benchReps         = 2
	benchBudgetRatio  = 1.10
	benchBudgetRSSMiB = 256
	benchRatioName    = "b/a backup+restore vs COPY out+in"
)

// bench times, interleaved over benchReps repetitions, (a) the id path: COPY every table out of
// a source and into empty indexed tables keeping ids, sequences set, and (b) edmsdr backup of the
// same source and restore into an empty schema; it reports the ratio of the medians b/a and the
// drill's peak resident memory (a check; the report's bench list holds the ratio alone, so that
// the writers' budget line is b/a's). The source is the cycle's package restored into an empty schema
// of a database of its own on the scratch server, so the scenario reads only scratch databases.
func (r *runner) bench(ctx context.Context, pkgPath string) reports.Scenario {
	var s reports.Scenario
	base := r.cfg.Database + "_bench"
	names := []string{base + "_src", base + "_a", base + "_b"}
	defer func() {
		for _, n := range names {
			if err := r.target.DropDatabase(context.WithoutCancel(ctx), n); err != nil {
				r.log.Warn("drill bench: drop scratch database", "database", n, "err", dsn.Redact(err.Error()))
			}
		}
	}()
	src, err := r.emptyDB(ctx, names[0])
	if err != nil {
		s.Error = "the bench source could not be prepared: " + dsn.Redact(err.Error())
		return s
	}
	pkg, err := os.ReadFile(pkgPath)
	if err != nil {
		s.Error = err.Error()
		return s
	}
	if _, err := r.restoreInto(ctx, src, pkg, nil); err != nil {
		s.Error = "the bench source could not be filled from the cycle's package: " + dsn.Redact(err.Error())
		return s
	}
	tables, err := tablesOf(ctx, src)
	if err != nil {
		s.Error = "the bench source could not be introspected: " + dsn.Redact(err.Error())
		return s
	}
	dir, err := os.MkdirTemp("", "edmsdr-drill-bench-")
	if err != nil {
		s.Error = err.Error()
		return s
	}
	defer os.RemoveAll(dir)
	var as, bs []time.Duration
	for i := range benchReps {
		a, err := r.benchIDPath(ctx, src, names[1], dir, tables)
		if err != nil {
			s.Error = fmt.Sprintf("rep %d, (a) the id path: %s", i+1, dsn.Redact(err.Error()))
			return s
		}
		b, err := r.benchEdmsdr(ctx, src, names[2], dir)
		if err != nil {
			s.Error = fmt.Sprintf("rep %d, (b) backup + restore: %s", i+1, dsn.Redact(err.Error()))
			return s
		}
		as, bs = append(as, a), append(bs, b)
		r.log.Info("drill bench rep", "rep", i+1, "a", a, "b", b)
	}
	ma, mb := medianOf(as), medianOf(bs)
	enforce := r.cfg.BenchBudget > 0
	budget := benchBudgetRatio
	if enforce {
		budget = r.cfg.BenchBudget
	}
	ratio := mb.Seconds() / ma.Seconds()
	s.Bench = append(s.Bench, reports.Ratio{Name: benchRatioName, Value: mb.Seconds(), Baseline: ma.Seconds(), Unit: "s", Ratio: ratio, Budget: budget})
	c := finding.Check{Name: "bench " + benchRatioName, Verdict: finding.Pass,
		Evidence: fmt.Sprintf("b/a %.2f (medians of %d interleaved reps: b %s, a %s; b: %s, a: %s)", ratio, benchReps, mb.Round(time.Millisecond), ma.Round(time.Millisecond), durations(bs), durations(as))}
	switch {
	case !enforce:
		c.Evidence += fmt.Sprintf("; budget %.2f not enforced (--bench-budget unset): evidence only", budget)
	case ratio > budget:
		c.Verdict = finding.Fail
		c.Evidence += fmt.Sprintf("; above the budget %.2f (--bench-budget)", budget)
	default:
		c.Evidence += fmt.Sprintf("; within the budget %.2f (--bench-budget)", budget)
	}
	s.Checks = append(s.Checks, c)
	rss := PeakRSS()
	rc := finding.Check{Name: "bench peak RSS", Verdict: finding.Pass}
	if rss <= 0 {
		rc.Verdict, rc.Evidence = finding.Unknown, "the peak resident memory could not be read (/proc/self/status VmHWM)"
	} else {
		mib := float64(rss) / (1 << 20)
		rc.Evidence = fmt.Sprintf("peak RSS of the drill process %.0f MiB (budget %d MiB", mib, benchBudgetRSSMiB)
		switch {
		case !enforce:
			rc.Evidence += ", not enforced: --bench-budget unset)"
		case mib > benchBudgetRSSMiB:
			rc.Verdict = finding.Fail
			rc.Evidence += ", exceeded)"
		default:
			rc.Evidence += ", kept)"
		}
	}
	s.Checks = append(s.Checks, rc)
	return s
}

// benchIDPath is (a): COPY every table of src out to files in one snapshot, then into the empty
// indexed tables of a fresh database keeping ids, sequences set, in one transaction.
func (r *runner) benchIDPath(ctx context.Context, src, name, dir string, tables []*schema.Table) (time.Duration, error) {
	dst, err := r.emptyDB(ctx, name)
	if err != nil {
		return 0, err
	}
	start := time.Now()
	if err := copyOut(ctx, src, dir, tables); err != nil {
		return 0, err
	}
	if err := copyIn(ctx, dst, dir, tables); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// benchEdmsdr is (b): edmsdr backup of src, restore into an empty schema of a fresh database.
func (r *runner) benchEdmsdr(ctx context.Context, src, name, dir string) (time.Duration, error) {
	dst, err := r.emptyDB(ctx, name)
	if err != nil {
		return 0, err
	}
	cfg, err := dsn.Config(src)
	if err != nil {
		return 0, err
	}
	pkgPath := filepath.Join(dir, "bench.edmsdr")
	start := time.Now()
	if _, err := backup.Run(ctx, cfg, pkgPath, backup.Options{Tool: r.cfg.Tool, Writer: pack.WriterOptions{Overwrite: true}}); err != nil {
		return 0, fmt.Errorf("backup: %w", err)
	}
	f, err := os.Open(pkgPath)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	conn, err := dsn.Connect(ctx, dst)
	if err != nil {
		return 0, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	res, err := restore.Run(ctx, conn, f, restore.Options{})
	if err != nil {
		return 0, fmt.Errorf("restore: %w", err)
	}
	if res.Verdict != finding.Pass {
		return 0, fmt.Errorf("restore ended %s", res.Verdict)
	}
	return time.Since(start), nil
}

// emptyDB (re)creates database name on the scratch server with the application's schema
// (the dataset's install, or the live drill's reinit) and every table emptied, sequences reset.
func (r *runner) emptyDB(ctx context.Context, name string) (string, error) {
	if err := r.target.DropDatabase(ctx, name); err != nil {
		return "", err
	}
	if err := r.target.CreateDatabase(ctx, name); err != nil {
		return "", err
	}
	url := r.target.DSN(name)
	switch {
	case r.cfg.SourceDSN != "":
		if err := r.cfg.Reinit(ctx, url); err != nil {
			return "", fmt.Errorf("reinit %s: %w", name, err)
		}
	default:
		if err := r.cfg.Dataset.Install(ctx, url, InstallOptions{}); err != nil {
			return "", fmt.Errorf("install %s: %w", name, err)
		}
	}
	tables, err := tablesOf(ctx, url)
	if err != nil {
		return "", err
	}
	if len(tables) == 0 {
		return url, nil
	}
	qs := make([]string, 0, len(tables))
	for _, t := range tables {
		qs = append(qs, pgquote.Table(t.QName()))
	}
	conn, err := dsn.Connect(ctx, url)
	if err != nil {
		return "", err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "TRUNCATE "+strings.Join(qs, ", ")+" RESTART IDENTITY CASCADE"); err != nil {
		return "", fmt.Errorf("empty %s: %w", name, err)
	}
	return url, nil
}

// tablesOf returns the tables of the database at url in foreign-key order.
func tablesOf(ctx context.Context, url string) ([]*schema.Table, error) {
	conn, err := dsn.Connect(ctx, url)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	s, err := introspect.Read(ctx, conn, introspect.Options{})
	if err != nil {
		return nil, fmt.Errorf("introspect: %w", err)
	}
	return schema.BuildGraph(s).Order, nil
}

// copyOut is the id path's backup (idpath.CopyOut) from the database at url.
func copyOut(ctx context.Context, url, dir string, tables []*schema.Table) error {
	conn, err := dsn.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return idpath.CopyOut(ctx, conn, dir, tables)
}

// copyIn is the id path's restore (idpath.CopyIn) into the database at url.
func copyIn(ctx context.Context, url, dir string, tables []*schema.Table) error {
	conn, err := dsn.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return idpath.CopyIn(ctx, conn, dir, tables)
}

func medianOf(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	switch n := len(s); {
	case n == 0:
		return 0
	case n%2 == 0:
		return (s[n/2-1] + s[n/2]) / 2
	default:
		return s[n/2]
	}
}

func durations(ds []time.Duration) string {
	out := make([]string, 0, len(ds))
	for _, d := range ds {
		out = append(out, d.Round(time.Millisecond).String())
	}
	return strings.Join(out, ", ")
}
