package bench_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/edmsdr/edmsdr/drill"
	"github.com/edmsdr/edmsdr/engine/dsn"
	"github.com/edmsdr/edmsdr/engine/pack"
	"github.com/edmsdr/edmsdr/engine/restore"
	"github.com/edmsdr/edmsdr/suites/label"
	"github.com/edmsdr/edmsdr/suites/suitekit"
)

// seededEDMS creates a re-initialised, seeded EDMS database and returns its URL.
func seededEDMS(ctx context.Context, hint string) string {
	GinkgoHelper()
	url := srv.DSN(suitekit.NewDatabase(ctx, srv, hint))
	ds, err := drill.LookupDataset("edms")
	Expect(err).NotTo(HaveOccurred())
	Expect(ds.Install(ctx, url, drill.InstallOptions{Reinit: true})).To(Succeed())
	return url
}

var _ = Describe("Safety backup and rollback cost", measuring, Label(label.Bench, label.Slow, label.Rollback), func() {
	It("measures a restore with --safety-backup against the same restore without, and the rollback", func(ctx SpecContext) {
		ds, err := drill.LookupDataset("edms")
		Expect(err).NotTo(HaveOccurred())
		src := srv.DSN(suitekit.NewDatabase(ctx, srv, "safety_src"))
		Expect(ds.Install(ctx, src, drill.InstallOptions{})).To(Succeed())
		conn := suitekit.Connect(ctx, src)
		_, err = ds.Generate(ctx, conn, 1, knobs.BenchScale)
		Expect(err).NotTo(HaveOccurred())
		_, err = conn.Exec(ctx, "VACUUM ANALYZE")
		Expect(err).NotTo(HaveOccurred())
		Expect(conn.Close(ctx)).To(Succeed())
		pkg, _ := suitekit.Backup(ctx, src, nil)

		s := &series{m: map[string][]time.Duration{}}
		var safetyBytes, safetyRows, fullRows, fullBytes int64
		reps := samples()
		for i := 0; i < reps; i++ {
			plain := seededEDMS(ctx, "safety_plain")
			start := time.Now()
			res, err := suitekit.Restore(ctx, plain, pkg, restore.Options{})
			Expect(err).NotTo(HaveOccurred())
			Expect(res.Committed).To(BeTrue())
			s.add("restore", time.Since(start))

			with := seededEDMS(ctx, "safety_with")
			dir, err := os.MkdirTemp("", "edmsdr-bench-safety-")
			Expect(err).NotTo(HaveOccurred())
			path := filepath.Join(dir, "safety.edmsdr")
			sink, err := pack.CreateFile(path, false)
			Expect(err).NotTo(HaveOccurred())
			start = time.Now()
			res, err = suitekit.Restore(ctx, with, pkg, restore.Options{Safety: &restore.Safety{Sink: sink, Name: path}})
			Expect(err).NotTo(HaveOccurred())
			Expect(res.Safety.Kept).To(BeTrue())
			s.add("restore --safety-backup", time.Since(start))
			s.add("safety backup alone", res.Safety.Elapsed)
			safetyBytes, safetyRows = res.Safety.Bytes, res.Safety.Rows

			c, err := dsn.Connect(ctx, with)
			Expect(err).NotTo(HaveOccurred())
			f, err := os.Open(path)
			Expect(err).NotTo(HaveOccurred())
			start = time.Now()
			rb, err := restore.Rollback(ctx, c, f, restore.RollbackOptions{})
			Expect(err).NotTo(HaveOccurred())
			Expect(rb.Committed).To(BeTrue())
			s.add("rollback", time.Since(start))
			f.Close()
			Expect(c.Close(ctx)).To(Succeed())
			Expect(os.RemoveAll(dir)).To(Succeed())

			// A staging refresh: replace mode into a target that holds the same data, where the
			// safety backup copies every row.
			for _, safe := range []bool{false, true} {
				full := seededEDMS(ctx, "safety_full")
				_, err := suitekit.Restore(ctx, full, pkg, restore.Options{})
				Expect(err).NotTo(HaveOccurred())
				opts := restore.Options{Mode: restore.Replace}
				name := "replace"
				if safe {
					dir, err := os.MkdirTemp("", "edmsdr-bench-safety-")
					Expect(err).NotTo(HaveOccurred())
					DeferCleanup(os.RemoveAll, dir)
					path := filepath.Join(dir, "safety.edmsdr")
					sink, err := pack.CreateFile(path, false)
					Expect(err).NotTo(HaveOccurred())
					opts.Safety = &restore.Safety{Sink: sink, Name: path}
					name = "replace --safety-backup"
				}
				start := time.Now()
				res, err := suitekit.Restore(ctx, full, pkg, opts)
				Expect(err).NotTo(HaveOccurred())
				Expect(res.Committed).To(BeTrue())
				s.add(name, time.Since(start))
				if safe {
					s.add("replace: safety backup alone", res.Safety.Elapsed)
					fullRows, fullBytes = res.Safety.Rows, res.Safety.Bytes
				}
			}
		}
		report := fmt.Sprintf(`Safety backup cost, %s documents, %d samples (medians)
restore                   %s
restore --safety-backup   %s  (x%.2f; the safety backup alone %s: %d rows, %d bytes)
rollback                  %s  (x%.2f of the restore)
staging refresh (replace mode into a target holding the same data):
replace                   %s
replace --safety-backup   %s  (x%.2f; the safety backup alone %s: %d rows, %d bytes)
`, knobs.BenchScale, reps,
			s.med("restore").Round(time.Millisecond), s.med("restore --safety-backup").Round(time.Millisecond),
			ratio(s.med("restore --safety-backup"), s.med("restore")), s.med("safety backup alone").Round(time.Millisecond),
			safetyRows, safetyBytes, s.med("rollback").Round(time.Millisecond), ratio(s.med("rollback"), s.med("restore")),
			s.med("replace").Round(time.Millisecond), s.med("replace --safety-backup").Round(time.Millisecond),
			ratio(s.med("replace --safety-backup"), s.med("replace")), s.med("replace: safety backup alone").Round(time.Millisecond), fullRows, fullBytes)
		AddReportEntry("safety backup cost", report)
		fmt.Fprint(GinkgoWriter, report)
		Expect(s.med("restore --safety-backup")).To(BeNumerically(">", 0))
	}, SpecTimeout(2*time.Hour))
})
