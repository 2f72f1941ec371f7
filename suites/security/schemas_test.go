package security_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/edmsdr/edmsdr/suites/label"
	"github.com/edmsdr/edmsdr/suites/suitekit"
)

// secretSchema is a table outside schema public, present in source and target.
var secretSchema = []string{
	`CREATE SCHEMA other`,
	`CREATE TABLE other.secret (id serial PRIMARY KEY, name text NOT NULL UNIQUE, v text)`,
}

var _ = Describe("schemas a restore writes into", Label(label.Security), func() {
	// Issue 9, item 13: a package could write into any schema the role may write
	// (other.secret was overwritten with --on-existing update).
	It("refuses a package table outside --schema before writing, and lists the schemas it writes", func(ctx SpecContext) {
		src := miniSource(ctx)
		tgt := miniTarget(ctx)
		suitekit.Exec(ctx, src, secretSchema...)
		suitekit.Exec(ctx, src, `INSERT INTO other.secret (name, v) VALUES ('k', 'from the package')`)
		suitekit.Exec(ctx, tgt, secretSchema...)
		suitekit.Exec(ctx, tgt, `INSERT INTO other.secret (name, v) VALUES ('k', 'kept')`)
		dir := GinkgoT().TempDir()
		pkg := filepath.Join(dir, "b.edmsdr")
		mustRun(nil, "backup", "--dsn", src, "--out", pkg)
		before := digestOf(tgt)

		s := edmsdr(nil, "restore", "--dsn", tgt, "--in", pkg, "--on-existing", "update", "--schema", "public", "--report", filepath.Join(dir, "refused"))
		Expect(s.ExitCode()).To(Equal(1), output(s))
		Expect(string(s.Err.Contents())).To(And(ContainSubstring("other.secret"), ContainSubstring(`schema "other"`), ContainSubstring("--schema")))
		Expect(suitekit.Count(ctx, tgt, `SELECT count(*) FROM other.secret WHERE v = 'kept'`)).To(BeEquivalentTo(1))
		Expect(digestOf(tgt)).To(Equal(before), "nothing written")

		s = mustRun(nil, "restore", "--dsn", tgt, "--in", pkg, "--on-existing", "update", "--report", filepath.Join(dir, "default"))
		Expect(string(s.Out.Contents())).To(And(ContainSubstring("schemas         other,public"), ContainSubstring("verdict PASS: committed")))
		raw, err := os.ReadFile(filepath.Join(dir, "default", "restore.json"))
		Expect(err).NotTo(HaveOccurred())
		var rep struct {
			Schemas []string `json:"schemas"`
		}
		Expect(json.Unmarshal(raw, &rep)).To(Succeed())
		Expect(rep.Schemas).To(Equal([]string{"other", "public"}))
	}, SpecTimeout(2*time.Minute))
})
