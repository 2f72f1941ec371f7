package bench_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gmeasure"

	"github.com/edmsdr/edmsdr/drill"
	"github.com/edmsdr/edmsdr/engine/dsn"
	"github.com/edmsdr/edmsdr/engine/introspect"
	"github.com/edmsdr/edmsdr/engine/pgquote"
	"github.com/edmsdr/edmsdr/engine/schema"
	"github.com/edmsdr/edmsdr/fixtures/edms"
	"github.com/edmsdr/edmsdr/suites/label"
	"github.com/edmsdr/edmsdr/suites/suitekit"
)

// run runs a command and returns its wall time and peak resident memory.
func run(name string, args ...string) (time.Duration, int64) {
	GinkgoHelper()
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = GinkgoWriter, GinkgoWriter
	start := time.Now()
	Expect(cmd.Run()).To(Succeed(), "%s %v", name, args)
	d := time.Since(start)
	ru, _ := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	var rss int64
	if ru != nil {
		rss = ru.Maxrss * 1024
	}
	return d, rss
}

// tablesInOrder returns the tables of the database in foreign-key order.
func tablesInOrder(ctx context.Context, url string) []*schema.Table {
	GinkgoHelper()
	conn := suitekit.Connect(ctx, url)
	s, err := introspect.Read(ctx, conn, introspect.Options{})
	Expect(err).NotTo(HaveOccurred())
	return schema.BuildGraph(s).Order
}

// copyOut is the id-based backup: COPY every table out to a file per table.
func copyOut(ctx context.Context, url, dir string, tables []*schema.Table) time.Duration {
	GinkgoHelper()
	conn, err := dsn.Connect(ctx, url)
	Expect(err).NotTo(HaveOccurred())
	defer conn.Close(ctx)
	start := time.Now()
	tx, err := conn.Begin(ctx)
	Expect(err).NotTo(HaveOccurred())
	for i, t := range tables {
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("%03d.copy", i)))
		Expect(err).NotTo(HaveOccurred())
		_, err = tx.Conn().PgConn().CopyTo(ctx, f, fmt.Sprintf("COPY %s TO STDOUT", pgquote.Table(t.QName())))
		Expect(err).NotTo(HaveOccurred())
		Expect(f.Sync()).To(Succeed())
		Expect(f.Close()).To(Succeed())
	}
	Expect(tx.Commit(ctx)).To(Succeed())
	return time.Since(start)
}

// copyIn is the id-based restore: COPY every table into empty tables keeping ids, one transaction.
func copyIn(ctx context.Context, url, dir string, tables []*schema.Table) time.Duration {
	GinkgoHelper()
	conn, err := dsn.Connect(ctx, url)
	Expect(err).NotTo(HaveOccurred())
	defer conn.Close(ctx)
	start := time.Now()
	tx, err := conn.Begin(ctx)
	Expect(err).NotTo(HaveOccurred())
	for i, t := range tables {
		f, err := os.Open(filepath.Join(dir, fmt.Sprintf("%03d.copy", i)))
		Expect(err).NotTo(HaveOccurred())
		_, err = tx.Conn().PgConn().CopyFrom(ctx, f, fmt.Sprintf("COPY %s FROM STDIN", pgquote.Table(t.QName())))
		f.Close()
		Expect(err).NotTo(HaveOccurred(), t.Display())
	}
	Expect(tx.Commit(ctx)).To(Succeed())
	return time.Since(start)
}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

var _ = Describe("Natural-key path against the id-based path", Serial, Label(label.Bench, label.Slow), func() {
	It("measures backup + restore against COPY out + COPY in on the same data", func(ctx SpecContext) {
		ds, err := drill.LookupDataset("edms")
		Expect(err).NotTo(HaveOccurred())
		src := srv.DSN(suitekit.NewDatabase(ctx, srv, "bench_src"))
		Expect(ds.Install(ctx, src, false)).To(Succeed())
		conn := suitekit.Connect(ctx, src)
		stats, err := ds.Generate(ctx, conn, 1, knobs.BenchScale)
		Expect(err).NotTo(HaveOccurred())
		Expect(conn.Close(ctx)).To(Succeed())
		var rows int64
		for _, n := range stats {
			rows += n
		}
		tables := tablesInOrder(ctx, src)
		exp := gmeasure.NewExperiment(fmt.Sprintf("backup+restore vs COPY, scale %s (%d rows)", knobs.BenchScale, rows))
		AddReportEntry(exp.Name, exp)

		var base, ours, anchor []time.Duration
		var peak int64
		for i := 0; i < knobs.BenchSamples; i++ {
			dir := GinkgoT().TempDir()
			// id-based: COPY out, COPY into an empty schema.
			empty := srv.DSN(suitekit.NewDatabase(ctx, srv, "bench_ids"))
			econn := suitekit.Connect(ctx, empty)
			Expect(edms.Apply(ctx, econn)).To(Succeed())
			Expect(econn.Close(ctx)).To(Succeed())
			out := copyOut(ctx, src, dir, tables)
			in := copyIn(ctx, empty, dir, tables)
			base = append(base, out+in)
			exp.RecordDuration("id-based COPY out+in", out+in)

			// natural keys: edmsdr backup, edmsdr restore into a re-initialised install.
			tgt := srv.DSN(suitekit.NewDatabase(ctx, srv, "bench_tgt"))
			Expect(ds.Install(ctx, tgt, true)).To(Succeed())
			pkg := filepath.Join(dir, "b.edmsdr")
			bt, brss := run(bin, "backup", "--dsn", src, "--out", pkg)
			rt, rrss := run(bin, "restore", "--dsn", tgt, "--in", pkg)
			ours = append(ours, bt+rt)
			peak = max(peak, brss, rrss)
			exp.RecordDuration("edmsdr backup", bt)
			exp.RecordDuration("edmsdr restore", rt)
			exp.RecordDuration("edmsdr backup+restore", bt+rt)

			// anchor: pg_dump -Fc --data-only + pg_restore --data-only --single-transaction.
			if _, err := exec.LookPath("pg_dump"); err == nil {
				anc := srv.DSN(suitekit.NewDatabase(ctx, srv, "bench_anchor"))
				aconn := suitekit.Connect(ctx, anc)
				Expect(edms.Apply(ctx, aconn)).To(Succeed())
				Expect(aconn.Close(ctx)).To(Succeed())
				dump := filepath.Join(dir, "dump.fc")
				dt, _ := run("pg_dump", "-Fc", "--data-only", "-f", dump, "-d", src)
				pt, _ := run("pg_restore", "--data-only", "--single-transaction", "--disable-triggers", "-d", anc, dump)
				anchor = append(anchor, dt+pt)
				exp.RecordDuration("pg_dump+pg_restore", dt+pt)
			}
		}
		ratio := float64(median(ours)) / float64(median(base))
		exp.RecordValue("ratio edmsdr / id-based", ratio)
		exp.RecordValue("edmsdr peak RSS MiB", float64(peak)/(1<<20))
		note := fmt.Sprintf("scale %s, %d rows, %d samples: edmsdr %s vs id-based %s, ratio %.2f; peak RSS %d MiB",
			knobs.BenchScale, rows, knobs.BenchSamples, median(ours).Round(time.Millisecond), median(base).Round(time.Millisecond), ratio, peak>>20)
		if len(anchor) > 0 {
			note += fmt.Sprintf("; pg_dump+pg_restore %s (ratio %.2f)", median(anchor).Round(time.Millisecond), float64(median(ours))/float64(median(anchor)))
		}
		AddReportEntry("bench summary", note)
		fmt.Fprintln(GinkgoWriter, note)
		Expect(ratio).To(BeNumerically(">", 0))
		Expect(peak).To(BeNumerically(">", 0), "peak memory of the edmsdr processes is measured")
	}, SpecTimeout(60*time.Minute))
})
