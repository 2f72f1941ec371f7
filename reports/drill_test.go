package reports

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/edmsdr/edmsdr/engine/finding"
)

// sampleDrill is a drill report with every part filled: two scenarios, one failing check, a bench.
func sampleDrill() *Drill {
	return &Drill{
		Tool: "edmsdr-drill test", Dataset: "edms", Provider: "local", SourceVersion: 15, TargetVersion: 15,
		Scale: "tiny", Seed: 7, StartedAt: time.Date(2026, 12, 5, 0, 20, 0, 0, time.UTC), Elapsed: 9100 * time.Millisecond,
		Phases: []Phase{{"install", 1200 * time.Millisecond}, {"backup", 310 * time.Millisecond}, {"restore", 2400 * time.Millisecond}},
		Tables: []Table{
			{Table: "documents_document", Backup: 120, Inserted: 118, Matched: 0, Present: 0, Diverged: 2, Verdict: finding.Fail},
			{Table: "auth_user", Backup: 12, Inserted: 2, Matched: 10, Verdict: finding.Pass},
		},
		DigestBefore: strings.Repeat("ab", 32), DigestAfter: strings.Repeat("cd", 32),
		PackageBytes: 40960, Rows: 132, PeakRSSBytes: 64 << 20,
		Scenarios: []Scenario{
			{Name: "cycle", Verdict: finding.Fail, Elapsed: 9 * time.Second, Checks: []finding.Check{
				{Name: "database digest", Verdict: finding.Fail, Evidence: "tables differ: documents_document (120 rows before, 118 after)"},
				{Name: "row order kept", Table: "auth_user", Verdict: finding.Pass, Evidence: "rows in the same order of ids"},
			}},
			{Name: "bench", Verdict: finding.Pass, Elapsed: 30 * time.Second,
				Checks: []finding.Check{{Name: "restore within budget", Verdict: finding.Pass, Evidence: "1.04 ≤ 1.10"}},
				Bench:  []Ratio{{Name: "restore rows/s", Value: 52000, Baseline: 50000, Unit: "rows/s", Ratio: 1.04, Budget: 1.10}}},
		},
		Verdict: finding.Fail,
		Replay:  "edmsdr drill --dataset edms --db local --scale tiny --seed 7",
	}
}

func TestDrillJSONRoundTripAndSchema(t *testing.T) {
	var buf bytes.Buffer
	if err := sampleDrill().WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	got, err := ReadDrill(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if got.Schema != DrillSchema || got.SchemaVersion != DrillSchemaVersion {
		t.Errorf("schema %q version %d", got.Schema, got.SchemaVersion)
	}
	if len(got.Checks()) != 3 || got.Scenario("bench") == nil || got.Scenario("bench").Bench[0].Ratio != 1.04 {
		t.Errorf("round trip lost scenarios: %+v", got.Scenarios)
	}
	for name, doc := range map[string]string{
		"other schema":   strings.Replace(buf.String(), DrillSchema, "something.else", 1),
		"newer version":  strings.Replace(buf.String(), `"schema_version": 1`, `"schema_version": 2`, 1),
		"not a document": "[1,2]",
	} {
		if _, err := ReadDrill(strings.NewReader(doc)); err == nil {
			t.Errorf("%s: read without error", name)
		}
	}
}

func TestDrillCombine(t *testing.T) {
	for _, c := range []struct {
		verdicts []finding.Verdict
		want     finding.Verdict
	}{
		{nil, finding.Unknown},
		{[]finding.Verdict{finding.Pass, finding.Pass}, finding.Pass},
		{[]finding.Verdict{finding.Pass, finding.Unknown}, finding.Unknown},
		{[]finding.Verdict{finding.Unknown, finding.Fail}, finding.Fail},
	} {
		d := &Drill{}
		for i, v := range c.verdicts {
			d.Scenarios = append(d.Scenarios, Scenario{Name: string(rune('a' + i)), Verdict: v})
		}
		d.Combine()
		if d.Verdict != c.want {
			t.Errorf("%v → %s, want %s", c.verdicts, d.Verdict, c.want)
		}
	}
}
