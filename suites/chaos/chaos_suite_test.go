// Package chaos_test breaks the world while backups and restores run — the database server
// killed at every step of a restore, the restore's session terminated or its statements timed out
// by the server, the network reset, slowed or blackholed, the CLI killed mid-backup, the output
// disk full, writers changing the source — and checks that every fault ends in the full correct
// result or a clear refusal with the target exactly as it was: never a partial restore, never a
// package that looks complete but is not.
//
// Faults are data (faults_test.go): each scenario names a fault, the moment it strikes and the
// outcome it must end in. Servers that get killed belong to this Ginkgo process alone (its own
// local cluster, its own container), so no spec needs to run Serial.
package chaos_test

import (
	"context"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/edmsdr/edmsdr/fixtures/localpg"
	"github.com/edmsdr/edmsdr/fixtures/provider"
	"github.com/edmsdr/edmsdr/suites/suitekit"
)

var (
	knobs = suitekit.LoadKnobs()
	// srv is this process's server named by EDMSDR_DB: sources, and targets behind the proxy.
	srv provider.Server
	// csrv is this process's container server (label container); container specs kill it.
	csrv provider.Server
	// local is this process's own throwaway cluster, killed by the local specs; it runs with
	// synchronous_commit=on, so that a commit acknowledged before a kill survives it.
	local provider.Server
	// localSkip says why there is no local cluster ("" when there is one).
	localSkip string
	// bin is the edmsdr binary.
	bin string
	// src is the source database on srv and its package, shared by the specs of this process.
	src source
)

// source is a filled EDMS database and a package taken from it.
type source struct {
	url    string // the database on srv
	pkg    string // its package
	digest string // the package's digest: what every complete restore must end with
}

func TestChaos(t *testing.T) { suitekit.RunSuite(t, "Chaos suite") }

var _ = suitekit.CLISuite(knobs, &bin, &srv, 5*time.Minute, func(ctx SpecContext) {
	csrv = suitekit.StartContainerIfSelected(ctx)
	local = startLocal(ctx)
	src = newSource(ctx, srv, 1)
})

// startLocal starts this process's killable cluster, or records why there is none.
func startLocal(ctx context.Context) provider.Server {
	GinkgoHelper()
	if _, err := localpg.FindBinDir(ctx); err != nil {
		localSkip = err.Error()
		return nil
	}
	c, err := localpg.Start(ctx, localpg.Options{Log: GinkgoWriter, Settings: map[string]string{"synchronous_commit": "on"}})
	Expect(err).NotTo(HaveOccurred(), "start the killable local cluster")
	DeferCleanup(func(ctx SpecContext) error { return c.Close(ctx) }, NodeTimeout(time.Minute))
	return c
}

// newSource fills an EDMS database on server (tiny profile, seed) and backs it up.
func newSource(ctx context.Context, server provider.Server, seed int64) source {
	GinkgoHelper()
	url := suitekit.EDMSSource(ctx, server, seed)
	// Called from the suite's setup, the package lives until the suite ends; from a spec, until
	// the spec ends.
	path, res := suitekit.Backup(ctx, url, nil)
	return source{url: url, pkg: path, digest: res.Manifest.Digest.Total}
}
