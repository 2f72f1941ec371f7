package corrupt

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/edmsdr/edmsdr/engine/finding"
)

// Target is what an injector damages.
type Target string

// Targets.
const (
	// Package is an edmsdr package (.edmsdr).
	Package Target = "package"
	// Fixture is a Django dumpdata fixture (JSON), restored with `edmsdr restore --in X.json`.
	Fixture Target = "fixture"
)

// Outcome is what one stage (verify, restore) must do with damaged input.
type Outcome string

// Outcomes.
const (
	// Refuse: fail with a *finding.Refused, every error finding of an acceptable kind, the target
	// exactly as it was.
	Refuse Outcome = "refuse"
	// Accept: succeed (verify only): the package is well-formed and its damage is one that only a
	// restore can see, or it is harmless.
	Accept Outcome = "accept"
	// Exact: restore every row: the target's digest equals the original package's digest.
	Exact Outcome = "exact"
	// NotRun: the stage does not apply (a fixture has no offline verify).
	NotRun Outcome = "-"
)

// Detection is what an injector's damage must produce at each stage.
type Detection struct {
	Verify  Outcome
	Restore Outcome
	// Kinds are the acceptable kinds of the error findings of a refusal (at either stage).
	Kinds []finding.Kind
}

// Stage names the stages that must catch the damage: "verify+restore", "restore", or "none"
// for harmless damage that must restore exactly.
func (d Detection) Stage() string {
	switch {
	case d.Verify == Refuse && d.Restore == Refuse:
		return "verify+restore"
	case d.Restore == Refuse:
		return "restore"
	case d.Verify == Refuse:
		return "verify"
	}
	return "none"
}

// String renders the detection for spec names and reports: "restore: orphaned".
func (d Detection) String() string {
	if d.Restore == Exact {
		return "harmless: restores exactly"
	}
	kinds := make([]string, len(d.Kinds))
	for i, k := range d.Kinds {
		kinds[i] = string(k)
	}
	return d.Stage() + ": " + strings.Join(kinds, "|")
}

// Refusal checks err against the detection's kinds: it returns nil when err is a refusal with at
// least one error finding, every one of an acceptable kind, and otherwise says what is wrong.
func (d Detection) Refusal(err error) error {
	if err == nil {
		return errors.New("accepted, want a refusal")
	}
	fl := finding.FindingsOf(err)
	if fl == nil {
		return fmt.Errorf("failed without findings (want a refusal of kind %v): %w", d.Kinds, err)
	}
	return d.Findings(fl)
}

// Findings checks the findings of a refusal against the detection's kinds.
func (d Detection) Findings(fl finding.List) error {
	errs := fl.Errors()
	if len(errs) == 0 {
		return fmt.Errorf("refused without an error finding (findings %v)", fl.Kinds())
	}
	for _, f := range errs {
		if !slices.Contains(d.Kinds, f.Kind) {
			return fmt.Errorf("finding of kind %s, want only %v: %s", f.Kind, d.Kinds, f)
		}
	}
	return nil
}

// Injector is one named, deterministic damage: the same source and seed give the same bytes.
type Injector struct {
	// Name is unique in the registry, lowercase words joined by dashes.
	Name string
	// AppliesTo is what Inject takes and returns.
	AppliesTo Target
	// Seeded says the seed changes the damage (where it falls); unseeded injectors give the same
	// bytes for every seed, so suites run them once.
	Seeded bool
	// Detection is what the damage must produce.
	Detection Detection
	// Ceiling is the most checking the damage may cost (hostile inputs; zero: unbounded).
	Ceiling Ceiling
	// Inject returns a damaged copy of src (never modifying src), or ErrNotApplicable when src
	// lacks what the damage needs.
	Inject func(src []byte, seed int64) ([]byte, error)
}

// ErrNotApplicable says the source lacks what an injector needs (a table with rows, a foreign key…).
var ErrNotApplicable = errors.New("injector not applicable to this source")

// Registry returns every injector: package injectors, then fixture injectors.
func Registry() []Injector {
	return append(append(packageInjectors(), hostileInjectors()...), fixtureInjectors()...)
}

// Lookup returns the injector called name.
func Lookup(name string) (Injector, bool) {
	for _, in := range Registry() {
		if in.Name == name {
			return in, true
		}
	}
	return Injector{}, false
}

// rng returns the random source an injector draws from for seed.
func rng(seed int64, salt string) *rand.Rand {
	var h uint64 = 14695981039346656037
	for i := 0; i < len(salt); i++ {
		h = (h ^ uint64(salt[i])) * 1099511628211
	}
	return rand.New(rand.NewPCG(uint64(seed), h))
}

// Kind lists for detections.
var (
	corruptOnly = []finding.Kind{finding.Corrupt}
	// Damaged bytes reach COPY before the entry's checksum is known: the server may refuse them
	// first (a constraint finding for the bad value).
	corruptOrValue = []finding.Kind{finding.Corrupt, finding.Constraint}
)

// verifyCatches: pack.Verify and a restore both refuse, with kinds.
func verifyCatches(kinds ...finding.Kind) Detection {
	return Detection{Verify: Refuse, Restore: Refuse, Kinds: kinds}
}

// restoreCatches: the package verifies (its damage is in the data, resealed), a restore refuses.
func restoreCatches(kinds ...finding.Kind) Detection {
	return Detection{Verify: Accept, Restore: Refuse, Kinds: kinds}
}

// harmless: verify accepts and a restore brings back exactly the original data.
var harmless = Detection{Verify: Accept, Restore: Exact}
