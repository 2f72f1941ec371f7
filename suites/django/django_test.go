package django_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"

	"github.com/edmsdr/edmsdr/suites/label"
	"github.com/edmsdr/edmsdr/suites/suitekit"
)

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// run starts a command, waits for it and returns the finished session.
func run(cmd *exec.Cmd) *gexec.Session {
	GinkgoHelper()
	return suitekit.Run(cmd, 3*time.Minute)
}

// edmsdr runs the edmsdr binary.
func edmsdr(args ...string) *gexec.Session {
	GinkgoHelper()
	return run(exec.Command(bin, args...))
}

// manageSession runs `python3 manage.py ARGS` of the test project against database url.
func manageSession(ctx context.Context, url string, args ...string) *gexec.Session {
	GinkgoHelper()
	cmd := exec.CommandContext(ctx, python, append([]string{"manage.py"}, args...)...)
	cmd.Dir = project
	// No bytecode: the project lives in the source tree.
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + os.Getenv("HOME"), "DATABASE_URL=" + url,
		"PYTHONDONTWRITEBYTECODE=1", "PYTHONIOENCODING=utf-8", "LANG=C.UTF-8"}
	return run(cmd)
}

// manage runs a manage.py command that must succeed.
func manage(ctx context.Context, url string, args ...string) *gexec.Session {
	GinkgoHelper()
	s := manageSession(ctx, url, args...)
	Expect(s.ExitCode()).To(Equal(0), "manage.py %s (seed %d): %s", strings.Join(args, " "), seed, s.Err.Contents())
	return s
}

// migrated creates a database for this spec and lets Django migrate it. With shift, it then plays a
// re-initialised install: every sequence moves forward and migrate runs again, re-creating the
// content types and permissions under ids the source never used.
func migrated(ctx context.Context, hint string, shift bool) string {
	GinkgoHelper()
	url := srv.DSN(suitekit.NewDatabase(ctx, srv, hint))
	manage(ctx, url, "migrate", "--no-input", "-v", "0")
	if shift {
		manage(ctx, url, "shift_ids", "--by", "1000")
	}
	return url
}

// digestOf returns `edmsdr digest` of url with the project's keys file (django_migrations left out).
func digestOf(url string) string {
	GinkgoHelper()
	s := edmsdr("digest", "--dsn", url, "--keys", keysFile)
	Expect(s.ExitCode()).To(Equal(0), string(s.Err.Contents()))
	return string(s.Out.Contents())
}

// digestLines maps each table of a digest output to its line ("total" included).
func digestLines(out string) map[string]string {
	m := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if f := strings.Fields(l); len(f) > 0 {
			m[f[0]] = l
		}
	}
	return m
}

// without drops tables (and the total) from a digest line map.
func without(m map[string]string, tables ...string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[k] = v
	}
	delete(out, "total")
	for _, t := range tables {
		delete(out, t)
	}
	return out
}

// dumpdata writes a fixture of the source database with the given dumpdata flags.
func dumpdata(ctx context.Context, flags ...string) string {
	GinkgoHelper()
	out := filepath.Join(GinkgoT().TempDir(), "dump.json")
	manage(ctx, src, append([]string{"dumpdata", "-o", out}, flags...)...)
	Expect(out).To(BeAnExistingFile())
	return out
}

// restoreVerdict reads the verdict from the restore.json that `restore --report` wrote.
func restoreVerdict(report string) string {
	GinkgoHelper()
	res := suitekit.RestoreReport(report)
	if !res.Committed {
		return string(res.Verdict) + " (not committed)"
	}
	return string(res.Verdict)
}

// refusedOrphaned matches a refusal's finding line of kind orphaned on stderr.
var refusedOrphaned = regexp.MustCompile(`(?m)^\s*error orphaned\b`)

// outcome is what restoring a dumpdata variant must give.
type outcome int

const (
	// restoredWhole: PASS, and the target's digest equals the source's.
	restoredWhole outcome = iota
	// restoredExceptAudit: PASS, every table equal to the source but the audit trail, left out of the fixture.
	restoredExceptAudit
	// refused: exit 1 with a finding of kind orphaned, the target unchanged.
	refused
)

var (
	noContentTypes = []string{"--exclude", "contenttypes", "--exclude", "auth.permission"}
	noAudit        = []string{"--exclude", "audit"}
	natural        = []string{"--natural-foreign", "--natural-primary"}
)

func flags(parts ...[]string) []string {
	var out []string
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// assertRestored checks a restore into target against the outcome; before is target's digest
// before the restore.
func assertRestored(ctx context.Context, s *gexec.Session, want outcome, target, before, report string) {
	GinkgoHelper()
	switch want {
	case refused:
		Expect(s.ExitCode()).To(Equal(1), "restore must refuse (seed %d): %s", seed, s.Out.Contents())
		Expect(string(s.Err.Contents())).To(MatchRegexp(refusedOrphaned.String()), "the refusal names a finding of kind orphaned")
		Expect(digestOf(target)).To(Equal(before), "a refused restore leaves the target unchanged")
	default:
		Expect(s.ExitCode()).To(Equal(0), "restore (seed %d): %s", seed, s.Err.Contents())
		if report != "" {
			Expect(restoreVerdict(report)).To(Equal("PASS"))
		}
		got := digestOf(target)
		if want == restoredWhole {
			Expect(got).To(Equal(srcDigest), "digest of the restored database equals the source's (seed %d)", seed)
		} else {
			Expect(without(digestLines(got), "audit_auditentry")).To(Equal(without(digestLines(srcDigest), "audit_auditentry")),
				"every table but the audit trail equals the source (seed %d)", seed)
			Expect(suitekit.Count(ctx, target, `SELECT count(*) FROM audit_auditentry`)).To(BeZero())
		}
	}
}

var _ = Describe("Django dumpdata fixtures restored by edmsdr", Label(label.Django), func() {
	BeforeEach(func() {
		if djangoSkip != "" {
			Skip(djangoSkip)
		}
	})

	DescribeTable("into a database Django migrated again under other ids, directly and through convert",
		func(ctx SpecContext, want outcome, dumpFlags []string) {
			dump := dumpdata(ctx, dumpFlags...)
			dir := GinkgoT().TempDir()

			By("edmsdr restore --in dump.json into a re-migrated database")
			b := migrated(ctx, "b", true)
			before := digestOf(b)
			Expect(before).NotTo(Equal(srcDigest))
			report := filepath.Join(dir, "report")
			s := edmsdr("restore", "--dsn", b, "--in", dump, "--report", report)
			assertRestored(ctx, s, want, b, before, report)

			By("edmsdr convert --dsn B' then restore of the package into B'")
			b2 := migrated(ctx, "b2", true)
			before2 := digestOf(b2)
			pkg := filepath.Join(dir, "converted.edmsdr")
			s = edmsdr("convert", "--in", dump, "--out", pkg, "--dsn", b2)
			if want == refused && s.ExitCode() == 1 {
				// Refused already while converting: the references cannot be resolved.
				Expect(string(s.Err.Contents())).To(MatchRegexp(refusedOrphaned.String()))
				Expect(pkg).NotTo(BeAnExistingFile())
				Expect(digestOf(b2)).To(Equal(before2))
				return
			}
			Expect(s.ExitCode()).To(Equal(0), "convert (seed %d): %s", seed, s.Err.Contents())
			Expect(edmsdr("verify", "--in", pkg).ExitCode()).To(Equal(0), "the converted package verifies")
			s = edmsdr("restore", "--dsn", b2, "--in", pkg)
			assertRestored(ctx, s, want, b2, before2, "")
			if want != refused {
				Expect(digestOf(b2)).To(Equal(digestOf(b)), "restoring the converted package equals restoring the fixture")
			}
		},
		Entry("id-based, dumpdata's default flags", restoredWhole, []string(nil), SpecTimeout(4*time.Minute)),
		Entry("id-based without contenttypes and auth.permission: references to content types by id cannot resolve",
			refused, noContentTypes, SpecTimeout(4*time.Minute)),
		Entry("--natural-foreign", restoredWhole, []string{"--natural-foreign"}, SpecTimeout(4*time.Minute)),
		Entry("--natural-foreign without contenttypes and auth.permission",
			restoredWhole, flags([]string{"--natural-foreign"}, noContentTypes), SpecTimeout(4*time.Minute)),
		Entry("--natural-foreign --natural-primary with the audit trail: generic keys point at objects the fixture gives no id",
			refused, natural, SpecTimeout(4*time.Minute)),
		Entry("--natural-foreign --natural-primary without the audit trail",
			restoredExceptAudit, flags(natural, noAudit), SpecTimeout(4*time.Minute)),
		Entry("--natural-foreign --natural-primary without contenttypes, auth.permission and the audit trail",
			restoredExceptAudit, flags(natural, noContentTypes, noAudit), SpecTimeout(4*time.Minute)),
	)
})

var _ = Describe("The Django test project", Label(label.Django), func() {
	BeforeEach(func() {
		if djangoSkip != "" {
			Skip(djangoSkip)
		}
	})

	It("makes the same data from the same seed, whatever the ids", func(ctx SpecContext) {
		b := migrated(ctx, "same_seed", true)
		manage(ctx, b, "seed_edms", "--seed", itoa(seed))
		Expect(suitekit.Count(ctx, b, `SELECT min(id) FROM django_content_type`)).To(BeNumerically(">", 1000), "ids were shifted")
		Expect(digestOf(b)).To(Equal(srcDigest))
		c := migrated(ctx, "other_seed", false)
		manage(ctx, c, "seed_edms", "--seed", itoa(seed+1))
		Expect(digestOf(c)).NotTo(Equal(srcDigest))
	}, SpecTimeout(3*time.Minute))

	It("holds every edge case: a tree, a version cycle, generic keys to three models, empty bytea, NULLs, equal keyless rows", func(ctx SpecContext) {
		for q, what := range map[string]string{
			`SELECT count(*) FROM documents_folder f JOIN documents_folder p ON p.id = f.parent_id WHERE p.parent_id IS NOT NULL`:                                       "folders at depth 3 or more",
			`SELECT count(*) FROM (SELECT name FROM documents_folder GROUP BY name HAVING count(*) > 1) x`:                                                              "folder names under several parents",
			`SELECT count(*) FROM documents_document WHERE current_version_id IS NOT NULL`:                                                                              "documents pointing at a version",
			`SELECT count(*) FROM documents_document WHERE current_version_id IS NULL`:                                                                                  "documents without a current version",
			`SELECT count(*) FROM documents_document WHERE folder_id IS NULL`:                                                                                           "documents outside any folder",
			`SELECT count(*) FROM documents_documentversion WHERE length(content) = 0`:                                                                                  "empty contents",
			`SELECT count(*) FROM signatures_signature WHERE length(signature) = 0`:                                                                                     "empty signatures",
			`SELECT count(DISTINCT content_type_id) FROM audit_auditentry`:                                                                                              "audit entries about documents, versions and workflows",
			`SELECT count(*) FROM audit_auditentry WHERE content_type_id IS NULL AND object_id IS NULL`:                                                                 "audit entries about no object",
			`SELECT count(*) FROM audit_auditentry WHERE remote_addr IS NULL`:                                                                                           "audit entries without an address",
			`SELECT count(*) FROM (SELECT 1 FROM workflows_transition GROUP BY workflow_id, from_state, to_state, actor_id, comment, created_at HAVING count(*) > 1) x`: "equal transitions",
			`SELECT count(*) FROM auth_user WHERE username ~ '[^\x01-\x7f]'`:                                                                                            "non-ASCII usernames",
			`SELECT count(*) FROM auth_group_permissions`:                                                                                                               "group permissions",
			`SELECT count(*) FROM documents_document_tags`:                                                                                                              "document tags",
		} {
			least := int64(1)
			if strings.HasPrefix(what, "audit entries about documents") {
				least = 3
			}
			Expect(suitekit.Count(ctx, src, q)).To(BeNumerically(">=", least), "seed %d: %s", seed, what)
		}
		Expect(suitekit.Count(ctx, src, `SELECT (SELECT count(*) FROM auth_user) + (SELECT count(*) FROM documents_document)
			+ (SELECT count(*) FROM documents_documentversion) + (SELECT count(*) FROM workflows_transition)
			+ (SELECT count(*) FROM audit_auditentry)`)).To(BeNumerically(">=", 200), "a few hundred rows")
	}, SpecTimeout(time.Minute))

	DescribeTable("Django's own loaddata of its natural-key fixtures, for reference",
		func(ctx SpecContext, dumpFlags []string, audit string) {
			dump := dumpdata(ctx, dumpFlags...)
			b := migrated(ctx, "loaddata", true)
			manage(ctx, b, "loaddata", dump)
			got := digestLines(digestOf(b))
			want := digestLines(srcDigest)
			Expect(without(got, "audit_auditentry")).To(Equal(without(want, "audit_auditentry")), "seed %d", seed)
			switch audit {
			case "equal":
				Expect(got).To(Equal(want))
			case "empty":
				Expect(suitekit.Count(ctx, b, `SELECT count(*) FROM audit_auditentry`)).To(BeZero())
			case "detached":
				// Django keeps the source's object ids, which mean other rows (or none) here: the
				// silent mis-attachment edmsdr refuses.
				Expect(got["audit_auditentry"]).NotTo(Equal(want["audit_auditentry"]))
				Expect(suitekit.Count(ctx, b, `SELECT count(*) FROM audit_auditentry`)).To(
					Equal(suitekit.Count(ctx, src, `SELECT count(*) FROM audit_auditentry`)))
			}
		},
		Entry("--natural-foreign without contenttypes and auth.permission: everything back",
			flags([]string{"--natural-foreign"}, noContentTypes), "equal", SpecTimeout(3*time.Minute)),
		Entry("--natural-foreign --natural-primary without contenttypes, auth.permission and audit",
			flags(natural, noContentTypes, noAudit), "empty", SpecTimeout(3*time.Minute)),
		Entry("--natural-foreign --natural-primary with the audit trail: Django loads it, detached from its objects",
			flags(natural, noContentTypes), "detached", SpecTimeout(3*time.Minute)),
	)

	It("backs up with edmsdr and restores into a re-migrated database, digests equal", func(ctx SpecContext) {
		pkg := filepath.Join(GinkgoT().TempDir(), "a.edmsdr")
		s := edmsdr("backup", "--dsn", src, "--keys", keysFile, "--out", pkg)
		Expect(s.ExitCode()).To(Equal(0), string(s.Err.Contents()))
		b := migrated(ctx, "pkg", true)
		report := filepath.Join(GinkgoT().TempDir(), "report")
		s = edmsdr("restore", "--dsn", b, "--in", pkg, "--report", report)
		Expect(s.ExitCode()).To(Equal(0), string(s.Err.Contents()))
		Expect(restoreVerdict(report)).To(Equal("PASS"))
		Expect(digestOf(b)).To(Equal(srcDigest), "seed %d", seed)
	}, SpecTimeout(3*time.Minute))
})

var _ = Describe("edmsdr fixture loaded by Django's loaddata", Label(label.Django), func() {
	BeforeEach(func() {
		if djangoSkip != "" {
			Skip(djangoSkip)
		}
	})

	DescribeTable("backup → fixture → loaddata into a freshly migrated database gives the source's digest",
		func(ctx SpecContext, withDSN bool) {
			dir := GinkgoT().TempDir()
			pkg := filepath.Join(dir, "a.edmsdr")
			s := edmsdr("backup", "--dsn", src, "--keys", keysFile, "--out", pkg)
			Expect(s.ExitCode()).To(Equal(0), string(s.Err.Contents()))
			c := migrated(ctx, "c", true)
			fixture := filepath.Join(dir, "fixture.json")
			args := []string{"fixture", "--in", pkg, "--out", fixture}
			if withDSN {
				args = append(args, "--dsn", c)
			}
			s = edmsdr(args...)
			Expect(s.ExitCode()).To(Equal(0), "edmsdr fixture (seed %d): %s", seed, s.Err.Contents())
			var objs []map[string]any
			data, err := os.ReadFile(fixture)
			Expect(err).NotTo(HaveOccurred())
			Expect(json.Unmarshal(data, &objs)).To(Succeed(), "the fixture is a JSON list")
			Expect(objs).NotTo(BeEmpty())
			for _, o := range objs {
				Expect(o).To(HaveKey("model"))
				Expect(o).To(HaveKey("fields"))
			}
			l := manageSession(ctx, c, "loaddata", fixture)
			Expect(l.ExitCode()).To(Equal(0), "loaddata (seed %d): %s", seed, l.Err.Contents())
			Expect(digestOf(c)).To(Equal(srcDigest), "seed %d", seed)
		},
		Entry("without --dsn", false, SpecTimeout(3*time.Minute)),
		Entry("with --dsn naming the target", true, SpecTimeout(3*time.Minute)),
	)

	It("leaves out tables that are no model (django_migrations) from a backup made without the keys file, and says so", func(ctx SpecContext) {
		dir := GinkgoT().TempDir()
		pkg := filepath.Join(dir, "all.edmsdr")
		s := edmsdr("backup", "--dsn", src, "--out", pkg)
		Expect(s.ExitCode()).To(Equal(0), string(s.Err.Contents()))
		fixture := filepath.Join(dir, "fixture.json")
		s = edmsdr("fixture", "--in", pkg, "--out", fixture)
		Expect(s.ExitCode()).To(Equal(0), "edmsdr fixture of a package holding django_migrations (seed %d): %s", seed, s.Err.Contents())
		Expect(string(s.Out.Contents())).To(MatchRegexp(`skipped 1 tables that are no Django model.*: django_migrations \([1-9][0-9]* rows\)`))
		data, err := os.ReadFile(fixture)
		Expect(err).NotTo(HaveOccurred())
		Expect(string(data)).NotTo(ContainSubstring("migration"), "no object of django_migrations")
		c := migrated(ctx, "nomig", true)
		l := manageSession(ctx, c, "loaddata", fixture)
		Expect(l.ExitCode()).To(Equal(0), "loaddata (seed %d): %s", seed, l.Err.Contents())
		Expect(digestOf(c)).To(Equal(srcDigest), "seed %d", seed)
	}, SpecTimeout(3*time.Minute))
})
