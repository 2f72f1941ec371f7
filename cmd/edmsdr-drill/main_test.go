package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/edmsdr/edmsdr/engine/finding"
)

func TestExitCodes(t *testing.T) {
	for _, c := range []struct {
		err  error
		want int
	}{
		{verdictError{finding.Fail}, 1},
		{verdictError{finding.Unknown}, 3},
		{fmt.Errorf("drill: %w", verdictError{finding.Unknown}), 3},
		{usagef("bad"), 2},
		{errors.New("unknown flag: --nope"), 2},
		{errors.New("drill: connect: refused"), 1},
	} {
		if got := exitCode(c.err); got != c.want {
			t.Errorf("exitCode(%v) = %d, want %d", c.err, got, c.want)
		}
	}
}

func TestDefaultReportDirIsNewPerRun(t *testing.T) {
	t.Chdir(t.TempDir())
	now := time.Date(2026, 12, 5, 1, 2, 3, 0, time.UTC)
	first, err := reportDirFor(defaultReport, now)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join("out", "drill", "20261205T010203Z"); first != want {
		t.Errorf("default report directory %s, want %s", first, want)
	}
	second, err := reportDirFor(defaultReport, now)
	if err != nil {
		t.Fatal(err)
	}
	if second == first {
		t.Errorf("two runs in the same second share %s", first)
	}
	for _, d := range []string{first, second} {
		if st, err := os.Stat(d); err != nil || !st.IsDir() {
			t.Errorf("%s not created: %v", d, err)
		}
	}
	if got, _ := reportDirFor("mine", now); got != "mine" {
		t.Errorf("--report mine gives %s", got)
	}
	if got, _ := reportDirFor("", now); got != "" {
		t.Errorf("--report '' gives %q, want none", got)
	}
}
