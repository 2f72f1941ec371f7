package reports

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/edmsdr/edmsdr/engine/finding"
)

// WritePrometheus writes the report as Prometheus text-format metrics, for node_exporter's
// textfile collector: success and verdict, start time and duration, each phase's duration, rows
// restored and lost per table, each scenario's success, and the bench's ratios with their budget.
// Every series carries the dataset and provider labels.
func (d *Drill) WritePrometheus(w io.Writer) error {
	var b strings.Builder
	base := fmt.Sprintf(`dataset=%s,provider=%s`, promLabel(d.Dataset), promLabel(d.Provider))
	metric := func(name, help, typ string) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
	}
	sample := func(name, labels string, v float64) {
		if labels != "" {
			labels = "," + labels
		}
		fmt.Fprintf(&b, "%s{%s%s} %s\n", name, base, labels, promFloat(v))
	}
	metric("edmsdr_drill_success", "1 when the last drill's verdict was PASS, else 0.", "gauge")
	sample("edmsdr_drill_success", "", bool01(d.Verdict == finding.Pass))
	metric("edmsdr_drill_verdict", "The last drill's verdict: 1 on the series of its verdict.", "gauge")
	for _, v := range []finding.Verdict{finding.Pass, finding.Fail, finding.Unknown} {
		sample("edmsdr_drill_verdict", "verdict="+promLabel(string(v)), bool01(d.Verdict == v))
	}
	metric("edmsdr_drill_start_timestamp_seconds", "When the last drill started (Unix time).", "gauge")
	sample("edmsdr_drill_start_timestamp_seconds", "", float64(d.StartedAt.Unix()))
	metric("edmsdr_drill_duration_seconds", "How long the last drill took.", "gauge")
	sample("edmsdr_drill_duration_seconds", "", d.Elapsed.Seconds())
	metric("edmsdr_drill_phase_duration_seconds", "How long each phase of the last drill's cycle took.", "gauge")
	for _, p := range d.Phases {
		sample("edmsdr_drill_phase_duration_seconds", "phase="+promLabel(p.Name), p.Elapsed.Seconds())
	}
	metric("edmsdr_drill_scenario_success", "1 when the scenario's verdict was PASS, else 0.", "gauge")
	for _, s := range d.Scenarios {
		sample("edmsdr_drill_scenario_success", "scenario="+promLabel(s.Name), bool01(s.Verdict == finding.Pass))
	}
	metric("edmsdr_drill_rows_in_backup", "Rows of each table in the drill's backup.", "gauge")
	for _, t := range d.Tables {
		sample("edmsdr_drill_rows_in_backup", "table="+promLabel(t.Table), float64(t.Backup))
	}
	metric("edmsdr_drill_rows_restored", "Rows of each table in the target after the restore (inserted, matched or present).", "gauge")
	for _, t := range d.Tables {
		sample("edmsdr_drill_rows_restored", "table="+promLabel(t.Table), float64(t.Inserted+t.Matched+t.Present))
	}
	metric("edmsdr_drill_rows_lost", "Rows of each table in the backup but not in the target.", "gauge")
	for _, t := range d.Tables {
		sample("edmsdr_drill_rows_lost", "table="+promLabel(t.Table), float64(t.Lost))
	}
	metric("edmsdr_drill_rows_restored_total", "Rows restored over every table.", "gauge")
	total := func(name string, f func(Table) int64) {
		var n int64
		for _, t := range d.Tables {
			n += f(t)
		}
		sample(name, "", float64(n))
	}
	total("edmsdr_drill_rows_restored_total", func(t Table) int64 { return t.Inserted + t.Matched + t.Present })
	metric("edmsdr_drill_rows_lost_total", "Rows lost over every table.", "gauge")
	total("edmsdr_drill_rows_lost_total", func(t Table) int64 { return t.Lost })
	var ratios []Ratio
	for _, s := range d.Scenarios {
		ratios = append(ratios, s.Bench...)
	}
	sort.SliceStable(ratios, func(i, j int) bool { return ratios[i].Name < ratios[j].Name })
	if len(ratios) > 0 {
		metric("edmsdr_drill_bench_ratio", "Each bench measurement over its baseline.", "gauge")
		for _, r := range ratios {
			sample("edmsdr_drill_bench_ratio", "measure="+promLabel(r.Name), r.Ratio)
		}
		metric("edmsdr_drill_bench_budget_ratio", "The ratio each bench measurement must stay at or under.", "gauge")
		for _, r := range ratios {
			sample("edmsdr_drill_bench_budget_ratio", "measure="+promLabel(r.Name), r.Budget)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// promLabel quotes a label value: backslash, double quote and newline escaped.
func promLabel(v string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(v) + `"`
}

func promFloat(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

func bool01(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
