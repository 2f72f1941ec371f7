package zoo_test

import (
	"fmt"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/edmsdr/edmsdr/engine/finding"
	"github.com/edmsdr/edmsdr/engine/keys"
	"github.com/edmsdr/edmsdr/engine/restore"
	"github.com/edmsdr/edmsdr/generators/schemagen"
	"github.com/edmsdr/edmsdr/oracle"
	"github.com/edmsdr/edmsdr/suites/label"
	"github.com/edmsdr/edmsdr/suites/suitekit"
)

// The property: a restore of a random schema's source into its target either ends PASS with the
// target holding exactly its own rows plus the source's rows it lacked (by natural key), as the
// oracle sees them, or is refused with the target unchanged (oracle and digest).
var _ = Describe("A random schema", Label(label.Zoo), func() {
	for _, seed := range knobs.ZooSeeds {
		It(fmt.Sprintf("random schema %d: restores to PASS with the oracle's rows, or refuses leaving the target unchanged", seed), func(ctx SpecContext) {
			c := schemagen.Generate(seed)
			fail := func(format string, args ...any) string {
				return fmt.Sprintf(format, args...) + "\n" + c.String() + "\nreplay: " + c.Replay()
			}
			kf, err := keys.ParseFile([]byte(c.Keys))
			Expect(err).NotTo(HaveOccurred(), fail("keys file"))
			opts, err := oracle.OptionsFromKeys(kf)
			Expect(err).NotTo(HaveOccurred(), fail("keys file"))
			src := srv.DSN(suitekit.NewDatabase(ctx, srv, fmt.Sprintf("rnd%d_src", seed)))
			tgt := srv.DSN(suitekit.NewDatabase(ctx, srv, fmt.Sprintf("rnd%d_tgt", seed)))
			suitekit.Exec(ctx, src, append([]string{c.Schema}, c.Source...)...)
			suitekit.Exec(ctx, tgt, append([]string{c.Schema}, c.Target...)...)
			read := func(url string) *oracle.Snapshot {
				conn := suitekit.Connect(ctx, url)
				s, err := oracle.Read(ctx, conn, opts)
				Expect(err).NotTo(HaveOccurred(), fail("oracle"))
				return s
			}
			source, before := read(src), read(tgt)
			digestBefore := suitekit.Digest(ctx, tgt)
			path, _ := suitekit.Backup(ctx, src, kf)

			res, err := suitekit.Restore(ctx, tgt, path, restore.Options{Keys: kf})
			AddReportEntry("case", c.String())
			AddReportEntry("restore", describe(res))
			if err != nil {
				Expect(res.Committed).To(BeFalse(), fail("refused yet committed: %v", err))
				Expect(finding.FindingsOf(err)).NotTo(BeEmpty(), fail("refused without a finding: %v", err))
				diffs := oracle.Compare(before, read(tgt))
				Expect(diffs).To(BeEmpty(), fail("refused (%v) but the target changed:\n%s", err, diffs))
				Expect(suitekit.Digest(ctx, tgt).Total).To(Equal(digestBefore.Total), fail("refused but the target's digest changed"))
				AddReportEntry("outcome", "refused: "+err.Error())
				return
			}
			if res.AlreadyRestored {
				// Nothing to do: then the target already held every source row, as the oracle sees it.
				Expect(oracle.Compare(oracle.Merge(before, source), before)).To(BeEmpty(), fail("'already restored', yet the target lacks source rows"))
				Expect(oracle.Compare(before, read(tgt))).To(BeEmpty(), fail("'already restored', yet the target changed"))
				AddReportEntry("outcome", "already restored")
				return
			}
			Expect(res.Committed).To(BeTrue(), fail("%s", describe(res)))
			Expect(res.Verdict).To(Equal(finding.Pass), fail("%s", describe(res)))
			diffs := oracle.Compare(oracle.Merge(before, source), read(tgt))
			Expect(diffs).To(BeEmpty(), fail("PASS, but the oracle sees other rows than the target's plus the source's:\n%s\n%s", diffs, describe(res)))
			AddReportEntry("outcome", "PASS; shapes: "+strings.Join(c.Shapes, ", "))
		}, SpecTimeout(2*time.Minute))
	}
})
