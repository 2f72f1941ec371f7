// Package corruption_test proves that every corruption of a package or a Django fixture ends in a
// clear refusal with the target exactly as it was, or — for harmless damage — in the full correct
// result: never a silent partial or wrong restore. It iterates corrupt.Registry (every injector at
// every seed of EDMSDR_SEEDS) through pack.Verify, restore.Run and the CLI, runs a random-flip
// property over whole packages, and writes a per-injector report (ReportAfterSuite) to
// EDMSDR_CORRUPTION_REPORT.
//
// Each Ginkgo process makes one good package (a tiny EDMS) and one fixture, and owns one target
// database, re-created from a re-initialised template (CREATE DATABASE … TEMPLATE) only when a
// restore changed it.
package corruption_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/types"
	. "github.com/onsi/gomega"

	"github.com/edmsdr/edmsdr/fixtures/provider"
	"github.com/edmsdr/edmsdr/reports"
	"github.com/edmsdr/edmsdr/suites/suitekit"
)

var (
	knobs = suitekit.LoadKnobs()
	srv   provider.Server
	// bin is the edmsdr binary.
	bin string
	// good is this process's undamaged package and fixture.
	good source
	// tgt is this process's target database.
	tgt *target
	// started is when the suite started (for the report).
	started = time.Now()
)

// Report entry names: each spec records its outcome under one of them, ReportAfterSuite tallies.
const (
	runEntry  = "corruption run"
	flipEntry = "corruption flip"
)

func TestCorruption(t *testing.T) { suitekit.RunSuite(t, "Corruption suite") }

var _ = suitekit.CLISuite(knobs, &bin, &srv, 5*time.Minute, func(ctx SpecContext) {
	good = newSource(ctx, knobs.Seeds[0])
	tgt = newTarget(ctx)
})

// The report tallies every spec's recorded outcome, from every process.
var _ = ReportAfterSuite("corruption report", func(r Report) {
	var runs []reports.CorruptionRun
	var flips []reports.FlipTrial
	// An entry holds the value itself when it was recorded in this process, its JSON decoded
	// into maps when it came from another: a JSON round trip reads both.
	decode := func(e types.ReportEntry, v any) {
		data, err := json.Marshal(e.Value.GetRawValue())
		Expect(err).NotTo(HaveOccurred())
		Expect(json.Unmarshal(data, v)).To(Succeed())
	}
	for _, spec := range r.SpecReports {
		for _, e := range spec.ReportEntries {
			switch e.Name {
			case runEntry:
				var run reports.CorruptionRun
				decode(e, &run)
				runs = append(runs, run)
			case flipEntry:
				var trial reports.FlipTrial
				decode(e, &trial)
				flips = append(flips, trial)
			}
		}
	}
	if len(runs)+len(flips) == 0 {
		return // nothing selected (a label filter, a dry run): keep the last report
	}
	c := reports.NewCorruption(runs, flips)
	c.StartedAt, c.Elapsed = started, r.RunTime
	// The package is made from the first seed: a replay names it first.
	first := knobs.Seeds[0]
	c.Replay = map[string]string{
		"an injector at a seed": fmt.Sprintf(`EDMSDR_SEEDS=%d,<seed> go tool ginkgo --focus '<injector> \(seed <seed>\)' ./suites/corruption`, first),
		"the random flips":      fmt.Sprintf(`EDMSDR_SEEDS=%d,<seed> go tool ginkgo --focus 'random flips at <level> level \(seed <seed>\)' ./suites/corruption`, first),
	}
	dir := suitekit.RepoPath(knobs.CorruptionReport)
	Expect(os.MkdirAll(dir, 0o755)).To(Succeed())
	for name, write := range map[string]func(*os.File) error{
		"report.json": func(f *os.File) error { return c.WriteJSON(f) },
		"report.md":   func(f *os.File) error { return c.WriteMarkdown(f) },
	} {
		f, err := os.Create(filepath.Join(dir, name))
		Expect(err).NotTo(HaveOccurred())
		Expect(write(f)).To(Succeed())
		Expect(f.Close()).To(Succeed())
	}
	GinkgoWriter.Printf("corruption report: %s (%d injections, %d flip trials)\n", dir, c.Totals.Injected, c.Totals.FlipTrials)
})
