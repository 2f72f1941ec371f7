package suitekit

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2" //nolint:revive // the suites' DSL
	. "github.com/onsi/gomega"    //nolint:revive // the suites' DSL
	"github.com/onsi/gomega/gexec"

	"github.com/edmsdr/edmsdr/engine/restore"
	"github.com/edmsdr/edmsdr/fixtures/provider"
)

// cliPackage is the import path of the edmsdr binary.
const cliPackage = "github.com/edmsdr/edmsdr/cmd/edmsdr"

// BuildCLI builds the edmsdr binary into a temporary directory and returns its path. It is the
// first-process function of a suite's SynchronizedBeforeSuite, so that the binary is built once
// however many processes run; CleanupCLI removes it.
func BuildCLI() []byte {
	path, err := gexec.Build(cliPackage)
	Expect(err).NotTo(HaveOccurred(), "build %s", cliPackage)
	return []byte(path)
}

// CleanupCLI removes what BuildCLI built. It is the last-process function of a suite's
// SynchronizedAfterSuite.
func CleanupCLI() { gexec.CleanupBuildArtifacts() }

// SetUpProcess is the all-process part of the bootstrap of a suite that runs the CLI: it fails on
// a malformed knob, and returns the binary BuildCLI built (cli) and this process's server, the
// one k names (see StartServer).
func SetUpProcess(ctx context.Context, k Knobs, cli []byte) (bin string, srv provider.Server) {
	GinkgoHelper()
	Expect(k.Err).NotTo(HaveOccurred())
	return string(cli), StartServer(ctx, k.DB, k.Image)
}

// CleanEnv is the environment the suites run the binary in when the test process's own must
// not leak into it: PATH and HOME, then extra.
func CleanEnv(extra ...string) []string {
	return append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, extra...)
}

// Run starts cmd, its output copied to GinkgoWriter, and waits up to timeout for it to exit.
func Run(cmd *exec.Cmd, timeout time.Duration) *gexec.Session {
	GinkgoHelper()
	s, err := gexec.Start(cmd, GinkgoWriter, GinkgoWriter)
	Expect(err).NotTo(HaveOccurred(), "start %s", cmd.Path)
	Eventually(s).WithTimeout(timeout).Should(gexec.Exit(), "%s did not exit within %s", cmd.Path, timeout)
	return s
}

// RestoreReport reads the result that `edmsdr restore --report DIR` wrote to DIR/restore.json.
func RestoreReport(dir string) *restore.Result {
	GinkgoHelper()
	path := filepath.Join(dir, "restore.json")
	data, err := os.ReadFile(path)
	Expect(err).NotTo(HaveOccurred(), "restore report")
	var res restore.Result
	Expect(json.Unmarshal(data, &res)).To(Succeed(), "restore report %s", path)
	return &res
}
