package compat_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"

	"github.com/edmsdr/edmsdr/engine/finding"
	"github.com/edmsdr/edmsdr/fixtures/edms"
	"github.com/edmsdr/edmsdr/fixtures/ledger"
	"github.com/edmsdr/edmsdr/suites/label"
	"github.com/edmsdr/edmsdr/suites/suitekit"
)

// testdata is the repository's testdata directory, relative to this package.
const testdata = "../../testdata"

// sample is one committed sample and how to restore it.
type sample struct {
	// Path is the sample file; Digest the `edmsdr digest` output recorded beside it.
	Path, Digest string
	// Name is the path below testdata, for spec names and the checksum list.
	Name string
	// Target says what it restores into: edms, ledger or django (from the file name's prefix).
	Target string
	// Package is true for a package, false for a Django fixture.
	Package bool
}

// targets maps a sample name prefix to its target; a sample with another prefix fails.
var targets = []string{label.EDMS, label.Ledger, label.Django}

// findSamples globs every sample: packages of every format version, and Django fixtures.
func findSamples() ([]sample, error) {
	var out []sample
	add := func(pattern string, pkg bool) error {
		paths, err := filepath.Glob(filepath.Join(testdata, pattern))
		if err != nil {
			return err
		}
		for _, p := range paths {
			name, err := filepath.Rel(testdata, p)
			if err != nil {
				return err
			}
			s := sample{Path: p, Digest: strings.TrimSuffix(p, filepath.Ext(p)) + ".digest", Name: filepath.ToSlash(name), Package: pkg}
			base := filepath.Base(p)
			for _, t := range targets {
				if strings.HasPrefix(base, t+"-") {
					s.Target = t
				}
			}
			out = append(out, s)
		}
		return nil
	}
	if err := add("packages/*/*.edmsdr", true); err != nil {
		return nil, err
	}
	if err := add("fixtures/*.json", false); err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// readSums reads testdata/SHA256SUMS ("<hex>  <path below testdata>" per line).
func readSums() (map[string]string, error) {
	f, err := os.Open(filepath.Join(testdata, "SHA256SUMS"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sums := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		sum, name, ok := strings.Cut(line, "  ")
		if !ok {
			return nil, fmt.Errorf("SHA256SUMS: malformed line %q", line)
		}
		sums[name] = sum
	}
	return sums, sc.Err()
}

func fileSHA256(path string) string {
	GinkgoHelper()
	data, err := os.ReadFile(path)
	Expect(err).NotTo(HaveOccurred())
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// edmsdr runs the edmsdr binary and waits for it.
func edmsdr(args ...string) *gexec.Session {
	GinkgoHelper()
	return suitekit.Run(exec.Command(bin, args...), 3*time.Minute)
}

// djangoKeys is the Django project's keys file: django_migrations is left out of every digest.
var djangoKeys = filepath.Join(testdata, "django", "keys.yaml")

// target creates a fresh database of the sample's kind and returns its DSN and the digest flags.
func target(ctx context.Context, s sample) (string, []string) {
	GinkgoHelper()
	url := srv.DSN(suitekit.NewDatabase(ctx, srv, s.Target))
	switch s.Target {
	case "edms":
		Expect(edms.Install(ctx, url, edms.SeedOptions{Reinit: true})).To(Succeed())
	case "ledger":
		Expect(ledger.Install(ctx, url, ledger.SeedOptions{Reinit: true})).To(Succeed())
	case "django":
		schema, err := os.ReadFile(filepath.Join(testdata, "django", "schema.sql"))
		Expect(err).NotTo(HaveOccurred())
		suitekit.Exec(ctx, url, string(schema))
		Expect(suitekit.Count(ctx, url, `SELECT count(*) FROM django_content_type WHERE id > 1000`)).To(BeNumerically(">", 0),
			"the Django target holds migrate's content types under other ids than the samples")
		return url, []string{"--keys", djangoKeys}
	default:
		Fail(fmt.Sprintf("sample %s: no target for its name (want a prefix of %v)", s.Name, targets))
	}
	return url, nil
}

var _ = Describe("Committed samples", Label(label.Compat), func() {
	all, globErr := findSamples()

	It("are all found, each with its recorded digest and its checksum, unchanged since committed", func() {
		Expect(globErr).NotTo(HaveOccurred())
		kinds := map[string]bool{}
		for _, s := range all {
			Expect(s.Target).NotTo(BeEmpty(), "sample %s: name it after its target (%v)", s.Name, targets)
			Expect(s.Digest).To(BeAnExistingFile(), "sample %s has no recorded digest", s.Name)
			kinds[fmt.Sprintf("%s/%v", s.Target, s.Package)] = true
		}
		Expect(kinds).To(HaveKey("edms/true"), "an EDMS package sample")
		Expect(kinds).To(HaveKey("ledger/true"), "a ledger package sample")
		Expect(kinds).To(HaveKey("django/false"), "a Django fixture sample")
		Expect(filepath.Join(testdata, "packages", "v1")).To(BeADirectory())

		sums, err := readSums()
		Expect(err).NotTo(HaveOccurred())
		listed := map[string]bool{}
		for _, s := range all {
			for _, name := range []string{s.Name, strings.TrimSuffix(s.Name, filepath.Ext(s.Name)) + ".digest"} {
				Expect(sums).To(HaveKey(name), "record %s in testdata/SHA256SUMS when committing it", name)
				listed[name] = true
			}
		}
		for name, sum := range sums {
			path := filepath.Join(testdata, filepath.FromSlash(name))
			Expect(path).To(BeAnExistingFile(), "%s is listed in SHA256SUMS: samples are never removed", name)
			Expect(fileSHA256(path)).To(Equal(sum), "%s changed: samples are never regenerated; a new format adds new samples", name)
		}
	})

	for _, s := range all {
		labels := Label(s.Target) // the targets are named after their labels (label.EDMS, label.Ledger, label.Django)
		if !s.Package {
			labels = Label(label.Legacy)
		}
		It(fmt.Sprintf("restore %s into a fresh %s target: PASS, digest as recorded", s.Name, s.Target), labels, func(ctx SpecContext) {
			want, err := os.ReadFile(s.Digest)
			Expect(err).NotTo(HaveOccurred(), "sample %s has no recorded digest", s.Name)
			if s.Package {
				v := edmsdr("verify", "--in", s.Path)
				Expect(v.ExitCode()).To(Equal(0), "verify %s: %s", s.Name, v.Err.Contents())
			}
			url, digestFlags := target(ctx, s)
			report := filepath.Join(GinkgoT().TempDir(), "report")
			r := edmsdr("restore", "--dsn", url, "--in", s.Path, "--report", report)
			Expect(r.ExitCode()).To(Equal(0), "restore %s: %s", s.Name, r.Err.Contents())
			res := suitekit.RestoreReport(report)
			Expect(res.Verdict).To(Equal(finding.Pass), "restore %s", s.Name)
			Expect(res.Committed).To(BeTrue(), "restore %s", s.Name)
			d := edmsdr(append([]string{"digest", "--dsn", url}, digestFlags...)...)
			Expect(d.ExitCode()).To(Equal(0), string(d.Err.Contents()))
			Expect(string(d.Out.Contents())).To(Equal(string(want)), "digest after restoring %s", s.Name)
		}, SpecTimeout(3*time.Minute))
	}
})
