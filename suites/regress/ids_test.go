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

// undeclaredDDL: branch.manager_id refers to employee without a foreign key constraint.
const undeclaredDDL = `
CREATE TABLE employee (id int PRIMARY KEY, email text NOT NULL UNIQUE);
CREATE TABLE branch (id serial PRIMARY KEY, city text NOT NULL UNIQUE, manager_id int);`

// ids starting at 0, with gaps.
var undeclaredSource = []string{
	`INSERT INTO employee (id, email) VALUES (0, 'zero@x'), (3, 'three@x'), (7, 'seven@x')`,
	`INSERT INTO branch (city, manager_id) VALUES ('Lyon', 0), ('Oslo', 7), ('Rome', 3)`,
}

const managers = `SELECT string_agg(b.city || ':' || coalesce(e.email, '?'), ',' ORDER BY b.city) FROM branch b LEFT JOIN employee e ON e.id = b.manager_id`

var _ = Describe("Ids and references no foreign key declares", Label(label.Regress), func() {
	It("keeps source ids into empty tables: ids from 0 with gaps, and an undeclared reference still right (issue 8 item 4)", func(ctx SpecContext) {
		src, tgt := pair(ctx, undeclaredDDL, undeclaredSource, nil)
		path, bres := suitekit.Backup(ctx, src, nil)
		res, err := suitekit.Restore(ctx, tgt, path, restore.Options{})
		Expect(err).NotTo(HaveOccurred())
		Expect(res.Verdict).To(Equal(finding.Pass))
		Expect(query(ctx, tgt, `SELECT string_agg(id || '=' || email, ',' ORDER BY id) FROM employee`)).To(Equal("0=zero@x,3=three@x,7=seven@x"))
		Expect(query(ctx, tgt, managers)).To(Equal("Lyon:zero@x,Oslo:seven@x,Rome:three@x"))
		Expect(suitekit.Digest(ctx, tgt).Total).To(Equal(bres.Manifest.Digest.Total))
	}, SpecTimeout(time.Minute))

	It("warns at backup about an integer *_id column no foreign key declares, naming the keys-file line", func(ctx SpecContext) {
		src, _ := pair(ctx, undeclaredDDL+`CREATE TABLE manager (id serial PRIMARY KEY, name text UNIQUE);`, undeclaredSource, nil)
		_, bres := suitekit.Backup(ctx, src, nil)
		Expect(bres.Warnings).To(HaveLen(1))
		Expect(bres.Warnings[0].Table).To(Equal("branch"))
		Expect(bres.Warnings[0].Column).To(Equal("manager_id"))
		Expect(bres.Warnings[0].Message).To(ContainSubstring("branch.manager_id: manager(id)"))
		kf, err := keys.ParseFile([]byte("references:\n  branch.manager_id: employee(id)\n"))
		Expect(err).NotTo(HaveOccurred())
		_, declared := suitekit.Backup(ctx, src, kf)
		Expect(declared.Warnings).To(BeEmpty())
	}, SpecTimeout(time.Minute))

	It("rewrites a keys-file reference like a foreign key into a target with rows; --keep-ids keeps what does not collide", func(ctx SpecContext) {
		target := []string{`INSERT INTO employee (id, email) VALUES (3, 'other@x'), (4, 'four@x')`, `INSERT INTO branch (city, manager_id) VALUES ('Bern', 4)`}
		kf, err := keys.ParseFile([]byte("references:\n  branch.manager_id: employee(id)\n"))
		Expect(err).NotTo(HaveOccurred())

		src, tgt := pair(ctx, undeclaredDDL, undeclaredSource, target)
		path, bres := suitekit.Backup(ctx, src, kf)
		Expect(bres.Manifest.Plan.References).To(HaveLen(1))
		res, err := suitekit.Restore(ctx, tgt, path, restore.Options{})
		Expect(err).NotTo(HaveOccurred())
		Expect(res.Verdict).To(Equal(finding.Pass))
		Expect(query(ctx, tgt, managers)).To(Equal("Bern:four@x,Lyon:zero@x,Oslo:seven@x,Rome:three@x"))
		Expect(suitekit.Count(ctx, tgt, `SELECT count(*) FROM employee WHERE email LIKE '%@x' AND email NOT IN ('other@x', 'four@x') AND id <= 4`)).To(BeZero(), "renumbered past the target's ids by default")

		_, tgt2 := pair(ctx, undeclaredDDL, nil, target)
		res, err = suitekit.Restore(ctx, tgt2, path, restore.Options{KeepIDs: []string{"employee"}})
		Expect(err).NotTo(HaveOccurred())
		Expect(res.Verdict).To(Equal(finding.Pass))
		Expect(query(ctx, tgt2, `SELECT string_agg(id || '=' || email, ',' ORDER BY id) FROM employee WHERE email <> 'three@x'`)).To(Equal("0=zero@x,3=other@x,4=four@x,7=seven@x"))
		Expect(suitekit.Count(ctx, tgt2, `SELECT id FROM employee WHERE email = 'three@x'`)).To(BeNumerically(">", 7), "a colliding id is fresh, past every kept one")
		Expect(query(ctx, tgt2, managers)).To(Equal("Bern:four@x,Lyon:zero@x,Oslo:seven@x,Rome:three@x"))
	}, SpecTimeout(time.Minute))

	It("refuses a keys-file reference to a row the package lacks, restored into empty tables whose ids map to themselves", func(ctx SpecContext) {
		// Into empty tables the insert copies such references as they are, no map joined:
		// only the preflight stands between a dangling one and a PASS.
		kf, err := keys.ParseFile([]byte("references:\n  branch.manager_id: employee(id)\n"))
		Expect(err).NotTo(HaveOccurred())
		src, tgt := pair(ctx, undeclaredDDL, append(undeclaredSource, `INSERT INTO branch (city, manager_id) VALUES ('Kyiv', 9)`), nil)
		path, _ := suitekit.Backup(ctx, src, kf)
		res, err := suitekit.Restore(ctx, tgt, path, restore.Options{})
		Expect(err).To(HaveOccurred())
		Expect(res.Verdict).To(Equal(finding.Fail))
		Expect(kinds(res)).To(ContainElement(finding.Orphaned))
		Expect(suitekit.Count(ctx, tgt, `SELECT count(*) FROM branch`)).To(BeZero())
		Expect(suitekit.Count(ctx, tgt, `SELECT count(*) FROM employee`)).To(BeZero())
	}, SpecTimeout(time.Minute))

	It("refuses a restore-time keys file whose references differ from the package's", func(ctx SpecContext) {
		src, tgt := pair(ctx, undeclaredDDL, undeclaredSource, nil)
		path, _ := suitekit.Backup(ctx, src, nil)
		kf, err := keys.ParseFile([]byte("references:\n  branch.manager_id: employee(id)\n"))
		Expect(err).NotTo(HaveOccurred())
		res, err := suitekit.Restore(ctx, tgt, path, restore.Options{Keys: kf})
		Expect(err).To(HaveOccurred())
		Expect(kinds(res)).To(ContainElement(finding.KeyPlan))
		Expect(suitekit.Count(ctx, tgt, `SELECT count(*) FROM branch`)).To(BeZero())
	}, SpecTimeout(time.Minute))
})
