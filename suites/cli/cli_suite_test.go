// Package cli_test drives the edmsdr binary as users and outside tests do: the DESIGN contract's
// commands, flags, exit codes (0 success, 1 failed or refused, 2 bad usage) and messages.
package cli_test

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

func TestCLI(t *testing.T) { suitekit.RunSuite(t, "CLI suite") }

var _ = suitekit.CLISuite(knobs, &bin, &srv, 3*time.Minute)
