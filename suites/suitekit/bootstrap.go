package suitekit

import (
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2" //nolint:revive // the suites' DSL
	. "github.com/onsi/gomega"    //nolint:revive // the suites' DSL

	"github.com/edmsdr/edmsdr/fixtures/provider"
)

// RunSuite runs the specs of a suite's package under name, Gomega failing through Ginkgo: the
// body of its one Test function.
func RunSuite(t *testing.T, name string) {
	RegisterFailHandler(Fail)
	RunSpecs(t, name)
}

// CLISuite registers the bootstrap of a suite that runs the CLI: the binaries are built once
// (BuildCLI, removed by CleanupCLI after the suite); every Ginkgo process then sets *bin to the
// edmsdr binary and *srv to its server (SetUpProcess) and runs then, if given, within timeout.
// Call it at package level: var _ = suitekit.CLISuite(...).
func CLISuite(k Knobs, bin *string, srv *provider.Server, timeout time.Duration, then ...func(ctx SpecContext)) bool {
	SynchronizedBeforeSuite(BuildCLI, func(ctx SpecContext, cli []byte) {
		*bin, *srv = SetUpProcess(ctx, k, cli)
		for _, fn := range then {
			fn(ctx)
		}
	}, NodeTimeout(timeout))
	SynchronizedAfterSuite(func() {}, CleanupCLI)
	return true
}

// ServerSuite registers the bootstrap of a suite that needs a server but not the CLI: every
// Ginkgo process fails on a malformed knob, sets *srv to the server k names (StartServer) and
// runs then, if given, within timeout. Call it at package level: var _ = suitekit.ServerSuite(...).
func ServerSuite(k Knobs, srv *provider.Server, timeout time.Duration, then ...func(ctx SpecContext)) bool {
	BeforeSuite(func(ctx SpecContext) {
		Expect(k.Err).NotTo(HaveOccurred())
		*srv = StartServer(ctx, k.DB)
		for _, fn := range then {
			fn(ctx)
		}
	}, NodeTimeout(timeout))
	return true
}
