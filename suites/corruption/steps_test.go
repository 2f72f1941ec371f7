package corruption_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"

	"github.com/edmsdr/edmsdr/corrupt"
	"github.com/edmsdr/edmsdr/engine/dsn"
	"github.com/edmsdr/edmsdr/engine/finding"
	"github.com/edmsdr/edmsdr/engine/pack"
	"github.com/edmsdr/edmsdr/engine/restore"
	"github.com/edmsdr/edmsdr/suites/suitekit"
)

// restored is what one restore of damaged input did.
type restored struct {
	res   *restore.Result
	err   error
	after state
	// stray lists files the restore left beside its input or in the working directory.
	stray []string
}

// committed reports whether the restore says it changed the target.
func (r restored) committed() bool { return r.res != nil && r.res.Committed }

// listDir returns the names in dir.
func listDir(dir string) []string {
	GinkgoHelper()
	es, err := os.ReadDir(dir)
	Expect(err).NotTo(HaveOccurred())
	names := make([]string, len(es))
	for i, e := range es {
		names[i] = e.Name()
	}
	return names
}

// writeInput writes damaged input alone in a new directory and returns its path.
func writeInput(data []byte, name string) string {
	GinkgoHelper()
	path := filepath.Join(GinkgoT().TempDir(), name)
	Expect(os.WriteFile(path, data, 0o600)).To(Succeed())
	return path
}

// strayFiles lists what is in dir besides the names allowed.
func strayFiles(dir string, allowed ...string) []string {
	GinkgoHelper()
	var out []string
	for _, n := range listDir(dir) {
		if !slices.Contains(allowed, n) {
			out = append(out, filepath.Join(dir, n))
		}
	}
	return out
}

// restoreInProcess restores data into the target with restore.Run and reads the target's state.
func restoreInProcess(ctx context.Context, data []byte) restored {
	GinkgoHelper()
	tgt.reset(ctx)
	path := writeInput(data, "damaged.edmsdr")
	cwd, err := os.Getwd()
	Expect(err).NotTo(HaveOccurred())
	before := listDir(cwd)
	var out restored
	func() {
		conn, err := dsn.Connect(ctx, tgt.url)
		Expect(err).NotTo(HaveOccurred())
		defer conn.Close(context.WithoutCancel(ctx))
		f, err := os.Open(path)
		Expect(err).NotTo(HaveOccurred())
		defer f.Close()
		out.res, out.err = restore.Run(ctx, conn, f, restore.Options{})
	}()
	out.after = tgt.state(ctx)
	if out.after != tgt.baseline {
		tgt.dirty = true
	}
	out.stray = append(strayFiles(filepath.Dir(path), "damaged.edmsdr"), strayFiles(cwd, before...)...)
	return out
}

// cli runs the edmsdr binary in a new empty working directory, with HOME and TMPDIR in two more,
// and returns the session and the working directory, after checking that the binary left nothing
// in HOME or TMPDIR.
func cli(args ...string) (*gexec.Session, string) {
	GinkgoHelper()
	wd, home, tmp := GinkgoT().TempDir(), GinkgoT().TempDir(), GinkgoT().TempDir()
	cmd := exec.Command(bin, args...)
	cmd.Dir = wd
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "TMPDIR=" + tmp}
	s := suitekit.Run(cmd, 2*time.Minute)
	Expect(append(strayFiles(home), strayFiles(tmp)...)).To(BeEmpty(), "edmsdr %s left files in HOME or TMPDIR", args[0])
	return s, wd
}

// cliPeak is cli that also returns the command's peak resident set in MiB (suitekit.RunPeak).
func cliPeak(args ...string) (*gexec.Session, string, int64) {
	GinkgoHelper()
	wd, home, tmp := GinkgoT().TempDir(), GinkgoT().TempDir(), GinkgoT().TempDir()
	cmd := exec.Command(bin, args...)
	cmd.Dir = wd
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "TMPDIR=" + tmp}
	s, peak := suitekit.RunPeak(cmd, 2*time.Minute)
	Expect(append(strayFiles(home), strayFiles(tmp)...)).To(BeEmpty(), "edmsdr %s left files in HOME or TMPDIR", args[0])
	return s, wd, peak >> 20
}

// findingLine is a finding as Finding.String writes it on stderr: severity, kind, the rest.
var findingLine = regexp.MustCompile(`(?m)^\s+(error|warning|info) ([a-z-]+)[ :]`)

// stderrFindings reads the findings a refused CLI command printed on stderr (kind and severity).
func stderrFindings(stderr []byte) finding.List {
	var fl finding.List
	for _, m := range findingLine.FindAllSubmatch(stderr, -1) {
		fl = append(fl, finding.Finding{Severity: finding.Severity(m[1]), Kind: finding.Kind(m[2])})
	}
	return fl
}

// kindsOf renders the kinds of the error findings of err.
func kindsOf(err error) string {
	fl := finding.FindingsOf(err)
	if fl == nil {
		return "no findings: " + err.Error()
	}
	kinds := fl.Errors().Kinds()
	s := make([]string, len(kinds))
	for i, k := range kinds {
		s[i] = string(k)
	}
	return strings.Join(s, ",")
}

// judgement collects what went wrong with one injection, and a one-line account of what happened.
type judgement struct {
	problems []string
	outcome  []string
	detected bool
	targetOK bool
}

func (j *judgement) fail(format string, args ...any) {
	j.problems = append(j.problems, fmt.Sprintf(format, args...))
}

func (j *judgement) note(format string, args ...any) {
	j.outcome = append(j.outcome, fmt.Sprintf(format, args...))
}

// verifyStage runs pack.Verify on damaged bytes and judges it against d.
func (j *judgement) verifyStage(d corrupt.Detection, damaged []byte) {
	m, err := pack.Verify(bytes.NewReader(damaged), pack.Limits{})
	switch {
	case err == nil:
		j.note("verify accepted")
		if m == nil {
			j.fail("verify accepted without a manifest")
		}
	default:
		j.note("verify refused: %s", kindsOf(err))
	}
	switch d.Verify {
	case corrupt.Refuse:
		if rerr := d.Refusal(err); rerr != nil {
			j.detected = false
			j.fail("verify: %v", rerr)
		}
	case corrupt.Accept:
		if err != nil {
			j.detected = false
			j.fail("verify refused a package it must accept: %v", err)
		}
	}
}

// restoreStage judges a restore against d: a refusal must leave the target exactly as it was, an
// exact restore must bring back exactly the package's data; nothing may be written beside.
func (j *judgement) restoreStage(d corrupt.Detection, r restored) {
	switch {
	case r.err != nil:
		j.note("restore refused: %s", kindsOf(r.err))
	case r.committed():
		j.note("restore committed")
	default:
		j.note("restore returned without error and did not commit")
	}
	switch d.Restore {
	case corrupt.Refuse:
		if rerr := d.Refusal(r.err); rerr != nil {
			j.detected = false
			j.fail("restore: %v", rerr)
		}
		if r.committed() {
			j.fail("restore committed damaged input")
		}
		if r.after != tgt.baseline {
			j.targetOK = false
			j.fail("the target changed: %s", r.after.diff(tgt.baseline))
		}
	case corrupt.Exact:
		if r.err != nil || !r.committed() {
			j.detected = false
			j.fail("harmless damage not restored: %v", r.err)
		}
		if r.after.Digest != good.digest {
			j.targetOK = false
			j.fail("the target's digest %s is not the package's %s", r.after.Digest, good.digest)
		}
	}
	if len(r.stray) > 0 {
		j.targetOK = false
		j.fail("the restore left files: %v", r.stray)
	}
}

// restoreJSON decodes the findings of a CLI restore's report.
func restoreJSON(path string) (*restore.Result, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var res *restore.Result
	if err := json.Unmarshal(data, &res); err != nil {
		return nil, err
	}
	if res == nil {
		return nil, errors.New("restore.json holds no result")
	}
	return res, nil
}
