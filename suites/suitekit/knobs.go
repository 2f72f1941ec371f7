// Package suitekit is the suites' shared bootstrap: the knobs read from the environment (in this
// one file), a PostgreSQL server per Ginkgo process, a database per spec, and small steps (backup,
// restore, digest) that specs compose. Only suites import it.
package suitekit

import (
	"cmp"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Knobs are every setting the suites read from the environment. The container image
// (EDMSDR_PG_IMAGE) is not one of them: fixtures/containerpg reads it, for the suites and the drill
// alike.
type Knobs struct {
	// DB picks the server: auto, local, container or a DSN (EDMSDR_DB, default auto).
	DB string
	// Seeds are the seeds multi-seed specs run (EDMSDR_SEEDS, comma-separated, default 1,2,3).
	Seeds []int64
	// BenchScale is the data size of the bench suite (EDMSDR_BENCH_SCALE, default tiny).
	BenchScale string
	// BenchSamples is how many times the bench suite measures each path (EDMSDR_BENCH_SAMPLES, default 3).
	BenchSamples int
	// BenchBudget makes the bench suite fail when the performance budget is broken
	// (EDMSDR_BENCH_BUDGET=1, set by make bench); otherwise it only measures.
	BenchBudget bool
	// BenchReport is a file the bench suite writes its Markdown report to (EDMSDR_BENCH_REPORT,
	// default none).
	BenchReport string
	// BenchLogs is a directory the bench suite writes each edmsdr run's -v log to (EDMSDR_BENCH_LOGS,
	// default none): the per-table and per-step timings behind the phase split.
	BenchLogs string
	// CorruptionReport is the directory of the corruption suite's report, relative to the module
	// root unless absolute (EDMSDR_CORRUPTION_REPORT, default out/corruption).
	CorruptionReport string
	// CorruptionFlips is how many random-flip trials the corruption suite runs per seed and level
	// (EDMSDR_CORRUPTION_FLIPS, default 8).
	CorruptionFlips int
	// ZooSeeds are the seeds of the random schemas the zoo suite restores (EDMSDR_ZOO_SEEDS:
	// comma-separated seeds or ranges A-B, default 1-24; make zoo-soak runs many more).
	ZooSeeds []int64
	// LargeValueMiB is the size of the largest bytea the large-value spec backs up and restores
	// (EDMSDR_LARGE_VALUE_MIB, default 64; make large-values sets 500, about the most PostgreSQL
	// writes in COPY text).
	LargeValueMiB int
	// CLIDir is a directory holding edmsdr and edmsdr-drill built from this tree (EDMSDR_CLI_DIR,
	// default none): make test builds them there once for every suite, and BuildCLI then builds
	// nothing.
	CLIDir string
	// Err is the first malformed variable met by LoadKnobs.
	Err error
}

// ReadKnobs reads the knobs; a malformed value is an error naming the variable.
func ReadKnobs() (Knobs, error) {
	k := Knobs{DB: cmp.Or(os.Getenv("EDMSDR_DB"), "auto")}
	k.BenchScale = cmp.Or(os.Getenv("EDMSDR_BENCH_SCALE"), "tiny")
	samples := cmp.Or(os.Getenv("EDMSDR_BENCH_SAMPLES"), "3")
	n, err := strconv.Atoi(samples)
	if err != nil || n < 1 {
		return k, fmt.Errorf("EDMSDR_BENCH_SAMPLES: %q is not a positive integer", samples)
	}
	k.BenchSamples = n
	switch b := os.Getenv("EDMSDR_BENCH_BUDGET"); b {
	case "", "0":
	case "1":
		k.BenchBudget = true
	default:
		return k, fmt.Errorf("EDMSDR_BENCH_BUDGET: %q is neither 0 nor 1", b)
	}
	k.CLIDir = os.Getenv("EDMSDR_CLI_DIR")
	k.BenchReport = os.Getenv("EDMSDR_BENCH_REPORT")
	k.BenchLogs = os.Getenv("EDMSDR_BENCH_LOGS")
	k.CorruptionReport = cmp.Or(os.Getenv("EDMSDR_CORRUPTION_REPORT"), "out/corruption")
	flips := cmp.Or(os.Getenv("EDMSDR_CORRUPTION_FLIPS"), "8")
	if k.CorruptionFlips, err = strconv.Atoi(flips); err != nil || k.CorruptionFlips < 0 {
		return k, fmt.Errorf("EDMSDR_CORRUPTION_FLIPS: %q is not a non-negative integer", flips)
	}
	large := cmp.Or(os.Getenv("EDMSDR_LARGE_VALUE_MIB"), "64")
	if k.LargeValueMiB, err = strconv.Atoi(large); err != nil || k.LargeValueMiB < 1 || k.LargeValueMiB > 1024 {
		return k, fmt.Errorf("EDMSDR_LARGE_VALUE_MIB: %q is not an integer from 1 to 1024", large)
	}
	seeds := cmp.Or(os.Getenv("EDMSDR_SEEDS"), "1,2,3")
	for _, s := range strings.Split(seeds, ",") {
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return k, fmt.Errorf("EDMSDR_SEEDS: %q is not a list of integers", seeds)
		}
		k.Seeds = append(k.Seeds, n)
	}
	zoo := cmp.Or(os.Getenv("EDMSDR_ZOO_SEEDS"), "1-24")
	if k.ZooSeeds, err = seedRanges(zoo); err != nil {
		return k, fmt.Errorf("EDMSDR_ZOO_SEEDS: %q is not a list of seeds or ranges A-B", zoo)
	}
	return k, nil
}

// seedRanges parses "1,5,10-20" into its seeds, in order.
func seedRanges(s string) ([]int64, error) {
	var out []int64
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(part), "-")
		a, err := strconv.ParseInt(lo, 10, 64)
		if err != nil {
			return nil, err
		}
		b := a
		if isRange {
			if b, err = strconv.ParseInt(hi, 10, 64); err != nil || b < a || b-a > 1_000_000 {
				return nil, fmt.Errorf("bad range %q", part)
			}
		}
		for n := a; n <= b; n++ {
			out = append(out, n)
		}
	}
	return out, nil
}

// LoadKnobs reads the knobs at suite construction. A malformed value does not stop the tree from
// being built: defaults stand in, and Err (checked in BeforeSuite) names the variable.
func LoadKnobs() Knobs {
	k, err := ReadKnobs()
	if err != nil {
		k.Seeds = []int64{1, 2, 3}
		k.BenchSamples = 1
		k.CorruptionFlips = 1
		k.ZooSeeds = []int64{1}
		k.LargeValueMiB = max(k.LargeValueMiB, 1)
		k.CorruptionReport = cmp.Or(k.CorruptionReport, "out/corruption")
		k.Err = err
	}
	return k
}
