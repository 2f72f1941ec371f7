package main

import "github.com/edmsdr/edmsdr/engine/restore"

// reportView returns what restore --report writes: the result with the natural keys of rows and
// the server's detail about them (row content) left out of its findings unless keepKeys. Counts, digests, verdicts and locators
// (table, column, constraint) stay. Stderr still names the failing rows: an operator needs them,
// and a terminal is not an artifact that gets archived and shared the way report files are.
func reportView(res *restore.Result, keepKeys bool) *restore.Result {
	if res == nil || keepKeys {
		return res
	}
	out := *res
	out.Findings = res.Findings.Redacted()
	return &out
}
