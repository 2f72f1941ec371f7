package reports

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"math"
	"time"

	"github.com/edmsdr/edmsdr/engine/finding"
)

//go:embed drill.html.tmpl
var drillHTML string

var drillTemplate = template.Must(template.New("drill").Funcs(template.FuncMap{
	"color":    verdictColor,
	"dur":      func(d time.Duration) string { return d.Round(time.Millisecond).String() },
	"short":    short,
	"mib":      func(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) },
	"f2":       func(v float64) string { return fmt.Sprintf("%.2f", v) },
	"f1":       func(v float64) string { return fmt.Sprintf("%.1f", v) },
	"restored": func(t Table) int64 { return t.Inserted + t.Matched + t.Present },
	"rfc3339":  func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
}).Parse(drillHTML))

// HTMLOptions adds what the report alone does not hold: earlier runs for the trend.
type HTMLOptions struct {
	// History are earlier runs, oldest first (ReadHistory); Skipped counts history lines left out.
	History []Run
	Skipped int
}

// WriteHTML writes the report as one self-contained HTML page (inline CSS and SVG, no script, no
// network): the verdict, the scenario matrix, per-table recovery, phase timings, the bench's
// ratios against their budget line, the trend over the runs in opts.History, and every check
// not passed with its evidence and findings.
func (d *Drill) WriteHTML(w io.Writer, opts HTMLOptions) error {
	if err := drillTemplate.Execute(w, htmlView(d, opts)); err != nil {
		return fmt.Errorf("html report: %w", err)
	}
	return nil
}

// The page's data: the report, plus chart geometry computed here so that the template only draws.
type htmlPage struct {
	D        *Drill
	NotPass  []scenarioCheck
	Findings finding.List
	Matrix   []matrixRow
	MatrixW  int
	Tables   []tableBar
	TablesH  int
	Phases   []bar
	PhasesH  int
	Bench    []benchBar
	BenchH   int
	BudgetX  float64
	Budget   float64
	Trend    *trend
	Skipped  int
}

type scenarioCheck struct {
	Scenario string
	finding.Check
}

type matrixRow struct {
	Scenario
	Y                    int
	H                    int
	Cells                []matrixCell
	Passed, Failed, Unkn int
}

type matrixCell struct {
	X, Y  int
	Color string
	Title string
}

type bar struct {
	Label string
	Y     int
	W     float64
	Value string
}

type segment struct {
	X, W  float64
	Color string
	Title string
}

type tableBar struct {
	Table
	Y        int
	Segments []segment
}

type benchBar struct {
	Ratio
	Y     int
	W     float64
	Color string
}

type trend struct {
	W, H    int
	Path    string
	Points  []trendPoint
	MaxSecs float64
	First   string
	Last    string
	Runs    int
	// Recent are the last runs, newest first, for the table under the chart.
	Recent []Run
}

type trendPoint struct {
	X, Y  float64
	Color string
	Title string
}

const (
	// matrixPerLine is how many check cells a scenario's line of the matrix holds before wrapping.
	matrixPerLine = 24
	chartLabelW   = 220.0
	chartBarW     = 420.0
	rowH          = 22
)

func verdictColor(v finding.Verdict) string {
	switch v {
	case finding.Pass:
		return "#1a7f37"
	case finding.Fail:
		return "#cf222e"
	default:
		return "#9a6700"
	}
}

func htmlView(d *Drill, opts HTMLOptions) htmlPage {
	p := htmlPage{D: d, Findings: d.Findings(), Skipped: opts.Skipped, Budget: 1.10}
	maxChecks := 1
	for i, s := range d.Scenarios {
		row := matrixRow{Scenario: s, Y: i * rowH}
		for j, c := range s.Checks {
			title := c.Name
			if c.Table != "" {
				title += " " + c.Table
			}
			row.Cells = append(row.Cells, matrixCell{X: j % matrixPerLine * 14, Y: j / matrixPerLine * 14, Color: verdictColor(c.Verdict), Title: fmt.Sprintf("%s: %s — %s", title, c.Verdict, c.Evidence)})
			switch c.Verdict {
			case finding.Pass:
				row.Passed++
			case finding.Fail:
				row.Failed++
			default:
				row.Unkn++
			}
			if c.Verdict != finding.Pass {
				p.NotPass = append(p.NotPass, scenarioCheck{s.Name, c})
			}
		}
		if len(s.Checks) == 0 {
			row.Cells = append(row.Cells, matrixCell{Color: verdictColor(s.Verdict), Title: fmt.Sprintf("%s: no check ran — %s", s.Verdict, s.Error)})
		}
		maxChecks = max(maxChecks, min(len(row.Cells), matrixPerLine))
		row.H = (len(row.Cells)+matrixPerLine-1)/matrixPerLine*14 - 2
		p.Matrix = append(p.Matrix, row)
	}
	p.MatrixW = maxChecks * 14

	var maxRows int64 = 1
	for _, t := range d.Tables {
		maxRows = max(maxRows, t.Backup, t.Inserted+t.Matched+t.Present+t.Diverged+t.Lost)
	}
	for i, t := range d.Tables {
		tb := tableBar{Table: t, Y: i * rowH}
		x := 0.0
		for _, s := range []struct {
			n     int64
			color string
			what  string
		}{{t.Inserted + t.Present, "#1a7f37", "inserted"}, {t.Matched, "#0969da", "matched"}, {t.Diverged, "#bc4c00", "diverged"}, {t.Lost, "#cf222e", "lost"}} {
			if s.n == 0 {
				continue
			}
			w := chartBarW * float64(s.n) / float64(maxRows)
			tb.Segments = append(tb.Segments, segment{X: x, W: w, Color: s.color, Title: fmt.Sprintf("%s: %d %s", t.Table, s.n, s.what)})
			x += w
		}
		p.Tables = append(p.Tables, tb)
	}
	p.TablesH = max(len(d.Tables), 1) * rowH

	var maxPhase time.Duration = 1
	for _, ph := range d.Phases {
		maxPhase = max(maxPhase, ph.Elapsed)
	}
	for i, ph := range d.Phases {
		p.Phases = append(p.Phases, bar{Label: ph.Name, Y: i * rowH, W: chartBarW * float64(ph.Elapsed) / float64(maxPhase), Value: ph.Elapsed.Round(time.Millisecond).String()})
	}
	p.PhasesH = max(len(d.Phases), 1) * rowH

	scale := 1.5 // the bench chart spans ratios 0 to 1.5 (longer bars are clipped, the label says)
	for _, s := range d.Scenarios {
		for _, r := range s.Bench {
			p.Budget = r.Budget
			scale = max(scale, r.Budget*1.2)
		}
	}
	for _, s := range d.Scenarios {
		for _, r := range s.Bench {
			c := verdictColor(finding.Pass)
			switch {
			case r.Within():
			case s.Verdict == finding.Fail:
				c = verdictColor(finding.Fail)
			default: // over a budget the scenario did not enforce: amber, not red
				c = verdictColor(finding.Unknown)
			}
			p.Bench = append(p.Bench, benchBar{Ratio: r, Y: len(p.Bench) * rowH, W: chartBarW * math.Min(r.Ratio, scale) / scale, Color: c})
		}
	}
	p.BenchH = max(len(p.Bench), 1) * rowH
	p.BudgetX = chartLabelW + chartBarW*p.Budget/scale

	if len(opts.History) > 0 {
		t := &trend{W: 640, H: 160, Runs: len(opts.History)}
		for _, r := range opts.History {
			t.MaxSecs = max(t.MaxSecs, r.Elapsed.Seconds())
		}
		if t.MaxSecs == 0 {
			t.MaxSecs = 1
		}
		n := len(opts.History)
		for i, r := range opts.History {
			x := 40.0
			if n > 1 {
				x += float64(i) * float64(t.W-60) / float64(n-1)
			}
			y := float64(t.H-20) - float64(t.H-40)*r.Elapsed.Seconds()/t.MaxSecs
			cmd := "L"
			if i == 0 {
				cmd = "M"
			}
			t.Path += fmt.Sprintf("%s%.1f %.1f ", cmd, x, y)
			t.Points = append(t.Points, trendPoint{X: x, Y: y, Color: verdictColor(r.Verdict),
				Title: fmt.Sprintf("%s %s %s, %d rows, %d lost", r.StartedAt.UTC().Format(time.RFC3339), r.Verdict, r.Elapsed.Round(time.Millisecond), r.Rows, r.Lost)})
		}
		for i := n - 1; i >= 0 && len(t.Recent) < 10; i-- {
			t.Recent = append(t.Recent, opts.History[i])
		}
		t.First = opts.History[0].StartedAt.UTC().Format("2006-01-02")
		t.Last = opts.History[n-1].StartedAt.UTC().Format("2006-01-02")
		p.Trend = t
	}
	return p
}
