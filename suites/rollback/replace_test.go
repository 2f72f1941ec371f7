package rollback_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/edmsdr/edmsdr/engine/finding"
	"github.com/edmsdr/edmsdr/engine/restore"
	"github.com/edmsdr/edmsdr/suites/label"
	"github.com/edmsdr/edmsdr/suites/suitekit"
)

var _ = Describe("Replace-mode restore", Label(label.Rollback), func() {
	It("makes the EDMS target's tables exactly the source's: same rows, same ids, sequences past them", Label(label.EDMS), func(ctx SpecContext) {
		src := suitekit.EDMSSource(ctx, srv, 21)
		path, bres := suitekit.Backup(ctx, src, nil)
		tgt := suitekit.EDMSTarget(ctx, srv)
		suitekit.Exec(ctx, tgt, `INSERT INTO auth_user (password, is_superuser, username, first_name, last_name, email, is_staff, is_active, date_joined)
			VALUES ('x', false, 'only-in-target', '', '', '', false, true, now())`)
		res, err := suitekit.Restore(ctx, tgt, path, restore.Options{Mode: restore.Replace})
		Expect(err).NotTo(HaveOccurred())
		Expect(res.Committed).To(BeTrue())
		Expect(res.Verdict).To(Equal(finding.Pass))
		Expect(res.Mode).To(Equal(restore.Replace))
		Expect(suitekit.TableResult(res, "auth_user").Replaced).To(BeNumerically(">", 0))
		for _, t := range res.Tables {
			Expect(t.Matched).To(BeZero(), t.Table)
			Expect(t.Inserted).To(Equal(t.Staged), t.Table)
		}
		Expect(suitekit.Digest(ctx, tgt).Total).To(Equal(bres.Manifest.Digest.Total))
		want, got := exactState(ctx, src), exactState(ctx, tgt)
		Expect(got.Rows).To(Equal(want.Rows), "every row under its source id")
		for seq, next := range got.Sequences {
			Expect(next).To(BeNumerically(">=", want.Sequences[seq]), "sequence %s past every id", seq)
		}
		Expect(suitekit.Count(ctx, tgt, `SELECT count(*) FROM auth_user WHERE username = 'only-in-target'`)).To(BeZero())
		suitekit.Exec(ctx, tgt, `INSERT INTO audit_auditentry (action, "timestamp") VALUES ('after', now())`)
	}, SpecTimeout(2*time.Minute))

	It("makes the ledger target's tables exactly the source's (composite keys, cycles, trees, keyless tables)", Label(label.Ledger), func(ctx SpecContext) {
		src := ledgerDB(ctx, 3, true)
		path, _ := suitekit.Backup(ctx, src, nil)
		tgt := ledgerDB(ctx, 0, false)
		res, err := suitekit.Restore(ctx, tgt, path, restore.Options{Mode: restore.Replace})
		Expect(err).NotTo(HaveOccurred())
		Expect(res.Committed).To(BeTrue())
		Expect(exactState(ctx, tgt).Rows).To(Equal(exactState(ctx, src).Rows))
		// Twice: the second run replaces the rows by themselves.
		res, err = suitekit.Restore(ctx, tgt, path, restore.Options{Mode: restore.Replace})
		Expect(err).NotTo(HaveOccurred())
		Expect(res.Committed).To(BeTrue())
		Expect(exactState(ctx, tgt).Rows).To(Equal(exactState(ctx, src).Rows))
	}, SpecTimeout(2*time.Minute))

	It("refuses when a table outside the package references one it would empty, leaving the target unchanged", Label(label.EDMS), func(ctx SpecContext) {
		src := suitekit.EDMSSource(ctx, srv, 22)
		path, _ := suitekit.Backup(ctx, src, nil)
		tgt := suitekit.EDMSTarget(ctx, srv)
		suitekit.Exec(ctx, tgt, `CREATE TABLE local_note (id serial PRIMARY KEY, user_id integer NOT NULL REFERENCES auth_user (id))`,
			`INSERT INTO local_note (user_id) SELECT min(id) FROM auth_user`)
		// The package must not know the extra table: back the source up without it.
		before := exactState(ctx, tgt)
		res, err := suitekit.Restore(ctx, tgt, path, restore.Options{Mode: restore.Replace})
		Expect(err).To(HaveOccurred())
		Expect(res.Committed).To(BeFalse())
		fl := finding.FindingsOf(err)
		Expect(fl).NotTo(BeEmpty())
		Expect(fl.Errors()[0].Table).To(Equal("local_note"))
		Expect(fl.Errors()[0].Message).To(ContainSubstring("merge mode"))
		Expect(exactState(ctx, tgt)).To(Equal(before))
	}, SpecTimeout(2*time.Minute))
})
