package legacy

import (
	"reflect"
	"strings"
	"testing"

	"github.com/edmsdr/edmsdr/engine/keys"
)

func TestConventionTable(t *testing.T) {
	for in, want := range map[string]string{
		"documents.DocumentVersion": "documents_documentversion",
		"auth.user":                 "auth_user",
		"django_celery.Task":        "django_celery_task",
	} {
		if got := ConventionTable(in); got != want {
			t.Errorf("%s: %s, want %s", in, got, want)
		}
	}
}

func TestMappingModels(t *testing.T) {
	m := djangoMapping(t, nil)
	ct := m.Model("contenttypes.ContentType")
	if ct == nil || ct.Table.Name != "django_content_type" {
		t.Fatalf("contenttypes.contenttype maps to %v", ct)
	}
	if m.Model("documents.unknown") != nil {
		t.Error("an unknown model maps to a table")
	}
	doc := m.Model("documents.document")
	if doc == nil {
		t.Fatal("documents.document has no table")
	}
	owner := doc.FieldByName("owner")
	if owner == nil || owner.Column != "owner_id" || owner.Ref != "public.auth_user" {
		t.Errorf("owner field: %+v", owner)
	}
	if f := doc.FieldByName("owner_id"); f != owner {
		t.Error("the attname owner_id is the same field")
	}
	if f := doc.FieldByName("document_number"); f == nil || f.Ref != "" {
		t.Errorf("document_number: %+v", f)
	}
	rel := doc.ManyToManyField("related")
	if rel == nil || rel.Owner != "from_document_id" || rel.Target != "to_document_id" || rel.TargetTable != "public.documents_document" {
		t.Errorf("self many-to-many: %+v", rel)
	}
	user := m.Model("auth.user")
	if g := user.ManyToManyField("groups"); g == nil || g.Owner != "user_id" || g.Target != "group_id" {
		t.Errorf("user groups: %+v", g)
	}
	if m.Model("auth.group").ManyToManyField("permissions") == nil {
		t.Error("group permissions not found")
	}
}

func TestMappingNaturalKeys(t *testing.T) {
	m := djangoMapping(t, nil)
	cols := func(name string) string {
		md := m.Model(name)
		if md == nil || md.Key == nil {
			return "none"
		}
		return strings.Join(md.Key.Columns(), ",")
	}
	for model, want := range map[string]string{
		"auth.permission":          "codename,content_type_id", // Django's order, not the constraint's
		"contenttypes.contenttype": "app_label,model",
		"auth.user":                "username",
		"documents.folder":         "parent_id,name", // the tree idiom
		"documents.document":       "document_number",
		"audit.auditentry":         "none",
	} {
		if got := cols(model); got != want {
			t.Errorf("%s: key %s, want %s", model, got, want)
		}
	}
	perm := m.Model("auth.permission")
	sh, err := m.Shape(perm)
	if err != nil || sh.Fixed != 3 || sh.Variable {
		t.Errorf("permission key shape %+v, %v", sh, err)
	}
	folder := m.Model("documents.folder")
	if !folder.Key.Parts[0].Self {
		t.Error("the folder's parent is a self part")
	}
	if sh, err := m.Shape(folder); err != nil || sh.Fixed != 1 || !sh.Variable {
		t.Errorf("folder key shape %+v, %v", sh, err)
	}
	if err := m.Decodable(folder); err != nil {
		t.Errorf("a path is decodable: %v", err)
	}
	if _, err := m.Shape(m.Model("audit.auditentry")); err == nil {
		t.Error("a keyless model has no shape")
	}
}

func TestMappingOverrides(t *testing.T) {
	empty := keys.DjangoKey{}
	kf := &keys.File{Django: &keys.DjangoSpec{Models: map[string]keys.DjangoModelSpec{
		"legacy.Doc":  {Table: "documents_document", Fields: map[string]string{"doc_no": "document_number"}, NaturalKey: &keys.DjangoKey{{Name: "doc_no"}}},
		"auth.user":   {NaturalKey: &empty},
		"legacy.link": {Table: "documents_document", ManyToMany: map[string]string{"links": "documents_document_related"}},
	}}}
	m := djangoMapping(t, kf)
	md := m.Model("legacy.doc")
	if md == nil || md.Table.Name != "documents_document" {
		t.Fatalf("legacy.doc maps to %v", md)
	}
	if f := md.FieldByName("doc_no"); f == nil || f.Column != "document_number" {
		t.Errorf("doc_no: %+v", f)
	}
	if md.Key == nil || md.Key.Columns()[0] != "document_number" {
		t.Errorf("natural key by field name: %+v", md.Key)
	}
	if m.Model("auth.user").Key != nil {
		t.Error("natural_key: [] means none")
	}
	if mm := m.Model("legacy.link").ManyToManyField("links"); mm == nil || mm.Owner != "from_document_id" {
		t.Errorf("declared many-to-many: %+v", mm)
	}
}

func TestMappingOverrideErrors(t *testing.T) {
	s := djangoSchema()
	for name, spec := range map[string]keys.DjangoModelSpec{
		"legacy.nothing": {},
		"legacy.doc":     {Table: "no_such_table"},
		"legacy.col":     {Table: "documents_document", Fields: map[string]string{"x": "no_column"}},
		"legacy.key":     {Table: "documents_document", NaturalKey: &keys.DjangoKey{{Name: "nope"}}},
		"legacy.m2m":     {Table: "documents_document", ManyToMany: map[string]string{"x": "auth_user"}},
		"nodot":          {Table: "documents_document"},
	} {
		kf := &keys.File{Django: &keys.DjangoSpec{Models: map[string]keys.DjangoModelSpec{name: spec}}}
		plan, err := keys.Build(s, kf)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := NewMapping(s, plan, kf); err == nil {
			t.Errorf("%s %+v: want an error", name, spec)
		}
	}
}

func TestKeysFileDjangoSection(t *testing.T) {
	f, err := keys.ParseFile([]byte(`
django:
  models:
    legacy.document: {table: documents_document, fields: {doc_no: document_number}, natural_key: [document_number]}
`))
	if err != nil {
		t.Fatal(err)
	}
	sp := f.Django.Models["legacy.document"]
	if sp.Table != "documents_document" || sp.Fields["doc_no"] != "document_number" || len(*sp.NaturalKey) != 1 {
		t.Errorf("parsed %+v", sp)
	}
	f, err = keys.ParseFile([]byte("django:\n  models:\n    a.w: {natural_key: [[document], workflow_type]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if nk := f.Django.Models["a.w"].NaturalKey; nk == nil || nk.String() != "[[document], workflow_type]" || !(*nk)[0].Nested || (*nk)[1].Nested {
		t.Errorf("parsed a nested key as %+v", nk)
	}
	for _, bad := range []string{"[[a, b]]", "[{a: b}]", "[[]]", "[[[a]]]"} {
		if _, err := keys.ParseFile([]byte("django:\n  models:\n    a.w: {natural_key: " + bad + "}\n")); err == nil {
			t.Errorf("natural_key: %s is accepted", bad)
		}
	}
	if _, err := keys.ParseFile([]byte("django:\n  models:\n    a.b: {tabel: x}\n")); err == nil {
		t.Error("an unknown field in the django section is refused")
	}
}

func TestNaturalKeyLayouts(t *testing.T) {
	m := djangoMapping(t, nil)
	folder := m.Model("documents.folder")
	var got []string
	for _, k := range m.Candidates(folder) {
		got = append(got, k.Layout().String())
	}
	want := []string{"[parent, name]", "[[parent], name]", "[name, parent]", "[name, [parent]]"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("candidates of a tree key: %v, want %v", got, want)
	}
	if c := m.Candidates(m.Model("auth.user")); c != nil {
		t.Errorf("Django's own user model has a fixed key, got candidates %v", c)
	}
	if c := m.Candidates(m.Model("auth.group")); c != nil {
		t.Errorf("a one-part key has one layout, got %v", c)
	}
	// A nested tree key has a fixed length and splits; spliced it is a path of varying length.
	if sh, err := m.Shape(folder); err != nil || !sh.Variable {
		t.Errorf("spliced tree key: shape %+v, %v", sh, err)
	}
	kf := &keys.File{Django: &keys.DjangoSpec{Models: map[string]keys.DjangoModelSpec{
		"documents.folder":   {NaturalKey: &keys.DjangoKey{{Name: "name"}, {Name: "parent", Nested: true}}},
		"documents.document": {NaturalKey: &keys.DjangoKey{{Name: "folder", Nested: true}, {Name: "document_number"}}},
	}}}
	m = djangoMapping(t, kf)
	folder = m.Model("documents.folder")
	if sh, err := m.Shape(folder); err != nil || sh != (KeyShape{Fixed: 2}) {
		t.Errorf("nested tree key: shape %+v, %v", sh, err)
	}
	if sh, err := m.Shape(m.Model("documents.document")); err != nil || sh != (KeyShape{Fixed: 2}) || m.Decodable(m.Model("documents.document")) != nil {
		t.Errorf("nested nullable foreign key: shape %+v, %v", sh, err)
	}
	if folder.Key.Source != KeyFromKeysFile || m.Candidates(folder) != nil {
		t.Errorf("a declared layout is not learned: %+v", folder.Key)
	}
	bad := &keys.File{Django: &keys.DjangoSpec{Models: map[string]keys.DjangoModelSpec{
		"documents.folder": {NaturalKey: &keys.DjangoKey{{Name: "name", Nested: true}}},
	}}}
	s := djangoSchema()
	plan, _ := keys.Build(s, bad)
	if _, err := NewMapping(s, plan, bad); err == nil || !strings.Contains(err.Error(), "no foreign key") {
		t.Errorf("a nested plain field: got %v", err)
	}
}
