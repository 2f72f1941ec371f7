// Package reports holds the reports the harness produces as plain data — a drill's outcome, a
// suite run's summary — and their writers: JSON for machines, a text table for terminals,
// Markdown for CI job pages.
package reports

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/edmsdr/edmsdr/engine/finding"
)

// DrillSchema names the drill report's JSON document and DrillSchemaVersion is its version
// (docs/drill-report.md). A change that renames, removes or re-means a field bumps the version;
// readers check both before trusting a document (ReadDrill).
const (
	DrillSchema        = "edmsdr.drill-report"
	DrillSchemaVersion = 1
)

// Drill is the outcome of one drill: the backup → reinit → restore → validate cycle (its phases,
// tables and digests) and every scenario run beside it, each with its checks and verdict.
type Drill struct {
	Schema        string        `json:"schema"`
	SchemaVersion int           `json:"schema_version"`
	Tool          string        `json:"tool"`
	Dataset       string        `json:"dataset"`
	Provider      string        `json:"provider"`
	SourceVersion int           `json:"source_version"`
	TargetVersion int           `json:"target_version"`
	Scale         string        `json:"scale"`
	Seed          int64         `json:"seed"`
	StartedAt     time.Time     `json:"started_at"`
	Elapsed       time.Duration `json:"elapsed_ns"`
	Phases        []Phase       `json:"phases"`
	Tables        []Table       `json:"tables"`
	DigestBefore  string        `json:"digest_before"`
	DigestAfter   string        `json:"digest_after"`
	PackageBytes  int64         `json:"package_bytes"`
	Rows          int64         `json:"rows"`
	PeakRSSBytes  int64         `json:"peak_rss_bytes"`
	Scenarios     []Scenario    `json:"scenarios"`
	// Verdict combines the scenarios' verdicts: FAIL if one failed, else UNKNOWN if one lacks
	// evidence (or none ran), else PASS.
	Verdict finding.Verdict `json:"verdict"`
	// Replay is the command that replays this drill (same dataset, scale and seed).
	Replay string `json:"replay"`
	// Error is set when the drill could not complete.
	Error string `json:"error,omitempty"`
}

// Scenario is one scenario's outcome: cycle, legacy, corruption, chaos or bench.
type Scenario struct {
	Name    string          `json:"name"`
	Verdict finding.Verdict `json:"verdict"`
	Elapsed time.Duration   `json:"elapsed_ns"`
	// Checks are the scenario's checks, each PASS, FAIL or UNKNOWN with its evidence.
	Checks []finding.Check `json:"checks"`
	// Findings are what the engine reported (a refused restore's reasons).
	Findings finding.List `json:"findings,omitempty"`
	// Bench holds the bench scenario's measurements.
	Bench []Ratio `json:"bench,omitempty"`
	// Error is set when the scenario could not complete.
	Error string `json:"error,omitempty"`
}

// Ratio is one measurement against its budget: Value / Baseline must stay at or under Budget
// (the bench's 10% budget is 1.10).
type Ratio struct {
	Name     string  `json:"name"`
	Value    float64 `json:"value"`
	Baseline float64 `json:"baseline"`
	Unit     string  `json:"unit"`
	Ratio    float64 `json:"ratio"`
	Budget   float64 `json:"budget"`
}

// Within reports whether the ratio is within its budget.
func (r Ratio) Within() bool { return r.Ratio <= r.Budget }

// Scenario returns the scenario called name, or nil.
func (d *Drill) Scenario(name string) *Scenario {
	for i := range d.Scenarios {
		if d.Scenarios[i].Name == name {
			return &d.Scenarios[i]
		}
	}
	return nil
}

// Checks returns every scenario's checks, in scenario order.
func (d *Drill) Checks() []finding.Check {
	var out []finding.Check
	for _, s := range d.Scenarios {
		out = append(out, s.Checks...)
	}
	return out
}

// Findings returns every scenario's findings, in scenario order.
func (d *Drill) Findings() finding.List {
	var out finding.List
	for _, s := range d.Scenarios {
		out = append(out, s.Findings...)
	}
	return out
}

// Combine sets the overall verdict from the scenarios' verdicts (UNKNOWN when none ran).
func (d *Drill) Combine() {
	vs := make([]finding.Verdict, 0, len(d.Scenarios))
	for _, s := range d.Scenarios {
		vs = append(vs, s.Verdict)
	}
	d.Verdict = finding.Combine(vs...)
}

// ReadDrill reads a drill report, refusing a document of another schema or version.
func ReadDrill(r io.Reader) (*Drill, error) {
	var d Drill
	if err := json.NewDecoder(r).Decode(&d); err != nil {
		return nil, fmt.Errorf("drill report: %w", err)
	}
	if d.Schema != DrillSchema {
		return nil, fmt.Errorf("drill report: schema %q, want %q", d.Schema, DrillSchema)
	}
	if d.SchemaVersion != DrillSchemaVersion {
		return nil, fmt.Errorf("drill report: schema version %d, this build reads version %d", d.SchemaVersion, DrillSchemaVersion)
	}
	return &d, nil
}

// Phase is one step's duration.
type Phase struct {
	Name    string        `json:"name"`
	Elapsed time.Duration `json:"elapsed_ns"`
}

// Table is one table's line in the summary.
type Table struct {
	Table    string `json:"table"`
	Backup   int64  `json:"rows_in_backup"`
	Inserted int64  `json:"inserted"`
	Matched  int64  `json:"matched"`
	Present  int64  `json:"present"`
	Diverged int64  `json:"diverged"`
	// Updated counts diverged rows overwritten (restore.Update, as the drill restores).
	Updated int64 `json:"updated"`
	// Lost counts rows of the backup that are not in the target; Orphaned, rows whose reference
	// points at no row (both from the restore's findings).
	Lost     int64           `json:"lost"`
	Orphaned int64           `json:"orphaned"`
	Verdict  finding.Verdict `json:"verdict"`
}

// WriteJSON writes the report as indented JSON, stamped with the schema and its version.
func (d *Drill) WriteJSON(w io.Writer) error {
	doc := *d
	doc.Schema, doc.SchemaVersion = DrillSchema, DrillSchemaVersion
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(&doc)
}

func short(h string) string {
	if len(h) > 16 {
		return h[:16]
	}
	if h == "" {
		return "-"
	}
	return h
}

// WriteText writes the summary table people read in a terminal.
func (d *Drill) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "drill %s (%s, PostgreSQL %s), scale %s, seed %d\n", d.Dataset, d.Provider, versions(d), d.Scale, d.Seed)
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "table\tin backup\tinserted\tmatched\tdiverged\tupdated\tverdict\t")
	for _, t := range d.Tables {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%s\t\n", t.Table, t.Backup, t.Inserted+t.Present, t.Matched, t.Diverged, t.Updated, t.Verdict)
	}
	tw.Flush()
	fmt.Fprintf(&b, "digest before %s\ndigest after  %s\n", orDash(d.DigestBefore), orDash(d.DigestAfter))
	var failed []string
	for _, s := range d.Scenarios {
		for _, c := range s.Checks {
			if c.Verdict != finding.Pass {
				name := c.Name
				if c.Table != "" {
					name += " " + c.Table
				}
				failed = append(failed, fmt.Sprintf("  %s %s: %s: %s", c.Verdict, s.Name, name, c.Evidence))
			}
		}
	}
	if len(failed) > 0 {
		fmt.Fprintf(&b, "checks not passed:\n%s\n", strings.Join(failed, "\n"))
	}
	if len(d.Scenarios) > 1 {
		var ss []string
		for _, s := range d.Scenarios {
			ss = append(ss, s.Name+" "+string(s.Verdict))
		}
		fmt.Fprintf(&b, "scenarios: %s\n", strings.Join(ss, ", "))
	}
	for _, f := range d.Findings() {
		if f.Severity == finding.Error {
			fmt.Fprintf(&b, "  %s\n", f)
		}
	}
	var phases []string
	for _, p := range d.Phases {
		phases = append(phases, fmt.Sprintf("%s %s", p.Name, p.Elapsed.Round(time.Millisecond)))
	}
	fmt.Fprintf(&b, "phases: %s\n", strings.Join(phases, ", "))
	if d.Error != "" {
		fmt.Fprintf(&b, "error: %s\n", d.Error)
	}
	fmt.Fprintf(&b, "verdict %s in %s (%d rows, package %d bytes, peak memory %d MiB)\n", d.Verdict, d.Elapsed.Round(time.Millisecond), d.Rows, d.PackageBytes, d.PeakRSSBytes>>20)
	if d.Verdict != finding.Pass && d.Replay != "" {
		fmt.Fprintf(&b, "replay: %s\n", d.Replay)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteMarkdown writes the report for a CI job page ($GITHUB_STEP_SUMMARY): the verdict, the
// scenario matrix, the per-table recovery, every check not passed with its evidence, the error
// findings, the bench's ratios against their budget, and the replay command of a drill not passed.
func (d *Drill) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	icon := map[finding.Verdict]string{finding.Pass: "✅", finding.Fail: "❌"}
	mark := func(v finding.Verdict) string {
		if i, ok := icon[v]; ok {
			return i + " " + string(v)
		}
		return "❔ " + string(v)
	}
	fmt.Fprintf(&b, "## %s Drill %s — %s\n\n", strings.Fields(mark(d.Verdict))[0], d.Dataset, d.Verdict)
	fmt.Fprintf(&b, "Provider %s, PostgreSQL %s, scale %s, seed %d, %s, %d rows, package %d bytes.\n\n", d.Provider, versions(d), d.Scale, d.Seed, d.Elapsed.Round(time.Millisecond), d.Rows, d.PackageBytes)
	if d.Error != "" {
		fmt.Fprintf(&b, "> **The drill stopped:** %s\n\n", mdCell(d.Error))
	}
	b.WriteString("| scenario | verdict | checks passed | failed | unknown | time |\n|---|---|---:|---:|---:|---:|\n")
	for _, s := range d.Scenarios {
		var p, f, u int
		for _, c := range s.Checks {
			switch c.Verdict {
			case finding.Pass:
				p++
			case finding.Fail:
				f++
			default:
				u++
			}
		}
		fmt.Fprintf(&b, "| %s | %s | %d | %d | %d | %s |\n", s.Name, mark(s.Verdict), p, f, u, s.Elapsed.Round(time.Millisecond))
	}
	if len(d.Tables) > 0 {
		b.WriteString("\n| table | in backup | inserted | matched | diverged | updated | lost | orphaned | verdict |\n|---|---:|---:|---:|---:|---:|---:|---:|---|\n")
		for _, t := range d.Tables {
			fmt.Fprintf(&b, "| %s | %d | %d | %d | %d | %d | %d | %d | %s |\n", t.Table, t.Backup, t.Inserted+t.Present, t.Matched, t.Diverged, t.Updated, t.Lost, t.Orphaned, t.Verdict)
		}
	}
	var notPassed []string
	for _, s := range d.Scenarios {
		for _, c := range s.Checks {
			if c.Verdict != finding.Pass {
				name := c.Name
				if c.Table != "" {
					name += " " + c.Table
				}
				notPassed = append(notPassed, fmt.Sprintf("| %s | %s | %s | %s |", s.Name, mark(c.Verdict), mdCell(name), mdCell(c.Evidence)))
			}
		}
	}
	if len(notPassed) > 0 {
		b.WriteString("\n### Checks not passed\n\n| scenario | verdict | check | evidence |\n|---|---|---|---|\n")
		b.WriteString(strings.Join(notPassed, "\n") + "\n")
	}
	var errs []string
	for _, f := range d.Findings() {
		if f.Severity == finding.Error {
			errs = append(errs, "- "+mdCell(f.String()))
		}
	}
	if len(errs) > 0 {
		b.WriteString("\n### Findings\n\n" + strings.Join(errs, "\n") + "\n")
	}
	var bench []string
	for _, s := range d.Scenarios {
		for _, r := range s.Bench {
			m := mark(finding.Pass)
			switch {
			case r.Within():
			case s.Verdict == finding.Fail:
				m = mark(finding.Fail)
			default: // the budget is reported, not enforced (drill without --bench-budget)
				m = "⚠️ over budget, not enforced"
			}
			bench = append(bench, fmt.Sprintf("| %s | %.2f %s | %.2f %s | %.2f | %.2f | %s |", r.Name, r.Value, r.Unit, r.Baseline, r.Unit, r.Ratio, r.Budget, m))
		}
	}
	if len(bench) > 0 {
		b.WriteString("\n### Bench\n\n| measure | value | baseline | ratio | budget | |\n|---|---:|---:|---:|---:|---|\n")
		b.WriteString(strings.Join(bench, "\n") + "\n")
	}
	fmt.Fprintf(&b, "\nDigest before `%s`, after `%s`.\n", short(d.DigestBefore), short(d.DigestAfter))
	if d.Verdict != finding.Pass && d.Replay != "" {
		fmt.Fprintf(&b, "\nReplay: `%s`\n", d.Replay)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// mdCell makes s safe in a Markdown table cell: pipes escaped, newlines as spaces.
func mdCell(s string) string {
	return strings.NewReplacer("|", "\\|", "\n", " ", "\r", "").Replace(s)
}

func versions(d *Drill) string {
	if d.TargetVersion != 0 && d.TargetVersion != d.SourceVersion {
		return fmt.Sprintf("%d → %d", d.SourceVersion, d.TargetVersion)
	}
	return fmt.Sprint(d.SourceVersion)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
