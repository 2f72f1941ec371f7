package bench_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/edmsdr/edmsdr/drill"
	"github.com/edmsdr/edmsdr/fixtures/s3gw"
	"github.com/edmsdr/edmsdr/suites/label"
	"github.com/edmsdr/edmsdr/suites/suitekit"
)

// s3RSSMargin is how much more memory a backup to (or restore from) s3:// may take than the same
// command on a local file: the upload holds at most three parts of 8 MiB (docs/storage.md).
const s3RSSMargin = 64 << 20

var _ = Describe("Object storage against a local file", measuring, Label(label.Bench, label.Slow, label.S3), func() {
	It("measures backup to s3:// and restore from it against the same commands on a local file, interleaved", func(ctx SpecContext) {
		ds, err := drill.LookupDataset("edms")
		Expect(err).NotTo(HaveOccurred())
		src := srv.DSN(suitekit.NewDatabase(ctx, srv, "s3bench_src"))
		Expect(ds.Install(ctx, src, drill.InstallOptions{})).To(Succeed())
		conn := suitekit.Connect(ctx, src)
		stats, err := ds.Generate(ctx, conn, 1, knobs.BenchScale)
		Expect(err).NotTo(HaveOccurred())
		_, err = conn.Exec(ctx, "VACUUM ANALYZE")
		Expect(err).NotTo(HaveOccurred())
		var rows int64
		for _, n := range stats {
			rows += n
		}

		// versitygw with its POSIX backend in a temporary directory on a free loopback port:
		// the same disk as the local file.
		gw, err := s3gw.Start(ctx, s3gw.Options{Log: GinkgoWriter})
		Expect(err).NotTo(HaveOccurred(), "start versitygw")
		DeferCleanup(func(ctx SpecContext) error { return gw.Close(ctx) }, NodeTimeout(time.Minute))
		const bucket = "bench"
		Expect(gw.CreateBucket(ctx, bucket)).To(Succeed())

		reps := samples()
		s := &series{m: map[string][]time.Duration{}}
		rss := map[string]int64{}
		var fileBytes, objBytes int64
		for i := 0; i < reps; i++ {
			dir, err := os.MkdirTemp("", "edmsdr-bench-s3-")
			Expect(err).NotTo(HaveOccurred())
			file := filepath.Join(dir, "b.edmsdr")
			key := fmt.Sprintf("rep%d/b.edmsdr", i)
			obj := gw.URL(bucket, key, "")
			steps := map[string]func() proc{
				"backup file": func() proc { return run(bin, "-v", "backup", "--dsn", src, "--out", file) },
				"backup s3":   func() proc { return runEnv(gw.Env(), bin, "-v", "backup", "--dsn", src, "--out", obj) },
			}
			restoreInto := func(env []string, in string) proc {
				empty := freshEDMS(ctx, "s3bench_empty")
				p := runEnv(env, bin, "-v", "restore", "--dsn", srv.DSN(empty), "--in", in)
				Expect(srv.DropDatabase(ctx, empty)).To(Succeed())
				return p
			}
			steps["restore file"] = func() proc { return restoreInto(nil, file) }
			steps["restore s3"] = func() proc { return restoreInto(gw.Env(), obj) }
			// Interleaved, the order swapped every repetition, so that neither side always runs
			// on a warmer cache.
			order := []string{"backup file", "backup s3", "restore file", "restore s3"}
			if i%2 == 1 {
				order = []string{"backup s3", "backup file", "restore s3", "restore file"}
			}
			for _, name := range order {
				p := steps[name]()
				s.add(name, p.wall)
				rss[name] = max(rss[name], p.rss)
			}
			fi, err := os.Stat(file)
			Expect(err).NotTo(HaveOccurred())
			fileBytes = fi.Size()
			objs, err := gw.Objects(ctx, bucket, key)
			Expect(err).NotTo(HaveOccurred())
			objBytes = 0
			for _, o := range objs {
				if o.Key == key {
					objBytes = o.Size
				}
			}
			Expect(objBytes).To(BeNumerically(">", 0), "the package object %s exists", key)
			Expect(os.RemoveAll(dir)).To(Succeed())
		}

		report := s3BenchReport(s, rss, rows, reps, fileBytes, objBytes)
		AddReportEntry("object storage against a local file", report)
		fmt.Fprintln(GinkgoWriter, report)
		if knobs.BenchReport != "" {
			path := strings.TrimSuffix(knobs.BenchReport, ".md") + "-s3.md"
			Expect(os.MkdirAll(filepath.Dir(path), 0o755)).To(Succeed())
			Expect(os.WriteFile(path, []byte(report), 0o644)).To(Succeed())
		}

		// Both packages hold the same data: their sizes differ only by the manifest's times.
		Expect(objBytes).To(BeNumerically("~", fileBytes, 4096))
		for _, op := range []string{"backup", "restore"} {
			Expect(rss[op+" s3"]).To(BeNumerically(">", 0), "peak memory of %s is measured", op)
			Expect(rss[op+" s3"]).To(BeNumerically("<=", rss[op+" file"]+s3RSSMargin),
				"%s through s3:// holds bounded memory beyond the same command on a file:\n%s", op, report)
		}
	}, SpecTimeout(4*time.Hour))
})

// s3BenchReport renders the medians, throughput, ratios and peak memory as Markdown.
func s3BenchReport(s *series, rss map[string]int64, rows int64, samples int, fileBytes, objBytes int64) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## edmsdr backup and restore, s3:// (versitygw, POSIX backend, loopback) against a local file: %s documents, %d generated rows, package %.1f MiB, medians of %d interleaved\n\n",
		knobs.BenchScale, rows, float64(fileBytes)/(1<<20), samples)
	b.WriteString("| command | local file | s3:// | s3:// / file |\n| --- | --- | --- | --- |\n")
	mibps := func(bytes int64, d time.Duration) float64 {
		if d <= 0 {
			return 0
		}
		return float64(bytes) / (1 << 20) / d.Seconds()
	}
	for _, op := range []string{"backup", "restore"} {
		f, o := s.med(op+" file"), s.med(op+" s3")
		fmt.Fprintf(&b, "| %s wall, s | %.2f | %.2f | %.2f |\n", op, f.Seconds(), o.Seconds(), ratio(o, f))
		fmt.Fprintf(&b, "| %s throughput, package MiB/s | %.2f | %.2f | %.2f |\n", op, mibps(fileBytes, f), mibps(objBytes, o), ratio(f, o))
		fmt.Fprintf(&b, "| %s throughput, rows/s | %.0f | %.0f | %.2f |\n", op, float64(rows)/f.Seconds(), float64(rows)/o.Seconds(), ratio(f, o))
		fmt.Fprintf(&b, "| %s peak RSS, MiB | %d | %d | %.2f |\n", op, rss[op+" file"]>>20, rss[op+" s3"]>>20, float64(rss[op+" s3"])/float64(max(rss[op+" file"], 1)))
	}
	return b.String()
}
