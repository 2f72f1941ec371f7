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

// The import paths of the operator binary and of the drill binary that `edmsdr drill` runs.
const (
	cliPackage   = "github.com/edmsdr/edmsdr/cmd/edmsdr"
	drillPackage = "github.com/edmsdr/edmsdr/cmd/edmsdr-drill"
)

// cliDir is the directory BuildCLI built into (first Ginkgo process only).
var cliDir string

// BuildCLI builds the edmsdr binary and, beside it, edmsdr-drill (which `edmsdr drill` runs) into
// a temporary directory, and returns the path of edmsdr. It is the first-process function of a
// suite's SynchronizedBeforeSuite, so that the binaries are built once however many processes
// run; CleanupCLI removes them.
func BuildCLI() []byte {
	dir, err := os.MkdirTemp("", "edmsdr-cli-")
	Expect(err).NotTo(HaveOccurred())
	cliDir = dir
	out, err := exec.Command("go", "build", "-o", dir+string(filepath.Separator), cliPackage, drillPackage).CombinedOutput()
	Expect(err).NotTo(HaveOccurred(), "build %s and %s:\n%s", cliPackage, drillPackage, out)
	return []byte(filepath.Join(dir, "edmsdr"))
}

// CleanupCLI removes what BuildCLI built. It is the last-process function of a suite's
// SynchronizedAfterSuite.
func CleanupCLI() {
	if cliDir != "" {
		Expect(os.RemoveAll(cliDir)).To(Succeed())
	}
}

// DrillCLI returns the path of the edmsdr-drill that BuildCLI built beside cli.
func DrillCLI(cli string) string { return filepath.Join(filepath.Dir(cli), "edmsdr-drill") }

// SetUpProcess is the all-process part of the bootstrap of a suite that runs the CLI: it fails on
// a malformed knob, and returns the binary BuildCLI built (cli) and this process's server, the
// one k names (see StartServer).
func SetUpProcess(ctx context.Context, k Knobs, cli []byte) (bin string, srv provider.Server) {
	GinkgoHelper()
	Expect(k.Err).NotTo(HaveOccurred())
	return string(cli), StartServer(ctx, k.DB)
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
