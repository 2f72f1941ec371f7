package rollback_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/edmsdr/edmsdr/engine/finding"
	"github.com/edmsdr/edmsdr/engine/restore"
	"github.com/edmsdr/edmsdr/fixtures/edms"
	"github.com/edmsdr/edmsdr/fixtures/localpg"
	"github.com/edmsdr/edmsdr/suites/label"
	"github.com/edmsdr/edmsdr/suites/suitekit"
)

// rollback puts the safety backup at path back into url.
func rollback(ctx context.Context, url, path string, opts restore.RollbackOptions) (*restore.Result, error) {
	GinkgoHelper()
	f, err := os.Open(path)
	Expect(err).NotTo(HaveOccurred())
	defer f.Close()
	conn := suitekit.Connect(ctx, url)
	defer conn.Close(context.WithoutCancel(ctx))
	return restore.Rollback(ctx, conn, f, opts)
}

// restoreWithSafety restores pkg into tgt with a safety backup and returns both.
func restoreWithSafety(ctx context.Context, tgt, pkg string, mode restore.Mode) (*restore.Result, string) {
	GinkgoHelper()
	safety := filepath.Join(GinkgoT().TempDir(), "safety.edmsdr")
	res, err := suitekit.Restore(ctx, tgt, pkg, restore.Options{Mode: mode, Safety: safetyTo(safety)})
	Expect(err).NotTo(HaveOccurred())
	Expect(res.Committed).To(BeTrue())
	Expect(res.Safety.Kept).To(BeTrue())
	return res, safety
}

// expectRolledBack checks a successful rollback's evidence.
func expectRolledBack(res *restore.Result, err error) {
	GinkgoHelper()
	Expect(err).NotTo(HaveOccurred())
	Expect(res.Committed).To(BeTrue())
	Expect(res.Verdict).To(Equal(finding.Pass))
	Expect(res.Rollback).NotTo(BeNil())
	Expect(res.Rollback.IDs).To(BeNumerically(">", 0))
	Expect(res.RestoredDigest).To(Equal(res.Rollback.Before))
	ids := 0
	for _, c := range res.Checks {
		if c.Name == "ids" {
			ids++
			Expect(c.Verdict).To(Equal(finding.Pass), c.Evidence)
		}
	}
	Expect(ids).To(Equal(len(res.Tables)))
}

var _ = Describe("Rollback", Label(label.Rollback), func() {
	It("brings the EDMS target back exactly: digest, every row under its id, sequences", Label(label.EDMS), func(ctx SpecContext) {
		src := suitekit.EDMSSource(ctx, srv, 31)
		pkg, _ := suitekit.Backup(ctx, src, nil)
		tgt := suitekit.EDMSTarget(ctx, srv)
		before, digest := exactState(ctx, tgt), suitekit.Digest(ctx, tgt).Total
		_, safety := restoreWithSafety(ctx, tgt, pkg, restore.Merge)
		Expect(exactState(ctx, tgt)).NotTo(Equal(before))
		res, err := rollback(ctx, tgt, safety, restore.RollbackOptions{})
		expectRolledBack(res, err)
		Expect(res.Rollback.Before).To(Equal(digest))
		Expect(suitekit.Digest(ctx, tgt).Total).To(Equal(digest))
		Expect(exactState(ctx, tgt)).To(Equal(before), "same rows, same ids, sequences where they were")
		// Twice: nothing left to do.
		again, err := rollback(ctx, tgt, safety, restore.RollbackOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(again.Committed).To(BeFalse())
		Expect(again.AlreadyRestored).To(BeTrue())
		Expect(exactState(ctx, tgt)).To(Equal(before))
	}, SpecTimeout(3*time.Minute))

	It("brings the ledger target back exactly after a replace-mode restore", Label(label.Ledger), func(ctx SpecContext) {
		src := ledgerDB(ctx, 4, true)
		pkg, _ := suitekit.Backup(ctx, src, nil)
		tgt := ledgerDB(ctx, 5, true)
		before := exactState(ctx, tgt)
		_, safety := restoreWithSafety(ctx, tgt, pkg, restore.Replace)
		Expect(exactState(ctx, tgt).Rows).To(Equal(exactState(ctx, src).Rows))
		res, err := rollback(ctx, tgt, safety, restore.RollbackOptions{})
		expectRolledBack(res, err)
		Expect(exactState(ctx, tgt)).To(Equal(before))
	}, SpecTimeout(3*time.Minute))

	It("refuses, naming the rows, when the target changed after the restore; --force rolls back anyway", Label(label.EDMS), func(ctx SpecContext) {
		src := suitekit.EDMSSource(ctx, srv, 32)
		pkg, _ := suitekit.Backup(ctx, src, nil)
		tgt := suitekit.EDMSTarget(ctx, srv)
		before := exactState(ctx, tgt)
		_, safety := restoreWithSafety(ctx, tgt, pkg, restore.Merge)
		suitekit.Exec(ctx, tgt, `INSERT INTO audit_auditentry (action, "timestamp") VALUES ('written after the restore', now())`,
			`UPDATE auth_user SET last_name = 'changed after the restore' WHERE username = 'admin'`)
		newID := suitekit.Count(ctx, tgt, `SELECT max(id) FROM audit_auditentry`)
		adminID := suitekit.Count(ctx, tgt, `SELECT id FROM auth_user WHERE username = 'admin'`)
		changed := exactState(ctx, tgt)
		res, err := rollback(ctx, tgt, safety, restore.RollbackOptions{})
		Expect(err).To(HaveOccurred())
		var refused *finding.Refused
		Expect(errors.As(err, &refused)).To(BeTrue())
		Expect(refused.Op).To(Equal("rollback"))
		byTable := map[string]finding.Finding{}
		for _, f := range finding.FindingsOf(err).Errors() {
			Expect(f.Kind).To(Equal(finding.ChangedSince))
			byTable[f.Table] = f
		}
		Expect(byTable).To(HaveLen(2))
		Expect(byTable["audit_auditentry"].Count).To(BeEquivalentTo(1))
		Expect(byTable["audit_auditentry"].Keys).To(ConsistOf("id=" + itoa(newID)))
		Expect(byTable["audit_auditentry"].Message).To(ContainSubstring("0 under ids that existed before it"))
		Expect(byTable["auth_user"].Keys).To(ConsistOf("id=" + itoa(adminID)))
		Expect(byTable["auth_user"].Message).To(ContainSubstring("1 under ids that existed before it: updated since"))
		Expect(res.Committed).To(BeFalse())
		Expect(res.Rollback.Changed).To(ConsistOf("audit_auditentry", "auth_user"))
		Expect(exactState(ctx, tgt)).To(Equal(changed), "a refused rollback changes nothing")

		res, err = rollback(ctx, tgt, safety, restore.RollbackOptions{Force: true})
		expectRolledBack(res, err)
		Expect(res.Rollback.Forced).To(BeTrue())
		Expect(res.Findings.Has(finding.ChangedSince)).To(BeTrue())
		Expect(exactState(ctx, tgt)).To(Equal(before))
	}, SpecTimeout(3*time.Minute))

	It("refuses a package that is not a safety backup, and a restore report of another restore", Label(label.EDMS), func(ctx SpecContext) {
		src := suitekit.EDMSSource(ctx, srv, 33)
		pkg, _ := suitekit.Backup(ctx, src, nil)
		tgt := suitekit.EDMSTarget(ctx, srv)
		_, err := rollback(ctx, tgt, pkg, restore.RollbackOptions{})
		Expect(err).To(HaveOccurred())
		Expect(finding.FindingsOf(err).Errors()[0].Message).To(ContainSubstring("not a safety backup"))

		first, safety := restoreWithSafety(ctx, tgt, pkg, restore.Merge)
		changed := exactState(ctx, tgt)
		other := *first
		other.Safety = &restore.SafetyResult{Kept: true, After: "0000", Digest: first.Safety.Digest}
		_, err = rollback(ctx, tgt, safety, restore.RollbackOptions{Restore: &other})
		Expect(err).To(HaveOccurred())
		Expect(finding.FindingsOf(err).Errors()[0].Message).To(ContainSubstring("another restore"))
		Expect(exactState(ctx, tgt)).To(Equal(changed))
		res, err := rollback(ctx, tgt, safety, restore.RollbackOptions{Restore: first})
		expectRolledBack(res, err)
	}, SpecTimeout(3*time.Minute))

	It("leaves the target restored or rolled back, never in between, when the server is killed mid-rollback", Label(label.EDMS, label.Chaos), func(ctx SpecContext) {
		if _, err := localpg.FindBinDir(ctx); err != nil {
			Fail("no local PostgreSQL binaries to start a killable cluster: " + err.Error())
		}
		c, err := localpg.Start(ctx, localpg.Options{Log: GinkgoWriter, Settings: map[string]string{"synchronous_commit": "on"}})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func(ctx SpecContext) error { return c.Close(ctx) }, NodeTimeout(time.Minute))
		src := suitekit.EDMSSource(ctx, srv, 34)
		pkg, _ := suitekit.Backup(ctx, src, nil)
		Expect(c.CreateDatabase(ctx, "target")).To(Succeed())
		tgt := c.DSN("target")
		Expect(edms.Install(ctx, tgt, edms.SeedOptions{Reinit: true})).To(Succeed())
		before := exactState(ctx, tgt)
		_, safety := restoreWithSafety(ctx, tgt, pkg, restore.Merge)
		restored := exactState(ctx, tgt)
		for _, at := range []string{restore.HookInsertedTable, restore.HookValidated, restore.HookCommitted} {
			By("killing the server at " + at)
			killed := false
			_, err := rollback(ctx, tgt, safety, restore.RollbackOptions{Hook: func(ctx context.Context, step string) error {
				if step == at && !killed {
					killed = true
					return c.Kill(ctx)
				}
				return nil
			}})
			Expect(killed).To(BeTrue())
			Expect(c.Start(ctx)).To(Succeed())
			now := exactState(ctx, c.DSN("target"))
			if at == restore.HookCommitted {
				Expect(err).NotTo(HaveOccurred())
				Expect(now).To(Equal(before), "committed before the kill: rolled back")
			} else {
				Expect(err).To(HaveOccurred())
				Expect(now).To(Equal(restored), "killed before COMMIT: still restored")
			}
		}
	}, SpecTimeout(4*time.Minute))
})

func itoa(n int64) string { return fmt.Sprint(n) }
