// Package bench_test measures the natural-key path (backup + reconciling restore) against the
// id-based path on the same data in the same run (COPY out, COPY into empty tables keeping ids),
// and against pg_dump/pg_restore, and reports ratios and peak memory — never bare times as a
// verdict. Scale and samples: EDMSDR_BENCH_SCALE, EDMSDR_BENCH_SAMPLES.
package bench_test

import (
	"testing"
	"time"

	"github.com/edmsdr/edmsdr/fixtures/provider"
	"github.com/edmsdr/edmsdr/suites/suitekit"
)

var (
	knobs = suitekit.LoadKnobs()
	srv   provider.Server
	bin   string
)

func TestBench(t *testing.T) { suitekit.RunSuite(t, "Bench suite") }

var _ = suitekit.CLISuite(knobs, &bin, &srv, 3*time.Minute)
