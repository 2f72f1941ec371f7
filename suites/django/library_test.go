package django_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/edmsdr/edmsdr/suites/label"
	"github.com/edmsdr/edmsdr/suites/suitekit"
)

// libraryRefs lists, per library model, the natural foreign keys a fixture gives (parent, section,
// shelf, topics, volume), each as its JSON (a topics list as its sorted elements), sorted: what two
// fixtures of the same data must agree on when their layouts agree.
func libraryRefs(path string) map[string][]string {
	GinkgoHelper()
	data, err := os.ReadFile(path)
	Expect(err).NotTo(HaveOccurred())
	var objs []map[string]any
	Expect(json.Unmarshal(data, &objs)).To(Succeed(), "a fixture is a JSON list")
	out := map[string][]string{}
	for _, o := range objs {
		model, _ := o["model"].(string)
		fields, _ := o["fields"].(map[string]any)
		for _, f := range []string{"parent", "section", "shelf", "topics", "volume"} {
			if v, ok := fields[f]; ok {
				if l, many := v.([]any); many && f == "topics" { // a set: its order means nothing
					elems := make([]string, len(l))
					for i, e := range l {
						b, err := json.Marshal(e)
						Expect(err).NotTo(HaveOccurred())
						elems[i] = string(b)
					}
					sort.Strings(elems)
					v = elems
				}
				b, err := json.Marshal(v)
				Expect(err).NotTo(HaveOccurred())
				out[model+"."+f] = append(out[model+"."+f], string(b))
			}
		}
	}
	for _, l := range out {
		sort.Strings(l)
	}
	return out
}

var _ = Describe("Django natural keys as the models write them: nested, spliced, in their own order", Ordered, Label(label.Django), func() {
	// lib is a migrated database whose library app (testdata/django/library) holds seeded rows;
	// libDigest is its digest.
	var lib, libDigest string

	BeforeAll(func(ctx SpecContext) {
		if djangoSkip != "" {
			Skip(djangoSkip)
		}
		lib = migrated(ctx, "lib", false)
		manage(ctx, lib, "seed_library", "--seed", itoa(seed))
		libDigest = digestOf(lib)
		Expect(suitekit.Count(ctx, lib, `SELECT count(*) FROM library_section s JOIN library_section p ON p.id = s.parent_id WHERE p.parent_id IS NOT NULL`)).To(
			BeNumerically(">", 0), "the section tree is three levels deep")
		Expect(suitekit.Count(ctx, lib, `SELECT count(*) FROM (SELECT name FROM library_section GROUP BY name HAVING count(*) > 1) x`)).To(
			BeNumerically(">", 0), "a section name under two parents")
		Expect(suitekit.Count(ctx, lib, `SELECT count(*) FROM library_volume_topics`)).To(BeNumerically(">", 0))
	}, NodeTimeout(3*time.Minute))

	libDump := func(ctx context.Context, flags ...string) string {
		GinkgoHelper()
		out := filepath.Join(GinkgoT().TempDir(), "library.json")
		manage(ctx, lib, append([]string{"dumpdata", "library", "-o", out}, flags...)...)
		return out
	}

	DescribeTable("dumpdata → edmsdr restore --in into a re-migrated database learns the layouts and gives the source's digest",
		func(ctx SpecContext, dumpFlags []string) {
			dump := libDump(ctx, dumpFlags...)
			b := migrated(ctx, "libb", true)
			report := filepath.Join(GinkgoT().TempDir(), "report")
			s := edmsdr("restore", "--dsn", b, "--in", dump, "--report", report)
			Expect(s.ExitCode()).To(Equal(0), "restore (seed %d): %s", seed, s.Err.Contents())
			Expect(restoreVerdict(report)).To(Equal("PASS"))
			out := string(s.Out.Contents())
			for _, line := range []string{
				`natural keys of library.section read as [name, [parent]]`,
				`natural keys of library.shelf read as [number, [section]]`,
				`natural keys of library.volume read as [code, shelf]`,
			} {
				Expect(out).To(ContainSubstring(line))
			}
			Expect(digestOf(b)).To(Equal(libDigest), "seed %d", seed)
		},
		Entry("--natural-foreign --natural-primary", natural, SpecTimeout(3*time.Minute)),
		Entry("--natural-foreign (objects keep their pk)", []string{"--natural-foreign"}, SpecTimeout(3*time.Minute)),
	)

	It("matches nested keys of rows the fixture lacks (loans only) to the target's own rows, learning the layouts from the lists alone", func(ctx SpecContext) {
		loans := filepath.Join(GinkgoT().TempDir(), "loans.json")
		manage(ctx, lib, "dumpdata", "library.loan", "--natural-foreign", "-o", loans)
		Expect(libraryRefs(loans)).To(HaveKey("library.loan.volume"))
		Expect(libraryRefs(loans)).NotTo(HaveKey("library.volume.shelf"), "the fixture holds no volumes, shelves or sections")
		// The target: the same library under other ids, without its loans.
		b := migrated(ctx, "libloans", true)
		manage(ctx, b, "seed_library", "--seed", itoa(seed))
		suitekit.Exec(ctx, b, `DELETE FROM library_loan`)
		Expect(suitekit.Count(ctx, b, `SELECT min(id) FROM library_section`)).To(BeNumerically(">", 1000), "ids were shifted")
		report := filepath.Join(GinkgoT().TempDir(), "report")
		s := edmsdr("restore", "--dsn", b, "--in", loans, "--report", report)
		Expect(s.ExitCode()).To(Equal(0), "restore (seed %d): %s", seed, s.Err.Contents())
		Expect(restoreVerdict(report)).To(Equal("PASS"))
		Expect(string(s.Out.Contents())).To(ContainSubstring(`natural keys of library.volume read as [code, shelf]`))
		Expect(digestOf(b)).To(Equal(libDigest), "every loan is attached to the volume it was attached to (seed %d)", seed)
	}, SpecTimeout(3*time.Minute))

	It("edmsdr fixture with the keys file writes the layouts dumpdata writes, and Django's loaddata takes it", func(ctx SpecContext) {
		dir := GinkgoT().TempDir()
		pkg := filepath.Join(dir, "lib.edmsdr")
		s := edmsdr("backup", "--dsn", lib, "--keys", keysFile, "--out", pkg)
		Expect(s.ExitCode()).To(Equal(0), string(s.Err.Contents()))
		fixture := filepath.Join(dir, "fixture.json")
		s = edmsdr("fixture", "--in", pkg, "--out", fixture, "--keys", keysFile)
		Expect(s.ExitCode()).To(Equal(0), "edmsdr fixture (seed %d): %s", seed, s.Err.Contents())
		got, want := libraryRefs(fixture), libraryRefs(libDump(ctx, natural...))
		Expect(want).To(HaveKey("library.volume.shelf"))
		for model, refs := range want {
			Expect(got[model]).To(Equal(refs), "natural foreign keys of %s as dumpdata writes them (seed %d)", model, seed)
		}
		c := migrated(ctx, "libc", true)
		l := manageSession(ctx, c, "loaddata", fixture)
		Expect(l.ExitCode()).To(Equal(0), "loaddata (seed %d): %s", seed, l.Err.Contents())
		Expect(digestOf(c)).To(Equal(libDigest), "seed %d", seed)
	}, SpecTimeout(3*time.Minute))
})
