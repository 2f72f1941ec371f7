package chaos_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"

	"github.com/edmsdr/edmsdr/engine/backup"
	"github.com/edmsdr/edmsdr/engine/dsn"
	"github.com/edmsdr/edmsdr/fixtures/netfault"
	"github.com/edmsdr/edmsdr/suites/label"
	"github.com/edmsdr/edmsdr/suites/suitekit"
)

// edmsdr starts the binary with a clean environment; the caller waits for it.
func edmsdr(args ...string) *gexec.Session {
	GinkgoHelper()
	cmd := exec.Command(bin, args...)
	cmd.Env = suitekit.CleanEnv()
	s, err := gexec.Start(cmd, GinkgoWriter, GinkgoWriter)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { s.Kill().Wait(10 * time.Second) })
	return s
}

// exits waits for s to exit within limit and returns how long it ran.
func exits(s *gexec.Session, limit time.Duration, code int) time.Duration {
	GinkgoHelper()
	start := time.Now()
	Eventually(s).WithTimeout(limit).Should(gexec.Exit(code), "exit code of %v", s.Command.Args[1:2])
	return time.Since(start)
}

var _ = Describe("The CLI under faults", Label(label.Chaos, label.CLI), func() {
	It("backup --timeout ends a backup from a blackholed server: exit 1, the timeout named, no file left", func(ctx SpecContext) {
		e := &env{server: srv, proxy: proxyTo(ctx, srv)}
		e.proxy.Blackhole()
		dir := GinkgoT().TempDir()
		s := edmsdr("backup", "--dsn", e.via(src.url), "--out", filepath.Join(dir, "p.edmsdr"), "--timeout", "2s")
		took := exits(s, 2*time.Second+slack, 1)
		AddReportEntry("took", took.String())
		Expect(string(s.Err.Contents())).To(ContainSubstring("--timeout 2s reached"))
		Expect(filesIn(dir)).To(BeEmpty())
	}, SpecTimeout(time.Minute))

	It("restore --timeout ends a restore blackholed mid-COPY: exit 1, target unchanged, then a plain restore completes", func(ctx SpecContext) {
		e := &env{server: srv, proxy: proxyTo(ctx, srv)}
		db := reinitTarget(ctx, srv)
		before := stateOf(ctx, srv.DSN(db))
		f := netBlackhole{after: 512 << 10, dir: netfault.Upstream}
		Expect(f.Inject(ctx, e)).To(Succeed())
		s := edmsdr("restore", "--dsn", e.via(srv.DSN(db)), "--in", src.pkg, "--timeout", "5s")
		exits(s, 5*time.Second+slack, 1)
		Expect(e.proxy.Stats().Held).To(BeTrue(), "the blackhole struck")
		Expect(string(s.Err.Contents())).To(ContainSubstring("--timeout 5s reached"))
		Expect(string(s.Err.Contents())).To(ContainSubstring("the target is unchanged"))
		Expect(f.Heal(ctx, e)).To(Succeed())
		after := stateOf(ctx, srv.DSN(db))
		Expect(after.digest).To(Equal(before.digest))
		checkSequences(before, after)

		s = edmsdr("restore", "--dsn", srv.DSN(db), "--in", src.pkg)
		exits(s, 2*time.Minute, 0)
		Expect(suitekit.Digest(ctx, srv.DSN(db)).Total).To(Equal(src.digest))
	}, SpecTimeout(3*time.Minute))

	It("SIGKILL mid-backup leaves at most FILE.partial, which verify rejects; the next backup to that name replaces it", func(ctx SpecContext) {
		// The backup stalls mid-COPY behind the blackhole: it is killed in the middle, surely.
		e := &env{server: srv, proxy: proxyTo(ctx, srv)}
		e.proxy.BlackholeAfter(256<<10, netfault.Downstream)
		dir := GinkgoT().TempDir()
		out := filepath.Join(dir, "p.edmsdr")
		s := edmsdr("backup", "--dsn", e.via(src.url), "--out", out)
		Eventually(func() bool {
			_, err := os.Stat(out + ".partial")
			return err == nil && e.proxy.Stats().Held
		}).WithTimeout(time.Minute).Should(BeTrue(), "the backup is under way and stalled")
		Expect(s.ExitCode()).To(Equal(-1), "still running when killed")
		s.Kill()
		exits(s, 30*time.Second, 128+int(syscall.SIGKILL))

		Expect(out).NotTo(BeAnExistingFile(), "no complete-looking package")
		left := filesIn(dir)
		Expect(left).To(Or(BeEmpty(), ConsistOf("p.edmsdr.partial")))
		for _, name := range append(left, "p.edmsdr") {
			v := edmsdr("verify", "--in", filepath.Join(dir, name))
			exits(v, time.Minute, 1)
		}
		Expect(e.proxy.Close()).To(Succeed())

		s = edmsdr("backup", "--dsn", src.url, "--out", out)
		exits(s, 2*time.Minute, 0)
		Expect(filesIn(dir)).To(ConsistOf("p.edmsdr", "p.edmsdr.meta.json"), "the stale partial file was replaced; the metadata is beside the package")
		v := edmsdr("verify", "--in", out)
		exits(v, time.Minute, 0)
		Expect(string(v.Out.Contents())).To(ContainSubstring("digest " + src.digest))
	}, SpecTimeout(3*time.Minute))

	It("a full output disk fails the backup with ENOSPC named, exit 1, no file left", func(ctx SpecContext) {
		if os.Geteuid() != 0 {
			Skip("mounting a small tmpfs needs root (CI runs as root)")
		}
		const limit = 512 << 10
		info, err := os.Stat(src.pkg)
		Expect(err).NotTo(HaveOccurred())
		Expect(info.Size()).To(BeNumerically(">", limit), "the package must not fit the disk")
		dir := filepath.Join(GinkgoT().TempDir(), "small")
		Expect(os.Mkdir(dir, 0o755)).To(Succeed())
		if out, err := exec.CommandContext(ctx, "mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", dir).CombinedOutput(); err != nil {
			Skip("cannot mount a tmpfs here: " + strings.TrimSpace(string(out)))
		}
		DeferCleanup(func(ctx SpecContext) {
			out, err := exec.CommandContext(ctx, "umount", dir).CombinedOutput()
			Expect(err).NotTo(HaveOccurred(), "umount %s: %s", dir, out)
		})

		s := edmsdr("backup", "--dsn", src.url, "--out", filepath.Join(dir, "p.edmsdr"))
		exits(s, 2*time.Minute, 1)
		Expect(string(s.Err.Contents())).To(MatchRegexp(`(?i)no space left on device`))
		Expect(filesIn(dir)).To(BeEmpty(), "no partial file left on the full disk")

		// The engine says so in a way callers can test.
		cfg, err := dsn.Config(src.url)
		Expect(err).NotTo(HaveOccurred())
		_, err = backup.Run(ctx, cfg, filepath.Join(dir, "q.edmsdr"), backup.Options{})
		Expect(errors.Is(err, syscall.ENOSPC)).To(BeTrue(), "%v", err)
		Expect(filesIn(dir)).To(BeEmpty())
	}, SpecTimeout(2*time.Minute))
})
