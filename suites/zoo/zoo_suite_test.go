// Package zoo_test runs every pattern of the schema zoo (fixtures/zoo) through backup → reinit
// (seeded) → restore, and through a restore into empty tables: each ends with PASS and the
// independent oracle (oracle/) seeing exactly the source's rows, or — for the patterns the zoo
// marks as refused — with a refusal of the expected kind and the target unchanged. It also
// checks the property over random schemas (generators/schemagen, seeds EDMSDR_ZOO_SEEDS): PASS
// with the oracle seeing the target's rows plus the source's, or a refusal with the target
// unchanged; a failing seed prints its replay command.
package zoo_test

import (
	"testing"
	"time"

	"github.com/edmsdr/edmsdr/fixtures/provider"
	"github.com/edmsdr/edmsdr/suites/suitekit"
)

var (
	knobs = suitekit.LoadKnobs()
	srv   provider.Server
)

func TestZoo(t *testing.T) { suitekit.RunSuite(t, "Schema zoo suite") }

var _ = suitekit.ServerSuite(knobs, &srv, 5*time.Minute)
