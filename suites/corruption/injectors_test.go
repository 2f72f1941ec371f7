package corruption_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/edmsdr/edmsdr/corrupt"
	"github.com/edmsdr/edmsdr/engine/finding"
	"github.com/edmsdr/edmsdr/engine/journal"
	"github.com/edmsdr/edmsdr/reports"
	"github.com/edmsdr/edmsdr/suites/label"
)

// seedsOf are the seeds an injector runs at: every seed, or the first only when the seed does
// not change its damage.
func seedsOf(in corrupt.Injector) []int64 {
	if in.Seeded {
		return knobs.Seeds
	}
	return knobs.Seeds[:1]
}

// replay is the command that replays one injection (the package is made from the first seed).
func replay(in corrupt.Injector, seed int64) string {
	return fmt.Sprintf("EDMSDR_SEEDS=%d,%d go tool ginkgo --focus '%s \\(seed %d\\)' ./suites/corruption", good.seed, seed, in.Name, seed)
}

// record adds the injection's outcome to the report, then fails the spec on any problem.
func record(in corrupt.Injector, seed int64, j *judgement) {
	GinkgoHelper()
	AddReportEntry(runEntry, ReportEntryVisibilityNever, reports.CorruptionRun{
		Injector: in.Name, AppliesTo: string(in.AppliesTo), Expected: in.Detection.String(), Seed: seed,
		Detected: j.detected, Untouched: j.targetOK, Outcome: strings.Join(append(j.outcome, j.problems...), "; "),
	})
	Expect(j.problems).To(BeEmpty(), "injector %s, seed %d (package from seed %d), expected %s\nwhat happened: %s\nreplay: %s",
		in.Name, seed, good.seed, in.Detection, strings.Join(j.outcome, "; "), replay(in, seed))
}

// cliChecked are the injectors whose damage also goes through the edmsdr binary (at their first
// seed): one refusal for each place a restore can stop — opening the file, reading an entry,
// the manifest's checks, the layout check, COPY, preflight, validation.
var cliChecked = map[string]bool{
	"empty-file": true, "header-format-version": true, "truncate-tar": true, "decompression-bomb": true,
	"flip-data-entry": true, "table-removed": true, "extra-column": true, "wrong-type-value": true,
	"dangling-reference": true, "changed-value": true,
}

var _ = Describe("Damaged packages", Label(label.Corruption), func() {
	It("checks through the CLI injectors of the registry that restore refuses", func(_ SpecContext) {
		for name := range cliChecked {
			in, ok := corrupt.Lookup(name)
			Expect(ok).To(BeTrue(), "no injector %s", name)
			Expect(in.Detection.Restore).To(Equal(corrupt.Refuse), name)
		}
	}, SpecTimeout(time.Minute))

	It("baseline: the undamaged package verifies and restores exactly", func(ctx SpecContext) {
		j := &judgement{detected: true, targetOK: true}
		j.verifyStage(corrupt.Detection{Verify: corrupt.Accept}, good.pkg)
		j.restoreStage(corrupt.Detection{Restore: corrupt.Exact}, restoreInProcess(ctx, good.pkg))
		Expect(j.problems).To(BeEmpty())
	}, SpecTimeout(2*time.Minute))

	for _, in := range corrupt.Registry() {
		if in.AppliesTo != corrupt.Package {
			continue
		}
		for i, seed := range seedsOf(in) {
			It(fmt.Sprintf("%s (seed %d): %s", in.Name, seed, in.Detection), func(ctx SpecContext) {
				damaged, err := in.Inject(good.pkg, seed)
				Expect(err).NotTo(HaveOccurred(), "inject %s at seed %d", in.Name, seed)
				j := &judgement{detected: true, targetOK: true}
				start := time.Now()
				j.verifyStage(in.Detection, damaged)
				j.restoreStage(in.Detection, restoreInProcess(ctx, damaged))
				if took := time.Since(start); in.Ceiling.Time > 0 {
					j.note("verify and restore took %v (ceiling %v)", took.Round(time.Millisecond), in.Ceiling.Time)
					if took > in.Ceiling.Time {
						j.fail("verify and restore took %v, more than the ceiling %v", took, in.Ceiling.Time)
					}
				}
				if i == 0 && (cliChecked[in.Name] || in.Ceiling != (corrupt.Ceiling{})) {
					cliRefuses(ctx, in, damaged, j)
				}
				record(in, seed, j)
			}, SpecTimeout(2*time.Minute))
		}
	}
})

// cliRefuses runs `edmsdr verify` and `edmsdr restore` on the damaged package, each in an empty
// working directory, without --report or --id-map: each must exit as the detection says, and
// neither may leave a file anywhere (no report, no id map, no partial file), nor change the target.
func cliRefuses(ctx context.Context, in corrupt.Injector, damaged []byte, j *judgement) {
	GinkgoHelper()
	path := writeInput(damaged, "damaged.edmsdr")
	want := map[corrupt.Outcome]int{corrupt.Refuse: 1, corrupt.Accept: 0}[in.Detection.Verify]
	s, wd, peak := cliPeak("verify", "--in", path)
	verifyExit := s.ExitCode()
	if in.Ceiling.RSSMiB > 0 {
		j.note("edmsdr verify peak RSS %d MiB (ceiling %d MiB)", peak, in.Ceiling.RSSMiB)
		if peak > in.Ceiling.RSSMiB {
			j.fail("edmsdr verify peak RSS %d MiB, more than the ceiling %d MiB", peak, in.Ceiling.RSSMiB)
		}
	}
	if verifyExit != want {
		j.detected = false
		j.fail("edmsdr verify exited %d, want %d", s.ExitCode(), want)
	}
	if stray := strayFiles(wd); len(stray) > 0 {
		j.fail("edmsdr verify left files: %v", stray)
	}
	tgt.reset(ctx)
	s, wd = cli("restore", "--dsn", tgt.url, "--in", path)
	if s.ExitCode() != 1 {
		j.detected = false
		j.fail("edmsdr restore exited %d, want 1", s.ExitCode())
	}
	if stray := append(strayFiles(wd), strayFiles(filepath.Dir(path), "damaged.edmsdr")...); len(stray) > 0 {
		j.targetOK = false
		j.fail("edmsdr restore left files: %v", stray)
	}
	if after := tgt.state(ctx); after != tgt.baseline {
		tgt.dirty = true
		j.targetOK = false
		j.fail("edmsdr restore changed the target: %s", after.diff(tgt.baseline))
	}
	j.note("edmsdr verify exit %d, restore exit %d", verifyExit, s.ExitCode())
}

// Fixture restore (`edmsdr restore --in X.json`: converted against the target, then restored) is
// the contract these specs hold the legacy engine to.
var _ = Describe("Damaged Django fixtures", Label(label.Corruption, label.Legacy), func() {
	It("baseline: the undamaged fixture restores", func(ctx SpecContext) {
		tgt.reset(ctx)
		path := writeInput(good.fixture, "fixture.json")
		report := GinkgoT().TempDir()
		s, _ := cli("restore", "--dsn", tgt.url, "--in", path, "--report", report)
		tgt.dirty = true
		Expect(s.ExitCode()).To(Equal(0), "the undamaged fixture was refused (is fixture restore implemented?):\n%s", s.Err.Contents())
		res, err := restoreJSON(filepath.Join(report, "restore.json"))
		Expect(err).NotTo(HaveOccurred())
		Expect(res.Committed).To(BeTrue())
		Expect(tgt.state(ctx).Digest).NotTo(Equal(tgt.baseline.Digest), "a committed restore that changed nothing")
	}, SpecTimeout(2*time.Minute))

	for _, in := range corrupt.Registry() {
		if in.AppliesTo != corrupt.Fixture {
			continue
		}
		for _, seed := range seedsOf(in) {
			It(fmt.Sprintf("%s (seed %d): %s", in.Name, seed, in.Detection), func(ctx SpecContext) {
				damaged, err := in.Inject(good.fixture, seed)
				Expect(err).NotTo(HaveOccurred(), "inject %s at seed %d", in.Name, seed)
				j := &judgement{detected: true, targetOK: true}
				cliFixture(ctx, in, damaged, j)
				record(in, seed, j)
			}, SpecTimeout(2*time.Minute))
		}
	}
})

// cliFixture restores a damaged fixture with `edmsdr restore --report DIR` in an empty working
// directory: it must exit 1 with findings of the declared kinds in DIR/restore.json, write nothing
// but that file (no id map, no partial file, nothing in its working directory) and leave the
// target exactly as it was.
func cliFixture(ctx context.Context, in corrupt.Injector, damaged []byte, j *judgement) {
	GinkgoHelper()
	tgt.reset(ctx)
	path := writeInput(damaged, "fixture.json")
	report := GinkgoT().TempDir()
	s, wd := cli("restore", "--dsn", tgt.url, "--in", path, "--report", report)
	j.note("edmsdr restore exit %d", s.ExitCode())
	if s.ExitCode() != 1 {
		j.detected = false
		j.fail("edmsdr restore exited %d, want 1: %s", s.ExitCode(), s.Err.Contents())
	}
	// The findings: from restore.json when the restore ran; a fixture refused while it is
	// converted has its findings on stderr only, one per line as Finding.String writes them.
	var fl finding.List
	if res, err := restoreJSON(filepath.Join(report, "restore.json")); err == nil {
		fl = res.Findings
		if res.Committed {
			j.fail("restore committed a damaged fixture")
		}
	} else {
		fl = stderrFindings(s.Err.Contents())
	}
	j.note("findings: %v", fl.Errors().Kinds())
	if ferr := in.Detection.Findings(fl); ferr != nil {
		j.detected = false
		j.fail("restore: %v", ferr)
	}
	// The journal beside the report records the refused attempt (and never a commit).
	if entries, err := journal.ReadFile(filepath.Join(report, "journal.jsonl")); err == nil {
		for _, e := range entries {
			if e.Outcome == journal.Committed {
				j.fail("the journal records a committed restore of a damaged fixture")
			}
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		j.fail("read the journal: %v", err)
	}
	if stray := append(append(strayFiles(wd), strayFiles(report, "restore.json", "journal.jsonl")...), strayFiles(filepath.Dir(path), "fixture.json")...); len(stray) > 0 {
		j.targetOK = false
		j.fail("edmsdr restore left files: %v", stray)
	}
	if after := tgt.state(ctx); after != tgt.baseline {
		tgt.dirty = true
		j.targetOK = false
		j.fail("the target changed: %s", after.diff(tgt.baseline))
	}
}
