package bench_test

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/edmsdr/edmsdr/drill"
	"github.com/edmsdr/edmsdr/drill/idpath"
	"github.com/edmsdr/edmsdr/engine/dsn"
	"github.com/edmsdr/edmsdr/engine/introspect"
	"github.com/edmsdr/edmsdr/engine/schema"
	"github.com/edmsdr/edmsdr/fixtures/edms"
	"github.com/edmsdr/edmsdr/suites/label"
	"github.com/edmsdr/edmsdr/suites/suitekit"
)

// The budget of issue 11, checked when EDMSDR_BENCH_BUDGET=1 (make bench).
const (
	budgetEmpty    = 1.10 // (b) backup + restore into an empty schema / (a) the id path
	budgetSeeded   = 1.15 // (c) backup + restore into a reinit'd, seeded schema / (a)
	budgetAnchor   = 0.60 // (b) / (d) pg_dump + pg_restore
	budgetBackup   = 1.50 // edmsdr backup / COPY out
	budgetRSSBytes = 256 << 20
)

// proc is one run of a command: wall time, peak resident memory, and the phases it logged.
type proc struct {
	wall   time.Duration
	rss    int64
	phases []phase
}

type phase struct {
	name    string
	elapsed time.Duration
}

// phaseLine is what backup and restore log (with -v) at the end of each phase.
var phaseLine = regexp.MustCompile(`msg="phase done" phase=(\S+) elapsed=(\S+)`)

// commandTimeout is the longest one measured command may take (a restore of bench-large's
// million documents takes well under an hour).
const commandTimeout = 4 * time.Hour

// run runs a command, failing the spec when it fails, and returns its wall time, peak resident
// memory (VmHWM, suitekit.RunPeak) and logged phases.
func run(name string, args ...string) proc {
	GinkgoHelper()
	return runEnv(nil, name, args...)
}

// runEnv is run with env added to the environment (a later value of a name wins).
func runEnv(env []string, name string, args ...string) proc {
	GinkgoHelper()
	cmd := exec.Command(name, args...)
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	start := time.Now()
	s, peak := suitekit.RunPeak(cmd, commandTimeout)
	p := proc{wall: time.Since(start), rss: peak}
	stderr := bytes.NewBuffer(s.Err.Contents())
	Expect(s.ExitCode()).To(BeZero(), "%s %v:\n%s", name, args, stderr.String())
	keepLog(name, args, stderr.Bytes())
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		if m := phaseLine.FindStringSubmatch(sc.Text()); m != nil {
			d, err := time.ParseDuration(m[2])
			Expect(err).NotTo(HaveOccurred(), "phase line %q", sc.Text())
			p.phases = append(p.phases, phase{m[1], d})
		}
	}
	return p
}

// keepLog writes the log of one edmsdr run to knobs.BenchLogs (when set), named by its
// subcommand and target database and numbered in run order.
func keepLog(name string, args []string, log []byte) {
	GinkgoHelper()
	if knobs.BenchLogs == "" || filepath.Base(name) != "edmsdr" || len(args) < 2 {
		return
	}
	Expect(os.MkdirAll(knobs.BenchLogs, 0o755)).To(Succeed())
	db := "db"
	for i, a := range args {
		if a == "--dsn" && i+1 < len(args) {
			db = filepath.Base(strings.SplitN(args[i+1], "?", 2)[0])
		}
	}
	logSeq++
	f := filepath.Join(knobs.BenchLogs, fmt.Sprintf("%02d-%s-%s.log", logSeq, args[1], db))
	Expect(os.WriteFile(f, log, 0o644)).To(Succeed())
}

// measuring decorates a spec that measures: Serial, so that nothing runs beside a measured
// command, but at the tiny scale, where make test runs the suite to prove that the measurement
// works and judges nothing, an empty label list: the three specs run on both Ginkgo processes.
var measuring = func() any {
	if knobs.BenchScale == "tiny" {
		return Label()
	}
	return Serial
}()

// samples is how many times a spec measures each step: knobs.BenchSamples, but once at the tiny
// scale, where make test runs the suite to prove that the measurement works, not to judge it.
func samples() int {
	if knobs.BenchScale == "tiny" {
		return 1
	}
	return knobs.BenchSamples
}

// logSeq numbers the logs keepLog writes.
var logSeq int

// tablesInOrder returns the tables of the database in foreign-key order.
func tablesInOrder(ctx context.Context, url string) []*schema.Table {
	GinkgoHelper()
	conn := suitekit.Connect(ctx, url)
	s, err := introspect.Read(ctx, conn, introspect.Options{})
	Expect(err).NotTo(HaveOccurred())
	return schema.BuildGraph(s).Order
}

// copyOut is the id path's backup (idpath.CopyOut) from the database at url; it returns the time
// the copy took.
func copyOut(ctx context.Context, url, dir string, tables []*schema.Table) time.Duration {
	GinkgoHelper()
	conn, err := dsn.Connect(ctx, url)
	Expect(err).NotTo(HaveOccurred())
	defer conn.Close(ctx)
	start := time.Now()
	Expect(idpath.CopyOut(ctx, conn, dir, tables)).To(Succeed())
	return time.Since(start)
}

// copyIn is the id path's restore (idpath.CopyIn) into the database at url; it returns the time
// the copy took.
func copyIn(ctx context.Context, url, dir string, tables []*schema.Table) time.Duration {
	GinkgoHelper()
	conn, err := dsn.Connect(ctx, url)
	Expect(err).NotTo(HaveOccurred())
	defer conn.Close(ctx)
	start := time.Now()
	Expect(idpath.CopyIn(ctx, conn, dir, tables)).To(Succeed())
	return time.Since(start)
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// series collects the samples of every measured step by name, in the order first met.
type series struct {
	m     map[string][]time.Duration
	order []string
}

func (s *series) add(name string, d time.Duration) {
	// Each step as it ends: a run stopped early still shows how far it got.
	fmt.Fprintf(GinkgoWriter, "step %s: %.2fs\n", name, d.Seconds())
	if _, ok := s.m[name]; !ok {
		s.order = append(s.order, name)
	}
	s.m[name] = append(s.m[name], d)
}

func (s *series) med(name string) time.Duration { return median(s.m[name]) }

// addPhases records the phases of a run under prefix, and what they do not cover as "other".
func (s *series) addPhases(prefix string, p proc) {
	var sum time.Duration
	for _, ph := range p.phases {
		s.add(prefix+" "+ph.name, ph.elapsed)
		sum += ph.elapsed
	}
	s.add(prefix+" other", max(p.wall-sum, 0))
}

func ratio(a, b time.Duration) float64 {
	if b <= 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// freshEDMS creates an empty database with the EDMS schema (no seeded rows) and returns its name.
func freshEDMS(ctx context.Context, hint string) string {
	GinkgoHelper()
	name := suitekit.NewDatabase(ctx, srv, hint)
	conn, err := dsn.Connect(ctx, srv.DSN(name))
	Expect(err).NotTo(HaveOccurred())
	defer conn.Close(ctx)
	Expect(edms.Apply(ctx, conn)).To(Succeed())
	return name
}

var _ = Describe("Natural-key path against the id path", measuring, Label(label.Bench, label.Slow), func() {
	It("measures backup + restore against COPY out + COPY in and pg_dump + pg_restore on the same data", func(ctx SpecContext) {
		ds, err := drill.LookupDataset("edms")
		Expect(err).NotTo(HaveOccurred())
		src := srv.DSN(suitekit.NewDatabase(ctx, srv, "bench_src"))
		Expect(ds.Install(ctx, src, drill.InstallOptions{})).To(Succeed())
		conn := suitekit.Connect(ctx, src)
		genStart := time.Now()
		stats, err := ds.Generate(ctx, conn, 1, knobs.BenchScale)
		Expect(err).NotTo(HaveOccurred())
		_, err = conn.Exec(ctx, "VACUUM ANALYZE")
		Expect(err).NotTo(HaveOccurred())
		var rows, dbBytes int64
		for _, n := range stats {
			rows += n
		}
		Expect(conn.QueryRow(ctx, "SELECT pg_database_size(current_database())").Scan(&dbBytes)).To(Succeed())
		fmt.Fprintf(GinkgoWriter, "generated %s documents: %d rows, %d MiB in %s\n", knobs.BenchScale, rows, dbBytes>>20, time.Since(genStart).Round(time.Second))
		tables := tablesInOrder(ctx, src)
		_, hasPgDump := exec.LookPath("pg_dump")
		_, hasPgRestore := exec.LookPath("pg_restore")
		anchor := hasPgDump == nil && hasPgRestore == nil
		if knobs.BenchBudget {
			Expect(anchor).To(BeTrue(), "the budget compares with pg_dump and pg_restore: put them on PATH")
		}

		s := &series{m: map[string][]time.Duration{}}
		var peak int64
		peaks := map[string]int64{} // per command, for the report
		for i := 0; i < samples(); i++ {
			dir, err := os.MkdirTemp("", "edmsdr-bench-")
			Expect(err).NotTo(HaveOccurred())
			// (a) the id path: COPY out, COPY into an empty indexed schema keeping ids.
			ids := freshEDMS(ctx, "bench_ids")
			out := copyOut(ctx, src, dir, tables)
			in := copyIn(ctx, srv.DSN(ids), dir, tables)
			s.add("a COPY out", out)
			s.add("a COPY in", in)
			s.add("a", out+in)
			Expect(srv.DropDatabase(ctx, ids)).To(Succeed())

			// (b) edmsdr backup + restore into an empty schema.
			pkg := filepath.Join(dir, "b.edmsdr")
			bk := run(bin, "-v", "backup", "--dsn", src, "--out", pkg)
			empty := freshEDMS(ctx, "bench_empty")
			re := run(bin, "-v", "restore", "--dsn", srv.DSN(empty), "--in", pkg)
			Expect(srv.DropDatabase(ctx, empty)).To(Succeed())
			s.add("edmsdr backup", bk.wall)
			s.addPhases("backup", bk)
			s.add("restore (empty)", re.wall)
			s.addPhases("restore (empty)", re)
			s.add("b", bk.wall+re.wall)

			// (c) the same package restored into a reinit'd, seeded install.
			seededName := suitekit.NewDatabase(ctx, srv, "bench_seeded")
			Expect(ds.Install(ctx, srv.DSN(seededName), drill.InstallOptions{Reinit: true})).To(Succeed())
			rs := run(bin, "-v", "restore", "--dsn", srv.DSN(seededName), "--in", pkg)
			Expect(srv.DropDatabase(ctx, seededName)).To(Succeed())
			s.add("restore (seeded)", rs.wall)
			s.addPhases("restore (seeded)", rs)
			s.add("c", bk.wall+rs.wall)
			peak = max(peak, bk.rss, re.rss, rs.rss)
			peaks["backup"] = max(peaks["backup"], bk.rss)
			peaks["restore (empty)"] = max(peaks["restore (empty)"], re.rss)
			peaks["restore (seeded)"] = max(peaks["restore (seeded)"], rs.rss)

			// (d) pg_dump -Fc --data-only + pg_restore --data-only into an empty schema, in one
			// transaction (the schema's foreign keys are deferrable, checked at commit), as the
			// issue states it; then, for information only, the same restore with
			// --disable-triggers, which loads without checking a single foreign key.
			if anchor {
				dump := filepath.Join(dir, "dump.fc")
				dt := run("pg_dump", "-Fc", "--data-only", "-f", dump, "-d", src)
				anc := freshEDMS(ctx, "bench_anchor")
				pt := run("pg_restore", "--data-only", "--single-transaction", "-d", srv.DSN(anc), dump)
				Expect(srv.DropDatabase(ctx, anc)).To(Succeed())
				anc = freshEDMS(ctx, "bench_anchor")
				nt := run("pg_restore", "--data-only", "--single-transaction", "--disable-triggers", "-d", srv.DSN(anc), dump)
				Expect(srv.DropDatabase(ctx, anc)).To(Succeed())
				s.add("d pg_dump", dt.wall)
				s.add("d pg_restore", pt.wall)
				s.add("d", dt.wall+pt.wall)
				s.add("pg_restore --disable-triggers", nt.wall)
			}
			Expect(os.RemoveAll(dir)).To(Succeed())
		}

		rb, rc := ratio(s.med("b"), s.med("a")), ratio(s.med("c"), s.med("a"))
		rd := ratio(s.med("b"), s.med("d"))
		rbk := ratio(s.med("edmsdr backup"), s.med("a COPY out"))
		report := benchReport(s, rows, dbBytes, peak, peaks, rb, rc, rd, rbk, anchor)
		AddReportEntry("bench", report)
		fmt.Fprintln(GinkgoWriter, report)
		if knobs.BenchReport != "" {
			Expect(os.MkdirAll(filepath.Dir(knobs.BenchReport), 0o755)).To(Succeed())
			Expect(os.WriteFile(knobs.BenchReport, []byte(report), 0o644)).To(Succeed())
		}

		// Whatever the budget, the tool worked and was measured.
		Expect(s.med("b")).To(BeNumerically(">", 0))
		Expect(peak).To(BeNumerically(">", 0), "peak memory of the edmsdr processes is measured")
		if !knobs.BenchBudget {
			return
		}
		var broken []string
		check := func(what string, got, limit float64) {
			if got > limit {
				broken = append(broken, fmt.Sprintf("%s %.2f > %.2f", what, got, limit))
			}
		}
		check("b/a", rb, budgetEmpty)
		check("c/a", rc, budgetSeeded)
		check("b/d", rd, budgetAnchor)
		check("backup/COPY out", rbk, budgetBackup)
		check("peak RSS MiB", float64(peak)/(1<<20), budgetRSSBytes/(1<<20))
		Expect(broken).To(BeEmpty(), "budget broken:\n%s", report)
	}, SpecTimeout(12*time.Hour))
})

// benchReport renders the medians, ratios, phase shares and peak memory as Markdown.
func benchReport(s *series, rows, dbBytes, peak int64, peaks map[string]int64, rb, rc, rd, rbk float64, anchor bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## edmsdr bench: %s documents, %d rows, %d MiB, medians of %d\n\n", knobs.BenchScale, rows, dbBytes>>20, samples())
	b.WriteString("| step | seconds |\n| --- | --- |\n")
	steps := []string{"a COPY out", "a COPY in", "a", "edmsdr backup", "restore (empty)", "b", "restore (seeded)", "c"}
	if anchor {
		steps = append(steps, "d pg_dump", "d pg_restore", "d", "pg_restore --disable-triggers")
	}
	names := map[string]string{
		"a": "(a) id path: COPY out + COPY in", "b": "(b) backup + restore into an empty schema",
		"c": "(c) backup + restore into a reinit'd, seeded schema", "d": "(d) pg_dump -Fc + pg_restore --data-only",
		"pg_restore --disable-triggers": "(information) pg_restore --data-only --disable-triggers: no foreign key checked",
	}
	for _, st := range steps {
		fmt.Fprintf(&b, "| %s | %.2f |\n", cmp.Or(names[st], st), s.med(st).Seconds())
	}
	fmt.Fprintf(&b, "\nb/a %.2f (budget %.2f), c/a %.2f (budget %.2f)", rb, budgetEmpty, rc, budgetSeeded)
	if anchor {
		fmt.Fprintf(&b, ", b/d %.2f (budget %.2f)", rd, budgetAnchor)
	}
	fmt.Fprintf(&b, ", backup/COPY out %.2f (budget %.2f), peak RSS %d MiB (budget %d)\n", rbk, budgetBackup, peak>>20, budgetRSSBytes>>20)
	fmt.Fprintf(&b, "\npeak RSS per command: backup %d MiB, restore (empty) %d MiB, restore (seeded) %d MiB\n",
		peaks["backup"]>>20, peaks["restore (empty)"]>>20, peaks["restore (seeded)"]>>20)
	for _, prefix := range []string{"backup", "restore (empty)", "restore (seeded)"} {
		var parts []string
		total := time.Duration(0)
		var keys []string
		for _, k := range s.order {
			if strings.HasPrefix(k, prefix+" ") {
				keys = append(keys, k)
				total += s.med(k)
			}
		}
		for _, k := range keys {
			parts = append(parts, fmt.Sprintf("%s %.2fs (%.0f%%)", strings.TrimPrefix(k, prefix+" "), s.med(k).Seconds(), 100*ratio(s.med(k), total)))
		}
		fmt.Fprintf(&b, "\n%s phases: %s", prefix, strings.Join(parts, ", "))
	}
	b.WriteString("\n")
	return b.String()
}
