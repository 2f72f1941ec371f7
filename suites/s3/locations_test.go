package s3_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/edmsdr/edmsdr/engine/finding"
	"github.com/edmsdr/edmsdr/suites/label"
	"github.com/edmsdr/edmsdr/suites/suitekit"
)

var _ = Describe("every command that takes a package location", Label(label.S3), func() {
	It("fixture --in, convert --out, restore --safety-backup and rollback --in take s3:// too", func(ctx SpecContext) {
		source := suitekit.EDMSSource(ctx, srv, 4)
		p := prefix()
		pkg := url(p+"src.edmsdr", "")
		succeed("backup", "--dsn", source, "--out", pkg)
		dir := GinkgoT().TempDir()

		By("fixture --in s3://: the same fixture as from the same bytes in a file")
		fromObject := filepath.Join(dir, "object.json")
		succeed("fixture", "--in", pkg, "--out", fromObject)
		data, err := gw.Get(ctx, bucket, p+"src.edmsdr")
		Expect(err).NotTo(HaveOccurred())
		local := filepath.Join(dir, "src.edmsdr")
		Expect(os.WriteFile(local, data, 0o600)).To(Succeed())
		fromFile := filepath.Join(dir, "file.json")
		succeed("fixture", "--in", local, "--out", fromFile)
		a, err := os.ReadFile(fromObject)
		Expect(err).NotTo(HaveOccurred())
		b, err := os.ReadFile(fromFile)
		Expect(err).NotTo(HaveOccurred())
		var objs []json.RawMessage
		Expect(json.Unmarshal(a, &objs)).To(Succeed())
		Expect(objs).NotTo(BeEmpty())
		Expect(a).To(Equal(b))

		By("convert --out s3://: the package and its metadata appear, verify and restore it")
		conv := url(p+"conv.edmsdr", "")
		convTarget := suitekit.EDMSTarget(ctx, srv)
		succeed("convert", "--dsn", convTarget, "--in", fromObject, "--out", conv)
		Expect(objects(ctx, p)).To(ContainElements("conv.edmsdr", "conv.edmsdr.meta.json"))
		Expect(uploads(ctx, p)).To(BeEmpty())
		succeed("verify", "--in", conv)
		report := filepath.Join(dir, "conv-report")
		succeed("restore", "--dsn", convTarget, "--in", conv, "--report", report)
		Expect(suitekit.RestoreReport(report).Verdict).To(Equal(finding.Pass))
		By("a second convert to the same name is refused, and the first package stays")
		s := edmsdr(nil, "convert", "--dsn", convTarget, "--in", fromObject, "--out", conv)
		Expect(s.ExitCode()).To(Equal(1))
		succeed("verify", "--in", conv)

		By("restore --safety-backup s3://…/dir/: a time-stamped safety package in the bucket")
		target := suitekit.EDMSTarget(ctx, srv)
		before := suitekit.Digest(ctx, target).Total
		safetyDir := url(p+"safety/", "")
		report = filepath.Join(dir, "restore-report")
		s = succeed("restore", "--dsn", target, "--in", pkg, "--safety-backup", safetyDir, "--report", report)
		Expect(string(s.Out.Contents())).To(ContainSubstring("safety backup"))
		Expect(suitekit.Digest(ctx, target).Total).NotTo(Equal(before), "the restore changed the target")
		var safeties []string
		for _, k := range objects(ctx, p+"safety/") {
			if strings.HasSuffix(k, ".edmsdr") {
				safeties = append(safeties, k)
			}
		}
		Expect(safeties).To(HaveLen(1))
		Expect(safeties[0]).To(MatchRegexp(`^safety-\d{8}T\d{6}\.\d{3}Z\.edmsdr$`))
		Expect(uploads(ctx, p)).To(BeEmpty())
		succeed("verify", "--in", url(p+"safety/"+safeties[0], ""))

		By("a restore with nothing to do keeps no safety backup, and leaves no upload")
		succeed("restore", "--dsn", target, "--in", pkg, "--safety-backup", safetyDir)
		n := 0
		for _, k := range objects(ctx, p+"safety/") {
			if strings.HasSuffix(k, ".edmsdr") {
				n++
			}
		}
		Expect(n).To(Equal(1), "no second safety package")
		Expect(uploads(ctx, p)).To(BeEmpty())

		By("rollback --in s3://: the target is back as it was before the restore")
		succeed("rollback", "--dsn", target, "--in", url(p+"safety/"+safeties[0], ""), "--restore-report", report)
		Expect(suitekit.Digest(ctx, target).Total).To(Equal(before))
	}, SpecTimeout(8*time.Minute))
})
