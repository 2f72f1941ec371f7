package reports_test

import (
	"bytes"
	"encoding/xml"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/edmsdr/edmsdr/engine/finding"
	"github.com/edmsdr/edmsdr/reports"
)

// sampleDrill is a drill report with every part filled: two scenarios, one failing check, a bench.
func sampleDrill() *reports.Drill {
	return &reports.Drill{
		Tool: "edmsdr-drill test", Dataset: "edms", Provider: "local", SourceVersion: 15, TargetVersion: 15,
		Scale: "tiny", Seed: 7, StartedAt: time.Date(2026, 12, 5, 0, 20, 0, 0, time.UTC), Elapsed: 9100 * time.Millisecond,
		Phases: []reports.Phase{{"install", 1200 * time.Millisecond}, {"backup", 310 * time.Millisecond}, {"restore", 2400 * time.Millisecond}},
		Tables: []reports.Table{
			{Table: "documents_document", Backup: 120, Inserted: 117, Matched: 0, Present: 0, Diverged: 2, Lost: 1, Orphaned: 1, Verdict: finding.Fail},
			{Table: "auth_user", Backup: 12, Inserted: 2, Matched: 10, Verdict: finding.Pass},
		},
		DigestBefore: strings.Repeat("ab", 32), DigestAfter: strings.Repeat("cd", 32),
		PackageBytes: 40960, Rows: 132, PeakRSSBytes: 64 << 20,
		Scenarios: []reports.Scenario{
			{Name: "cycle", Verdict: finding.Fail, Elapsed: 9 * time.Second, Checks: []finding.Check{
				{Name: "database digest", Verdict: finding.Fail, Evidence: "tables differ: documents_document (120 rows before, 119 after)"},
				{Name: "row order kept", Table: "auth_user", Verdict: finding.Pass, Evidence: "rows in the same order of ids"},
				{Name: "probe", Table: "documents_document", Verdict: finding.Unknown, Evidence: "probe could not run: relation \"search_index\" does not exist"},
			}, Findings: finding.List{
				{Kind: finding.Lost, Severity: finding.Error, Table: "documents_document", Count: 1, Message: "in the backup, not in the target"},
				{Kind: finding.Orphaned, Severity: finding.Error, Table: "documents_document", Column: "owner_id", Constraint: "documents_document_owner_fk", Count: 1, Message: "points at no auth_user | <row>"},
			}},
			{Name: "bench", Verdict: finding.Pass, Elapsed: 30 * time.Second,
				Checks: []finding.Check{{Name: "restore within budget", Verdict: finding.Pass, Evidence: "1.04 ≤ 1.10"}},
				Bench:  []reports.Ratio{{Name: "restore rows/s", Value: 52000, Baseline: 50000, Unit: "rows/s", Ratio: 1.04, Budget: 1.10}}},
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
	got, err := reports.ReadDrill(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if got.Schema != reports.DrillSchema || got.SchemaVersion != reports.DrillSchemaVersion {
		t.Errorf("schema %q version %d", got.Schema, got.SchemaVersion)
	}
	if len(got.Checks()) != 4 || got.Scenario("bench") == nil || got.Scenario("bench").Bench[0].Ratio != 1.04 {
		t.Errorf("round trip lost scenarios: %+v", got.Scenarios)
	}
	for name, doc := range map[string]string{
		"other schema":   strings.Replace(buf.String(), reports.DrillSchema, "something.else", 1),
		"newer version":  strings.Replace(buf.String(), `"schema_version": 1`, `"schema_version": 2`, 1),
		"not a document": "[1,2]",
	} {
		if _, err := reports.ReadDrill(strings.NewReader(doc)); err == nil {
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
		d := &reports.Drill{}
		for i, v := range c.verdicts {
			d.Scenarios = append(d.Scenarios, reports.Scenario{Name: string(rune('a' + i)), Verdict: v})
		}
		d.Combine()
		if d.Verdict != c.want {
			t.Errorf("%v → %s, want %s", c.verdicts, d.Verdict, c.want)
		}
	}
}

// stoppedDrill is a drill stopped before its restore: an error, no check, no table.
func stoppedDrill() *reports.Drill {
	d := &reports.Drill{
		Tool: "edmsdr-drill test", Dataset: "ledger", Provider: "dsn", SourceVersion: 17, Scale: "small", Seed: 3,
		StartedAt: time.Date(2026, 12, 4, 23, 0, 0, 0, time.UTC), Elapsed: 2 * time.Second,
		Phases:    []reports.Phase{{"install", 2 * time.Second}},
		Scenarios: []reports.Scenario{{Name: "cycle", Verdict: finding.Fail, Elapsed: 2 * time.Second, Error: "drill: generate: context canceled"}},
		Error:     "drill: generate: context canceled",
		Replay:    "edmsdr drill --dataset ledger --db dsn --scale small --seed 3",
	}
	d.Combine()
	return d
}

// history is the runs before sampleDrill's, then sampleDrill's own line.
func history() []reports.Run {
	var runs []reports.Run
	for i, v := range []finding.Verdict{finding.Pass, finding.Pass, finding.Unknown, finding.Pass} {
		runs = append(runs, reports.Run{SchemaVersion: reports.DrillSchemaVersion, StartedAt: time.Date(2026, 12, 1+i, 2, 0, 0, 0, time.UTC),
			Dataset: "edms", Provider: "local", Scale: "tiny", Verdict: v, Elapsed: time.Duration(8+i) * time.Second, Rows: 130 + int64(i)})
	}
	return append(runs, sampleDrill().RunOf())
}

func TestDrillWritersGolden(t *testing.T) {
	for name, d := range map[string]*reports.Drill{"drill": sampleDrill(), "drill-stopped": stoppedDrill()} {
		for ext, write := range map[string]func(*bytes.Buffer) error{
			"json": func(b *bytes.Buffer) error { return d.WriteJSON(b) },
			"txt":  func(b *bytes.Buffer) error { return d.WriteText(b) },
			"md":   func(b *bytes.Buffer) error { return d.WriteMarkdown(b) },
			"xml":  func(b *bytes.Buffer) error { return d.WriteJUnit(b) },
			"prom": func(b *bytes.Buffer) error { return d.WritePrometheus(b) },
			"html": func(b *bytes.Buffer) error {
				if name == "drill" {
					return d.WriteHTML(b, reports.HTMLOptions{History: history(), Skipped: 1})
				}
				return d.WriteHTML(b, reports.HTMLOptions{})
			},
		} {
			var buf bytes.Buffer
			if err := write(&buf); err != nil {
				t.Fatalf("%s.%s: %v", name, ext, err)
			}
			golden(t, name+".golden."+ext, buf.Bytes())
		}
	}
}

func TestJUnitCountsUnknownAsNotPassed(t *testing.T) {
	var buf bytes.Buffer
	if err := sampleDrill().WriteJUnit(&buf); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
		Errors   int `xml:"errors,attr"`
		Suites   []struct {
			Cases []struct {
				Name    string `xml:"name,attr"`
				Failure *struct {
					Text string `xml:",chardata"`
				} `xml:"failure"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("junit does not parse: %v", err)
	}
	if doc.Tests != 4 || doc.Failures != 1 || doc.Errors != 1 {
		t.Errorf("tests %d failures %d errors %d, want 4, 1 (FAIL), 1 (UNKNOWN)", doc.Tests, doc.Failures, doc.Errors)
	}
	if f := doc.Suites[0].Cases[0].Failure; f == nil || !strings.Contains(f.Text, "orphaned") {
		t.Errorf("the failure text does not carry the findings: %+v", f)
	}
}

func TestPrometheusTextFormat(t *testing.T) {
	var buf bytes.Buffer
	if err := sampleDrill().WritePrometheus(&buf); err != nil {
		t.Fatal(err)
	}
	// Every sample line is NAME{LABELS} VALUE, every name declared by HELP and TYPE first.
	declared := map[string]bool{}
	sample := regexp.MustCompile(`^([a-z_]+)\{([a-z_]+="(?:[^"\\]|\\.)*",?)+\} -?[0-9.e+]+$`)
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if strings.HasPrefix(line, "# TYPE ") {
			declared[strings.Fields(line)[2]] = true
			continue
		}
		if strings.HasPrefix(line, "# HELP ") {
			continue
		}
		m := sample.FindStringSubmatch(line)
		if m == nil {
			t.Errorf("not a sample line: %q", line)
			continue
		}
		if !declared[m[1]] {
			t.Errorf("%s sampled before its TYPE line", m[1])
		}
	}
	for _, want := range []string{
		`edmsdr_drill_success{dataset="edms",provider="local"} 0`,
		`edmsdr_drill_rows_lost_total{dataset="edms",provider="local"} 1`,
		`edmsdr_drill_bench_ratio{dataset="edms",provider="local",measure="restore rows/s"} 1.04`,
	} {
		if !strings.Contains(buf.String(), want+"\n") {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func TestHistoryAppendAndRead(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []*reports.Drill{stoppedDrill(), sampleDrill()} {
		if err := reports.AppendHistory(dir, d); err != nil {
			t.Fatal(err)
		}
	}
	// A torn line (a run killed mid-write) and a line of another format are left out, and counted.
	f, err := os.OpenFile(filepath.Join(dir, reports.HistoryFile), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"schema_version":99,"started_at":"2026-12-05T00:00:00Z"}` + "\n" + `{"schema_version":1,"sta`)
	f.Close()
	runs, skipped, err := reports.ReadHistory(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 2 || skipped != 2 {
		t.Fatalf("%d runs, %d skipped; want 2 and 2", len(runs), skipped)
	}
	if runs[0].Verdict != finding.Fail || runs[1].Lost != 1 || runs[1].Bench["restore rows/s"] != 1.04 || runs[1].Scenarios["bench"] != finding.Pass {
		t.Errorf("runs read back wrong: %+v", runs)
	}
	if runs, skipped, err := reports.ReadHistory(t.TempDir()); err != nil || len(runs) != 0 || skipped != 0 {
		t.Errorf("an empty history directory: %v %d %v", runs, skipped, err)
	}
}

// A bench ratio over its budget in a scenario that passed (the drill without --bench-budget) is
// marked as over the budget but not enforced, not as a failure; in a failed scenario it fails.
func TestBenchOverBudgetMarkFollowsTheScenario(t *testing.T) {
	d := sampleDrill()
	b := d.Scenario("bench")
	b.Bench[0].Ratio = 1.40
	var md strings.Builder
	if err := d.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	row := "| restore rows/s | 52000.00 rows/s | 50000.00 rows/s | 1.40 | 1.10 | ⚠️ over budget, not enforced |"
	if !strings.Contains(md.String(), row) {
		t.Fatalf("markdown lacks %q:\n%s", row, md.String())
	}
	b.Verdict = finding.Fail
	md.Reset()
	if err := d.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	if row := "| 1.40 | 1.10 | ❌ FAIL |"; !strings.Contains(md.String(), row) {
		t.Fatalf("markdown lacks %q:\n%s", row, md.String())
	}
}
