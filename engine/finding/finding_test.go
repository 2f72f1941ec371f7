package finding

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func TestCombine(t *testing.T) {
	cases := []struct {
		in   []Verdict
		want Verdict
	}{
		{nil, Unknown},
		{[]Verdict{Pass}, Pass},
		{[]Verdict{Pass, Pass}, Pass},
		{[]Verdict{Pass, Unknown}, Unknown},
		{[]Verdict{Unknown, Pass}, Unknown},
		{[]Verdict{Pass, Fail}, Fail},
		{[]Verdict{Unknown, Fail, Pass}, Fail},
		{[]Verdict{Fail, Unknown}, Fail},
		{[]Verdict{""}, Unknown},
		{[]Verdict{Pass, "pass"}, Unknown}, // not a verdict: no evidence of PASS
	}
	for _, c := range cases {
		if got := Combine(c.in...); got != c.want {
			t.Errorf("Combine(%v) = %s, want %s", c.in, got, c.want)
		}
	}
	if !Pass.OK() || Fail.OK() || Unknown.OK() {
		t.Error("only PASS is OK")
	}
}

func sample() List {
	var l List
	l.Add(Finding{Kind: Lost, Table: "documents_document", Count: 3, Keys: []string{"(a)", "(b)"}, Message: "rows missing"})
	l.Add(Finding{Kind: Diverged, Severity: Warning, Table: "auth_user", Column: "email", Message: "content differs"})
	l.Errorf(Orphaned, "documents_version", "%d rows point at nothing", 2)
	l.Add(Finding{Kind: SchemaMismatch, Severity: Info, Table: "t", Message: "type differs", Detail: "Failing row contains (7, secret)."})
	l.Add(Finding{Kind: Lost, Table: "folder", Message: "again"})
	return l
}

func TestListHelpers(t *testing.T) {
	l := sample()
	if len(l) != 5 {
		t.Fatalf("len = %d", len(l))
	}
	if l[0].Severity != Error {
		t.Error("Add must default the severity to error")
	}
	if l[1].Severity != Warning || l[3].Severity != Info {
		t.Error("Add must keep a given severity")
	}
	if l[2].Kind != Orphaned || l[2].Table != "documents_version" || l[2].Message != "2 rows point at nothing" || l[2].Severity != Error {
		t.Errorf("Errorf = %+v", l[2])
	}
	if !l.HasErrors() {
		t.Error("HasErrors")
	}
	errs := l.Errors()
	if len(errs) != 3 || errs[0].Kind != Lost || errs[1].Kind != Orphaned || errs[2].Kind != Lost {
		t.Errorf("Errors = %v", errs)
	}
	if got := l.Kinds(); !reflect.DeepEqual(got, []Kind{Diverged, Lost, Orphaned, SchemaMismatch}) {
		t.Errorf("Kinds = %v", got)
	}
	if !l.Has(Diverged) || l.Has(Duplicated) {
		t.Error("Has")
	}
	var warnOnly List
	warnOnly.Add(Finding{Kind: Diverged, Severity: Warning})
	if warnOnly.HasErrors() || len(warnOnly.Errors()) != 0 {
		t.Error("warnings are not errors")
	}
	var empty List
	if empty.HasErrors() || empty.Has(Lost) || len(empty.Kinds()) != 0 || len(empty.Errors()) != 0 {
		t.Error("empty list")
	}
}

func TestRedacted(t *testing.T) {
	l := sample()
	r := l.Redacted()
	for i := range r {
		if len(r[i].Keys) != 0 || r[i].Detail != "" {
			t.Errorf("finding %d keeps keys or detail: %v %q", i, r[i].Keys, r[i].Detail)
		}
		if r[i].Kind != l[i].Kind || r[i].Table != l[i].Table || r[i].Count != l[i].Count || r[i].Message != l[i].Message {
			t.Errorf("finding %d changed beyond its keys: %+v", i, r[i])
		}
	}
	if len(l[0].Keys) != 2 {
		t.Error("Redacted changed the original list")
	}
	if strings.Contains(l[0].Redacted().String(), "(a)") {
		t.Error("a redacted finding still renders its keys")
	}
	if l[3].Detail == "" || strings.Contains(l[3].Redacted().String(), "secret") {
		t.Error("a redacted finding still renders the server's detail, or Redacted changed the original")
	}
}

func TestFindingString(t *testing.T) {
	f := Finding{Kind: Orphaned, Severity: Error, Table: "documents_version", Column: "document_id", Constraint: "version_doc_fk", Count: 2, Keys: []string{"(d1, 1)", "(d2, 3)"}, Message: "points at nothing"}
	want := "error orphaned table documents_version column document_id constraint version_doc_fk rows 2: points at nothing [(d1, 1); (d2, 3)]"
	if got := f.String(); got != want {
		t.Errorf("String =\n%s\nwant\n%s", got, want)
	}
	f = Finding{Kind: Conflict, Severity: Error, Table: "auth_user", Constraint: "auth_user_username_key", Keys: []string{"username='a'"},
		Message: "duplicate key [SQLSTATE 23505]", Detail: "Key (username)=(a) already exists.\x1b"}
	want = `error conflict table auth_user constraint auth_user_username_key: duplicate key [SQLSTATE 23505] (detail: Key (username)=(a) already exists.\x1b) [username='a']`
	if got := f.String(); got != want {
		t.Errorf("String with detail =\n%s\nwant\n%s", got, want)
	}
	if got := (Finding{Kind: Corrupt, Severity: Error, Message: "bad"}).String(); got != "error corrupt: bad" {
		t.Errorf("String = %q", got)
	}
}

func TestRefused(t *testing.T) {
	l := sample()
	var err error = &Refused{Op: "restore", Findings: l}
	msg := err.Error()
	if !strings.HasPrefix(msg, "restore refused: 3 finding(s)") {
		t.Errorf("Error = %q", msg)
	}
	// Only blocking findings are listed when there are any.
	if strings.Contains(msg, "content differs") || strings.Contains(msg, "type differs") {
		t.Errorf("non-blocking findings listed: %q", msg)
	}
	for _, w := range []string{"rows missing", "2 rows point at nothing", "again"} {
		if !strings.Contains(msg, w) {
			t.Errorf("Error lacks %q: %q", w, msg)
		}
	}
	// Without blocking findings, every finding is listed.
	var warn List
	warn.Add(Finding{Kind: Diverged, Severity: Warning, Message: "w1"})
	if msg := (&Refused{Op: "check", Findings: warn}).Error(); !strings.Contains(msg, "1 finding(s)") || !strings.Contains(msg, "w1") {
		t.Errorf("warnings only: %q", msg)
	}
	if msg := (&Refused{Op: "check"}).Error(); msg != "check refused: 0 finding(s)" {
		t.Errorf("no findings: %q", msg)
	}
	// Long lists are cut after 20.
	var many List
	for i := 0; i < 25; i++ {
		many.Errorf(Lost, "t", "finding %02d", i)
	}
	msg = (&Refused{Op: "verify", Findings: many}).Error()
	if !strings.Contains(msg, "finding 19") || strings.Contains(msg, "finding 20") || !strings.Contains(msg, "and 5 more") {
		t.Errorf("long list: %q", msg)
	}
	if strings.Count(msg, "\n") != 21 {
		t.Errorf("long list has %d lines", strings.Count(msg, "\n")+1)
	}
}

func TestFindingsOf(t *testing.T) {
	l := sample()
	base := &Refused{Op: "restore", Findings: l}
	wrapped := fmt.Errorf("restore table documents_document: %w", fmt.Errorf("step: %w", base))
	joined := errors.Join(errors.New("other"), wrapped)
	for name, err := range map[string]error{"direct": base, "wrapped": wrapped, "joined": joined} {
		got := FindingsOf(err)
		if !reflect.DeepEqual(got, l) {
			t.Errorf("%s: FindingsOf = %v", name, got)
		}
		var fe *Refused
		if !errors.As(err, &fe) || fe.Op != "restore" {
			t.Errorf("%s: errors.As", name)
		}
	}
	if FindingsOf(nil) != nil || FindingsOf(errors.New("plain")) != nil || FindingsOf(fmt.Errorf("x: %w", errors.New("y"))) != nil {
		t.Error("errors without findings must give nil")
	}
}

// TestPrintable: names, keys and messages from a package reach the terminal with control
// characters quoted and long values cut (an 18 KB key was echoed whole, ESC and CR raw).
func TestPrintable(t *testing.T) {
	for in, want := range map[string]string{
		"documents_document":           "documents_document",
		"evil\x1b[2J\rname":            `evil\x1b[2J\rname`,
		"line\nbreak\ttab":             `line\nbreak\ttab`,
		"bidi\u202eesrever":            `bidi\u202eesrever`,
		"bad\xffutf8":                  `bad\xffutf8`,
		"ünïcødé ok, \ufffd too":       "ünïcødé ok, \ufffd too",
		"c1\u009bcontrol, del\x7f":     `c1\u009bcontrol, del\x7f`,
		strings.Repeat("k", 300):       strings.Repeat("k", 256) + "… (44 more bytes)",
		strings.Repeat("é", 200) + "x": strings.Repeat("é", 128) + "… (145 more bytes)",
	} {
		if got := Printable(in, 256); got != want {
			t.Errorf("Printable(%q) = %q, want %q", in, got, want)
		}
	}
	f := Finding{Severity: Error, Kind: Corrupt, Table: "t\x1b]0;pwned\x07", Message: "m\r", Keys: []string{strings.Repeat("x", 18<<10)}}
	s := f.String()
	if strings.ContainsAny(s, "\x1b\x07\r") || len(s) > 1024 {
		t.Errorf("finding text %d bytes, raw controls: %q", len(s), s[:min(len(s), 200)])
	}
}
