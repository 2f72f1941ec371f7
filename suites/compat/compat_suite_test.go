// Package compat_test restores every committed sample — packages of every format version under
// testdata/packages/, Django fixtures under testdata/fixtures/ — into a fresh target of the kind
// it came from, and checks the verdict and the logical digest against the one recorded beside the
// sample when it was made. Samples are never regenerated: a format this build cannot read any
// more, or a change in what a sample restores to, fails here.
package compat_test

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

func TestCompat(t *testing.T) { suitekit.RunSuite(t, "Compat suite") }

var _ = suitekit.CLISuite(knobs, &bin, &srv, 3*time.Minute)
