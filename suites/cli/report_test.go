package cli_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/edmsdr/edmsdr/reports"
	"github.com/edmsdr/edmsdr/suites/label"
	"github.com/edmsdr/edmsdr/suites/suitekit"
)

// screenshotPath is where the HTML report spec leaves its screenshot, for people to look at.
const screenshotPath = "out/drill-report.png"

var (
	rowRe  = regexp.MustCompile(`(?s)<tr>(.*?)</tr>`)
	cellRe = regexp.MustCompile(`(?s)<t[dh][^>]*>(.*?)</t[dh]>`)
	tagRe  = regexp.MustCompile(`<[^>]+>`)
)

// tableRows returns the text of the cells of each row of the HTML table with the given id.
func tableRows(dom, id string) [][]string {
	GinkgoHelper()
	start := strings.Index(dom, `<table id="`+id+`"`)
	Expect(start).To(BeNumerically(">=", 0), "the page has no table %s", id)
	end := strings.Index(dom[start:], "</table>")
	var rows [][]string
	for _, r := range rowRe.FindAllStringSubmatch(dom[start:start+end], -1) {
		var cells []string
		for _, c := range cellRe.FindAllStringSubmatch(r[1], -1) {
			cells = append(cells, strings.TrimSpace(tagRe.ReplaceAllString(c[1], "")))
		}
		rows = append(rows, cells)
	}
	return rows
}

// byID returns the text of the element with the given id.
func byID(dom, id string) string {
	GinkgoHelper()
	m := regexp.MustCompile(`id="` + regexp.QuoteMeta(id) + `"[^>]*>([^<]*)<`).FindStringSubmatch(dom)
	Expect(m).NotTo(BeNil(), "the page has no element %s", id)
	return strings.TrimSpace(m[1])
}

var _ = Describe("the drill's HTML report", Label(label.CLI, label.Drill, label.HTML), func() {
	It("renders in headless Chromium and shows report.json's numbers: verdict, rows, digests, tables, trend", func(ctx SpecContext) {
		chromium, err := exec.LookPath("chromium")
		if err != nil {
			Skip("Debian's chromium is not installed (.ci/run installs it): " + err.Error())
		}
		dir, history := GinkgoT().TempDir(), GinkgoT().TempDir()
		// An earlier run in the history: the trend shows it and this run.
		earlier := `{"schema_version":1,"started_at":"2026-12-01T02:00:00Z","dataset":"edms","provider":"dsn","scale":"tiny","verdict":"PASS","elapsed_ns":8000000000,"rows":99,"lost":0,"scenarios":{"cycle":"PASS"},"phases_ns":{}}` + "\n"
		Expect(os.WriteFile(filepath.Join(history, reports.HistoryFile), []byte(earlier), 0o644)).To(Succeed())
		db := fmt.Sprintf("cli_drill_html_%d", GinkgoParallelProcess())
		s := edmsdr(nil, "drill", "--db", srv.DSN("postgres"), "--database", db, "--report", dir, "--history", history, "--seed", "5")
		Expect(s.ExitCode()).To(Equal(0), string(s.Out.Contents())+string(s.Err.Contents()))
		f, err := os.Open(filepath.Join(dir, "report.json"))
		Expect(err).NotTo(HaveOccurred())
		rep, err := reports.ReadDrill(f)
		f.Close()
		Expect(err).NotTo(HaveOccurred())
		Expect(rep.Tables).NotTo(BeEmpty())
		for _, name := range []string{"report.md", "junit.xml", "metrics.prom", "report.html"} {
			Expect(filepath.Join(dir, name)).To(BeAnExistingFile())
		}

		page := "file://" + filepath.Join(dir, "report.html")
		profile := GinkgoT().TempDir()
		browse := func(args ...string) []byte {
			GinkgoHelper()
			args = append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--user-data-dir=" + profile}, args...)
			cmd := exec.CommandContext(ctx, chromium, append(args, page)...)
			cmd.Env = append(os.Environ(), "HOME="+profile)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			Expect(cmd.Run()).To(Succeed(), stderr.String())
			return stdout.Bytes()
		}
		dom := string(browse("--dump-dom"))
		Expect(byID(dom, "verdict")).To(Equal(string(rep.Verdict)))
		Expect(byID(dom, "rows")).To(Equal(fmt.Sprint(rep.Rows)))
		Expect(byID(dom, "package-bytes")).To(Equal(fmt.Sprintf("%d bytes", rep.PackageBytes)))
		Expect(byID(dom, "digest-before")).To(Equal(rep.DigestBefore))
		Expect(byID(dom, "digest-after")).To(Equal(rep.DigestAfter))
		rows := tableRows(dom, "tables")
		Expect(rows).To(HaveLen(len(rep.Tables) + 1))
		for i, t := range rep.Tables {
			Expect(rows[i+1]).To(Equal([]string{t.Table, fmt.Sprint(t.Backup), fmt.Sprint(t.Inserted), fmt.Sprint(t.Matched),
				fmt.Sprint(t.Diverged), fmt.Sprint(t.Lost), fmt.Sprint(t.Orphaned), string(t.Verdict)}), "table %s", t.Table)
		}
		scenarios := tableRows(dom, "scenarios")
		Expect(scenarios).To(HaveLen(2))
		Expect(scenarios[1][:3]).To(Equal([]string{"cycle", "PASS", fmt.Sprint(len(rep.Scenario("cycle").Checks))}))
		Expect(byID(dom, "trend-runs")).To(HavePrefix("2 runs in the history"))
		recent := tableRows(dom, "recent")
		Expect(recent).To(HaveLen(3))
		Expect(recent[1][3]).To(Equal(fmt.Sprint(rep.Rows)), "the newest run first")
		Expect(recent[2][3]).To(Equal("99"))
		Expect(dom).To(ContainSubstring("<svg"), "the charts are inline SVG")
		Expect(dom).NotTo(MatchRegexp(`(src|href)="https?:`), "the page loads nothing from the network")

		shot := suitekit.RepoPath(screenshotPath)
		Expect(os.MkdirAll(filepath.Dir(shot), 0o755)).To(Succeed())
		browse("--hide-scrollbars", "--window-size=1100,2600", "--screenshot="+shot)
		png, err := os.ReadFile(shot)
		Expect(err).NotTo(HaveOccurred())
		Expect(png).To(HavePrefix("\x89PNG"))
		Expect(len(png)).To(BeNumerically(">", 20_000), "a screenshot of a rendered page, not a blank one")
		AddReportEntry("screenshot", shot)
	}, SpecTimeout(3*time.Minute))
})
