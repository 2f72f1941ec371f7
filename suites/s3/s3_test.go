package s3_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	"github.com/onsi/gomega/gexec"

	"github.com/edmsdr/edmsdr/engine/finding"
	"github.com/edmsdr/edmsdr/fixtures/netfault"
	"github.com/edmsdr/edmsdr/suites/label"
	"github.com/edmsdr/edmsdr/suites/suitekit"
)

// listed is one entry of `edmsdr list --json`.
type listed struct {
	Name      string    `json:"name"`
	Size      int64     `json:"size"`
	Time      time.Time `json:"time"`
	Source    string    `json:"source"`
	Database  string    `json:"database"`
	Digest    string    `json:"digest"`
	Encrypted string    `json:"encrypted"`
	SignedBy  string    `json:"signed_by"`
	Problem   string    `json:"problem"`
}

func list(loc string) []listed {
	GinkgoHelper()
	s := succeed("list", "--json", loc)
	var out []listed
	Expect(json.Unmarshal(s.Out.Contents(), &out)).To(Succeed(), "list --json: %s", s.Out.Contents())
	return out
}

// bigSource is a database whose package takes several upload parts: 48 rows of 1 MiB of hex
// text (about 3 parts once compressed).
func bigSource(ctx SpecContext) string {
	GinkgoHelper()
	u := srv.DSN(suitekit.NewDatabase(ctx, srv, "big"))
	suitekit.Exec(ctx, u, `CREATE TABLE blob (id int PRIMARY KEY, body text NOT NULL)`,
		`INSERT INTO blob SELECT g, (SELECT string_agg(md5(random()::text || g || s), '') FROM generate_series(1, 32768) s) FROM generate_series(1, 48) g`)
	return u
}

var _ = Describe("packages in object storage", Label(label.S3), func() {
	It("round trip: backup to s3://, verify and restore from it, equal digests; list describes it from its metadata", func(ctx SpecContext) {
		source := suitekit.EDMSSource(ctx, srv, 1)
		target := suitekit.EDMSTarget(ctx, srv)
		p := prefix()
		pkg := url(p+"edms.edmsdr", "")
		succeed("backup", "--dsn", source, "--out", pkg)
		Expect(objects(ctx, p)).To(ConsistOf("edms.edmsdr", "edms.edmsdr.meta.json"))
		Expect(uploads(ctx, p)).To(BeEmpty())

		succeed("verify", "--in", pkg)
		report := GinkgoT().TempDir()
		succeed("restore", "--dsn", target, "--in", pkg, "--report", report)
		res := suitekit.RestoreReport(report)
		Expect(res.Verdict).To(Equal(finding.Pass))
		want := suitekit.Digest(ctx, source).Total
		Expect(res.PackageDigest).To(Equal(want))
		Expect(res.RestoredDigest).To(Equal(want))

		entries := list(url(p, ""))
		Expect(entries).To(HaveLen(1))
		Expect(entries[0].Name).To(Equal("edms.edmsdr"))
		Expect(entries[0].Source).To(Equal("meta"))
		Expect(entries[0].Digest).To(Equal(want))
		Expect(entries[0].Problem).To(BeEmpty())
		Expect(entries[0].Database).NotTo(BeEmpty())
		for _, f := range []string{"restore.json", "idmap.tsv"} {
			data, err := os.ReadFile(filepath.Join(report, f))
			Expect(err).NotTo(HaveOccurred())
			noCredentials(f, data)
		}
		meta, err := gw.Get(ctx, bucket, p+"edms.edmsdr.meta.json")
		Expect(err).NotTo(HaveOccurred())
		noCredentials("the metadata object", meta)

		By("a second backup to the same name is refused, and the first stays")
		s := edmsdr(nil, "backup", "--dsn", source, "--out", pkg)
		Expect(s.ExitCode()).To(Equal(1))
		succeed("verify", "--in", pkg)
	}, SpecTimeout(5*time.Minute))

	It("a package of several upload parts round-trips, and a reset connection mid-upload is retried", func(ctx SpecContext) {
		source := bigSource(ctx)
		proxy, err := netfault.Start(ctx, gw.Addr())
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(proxy.Close)
		p := prefix()
		pkg := url(p+"big.edmsdr", "http://"+proxy.Addr())
		proxy.ResetAfter(10<<20, netfault.Upstream)
		succeed("backup", "--dsn", source, "--out", pkg)
		Expect(proxy.Stats().Resets).To(BeNumerically(">", 0), "the connection was reset during the upload")
		Expect(uploads(ctx, p)).To(BeEmpty())
		succeed("verify", "--in", pkg)
		entries := list(url(p, ""))
		Expect(entries).To(HaveLen(1))
		Expect(entries[0].Size).To(BeNumerically(">", 2*8<<20), "the package spans several parts")
	}, SpecTimeout(5*time.Minute))

	It("an interrupted upload (connection cut, backup interrupted) leaves no object and no multipart upload", func(ctx SpecContext) {
		source := bigSource(ctx)
		proxy, err := netfault.Start(ctx, gw.Addr())
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(proxy.Close)
		p := prefix()
		pkg := url(p+"cut.edmsdr", "http://"+proxy.Addr())
		proxy.BlackholeAfter(12<<20, netfault.Upstream)
		cmd := command(nil, "backup", "--dsn", source, "--out", pkg)
		s, err := gexec.Start(cmd, GinkgoWriter, GinkgoWriter)
		Expect(err).NotTo(HaveOccurred())
		Eventually(func() bool { return proxy.Stats().Held }).WithTimeout(2 * time.Minute).Should(BeTrue())
		Expect(uploads(ctx, p)).To(HaveLen(1), "the multipart upload was started")
		Expect(cmd.Process.Signal(syscall.SIGINT)).To(Succeed())
		time.Sleep(500 * time.Millisecond)
		proxy.ResetAll() // the connection is cut
		proxy.Heal()
		Eventually(s).WithTimeout(3 * time.Minute).Should(gexec.Exit(1))
		noCredentials("stderr", s.Err.Contents())
		Expect(objects(ctx, p)).To(BeEmpty())
		Expect(uploads(ctx, p)).To(BeEmpty())
	}, SpecTimeout(6*time.Minute))

	It("a backup killed mid-upload leaves no object; prune aborts its stale upload", func(ctx SpecContext) {
		source := bigSource(ctx)
		proxy, err := netfault.Start(ctx, gw.Addr())
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(proxy.Close)
		p := prefix()
		proxy.BlackholeAfter(12<<20, netfault.Upstream)
		cmd := command(nil, "backup", "--dsn", source, "--out", url(p+"killed.edmsdr", "http://"+proxy.Addr()))
		s, err := gexec.Start(cmd, GinkgoWriter, GinkgoWriter)
		Expect(err).NotTo(HaveOccurred())
		Eventually(func() bool { return proxy.Stats().Held }).WithTimeout(2 * time.Minute).Should(BeTrue())
		s.Kill()
		Eventually(s).Should(gexec.Exit())
		proxy.Heal()
		Expect(objects(ctx, p)).To(BeEmpty(), "nothing is visible")
		Expect(uploads(ctx, p)).To(HaveLen(1), "a killed process cannot abort its upload")
		time.Sleep(1100 * time.Millisecond)
		out := succeed("prune", url(p, ""), "--keep-last", "1", "--stale-uploads", "1s", "--json")
		var rep struct {
			AbortedUploads []string `json:"aborted_uploads"`
		}
		Expect(json.Unmarshal(out.Out.Contents(), &rep)).To(Succeed())
		Expect(rep.AbortedUploads).To(HaveLen(1))
		Expect(uploads(ctx, p)).To(BeEmpty())
	}, SpecTimeout(6*time.Minute))

	It("a corrupted object is refused by verify and restore; the target is unchanged", func(ctx SpecContext) {
		source := suitekit.EDMSSource(ctx, srv, 2)
		target := suitekit.EDMSTarget(ctx, srv)
		p := prefix()
		pkg := url(p+"c.edmsdr", "")
		succeed("backup", "--dsn", source, "--out", pkg)
		data, err := gw.Get(ctx, bucket, p+"c.edmsdr")
		Expect(err).NotTo(HaveOccurred())
		data[len(data)/2] ^= 0x40
		Expect(gw.Put(ctx, bucket, p+"c.edmsdr", data)).To(Succeed())

		Expect(edmsdr(nil, "verify", "--in", pkg).ExitCode()).To(Equal(1))
		before := suitekit.Digest(ctx, target).Total
		Expect(edmsdr(nil, "restore", "--dsn", target, "--in", pkg).ExitCode()).To(Equal(1))
		Expect(suitekit.Digest(ctx, target).Total).To(Equal(before))
	}, SpecTimeout(5*time.Minute))

	It("a drill keeps its package in object storage with --keep s3://…", func(ctx SpecContext) {
		p := prefix()
		pkg := url(p+"drill.edmsdr", "")
		db := "s3_drill_" + time.Now().Format("150405")
		s := succeed("drill", "--db", srv.DSN("postgres"), "--database", db, "--report", "", "--keep", pkg)
		Expect(s.Out).To(gbytes.Say("PASS"))
		Expect(objects(ctx, p)).To(ConsistOf("drill.edmsdr", "drill.edmsdr.meta.json"))
		succeed("verify", "--in", pkg)
		entries := list(url(p, ""))
		Expect(entries).To(HaveLen(1))
		Expect(entries[0].Source).To(Equal("meta"))
	}, SpecTimeout(8*time.Minute))

	It("never prints a credential, also when they are wrong or put where they do not belong", func(ctx SpecContext) {
		source := suitekit.EDMSSource(ctx, srv, 3)
		access, secret := gw.Credentials()
		p := prefix()
		By("a wrong secret: refused, and neither key is shown")
		s := edmsdr([]string{"AWS_SECRET_ACCESS_KEY=" + secret + "0"}, "backup", "--dsn", source, "--out", url(p+"x.edmsdr", ""))
		Expect(s.ExitCode()).To(Equal(1))
		Expect(objects(ctx, p)).To(BeEmpty())
		By("credentials in the URL: refused as bad usage without echoing them")
		s = edmsdr(nil, "verify", "--in", "s3://"+access+":"+secret+"@"+bucket+"/x.edmsdr")
		Expect(s.ExitCode()).To(Equal(2))
		s = edmsdr(nil, "list", url(p, "")+"&secret_key="+secret)
		Expect(s.ExitCode()).To(Equal(2))
		By("no credentials at all: a clear refusal")
		s = edmsdr([]string{"AWS_ACCESS_KEY_ID=", "AWS_SECRET_ACCESS_KEY="}, "list", url(p, ""))
		Expect(s.ExitCode()).To(Equal(1))
	}, SpecTimeout(5*time.Minute))
})
