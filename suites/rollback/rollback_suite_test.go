// Package rollback_test proves replace-mode restores, safety backups and rollbacks: the target
// back to exactly its earlier state (every row, every id, the sequences), refusals that leave it
// untouched, and the journal of every attempt — on a local cluster.
package rollback_test

import (
	"testing"
	"time"

	"github.com/edmsdr/edmsdr/fixtures/provider"
	"github.com/edmsdr/edmsdr/suites/suitekit"
)

var (
	knobs = suitekit.LoadKnobs()
	// srv is this process's server named by EDMSDR_DB (a local cluster by default).
	srv provider.Server
	// bin is the edmsdr binary.
	bin string
)

func TestRollback(t *testing.T) { suitekit.RunSuite(t, "Rollback suite") }

var _ = suitekit.CLISuite(knobs, &bin, &srv, 5*time.Minute)
