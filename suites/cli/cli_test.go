package cli_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	"github.com/onsi/gomega/gexec"

	"github.com/edmsdr/edmsdr/corrupt"
	"github.com/edmsdr/edmsdr/engine/finding"
	"github.com/edmsdr/edmsdr/suites/label"
	"github.com/edmsdr/edmsdr/suites/suitekit"
)

// edmsdr runs the binary and waits for it; env entries are added to a clean environment.
func edmsdr(env []string, args ...string) *gexec.Session {
	GinkgoHelper()
	cmd := exec.Command(bin, args...)
	cmd.Env = suitekit.CleanEnv(env...)
	return suitekit.Run(cmd, 3*time.Minute)
}

var hexLine = regexp.MustCompile(`^total [0-9a-f]{64}$`)

func lastLine(b []byte) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return lines[len(lines)-1]
}

var _ = Describe("edmsdr usage", Label(label.CLI), func() {
	It("documents every command and flag in --help, exiting 0", func() {
		s := edmsdr(nil, "--help")
		Expect(s.ExitCode()).To(Equal(0))
		for _, c := range []string{"backup", "restore", "verify", "digest", "drill", "rollback", "journal", "idmap"} {
			Expect(string(s.Out.Contents())).To(MatchRegexp(`(?m)^\s+` + c + `\s`))
		}
		for cmd, flags := range map[string][]string{
			"backup":   {"--dsn", "--out", "--keys"},
			"restore":  {"--dsn", "--in", "--keys", "--on-existing", "--dry-run", "--report", "--mode", "--safety-backup", "EDMSDR_SAFETY_BACKUP", "--journal", "--journal-table"},
			"rollback": {"--dsn", "--in", "--restore-report", "--force", "--journal", "--journal-table"},
			"journal":  {"--dsn", "--journal", "--json"},
			"verify":   {"--in"},
			"digest":   {"--dsn", "--keys"},
			"drill":    {"--db", "--scale", "--report", "--seed"},
		} {
			s := edmsdr(nil, cmd, "--help")
			Expect(s.ExitCode()).To(Equal(0), cmd)
			for _, f := range flags {
				Expect(string(s.Out.Contents())).To(ContainSubstring(f), "%s --help lacks %s", cmd, f)
			}
		}
	})

	DescribeTable("exits 2 on bad usage, saying what is wrong",
		func(want string, args ...string) {
			s := edmsdr(nil, args...)
			Expect(s.ExitCode()).To(Equal(2), string(s.Err.Contents()))
			Expect(string(s.Err.Contents())).To(ContainSubstring(want))
		},
		Entry("unknown command", "unknown command", "explode"),
		Entry("unknown flag", "unknown flag", "backup", "--frobnicate"),
		Entry("missing --out", "--out is required", "backup", "--dsn", "postgres://x@127.0.0.1:1/db"),
		Entry("missing --in", "--in is required", "restore", "--dsn", "postgres://x@127.0.0.1:1/db"),
		Entry("bad --on-existing", "--on-existing", "restore", "--in", "x", "--on-existing", "sometimes"),
		Entry("stray argument", "takes no arguments", "verify", "--in", "x", "extra"),
		Entry("unknown dataset", "unknown dataset", "drill", "--dataset", "nope"),
		Entry("malformed DSN", "parse connection string", "backup", "--dsn", "postgres://x@[bad", "--out", "x"),
	)
})

var _ = Describe("edmsdr backup, verify, restore, digest", Label(label.CLI, label.EDMS), func() {
	It("round-trips through a re-initialised database with exit code 0 and equal digests", func(ctx SpecContext) {
		src := suitekit.EDMSSource(ctx, srv, 31)
		dir := GinkgoT().TempDir()
		pkg := filepath.Join(dir, "b.edmsdr")

		s := edmsdr(nil, "backup", "--dsn", src, "--out", pkg)
		Expect(s.ExitCode()).To(Equal(0), string(s.Err.Contents()))
		Expect(s.Out).To(gbytes.Say(`backup written: .*b\.edmsdr`))
		Expect(pkg + ".partial").NotTo(BeAnExistingFile())

		s = edmsdr(nil, "verify", "--in", pkg)
		Expect(s.ExitCode()).To(Equal(0), string(s.Err.Contents()))
		Expect(lastLine(s.Out.Contents())).To(Equal("OK"))

		srcDigest := edmsdr(nil, "digest", "--dsn", src)
		Expect(srcDigest.ExitCode()).To(Equal(0))
		Expect(lastLine(srcDigest.Out.Contents())).To(MatchRegexp(hexLine.String()))
		Expect(string(srcDigest.Out.Contents())).To(MatchRegexp(`(?m)^documents_document 40 [0-9a-f]{64}$`))

		tgt := suitekit.EDMSTarget(ctx, srv)
		report := filepath.Join(dir, "report")
		s = edmsdr(nil, "restore", "--dsn", tgt, "--in", pkg, "--report", report)
		Expect(s.ExitCode()).To(Equal(0), string(s.Err.Contents()))
		out := string(s.Out.Contents())
		Expect(out).To(MatchRegexp(`auth_permission\s+52\s+0\s+52\s+0\s+PASS`))
		Expect(out).To(ContainSubstring("verdict PASS: committed"))
		Expect(filepath.Join(report, "restore.json")).To(BeAnExistingFile())
		idmap, err := os.ReadFile(filepath.Join(report, "idmap.tsv"))
		Expect(err).NotTo(HaveOccurred())
		Expect(string(idmap)).To(HavePrefix("table\tsource_id\ttarget_id\tstatus\n"))
		Expect(string(idmap)).To(MatchRegexp(`(?m)^auth_user\t\d+\t\d+\tmatched$`))
		Expect(suitekit.RestoreReport(report).Verdict).To(Equal(finding.Pass))

		tgtDigest := edmsdr(nil, "digest", "--dsn", tgt)
		Expect(tgtDigest.ExitCode()).To(Equal(0))
		Expect(tgtDigest.Out.Contents()).To(Equal(srcDigest.Out.Contents()))
	}, SpecTimeout(3*time.Minute))

	It("takes the connection from PG* environment variables, as psql does", func(ctx SpecContext) {
		src := suitekit.EDMSSource(ctx, srv, 32)
		u, err := url.Parse(src)
		Expect(err).NotTo(HaveOccurred())
		env := []string{"PGHOST=" + u.Hostname(), "PGPORT=" + u.Port(), "PGUSER=" + u.User.Username(), "PGDATABASE=" + strings.TrimPrefix(u.Path, "/"), "PGSSLMODE=disable"}
		s := edmsdr(env, "digest")
		Expect(s.ExitCode()).To(Equal(0), string(s.Err.Contents()))
		Expect(s.Out.Contents()).To(Equal(edmsdr(nil, "digest", "--dsn", src).Out.Contents()))
		kw := fmt.Sprintf("host=%s port=%s user=%s dbname=%s sslmode=disable", u.Hostname(), u.Port(), u.User.Username(), strings.TrimPrefix(u.Path, "/"))
		Expect(edmsdr(nil, "digest", "--dsn", kw).Out.Contents()).To(Equal(s.Out.Contents()))
	}, SpecTimeout(2*time.Minute))

	It("leaves no file behind when a backup fails, and never prints the password", func(ctx SpecContext) {
		dir := GinkgoT().TempDir()
		pkg := filepath.Join(dir, "never.edmsdr")
		secret := "pa55-Sup3r-s3cret"
		for _, dsn := range []string{
			fmt.Sprintf("postgres://edms:%s@127.0.0.1:1/edms?connect_timeout=3", secret),
			fmt.Sprintf("host=127.0.0.1 port=1 user=edms password=%s dbname=edms connect_timeout=3", secret),
			strings.Replace(srv.DSN("no_such_database_here"), "postgres://postgres@", "postgres://postgres:"+secret+"@", 1),
		} {
			s := edmsdr(nil, "backup", "--dsn", dsn, "--out", pkg)
			Expect(s.ExitCode()).To(Equal(1), string(s.Err.Contents()))
			Expect(string(s.Out.Contents()) + string(s.Err.Contents())).NotTo(ContainSubstring(secret))
			Expect(pkg).NotTo(BeAnExistingFile())
			Expect(pkg + ".partial").NotTo(BeAnExistingFile())
		}
		s := edmsdr([]string{"PGPASSWORD=" + secret, "PGHOST=127.0.0.1", "PGPORT=1", "PGCONNECT_TIMEOUT=3"}, "digest")
		Expect(s.ExitCode()).To(Equal(1))
		Expect(string(s.Err.Contents())).NotTo(ContainSubstring(secret))
	}, SpecTimeout(2*time.Minute))

	It("refuses to overwrite an existing package unless told to", func(ctx SpecContext) {
		src := suitekit.EDMSSource(ctx, srv, 33)
		pkg := filepath.Join(GinkgoT().TempDir(), "b.edmsdr")
		Expect(os.WriteFile(pkg, []byte("precious"), 0o600)).To(Succeed())
		s := edmsdr(nil, "backup", "--dsn", src, "--out", pkg)
		Expect(s.ExitCode()).To(Equal(1))
		Expect(string(s.Err.Contents())).To(ContainSubstring("exists"))
		Expect(os.ReadFile(pkg)).To(Equal([]byte("precious")))
		Expect(edmsdr(nil, "backup", "--dsn", src, "--out", pkg, "--overwrite").ExitCode()).To(Equal(0))
		Expect(edmsdr(nil, "verify", "--in", pkg).ExitCode()).To(Equal(0))
	}, SpecTimeout(2*time.Minute))

	It("exits 1 on a refused restore, naming table, constraint and natural key, target unchanged", func(ctx SpecContext) {
		src := suitekit.EDMSSource(ctx, srv, 34)
		dir := GinkgoT().TempDir()
		pkg := filepath.Join(dir, "b.edmsdr")
		Expect(edmsdr(nil, "backup", "--dsn", src, "--out", pkg).ExitCode()).To(Equal(0))
		damaged := filepath.Join(dir, "damaged.edmsdr")
		Expect(corrupt.Rewrite(pkg, damaged, func(table string, cols []string, rows [][]byte) ([][]byte, error) {
			if table == "public.documents_documenttype" {
				return rows[1:], nil
			}
			return rows, nil
		})).To(Succeed())
		tgt := suitekit.EDMSTarget(ctx, srv)
		before := edmsdr(nil, "digest", "--dsn", tgt).Out.Contents()
		s := edmsdr(nil, "restore", "--dsn", tgt, "--in", damaged)
		Expect(s.ExitCode()).To(Equal(1))
		errOut := string(s.Err.Contents())
		Expect(errOut).To(ContainSubstring("orphaned"))
		Expect(errOut).To(ContainSubstring("table documents_document"))
		Expect(errOut).To(ContainSubstring("column document_type_id"))
		Expect(errOut).To(MatchRegexp(`constraint documents_document_document_type_id_\w+`))
		Expect(errOut).To(ContainSubstring("document_number="))
		Expect(errOut).To(ContainSubstring("the target is unchanged"))
		Expect(edmsdr(nil, "digest", "--dsn", tgt).Out.Contents()).To(Equal(before))
	}, SpecTimeout(2*time.Minute))

	It("exits 1 when verify finds damage, listing it", func() {
		dir := GinkgoT().TempDir()
		bad := filepath.Join(dir, "bad.edmsdr")
		Expect(os.WriteFile(bad, []byte("this is not a package"), 0o600)).To(Succeed())
		s := edmsdr(nil, "verify", "--in", bad)
		Expect(s.ExitCode()).To(Equal(1))
		Expect(string(s.Err.Contents())).To(ContainSubstring("corrupt"))
		s = edmsdr(nil, "verify", "--in", filepath.Join(dir, "missing.edmsdr"))
		Expect(s.ExitCode()).To(Equal(1))
		Expect(string(s.Err.Contents())).To(ContainSubstring("no such file"))
	})
})

var _ = Describe("edmsdr drill", Label(label.CLI, label.Drill), func() {
	It("runs a drill against a server given by DSN, prints the summary and writes report.json", func(ctx SpecContext) {
		dir := GinkgoT().TempDir()
		db := fmt.Sprintf("cli_drill_%d", GinkgoParallelProcess())
		s := edmsdr(nil, "drill", "--db", srv.DSN("postgres"), "--database", db, "--report", dir, "--seed", "4", "--log-format", "json")
		Expect(s.ExitCode()).To(Equal(0), string(s.Out.Contents())+string(s.Err.Contents()))
		// --log-format json: every stderr line is one slog record; the phases are among them.
		var phases []string
		for _, line := range strings.Split(strings.TrimSpace(string(s.Err.Contents())), "\n") {
			var rec struct{ Msg, Phase string }
			Expect(json.Unmarshal([]byte(line), &rec)).To(Succeed(), "not a JSON line: %s", line)
			if rec.Msg == "drill phase done" {
				phases = append(phases, rec.Phase)
			}
		}
		Expect(phases).To(Equal([]string{"install", "generate", "digest before", "backup", "verify", "reinit", "restore", "digest after", "probes"}))
		out := string(s.Out.Contents())
		Expect(out).To(ContainSubstring("verdict PASS"))
		Expect(out).To(MatchRegexp(`digest before ([0-9a-f]{64})\ndigest after  ([0-9a-f]{64})`))
		m := regexp.MustCompile(`digest before ([0-9a-f]{64})\ndigest after  ([0-9a-f]{64})`).FindStringSubmatch(out)
		Expect(m[1]).To(Equal(m[2]))
		var rep struct {
			Schema        string
			SchemaVersion int `json:"schema_version"`
			Verdict       string
			Tables        []struct{ Table string }
			Scenarios     []struct {
				Name, Verdict string
				Checks        []struct{ Verdict string }
			}
		}
		data, err := os.ReadFile(filepath.Join(dir, "report.json"))
		Expect(err).NotTo(HaveOccurred())
		Expect(json.Unmarshal(data, &rep)).To(Succeed())
		Expect(rep.Schema).To(Equal("edmsdr.drill-report"))
		Expect(rep.SchemaVersion).To(Equal(1))
		Expect(rep.Verdict).To(Equal("PASS"))
		Expect(rep.Tables).NotTo(BeEmpty())
		Expect(rep.Scenarios).To(ConsistOf(HaveField("Name", "cycle")), "the default scenarios: cycle alone")
		Expect(rep.Scenarios[0].Checks).NotTo(BeEmpty())
		Expect(rep.Scenarios[0].Checks).To(HaveEach(HaveField("Verdict", "PASS")))
		Expect(filepath.Join(dir, "report.md")).To(BeAnExistingFile())
		Expect(suitekit.Count(ctx, srv.DSN("postgres"), `SELECT count(*) FROM pg_database WHERE datname = $1`, db)).To(BeZero(), "the drill drops its database")
	}, SpecTimeout(3*time.Minute))

	It("hands its signals to edmsdr-drill: SIGTERM stops the drill, which cleans up and exits 1", func(ctx SpecContext) {
		dir := GinkgoT().TempDir()
		db := fmt.Sprintf("cli_drill_term_%d", GinkgoParallelProcess())
		cmd := exec.Command(bin, "-v", "drill", "--db", srv.DSN("postgres"), "--database", db, "--scale", "small", "--report", dir)
		cmd.Env = suitekit.CleanEnv()
		s, err := gexec.Start(cmd, GinkgoWriter, GinkgoWriter)
		Expect(err).NotTo(HaveOccurred())
		// The first phase installs the schema; generating small-scale data takes many seconds more.
		Eventually(s.Err).WithTimeout(2 * time.Minute).Should(gbytes.Say(`drill phase done.* phase=install`))
		s.Signal(syscall.SIGTERM)
		Eventually(s).WithTimeout(2*time.Minute).Should(gexec.Exit(1), "edmsdr drill after SIGTERM")
		// Left alone, this drill passes (exit 0): a FAIL report without a restore phase is the stop.
		Expect(string(s.Err.Contents())).To(ContainSubstring("drill verdict FAIL"))
		var rep struct {
			Verdict string
			Phases  []struct{ Name string }
		}
		data, err := os.ReadFile(filepath.Join(dir, "report.json"))
		Expect(err).NotTo(HaveOccurred(), "the stopped drill still writes its report")
		Expect(json.Unmarshal(data, &rep)).To(Succeed())
		Expect(rep.Verdict).To(Equal("FAIL"))
		Expect(rep.Phases).NotTo(ContainElement(HaveField("Name", "restore")))
		Expect(suitekit.Count(ctx, srv.DSN("postgres"), `SELECT count(*) FROM pg_database WHERE datname = $1`, db)).To(BeZero(), "the stopped drill drops its database")
	}, SpecTimeout(5*time.Minute))
})

// alone copies the edmsdr binary into a directory of its own (no edmsdr-drill beside it) and
// returns the copy's path.
func alone() string {
	GinkgoHelper()
	data, err := os.ReadFile(bin)
	Expect(err).NotTo(HaveOccurred())
	path := filepath.Join(GinkgoT().TempDir(), "edmsdr")
	Expect(os.WriteFile(path, data, 0o755)).To(Succeed())
	return path
}

var _ = Describe("edmsdr drill without edmsdr-drill beside it", Label(label.CLI, label.Drill), func() {
	run := func(path string, env []string, args ...string) *gexec.Session {
		GinkgoHelper()
		cmd := exec.Command(path, args...)
		cmd.Env = suitekit.CleanEnv(env...)
		return suitekit.Run(cmd, time.Minute)
	}

	It("runs the edmsdr-drill found on PATH, passing arguments and exit codes through", func() {
		lone, path := alone(), "PATH="+filepath.Dir(suitekit.DrillCLI(bin))
		s := run(lone, []string{path}, "drill", "--dataset", "nope")
		Expect(s.ExitCode()).To(Equal(2), string(s.Err.Contents()))
		Expect(string(s.Err.Contents())).To(ContainSubstring("unknown dataset"))
		s = run(lone, []string{path}, "drill", "--help")
		Expect(s.ExitCode()).To(Equal(0), string(s.Err.Contents()))
		Expect(string(s.Out.Contents())).To(ContainSubstring("--seed"))
	})

	It("says that it needs edmsdr-drill and exits 1 when there is none, and --help says so too", func() {
		lone, path := alone(), "PATH="+GinkgoT().TempDir()
		s := run(lone, []string{path}, "drill", "--db", "auto")
		Expect(s.ExitCode()).To(Equal(1), string(s.Err.Contents()))
		Expect(string(s.Err.Contents())).To(ContainSubstring("drill needs edmsdr-drill"))
		Expect(string(s.Err.Contents())).To(ContainSubstring(filepath.Join(filepath.Dir(lone), "edmsdr-drill")))
		s = run(lone, []string{path}, "drill", "--help")
		Expect(s.ExitCode()).To(Equal(0), string(s.Err.Contents()))
		Expect(string(s.Out.Contents())).To(ContainSubstring("drill needs edmsdr-drill"))
		Expect(string(s.Out.Contents())).To(ContainSubstring("disaster-recovery drill"))
	})
})
