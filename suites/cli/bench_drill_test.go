package cli_test

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/edmsdr/edmsdr/suites/label"
	"github.com/edmsdr/edmsdr/suites/suitekit"
)

var _ = Describe("edmsdr drill --scenarios bench", Label(label.CLI, label.Drill), func() {
	It("times the id path against backup + restore on the drill's data and reports b/a and peak RSS; --bench-budget makes a ratio above it FAIL", func(ctx SpecContext) {
		dir := GinkgoT().TempDir()
		db := fmt.Sprintf("cli_drill_bench_%d", GinkgoParallelProcess())
		s := edmsdr(nil, "drill", "--db", srv.DSN("postgres"), "--database", db, "--scenarios", "cycle,bench", "--report", dir)
		Expect(s.ExitCode()).To(Equal(0), string(s.Out.Contents())+string(s.Err.Contents()))
		rep := readReport(dir)
		b := rep.Scenario("bench")
		Expect(b).NotTo(BeNil())
		Expect(b.Verdict).To(BeEquivalentTo("PASS"), "%+v", b)
		Expect(b.Bench).To(HaveLen(1))
		r := b.Bench[0]
		Expect(r.Name).To(HavePrefix("b/a"))
		Expect(r.Value).To(BeNumerically(">", 0))
		Expect(r.Baseline).To(BeNumerically(">", 0))
		Expect(r.Ratio).To(BeNumerically("~", r.Value/r.Baseline, 1e-9))
		Expect(r.Budget).To(Equal(1.10))
		Expect(b.Checks).To(ContainElement(And(HaveField("Name", "bench peak RSS"), HaveField("Evidence", MatchRegexp(`peak RSS of the drill process [1-9]\d* MiB`)))))
		Expect(b.Checks).To(ContainElement(And(HaveField("Name", "bench "+r.Name), HaveField("Evidence", ContainSubstring("not enforced")))))
		prom, err := os.ReadFile(filepath.Join(dir, "metrics.prom"))
		Expect(err).NotTo(HaveOccurred())
		Expect(string(prom)).To(ContainSubstring(`edmsdr_drill_bench_ratio{`))
		var left int
		Expect(suitekit.Connect(ctx, srv.DSN("postgres")).QueryRow(ctx, "SELECT count(*) FROM pg_database WHERE datname LIKE $1", db+"_bench%").Scan(&left)).To(Succeed())
		Expect(left).To(BeZero(), "the bench's scratch databases are dropped")

		// A budget no run can keep: the same numbers now FAIL the drill (exit 1).
		dir = GinkgoT().TempDir()
		s = edmsdr(nil, "drill", "--db", srv.DSN("postgres"), "--database", db, "--scenarios", "cycle,bench", "--bench-budget", "0.001", "--report", dir)
		Expect(s.ExitCode()).To(Equal(1), string(s.Out.Contents())+string(s.Err.Contents()))
		rep = readReport(dir)
		Expect(rep.Scenario("cycle").Verdict).To(BeEquivalentTo("PASS"))
		Expect(rep.Scenario("bench").Verdict).To(BeEquivalentTo("FAIL"))
		Expect(rep.Scenario("bench").Bench[0].Budget).To(Equal(0.001))
	}, SpecTimeout(3*time.Minute))

	It("refuses --bench-budget without the bench scenario, or below 0 (exit 2)", func() {
		for _, args := range [][]string{{"--bench-budget", "1.1"}, {"--scenarios", "cycle,bench", "--bench-budget", "-1"}} {
			s := edmsdr(nil, append([]string{"drill"}, args...)...)
			Expect(s.ExitCode()).To(Equal(2), "%v", args)
			Expect(string(s.Err.Contents())).To(ContainSubstring("--bench-budget"))
		}
	})
})
