package cli_test

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/edmsdr/edmsdr/reports"
	"github.com/edmsdr/edmsdr/suites/label"
)

// readReport reads the drill report in dir.
func readReport(dir string) *reports.Drill {
	GinkgoHelper()
	f, err := os.Open(filepath.Join(dir, "report.json"))
	Expect(err).NotTo(HaveOccurred())
	defer f.Close()
	rep, err := reports.ReadDrill(f)
	Expect(err).NotTo(HaveOccurred())
	return rep
}

var _ = Describe("edmsdr drill --scenarios", Label(label.CLI, label.Drill, label.Corruption, label.Chaos), func() {
	It("runs the legacy and corruption samples after the cycle, all PASS in one report", func(ctx SpecContext) {
		dir := GinkgoT().TempDir()
		db := fmt.Sprintf("cli_drill_scenarios_%d", GinkgoParallelProcess())
		s := edmsdr(nil, "drill", "--db", srv.DSN("postgres"), "--database", db, "--scenarios", "cycle,legacy,corruption", "--report", dir, "--seed", "2")
		Expect(s.ExitCode()).To(Equal(0), string(s.Out.Contents())+string(s.Err.Contents()))
		rep := readReport(dir)
		Expect(rep.Scenarios).To(HaveLen(3))
		for i, name := range []string{"cycle", "legacy", "corruption"} {
			Expect(rep.Scenarios[i].Name).To(Equal(name))
			Expect(rep.Scenarios[i].Verdict).To(BeEquivalentTo("PASS"), "%s: %+v", name, rep.Scenarios[i])
		}
		Expect(rep.Scenario("corruption").Checks).To(HaveLen(6), "a sample of six injectors")
		Expect(rep.Scenario("legacy").Checks).To(ContainElement(And(HaveField("Name", "fixture round trip digest"), HaveField("Verdict", BeEquivalentTo("PASS")))))
	}, SpecTimeout(3*time.Minute))

	It("runs the chaos sample on a server of its own: killed at three restore steps, the target unchanged each time, then restored", func(ctx SpecContext) {
		dir := GinkgoT().TempDir()
		s := edmsdr(nil, "drill", "--db", "local", "--scenarios", "cycle,chaos", "--report", dir)
		Expect(s.ExitCode()).To(Equal(0), string(s.Out.Contents())+string(s.Err.Contents()))
		rep := readReport(dir)
		Expect(rep.Scenario("chaos")).NotTo(BeNil())
		Expect(rep.Scenario("chaos").Verdict).To(BeEquivalentTo("PASS"), "%+v", rep.Scenario("chaos"))
		Expect(rep.Scenario("chaos").Checks).To(HaveLen(4))
		Expect(rep.Scenario("chaos").Checks).To(ContainElement(HaveField("Name", "server killed at restore step commit")))
		Expect(rep.Scenario("chaos").Checks).To(ContainElement(HaveField("Name", "restore after the crashes")))
	}, SpecTimeout(3*time.Minute))

	It("ends UNKNOWN, exit 3, when the chaos scenario cannot kill the server (a server given by DSN)", func(ctx SpecContext) {
		dir := GinkgoT().TempDir()
		db := fmt.Sprintf("cli_drill_unknown_%d", GinkgoParallelProcess())
		s := edmsdr(nil, "drill", "--db", srv.DSN("postgres"), "--database", db, "--scenarios", "cycle,chaos", "--report", dir)
		Expect(s.ExitCode()).To(Equal(3), string(s.Out.Contents())+string(s.Err.Contents()))
		Expect(string(s.Err.Contents())).To(ContainSubstring("drill verdict UNKNOWN"))
		rep := readReport(dir)
		Expect(rep.Verdict).To(BeEquivalentTo("UNKNOWN"))
		Expect(rep.Scenario("cycle").Verdict).To(BeEquivalentTo("PASS"))
		Expect(rep.Scenario("chaos").Verdict).To(BeEquivalentTo("UNKNOWN"))
		Expect(rep.Scenario("chaos").Checks[0].Evidence).To(ContainSubstring("--db local or --db container"))
	}, SpecTimeout(2*time.Minute))

	It("refuses unknown scenarios and a list without the cycle (exit 2)", func() {
		for _, list := range []string{"cycle,nope", "corruption"} {
			s := edmsdr(nil, "drill", "--scenarios", list)
			Expect(s.ExitCode()).To(Equal(2), list)
			Expect(string(s.Err.Contents())).To(ContainSubstring("--scenarios"))
		}
	})
})
