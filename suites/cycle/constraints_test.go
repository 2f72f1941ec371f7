package cycle_test

import (
	"context"
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/edmsdr/edmsdr/drill"
	"github.com/edmsdr/edmsdr/engine/finding"
	"github.com/edmsdr/edmsdr/engine/restore"
	"github.com/edmsdr/edmsdr/suites/label"
	"github.com/edmsdr/edmsdr/suites/suitekit"
)

// installed returns a database of dataset filled with seed, and a re-initialised target.
func installed(ctx context.Context, dataset string, seed int64) (src, tgt string) {
	GinkgoHelper()
	ds, err := drill.LookupDataset(dataset)
	Expect(err).NotTo(HaveOccurred())
	src = srv.DSN(suitekit.NewDatabase(ctx, srv, dataset+"_src"))
	Expect(ds.Install(ctx, src, drill.InstallOptions{})).To(Succeed())
	conn := suitekit.Connect(ctx, src)
	_, err = ds.Generate(ctx, conn, seed, "tiny")
	Expect(err).NotTo(HaveOccurred())
	Expect(conn.Close(ctx)).To(Succeed())
	tgt = srv.DSN(suitekit.NewDatabase(ctx, srv, dataset+"_tgt"))
	Expect(ds.Install(ctx, tgt, drill.InstallOptions{Reinit: true})).To(Succeed())
	return src, tgt
}

var _ = Describe("Foreign keys during the load", Label(label.Cycle), func() {
	for _, dataset := range []string{"edms", "ledger"} {
		It(fmt.Sprintf("restores %s with the constraints kept in place, checked row by row (the least-privilege path)", dataset), func(ctx SpecContext) {
			src, tgt := installed(ctx, dataset, 12)
			path, bres := suitekit.Backup(ctx, src, nil)
			res, err := suitekit.Restore(ctx, tgt, path, restore.Options{KeepConstraints: true})
			Expect(err).NotTo(HaveOccurred())
			Expect(res.Committed).To(BeTrue())
			for _, c := range res.Checks {
				Expect(c.Name).NotTo(Equal("foreign keys"), "no constraint was dropped")
			}
			Expect(suitekit.Digest(ctx, tgt).Total).To(Equal(bres.Manifest.Digest.Total))
		}, SpecTimeout(2*time.Minute))

		It(fmt.Sprintf("restores %s with the constraints dropped and validated set-based, and puts every one back", dataset), func(ctx SpecContext) {
			src, tgt := installed(ctx, dataset, 13)
			constraints := `SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND connamespace = 'public'::regnamespace`
			before := suitekit.Count(ctx, tgt, constraints)
			path, bres := suitekit.Backup(ctx, src, nil)
			res, err := suitekit.Restore(ctx, tgt, path, restore.Options{})
			Expect(err).NotTo(HaveOccurred())
			var held *finding.Check
			for i, c := range res.Checks {
				if c.Name == "foreign keys" {
					held = &res.Checks[i]
				}
			}
			Expect(held).NotTo(BeNil(), "the owner's restore holds the foreign keys")
			Expect(held.Verdict).To(Equal(finding.Pass))
			Expect(suitekit.Count(ctx, tgt, constraints)).To(Equal(before))
			Expect(suitekit.Count(ctx, tgt, `SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND NOT convalidated`)).To(BeZero())
			Expect(suitekit.Digest(ctx, tgt).Total).To(Equal(bres.Manifest.Digest.Total))
		}, SpecTimeout(2*time.Minute))
	}
})
