package security_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"

	"github.com/edmsdr/edmsdr/corrupt"
	"github.com/edmsdr/edmsdr/suites/label"
	"github.com/edmsdr/edmsdr/suites/suitekit"
)

// secret is a password that must never be printed or written anywhere.
const secret = "pa55-Sup3r-s3cret-edmsdr"

// noSecret asserts that neither the session's output nor any file under dirs holds the secret.
func noSecret(s *gexec.Session, dirs ...string) {
	GinkgoHelper()
	Expect(output(s)).NotTo(ContainSubstring(secret))
	for _, d := range dirs {
		for path, content := range filesUnder(d) {
			Expect(content).NotTo(ContainSubstring(secret), "file %s holds the password", path)
		}
	}
}

var _ = Describe("secrets", Label(label.Security, label.Secrets), func() {
	It("keeps DSN passwords out of the output, logs and report files of every command", func(ctx SpecContext) {
		dir := GinkgoT().TempDir()
		src, tgt := miniSource(ctx), miniTarget(ctx)
		// The harness servers trust local connections: a password in the DSN is carried
		// through every code path and ignored by the server, so commands succeed with it.
		srcPW, tgtPW := withPassword(src, secret), withPassword(tgt, secret)
		pkg := filepath.Join(dir, "b.edmsdr")
		report := filepath.Join(dir, "report")

		if hasPassword(src) {
			// A server that checks passwords refuses the made-up one: the successful runs are
			// covered on the harness's own servers, the failures below everywhere.
			mustRun(nil, "backup", "--dsn", src, "--out", pkg)
		} else {
			noSecret(mustRun(nil, "-v", "backup", "--dsn", srcPW, "--out", pkg))
			noSecret(mustRun([]string{"PGPASSWORD=" + secret}, "-v", "verify", "--in", pkg))
			noSecret(mustRun(nil, "-v", "restore", "--dsn", tgtPW, "--in", pkg, "--report", report), report)
			Expect(filepath.Join(report, "restore.json")).To(BeAnExistingFile())
			noSecret(mustRun(nil, "-v", "digest", "--dsn", tgtPW))
			noSecret(mustRun([]string{"PGPASSWORD=" + secret}, "-v", "digest", "--dsn", tgt))

			drillDir := filepath.Join(dir, "drill")
			db := fmt.Sprintf("sec_drill_%d", GinkgoParallelProcess())
			noSecret(mustRun(nil, "-v", "drill", "--db", withPassword(srv.DSN("postgres"), secret), "--database", db, "--report", drillDir, "--seed", "5"), drillDir)
			Expect(filepath.Join(drillDir, "report.json")).To(BeAnExistingFile())
		}

		By("failures: unreachable servers, a missing database, a refused restore")
		unreachable := []string{
			fmt.Sprintf("postgres://edms:%s@127.0.0.1:1/edms?connect_timeout=3", secret),
			fmt.Sprintf("host=127.0.0.1 port=1 user=edms password=%s dbname=edms connect_timeout=3", secret),
			fmt.Sprintf("host=127.0.0.1 port=1 user=edms password='%s' dbname=edms connect_timeout=3", secret),
			withPassword(srv.DSN("no_such_database_here"), secret),
		}
		for _, d := range unreachable {
			for _, args := range [][]string{
				{"-v", "restore", "--dsn", d, "--in", pkg, "--report", report},
				{"-v", "digest", "--dsn", d},
				{"-v", "backup", "--dsn", d, "--out", filepath.Join(dir, "never.edmsdr")},
			} {
				s := edmsdr(nil, args...)
				Expect(s.ExitCode()).To(Equal(1), output(s))
				noSecret(s, report)
			}
		}
		s := edmsdr(nil, "-v", "drill", "--db", unreachable[0], "--report", filepath.Join(dir, "faileddrill"))
		Expect(s.ExitCode()).To(Equal(1), output(s))
		noSecret(s)
		s = edmsdr([]string{"PGPASSWORD=" + secret, "PGHOST=127.0.0.1", "PGPORT=1", "PGCONNECT_TIMEOUT=3"}, "-v", "restore", "--in", pkg)
		Expect(s.ExitCode()).To(Equal(1))
		noSecret(s)
		// A refused restore writes its report; the password is not in it either.
		other := miniTarget(ctx)
		suitekit.Exec(ctx, other, `DROP TABLE note`)
		s = edmsdr(nil, "-v", "restore", "--dsn", withPassword(other, secret), "--in", pkg, "--report", report)
		Expect(s.ExitCode()).To(Equal(1))
		noSecret(s, report)
	}, SpecTimeout(4*time.Minute))

	It("leaves row content out of restore.json unless --report-keys; stderr names the failing rows", func(ctx SpecContext) {
		dir := GinkgoT().TempDir()
		src := miniSource(ctx)
		pkg := filepath.Join(dir, "b.edmsdr")
		mustRun(nil, "backup", "--dsn", src, "--out", pkg)
		damaged := filepath.Join(dir, "damaged.edmsdr")
		// alice disappears from the package: her note points at nothing.
		Expect(corrupt.Rewrite(pkg, damaged, func(table string, cols []string, rows [][]byte) ([][]byte, error) {
			if table != "public.auth_user" {
				return rows, nil
			}
			var out [][]byte
			for _, r := range rows {
				if !bytes.Equal(corrupt.Field(r, corrupt.Column(cols, "username")), []byte("alice")) {
					out = append(out, r)
				}
			}
			return out, nil
		})).To(Succeed())

		tgt := miniTarget(ctx)
		redacted, full := filepath.Join(dir, "redacted"), filepath.Join(dir, "full")
		s := edmsdr(nil, "restore", "--dsn", tgt, "--in", damaged, "--report", redacted)
		Expect(s.ExitCode()).To(Equal(1), output(s))
		Expect(string(s.Err.Contents())).To(ContainSubstring("orphaned"))
		Expect(string(s.Err.Contents())).To(ContainSubstring("title of alice"), "stderr names the failing row by its natural key")

		var rep struct {
			Verdict  string
			Findings []struct {
				Kind  string
				Table string
				Count int64
				Keys  []string
			}
		}
		data := readFile(filepath.Join(redacted, "restore.json"))
		Expect(data).NotTo(ContainSubstring("title of alice"))
		Expect(data).NotTo(ContainSubstring(`"keys"`))
		Expect(data).NotTo(ContainSubstring(`"detail"`))
		Expect(json.Unmarshal([]byte(data), &rep)).To(Succeed())
		Expect(rep.Verdict).To(Equal("FAIL"))
		Expect(rep.Findings).To(ContainElement(And(HaveField("Kind", "orphaned"), HaveField("Table", "note"), HaveField("Count", int64(1)))))

		s = edmsdr(nil, "restore", "--dsn", tgt, "--in", damaged, "--report", full, "--report-keys")
		Expect(s.ExitCode()).To(Equal(1))
		data = readFile(filepath.Join(full, "restore.json"))
		Expect(data).To(ContainSubstring("title of alice"), "--report-keys keeps the natural keys")
		Expect(strings.Count(data, `"keys"`)).To(BeNumerically(">=", 1))
	}, SpecTimeout(2*time.Minute))
})
