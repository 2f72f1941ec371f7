package reports

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
)

// TestRun counts test outcomes from `go test -json` streams and Ginkgo JSON reports.
type TestRun struct {
	Passed, Failed, Skipped int
	// Failures names what failed ("pkg TestX", "suite: spec text").
	Failures []string
	// SkippedByLabel counts skipped Ginkgo specs per label.
	SkippedByLabel map[string]int
	// PassedByLabel counts passed Ginkgo specs per label.
	PassedByLabel map[string]int
	// Output holds the output of failed go tests (bounded).
	Output []string
}

// NewTestRun returns an empty count.
func NewTestRun() *TestRun {
	return &TestRun{SkippedByLabel: map[string]int{}, PassedByLabel: map[string]int{}}
}

type goTestEvent struct {
	Action  string
	Package string
	Test    string
	Output  string
}

// maxFailureLines bounds the output kept per failed test.
const maxFailureLines = 60

// AddGoTest reads a `go test -json` stream. Every test and subtest counts; a package that fails
// without a failing test (a build error, a panic in init) counts as one failure.
func (t *TestRun) AddGoTest(r io.Reader) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	failedTests := map[string]bool{}
	var pkgFails []string
	output := map[string][]string{}
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) == 0 || line[0] != '{' {
			continue // build output interleaved by go test
		}
		var ev goTestEvent
		if err := json.Unmarshal(line, &ev); err != nil {
			continue
		}
		key := ev.Package + " " + ev.Test
		switch {
		case ev.Action == "output":
			if len(output[key]) < maxFailureLines {
				output[key] = append(output[key], strings.TrimRight(ev.Output, "\n"))
			}
		case ev.Test != "" && ev.Action == "pass":
			t.Passed++
		case ev.Test != "" && ev.Action == "fail":
			t.Failed++
			failedTests[ev.Package] = true
			t.Failures = append(t.Failures, ev.Package+" "+ev.Test)
			t.Output = append(t.Output, output[key]...)
		case ev.Test != "" && ev.Action == "skip":
			t.Skipped++
		case ev.Test == "" && ev.Action == "fail":
			pkgFails = append(pkgFails, ev.Package)
		}
	}
	for _, p := range pkgFails {
		if !failedTests[p] {
			t.Failed++
			t.Failures = append(t.Failures, p+" (package failed: build error or crash)")
			t.Output = append(t.Output, output[p+" "]...)
		}
	}
	return sc.Err()
}

type ginkgoSuite struct {
	SuiteDescription string
	SuiteSucceeded   bool
	SpecReports      []struct {
		ContainerHierarchyTexts  []string
		LeafNodeType             string
		LeafNodeText             string
		LeafNodeLabels           []string
		ContainerHierarchyLabels [][]string
		State                    string
	}
}

// AddGinkgo reads a Ginkgo JSON report (--json-report). Specs count by state; a failed setup node
// (BeforeSuite, AfterSuite, ...) counts as a failure; pending specs count as failures (they never land).
func (t *TestRun) AddGinkgo(r io.Reader) error {
	var suites []ginkgoSuite
	if err := json.NewDecoder(r).Decode(&suites); err != nil {
		return fmt.Errorf("ginkgo report: %w", err)
	}
	for _, s := range suites {
		for _, sp := range s.SpecReports {
			name := s.SuiteDescription + ": " + strings.TrimSpace(strings.Join(append(append([]string{}, sp.ContainerHierarchyTexts...), sp.LeafNodeText), " "))
			labels := append([]string{}, sp.LeafNodeLabels...)
			for _, l := range sp.ContainerHierarchyLabels {
				labels = append(labels, l...)
			}
			if sp.LeafNodeType != "It" {
				if sp.State != "passed" && sp.State != "skipped" {
					t.Failed++
					t.Failures = append(t.Failures, fmt.Sprintf("%s [%s %s]", name, sp.LeafNodeType, sp.State))
				}
				continue
			}
			switch sp.State {
			case "passed":
				t.Passed++
				for _, l := range labels {
					t.PassedByLabel[strings.ToLower(l)]++
				}
			case "skipped":
				t.Skipped++
				for _, l := range labels {
					t.SkippedByLabel[strings.ToLower(l)]++
				}
			default:
				t.Failed++
				t.Failures = append(t.Failures, fmt.Sprintf("%s [%s]", name, sp.State))
			}
		}
	}
	return nil
}

// Line is the closing line CI reads: "N passed, M failed, K skipped".
func (t *TestRun) Line() string {
	return fmt.Sprintf("%d passed, %d failed, %d skipped", t.Passed, t.Failed, t.Skipped)
}

// WriteSummary writes the failures and the closing line.
func (t *TestRun) WriteSummary(w io.Writer) error {
	var b strings.Builder
	for _, l := range t.Output {
		b.WriteString(l + "\n")
	}
	sort.Strings(t.Failures)
	for _, f := range t.Failures {
		fmt.Fprintf(&b, "FAILED %s\n", f)
	}
	b.WriteString(t.Line() + "\n")
	_, err := io.WriteString(w, b.String())
	return err
}
