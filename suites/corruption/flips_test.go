package corruption_test

import (
	"fmt"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/edmsdr/edmsdr/corrupt"
	"github.com/edmsdr/edmsdr/engine/finding"
	"github.com/edmsdr/edmsdr/reports"
	"github.com/edmsdr/edmsdr/suites/label"
)

// flipSeed is the seed of one trial: distinct for every spec seed and trial.
func flipSeed(seed int64, trial int) int64 { return seed*1_000_003 + int64(trial) }

// The property: whatever bits are flipped, anywhere in a package, a restore either refuses (the
// target exactly as it was) or restores exactly the package's data; and it never accepts what
// pack.Verify refuses.
var _ = Describe("Random flips over whole packages", Label(label.Corruption, label.Property), func() {
	for _, level := range []corrupt.Level{corrupt.Uncompressed, corrupt.Compressed} {
		for _, seed := range knobs.Seeds {
			It(fmt.Sprintf("random flips at %s level (seed %d): refused or restored exactly", level, seed), func(ctx SpecContext) {
				var wrong []string
				for trial := range knobs.CorruptionFlips {
					n := 1 + trial%3
					damaged, at, err := corrupt.Flip(good.pkg, level, n, flipSeed(seed, trial))
					Expect(err).NotTo(HaveOccurred())
					j := &judgement{detected: true, targetOK: true}
					j.verifyStage(corrupt.Detection{}, damaged)
					r := restoreInProcess(ctx, damaged)
					j.restoreStage(corrupt.Detection{}, r)
					result := reports.FlipRefused
					switch {
					case r.err != nil:
						if fl := finding.FindingsOf(r.err); len(fl.Errors()) == 0 {
							j.fail("restore failed without findings: %v", r.err)
						}
						if r.committed() || r.after != tgt.baseline {
							j.fail("refused, yet the target changed")
						}
					case r.committed() && r.after.Digest == good.digest:
						result = reports.FlipExact
						if strings.HasPrefix(j.outcome[0], "verify refused") {
							j.fail("the restore accepted what verify refuses")
						}
					default:
						j.fail("neither refused nor restored exactly (target digest %s, package digest %s)", r.after.Digest, good.digest)
					}
					if len(j.problems) > 0 {
						result = reports.FlipWrong
						wrong = append(wrong, fmt.Sprintf("trial %d: %d bit(s) at byte offsets %v (corrupt.Flip(pkg, %q, %d, %d)): %s",
							trial, n, at, level, n, flipSeed(seed, trial), strings.Join(append(j.outcome, j.problems...), "; ")))
					}
					AddReportEntry(flipEntry, ReportEntryVisibilityNever, reports.FlipTrial{Level: string(level), Seed: seed, Trial: trial, Result: result,
						Outcome: strings.Join(append(j.outcome, j.problems...), "; ")})
				}
				Expect(wrong).To(BeEmpty(), "seed %d (package from seed %d), %s level:\n%s\nreplay: EDMSDR_SEEDS=%d,%d go tool ginkgo --focus 'random flips at %s level \\(seed %d\\)' ./suites/corruption",
					seed, good.seed, level, strings.Join(wrong, "\n"), good.seed, seed, level, seed)
			}, SpecTimeout(3*time.Minute))
		}
	}
})
