package cycle_test

import (
	"bytes"
	"context"
	"strconv"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/edmsdr/edmsdr/engine/backup"
	"github.com/edmsdr/edmsdr/engine/finding"
	"github.com/edmsdr/edmsdr/engine/restore"
	"github.com/edmsdr/edmsdr/fixtures/edms"
	"github.com/edmsdr/edmsdr/fixtures/ledger"
	"github.com/edmsdr/edmsdr/generators/edmsgen"
	"github.com/edmsdr/edmsdr/suites/label"
	"github.com/edmsdr/edmsdr/suites/suitekit"
)

// folderPaths maps each folder's path (names from the root joined by "/") to its id.
const folderPaths = `WITH RECURSIVE p AS (
	SELECT id, name::text AS path FROM documents_folder WHERE parent_id IS NULL
	UNION ALL SELECT f.id, p.path || '/' || f.name FROM documents_folder f JOIN p ON f.parent_id = p.id)
	SELECT path, id FROM p`

// pathsOf returns folderPaths on url.
func pathsOf(ctx context.Context, url string) map[string]int64 {
	GinkgoHelper()
	conn := suitekit.Connect(ctx, url)
	rows, err := conn.Query(ctx, folderPaths)
	Expect(err).NotTo(HaveOccurred())
	out := map[string]int64{}
	for rows.Next() {
		var path string
		var id int64
		Expect(rows.Scan(&path, &id)).To(Succeed())
		out[path] = id
	}
	Expect(rows.Err()).NotTo(HaveOccurred())
	return out
}

// seededEDMS returns an original EDMS install with the default folder tree, filled from seed,
// and a re-initialised one seeded as opts says (Reinit and Folders set here).
func seededEDMS(ctx context.Context, seed int64, opts edms.SeedOptions) (src, tgt string) {
	GinkgoHelper()
	src = srv.DSN(suitekit.NewDatabase(ctx, srv, "src"))
	Expect(edms.Install(ctx, src, edms.SeedOptions{Folders: true})).To(Succeed())
	p, err := edmsgen.ProfileByName("tiny")
	Expect(err).NotTo(HaveOccurred())
	conn := suitekit.Connect(ctx, src)
	_, err = edmsgen.Generate(ctx, conn, seed, p)
	Expect(err).NotTo(HaveOccurred())
	tgt = srv.DSN(suitekit.NewDatabase(ctx, srv, "tgt"))
	opts.Reinit, opts.Folders = true, true
	Expect(edms.Install(ctx, tgt, opts)).To(Succeed())
	return src, tgt
}

// divergedFinding returns the one Diverged finding of res on table.
func divergedFinding(res *restore.Result, table string) finding.Finding {
	GinkgoHelper()
	var out []finding.Finding
	for _, f := range res.Findings {
		if f.Kind == finding.Diverged {
			out = append(out, f)
		}
	}
	Expect(out).To(HaveLen(1), "%v", res.Findings)
	Expect(out[0].Table).To(Equal(table))
	Expect(out[0].Count).To(BeEquivalentTo(1))
	return out[0]
}

var _ = Describe("A seeded folder tree", Label(label.Cycle, label.EDMS), func() {
	It("is matched node by node through the parent: every seeded path maps to the target's folder of that path", func(ctx SpecContext) {
		src, tgt := seededEDMS(ctx, 41, edms.SeedOptions{})
		path, bres := suitekit.Backup(ctx, src, nil)
		srcPaths, tgtPaths := pathsOf(ctx, src), pathsOf(ctx, tgt)
		var idmap bytes.Buffer
		res, err := suitekit.Restore(ctx, tgt, path, restore.Options{IDMap: &idmap})
		Expect(err).NotTo(HaveOccurred())
		Expect(suitekit.TableResult(res, "documents_folder").Matched).To(BeEquivalentTo(len(edms.Folders())))

		mapped := map[int64]string{} // source id -> "target id status"
		for _, line := range strings.Split(idmap.String(), "\n") {
			f := strings.Split(line, "\t")
			if len(f) == 4 && f[0] == "documents_folder" {
				s, err := strconv.ParseInt(f[1], 10, 64)
				Expect(err).NotTo(HaveOccurred(), line)
				mapped[s] = f[2] + " " + f[3]
			}
		}
		archives := 0
		for _, fo := range edms.Folders() {
			p := fo.Path()
			Expect(srcPaths).To(HaveKey(p))
			Expect(tgtPaths).To(HaveKey(p))
			Expect(tgtPaths[p]).NotTo(Equal(srcPaths[p]), "the reinstall seeds %s under another id", p)
			Expect(mapped[srcPaths[p]]).To(Equal(strconv.FormatInt(tgtPaths[p], 10)+" matched"), "folder %s", p)
			if fo.Name == "Archive" {
				archives++
			}
		}
		Expect(archives).To(BeNumerically(">=", 3), "one name under several parents: only the parent tells them apart")
		Expect(suitekit.Digest(ctx, tgt).Total).To(Equal(bres.Manifest.Digest.Total))
	}, SpecTimeout(2*time.Minute))
})

var _ = Describe("A seeded row that differs from the backup", Label(label.Cycle, label.EDMS), func() {
	var src, tgt, path string
	var pkgDigest string
	BeforeEach(func(ctx SpecContext) {
		src, tgt = seededEDMS(ctx, 42, edms.SeedOptions{Diverged: true})
		var bres *backup.Result
		path, bres = suitekit.Backup(ctx, src, nil)
		pkgDigest = bres.Manifest.Digest.Total
	}, NodeTimeout(2*time.Minute))

	creator := func(ctx context.Context) string {
		GinkgoHelper()
		conn := suitekit.Connect(ctx, tgt)
		var u string
		Expect(conn.QueryRow(ctx, `SELECT u.username FROM (`+folderPaths+`) p JOIN documents_folder f USING (id)
			JOIN auth_user u ON u.id = f.created_by_id WHERE p.path = $1`, edms.DivergedFolder).Scan(&u)).To(Succeed())
		return u
	}

	It("is overwritten under --on-existing update, found through its parents, with its reference rewritten; again, nothing to do", func(ctx SpecContext) {
		Expect(creator(ctx)).To(Equal(edms.SystemUsername))
		res, err := suitekit.Restore(ctx, tgt, path, restore.Options{OnExisting: restore.Update})
		Expect(err).NotTo(HaveOccurred())
		Expect(res.Committed).To(BeTrue())
		f := divergedFinding(res, "documents_folder")
		Expect(f.Severity).To(Equal(finding.Info))
		Expect(suitekit.TableResult(res, "documents_folder").Updated).To(BeEquivalentTo(1))
		for _, t := range res.Tables {
			if t.Table != "documents_folder" {
				Expect(t.Updated).To(BeZero(), t.Table)
			}
		}
		Expect(creator(ctx)).To(Equal(edms.AdminUsername))
		Expect(res.RestoredDigest).To(Equal(pkgDigest))
		Expect(suitekit.Digest(ctx, tgt).Total).To(Equal(suitekit.Digest(ctx, src).Total))

		again, err := suitekit.Restore(ctx, tgt, path, restore.Options{OnExisting: restore.Update})
		Expect(err).NotTo(HaveOccurred())
		Expect(again.AlreadyRestored).To(BeTrue())
		Expect(again.Findings.Has(finding.Diverged)).To(BeFalse())
		for _, t := range again.Tables {
			Expect(t.Updated+t.Inserted).To(BeZero(), t.Table)
		}
	}, SpecTimeout(2*time.Minute))

	It("is kept under reuse, and the restored digest is the target's as computed, not the package's", func(ctx SpecContext) {
		dry, err := suitekit.Restore(ctx, tgt, path, restore.Options{DryRun: true})
		Expect(err).NotTo(HaveOccurred())
		Expect(dry.Committed).To(BeFalse())
		res, err := suitekit.Restore(ctx, tgt, path, restore.Options{})
		Expect(err).NotTo(HaveOccurred())
		Expect(res.Committed).To(BeTrue())
		Expect(divergedFinding(res, "documents_folder").Severity).To(Equal(finding.Warning))
		Expect(creator(ctx)).To(Equal(edms.SystemUsername))

		after := suitekit.Digest(ctx, tgt)
		Expect(res.PackageDigest).To(Equal(pkgDigest))
		Expect(res.RestoredDigest).NotTo(Equal(res.PackageDigest))
		Expect(res.RestoredDigest).To(Equal(after.Total), "the digest a restore reports is the target's")
		Expect(dry.RestoredDigest).To(Equal(after.Total), "a dry run computes the digest the restore would leave")
		Expect(changedTables(suitekit.Digest(ctx, src), after)).To(ConsistOf("public.documents_folder"))
	}, SpecTimeout(2*time.Minute))
})

var _ = Describe("A seeded child row of a tree that differs from the backup (ledger)", Label(label.Cycle, label.Ledger), func() {
	It("is found through its parent, reported by a dry run, and overwritten under --on-existing update", func(ctx SpecContext) {
		src, _ := installed(ctx, "ledger", 43)
		path, bres := suitekit.Backup(ctx, src, nil)
		tgt := srv.DSN(suitekit.NewDatabase(ctx, srv, "ledger_div"))
		Expect(ledger.Install(ctx, tgt, ledger.SeedOptions{Reinit: true, Diverged: true})).To(Succeed())
		name := `SELECT a.name FROM account a JOIN account p ON p.id = a.parent_id WHERE p.parent_id IS NULL AND p.code || '/' || a.code = $1`
		var got string
		Expect(suitekit.Connect(ctx, tgt).QueryRow(ctx, name, ledger.DivergedAccount).Scan(&got)).To(Succeed())
		Expect(got).To(Equal(ledger.DivergedAccountName))

		dry, err := suitekit.Restore(ctx, tgt, path, restore.Options{DryRun: true})
		Expect(err).NotTo(HaveOccurred())
		div := divergedFinding(dry, "account")
		// The account's key runs through its parent (parent_id, code): the parent is named by its
		// own key, and a root's parent is missing.
		parent, code, _ := strings.Cut(ledger.DivergedAccount, "/")
		Expect(naturalKey(path, "public.account")).To(Equal([]string{"parent_id", "code"}))
		Expect(div.Keys).To(Equal([]string{"parent_id=(parent_id=missing NULL, code=" + literal(parent) + "), " + keyLocator("code", code)}))

		res, err := suitekit.Restore(ctx, tgt, path, restore.Options{OnExisting: restore.Update})
		Expect(err).NotTo(HaveOccurred())
		Expect(suitekit.TableResult(res, "account").Updated).To(BeEquivalentTo(1))
		Expect(suitekit.TableResult(res, "account").Matched).To(BeEquivalentTo(len(ledger.Accounts())))
		Expect(suitekit.Connect(ctx, tgt).QueryRow(ctx, name, ledger.DivergedAccount).Scan(&got)).To(Succeed())
		Expect(got).NotTo(Equal(ledger.DivergedAccountName))
		Expect(res.RestoredDigest).To(Equal(bres.Manifest.Digest.Total))
		Expect(suitekit.Digest(ctx, tgt).Total).To(Equal(bres.Manifest.Digest.Total))
	}, SpecTimeout(2*time.Minute))
})
