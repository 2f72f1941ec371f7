package reports_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/edmsdr/edmsdr/reports"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./reports -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test ./reports -update rewrites it):\n%s", name, got)
	}
}

func sampleCorruption() *reports.Corruption {
	runs := []reports.CorruptionRun{
		{Injector: "flip-data-entry", AppliesTo: "package", Expected: "verify+restore: corrupt|constraint", Seed: 2, Detected: true, Untouched: true, Outcome: "verify refused: corrupt; restore refused: corrupt"},
		{Injector: "dangling-reference", AppliesTo: "package", Expected: "restore: orphaned", Seed: 1, Detected: true, Untouched: true, Outcome: "restore refused: orphaned"},
		{Injector: "flip-data-entry", AppliesTo: "package", Expected: "verify+restore: corrupt|constraint", Seed: 1, Detected: true, Untouched: true, Outcome: "verify refused: corrupt; restore refused: constraint"},
		{Injector: "dangling-reference", AppliesTo: "package", Expected: "restore: orphaned", Seed: 2, Detected: false, Untouched: false, Outcome: "restore committed | target changed"},
		{Injector: "fixture-truncated", AppliesTo: "fixture", Expected: "restore: corrupt", Seed: 1, Detected: true, Untouched: true, Outcome: "restore refused: corrupt"},
		{Injector: "rows-reordered", AppliesTo: "package", Expected: "harmless: restores exactly", Seed: 1, Detected: true, Untouched: true, Outcome: "verify accepted; restored exactly"},
	}
	flips := []reports.FlipTrial{
		{Level: "uncompressed", Seed: 1, Trial: 0, Result: reports.FlipRefused},
		{Level: "compressed", Seed: 1, Trial: 0, Result: reports.FlipRefused},
		{Level: "compressed", Seed: 1, Trial: 1, Result: reports.FlipExact},
		{Level: "uncompressed", Seed: 2, Trial: 3, Result: reports.FlipWrong, Outcome: "restore committed, digest differs"},
	}
	c := reports.NewCorruption(runs, flips)
	c.StartedAt = time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	c.Elapsed = 83*time.Second + 456*time.Millisecond
	c.Replay = map[string]string{"injector": "EDMSDR_SEEDS=SEED go tool ginkgo --focus 'NAME' ./suites/corruption"}
	return c
}

func TestCorruptionTally(t *testing.T) {
	c := sampleCorruption()
	if c.OK() {
		t.Error("a report with a missed injection and a wrong flip is OK")
	}
	if c.Totals != (reports.CorruptionTotals{Injectors: 4, Injected: 6, Detected: 5, Untouched: 5, FlipTrials: 4, FlipWrong: 1}) {
		t.Errorf("totals %+v", c.Totals)
	}
	if len(c.Failures) != 1 || c.Failures[0].Injector != "dangling-reference" || c.Failures[0].Seed != 2 {
		t.Errorf("failures %+v", c.Failures)
	}
	// Package lines first, then fixture lines, each sorted by name.
	var order []string
	for _, l := range c.Injectors {
		order = append(order, l.Injector)
	}
	if want := "[dangling-reference flip-data-entry rows-reordered fixture-truncated]"; fmtList(order) != want {
		t.Errorf("order %s, want %s", fmtList(order), want)
	}
	ok := reports.NewCorruption(c.Failures[:0], nil)
	if ok.OK() != true || len(ok.Injectors) != 0 {
		t.Errorf("an empty report: OK %v, %d lines", ok.OK(), len(ok.Injectors))
	}
	miss := reports.NewCorruption([]reports.CorruptionRun{{Injector: "x", Detected: true, Untouched: false}}, nil)
	if miss.OK() {
		t.Error("a report whose target was changed is OK")
	}
}

func fmtList(s []string) string {
	var b bytes.Buffer
	b.WriteByte('[')
	for i, x := range s {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(x)
	}
	b.WriteByte(']')
	return b.String()
}

func TestCorruptionGolden(t *testing.T) {
	c := sampleCorruption()
	var js, md bytes.Buffer
	if err := c.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	if err := c.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	golden(t, "corruption.golden.json", js.Bytes())
	golden(t, "corruption.golden.md", md.Bytes())
}
