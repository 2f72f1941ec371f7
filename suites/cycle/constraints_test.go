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

var _ = Describe("Indexes during the load", Label(label.Cycle), func() {
	// Every index and constraint of the public schema, as definitions.
	const definitions = `SELECT coalesce(string_agg(d, E'\n' ORDER BY d), '') FROM (
  SELECT indexdef AS d FROM pg_indexes WHERE schemaname = 'public'
  UNION ALL SELECT conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid) || ' ' || convalidated
  FROM pg_constraint WHERE connamespace = 'public'::regnamespace) x`
	for _, dataset := range []string{"edms", "ledger"} {
		It(fmt.Sprintf("restores %s with the indexes of empty tables built after the load, every one back as it was", dataset), func(ctx SpecContext) {
			src, tgt := installed(ctx, dataset, 14)
			var before string
			Expect(suitekit.Connect(ctx, tgt).QueryRow(ctx, definitions).Scan(&before)).To(Succeed())
			path, bres := suitekit.Backup(ctx, src, nil)
			res, err := suitekit.Restore(ctx, tgt, path, restore.Options{})
			Expect(err).NotTo(HaveOccurred())
			var built *finding.Check
			for i, c := range res.Checks {
				if c.Name == "indexes" {
					built = &res.Checks[i]
				}
			}
			Expect(built).NotTo(BeNil(), "the owner's restore into empty tables holds their indexes")
			Expect(built.Verdict).To(Equal(finding.Pass))
			var after string
			Expect(suitekit.Connect(ctx, tgt).QueryRow(ctx, definitions).Scan(&after)).To(Succeed())
			Expect(after).To(Equal(before))
			Expect(suitekit.Digest(ctx, tgt).Total).To(Equal(bres.Manifest.Digest.Total))
		}, SpecTimeout(2*time.Minute))
	}

	It("refuses a load that breaks a unique index of an empty table, and leaves the index and the table as they were", func(ctx SpecContext) {
		src, tgt := installed(ctx, "edms", 15)
		suitekit.Exec(ctx, tgt, `CREATE UNIQUE INDEX one_version_per_mime_type ON documents_documentversion (mime_type)`)
		Expect(suitekit.Count(ctx, tgt, `SELECT count(*) FROM documents_documentversion`)).To(BeZero())
		path, _ := suitekit.Backup(ctx, src, nil)
		res, err := suitekit.Restore(ctx, tgt, path, restore.Options{})
		Expect(err).To(HaveOccurred())
		Expect(res.Committed).To(BeFalse())
		Expect(finding.FindingsOf(err)).NotTo(BeEmpty(), "the refusal says why")
		Expect(suitekit.Count(ctx, tgt, `SELECT count(*) FROM documents_documentversion`)).To(BeZero())
		Expect(suitekit.Count(ctx, tgt, `SELECT count(*) FROM pg_indexes WHERE indexname = 'one_version_per_mime_type'`)).To(Equal(int64(1)))
	}, SpecTimeout(2*time.Minute))
})
