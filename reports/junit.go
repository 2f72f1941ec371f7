package reports

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"

	"github.com/edmsdr/edmsdr/engine/finding"
)

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Time       string          `xml:"time,attr"`
	Timestamp  string          `xml:"timestamp,attr"`
	Properties []junitProperty `xml:"properties>property,omitempty"`
	Cases      []junitCase     `xml:"testcase"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitProblem `xml:"failure,omitempty"`
	Error     *junitProblem `xml:"error,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// WriteJUnit writes the report as JUnit XML: one testsuite per scenario, one testcase per check.
// A FAIL check is a <failure>, an UNKNOWN one an <error> (missing evidence is never a pass); the
// failure text carries the evidence and the scenario's error findings. A scenario that stopped
// before any check ran is one failed testcase carrying its error.
func (d *Drill) WriteJUnit(w io.Writer) error {
	doc := junitSuites{Name: "edmsdr drill " + d.Dataset, Time: seconds(d.Elapsed.Seconds())}
	for _, s := range d.Scenarios {
		js := junitSuite{
			Name: "drill " + s.Name, Time: seconds(s.Elapsed.Seconds()), Timestamp: d.StartedAt.UTC().Format("2006-01-02T15:04:05"),
			Properties: []junitProperty{{"dataset", d.Dataset}, {"provider", d.Provider}, {"scale", d.Scale}, {"seed", fmt.Sprint(d.Seed)}, {"replay", d.Replay}},
		}
		var findings []string
		for _, f := range s.Findings {
			if f.Severity == finding.Error {
				findings = append(findings, f.String())
			}
		}
		cases := s.Checks
		if len(cases) == 0 || s.Error != "" {
			v := s.Verdict
			if v == finding.Pass || v == "" {
				v = finding.Unknown
			}
			ev := s.Error
			if ev == "" {
				ev = "the scenario ran no check"
			}
			cases = append(cases, finding.Check{Name: "completed", Verdict: v, Evidence: ev})
		}
		for _, c := range cases {
			name := c.Name
			if c.Table != "" {
				name += " " + c.Table
			}
			jc := junitCase{Name: name, Classname: "drill." + s.Name, Time: "0"}
			text := c.Evidence
			if len(findings) > 0 {
				text += "\nfindings:\n" + strings.Join(findings, "\n")
			}
			switch c.Verdict {
			case finding.Pass:
				jc.SystemOut = c.Evidence
			case finding.Fail:
				jc.Failure = &junitProblem{Message: "FAIL: " + c.Evidence, Type: "FAIL", Text: text}
				js.Failures++
			default:
				jc.Error = &junitProblem{Message: "UNKNOWN: " + c.Evidence, Type: "UNKNOWN", Text: text}
				js.Errors++
			}
			js.Cases = append(js.Cases, jc)
		}
		js.Tests = len(js.Cases)
		doc.Tests += js.Tests
		doc.Failures += js.Failures
		doc.Errors += js.Errors
		doc.Suites = append(doc.Suites, js)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("junit: %w", err)
	}
	_, err := io.WriteString(w, "\n")
	return err
}

func seconds(s float64) string { return fmt.Sprintf("%.3f", s) }
