// Package legacy_test proves the Django fixture path against the EDMS schema without Django: a
// dumper in this suite writes dumpdata-shaped fixtures (id-based, natural foreign keys, natural
// primary keys; with and without content types and permissions) of a generated EDMS database;
// `edmsdr restore --in FIXTURE` and `edmsdr convert` + restore into a re-initialised target must
// give the source's logical digest; bad fixtures are refused with the right finding kinds and
// the target unchanged; `edmsdr fixture` writes back a fixture that restores to the same data;
// and a large fixture restores with bounded memory.
package legacy_test

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

func TestLegacy(t *testing.T) { suitekit.RunSuite(t, "Legacy fixtures suite") }

var _ = suitekit.CLISuite(knobs, &bin, &srv, 3*time.Minute)
