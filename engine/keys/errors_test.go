package keys

import (
	"errors"
	"slices"
	"testing"

	"github.com/edmsdr/edmsdr/engine/finding"
	"github.com/edmsdr/edmsdr/engine/schema"
)

func TestBuildAndValidateLocateTheirErrors(t *testing.T) {
	s := schema.New([]*schema.Table{idTable("doc", col("number", "text"), col("title", "text"))})
	nk := []string{"missing", "title", "title", "id"}
	_, err := Build(s, &File{Tables: map[string]TableSpec{"doc": {NaturalKey: &nk}}})
	if err == nil {
		t.Fatal("Build accepted a key naming a missing column")
	}
	var got []string
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var ke *Error
		if !errors.As(e, &ke) {
			t.Errorf("error %q carries no locator", e)
			continue
		}
		if ke.Error() != e.Error() {
			t.Errorf("located error %q, want the message %q", ke.Error(), e.Error())
		}
		got = append(got, ke.Table+"."+ke.Column)
	}
	slices.Sort(got)
	if want := []string{"doc.id", "doc.missing", "doc.title"}; !slices.Equal(got, want) {
		t.Errorf("locators %v, want %v", got, want)
	}

	p := &Plan{Tables: map[string]*TablePlan{"public.doc": {NaturalKey: []string{"nope"}}, "public.gone": {NaturalKey: []string{"x"}}}}
	got = nil
	for _, f := range p.Validate(s) {
		got = append(got, f.Table+"."+f.Column)
	}
	slices.Sort(got)
	if want := []string{"doc.nope", "gone."}; !slices.Equal(got, want) {
		t.Errorf("plan locators %v, want %v", got, want)
	}
}

func TestFindingsLocateEveryProblem(t *testing.T) {
	s := schema.New([]*schema.Table{idTable("doc", col("number", "text"))})
	nk := []string{"missing"}
	_, err := Build(s, &File{Tables: map[string]TableSpec{"doc": {NaturalKey: &nk}, "ghost": {}}})
	fl := Findings(err)
	got := map[string]bool{}
	for _, f := range fl {
		if f.Kind != finding.KeyPlan || f.Severity != finding.Error {
			t.Errorf("finding %v: want an error of kind key-plan", f)
		}
		got[f.Table+"."+f.Column] = true
	}
	if len(fl) != 2 || !got["doc.missing"] || !got["ghost."] {
		t.Errorf("findings %v, want one on doc.missing and one on table ghost", fl)
	}
	if Findings(nil) != nil {
		t.Error("Findings(nil) is not empty")
	}
	p := &Plan{References: []Reference{{Table: "public.doc", Column: "owner_id", RefTable: "public.doc", RefColumn: "id"}}}
	fl = Findings(p.ApplyReferences(s))
	if len(fl) != 1 || fl[0].Table != "doc" || fl[0].Column != "owner_id" {
		t.Errorf("reference findings %v, want one on doc.owner_id", fl)
	}
}
