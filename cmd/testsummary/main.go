// Command testsummary counts the outcomes of a test run from `go test -json` output files and
// Ginkgo JSON reports, prints the failures and a closing line "N passed, M failed, K skipped", and
// exits 1 when anything failed, nothing ran, or a label that must run was skipped.
//
//	testsummary [--require-label L]... FILE...
//
// Files ending in .json whose first byte is '[' are Ginkgo reports; others are go test -json streams.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/edmsdr/edmsdr/reports"
)

type labels []string

func (l *labels) String() string     { return strings.Join(*l, ",") }
func (l *labels) Set(v string) error { *l = append(*l, v); return nil }

func main() {
	var required labels
	flag.Var(&required, "require-label", "fail when a spec with this label was skipped or none ran (repeatable)")
	flag.Parse()
	run := reports.NewTestRun()
	for _, path := range flag.Args() {
		if err := add(run, path); err != nil {
			fmt.Fprintf(os.Stderr, "testsummary: %v\n", err)
			run.Failed++
			run.Failures = append(run.Failures, path+" (unreadable report)")
		}
	}
	bad := false
	for _, l := range required {
		l = strings.ToLower(l)
		if run.SkippedByLabel[l] > 0 || run.PassedByLabel[l] == 0 {
			fmt.Fprintf(os.Stderr, "testsummary: specs labelled %q must run here: %d passed, %d skipped\n", l, run.PassedByLabel[l], run.SkippedByLabel[l])
			run.Failures = append(run.Failures, "required label "+l+" did not run")
			bad = true
		}
	}
	if err := run.WriteSummary(os.Stdout); err != nil {
		os.Exit(1)
	}
	if run.Failed > 0 || run.Passed == 0 || bad {
		os.Exit(1)
	}
}

func add(run *reports.TestRun, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	br := bufio.NewReader(f)
	head, _ := br.Peek(1)
	if len(head) == 1 && head[0] == '[' {
		return run.AddGinkgo(br)
	}
	return run.AddGoTest(br)
}
