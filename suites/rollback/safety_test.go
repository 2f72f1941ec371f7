package rollback_test

import (
	"errors"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/edmsdr/edmsdr/engine/finding"
	"github.com/edmsdr/edmsdr/engine/pack"
	"github.com/edmsdr/edmsdr/engine/restore"
	"github.com/edmsdr/edmsdr/suites/label"
	"github.com/edmsdr/edmsdr/suites/suitekit"
)

// brokenSink accepts n bytes, then fails every write (a full disk, a lost object store).
type brokenSink struct {
	n       int
	aborted bool
}

func (b *brokenSink) Write(p []byte) (int, error) {
	if len(p) > b.n {
		return 0, errors.New("no space left on device")
	}
	b.n -= len(p)
	return len(p), nil
}
func (b *brokenSink) Commit() error { return errors.New("not committed") }
func (b *brokenSink) Abort()        { b.aborted = true }

// safetyTo opens a safety backup file in a spec-owned directory.
func safetyTo(path string) *restore.Safety {
	GinkgoHelper()
	sink, err := pack.CreateFile(path, false)
	Expect(err).NotTo(HaveOccurred())
	return &restore.Safety{Sink: sink, Name: path, Tool: "edmsdr suites"}
}

var _ = Describe("Safety backup", Label(label.Rollback, label.EDMS), func() {
	It("holds the target's tables as they were before the restore, with their digest and sequences", func(ctx SpecContext) {
		src := suitekit.EDMSSource(ctx, srv, 23)
		path, _ := suitekit.Backup(ctx, src, nil)
		tgt := suitekit.EDMSTarget(ctx, srv)
		before := suitekit.Digest(ctx, tgt)
		safety := filepath.Join(GinkgoT().TempDir(), "safety.edmsdr")
		res, err := suitekit.Restore(ctx, tgt, path, restore.Options{Safety: safetyTo(safety)})
		Expect(err).NotTo(HaveOccurred())
		Expect(res.Committed).To(BeTrue())
		Expect(res.Safety).NotTo(BeNil())
		Expect(res.Safety.Kept).To(BeTrue())
		Expect(res.Safety.Digest).To(Equal(before.Total))
		Expect(res.Safety.After).To(Equal(suitekit.Digest(ctx, tgt).Total))
		m, err := suitekit.Verify(safety)
		Expect(err).NotTo(HaveOccurred())
		Expect(m.Origin).To(Equal(pack.OriginSafety))
		Expect(m.Digest.Total).To(Equal(before.Total))
		Expect(m.Safety).NotTo(BeNil())
		Expect(m.Safety.Package).To(Equal(res.PackageDigest))
		Expect(m.Safety.XID).NotTo(BeEmpty())
		Expect(m.Safety.Sequences).NotTo(BeEmpty())
		var rows int64
		for _, t := range m.Tables {
			rows += t.Rows
		}
		Expect(rows).To(Equal(res.Safety.Rows))
		var pre int64
		for _, t := range before.Tables {
			pre += t.Rows
		}
		Expect(rows).To(Equal(pre), "every row the target held")
		Expect(m.Digest.Tables).To(HaveLen(len(before.Tables)))
	}, SpecTimeout(2*time.Minute))

	It("keeps nothing from a dry run", func(ctx SpecContext) {
		src := suitekit.EDMSSource(ctx, srv, 24)
		path, _ := suitekit.Backup(ctx, src, nil)
		tgt := suitekit.EDMSTarget(ctx, srv)
		safety := filepath.Join(GinkgoT().TempDir(), "safety.edmsdr")
		res, err := suitekit.Restore(ctx, tgt, path, restore.Options{DryRun: true, Safety: safetyTo(safety)})
		Expect(err).NotTo(HaveOccurred())
		Expect(res.Safety.Kept).To(BeFalse())
		Expect(safety).NotTo(BeAnExistingFile())
		Expect(safety + ".partial").NotTo(BeAnExistingFile())
	}, SpecTimeout(2*time.Minute))

	It("that cannot be written fails the restore and leaves the target unchanged", func(ctx SpecContext) {
		src := suitekit.EDMSSource(ctx, srv, 25)
		path, _ := suitekit.Backup(ctx, src, nil)
		tgt := suitekit.EDMSTarget(ctx, srv)
		before := exactState(ctx, tgt)
		sink := &brokenSink{n: 4096}
		res, err := suitekit.Restore(ctx, tgt, path, restore.Options{Safety: &restore.Safety{Sink: sink, Name: "broken"}})
		Expect(err).To(MatchError(ContainSubstring("safety backup broken")))
		Expect(err).To(MatchError(ContainSubstring("nothing was restored")))
		Expect(res.Committed).To(BeFalse())
		Expect(res.Verdict).To(Equal(finding.Fail))
		Expect(sink.aborted).To(BeTrue())
		Expect(exactState(ctx, tgt)).To(Equal(before))
	}, SpecTimeout(2*time.Minute))
})
