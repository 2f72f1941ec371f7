package s3_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"

	"github.com/edmsdr/edmsdr/fixtures/netfault"
	"github.com/edmsdr/edmsdr/suites/label"
)

var _ = Describe("reading a package from object storage", Label(label.S3), func() {
	It("resumes a read whose connection is reset, and refuses when the object was replaced meanwhile", func(ctx SpecContext) {
		source := bigSource(ctx)
		p := prefix()
		key := p + "read.edmsdr"
		succeed("backup", "--dsn", source, "--out", url(key, ""))
		proxy, err := netfault.Start(ctx, gw.Addr())
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(proxy.Close)
		through := url(key, "http://"+proxy.Addr())

		By("a reset after 10 MiB: the read resumes where it stopped, and every checksum holds")
		proxy.ResetAfter(10<<20, netfault.Downstream)
		succeed("verify", "--in", through)
		Expect(proxy.Stats().Resets).To(BeNumerically(">", 0), "the connection was reset during the read")

		By("the object replaced while the read is held: the resumed read is refused")
		data, err := gw.Get(ctx, bucket, key)
		Expect(err).NotTo(HaveOccurred())
		proxy.BlackholeAfter(10<<20, netfault.Downstream)
		cmd := command(nil, "verify", "--in", through)
		s, err := gexec.Start(cmd, GinkgoWriter, GinkgoWriter)
		Expect(err).NotTo(HaveOccurred())
		Eventually(func() bool { return proxy.Stats().Held }).WithTimeout(2 * time.Minute).Should(BeTrue())
		// The same package with one byte changed past the point the read reached: a reader
		// that resumed on the new object without noticing would splice two objects.
		replaced := append([]byte(nil), data...)
		replaced[len(replaced)*3/4] ^= 0x01
		Expect(gw.Put(ctx, bucket, key, replaced)).To(Succeed())
		proxy.ResetAll()
		proxy.Heal()
		Eventually(s).WithTimeout(3 * time.Minute).Should(gexec.Exit(1))
		noCredentials("stderr", s.Err.Contents())
		Expect(string(s.Err.Contents())).To(ContainSubstring("replaced while being read"))
	}, SpecTimeout(6*time.Minute))
})
