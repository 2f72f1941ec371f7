// Package drill runs disaster-recovery drills: install a dataset on a server, fill it, back it up,
// re-initialise the database (or move to another server), restore, and prove with digests and
// probes that every row came back. The CLI's drill command and the suites both run it.
package drill

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/edmsdr/edmsdr/engine/backup"
	"github.com/edmsdr/edmsdr/engine/digest"
	"github.com/edmsdr/edmsdr/engine/dsn"
	"github.com/edmsdr/edmsdr/engine/finding"
	"github.com/edmsdr/edmsdr/engine/pack"
	"github.com/edmsdr/edmsdr/engine/restore"
	"github.com/edmsdr/edmsdr/fixtures/provider"
	"github.com/edmsdr/edmsdr/reports"
)

// Config describes one drill.
type Config struct {
	// Source is the server the data is generated on and backed up from.
	Source provider.Server
	// Target is the server restored into; nil means Source, with the database re-initialised.
	Target provider.Server
	// Dataset is what to install and generate.
	Dataset Dataset
	// Database is the database name (default "edmsdr_drill").
	Database string
	// Seed makes the generated data reproducible.
	Seed int64
	// Scale is the dataset's profile: tiny, small, medium or a number.
	Scale string
	// SequencesAtMax re-initialises the target with every sequence at the highest id in use, as
	// a real install leaves it, instead of moved well past it (InstallOptions.SequencesAtMax).
	SequencesAtMax bool
	// SourceDSN, when set, drills a live database instead of generated data: it is only read
	// (the backup's read-only transaction), backed up, and restored into Database on Target, a scratch server, after Reinit prepared it. Source,
	// Seed and Scale are unused; Dataset is optional (its probes run when it has them).
	SourceDSN string
	// Reinit prepares the scratch database the way the application's install does (schema,
	// seeds), given its DSN; it runs after the database is created, before the restore.
	Reinit func(ctx context.Context, dsn string) error
	// Scenarios are the scenarios to run (ParseScenarios); nil runs the cycle alone.
	Scenarios []string
	// BenchBudget, when above 0, is the ratio b/a the bench scenario must stay at or under (and
	// its peak memory under 256 MiB); 0 reports the bench's numbers as evidence only.
	BenchBudget float64
	// Replay overrides the replay command of the report.
	Replay string
	// WorkDir receives the package and the id map; "" means a temporary directory, removed after.
	WorkDir string
	// Tool names the build in the report.
	Tool string
	// Log receives progress; nil discards.
	Log *slog.Logger
}

type runner struct {
	cfg    Config
	rep    *reports.Drill
	cycle  *reports.Scenario
	extra  []reports.Scenario
	last   time.Time
	log    *slog.Logger
	source provider.Server
	target provider.Server
	// onExisting is the restore's policy for matched rows that differ (default reuse).
	onExisting restore.OnExisting
}

func (r *runner) phase(name string) {
	now := time.Now()
	r.rep.Phases = append(r.rep.Phases, reports.Phase{Name: name, Elapsed: now.Sub(r.last)})
	r.last = now
	r.log.Info("drill phase done", "phase", name, "elapsed", r.rep.Phases[len(r.rep.Phases)-1].Elapsed)
}

// Run runs the drill. The report is returned even when the drill fails (Verdict FAIL, Error set);
// err is non-nil only when the configuration is unusable.
func Run(ctx context.Context, cfg Config) (*reports.Drill, error) {
	if cfg.Database == "" {
		cfg.Database = "edmsdr_drill"
	}
	if cfg.SourceDSN != "" {
		return runLive(ctx, cfg)
	}
	if cfg.Source == nil {
		return nil, errors.New("drill: no source server")
	}
	if cfg.Dataset.Install == nil {
		return nil, errors.New("drill: no dataset")
	}
	if cfg.Scale == "" {
		cfg.Scale = "tiny"
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	r := &runner{cfg: cfg, log: log, source: cfg.Source, target: cfg.Target}
	if r.target == nil {
		r.target = cfg.Source
	}
	r.last = time.Now()
	r.cycle = &reports.Scenario{Name: "cycle"}
	r.rep = &reports.Drill{
		Tool: cfg.Tool, Dataset: cfg.Dataset.Name, Provider: cfg.Source.Kind(), Scale: cfg.Scale, Seed: cfg.Seed,
		SourceVersion: cfg.Source.Version(), TargetVersion: r.target.Version(), StartedAt: time.Now().UTC(),
		Replay: fmt.Sprintf("edmsdr drill --dataset %s --db %s --scale %s --seed %d", cfg.Dataset.Name, cfg.Source.Kind(), cfg.Scale, cfg.Seed),
	}
	if cfg.SequencesAtMax {
		r.rep.Replay += " --sequences-at-max"
	}
	if cfg.Replay != "" {
		r.rep.Replay = cfg.Replay
	}
	return r.finish(r.run(ctx)), nil
}

// finish completes the report after the cycle ran (err: why it stopped, if it did).
func (r *runner) finish(err error) *reports.Drill {
	r.rep.Elapsed = time.Since(r.rep.StartedAt)
	r.cycle.Elapsed = r.rep.Elapsed
	r.rep.PeakRSSBytes = PeakRSS()
	r.rep.TargetVersion = r.target.Version()
	if err != nil {
		r.rep.Error = dsn.Redact(err.Error())
		r.cycle.Error = r.rep.Error
		r.cycle.Verdict = finding.Fail
		if fl := finding.FindingsOf(err); fl != nil && len(r.cycle.Findings) == 0 {
			r.cycle.Findings = append(r.cycle.Findings, fl.Redacted()...)
		}
	}
	r.rep.Scenarios = append(r.rep.Scenarios, *r.cycle)
	r.rep.Scenarios = append(r.rep.Scenarios, r.extra...)
	for _, name := range r.cfg.Scenarios {
		if r.rep.Scenario(name) == nil {
			r.rep.Scenarios = append(r.rep.Scenarios, reports.Scenario{Name: name, Verdict: finding.Unknown,
				Error: "not run: the cycle stopped before its package was verified"})
		}
	}
	r.rep.Combine()
	return r.rep
}

// workDir returns the drill's work directory and its cleanup.
func (r *runner) workDir() (string, func(), error) {
	if work := r.cfg.WorkDir; work != "" {
		if err := os.MkdirAll(work, 0o755); err != nil {
			return "", nil, fmt.Errorf("drill: %w", err)
		}
		return work, func() {}, nil
	}
	tmp, err := os.MkdirTemp("", "edmsdr-drill-")
	if err != nil {
		return "", nil, fmt.Errorf("drill: %w", err)
	}
	return tmp, func() { os.RemoveAll(tmp) }, nil
}

func (r *runner) run(ctx context.Context) error {
	cfg := r.cfg
	work, cleanup, err := r.workDir()
	if err != nil {
		return err
	}
	defer cleanup()
	db := cfg.Database
	if err := r.source.DropDatabase(ctx, db); err != nil {
		return fmt.Errorf("drill: %w", err)
	}
	if err := r.source.CreateDatabase(ctx, db); err != nil {
		return fmt.Errorf("drill: %w", err)
	}
	if err := cfg.Dataset.Install(ctx, r.source.DSN(db), InstallOptions{}); err != nil {
		return fmt.Errorf("drill: install: %w", err)
	}
	r.phase("install")
	conn, err := dsn.Connect(ctx, r.source.DSN(db))
	if err != nil {
		return fmt.Errorf("drill: %w", err)
	}
	if _, err := cfg.Dataset.Generate(ctx, conn, cfg.Seed, cfg.Scale); err != nil {
		conn.Close(ctx)
		return fmt.Errorf("drill: generate: %w", err)
	}
	r.phase("generate")
	before, err := digest.OfDatabase(ctx, conn, digest.DatabaseOptions{Ordered: true})
	conn.Close(ctx)
	if err != nil {
		return fmt.Errorf("drill: digest before: %w", err)
	}
	r.rep.DigestBefore = before.Summary.Total
	r.phase("digest before")

	cfgSrc, err := dsn.Config(r.source.DSN(db))
	if err != nil {
		return err
	}
	pkgPath, _, err := r.backup(ctx, cfgSrc, work)
	if err != nil {
		return err
	}

	// The disaster: the database (or the whole server) is gone; a fresh install takes its place.
	reinit := func(ctx context.Context) error {
		if r.target == r.source {
			if err := r.target.Reinit(ctx, db); err != nil {
				return fmt.Errorf("drill: reinit: %w", err)
			}
		} else {
			if err := r.target.DropDatabase(ctx, db); err != nil {
				return fmt.Errorf("drill: %w", err)
			}
			if err := r.target.CreateDatabase(ctx, db); err != nil {
				return fmt.Errorf("drill: %w", err)
			}
		}
		if err := cfg.Dataset.Install(ctx, r.target.DSN(db), InstallOptions{Reinit: true, SequencesAtMax: cfg.SequencesAtMax, Diverged: true}); err != nil {
			return fmt.Errorf("drill: reinstall: %w", err)
		}
		return nil
	}
	// The reinstall seeded rows that differ from the backup's (Dataset.Diverged): the backup's
	// content must come back whole, so they are overwritten.
	r.onExisting = restore.Update
	err = r.restoreAndCompare(ctx, work, pkgPath, reinit, before.Summary, before.Order)
	r.scenarios(ctx, pkgPath, reinit)
	return err
}

// backup backs the database of cfgSrc up into work/drill.edmsdr and verifies the package.
func (r *runner) backup(ctx context.Context, cfgSrc *pgx.ConnConfig, work string) (string, *backup.Result, error) {
	pkgPath := filepath.Join(work, "drill.edmsdr")
	bres, err := backup.Run(ctx, cfgSrc, pkgPath, backup.Options{Tool: r.cfg.Tool, Log: r.log, Writer: pack.WriterOptions{Overwrite: true}})
	if err != nil {
		return "", nil, fmt.Errorf("drill: backup: %w", err)
	}
	r.rep.PackageBytes = bres.Bytes
	for _, t := range bres.Manifest.Tables {
		r.rep.Rows += t.Rows
	}
	r.phase("backup")
	r.log.Info("drill package", "tables", len(bres.Manifest.Tables), "rows", r.rep.Rows, "bytes", bres.Bytes)
	if err := verifyFile(pkgPath); err != nil {
		return "", nil, fmt.Errorf("drill: verify: %w", err)
	}
	r.phase("verify")
	return pkgPath, bres, nil
}

// restoreAndCompare re-initialises the target database (reinit), restores the package into it,
// and compares: the restore's own checks, the database digest against before, the row order of
// keyless tables against beforeOrder (those known), and the dataset's probes (when it has them).
func (r *runner) restoreAndCompare(ctx context.Context, work, pkgPath string, reinit func(context.Context) error, before pack.Digest, beforeOrder map[string]string) error {
	cfg, db := r.cfg, r.cfg.Database
	if err := reinit(ctx); err != nil {
		return err
	}
	r.phase("reinit")

	tconn, err := dsn.Connect(ctx, r.target.DSN(db))
	if err != nil {
		return fmt.Errorf("drill: %w", err)
	}
	defer tconn.Close(context.WithoutCancel(ctx))
	f, err := os.Open(pkgPath)
	if err != nil {
		return fmt.Errorf("drill: %w", err)
	}
	idmap, err := os.Create(filepath.Join(work, "idmap.tsv"))
	if err != nil {
		f.Close()
		return fmt.Errorf("drill: %w", err)
	}
	res, rerr := restore.Run(ctx, tconn, f, restore.Options{IDMap: idmap, Log: r.log, OnExisting: r.onExisting})
	f.Close()
	idmap.Close()
	if res != nil {
		lost, orphaned := map[string]int64{}, map[string]int64{}
		for _, f := range res.Findings {
			switch f.Kind {
			case finding.Lost:
				lost[strings.TrimPrefix(f.Table, "public.")] += f.Count
			case finding.Orphaned:
				orphaned[strings.TrimPrefix(f.Table, "public.")] += f.Count
			}
		}
		for _, t := range res.Tables {
			name := strings.TrimPrefix(t.Table, "public.")
			r.rep.Tables = append(r.rep.Tables, reports.Table{Table: t.Table, Backup: t.Staged, Inserted: t.Inserted, Matched: t.Matched, Present: t.Present,
				Diverged: t.Diverged, Updated: t.Updated, Lost: lost[name], Orphaned: orphaned[name], Verdict: t.Verdict})
		}
		r.cycle.Checks = append(r.cycle.Checks, res.Checks...)
		r.cycle.Findings = append(r.cycle.Findings, res.Findings.Redacted()...)
	}
	r.phase("restore")
	if rerr != nil {
		return fmt.Errorf("drill: restore: %w", rerr)
	}

	after, err := digest.OfDatabase(ctx, tconn, digest.DatabaseOptions{Ordered: true})
	if err != nil {
		return fmt.Errorf("drill: digest after: %w", err)
	}
	r.rep.DigestAfter = after.Summary.Total
	r.phase("digest after")
	verdicts := []finding.Verdict{res.Verdict}
	add := func(c finding.Check) {
		r.cycle.Checks = append(r.cycle.Checks, c)
		verdicts = append(verdicts, c.Verdict)
	}
	if before.Total == after.Summary.Total {
		add(finding.Check{Name: "database digest", Verdict: finding.Pass, Evidence: "digest after restore equals digest before backup: " + after.Summary.Total[:16]})
	} else {
		var diff []string
		for q, t := range before.Tables {
			if a, ok := after.Summary.Tables[q]; !ok || !a.Equal(t) {
				diff = append(diff, fmt.Sprintf("%s (%d rows before, %d after)", strings.TrimPrefix(q, "public."), t.Rows, a.Rows))
			}
		}
		add(finding.Check{Name: "database digest", Verdict: finding.Fail, Evidence: "tables differ: " + strings.Join(diff, ", ")})
	}
	if res.RestoredDigest == after.Summary.Total {
		add(finding.Check{Name: "restored digest", Verdict: finding.Pass, Evidence: "the restore's digest of the target equals the drill's: " + after.Summary.Total[:16]})
	} else {
		add(finding.Check{Name: "restored digest", Verdict: finding.Fail, Evidence: fmt.Sprintf("the restore reported digest %.16s, the drill computed %.16s", res.RestoredDigest, after.Summary.Total)})
	}
	for _, c := range seededChecks(cfg.Dataset, res) {
		add(c)
	}
	for q, fp := range beforeOrder {
		c := finding.Check{Name: "row order kept", Table: strings.TrimPrefix(q, "public."), Verdict: finding.Pass, Evidence: "rows in the same order of ids"}
		if after.Order[q] != fp {
			c.Verdict, c.Evidence = finding.Fail, "rows changed order"
		}
		add(c)
	}
	if cfg.Dataset.Probes != nil {
		for _, c := range cfg.Dataset.Probes(ctx, tconn) {
			add(c)
		}
	}
	r.phase("probes")
	r.cycle.Verdict = finding.Combine(verdicts...)
	return nil
}

// seededChecks checks what the re-initialised install seeded: its trees matched row for row
// (each found through its parent), its diverged rows reported and overwritten.
func seededChecks(ds Dataset, res *restore.Result) []finding.Check {
	tables := map[string]restore.TableResult{}
	for _, t := range res.Tables {
		tables[t.Table] = t
	}
	var out []finding.Check
	for _, table := range sortedKeys(ds.Trees) {
		want, t := ds.Trees[table], tables[table]
		c := finding.Check{Name: "seeded tree matched", Table: table, Verdict: finding.Pass,
			Evidence: fmt.Sprintf("%d seeded rows matched through their parents", t.Matched)}
		if t.Matched != want {
			c.Verdict, c.Evidence = finding.Fail, fmt.Sprintf("%d rows matched, the reinstall seeded %d", t.Matched, want)
		}
		out = append(out, c)
	}
	for _, table := range sortedKeys(ds.Diverged) {
		want, t := ds.Diverged[table], tables[table]
		var reported int64
		for _, f := range res.Findings {
			if f.Kind == finding.Diverged && f.Table == table {
				reported += f.Count
			}
		}
		c := finding.Check{Name: "diverged rows overwritten", Table: table, Verdict: finding.Pass,
			Evidence: fmt.Sprintf("%d seeded rows that differ from the backup reported and updated", want)}
		if t.Diverged != want || t.Updated != want || reported != want {
			c.Verdict, c.Evidence = finding.Fail, fmt.Sprintf("the reinstall seeded %d diverged rows: %d found, %d reported, %d updated", want, t.Diverged, reported, t.Updated)
		}
		out = append(out, c)
	}
	return out
}

func sortedKeys(m map[string]int64) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func verifyFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = pack.Verify(f, pack.Limits{})
	return err
}

// PeakRSS returns the process's peak resident memory in bytes (VmHWM), or 0 where unknown.
func PeakRSS() int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			fields := strings.Fields(line)
			if len(fields) >= 2 {
				kb, _ := strconv.ParseInt(fields[1], 10, 64)
				return kb * 1024
			}
		}
	}
	return 0
}
