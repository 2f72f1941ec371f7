package security_test

import (
	"fmt"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/jackc/pgx/v5"

	"github.com/edmsdr/edmsdr/suites/label"
	"github.com/edmsdr/edmsdr/suites/suitekit"
)

func ident(s string) string { return pgx.Identifier{s}.Sanitize() }

// lockDown revokes what PUBLIC holds by default (CONNECT and TEMPORARY on the database, USAGE on
// schema public), so that a role holds nothing but the grants a spec gives it.
func lockDown(db string) []string {
	return []string{
		fmt.Sprintf(`REVOKE ALL ON DATABASE %s FROM PUBLIC`, ident(db)),
		`REVOKE ALL ON SCHEMA public FROM PUBLIC`,
	}
}

// readerGrants are the grants docs/security.md lists for the role that runs backup (and digest):
// read every table, and create temporary tables for the digest.
func readerGrants(db, role string) []string {
	return []string{
		fmt.Sprintf(`GRANT CONNECT, TEMPORARY ON DATABASE %s TO %s`, ident(db), role),
		fmt.Sprintf(`GRANT USAGE ON SCHEMA public TO %s`, role),
		fmt.Sprintf(`GRANT SELECT ON ALL TABLES IN SCHEMA public TO %s`, role),
	}
}

// restorerGrants are the grants docs/security.md lists for the role that runs restore.
func restorerGrants(db, role string) []string {
	return []string{
		fmt.Sprintf(`GRANT CONNECT, TEMPORARY ON DATABASE %s TO %s`, ident(db), role),
		fmt.Sprintf(`GRANT USAGE ON SCHEMA public TO %s`, role),
		fmt.Sprintf(`GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA public TO %s`, role),
		fmt.Sprintf(`GRANT SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO %s`, role),
	}
}

var _ = Describe("least privilege", Label(label.Security, label.Privilege, label.EDMS), func() {
	It("backs up as a read-only role and restores as a non-superuser holding only the documented grants", func(ctx SpecContext) {
		src := suitekit.EDMSSource(ctx, srv, 51)
		tgt := suitekit.EDMSTarget(ctx, srv)
		reader := newRole(ctx, "reader", src, tgt)
		restorer := newRole(ctx, "restorer", tgt)
		suitekit.Exec(ctx, src, append(lockDown(databaseOf(src)), readerGrants(databaseOf(src), reader)...)...)
		suitekit.Exec(ctx, tgt, append(lockDown(databaseOf(tgt)), restorerGrants(databaseOf(tgt), restorer)...)...)
		Expect(suitekit.Count(ctx, src, `SELECT count(*) FROM pg_roles WHERE rolname = $1 AND (rolsuper OR rolbypassrls OR rolcreatedb)`, reader)).To(BeZero())
		Expect(suitekit.Count(ctx, tgt, `SELECT count(*) FROM pg_roles WHERE rolname = $1 AND (rolsuper OR rolbypassrls OR rolcreatedb)`, restorer)).To(BeZero())
		Expect(suitekit.Count(ctx, tgt, `SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tableowner = $1`, restorer)).To(BeZero(), "the restorer owns no table")

		pkg := filepath.Join(GinkgoT().TempDir(), "b.edmsdr")
		mustRun(nil, "backup", "--dsn", asRole(src, reader), "--out", pkg)
		// The reader cannot write: its grants are read-only.
		s := edmsdr(nil, "restore", "--dsn", asRole(src, reader), "--in", pkg, "--dry-run")
		Expect(s.ExitCode()).To(Equal(1), output(s))
		Expect(string(s.Err.Contents())).To(ContainSubstring("privilege"))

		// An unrelated schema the restorer may not use (issue 9, item 8: introspection read every
		// schema and failed with "permission denied for schema other").
		suitekit.Exec(ctx, tgt, `CREATE SCHEMA other`, `CREATE TABLE other.secret (id serial PRIMARY KEY, v text)`, `INSERT INTO other.secret (v) VALUES ('kept')`)
		s = mustRun(nil, "restore", "--dsn", asRole(tgt, restorer), "--in", pkg)
		Expect(string(s.Out.Contents())).To(ContainSubstring("verdict PASS: committed"))
		Expect(suitekit.Count(ctx, tgt, `SELECT count(*) FROM other.secret WHERE v = 'kept'`)).To(BeEquivalentTo(1))
		suitekit.Exec(ctx, tgt, `DROP SCHEMA other CASCADE`)
		Expect(digestOf(tgt)).To(Equal(digestOf(src)))
		// The digest itself runs with the reader's grants.
		Expect(string(mustRun(nil, "digest", "--dsn", asRole(src, reader)).Out.Contents())).To(Equal(digestOf(src)))
	}, SpecTimeout(4*time.Minute))

	It("refuses with a privilege finding when a grant is missing, the target unchanged", func(ctx SpecContext) {
		src := suitekit.EDMSSource(ctx, srv, 52)
		pkg := filepath.Join(GinkgoT().TempDir(), "b.edmsdr")
		mustRun(nil, "backup", "--dsn", src, "--out", pkg)

		type missing struct{ name, revoke, before string }
		for _, m := range []missing{
			{"UPDATE on one table (LOCK ... SHARE ROW EXCLUSIVE needs it)", `REVOKE UPDATE ON documents_document FROM %[1]s`, ""},
			{"INSERT on one table", `REVOKE INSERT ON workflows_transition FROM %[1]s`, ""},
			{"TEMPORARY on the database (staging tables)", `REVOKE TEMPORARY ON DATABASE %[2]s FROM %[1]s`, ""},
			// The reinit moved the sequence past every id the package keeps: set it back, so
			// that the restore must move it (setval) past the kept ids.
			{"UPDATE on one sequence (setval)", `REVOKE UPDATE ON SEQUENCE documents_document_id_seq FROM %[1]s`,
				`SELECT setval('documents_document_id_seq', 1, false)`},
		} {
			By("without " + m.name)
			tgt := suitekit.EDMSTarget(ctx, srv)
			restorer := newRole(ctx, "restorer", tgt)
			suitekit.Exec(ctx, tgt, append(lockDown(databaseOf(tgt)), restorerGrants(databaseOf(tgt), restorer)...)...)
			suitekit.Exec(ctx, tgt, fmt.Sprintf(m.revoke, restorer, ident(databaseOf(tgt))))
			if m.before != "" {
				suitekit.Exec(ctx, tgt, m.before)
			}
			before := digestOf(tgt)
			s := edmsdr(nil, "restore", "--dsn", asRole(tgt, restorer), "--in", pkg)
			Expect(s.ExitCode()).To(Equal(1), "without %s:\n%s", m.name, output(s))
			Expect(string(s.Err.Contents())).To(MatchRegexp(`error privilege\b.*SQLSTATE 42501`), "without %s", m.name)
			Expect(string(s.Err.Contents())).To(ContainSubstring("the target is unchanged"))
			Expect(digestOf(tgt)).To(Equal(before), "without %s the target changed", m.name)
		}

		By("a reader without SELECT on one table")
		reader := newRole(ctx, "reader", src)
		suitekit.Exec(ctx, src, append(lockDown(databaseOf(src)), readerGrants(databaseOf(src), reader)...)...)
		suitekit.Exec(ctx, src, fmt.Sprintf(`REVOKE SELECT ON audit_auditentry FROM %s`, reader))
		out := filepath.Join(GinkgoT().TempDir(), "never.edmsdr")
		s := edmsdr(nil, "backup", "--dsn", asRole(src, reader), "--out", out)
		Expect(s.ExitCode()).To(Equal(1), output(s))
		Expect(string(s.Err.Contents())).To(MatchRegexp(`error privilege\b.*SQLSTATE 42501`))
		Expect(out).NotTo(BeAnExistingFile())
		Expect(out + ".partial").NotTo(BeAnExistingFile())
	}, SpecTimeout(5*time.Minute))
})
