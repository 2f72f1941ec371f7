package reports

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/edmsdr/edmsdr/engine/finding"
)

// HistoryFile is the file of a history directory that each drill appends its line to.
const HistoryFile = "history.jsonl"

// Run is one drill's line in a history directory: enough to draw a trend over earlier runs.
type Run struct {
	SchemaVersion int                        `json:"schema_version"`
	StartedAt     time.Time                  `json:"started_at"`
	Dataset       string                     `json:"dataset"`
	Provider      string                     `json:"provider"`
	Scale         string                     `json:"scale"`
	Verdict       finding.Verdict            `json:"verdict"`
	Elapsed       time.Duration              `json:"elapsed_ns"`
	Rows          int64                      `json:"rows"`
	Lost          int64                      `json:"lost"`
	Scenarios     map[string]finding.Verdict `json:"scenarios"`
	Phases        map[string]time.Duration   `json:"phases_ns"`
	Bench         map[string]float64         `json:"bench_ratios,omitempty"`
}

// RunOf returns the report's history line.
func (d *Drill) RunOf() Run {
	r := Run{
		SchemaVersion: DrillSchemaVersion, StartedAt: d.StartedAt.UTC(), Dataset: d.Dataset, Provider: d.Provider, Scale: d.Scale,
		Verdict: d.Verdict, Elapsed: d.Elapsed, Rows: d.Rows, Scenarios: map[string]finding.Verdict{}, Phases: map[string]time.Duration{},
	}
	for _, t := range d.Tables {
		r.Lost += t.Lost
	}
	for _, s := range d.Scenarios {
		r.Scenarios[s.Name] = s.Verdict
		for _, b := range s.Bench {
			if r.Bench == nil {
				r.Bench = map[string]float64{}
			}
			r.Bench[b.Name] = b.Ratio
		}
	}
	for _, p := range d.Phases {
		r.Phases[p.Name] += p.Elapsed
	}
	return r
}

// AppendHistory appends the report's line to dir/history.jsonl (creating both): one write of one
// line, so that concurrent drills never interleave within a line.
func AppendHistory(dir string, d *Drill) error {
	line, err := json.Marshal(d.RunOf())
	if err != nil {
		return fmt.Errorf("history: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("history: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, HistoryFile), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("history: %w", err)
	}
	if _, err := f.Write(append(line, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("history %s: %w", f.Name(), err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("history: %w", err)
	}
	return nil
}

// ReadHistory reads dir/history.jsonl, oldest first. A missing file is an empty history. Lines
// that are not a run of this schema version (a torn last line, a future format) are skipped and
// counted in skipped, so that a trend is drawn from what can be trusted and says what it left out.
func ReadHistory(dir string) (runs []Run, skipped int, err error) {
	f, err := os.Open(filepath.Join(dir, HistoryFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("history: %w", err)
	}
	defer f.Close()
	return readHistory(f)
}

func readHistory(r io.Reader) (runs []Run, skipped int, err error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		if len(sc.Bytes()) == 0 {
			continue
		}
		var run Run
		if json.Unmarshal(sc.Bytes(), &run) != nil || run.SchemaVersion != DrillSchemaVersion || run.StartedAt.IsZero() {
			skipped++
			continue
		}
		runs = append(runs, run)
	}
	if err := sc.Err(); err != nil {
		return nil, 0, fmt.Errorf("history: %w", err)
	}
	return runs, skipped, nil
}
