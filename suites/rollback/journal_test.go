package rollback_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"

	"github.com/edmsdr/edmsdr/engine/journal"
	"github.com/edmsdr/edmsdr/suites/label"
	"github.com/edmsdr/edmsdr/suites/suitekit"
)

// edmsdr runs the CLI and waits for it.
func edmsdr(args ...string) *gexec.Session {
	GinkgoHelper()
	cmd := exec.Command(bin, args...)
	cmd.Env = suitekit.CleanEnv()
	return suitekit.Run(cmd, 2*time.Minute)
}

var _ = Describe("The journal, through the CLI", Label(label.Rollback, label.CLI, label.EDMS), func() {
	It("records success, refusal and failure of restores and rollbacks, without secrets or row content; id maps trace source ids", func(ctx SpecContext) {
		src := suitekit.EDMSSource(ctx, srv, 41)
		pkg, _ := suitekit.Backup(ctx, src, nil)
		tgt := suitekit.EDMSTarget(ctx, srv)
		before := exactState(ctx, tgt)
		dir := GinkgoT().TempDir()
		jfile := filepath.Join(dir, "journal", "journal.jsonl")
		safetyDir := filepath.Join(dir, "safety") + "/"
		report := filepath.Join(dir, "report")

		By("a committed restore with a safety backup")
		s := edmsdr("restore", "--dsn", tgt, "--in", pkg, "--safety-backup", safetyDir, "--report", report, "--journal", jfile, "--journal-table")
		Expect(s.ExitCode()).To(Equal(0), string(s.Err.Contents()))
		Expect(string(s.Out.Contents())).To(ContainSubstring("safety backup"))
		safeties, err := filepath.Glob(filepath.Join(dir, "safety", "safety-*.edmsdr"))
		Expect(err).NotTo(HaveOccurred())
		Expect(safeties).To(HaveLen(1))

		By("a refused restore: replace mode with a table outside the package referencing one it would empty")
		suitekit.Exec(ctx, tgt, `CREATE TABLE local_note (id serial PRIMARY KEY, user_id integer REFERENCES auth_user (id))`)
		s = edmsdr("restore", "--dsn", tgt, "--in", pkg, "--mode", "replace", "--journal", jfile, "--journal-table")
		Expect(s.ExitCode()).To(Equal(1))
		suitekit.Exec(ctx, tgt, `DROP TABLE local_note`)

		By("a failed restore: a package that does not exist")
		s = edmsdr("restore", "--dsn", tgt, "--in", filepath.Join(dir, "missing.edmsdr"), "--journal", jfile)
		Expect(s.ExitCode()).To(Equal(1))

		By("a refused rollback after a write, then a forced one")
		suitekit.Exec(ctx, tgt, `INSERT INTO audit_auditentry (action, "timestamp") VALUES ('after', now())`)
		s = edmsdr("rollback", "--dsn", tgt, "--in", safeties[0], "--restore-report", report, "--journal", jfile)
		Expect(s.ExitCode()).To(Equal(1))
		Expect(string(s.Err.Contents())).To(ContainSubstring("audit_auditentry"))
		s = edmsdr("rollback", "--dsn", tgt, "--in", safeties[0], "--restore-report", report, "--force", "--journal", jfile, "--journal-table")
		Expect(s.ExitCode()).To(Equal(0), string(s.Err.Contents()))
		// The journal's tables are the only difference from the state before the restore.
		now := exactState(ctx, tgt)
		Expect(now.Rows).To(HaveKey("edmsdr_journal"))
		delete(now.Rows, "edmsdr_journal")
		delete(now.Rows, "edmsdr_journal_idmap")
		Expect(now).To(Equal(before))

		By("the file journal")
		entries, err := journal.ReadFile(jfile)
		Expect(err).NotTo(HaveOccurred())
		Expect(entries).To(HaveLen(5))
		outcomes := make([]string, len(entries))
		for i, e := range entries {
			outcomes[i] = e.Operation + ":" + e.Outcome
			Expect(e.OSUser).NotTo(BeEmpty())
			Expect(e.Host).NotTo(BeEmpty())
			Expect(e.DBRole).NotTo(BeEmpty())
			Expect(e.ID).NotTo(BeEmpty())
		}
		Expect(outcomes).To(Equal([]string{"restore:committed", "restore:refused", "restore:failed", "rollback:refused", "rollback:committed"}))
		ok := entries[0]
		Expect(ok.PackageDigest).NotTo(BeEmpty())
		Expect(ok.SafetyBackup).To(Equal(safeties[0]))
		Expect(ok.IDMap).To(Equal(filepath.Join(report, "idmap.tsv")))
		Expect(ok.IDMapSHA256).To(HaveLen(64))
		Expect(ok.Tables).NotTo(BeEmpty())
		Expect(entries[1].Findings).To(HaveKeyWithValue("schema-mismatch", 1))
		Expect(entries[2].Error).NotTo(BeEmpty())
		Expect(entries[3].Findings).To(HaveKeyWithValue("changed-since", 1))

		By("no secret and no row content in the journal")
		raw, err := os.ReadFile(jfile)
		Expect(err).NotTo(HaveOccurred())
		Expect(string(raw)).NotTo(ContainSubstring("password="))
		Expect(string(raw)).NotTo(ContainSubstring("admin@"))

		By("the journal table and edmsdr journal")
		s = edmsdr("journal", "--dsn", tgt)
		Expect(s.ExitCode()).To(Equal(0), string(s.Err.Contents()))
		lines := strings.Split(strings.TrimSpace(string(s.Out.Contents())), "\n")
		Expect(lines).To(HaveLen(4)) // header, the committed restore, the refused restore, the forced rollback
		Expect(lines[1]).To(ContainSubstring("committed"))
		Expect(lines[2]).To(ContainSubstring("refused"))
		Expect(lines[3]).To(ContainSubstring("rollback"))

		By("tracing a source id to the id it was restored under")
		srcID := suitekit.Count(ctx, src, `SELECT max(id) FROM documents_document`)
		for _, from := range [][]string{{"--journal", jfile}, {"--dsn", tgt}} {
			s = edmsdr(append([]string{"idmap", "lookup", "--table", "documents_document", "--source-id", itoa(srcID)}, from...)...)
			Expect(s.ExitCode()).To(Equal(0), string(s.Err.Contents()))
			Expect(string(s.Out.Contents())).To(MatchRegexp(`documents_document %d -> \d+ \(inserted\)`, srcID))
		}
	}, SpecTimeout(4*time.Minute))
})
