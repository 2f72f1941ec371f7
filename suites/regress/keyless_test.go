package regress_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/edmsdr/edmsdr/engine/finding"
	"github.com/edmsdr/edmsdr/engine/restore"
	"github.com/edmsdr/edmsdr/suites/label"
	"github.com/edmsdr/edmsdr/suites/suitekit"
)

// keylessDDL: a keyless child of a keyless parent (no natural key anywhere but the ids).
const keylessDDL = `
CREATE TABLE p (id serial PRIMARY KEY, label text NOT NULL);
CREATE TABLE c (id serial PRIMARY KEY, p_id int REFERENCES p, v text NOT NULL);`

var _ = Describe("Keyless rows already in the target", Label(label.Regress), func() {
	It("are not 'already restored' when a keyless row points at another keyless parent (issue 8 item 3)", func(ctx SpecContext) {
		src, tgt := pair(ctx, keylessDDL,
			[]string{`INSERT INTO p (id, label) VALUES (1, 'A'), (2, 'B')`, `INSERT INTO c (p_id, v) VALUES (1, 'x')`},
			[]string{`INSERT INTO p (id, label) VALUES (7, 'A'), (8, 'B')`, `INSERT INTO c (p_id, v) VALUES (8, 'x')`})
		path, _ := suitekit.Backup(ctx, src, nil)
		before := suitekit.Digest(ctx, tgt)
		res, err := suitekit.Restore(ctx, tgt, path, restore.Options{})
		Expect(err).To(HaveOccurred(), "c's row 'x' points at B in the target, at A in the package")
		Expect(res.AlreadyRestored).To(BeFalse())
		Expect(res.Committed).To(BeFalse())
		Expect(kinds(res)).To(ContainElement(finding.Duplicated))
		Expect(suitekit.Digest(ctx, tgt).Total).To(Equal(before.Total), "a refusal leaves the target unchanged")
	}, SpecTimeout(time.Minute))

	It("are not 'already restored' after one keyless row's reference changed in the target (issue 15)", func(ctx SpecContext) {
		src, tgt := pair(ctx, keylessDDL,
			[]string{`INSERT INTO p (label) VALUES ('A'), ('B')`, `INSERT INTO c (p_id, v) VALUES (1, 'x'), (2, 'y')`}, nil)
		path, bres := suitekit.Backup(ctx, src, nil)
		res, err := suitekit.Restore(ctx, tgt, path, restore.Options{})
		Expect(err).NotTo(HaveOccurred())
		Expect(res.Committed).To(BeTrue())
		Expect(suitekit.Digest(ctx, tgt).Total).To(Equal(bres.Manifest.Digest.Total))

		again, err := suitekit.Restore(ctx, tgt, path, restore.Options{})
		Expect(err).NotTo(HaveOccurred())
		Expect(again.AlreadyRestored).To(BeTrue(), "the same package twice is a no-op")
		Expect(again.RestoredDigest).To(Equal(bres.Manifest.Digest.Total))

		suitekit.Exec(ctx, tgt, `UPDATE c SET p_id = (SELECT id FROM p WHERE label = 'B') WHERE v = 'x'`)
		changed := suitekit.Digest(ctx, tgt)
		Expect(changed.Total).NotTo(Equal(bres.Manifest.Digest.Total))
		third, err := suitekit.Restore(ctx, tgt, path, restore.Options{})
		Expect(err).To(HaveOccurred())
		Expect(third.AlreadyRestored).To(BeFalse())
		Expect(third.Verdict).NotTo(Equal(finding.Pass))
		Expect(suitekit.Digest(ctx, tgt).Total).To(Equal(changed.Total))
	}, SpecTimeout(time.Minute))

	It("are counted as a multiset: two equal package rows need two equal target rows", func(ctx SpecContext) {
		src, tgt := pair(ctx, keylessDDL,
			[]string{`INSERT INTO p (label) VALUES ('A'), ('A')`},
			[]string{`INSERT INTO p (label) VALUES ('A')`})
		path, _ := suitekit.Backup(ctx, src, nil)
		res, err := suitekit.Restore(ctx, tgt, path, restore.Options{})
		Expect(err).To(HaveOccurred())
		Expect(res.AlreadyRestored).To(BeFalse())
		Expect(suitekit.Count(ctx, tgt, `SELECT count(*) FROM p`)).To(BeEquivalentTo(1))
	}, SpecTimeout(time.Minute))

	It("suggests declaring a natural key first when refusing to duplicate them, and says what appending does", func(ctx SpecContext) {
		src, tgt := pair(ctx, keylessDDL,
			[]string{`INSERT INTO p (label) VALUES ('A'), ('B')`},
			[]string{`INSERT INTO p (label) VALUES ('A')`})
		path, _ := suitekit.Backup(ctx, src, nil)
		res, err := suitekit.Restore(ctx, tgt, path, restore.Options{})
		Expect(err).To(HaveOccurred())
		var msg string
		for _, f := range res.Findings {
			if f.Kind == finding.Duplicated {
				msg = f.Message
			}
		}
		Expect(msg).To(ContainSubstring("natural key"))
		Expect(msg).To(ContainSubstring("duplicating"))
	}, SpecTimeout(time.Minute))
})
