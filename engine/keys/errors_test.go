package keys

import (
	"errors"
	"slices"
	"testing"

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
