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

// partitionDDL: a partitioned table whose foreign key is declared on one partition only.
const partitionDDL = `
CREATE TABLE parent (id serial PRIMARY KEY, name text NOT NULL UNIQUE);
CREATE TABLE ev (id serial, parent_id int NOT NULL, at date NOT NULL, note text, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
CREATE TABLE ev_2024 PARTITION OF ev FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE ev_2025 PARTITION OF ev FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
ALTER TABLE ev_2024 ADD CONSTRAINT ev_2024_parent FOREIGN KEY (parent_id) REFERENCES parent (id);`

var partitionSource = []string{
	`INSERT INTO parent (id, name) VALUES (5, 'five'), (9, 'nine')`,
	`INSERT INTO ev (id, parent_id, at, note) VALUES (1, 5, '2024-03-01', 'a'), (2, 9, '2024-06-01', 'b'), (3, 9, '2025-02-01', 'c'), (4, 5, '2025-03-01', 'd')`,
}

// eventParents lists "note:parent name" for every event of url, in note order.
const eventParents = `SELECT string_agg(e.note || ':' || coalesce(p.name, '?'), ',' ORDER BY e.note) FROM ev e LEFT JOIN parent p ON p.id = e.parent_id`

var _ = Describe("Partitioned tables", Label(label.Regress), func() {
	It("follow a foreign key declared on one partition only: references rewritten, parents loaded first (issue 8 item 1)", func(ctx SpecContext) {
		src, tgt := pair(ctx, partitionDDL, partitionSource,
			[]string{`INSERT INTO parent (name) SELECT 'other' || g FROM generate_series(1, 9) g`})
		path, bres := suitekit.Backup(ctx, src, nil)
		var fks []string
		for _, fk := range bres.Manifest.Schema.Table("public.ev").ForeignKeys {
			fks = append(fks, fk.RefTable+"("+fk.Columns[0]+")")
		}
		Expect(fks).To(ConsistOf("parent(parent_id)"), "the partition's foreign key is the logical table's")
		res, err := suitekit.Restore(ctx, tgt, path, restore.Options{})
		Expect(err).NotTo(HaveOccurred())
		Expect(res.Verdict).To(Equal(finding.Pass))
		Expect(query(ctx, tgt, eventParents)).To(Equal("a:five,b:nine,c:nine,d:five"))
		Expect(suitekit.Count(ctx, tgt, `SELECT count(*) FROM parent`)).To(BeEquivalentTo(11))
	}, SpecTimeout(time.Minute))

	It("refuse a row of an unconstrained partition whose reference resolves to no parent, leaving the target unchanged", func(ctx SpecContext) {
		src, tgt := pair(ctx, partitionDDL, append(partitionSource, `INSERT INTO ev (id, parent_id, at, note) VALUES (5, 42, '2025-05-01', 'e')`),
			[]string{`INSERT INTO parent (name) SELECT 'other' || g FROM generate_series(1, 50) g`})
		path, _ := suitekit.Backup(ctx, src, nil)
		before := suitekit.Digest(ctx, tgt)
		res, err := suitekit.Restore(ctx, tgt, path, restore.Options{})
		Expect(err).To(HaveOccurred(), "parent 42 is not in the package: the event would point at the target's parent 42")
		Expect(kinds(res)).To(ContainElement(finding.Orphaned))
		Expect(suitekit.Digest(ctx, tgt).Total).To(Equal(before.Total))
	}, SpecTimeout(time.Minute))

	It("take the same package twice, and --on-existing update, addressing rows across partitions (issue 8 item 2)", func(ctx SpecContext) {
		src, tgt := pair(ctx, partitionDDL, partitionSource, nil)
		path, bres := suitekit.Backup(ctx, src, nil)
		_, err := suitekit.Restore(ctx, tgt, path, restore.Options{})
		Expect(err).NotTo(HaveOccurred())
		again, err := suitekit.Restore(ctx, tgt, path, restore.Options{})
		Expect(err).NotTo(HaveOccurred())
		Expect(again.AlreadyRestored).To(BeTrue())
		Expect(suitekit.Count(ctx, tgt, `SELECT count(*) FROM ev`)).To(BeEquivalentTo(4))

		// One row of each partition (both at ctid (0,1)) diverges; update puts the package's back.
		suitekit.Exec(ctx, tgt, `UPDATE ev SET note = note || '!' WHERE note IN ('a', 'c')`)
		res, err := suitekit.Restore(ctx, tgt, path, restore.Options{OnExisting: restore.Update})
		Expect(err).NotTo(HaveOccurred())
		Expect(suitekit.TableResult(res, "ev").Updated).To(BeEquivalentTo(2))
		Expect(suitekit.Digest(ctx, tgt).Total).To(Equal(bres.Manifest.Digest.Total))
		Expect(query(ctx, tgt, eventParents)).To(Equal("a:five,b:nine,c:nine,d:five"))
	}, SpecTimeout(time.Minute))
})
