package regress_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/edmsdr/edmsdr/engine/finding"
	"github.com/edmsdr/edmsdr/engine/keys"
	"github.com/edmsdr/edmsdr/engine/restore"
	"github.com/edmsdr/edmsdr/suites/label"
	"github.com/edmsdr/edmsdr/suites/suitekit"
)

var _ = Describe("A keys-file natural key the target does not keep unique", Label(label.Regress), func() {
	It("refuses the restore with one key-plan finding on that table and leaves the target unchanged (issue 15)", func(ctx SpecContext) {
		const ddl = `
CREATE TABLE kind (id serial PRIMARY KEY, name text NOT NULL UNIQUE);
CREATE TABLE item (id serial PRIMARY KEY, code text NOT NULL, label text, kind_id int REFERENCES kind);`
		src, tgt := pair(ctx, ddl,
			[]string{`INSERT INTO kind (name) VALUES ('k')`, `INSERT INTO item (code, label, kind_id) VALUES ('a', 'first', 1), ('b', 'second', 1)`},
			[]string{`INSERT INTO kind (name) VALUES ('k')`, `INSERT INTO item (code, label) VALUES ('a', 'one'), ('a', 'two'), ('c', 'three')`})
		kf, err := keys.ParseFile([]byte("tables:\n  item: {natural_key: [code]}\n"))
		Expect(err).NotTo(HaveOccurred())
		path, _ := suitekit.Backup(ctx, src, kf)
		before := suitekit.Digest(ctx, tgt)
		res, err := suitekit.Restore(ctx, tgt, path, restore.Options{})
		Expect(err).To(HaveOccurred())
		Expect(res.Committed).To(BeFalse())
		var plan []finding.Finding
		for _, f := range res.Findings {
			if f.Kind == finding.KeyPlan {
				plan = append(plan, f)
			}
		}
		Expect(plan).To(HaveLen(1))
		Expect(plan[0].Table).To(Equal("item"))
		Expect(plan[0].Message).To(ContainSubstring("not unique in the target"))
		Expect(suitekit.Digest(ctx, tgt).Total).To(Equal(before.Total))
	}, SpecTimeout(time.Minute))
})
