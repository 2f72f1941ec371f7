// Command edmsdr-drill runs disaster-recovery drills on throwaway servers: install a dataset,
// generate data, back it up, re-initialise the database, restore, and prove that every row came
// back. It is the harness half of edmsdr, kept out of the operator binary (it links the local and
// container providers and the data generators): `edmsdr drill ARGS` runs `edmsdr-drill ARGS`,
// found beside the edmsdr binary or on PATH.
//
// Exit codes: 0 the drill passed, 1 it failed or could not run (reason on stderr), 2 bad usage,
// 3 its verdict is UNKNOWN (evidence missing: a check could not run; never a pass).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/edmsdr/edmsdr/drill"
	"github.com/edmsdr/edmsdr/engine/dsn"
	"github.com/edmsdr/edmsdr/engine/finding"
	"github.com/edmsdr/edmsdr/engine/pack"
	"github.com/edmsdr/edmsdr/fixtures/provider"
	"github.com/edmsdr/edmsdr/progress"
	"github.com/edmsdr/edmsdr/reports"
	"github.com/edmsdr/edmsdr/store"
)

// version is set at build time (-ldflags "-X main.version=...").
var version = "0.1.0-dev"

// usageError marks bad usage: exit code 2.
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// verdictError is a drill that ran to a verdict other than PASS: exit 1 for FAIL, 3 for UNKNOWN.
type verdictError struct{ verdict finding.Verdict }

func (v verdictError) Error() string { return "drill verdict " + string(v.verdict) }

// Exit codes.
const (
	exitFail    = 1
	exitUsage   = 2
	exitUnknown = 3
)

// defaultReport is --report's default, a directory of the run's own: out/drill/<UTC timestamp>.
const defaultReport = "out/drill/<timestamp>"

// reportDirFor returns the directory a run starting at now writes its reports to: dir, or for the
// default a new directory out/drill/<UTC timestamp>[-N] that no earlier run used.
func reportDirFor(dir string, now time.Time) (string, error) {
	if dir != defaultReport {
		return dir, nil
	}
	base := filepath.Join("out", "drill", now.UTC().Format("20060102T150405Z"))
	if err := os.MkdirAll(filepath.Dir(base), 0o755); err != nil {
		return "", fmt.Errorf("report directory: %w", err)
	}
	for n := 1; n < 100; n++ {
		try := base
		if n > 1 {
			try = fmt.Sprintf("%s-%d", base, n)
		}
		err := os.Mkdir(try, 0o755)
		if err == nil {
			return try, nil
		}
		if !errors.Is(err, os.ErrExist) {
			return "", fmt.Errorf("report directory: %w", err)
		}
	}
	return "", fmt.Errorf("report directory: %s-1 to -99 all exist; give --report DIR", base)
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := newDrillCmd(stdout, stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	fmt.Fprintf(stderr, "edmsdr-drill: %s\n", dsn.Redact(err.Error()))
	code := exitCode(err)
	if code == exitUsage {
		fmt.Fprintln(stderr, "Run 'edmsdr-drill --help' for usage.")
	}
	return code
}

// exitCode maps the command's error to the exit code: 2 bad usage, 3 an UNKNOWN verdict, else 1.
func exitCode(err error) int {
	var ue usageError
	if errors.As(err, &ue) || isCobraUsage(err) {
		return exitUsage
	}
	var ve verdictError
	if errors.As(err, &ve) && ve.verdict == finding.Unknown {
		return exitUnknown
	}
	return exitFail
}

func isCobraUsage(err error) bool {
	m := err.Error()
	for _, p := range []string{"required flag", "unknown command", "unknown flag", "unknown shorthand", "invalid argument", "accepts ", "flag needs an argument"} {
		if strings.HasPrefix(m, p) {
			return true
		}
	}
	return false
}

func newDrillCmd(stdout, stderr io.Writer) *cobra.Command {
	var (
		db, scale, dataset, reportDir, database  string
		history, sourceDSN, reinitSQL, reinitCmd string
		scenarioList, logFormat                  string
		seed                                     int64
		keep                                     string
		verbose, seqAtMax                        bool
		srcVersion, tgtVersion                   int
		image                                    string
		benchBudget                              float64
	)
	cmd := &cobra.Command{
		Use:   "edmsdr-drill [--db auto|local|container|DSN] [--scale N] [--report DIR]",
		Short: "Run a disaster-recovery drill: generate, back up, re-initialise, restore, validate",
		Long: `Run a full disaster-recovery drill on a throwaway server: install the dataset's schema and
seeders, generate synthetic data (deterministic by --seed), back it up, re-initialise the database
as a fresh install would (different ids, moved sequences, a seeded tree found only through its
parents, one seeded row that differs from the backup's), restore (overwriting that row, as
'edmsdr restore --on-existing update' does), then prove that every row came back: the logical
digest after equals the digest before and the one the restore reported, counts, references,
sequences, keyless row order, the seeded tree matched and the diverged row overwritten, and the
dataset's own invariants. Prints a summary table and exits 0 only on PASS.
'edmsdr drill ARGS' runs 'edmsdr-drill ARGS'.

--db auto      a throwaway local cluster when PostgreSQL server binaries are installed, else a container
--db local     a throwaway local cluster (initdb + postgres in a temp dir, as user postgres when root)
--db container a container (image from EDMSDR_PG_IMAGE; build the default with 'make images')
--db DSN       an existing server; the drill creates and drops its own database (--database)
--scale        tiny (every commit), small, medium, or a number (EDMS: documents; ledger: members)

--source-version 15 --target-version 17 (with --db container) backs up from a PostgreSQL 15
container and restores into a brand-new PostgreSQL 17 one (images from 'make images').

--report DIR receives the reports, all rendered from one document: report.json (versioned, see
docs/drill-report.md), report.md (for a CI job page), junit.xml (one testcase per scenario and
check), metrics.prom (Prometheus text format, for node_exporter's textfile collector) and
report.html (one self-contained page: no network, inline CSS and SVG charts). By default each run
writes into a new directory of its own, out/drill/<UTC timestamp>/; --report '' writes none.
--history DIR appends the run's line to DIR/history.jsonl; report.html draws the trend from it.

--sequences-at-max re-initialises with every sequence at the highest id in use, as a real install
leaves it (by default sequences move 1000 past, so that no restored row keeps its source id).

Drilling a live database (your own EDMS):
  edmsdr drill --source-dsn 'postgres://reader@prod/edms' --db local --reinit-cmd 'python manage.py migrate'
backs up the live database through --source-dsn (one read-only transaction; the role needs
SELECT on the tables and TEMPORARY on the database, for the backup's session-private scratch
tables; the source's data is never written to), creates the scratch database --database
on the --db server, re-initialises it the way your application installs itself (--reinit-sql FILE
runs a SQL script, then --reinit-cmd CMD runs a shell command with the scratch database in
$EDMSDR_SCRATCH_DSN, $DATABASE_URL and PGHOST/PGPORT/PGUSER/PGPASSWORD/PGDATABASE), restores the
package into it and compares: the restore's checks (counts, references, sequences) and the
restored digest against the digest the backup computed from the source. --dataset edms adds the
EDMS probes.

--scenarios cycle,legacy,corruption,chaos runs, after the cycle and on its package, samples of
the legacy, corruption and chaos suites, all in one report: legacy writes the package as a Django
dumpdata fixture, restores that into a re-initialised scratch database and checks every table of
the fixture holds exactly the package's rows (JSON null in nullable JSON columns read as SQL NULL,
which a fixture cannot tell apart); corruption damages the package with six injectors
of the corrupt/ registry (chosen by --seed) and checks each is caught as declared, the scratch
database untouched; chaos kills the server at three restore steps (a table inserted, validation
passed, COMMIT about to be sent), checks each time that the target is exactly as before, then
restores for real (it needs a server of the drill's own: --db local or container; on --db DSN
its verdict is UNKNOWN).

--keep keeps the package (drill.edmsdr) and the id map (idmap.tsv) in the report directory;
--keep LOCATION (a path or an s3:// URL, see 'edmsdr backup --help') stores the drill's package
there, with its metadata, whatever the verdict.

Every check ends PASS, FAIL or UNKNOWN (its evidence is missing, e.g. a probe that could not run);
the drill's verdict is FAIL if any check failed, else UNKNOWN if any is unknown, else PASS.
Exit codes: 0 PASS, 1 FAIL or the drill could not run (reason on stderr), 2 bad usage, 3 UNKNOWN.`,
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args: func(cmd *cobra.Command, args []string) error {
			// --keep LOCATION: the flag's value may follow it as a separate word.
			if len(args) == 1 && cmd.Flags().Changed("keep") && keep == keepInReport {
				keep = args[0]
				return nil
			}
			if len(args) > 0 {
				return usagef("edmsdr-drill takes no arguments, got %q", args)
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			var keepAt *store.Location
			if keep != "" && keep != keepInReport {
				var err error
				if keepAt, err = store.Parse(keep); err != nil {
					if errors.Is(err, store.ErrUsage) {
						return usagef("--keep: %v", err)
					}
					return err
				}
			}
			ds, err := drill.LookupDataset(dataset)
			if err != nil {
				return usageError{err}
			}
			if (srcVersion != 0 || tgtVersion != 0 || image != "") && db != "container" {
				return usagef("--image, --source-version and --target-version need --db container")
			}
			if image != "" && srcVersion != 0 {
				return usagef("give --image or --source-version, not both")
			}
			var reinit func(context.Context, string) error
			if sourceDSN == "" {
				if reinitSQL != "" || reinitCmd != "" {
					return usagef("--reinit-sql and --reinit-cmd re-initialise the scratch database of a drill of a live database: they need --source-dsn")
				}
			} else {
				for _, f := range []string{"seed", "scale", "source-version", "target-version", "sequences-at-max"} {
					if cmd.Flags().Changed(f) {
						return usagef("--%s is for generated data; a drill of a live database (--source-dsn) backs up what is there", f)
					}
				}
				if reinitSQL == "" && reinitCmd == "" {
					return usagef("--source-dsn needs --reinit-sql FILE and/or --reinit-cmd 'CMD': how your application creates an empty database (schema and seed rows, e.g. 'python manage.py migrate'), run against the scratch database before the restore")
				}
				if !cmd.Flags().Changed("dataset") {
					ds = drill.Dataset{} // no probes of the synthetic datasets on a real database
				}
				var steps []func(context.Context, string) error
				if reinitSQL != "" {
					f, err := drill.ReinitSQL(reinitSQL)
					if err != nil {
						return usageError{err}
					}
					steps = append(steps, f)
				}
				if reinitCmd != "" {
					steps = append(steps, drill.ReinitCmd(reinitCmd, stderr))
				}
				reinit = func(ctx context.Context, dsn string) error {
					for _, step := range steps {
						if err := step(ctx, dsn); err != nil {
							return err
						}
					}
					return nil
				}
			}
			scenarios, err := drill.ParseScenarios(scenarioList)
			if err != nil {
				return usagef("--scenarios: %v", err)
			}
			if benchBudget < 0 || (benchBudget > 0 && !slices.Contains(scenarios, drill.ScenarioBench)) {
				return usagef("--bench-budget %g: a ratio above 0, with --scenarios including bench", benchBudget)
			}
			steps := 9 // install, generate, digest before, backup, verify, reinit, restore, digest after, probes
			if sourceDSN != "" {
				steps = 6
			}
			log, stopLog, err := progress.New(stderr, progress.Options{Format: logFormat, Verbose: verbose, DrillSteps: steps + len(scenarios) - 1})
			if err != nil {
				return usagef("--log-format: %v", err)
			}
			defer stopLog()
			ctx := cmd.Context()
			if reportDir, err = reportDirFor(reportDir, time.Now()); err != nil {
				return err
			}
			closeServer := func(s provider.Server) {
				cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
				defer cancel()
				if s.Kind() == "dsn" {
					_ = s.DropDatabase(cctx, database)
				}
				_ = s.Close(cctx)
			}
			srcOpts := provider.Options{Image: image}
			if srcVersion != 0 {
				srcOpts.Image = provider.ImageForVersion(srcVersion)
			}
			srv, err := provider.Open(ctx, db, srcOpts)
			if err != nil {
				return fmt.Errorf("drill: %w", err)
			}
			if sourceDSN != "" {
				// Before anything may drop the scratch database: it must not be the source.
				if err := drill.CheckScratch(sourceDSN, srv.DSN(database)); err != nil {
					cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
					defer cancel()
					_ = srv.Close(cctx)
					return err
				}
			}
			defer closeServer(srv)
			var target provider.Server
			if tgtVersion != 0 && tgtVersion != srcVersion {
				target, err = provider.Open(ctx, db, provider.Options{Image: provider.ImageForVersion(tgtVersion)})
				if err != nil {
					return fmt.Errorf("drill: target server: %w", err)
				}
				defer closeServer(target)
			}
			work := ""
			switch {
			case keepAt != nil:
				dir, err := os.MkdirTemp("", "edmsdr-drill-")
				if err != nil {
					return fmt.Errorf("drill: %w", err)
				}
				defer os.RemoveAll(dir)
				work = dir
			case keep == keepInReport && reportDir != "":
				work = reportDir
			}
			dcfg := drill.Config{
				Source: srv, Target: target, Dataset: ds, Database: database, Seed: seed, Scale: scale,
				SequencesAtMax: seqAtMax, WorkDir: work, Tool: "edmsdr-drill " + version, Log: log, Scenarios: scenarios,
				BenchBudget: benchBudget,
			}
			if sourceDSN != "" {
				dcfg.Source, dcfg.Target, dcfg.SourceDSN, dcfg.Reinit = nil, srv, sourceDSN, reinit
				dcfg.Replay = liveReplay(db, database, reinitSQL, reinitCmd)
			}
			rep, err := drill.Run(ctx, dcfg)
			stopLog() // the bars end before the summary is printed
			if err != nil {
				return err
			}
			if err := rep.WriteText(stdout); err != nil {
				return err
			}
			if keepAt != nil {
				if err := keepPackage(ctx, stdout, stderr, filepath.Join(work, "drill.edmsdr"), keepAt); err != nil {
					return fmt.Errorf("drill: keep the package: %w", err)
				}
			}
			if err := writeReports(rep, reportDir, history, stderr); err != nil {
				return err
			}
			if reportDir != "" {
				fmt.Fprintf(stdout, "report: %s\n", filepath.Join(reportDir, "report.html"))
			}
			if rep.Verdict != finding.Pass {
				return verdictError{rep.Verdict}
			}
			return nil
		},
	}
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	cmd.SetOut(stdout)
	cmd.SetErr(stderr)
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "log every step to stderr (debug lines)")
	cmd.Flags().StringVar(&logFormat, "log-format", "", "progress as slog lines on stderr, text or json (default: progress bars on a terminal, warnings only otherwise)")
	cmd.Flags().StringVar(&db, "db", "auto", "server: auto, local, container, or a DSN")
	cmd.Flags().StringVar(&scale, "scale", "tiny", "data size: tiny, small, medium or a number")
	cmd.Flags().Int64Var(&seed, "seed", 1, "seed of the generated data (a failing drill prints its replay command)")
	cmd.Flags().StringVar(&dataset, "dataset", "edms", "dataset: edms or ledger")
	cmd.Flags().StringVar(&reportDir, "report", defaultReport, "directory for report.json and report.md, by default a new one per run ('' writes none)")
	cmd.Flags().StringVar(&sourceDSN, "source-dsn", "", "drill a live database: back it up through this DSN (a read-only role is enough; it is never written to) and restore into a scratch database on --db")
	cmd.Flags().StringVar(&reinitSQL, "reinit-sql", "", "with --source-dsn: SQL script that creates the empty application database (schema, seed rows), run against the scratch database")
	cmd.Flags().StringVar(&reinitCmd, "reinit-cmd", "", "with --source-dsn: shell command that creates the empty application database, run with the scratch database in $EDMSDR_SCRATCH_DSN, $DATABASE_URL and PG* (after --reinit-sql)")
	cmd.Flags().StringVar(&scenarioList, "scenarios", drill.ScenarioCycle, "comma-separated scenarios: cycle (always), legacy, corruption, chaos, bench")
	cmd.Flags().Float64Var(&benchBudget, "bench-budget", 0, "with the bench scenario: the ratio (edmsdr backup + restore) / (COPY out + COPY in) must stay at or under this, e.g. 1.10, and peak memory under 256 MiB, else FAIL (default: the numbers are reported, not enforced)")
	cmd.Flags().StringVar(&history, "history", "", "history directory: each run appends its line to DIR/history.jsonl, and report.html draws the trend from it")
	cmd.Flags().StringVar(&image, "image", "", "with --db container: the image to run (default $EDMSDR_PG_IMAGE, else edmsdr/postgres:15); any image following the official postgres image's contract, e.g. postgres:16-alpine where a registry is reachable")
	cmd.Flags().IntVar(&srcVersion, "source-version", 0, "with --db container: PostgreSQL major version of the source server (image edmsdr/postgres:N)")
	cmd.Flags().IntVar(&tgtVersion, "target-version", 0, "with --db container: PostgreSQL major version of the server restored into (a second container)")
	cmd.Flags().StringVar(&keep, "keep", "", "keep the package: alone, drill.edmsdr and idmap.tsv in the report directory; with a LOCATION (path or s3:// URL), the package there")
	cmd.Flags().Lookup("keep").NoOptDefVal = keepInReport
	cmd.Flags().BoolVar(&seqAtMax, "sequences-at-max", false, "re-initialise with every sequence at the highest id in use, as a real install leaves it (default: moved 1000 past)")
	cmd.Flags().StringVar(&database, "database", "edmsdr_drill", "database name used on the server")
	return cmd
}

// liveReplay is the command that replays a drill of a live database (the source DSN left for the
// user to fill in: reports carry no credentials).
func liveReplay(db, database, reinitSQL, reinitCmd string) string {
	if db != "auto" && db != "local" && db != "container" {
		db = "SCRATCH_DSN"
	}
	r := fmt.Sprintf("edmsdr drill --source-dsn SOURCE_DSN --db %s --database %s", db, database)
	if reinitSQL != "" {
		r += " --reinit-sql " + shellQuote(reinitSQL)
	}
	if reinitCmd != "" {
		r += " --reinit-cmd " + shellQuote(reinitCmd)
	}
	return r
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// writeReports writes the report's formats into dir (none when dir is ""): report.json (the
// document), report.md, junit.xml, metrics.prom and report.html. With a history directory, the
// run's line is appended first, so that the HTML trend ends with this run.
func writeReports(rep *reports.Drill, dir, history string, stderr io.Writer) error {
	var opts reports.HTMLOptions
	if history != "" {
		if err := reports.AppendHistory(history, rep); err != nil {
			return err
		}
		runs, skipped, err := reports.ReadHistory(history)
		if err != nil {
			return err
		}
		if skipped > 0 {
			fmt.Fprintf(stderr, "warning: %d lines of %s are not drill runs this build reads; the trend leaves them out\n", skipped, filepath.Join(history, reports.HistoryFile))
		}
		opts = reports.HTMLOptions{History: runs, Skipped: skipped}
	}
	if dir == "" {
		return nil
	}
	for _, f := range []struct {
		name  string
		write func(io.Writer) error
	}{
		{"report.json", rep.WriteJSON},
		{"report.md", rep.WriteMarkdown},
		{"junit.xml", rep.WriteJUnit},
		{"metrics.prom", rep.WritePrometheus},
		{"report.html", func(w io.Writer) error { return rep.WriteHTML(w, opts) }},
	} {
		if err := writeFile(filepath.Join(dir, f.name), f.write); err != nil {
			return fmt.Errorf("report %s: %w", f.name, err)
		}
	}
	return nil
}

// writeFile writes path whole or not at all: write fills path.partial, which is fsynced and
// renamed over path; on any error the partial file is removed.
func writeFile(path string, write func(io.Writer) error) (err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	partial := path + ".partial"
	f, err := os.OpenFile(partial, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(partial)
		}
	}()
	if err := write(f); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(partial, path)
}

// keepInReport is the value of a bare --keep: keep the package in the report directory.
const keepInReport = "\x00report"

// keepPackage stores the drill's package (verified again first) at loc, with its metadata.
func keepPackage(ctx context.Context, stdout, stderr io.Writer, path string, loc *store.Location) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	m, err := pack.Verify(f, pack.Limits{})
	f.Close()
	if err != nil {
		return err
	}
	up, metaErr, err := loc.PutPackage(ctx, path, m, false)
	if err != nil {
		if up != nil && up.AbortError() != nil {
			fmt.Fprintf(stderr, "warning: %v\n", up.AbortError())
		}
		return err
	}
	if metaErr != nil {
		fmt.Fprintf(stderr, "warning: the package is kept, but its metadata was not written: %v\n", metaErr)
	}
	fmt.Fprintf(stdout, "package kept: %s\n", loc)
	return nil
}
