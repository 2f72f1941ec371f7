// Package security_test proves edmsdr's security properties through the binary: packages
// encrypted at rest (age) open only with their key, signed packages are refused once changed (even
// with every checksum recomputed), nothing from a package reaches SQL unchecked, passwords and row
// content stay out of output and reports, and backup and restore run as roles holding only the
// grants docs/security.md lists.
package security_test

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
	// bin is the edmsdr binary, built once.
	bin string
)

func TestSecurity(t *testing.T) { suitekit.RunSuite(t, "Security suite") }

var _ = suitekit.CLISuite(knobs, &bin, &srv, 3*time.Minute)
