package cycle_test

import (
	"bytes"
	"context"
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/edmsdr/edmsdr/drill"
	"github.com/edmsdr/edmsdr/engine/finding"
	"github.com/edmsdr/edmsdr/fixtures/provider"
	"github.com/edmsdr/edmsdr/reports"
	"github.com/edmsdr/edmsdr/suites/label"
	"github.com/edmsdr/edmsdr/suites/suitekit"
)

// drillOn runs a drill from source to target (nil: source re-initialised as a brand-new server).
func drillOn(ctx context.Context, source, target provider.Server, dataset string, seed int64) *reports.Drill {
	GinkgoHelper()
	ds, err := drill.LookupDataset(dataset)
	Expect(err).NotTo(HaveOccurred())
	db := fmt.Sprintf("drill_%s_%d", dataset, seed)
	rep, err := drill.Run(ctx, drill.Config{Source: source, Target: target, Dataset: ds, Database: db, Seed: seed, Scale: "tiny", Tool: "edmsdr suites"})
	Expect(err).NotTo(HaveOccurred())
	var text bytes.Buffer
	Expect(rep.WriteText(&text)).To(Succeed())
	AddReportEntry("drill", text.String())
	Expect(rep.Error).To(BeEmpty(), text.String())
	Expect(rep.Verdict).To(Equal(finding.Pass), text.String())
	Expect(rep.DigestAfter).To(Equal(rep.DigestBefore))
	return rep
}

var _ = Describe("On container servers", Label(label.Cycle, label.Container), func() {
	for _, seed := range knobs.Seeds[:min(2, len(knobs.Seeds))] {
		It(fmt.Sprintf("restores EDMS after the server is replaced by a brand-new one (seed %d)", seed), func(ctx SpecContext) {
			suitekit.SkipUnlessContainer(csrv)
			rep := drillOn(ctx, csrv, nil, "edms", seed)
			Expect(rep.Provider).To(Equal("container"))
		}, SpecTimeout(4*time.Minute))
	}

	It("restores the ledger on a brand-new server", func(ctx SpecContext) {
		suitekit.SkipUnlessContainer(csrv)
		drillOn(ctx, csrv, nil, "ledger", 1)
	}, SpecTimeout(4*time.Minute))

	Describe("across PostgreSQL versions", Label(label.CrossVersion), func() {
		It("backs up from PostgreSQL 15 and restores into PostgreSQL 17: equal digest, usable sequences", func(ctx SpecContext) {
			suitekit.SkipUnlessContainer(csrv)
			Expect(csrv.Version()).To(Equal(15), "the default container image is PostgreSQL 15")
			pg17 := suitekit.StartContainer(ctx, provider.ImageForVersion(17))
			Expect(pg17.Version()).To(Equal(17))
			rep := drillOn(ctx, csrv, pg17, "edms", 3)
			Expect(rep.SourceVersion).To(Equal(15))
			Expect(rep.TargetVersion).To(Equal(17))
			for _, c := range rep.Checks() {
				if c.Name == "sequence" || c.Name == "new inserts succeed" {
					Expect(c.Verdict).To(Equal(finding.Pass), c.Evidence)
				}
			}
		}, SpecTimeout(5*time.Minute))

		It("backs up from PostgreSQL 17 and restores into PostgreSQL 15 (the older server)", func(ctx SpecContext) {
			suitekit.SkipUnlessContainer(csrv)
			pg17 := suitekit.StartContainer(ctx, provider.ImageForVersion(17))
			rep := drillOn(ctx, pg17, csrv, "ledger", 4)
			Expect(rep.SourceVersion).To(Equal(17))
			Expect(rep.TargetVersion).To(Equal(15))
		}, SpecTimeout(5*time.Minute))
	})
})
