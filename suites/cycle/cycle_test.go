package cycle_test

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/edmsdr/edmsdr/corrupt"
	"github.com/edmsdr/edmsdr/drill"
	"github.com/edmsdr/edmsdr/engine/finding"
	"github.com/edmsdr/edmsdr/engine/restore"
	"github.com/edmsdr/edmsdr/fixtures/edms"
	"github.com/edmsdr/edmsdr/reports"
	"github.com/edmsdr/edmsdr/suites/label"
	"github.com/edmsdr/edmsdr/suites/suitekit"
)

// runDrill runs a drill on the suite's server in a database of its own.
func runDrill(ctx context.Context, dataset string, seed int64) *reports.Drill {
	GinkgoHelper()
	return runDrillWith(ctx, drill.Config{Seed: seed}, dataset)
}

// runDrillWith runs the drill cfg describes (Source, Dataset, Database, Scale and Tool filled
// here) and expects it to pass.
func runDrillWith(ctx context.Context, cfg drill.Config, dataset string) *reports.Drill {
	GinkgoHelper()
	seed := cfg.Seed
	ds, err := drill.LookupDataset(dataset)
	Expect(err).NotTo(HaveOccurred())
	cfg.Source, cfg.Dataset, cfg.Scale, cfg.Tool = srv, ds, "tiny", "edmsdr suites"
	cfg.Database = suitekit.NewDatabase(ctx, srv, dataset)
	rep, err := drill.Run(ctx, cfg)
	Expect(err).NotTo(HaveOccurred())
	var text bytes.Buffer
	Expect(rep.WriteText(&text)).To(Succeed())
	AddReportEntry("drill", text.String())
	Expect(rep.Error).To(BeEmpty(), "%s\nseed %d; replay: %s", text.String(), seed, rep.Replay)
	Expect(rep.Verdict).To(Equal(finding.Pass), "%s\nseed %d; replay: %s", text.String(), seed, rep.Replay)
	// The reinstall's seeded tree and diverged row were checked, not skipped.
	cyc := rep.Scenario("cycle")
	Expect(cyc).NotTo(BeNil())
	checked := map[string]int{}
	for _, c := range cyc.Checks {
		Expect(c.Verdict).To(Equal(finding.Pass), "check %s %s: %s", c.Name, c.Table, c.Evidence)
		checked[c.Name]++
	}
	Expect(checked).To(HaveKey("seeded tree matched"))
	Expect(checked).To(HaveKey("diverged rows overwritten"))
	Expect(checked).To(HaveKey("restored digest"))
	return rep
}

func tableOf(rep *reports.Drill, name string) reports.Table {
	GinkgoHelper()
	for _, t := range rep.Tables {
		if t.Table == name {
			return t
		}
	}
	Fail("drill report has no table " + name)
	return reports.Table{}
}

var _ = Describe("EDMS backup, reinit and restore", Label(label.Cycle, label.EDMS), func() {
	for _, seed := range knobs.Seeds {
		It(fmt.Sprintf("brings every row back, reusing the seeded rows (seed %d)", seed), func(ctx SpecContext) {
			rep := runDrill(ctx, "edms", seed)
			Expect(rep.DigestAfter).To(Equal(rep.DigestBefore))
			var total int64
			for _, t := range rep.Tables {
				Expect(t.Inserted+t.Matched+t.Present).To(Equal(t.Backup), "counts of %s", t.Table)
				total += t.Backup
			}
			Expect(total).To(Equal(rep.Rows))
			// What a fresh install creates is matched, never inserted a second time.
			perms := tableOf(rep, "auth_permission")
			Expect(perms.Matched).To(BeEquivalentTo(len(edms.Permissions())))
			Expect(perms.Inserted).To(BeZero())
			cts := tableOf(rep, "django_content_type")
			Expect(cts.Matched).To(BeEquivalentTo(len(edms.ContentTypes())))
			Expect(cts.Inserted).To(BeZero())
			Expect(tableOf(rep, "documents_documenttype").Matched).To(BeEquivalentTo(len(edms.DocumentTypes())))
			Expect(tableOf(rep, "auth_user").Matched).To(BeEquivalentTo(len(edms.Users())))
			Expect(tableOf(rep, "documents_document").Inserted).To(BeNumerically(">", 0))
		}, SpecTimeout(3*time.Minute))
	}

	It("leaves the target usable: sequences past every id, new rows insert", func(ctx SpecContext) {
		src := suitekit.EDMSSource(ctx, srv, 11)
		path, _ := suitekit.Backup(ctx, src, nil)
		tgt := suitekit.EDMSTarget(ctx, srv)
		res, err := suitekit.Restore(ctx, tgt, path, restore.Options{})
		Expect(err).NotTo(HaveOccurred())
		Expect(res.Committed).To(BeTrue())
		for _, c := range res.Checks {
			if c.Name == "sequence" {
				Expect(c.Verdict).To(Equal(finding.Pass), c.Evidence)
			}
		}
		suitekit.Exec(ctx, tgt,
			`INSERT INTO auth_user (password, is_superuser, username, first_name, last_name, email, is_staff, is_active, date_joined)
			 VALUES ('x', false, 'after-restore', '', '', '', false, true, now())`,
			`INSERT INTO documents_document (document_number, title, document_type_id, owner_id, created_at, updated_at)
			 SELECT 'AFTER-1', 'after', min(t.id), (SELECT id FROM auth_user WHERE username = 'after-restore'), now(), now() FROM documents_documenttype t`,
			`INSERT INTO audit_auditentry (action, "timestamp") VALUES ('after', now())`)
		Expect(suitekit.Count(ctx, tgt, `SELECT count(*) FROM auth_user WHERE username = 'admin'`)).To(BeEquivalentTo(1))
	}, SpecTimeout(2*time.Minute))
})

// Sequences at the highest id are what a real install leaves: fresh ids of the restore start
// right after the seeded rows' ids, where one off by one meets an existing row.
var _ = Describe("A target whose sequences stand at max(id)", Label(label.Cycle), func() {
	for _, dataset := range []string{"edms", "ledger"} {
		It(fmt.Sprintf("restores %s with fresh ids right after the seeded ones", dataset), func(ctx SpecContext) {
			rep := runDrillWith(ctx, drill.Config{Seed: 31, SequencesAtMax: true}, dataset)
			Expect(rep.Replay).To(ContainSubstring("--sequences-at-max"))
			Expect(rep.DigestAfter).To(Equal(rep.DigestBefore))
			var inserted int64
			for _, t := range rep.Tables {
				Expect(t.Inserted+t.Matched+t.Present).To(Equal(t.Backup), "counts of %s", t.Table)
				if t.Matched > 0 {
					inserted += t.Inserted // new rows in a table that holds seeded rows
				}
			}
			Expect(inserted).To(BeNumerically(">", 0), "some fresh ids follow seeded ones")
		}, SpecTimeout(3*time.Minute))
	}
})

var _ = Describe("A schema unlike EDMS", Label(label.Cycle, label.Ledger), func() {
	for _, seed := range knobs.Seeds {
		It(fmt.Sprintf("restores the ledger: composite keys, cycles, trees, keyless tables (seed %d)", seed), func(ctx SpecContext) {
			rep := runDrill(ctx, "ledger", seed)
			Expect(rep.DigestAfter).To(Equal(rep.DigestBefore))
			Expect(tableOf(rep, "membership").Inserted).To(BeNumerically(">", 0))
			Expect(tableOf(rep, "event_log").Inserted).To(Equal(tableOf(rep, "event_log").Backup))
			Expect(tableOf(rep, "currency").Matched).To(Equal(tableOf(rep, "currency").Backup))
		}, SpecTimeout(2*time.Minute))
	}
})

var _ = Describe("Restore targets", Label(label.Cycle, label.EDMS), func() {
	It("restores into an empty schema (no seeded rows): everything is inserted", func(ctx SpecContext) {
		src := suitekit.EDMSSource(ctx, srv, 5)
		path, bres := suitekit.Backup(ctx, src, nil)
		db := suitekit.NewDatabase(ctx, srv, "empty")
		tgt := srv.DSN(db)
		conn := suitekit.Connect(ctx, tgt)
		Expect(edms.Apply(ctx, conn)).To(Succeed())
		res, err := suitekit.Restore(ctx, tgt, path, restore.Options{})
		Expect(err).NotTo(HaveOccurred())
		for _, t := range res.Tables {
			Expect(t.Matched).To(BeZero(), t.Table)
			Expect(t.Inserted).To(Equal(t.Staged), t.Table)
		}
		Expect(suitekit.Digest(ctx, tgt).Total).To(Equal(bres.Manifest.Digest.Total))
	}, SpecTimeout(2*time.Minute))

	It("restores the same package twice without duplicating a row: the second time is a no-op", func(ctx SpecContext) {
		src := suitekit.EDMSSource(ctx, srv, 6)
		path, bres := suitekit.Backup(ctx, src, nil)
		tgt := suitekit.EDMSTarget(ctx, srv)
		first, err := suitekit.Restore(ctx, tgt, path, restore.Options{})
		Expect(err).NotTo(HaveOccurred())
		Expect(first.Committed).To(BeTrue())
		after1 := suitekit.Digest(ctx, tgt)
		Expect(after1.Total).To(Equal(bres.Manifest.Digest.Total))
		rows1 := suitekit.Count(ctx, tgt, `SELECT (SELECT count(*) FROM workflows_transition) + (SELECT count(*) FROM audit_auditentry) + (SELECT count(*) FROM documents_document)`)

		second, err := suitekit.Restore(ctx, tgt, path, restore.Options{})
		Expect(err).NotTo(HaveOccurred())
		Expect(second.AlreadyRestored).To(BeTrue())
		Expect(second.Committed).To(BeFalse())
		Expect(second.Findings.Has(finding.AlreadyRestored)).To(BeTrue())
		for _, t := range second.Tables {
			Expect(t.Inserted).To(BeZero(), t.Table)
		}
		Expect(suitekit.Digest(ctx, tgt).Total).To(Equal(after1.Total))
		Expect(suitekit.Count(ctx, tgt, `SELECT (SELECT count(*) FROM workflows_transition) + (SELECT count(*) FROM audit_auditentry) + (SELECT count(*) FROM documents_document)`)).To(Equal(rows1))
	}, SpecTimeout(2*time.Minute))

	It("does nothing on --dry-run, yet validates everything", func(ctx SpecContext) {
		src := suitekit.EDMSSource(ctx, srv, 7)
		path, _ := suitekit.Backup(ctx, src, nil)
		tgt := suitekit.EDMSTarget(ctx, srv)
		before := suitekit.Digest(ctx, tgt)
		seqBefore := suitekit.Count(ctx, tgt, `SELECT last_value FROM documents_document_id_seq`)
		res, err := suitekit.Restore(ctx, tgt, path, restore.Options{DryRun: true})
		Expect(err).NotTo(HaveOccurred())
		Expect(res.Verdict).To(Equal(finding.Pass))
		Expect(res.Committed).To(BeFalse())
		Expect(res.RestoredDigest).To(Equal(res.PackageDigest))
		Expect(suitekit.Digest(ctx, tgt).Total).To(Equal(before.Total))
		Expect(suitekit.Count(ctx, tgt, `SELECT last_value FROM documents_document_id_seq`)).To(Equal(seqBefore))
	}, SpecTimeout(2*time.Minute))
})

var _ = Describe("Matched rows whose content differs", Label(label.Cycle, label.EDMS), func() {
	var src, tgt, path string
	BeforeEach(func(ctx SpecContext) {
		src = suitekit.EDMSSource(ctx, srv, 8)
		path, _ = suitekit.Backup(ctx, src, nil)
		tgt = suitekit.EDMSTarget(ctx, srv)
		suitekit.Exec(ctx, tgt, `UPDATE auth_user SET email = 'changed-after-reinit@example.org' WHERE username = 'admin'`)
	}, NodeTimeout(2*time.Minute))

	It("are kept and reported as diverged by default (reuse)", func(ctx SpecContext) {
		res, err := suitekit.Restore(ctx, tgt, path, restore.Options{})
		Expect(err).NotTo(HaveOccurred())
		Expect(res.Committed).To(BeTrue())
		Expect(suitekit.TableResult(res, "auth_user").Diverged).To(BeEquivalentTo(1))
		var div []finding.Finding
		for _, f := range res.Findings {
			if f.Kind == finding.Diverged {
				div = append(div, f)
			}
		}
		Expect(div).To(HaveLen(1))
		Expect(div[0].Table).To(Equal("auth_user"))
		Expect(naturalKey(path, "public.auth_user")).To(Equal([]string{"username"}))
		Expect(div[0].Keys).To(Equal([]string{keyLocator("username", "admin")}))
		Expect(suitekit.Count(ctx, tgt, `SELECT count(*) FROM auth_user WHERE email = 'changed-after-reinit@example.org'`)).To(BeEquivalentTo(1))
		Expect(res.RestoredDigest).NotTo(Equal(res.PackageDigest))
	}, SpecTimeout(2*time.Minute))

	It("refuse the restore with --on-existing fail, leaving the target unchanged", func(ctx SpecContext) {
		before := suitekit.Digest(ctx, tgt)
		res, err := suitekit.Restore(ctx, tgt, path, restore.Options{OnExisting: restore.Fail})
		Expect(err).To(HaveOccurred())
		Expect(finding.FindingsOf(err).Has(finding.Diverged)).To(BeTrue())
		Expect(res.Committed).To(BeFalse())
		Expect(suitekit.Digest(ctx, tgt).Total).To(Equal(before.Total))
	}, SpecTimeout(2*time.Minute))

	It("are overwritten with --on-existing update, and the data equals the source", func(ctx SpecContext) {
		res, err := suitekit.Restore(ctx, tgt, path, restore.Options{OnExisting: restore.Update})
		Expect(err).NotTo(HaveOccurred())
		Expect(suitekit.TableResult(res, "auth_user").Updated).To(BeEquivalentTo(1))
		Expect(suitekit.Digest(ctx, tgt).Total).To(Equal(suitekit.Digest(ctx, src).Total))
	}, SpecTimeout(2*time.Minute))
})

// rewrite damages a package semantically (checksums recomputed) and returns the new path.
func rewrite(path string, edit corrupt.EditFunc) string {
	GinkgoHelper()
	out := filepath.Join(GinkgoT().TempDir(), "damaged.edmsdr")
	Expect(corrupt.Rewrite(path, out, edit)).To(Succeed())
	_, err := suitekit.Verify(out)
	Expect(err).NotTo(HaveOccurred(), "a semantically damaged package still verifies: only restore can catch it")
	return out
}

// naturalKey is the natural key of table in the key plan of the package at path.
func naturalKey(path, table string) []string {
	GinkgoHelper()
	m, err := suitekit.Verify(path)
	Expect(err).NotTo(HaveOccurred())
	return m.Plan.NaturalKey(table)
}

// keyLocator is how a restore finding names a row by a natural key of one plain column: col='value'
// (the value as quote_literal writes it).
func keyLocator(col, value string) string { return col + "=" + literal(value) }

// literal is value as quote_literal writes a plain string.
func literal(value string) string { return "'" + strings.ReplaceAll(value, "'", "''") + "'" }

func findingsOfKind(err error, kind finding.Kind) []finding.Finding {
	var out []finding.Finding
	for _, f := range finding.FindingsOf(err) {
		if f.Kind == kind && f.Severity == finding.Error {
			out = append(out, f)
		}
	}
	return out
}

var _ = Describe("Packages that must be refused", Label(label.Cycle, label.EDMS), func() {
	var src, tgt, path string
	BeforeEach(func(ctx SpecContext) {
		src = suitekit.EDMSSource(ctx, srv, 9)
		path, _ = suitekit.Backup(ctx, src, nil)
		tgt = suitekit.EDMSTarget(ctx, srv)
	}, NodeTimeout(2*time.Minute))

	It("refuses a dangling reference, naming table, constraint and natural key, target untouched", func(ctx SpecContext) {
		// Drop one document type that documents use: every reference to it now dangles.
		var dropped string
		damaged := rewrite(path, func(table string, cols []string, rows [][]byte) ([][]byte, error) {
			if table != "public.documents_documenttype" {
				return rows, nil
			}
			dropped = string(corrupt.Field(rows[0], corrupt.Column(cols, "name")))
			return rows[1:], nil
		})
		before := suitekit.Digest(ctx, tgt)
		res, err := suitekit.Restore(ctx, tgt, damaged, restore.Options{})
		Expect(err).To(HaveOccurred())
		Expect(res.Committed).To(BeFalse())
		orphans := findingsOfKind(err, finding.Orphaned)
		Expect(orphans).NotTo(BeEmpty(), "%v", err)
		var onDocs *finding.Finding
		for i := range orphans {
			if orphans[i].Table == "documents_document" {
				onDocs = &orphans[i]
			}
		}
		Expect(onDocs).NotTo(BeNil(), "%v", err)
		Expect(onDocs.Column).To(Equal("document_type_id"))
		Expect(onDocs.Constraint).NotTo(BeEmpty())
		Expect(onDocs.Count).To(BeNumerically(">", 0))
		// The sample names documents of the dropped type, by their natural key, and nothing else.
		Expect(naturalKey(path, "public.documents_document")).To(Equal([]string{"document_number"}))
		var ofDropped []string
		rows, qerr := suitekit.Connect(ctx, src).Query(ctx, `SELECT d.document_number FROM documents_document d
			JOIN documents_documenttype t ON t.id = d.document_type_id WHERE t.name = $1`, dropped)
		Expect(qerr).NotTo(HaveOccurred())
		for rows.Next() {
			var n string
			Expect(rows.Scan(&n)).To(Succeed())
			ofDropped = append(ofDropped, keyLocator("document_number", n))
		}
		Expect(rows.Err()).NotTo(HaveOccurred())
		Expect(onDocs.Count).To(BeEquivalentTo(len(ofDropped)))
		Expect(onDocs.Keys).To(HaveLen(min(len(ofDropped), 5)))
		Expect(ofDropped).To(ContainElements(onDocs.Keys))
		Expect(dropped).NotTo(BeEmpty())
		Expect(suitekit.Digest(ctx, tgt).Total).To(Equal(before.Total))
	}, SpecTimeout(2*time.Minute))

	It("refuses a natural-key collision inside the package, target untouched", func(ctx SpecContext) {
		var key string
		damaged := rewrite(path, func(table string, cols []string, rows [][]byte) ([][]byte, error) {
			if table != "public.documents_document" {
				return rows, nil
			}
			dup := corrupt.SetField(rows[0], corrupt.Column(cols, "id"), []byte("987654"))
			dup = corrupt.SetField(dup, corrupt.Column(cols, "current_version_id"), []byte(`\N`))
			key = string(corrupt.Field(rows[0], corrupt.Column(cols, "document_number")))
			return append(rows, dup), nil
		})
		before := suitekit.Digest(ctx, tgt)
		_, err := suitekit.Restore(ctx, tgt, damaged, restore.Options{})
		Expect(err).To(HaveOccurred())
		dups := findingsOfKind(err, finding.Duplicated)
		Expect(dups).To(HaveLen(1), "%v", err)
		Expect(dups[0].Table).To(Equal("documents_document"))
		Expect(dups[0].Count).To(BeEquivalentTo(2))
		Expect(naturalKey(path, "public.documents_document")).To(Equal([]string{"document_number"}))
		Expect(dups[0].Keys).To(HaveLen(2))
		Expect(dups[0].Keys).To(HaveEach(Equal(keyLocator("document_number", key))))
		Expect(suitekit.Digest(ctx, tgt).Total).To(Equal(before.Total))
	}, SpecTimeout(2*time.Minute))

	It("refuses a duplicate natural key that holds a NULL (two root folders of one name)", func(ctx SpecContext) {
		damaged := rewrite(path, func(table string, cols []string, rows [][]byte) ([][]byte, error) {
			if table != "public.documents_folder" {
				return rows, nil
			}
			for _, row := range rows {
				if string(corrupt.Field(row, corrupt.Column(cols, "parent_id"))) == `\N` {
					return append(rows, corrupt.SetField(row, corrupt.Column(cols, "id"), []byte("987654"))), nil
				}
			}
			return nil, fmt.Errorf("no root folder")
		})
		before := suitekit.Digest(ctx, tgt)
		_, err := suitekit.Restore(ctx, tgt, damaged, restore.Options{})
		Expect(err).To(HaveOccurred())
		dups := findingsOfKind(err, finding.Duplicated)
		Expect(dups).To(HaveLen(1), "%v", err)
		Expect(dups[0].Table).To(Equal("documents_folder"))
		Expect(dups[0].Count).To(BeEquivalentTo(2))
		Expect(suitekit.Digest(ctx, tgt).Total).To(Equal(before.Total))
	}, SpecTimeout(2*time.Minute))

	It("refuses rows that the digest proves changed, even with every checksum right", func(ctx SpecContext) {
		damaged := rewrite(path, func(table string, cols []string, rows [][]byte) ([][]byte, error) {
			if table != "public.documents_tag" {
				return rows, nil
			}
			return append([][]byte{corrupt.SetField(rows[0], corrupt.Column(cols, "color"), []byte("#123456"))}, rows[1:]...), nil
		})
		before := suitekit.Digest(ctx, tgt)
		_, err := suitekit.Restore(ctx, tgt, damaged, restore.Options{})
		Expect(err).To(HaveOccurred())
		mism := findingsOfKind(err, finding.DigestMismatch)
		Expect(mism).To(HaveLen(1), "%v", err)
		Expect(mism[0].Table).To(Equal("documents_tag"))
		Expect(suitekit.Digest(ctx, tgt).Total).To(Equal(before.Total))
	}, SpecTimeout(2*time.Minute))

	It("refuses a row that collides with an existing row on another unique constraint", func(ctx SpecContext) {
		// The target's tags get a second unique column; a tag that only the target has takes the
		// colour that a restored tag (another natural key) needs.
		suitekit.Exec(ctx, tgt, `ALTER TABLE documents_tag ADD CONSTRAINT documents_tag_color_uniq UNIQUE (color)`)
		damaged := rewrite(path, func(table string, cols []string, rows [][]byte) ([][]byte, error) {
			if table != "public.documents_tag" {
				return rows, nil
			}
			// Give every tag a distinct colour, so the package itself satisfies the new constraint.
			for i := range rows {
				rows[i] = corrupt.SetField(rows[i], corrupt.Column(cols, "color"), []byte(fmt.Sprintf("#%06x", i)))
			}
			return rows, nil
		})
		suitekit.Exec(ctx, tgt, `INSERT INTO documents_tag (name, color) VALUES ('already here', '#000000')`)
		before := suitekit.Digest(ctx, tgt)
		_, err := suitekit.Restore(ctx, tgt, damaged, restore.Options{})
		Expect(err).To(HaveOccurred())
		conflicts := findingsOfKind(err, finding.Conflict)
		Expect(conflicts).To(HaveLen(1), "%v", err)
		Expect(conflicts[0].Table).To(Equal("documents_tag"))
		Expect(conflicts[0].Constraint).To(Equal("documents_tag_color_uniq"))
		Expect(suitekit.Digest(ctx, tgt).Total).To(Equal(before.Total))
	}, SpecTimeout(2*time.Minute))
})
