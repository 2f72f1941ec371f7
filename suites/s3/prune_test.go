package s3_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/edmsdr/edmsdr/engine/pack"
	"github.com/edmsdr/edmsdr/store"
	"github.com/edmsdr/edmsdr/suites/label"
	"github.com/edmsdr/edmsdr/suites/suitekit"
)

// restamp copies the package file src to the location dst with its manifest's creation time set
// to at (checksums recomputed, so that it verifies), and writes its metadata beside it, as a
// backup taken at that time would have.
func restamp(ctx context.Context, src, dst string, at time.Time) {
	GinkgoHelper()
	f, err := os.Open(src)
	Expect(err).NotTo(HaveOccurred())
	defer f.Close()
	rd, err := pack.NewReader(f, pack.Limits{})
	Expect(err).NotTo(HaveOccurred())
	defer rd.Close()
	loc, err := store.Parse(dst)
	Expect(err).NotTo(HaveOccurred())
	up, err := loc.Create(ctx, false)
	Expect(err).NotTo(HaveOccurred())
	w, err := pack.NewWriter(up, dst, pack.WriterOptions{})
	Expect(err).NotTo(HaveOccurred())
	Expect(w.WriteHeader(rd.Header())).To(Succeed())
	for {
		e, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		Expect(err).NotTo(HaveOccurred())
		ts := w.Table(e.Layout.Index, e.Layout.Table)
		if e.Ref {
			ts = w.Refs(e.Layout.Index, e.Layout.Table)
		}
		_, err = io.Copy(ts, e)
		Expect(err).NotTo(HaveOccurred())
		_, err = ts.Close()
		Expect(err).NotTo(HaveOccurred())
	}
	m := *rd.Manifest()
	m.CreatedAt = at
	Expect(w.Close(&m)).To(Succeed())
	Expect(loc.WriteMeta(ctx, store.MetaOf(loc.Base(), &m, up.Size(), up.SHA256(), "", ""))).To(Succeed())
}

type pruned struct {
	DryRun         bool   `json:"dry_run"`
	NewestVerified string `json:"newest_verified"`
	Keep           []struct {
		Name    string   `json:"name"`
		Reasons []string `json:"reasons"`
	} `json:"keep"`
	Remove []struct {
		Name string `json:"name"`
	} `json:"remove"`
	Unverified []struct {
		Name string `json:"name"`
	} `json:"unverified"`
}

func (p pruned) kept() map[string][]string {
	out := map[string][]string{}
	for _, k := range p.Keep {
		out[k.Name] = k.Reasons
	}
	return out
}

func (p pruned) removed() []string {
	out := []string{}
	for _, r := range p.Remove {
		out = append(out, r.Name)
	}
	return out
}

func prune(args ...string) pruned {
	GinkgoHelper()
	s := succeed(append([]string{"prune", "--json"}, args...)...)
	var rep pruned
	Expect(json.Unmarshal(s.Out.Contents(), &rep)).To(Succeed(), "prune --json: %s", s.Out.Contents())
	return rep
}

var _ = Describe("prune", Label(label.S3), func() {
	// Eight packages at controlled times (their manifests' creation times): ISO weeks and months
	// in the comments.
	base := time.Date(2026, 3, 31, 12, 0, 0, 0, time.UTC)
	times := map[string]time.Time{
		"p1.edmsdr": base,                     // Tue, W14, March
		"p2.edmsdr": base.Add(-2 * time.Hour), // same day
		"p3.edmsdr": base.AddDate(0, 0, -1),   // Mon 30th, W14
		"p4.edmsdr": base.AddDate(0, 0, -2),   // Sun 29th, W13
		"p5.edmsdr": base.AddDate(0, 0, -9),   // Sun 22nd, W12
		"p6.edmsdr": base.AddDate(0, 0, -20),  // 11th, W11
		"p7.edmsdr": base.AddDate(0, 0, -40),  // 19 Feb, W8
		"p8.edmsdr": base.AddDate(0, 0, -80),  // 10 Jan, W2
	}

	It("keeps exactly what the policy says, never the newest verified package, on object storage and in a local directory", func(ctx SpecContext) {
		source := suitekit.EDMSSource(ctx, srv, 4)
		pkg, _ := suitekit.Backup(ctx, source, nil)
		p := prefix()
		local := GinkgoT().TempDir()
		for name, at := range times {
			restamp(ctx, pkg, url(p+name, ""), at)
			restamp(ctx, pkg, local+"/"+name, at)
		}
		Expect(gw.Put(ctx, bucket, p+"notes.txt", []byte("not a package"))).To(Succeed())

		for _, where := range []string{url(p, ""), local} {
			By("policy on " + where)
			policy := []string{where, "--keep-last", "1", "--keep-daily", "2", "--keep-weekly", "3", "--keep-monthly", "2"}
			dry := prune(append(policy, "--dry-run")...)
			Expect(dry.DryRun).To(BeTrue())
			Expect(dry.NewestVerified).To(Equal("p1.edmsdr"))
			Expect(dry.kept()).To(Equal(map[string][]string{
				"p1.edmsdr": {"last", "daily", "weekly", "monthly", "newest verified"},
				"p3.edmsdr": {"daily"},
				"p4.edmsdr": {"weekly"},
				"p5.edmsdr": {"weekly"},
				"p7.edmsdr": {"monthly"},
			}))
			Expect(dry.removed()).To(ConsistOf("p2.edmsdr", "p6.edmsdr", "p8.edmsdr"))
			Expect(list(where)).To(HaveLen(8), "a dry run removes nothing")

			done := prune(policy...)
			Expect(done.removed()).To(ConsistOf("p2.edmsdr", "p6.edmsdr", "p8.edmsdr"))
			var names []string
			for _, e := range list(where) {
				names = append(names, e.Name)
				Expect(e.Source).To(Equal("meta"))
			}
			Expect(names).To(Equal([]string{"p1.edmsdr", "p3.edmsdr", "p4.edmsdr", "p5.edmsdr", "p7.edmsdr"}), "newest first")
		}
		Expect(objects(ctx, p)).To(ConsistOf("notes.txt",
			"p1.edmsdr", "p1.edmsdr.meta.json", "p3.edmsdr", "p3.edmsdr.meta.json", "p4.edmsdr", "p4.edmsdr.meta.json",
			"p5.edmsdr", "p5.edmsdr.meta.json", "p7.edmsdr", "p7.edmsdr.meta.json"))

		By("the newest package damaged: the newest that verifies is kept although no rule keeps it")
		data, err := gw.Get(ctx, bucket, p+"p1.edmsdr")
		Expect(err).NotTo(HaveOccurred())
		data[len(data)/2] ^= 0x01
		Expect(gw.Put(ctx, bucket, p+"p1.edmsdr", data)).To(Succeed())
		rep := prune(url(p, ""), "--keep-monthly", "1")
		Expect(rep.Unverified).To(HaveLen(1))
		Expect(rep.Unverified[0].Name).To(Equal("p1.edmsdr"))
		Expect(rep.NewestVerified).To(Equal("p3.edmsdr"))
		Expect(rep.kept()).To(Equal(map[string][]string{"p1.edmsdr": {"monthly"}, "p3.edmsdr": {"newest verified"}}))
		Expect(rep.removed()).To(ConsistOf("p4.edmsdr", "p5.edmsdr", "p7.edmsdr"))

		By("nothing verifies: prune removes nothing and fails")
		data, err = gw.Get(ctx, bucket, p+"p3.edmsdr")
		Expect(err).NotTo(HaveOccurred())
		data[len(data)/2] ^= 0x01
		Expect(gw.Put(ctx, bucket, p+"p3.edmsdr", data)).To(Succeed())
		s := edmsdr(nil, "prune", url(p, ""), "--keep-last", "1")
		Expect(s.ExitCode()).To(Equal(1))
		Expect(objects(ctx, p)).To(ContainElements("p1.edmsdr", "p3.edmsdr"))
	}, SpecTimeout(8*time.Minute))
})
