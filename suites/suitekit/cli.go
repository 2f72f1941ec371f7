package suitekit

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
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
// run; CleanupCLI removes them. Where the knob EDMSDR_CLI_DIR names a directory holding both
// (make test builds them once for all the suites: linking them took 5-7 s of CPU a suite), it
// returns that directory's edmsdr and builds nothing.
func BuildCLI() []byte {
	if dir := LoadKnobs().CLIDir; dir != "" {
		for _, name := range []string{"edmsdr", "edmsdr-drill"} {
			fi, err := os.Stat(filepath.Join(dir, name))
			Expect(err).NotTo(HaveOccurred(), "EDMSDR_CLI_DIR %s: the prebuilt %s", dir, name)
			Expect(fi.Mode().IsRegular() && fi.Mode()&0o111 != 0).To(BeTrue(), "EDMSDR_CLI_DIR %s: %s is no executable", dir, name)
		}
		return []byte(filepath.Join(dir, "edmsdr"))
	}
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

// RunPeak is Run that also returns the peak resident set of cmd's process in bytes: its VmHWM in
// /proc/PID/status, sampled every 10 ms while it runs (what it reaches in its last 10 ms may be
// missed). Not the child's rusage: a process the test process starts begins in the test
// process's memory, whose high-water mark its ru_maxrss keeps across exec, so that reads at least
// the test process's own peak and can hide the command's growth.
func RunPeak(cmd *exec.Cmd, timeout time.Duration) (*gexec.Session, int64) {
	GinkgoHelper()
	s, err := gexec.Start(cmd, GinkgoWriter, GinkgoWriter)
	Expect(err).NotTo(HaveOccurred(), "start %s", cmd.Path)
	var peak int64
	for start := time.Now(); s.ExitCode() == -1 && time.Since(start) < timeout; time.Sleep(10 * time.Millisecond) {
		peak = max(peak, vmHWM(cmd.Process.Pid))
	}
	Eventually(s).WithTimeout(time.Minute).Should(gexec.Exit(), "%s did not exit within %s and a minute", cmd.Path, timeout)
	return s, peak
}

// vmHWM is the peak resident set of process pid in bytes, 0 where it cannot be read (the process
// has ended).
func vmHWM(pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(data)) {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
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
