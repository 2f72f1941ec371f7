package reports

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// CorruptionRun is one injection: an injector's damage at one seed, and what verify and restore did.
type CorruptionRun struct {
	Injector  string `json:"injector"`
	AppliesTo string `json:"applies_to"`
	// Expected is the declared detection ("restore: orphaned", "harmless: restores exactly").
	Expected string `json:"expected"`
	Seed     int64  `json:"seed"`
	// Detected: every stage did what the injector declares (refused with an acceptable kind, or
	// restored exactly for harmless damage).
	Detected bool `json:"detected"`
	// Untouched: the target is as it must be afterwards: exactly as before a refusal, holding
	// exactly the package's data after a harmless one.
	Untouched bool `json:"untouched"`
	// Outcome says what happened, for people ("verify refused: corrupt; restore refused: corrupt").
	Outcome string `json:"outcome"`
}

// FlipTrial is one trial of the random-flip property: damage at a level, seed and trial number,
// and its result: "refused", "exact" (restored exactly right) or "wrong" (anything else).
type FlipTrial struct {
	Level   string `json:"level"`
	Seed    int64  `json:"seed"`
	Trial   int    `json:"trial"`
	Result  string `json:"result"`
	Outcome string `json:"outcome,omitempty"`
}

// Flip results.
const (
	FlipRefused = "refused"
	FlipExact   = "exact"
	FlipWrong   = "wrong"
)

// Corruption is the corruption suite's report: per injector, how many injections were made,
// detected as declared, and left the target as it must be (all three equal when the engine is
// right), and per level the random-flip property's tally.
type Corruption struct {
	StartedAt time.Time         `json:"started_at"`
	Elapsed   time.Duration     `json:"elapsed_ns"`
	Seeds     []int64           `json:"seeds"`
	Injectors []CorruptionLine  `json:"injectors"`
	Flips     []FlipLine        `json:"flips"`
	Failures  []CorruptionRun   `json:"failures,omitempty"`
	Wrong     []FlipTrial       `json:"wrong_flips,omitempty"`
	Totals    CorruptionTotals  `json:"totals"`
	Replay    map[string]string `json:"replay,omitempty"`
}

// CorruptionLine is one injector's tally.
type CorruptionLine struct {
	Injector  string `json:"injector"`
	AppliesTo string `json:"applies_to"`
	Expected  string `json:"expected"`
	Injected  int    `json:"injected"`
	Detected  int    `json:"detected"`
	Untouched int    `json:"untouched"`
}

// OK reports whether every injection was detected and left the target as it must be.
func (l CorruptionLine) OK() bool {
	return l.Injected > 0 && l.Detected == l.Injected && l.Untouched == l.Injected
}

// FlipLine is the random-flip property's tally at one level.
type FlipLine struct {
	Level   string `json:"level"`
	Trials  int    `json:"trials"`
	Refused int    `json:"refused"`
	Exact   int    `json:"exact"`
	Wrong   int    `json:"wrong"`
}

// CorruptionTotals sums every line.
type CorruptionTotals struct {
	Injectors  int `json:"injectors"`
	Injected   int `json:"injected"`
	Detected   int `json:"detected"`
	Untouched  int `json:"untouched"`
	FlipTrials int `json:"flip_trials"`
	FlipWrong  int `json:"flip_wrong"`
}

// NewCorruption tallies runs and flip trials (in any order) into a report, sorted by injector
// and level.
func NewCorruption(runs []CorruptionRun, flips []FlipTrial) *Corruption {
	c := &Corruption{Injectors: []CorruptionLine{}, Flips: []FlipLine{}}
	lines := map[string]*CorruptionLine{}
	seeds := map[int64]bool{}
	for _, r := range runs {
		l := lines[r.Injector]
		if l == nil {
			l = &CorruptionLine{Injector: r.Injector, AppliesTo: r.AppliesTo, Expected: r.Expected}
			lines[r.Injector] = l
		}
		l.Injected++
		if r.Detected {
			l.Detected++
		}
		if r.Untouched {
			l.Untouched++
		}
		if !r.Detected || !r.Untouched {
			c.Failures = append(c.Failures, r)
		}
		seeds[r.Seed] = true
	}
	for _, l := range lines {
		c.Injectors = append(c.Injectors, *l)
		c.Totals.Injected += l.Injected
		c.Totals.Detected += l.Detected
		c.Totals.Untouched += l.Untouched
	}
	c.Totals.Injectors = len(c.Injectors)
	sort.Slice(c.Injectors, func(i, j int) bool {
		a, b := c.Injectors[i], c.Injectors[j]
		return a.AppliesTo > b.AppliesTo || a.AppliesTo == b.AppliesTo && a.Injector < b.Injector
	})
	sort.Slice(c.Failures, func(i, j int) bool {
		a, b := c.Failures[i], c.Failures[j]
		return a.Injector < b.Injector || a.Injector == b.Injector && a.Seed < b.Seed
	})
	levels := map[string]*FlipLine{}
	for _, f := range flips {
		l := levels[f.Level]
		if l == nil {
			l = &FlipLine{Level: f.Level}
			levels[f.Level] = l
		}
		l.Trials++
		switch f.Result {
		case FlipRefused:
			l.Refused++
		case FlipExact:
			l.Exact++
		default:
			l.Wrong++
			c.Wrong = append(c.Wrong, f)
		}
		seeds[f.Seed] = true
	}
	for _, l := range levels {
		c.Flips = append(c.Flips, *l)
		c.Totals.FlipTrials += l.Trials
		c.Totals.FlipWrong += l.Wrong
	}
	sort.Slice(c.Flips, func(i, j int) bool { return c.Flips[i].Level < c.Flips[j].Level })
	sort.Slice(c.Wrong, func(i, j int) bool {
		a, b := c.Wrong[i], c.Wrong[j]
		return a.Level < b.Level || a.Level == b.Level && (a.Seed < b.Seed || a.Seed == b.Seed && a.Trial < b.Trial)
	})
	for s := range seeds {
		c.Seeds = append(c.Seeds, s)
	}
	sort.Slice(c.Seeds, func(i, j int) bool { return c.Seeds[i] < c.Seeds[j] })
	return c
}

// OK reports whether every injection was detected, every target as it must be, and no flip
// trial went wrong.
func (c *Corruption) OK() bool {
	for _, l := range c.Injectors {
		if !l.OK() {
			return false
		}
	}
	return c.Totals.FlipWrong == 0
}

// WriteJSON writes the report as indented JSON.
func (c *Corruption) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(c)
}

// WriteMarkdown writes the report for CI job pages: the verdict, one table line per injector
// (failing lines marked), the flip tally, and every failure with its seed.
func (c *Corruption) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	verdict := "PASS"
	if !c.OK() {
		verdict = "FAIL"
	}
	fmt.Fprintf(&b, "# Corruption: %s\n\n", verdict)
	fmt.Fprintf(&b, "%d injectors, %d injections: %d detected, %d left the target as it must be. Seeds %s. %s.\n\n",
		c.Totals.Injectors, c.Totals.Injected, c.Totals.Detected, c.Totals.Untouched, joinSeeds(c.Seeds), c.Elapsed.Round(time.Millisecond))
	b.WriteString("| injector | applies to | expected | injected | detected | untouched |\n| --- | --- | --- | ---: | ---: | ---: |\n")
	for _, l := range c.Injectors {
		name := l.Injector
		if !l.OK() {
			name = "**" + name + "** ✗"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %d | %d | %d |\n", name, l.AppliesTo, mdEscape(l.Expected), l.Injected, l.Detected, l.Untouched)
	}
	b.WriteString("\n\"untouched\": the target exactly as before a refusal; for harmless damage, exactly the package's data.\n")
	if len(c.Flips) > 0 {
		b.WriteString("\n## Random flips\n\n| level | trials | refused | restored exactly | wrong |\n| --- | ---: | ---: | ---: | ---: |\n")
		for _, l := range c.Flips {
			fmt.Fprintf(&b, "| %s | %d | %d | %d | %d |\n", l.Level, l.Trials, l.Refused, l.Exact, l.Wrong)
		}
	}
	if len(c.Failures) > 0 || len(c.Wrong) > 0 {
		b.WriteString("\n## Failures\n\n")
		for _, f := range c.Failures {
			fmt.Fprintf(&b, "- `%s` seed %d: %s\n", f.Injector, f.Seed, mdEscape(f.Outcome))
		}
		for _, f := range c.Wrong {
			fmt.Fprintf(&b, "- flips at %s level, seed %d trial %d: %s\n", f.Level, f.Seed, f.Trial, mdEscape(f.Outcome))
		}
	}
	if len(c.Replay) > 0 {
		b.WriteString("\n## Replay\n\n")
		keys := make([]string, 0, len(c.Replay))
		for k := range c.Replay {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(&b, "- %s: `%s`\n", k, c.Replay[k])
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func joinSeeds(seeds []int64) string {
	if len(seeds) == 0 {
		return "-"
	}
	s := make([]string, len(seeds))
	for i, n := range seeds {
		s[i] = fmt.Sprint(n)
	}
	return strings.Join(s, ",")
}

// mdEscape keeps text inside one Markdown table cell.
func mdEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}
