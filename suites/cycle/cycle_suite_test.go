// Package cycle_test proves the backup → reinit → restore cycle: every row back, digests equal,
// seeded rows reused, refusals with the right findings and the target untouched — on a local
// cluster, and (label container) on container servers, across PostgreSQL versions.
package cycle_test

import (
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"

	"github.com/edmsdr/edmsdr/fixtures/provider"
	"github.com/edmsdr/edmsdr/suites/suitekit"
)

var (
	knobs = suitekit.LoadKnobs()
	// srv is this process's server named by EDMSDR_DB (a local cluster by default).
	srv provider.Server
	// csrv is this process's container server, when specs labelled container are selected.
	csrv provider.Server
)

func TestCycle(t *testing.T) { suitekit.RunSuite(t, "Cycle suite") }

var _ = suitekit.ServerSuite(knobs, &srv, 5*time.Minute, func(ctx SpecContext) {
	csrv = suitekit.StartContainerIfSelected(ctx)
})
