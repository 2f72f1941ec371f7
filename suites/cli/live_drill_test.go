package cli_test

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/edmsdr/edmsdr/reports"
	"github.com/edmsdr/edmsdr/suites/label"
	"github.com/edmsdr/edmsdr/suites/suitekit"
)

// selectOnlyRole creates a login role on src's database that may read its tables and write none:
// PUBLIC's default grants revoked, then SELECT on the tables, CONNECT and schema USAGE (without
// which no table can be reached) and TEMPORARY (the backup's session-private scratch tables)
// granted. It returns src's URL as that role.
func selectOnlyRole(ctx SpecContext, src string) (role, roleURL string) {
	GinkgoHelper()
	u, err := url.Parse(src)
	Expect(err).NotTo(HaveOccurred())
	db := pgx.Identifier{u.Path[1:]}.Sanitize()
	role = fmt.Sprintf("edmsdr_live_reader_%d", GinkgoParallelProcess())
	admin := srv.DSN("postgres")
	suitekit.Exec(ctx, admin, `DROP ROLE IF EXISTS `+role, `CREATE ROLE `+role+` LOGIN PASSWORD 'pw-live-reader' NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT`)
	DeferCleanup(func(ctx SpecContext) {
		suitekit.Exec(ctx, src, `DROP OWNED BY `+role)
		suitekit.Exec(ctx, admin, `DROP ROLE `+role)
	}, NodeTimeout(time.Minute))
	suitekit.Exec(ctx, src,
		`REVOKE ALL ON DATABASE `+db+` FROM PUBLIC`, `REVOKE ALL ON SCHEMA public FROM PUBLIC`,
		`GRANT CONNECT, TEMPORARY ON DATABASE `+db+` TO `+role, `GRANT USAGE ON SCHEMA public TO `+role,
		`GRANT SELECT ON ALL TABLES IN SCHEMA public TO `+role)
	u.User = url.UserPassword(role, "pw-live-reader")
	return role, u.String()
}

var _ = Describe("edmsdr drill --source-dsn (a live database)", Label(label.CLI, label.Drill, label.EDMS, label.Privilege), func() {
	It("backs up through a SELECT-only role, restores into a re-initialised scratch database, and proves it: PASS, the source unchanged", func(ctx SpecContext) {
		src := suitekit.EDMSSource(ctx, srv, 61)
		role, reader := selectOnlyRole(ctx, src)
		Expect(suitekit.Count(ctx, src, `SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE n.nspname = 'public' AND c.relkind = 'r' AND has_table_privilege($1, c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')`, role)).
			To(BeZero(), "the role may only SELECT")
		Expect(suitekit.Count(ctx, src, `SELECT count(*) FROM pg_roles WHERE rolname = $1 AND (rolsuper OR rolbypassrls OR rolcreatedb)`, role)).To(BeZero())
		Expect(suitekit.Count(ctx, src, `SELECT count(*) WHERE has_database_privilege($1, current_database(), 'CREATE') OR has_schema_privilege($1, 'public', 'CREATE')`, role)).To(BeZero(), "no object can be created")
		before := suitekit.Digest(ctx, src)

		dir := GinkgoT().TempDir()
		scratch := fmt.Sprintf("cli_live_scratch_%d", GinkgoParallelProcess())
		s := edmsdr(nil, "drill", "--source-dsn", reader, "--db", srv.DSN("postgres"), "--database", scratch,
			"--reinit-sql", suitekit.RepoPath("fixtures/edms/schema.sql"),
			"--reinit-cmd", `test -n "$EDMSDR_SCRATCH_DSN" && test "$PGDATABASE" = `+scratch+` && test "$DATABASE_URL" = "$EDMSDR_SCRATCH_DSN"`,
			"--report", dir)
		out := string(s.Out.Contents()) + string(s.Err.Contents())
		Expect(s.ExitCode()).To(Equal(0), out)
		Expect(out).NotTo(ContainSubstring("pw-live-reader"), "no credential in the output")

		f, err := os.Open(filepath.Join(dir, "report.json"))
		Expect(err).NotTo(HaveOccurred())
		rep, err := reports.ReadDrill(f)
		f.Close()
		Expect(err).NotTo(HaveOccurred())
		Expect(rep.Verdict).To(BeEquivalentTo("PASS"))
		Expect(rep.Scale).To(Equal("live"))
		Expect(rep.DigestBefore).To(Equal(before.Total), "the digest before is the source's, computed by the backup")
		Expect(rep.DigestAfter).To(Equal(before.Total), "the scratch database holds exactly the source's rows")
		Expect(rep.Tables).NotTo(BeEmpty())
		Expect(rep.Checks()).To(ContainElement(And(HaveField("Name", "database digest"), HaveField("Verdict", BeEquivalentTo("PASS")))))
		Expect(rep.Replay).To(ContainSubstring("--source-dsn SOURCE_DSN"))
		data, err := os.ReadFile(filepath.Join(dir, "report.json"))
		Expect(err).NotTo(HaveOccurred())
		Expect(string(data)).NotTo(ContainSubstring("pw-live-reader"))

		Expect(suitekit.Digest(ctx, src)).To(Equal(before), "the source is unchanged")
		Expect(suitekit.Count(ctx, srv.DSN("postgres"), `SELECT count(*) FROM pg_database WHERE datname = $1`, scratch)).To(BeZero(), "the scratch database is dropped")
	}, SpecTimeout(3*time.Minute))

	It("refuses, before touching anything, a live drill without a way to re-initialise, or with the source as its scratch database", func(ctx SpecContext) {
		src := suitekit.EDMSSource(ctx, srv, 62)
		before := suitekit.Digest(ctx, src)
		s := edmsdr(nil, "drill", "--source-dsn", src, "--db", srv.DSN("postgres"))
		Expect(s.ExitCode()).To(Equal(2))
		Expect(string(s.Err.Contents())).To(ContainSubstring("--reinit-sql FILE and/or --reinit-cmd"))
		s = edmsdr(nil, "drill", "--reinit-sql", "x.sql")
		Expect(s.ExitCode()).To(Equal(2))
		Expect(string(s.Err.Contents())).To(ContainSubstring("need --source-dsn"))
		u, err := url.Parse(src)
		Expect(err).NotTo(HaveOccurred())
		s = edmsdr(nil, "drill", "--source-dsn", src, "--db", srv.DSN("postgres"), "--database", u.Path[1:], "--reinit-cmd", "true")
		Expect(s.ExitCode()).To(Equal(1))
		Expect(string(s.Err.Contents())).To(ContainSubstring("is the source database"))
		Expect(suitekit.Digest(ctx, src)).To(Equal(before), "the source is untouched")
	}, SpecTimeout(2*time.Minute))
})
