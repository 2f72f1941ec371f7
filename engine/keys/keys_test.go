package keys

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/edmsdr/edmsdr/engine/finding"
	"github.com/edmsdr/edmsdr/engine/schema"
)

func col(name, typ string) schema.Column { return schema.Column{Name: name, Type: typ, NotNull: true} }

func nullable(name, typ string) schema.Column { return schema.Column{Name: name, Type: typ} }

// idTable returns public.name with a surrogate integer id and the given columns.
func idTable(name string, cols ...schema.Column) *schema.Table {
	return &schema.Table{Schema: "public", Name: name, Columns: append([]schema.Column{col("id", "integer")}, cols...), PrimaryKey: []string{"id"},
		Uniques: []schema.Unique{{Name: name + "_pkey", Columns: []string{"id"}, Constraint: true, Primary: true}}}
}

func fk(name, column, ref string) schema.ForeignKey {
	return schema.ForeignKey{Name: name, Columns: []string{column}, RefSchema: "public", RefTable: ref, RefColumns: []string{"id"}}
}

func uniq(name string, constraint bool, cols ...string) schema.Unique {
	return schema.Unique{Name: name, Columns: cols, Constraint: constraint}
}

// contentTypeTable is Django's django_content_type.
func contentTypeTable() *schema.Table {
	t := idTable("django_content_type", col("app_label", "character varying(100)"), col("model", "character varying(100)"))
	t.Uniques = append(t.Uniques, uniq("django_content_type_app_label_model_76bd3d3b_uniq", true, "app_label", "model"))
	return t
}

// errorsContain fails unless err's message holds every want.
func errorsContain(tb testing.TB, err error, want ...string) {
	tb.Helper()
	if err == nil {
		tb.Fatalf("got no error, want one mentioning %q", want)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			tb.Errorf("error does not mention %q:\n%v", w, err)
		}
	}
}

func TestParseFile(t *testing.T) {
	f, err := ParseFile([]byte(`
tables:
  auth_user: {natural_key: [username]}
  workflows_transition: {natural_key: []}
  documents_document: {}
  audit.entry:
    natural_key: null
generic_foreign_keys:
  - {table: audit_auditentry, content_type: content_type_id, object_id: object_id}
content_types:
  table: django_content_type
  models: {"legacy.doc": documents_document}
exclude: [django_session]
`))
	if err != nil {
		t.Fatal(err)
	}
	if nk := f.Tables["auth_user"].NaturalKey; nk == nil || !reflect.DeepEqual(*nk, []string{"username"}) {
		t.Errorf("auth_user natural key = %v", nk)
	}
	if nk := f.Tables["workflows_transition"].NaturalKey; nk == nil || len(*nk) != 0 {
		t.Errorf("natural_key: [] must decode as an empty, non-nil key (keyless), got %v", nk)
	}
	if nk := f.Tables["documents_document"].NaturalKey; nk != nil {
		t.Errorf("a missing natural_key must mean infer (nil), got %v", *nk)
	}
	if nk := f.Tables["audit.entry"].NaturalKey; nk != nil {
		t.Errorf("natural_key: null must mean infer (nil), got %v", *nk)
	}
	if len(f.GenericForeignKeys) != 1 || f.GenericForeignKeys[0] != (GenericFKSpec{Table: "audit_auditentry", ContentType: "content_type_id", ObjectID: "object_id"}) {
		t.Errorf("generic foreign keys = %+v", f.GenericForeignKeys)
	}
	if f.ContentTypes == nil || f.ContentTypes.Table != "django_content_type" || f.ContentTypes.Models["legacy.doc"] != "documents_document" {
		t.Errorf("content types = %+v", f.ContentTypes)
	}
	if !reflect.DeepEqual(f.Exclude, []string{"django_session"}) {
		t.Errorf("exclude = %v", f.Exclude)
	}
}

func TestParseFileEmpty(t *testing.T) {
	for _, in := range []string{"", "  \n\t\n", "# only a comment\n", "---\n"} {
		f, err := ParseFile([]byte(in))
		if err != nil {
			t.Errorf("%q: %v", in, err)
			continue
		}
		if f == nil || len(f.Tables) != 0 || f.ContentTypes != nil || len(f.GenericForeignKeys) != 0 {
			t.Errorf("%q: want an empty file, got %+v", in, f)
		}
	}
}

func TestParseFileRefusesUnknownFields(t *testing.T) {
	cases := map[string]struct{ in, field string }{
		"top level":     {"tabels:\n  auth_user: {natural_key: [username]}\n", "tabels"},
		"table spec":    {"tables:\n  auth_user: {natural_keys: [username]}\n", "natural_keys"},
		"generic fk":    {"generic_foreign_keys:\n  - {table: a, content_type: b, object: c}\n", "object"},
		"content types": {"content_types: {tabel: x}\n", "tabel"},
	}
	for name, c := range cases {
		_, err := ParseFile([]byte(c.in))
		if err == nil {
			t.Errorf("%s: unknown field accepted", name)
			continue
		}
		if !strings.Contains(err.Error(), c.field) || !strings.Contains(err.Error(), "keys file") {
			t.Errorf("%s: error does not name the field %q: %v", name, c.field, err)
		}
	}
}

func TestParseFileRefusesMalformed(t *testing.T) {
	for _, in := range []string{
		"tables:\n  auth_user: {natural_key: username}\n", // a string, not a list
		"tables: [a, b]\n",
		"- just\n- a list\n",
		"tables: {a: {natural_key: [x]}}\n---\ntables: {b: {natural_key: [y]}}\n", // a second document
		"tables: {a: {natural_key: [x]\n",                                         // unterminated flow mapping
		"\ttables: {}\n",                                                          // a tab as indentation
	} {
		if f, err := ParseFile([]byte(in)); err == nil {
			t.Errorf("%q accepted: %+v", in, f)
		}
	}
}

func TestLoadFile(t *testing.T) {
	f, err := LoadFile("")
	if err != nil || f == nil {
		t.Fatalf("LoadFile(\"\") = %v, %v", f, err)
	}
	dir := t.TempDir()
	good := filepath.Join(dir, "keys.yaml")
	if err := os.WriteFile(good, []byte("tables: {auth_user: {natural_key: [username]}}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if f, err := LoadFile(good); err != nil || f.Tables["auth_user"].NaturalKey == nil {
		t.Errorf("LoadFile(good) = %+v, %v", f, err)
	}
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("nope: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadFile(bad); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("LoadFile(bad) error must name the path: %v", err)
	}
	if _, err := LoadFile(filepath.Join(dir, "missing.yaml")); err == nil {
		t.Error("LoadFile of a missing file succeeded")
	}
}

func TestInfer(t *testing.T) {
	cases := []struct {
		name   string
		table  *schema.Table
		want   []string
		source string
	}{
		{
			name:   "uuid primary key",
			table:  &schema.Table{Schema: "public", Name: "t", Columns: []schema.Column{col("id", "uuid"), col("name", "text")}, PrimaryKey: []string{"id"}},
			want:   []string{"id"},
			source: "primary key",
		},
		{
			name: "text primary key",
			table: &schema.Table{Schema: "public", Name: "django_session", Columns: []schema.Column{col("session_key", "character varying(40)")}, PrimaryKey: []string{"session_key"},
				Uniques: []schema.Unique{{Name: "django_session_pkey", Columns: []string{"session_key"}, Constraint: true, Primary: true}}},
			want:   []string{"session_key"},
			source: "primary key",
		},
		{
			name: "composite primary key of a join table",
			table: &schema.Table{Schema: "public", Name: "j", Columns: []schema.Column{col("a_id", "integer"), col("b_id", "integer")}, PrimaryKey: []string{"a_id", "b_id"},
				Uniques: []schema.Unique{uniq("zz", true, "b_id")}},
			want:   []string{"a_id", "b_id"},
			source: "primary key",
		},
		{
			name:   "surrogate id, unique username",
			table:  with(idTable("auth_user", col("username", "character varying(150)")), uniq("auth_user_username_key", true, "username")),
			want:   []string{"username"},
			source: "unique auth_user_username_key",
		},
		{
			name:   "narrowest wins",
			table:  with(idTable("t", col("a", "text"), col("b", "text"), col("c", "text")), uniq("a_b", true, "a", "b"), uniq("z_c", false, "c")),
			want:   []string{"c"},
			source: "unique z_c",
		},
		{
			name:   "constraint before bare index at equal width",
			table:  with(idTable("t", col("a", "text"), col("b", "text")), uniq("a_idx", false, "a"), uniq("z_b_uniq", true, "b")),
			want:   []string{"b"},
			source: "unique z_b_uniq",
		},
		{
			name:   "then name order",
			table:  with(idTable("t", col("a", "text"), col("b", "text")), uniq("t_b_key", true, "b"), uniq("t_a_key", true, "a")),
			want:   []string{"a"},
			source: "unique t_a_key",
		},
		{
			name:   "name order among bare indexes",
			table:  with(idTable("t", col("a", "text"), col("b", "text")), uniq("ix_b", false, "b"), uniq("ix_a", false, "a")),
			want:   []string{"a"},
			source: "unique ix_a",
		},
		{
			name:   "nullable unique is not a key",
			table:  with(idTable("t", nullable("email", "text")), uniq("t_email_key", true, "email")),
			source: "none",
		},
		{
			name:   "nullable unique loses to a wider NOT NULL one",
			table:  with(idTable("t", nullable("email", "text"), col("a", "text"), col("b", "text")), uniq("t_email_key", true, "email"), uniq("t_a_b_key", true, "a", "b")),
			want:   []string{"a", "b"},
			source: "unique t_a_b_key",
		},
		{
			name:   "nulls not distinct",
			table:  with(idTable("t", nullable("email", "text")), schema.Unique{Name: "t_email_key", Columns: []string{"email"}, Constraint: true, NullsNotDistinct: true}),
			want:   []string{"email"},
			source: "unique t_email_key",
		},
		{
			name:   "json column is never a key",
			table:  with(idTable("t", col("doc", "json")), uniq("t_doc", false, "doc")),
			source: "none",
		},
		{
			name:   "json column in a composite unique",
			table:  with(idTable("t", col("a", "text"), col("doc", "json")), uniq("t_a_doc", false, "a", "doc")),
			source: "none",
		},
		{
			name:   "unique containing the surrogate id is not a key",
			table:  with(idTable("t", col("a", "text")), uniq("t_id_a", true, "id", "a")),
			source: "none",
		},
		{
			name:   "a partial unique alone is not a key",
			table:  with(idTable("t", col("a", "text")), schema.Unique{Name: "t_a_live", Columns: []string{"a"}, Predicate: "(deleted IS NULL)"}),
			source: "none",
		},
		{
			name:   "a generated column is not a key",
			table:  with(idTable("t", schema.Column{Name: "g", Type: "text", NotNull: true, Generated: true}), uniq("t_g", true, "g")),
			source: "none",
		},
		{
			name:   "a unique naming an unknown column is not a key",
			table:  with(idTable("t"), uniq("t_ghost", true, "ghost")),
			source: "none",
		},
		{
			name:   "no unique at all",
			table:  idTable("t", col("a", "text")),
			source: "none",
		},
		{
			name:   "no primary key, unique NOT NULL",
			table:  with(&schema.Table{Schema: "public", Name: "t", Columns: []schema.Column{col("code", "text")}}, uniq("t_code", true, "code")),
			want:   []string{"code"},
			source: "unique t_code",
		},
	}
	for _, c := range cases {
		got, src := Infer(c.table)
		if !reflect.DeepEqual(got, c.want) || src != c.source {
			t.Errorf("%s: Infer = %v (%s), want %v (%s)", c.name, got, src, c.want, c.source)
		}
	}
}

func TestInferReturnsACopy(t *testing.T) {
	tb := with(idTable("t", col("a", "text")), uniq("t_a", true, "a"))
	got, _ := Infer(tb)
	got[0] = "changed"
	if tb.Uniques[1].Columns[0] != "a" {
		t.Error("Infer returned the schema's own slice")
	}
}

func with(t *schema.Table, us ...schema.Unique) *schema.Table {
	t.Uniques = append(t.Uniques, us...)
	return t
}

// folderTable is Django's tree idiom: unique (parent, name) and unique (name) WHERE parent IS NULL.
func folderTable(parentCol, predicate string) *schema.Table {
	return &schema.Table{Schema: "public", Name: "folder",
		Columns:     []schema.Column{col("id", "integer"), nullable(parentCol, "integer"), col("name", "character varying(128)")},
		PrimaryKey:  []string{"id"},
		ForeignKeys: []schema.ForeignKey{fk("folder_parent", parentCol, "folder")},
		Uniques: []schema.Unique{
			{Name: "folder_pkey", Columns: []string{"id"}, Constraint: true, Primary: true},
			uniq("folder_parent_name_uniq", true, parentCol, "name"),
			{Name: "folder_root_name_uniq", Columns: []string{"name"}, Predicate: predicate},
		}}
}

func TestInferTreeIdiom(t *testing.T) {
	accepted := []struct{ col, pred string }{
		{"parent_id", "(parent_id IS NULL)"}, // as pg_get_expr prints it
		{"parent_id", "parent_id IS NULL"},
		{"parent_id", "((parent_id IS NULL))"},
		{"parent_id", "  (parent_id is null) "},
		{"parent_id", `("parent_id" IS NULL)`},
		{"Parent", `("Parent" IS NULL)`},
		{"Parent Id", `("Parent Id" IS NULL)`},
		{`we"ird`, `("we""ird" IS NULL)`},
	}
	for _, c := range accepted {
		got, src := Infer(folderTable(c.col, c.pred))
		if !reflect.DeepEqual(got, []string{c.col, "name"}) || src != "unique folder_parent_name_uniq" {
			t.Errorf("column %q predicate %q: Infer = %v (%s), want the tree idiom to be recognised", c.col, c.pred, got, src)
		}
	}
	rejected := []struct{ col, pred string }{
		{"parent_id", "(parent_id IS NOT NULL)"},
		{"parent_id", "(other_id IS NULL)"},
		{"parent_id", "((parent_id IS NULL) AND ((name)::text <> 'x'::text))"},
		{"parent_id", "(NOT (parent_id IS NULL))"},
		{"Parent", `("parent" IS NULL)`},
		{"Parent Id", `(Parent Id IS NULL)`},
		{"parent_id", "(parent_id = 1)"},
	}
	for _, c := range rejected {
		if got, src := Infer(folderTable(c.col, c.pred)); got != nil {
			t.Errorf("column %q predicate %q: Infer = %v (%s), want no key", c.col, c.pred, got, src)
		}
	}
	// The partial index must cover exactly the other columns.
	tb := folderTable("parent_id", "(parent_id IS NULL)")
	tb.Columns = append(tb.Columns, col("kind", "text"))
	tb.Uniques[2].Columns = []string{"name", "kind"}
	if got, _ := Infer(tb); got != nil {
		t.Errorf("partial index over other columns accepted: %v", got)
	}
	// Two nullable columns are not covered by one partial index.
	tb = folderTable("parent_id", "(parent_id IS NULL)")
	tb.Columns[2].NotNull = false
	if got, _ := Infer(tb); got != nil {
		t.Errorf("unique with two nullable columns accepted: %v", got)
	}
}

// edmsSchema is a small EDMS: content types, users, a folder tree, documents with a generic audit
// trail, a join table and a keyless transition table.
func edmsSchema() *schema.Schema {
	user := with(idTable("auth_user", col("username", "text"), nullable("email", "text")), uniq("auth_user_username_key", true, "username"))
	folder := folderTable("parent_id", "(parent_id IS NULL)")
	doctype := with(idTable("documents_documenttype", col("label", "text")), uniq("documents_documenttype_label_key", true, "label"))
	doc := with(idTable("documents_document", col("uuid", "uuid"), col("folder_id", "integer"), col("document_type_id", "integer"), col("label", "text")),
		uniq("documents_document_uuid_key", true, "uuid"))
	doc.ForeignKeys = []schema.ForeignKey{fk("doc_folder", "folder_id", "folder"), fk("doc_type", "document_type_id", "documents_documenttype")}
	version := with(idTable("documents_version", col("document_id", "integer"), col("number", "integer")),
		uniq("documents_version_document_id_number_uniq", true, "document_id", "number"))
	version.ForeignKeys = []schema.ForeignKey{fk("version_doc", "document_id", "documents_document")}
	audit := idTable("audit_auditentry", col("content_type_id", "integer"), col("object_id", "integer"), col("actor_id", "integer"), col("verb", "text"))
	audit.ForeignKeys = []schema.ForeignKey{fk("audit_ct", "content_type_id", "django_content_type"), fk("audit_actor", "actor_id", "auth_user")}
	trans := idTable("workflows_transition", col("document_id", "integer"), col("at", "timestamp with time zone"))
	trans.ForeignKeys = []schema.ForeignKey{fk("trans_doc", "document_id", "documents_document")}
	// Django admin's log: object_id is text, so it is not detected as a generic foreign key.
	adminlog := idTable("django_admin_log", nullable("content_type_id", "integer"), nullable("object_id", "text"))
	adminlog.ForeignKeys = []schema.ForeignKey{fk("log_ct", "content_type_id", "django_content_type")}
	return schema.New([]*schema.Table{user, folder, doctype, doc, version, audit, trans, adminlog, contentTypeTable()})
}

func TestBuildInfersWholePlan(t *testing.T) {
	s := edmsSchema()
	p, err := Build(s, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"public.auth_user":              {"username"},
		"public.folder":                 {"parent_id", "name"},
		"public.documents_documenttype": {"label"},
		"public.documents_document":     {"uuid"},
		"public.documents_version":      {"document_id", "number"},
		"public.audit_auditentry":       nil,
		"public.workflows_transition":   nil,
		"public.django_admin_log":       nil,
		"public.django_content_type":    {"app_label", "model"},
	}
	if len(p.Tables) != len(want) {
		t.Errorf("plan has %d tables, want %d", len(p.Tables), len(want))
	}
	for q, nk := range want {
		if got := p.NaturalKey(q); !reflect.DeepEqual(got, nk) {
			t.Errorf("%s: natural key %v, want %v", q, got, nk)
		}
		if p.Keyed(q) != (len(nk) > 0) {
			t.Errorf("%s: Keyed = %v", q, p.Keyed(q))
		}
	}
	if p.Tables["public.audit_auditentry"].Source != "none" {
		t.Errorf("keyless source = %q", p.Tables["public.audit_auditentry"].Source)
	}
	if p.Keyed("public.nope") || p.NaturalKey("public.nope") != nil {
		t.Error("unknown table must be keyless")
	}
	// Generic foreign key detected on audit (integer object_id), not on the admin log (text).
	if want := []GenericFK{{Table: "public.audit_auditentry", ContentTypeColumn: "content_type_id", ObjectIDColumn: "object_id"}}; !reflect.DeepEqual(p.GenericFKs, want) {
		t.Errorf("generic FKs = %+v, want %+v", p.GenericFKs, want)
	}
	if len(p.GenericFKsOf("public.audit_auditentry")) != 1 || len(p.GenericFKsOf("public.auth_user")) != 0 {
		t.Error("GenericFKsOf")
	}
	if p.ContentTypes == nil || p.ContentTypes.Table != "public.django_content_type" || p.ContentTypes.AppLabelColumn != "app_label" || p.ContentTypes.ModelColumn != "model" {
		t.Errorf("content types = %+v", p.ContentTypes)
	}
	if d := p.Describe(s); !strings.Contains(d, "(parent_id, name)") || !strings.Contains(d, "(keyless)") || !strings.Contains(d, "generic foreign key audit_auditentry") {
		t.Errorf("Describe:\n%s", d)
	}
	if errs := p.Validate(s); len(errs) != 0 {
		t.Errorf("Validate of a built plan: %v", errs)
	}
}

func TestBuildKeysFileOverrides(t *testing.T) {
	s := edmsSchema()
	f, err := ParseFile([]byte(`
tables:
  auth_user: {natural_key: [email]}
  documents_document: {natural_key: []}
  workflows_transition: {natural_key: [document_id, at]}
  public.folder: {}
`))
	if err != nil {
		t.Fatal(err)
	}
	p, err := Build(s, f)
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		table  string
		nk     []string
		source string
	}{
		{"public.auth_user", []string{"email"}, "keys file"},
		{"public.documents_document", nil, "keys file (keyless)"},
		{"public.workflows_transition", []string{"document_id", "at"}, "keys file"},
		{"public.folder", []string{"parent_id", "name"}, "unique folder_parent_name_uniq"}, // {} means infer
	}
	for _, c := range checks {
		tp := p.Tables[c.table]
		if tp == nil || !reflect.DeepEqual(p.NaturalKey(c.table), c.nk) || tp.Source != c.source {
			t.Errorf("%s: %+v, want %v (%s)", c.table, tp, c.nk, c.source)
		}
	}
}

func TestBuildReportsEveryKeysFileError(t *testing.T) {
	s := edmsSchema()
	gen := s.Table("auth_user")
	gen.Columns = append(gen.Columns, schema.Column{Name: "upper_name", Type: "text", Generated: true})
	f, err := ParseFile([]byte(`
tables:
  no_such_table: {natural_key: [x]}
  auth_user: {natural_key: [username, ghost, username, upper_name]}
  documents_document: {natural_key: [id, uuid]}
`))
	if err != nil {
		t.Fatal(err)
	}
	f.Tables["public.auth_user"] = TableSpec{}
	p, err := Build(s, f)
	if p != nil {
		t.Error("a plan was returned despite errors")
	}
	// The same errors, in the same order, every time.
	for i := 0; i < 10; i++ {
		if _, again := Build(s, f); again == nil || again.Error() != err.Error() {
			t.Fatalf("Build errors vary between runs:\n%v\n---\n%v", err, again)
		}
	}
	errorsContain(t, err,
		"table auth_user is listed twice (as auth_user and public.auth_user)",
		"table no_such_table does not exist",
		"natural key column ghost does not exist",
		"lists column username twice",
		"column upper_name is generated",
		"natural key column id is the surrogate id",
	)
}

func TestContentTypes(t *testing.T) {
	s := edmsSchema()
	t.Run("absent by default is fine", func(t *testing.T) {
		var tables []*schema.Table
		for _, tb := range s.Tables {
			if tb.Name != "django_content_type" {
				tb2 := *tb
				tb2.ForeignKeys = nil
				tables = append(tables, &tb2)
			}
		}
		p, err := Build(schema.New(tables), nil)
		if err != nil {
			t.Fatal(err)
		}
		if p.ContentTypes != nil || len(p.GenericFKs) != 0 {
			t.Errorf("no content type table: %+v %+v", p.ContentTypes, p.GenericFKs)
		}
	})
	t.Run("disabled", func(t *testing.T) {
		p, err := Build(s, &File{ContentTypes: &ContentTypeSpec{Disabled: true}})
		if err != nil {
			t.Fatal(err)
		}
		if p.ContentTypes != nil || len(p.GenericFKs) != 0 {
			t.Errorf("disabled: %+v %+v", p.ContentTypes, p.GenericFKs)
		}
	})
	t.Run("explicit errors", func(t *testing.T) {
		_, err := Build(s, &File{ContentTypes: &ContentTypeSpec{Table: "ghost_ct"}})
		errorsContain(t, err, "content type table ghost_ct does not exist")
		_, err = Build(s, &File{ContentTypes: &ContentTypeSpec{AppLabel: "app", Model: "mdl", Models: map[string]string{"nodot": "auth_user", "a.b": "ghost"}}})
		errorsContain(t, err, "has no column app", "has no column mdl", `content type "nodot" must be app_label.model`, "maps to table ghost")
		_, err = Build(s, &File{ContentTypes: &ContentTypeSpec{Table: "folder", AppLabel: "name", Model: "name"}})
		if err != nil {
			t.Errorf("any table with an integer id may be the content type table: %v", err)
		}
		_, err = Build(s, &File{ContentTypes: &ContentTypeSpec{Table: "documents_version", AppLabel: "number", Model: "number"}})
		if err != nil {
			t.Errorf("documents_version: %v", err)
		}
	})
	t.Run("explicit mapping", func(t *testing.T) {
		p, err := Build(s, &File{ContentTypes: &ContentTypeSpec{Models: map[string]string{"legacy.doc": "documents_document"}}})
		if err != nil {
			t.Fatal(err)
		}
		if got := p.ContentTypes.Models["legacy.doc"]; got != "public.documents_document" {
			t.Errorf("mapping resolved to %q", got)
		}
	})
}

func TestTableForContentType(t *testing.T) {
	other := &schema.Table{Schema: "archive", Name: "archive_box", Columns: []schema.Column{col("id", "integer")}, PrimaryKey: []string{"id"}}
	twin := &schema.Table{Schema: "edms", Name: "documents_document", Columns: []schema.Column{col("id", "integer")}, PrimaryKey: []string{"id"}}
	s := edmsSchema()
	s = schema.New(append(s.Tables, other, twin))
	ct := &ContentTypes{Table: "public.django_content_type", Models: map[string]string{"legacy.doc": "public.documents_version"}}
	cases := []struct{ app, model, want string }{
		{"legacy", "doc", "public.documents_version"},          // explicit mapping first
		{"documents", "document", "public.documents_document"}, // convention, ct's schema first
		{"Documents", "Document", "public.documents_document"}, // lowercased
		{"auth", "user", "public.auth_user"},
		{"archive", "box", "archive.archive_box"}, // another schema
		{"nope", "thing", ""},
	}
	for _, c := range cases {
		if got := ct.TableForContentType(s, c.app, c.model); got != c.want {
			t.Errorf("(%s, %s) = %q, want %q", c.app, c.model, got, c.want)
		}
	}
	// With the content type table in schema edms, edms is looked at first.
	ct2 := &ContentTypes{Table: "edms.django_content_type"}
	if got := ct2.TableForContentType(s, "documents", "document"); got != "edms.documents_document" {
		t.Errorf("edms content types: %q", got)
	}
	var none *ContentTypes
	if got := none.TableForContentType(s, "auth", "user"); got != "" {
		t.Errorf("nil content types resolved %q", got)
	}
}

func TestGenericFKs(t *testing.T) {
	base := func() []*schema.Table {
		return []*schema.Table{contentTypeTable(), idTable("auth_user", col("username", "text"))}
	}
	t.Run("declared in the keys file", func(t *testing.T) {
		tag := idTable("tag", col("target_ct_id", "integer"), col("target_id", "integer"))
		tag.ForeignKeys = []schema.ForeignKey{fk("tag_ct", "target_ct_id", "django_content_type")}
		s := schema.New(append(base(), tag))
		p, err := Build(s, &File{GenericForeignKeys: []GenericFKSpec{{Table: "tag", ContentType: "target_ct_id", ObjectID: "target_id"}}})
		if err != nil {
			t.Fatal(err)
		}
		if want := []GenericFK{{Table: "public.tag", ContentTypeColumn: "target_ct_id", ObjectIDColumn: "target_id"}}; !reflect.DeepEqual(p.GenericFKs, want) {
			t.Errorf("got %+v", p.GenericFKs)
		}
	})
	t.Run("declared wins over detection", func(t *testing.T) {
		a := idTable("a", col("content_type_id", "integer"), col("object_id", "integer"), col("other_ct", "integer"))
		a.ForeignKeys = []schema.ForeignKey{fk("a_ct", "content_type_id", "django_content_type"), fk("a_ct2", "other_ct", "django_content_type")}
		p, err := Build(schema.New(append(base(), a)), &File{GenericForeignKeys: []GenericFKSpec{{Table: "a", ContentType: "other_ct", ObjectID: "object_id"}}})
		if err != nil {
			t.Fatal(err)
		}
		if len(p.GenericFKs) != 1 || p.GenericFKs[0].ContentTypeColumn != "other_ct" {
			t.Errorf("got %+v", p.GenericFKs)
		}
	})
	t.Run("ambiguous content type FKs", func(t *testing.T) {
		amb := idTable("amb", col("ct_a", "integer"), col("ct_b", "integer"), col("object_id", "integer"))
		amb.ForeignKeys = []schema.ForeignKey{fk("amb_a", "ct_a", "django_content_type"), fk("amb_b", "ct_b", "django_content_type")}
		named := idTable("named", col("content_type_id", "integer"), col("ct_b", "integer"), col("object_id", "bigint"))
		named.ForeignKeys = []schema.ForeignKey{fk("named_a", "content_type_id", "django_content_type"), fk("named_b", "ct_b", "django_content_type")}
		single := idTable("single", col("kind_id", "integer"), col("object_id", "smallint"))
		single.ForeignKeys = []schema.ForeignKey{fk("single_kind", "kind_id", "django_content_type")}
		noObj := idTable("noobj", col("content_type_id", "integer"), col("object_pk", "integer"))
		noObj.ForeignKeys = []schema.ForeignKey{fk("noobj_ct", "content_type_id", "django_content_type")}
		p, err := Build(schema.New(append(base(), amb, named, single, noObj)), nil)
		if err != nil {
			t.Fatal(err)
		}
		want := []GenericFK{
			{Table: "public.named", ContentTypeColumn: "content_type_id", ObjectIDColumn: "object_id"},
			{Table: "public.single", ContentTypeColumn: "kind_id", ObjectIDColumn: "object_id"},
		}
		if !reflect.DeepEqual(p.GenericFKs, want) {
			t.Errorf("got %+v, want %+v", p.GenericFKs, want)
		}
	})
	t.Run("declaration errors", func(t *testing.T) {
		a := idTable("a", col("content_type_id", "integer"), col("object_id", "integer"))
		s := schema.New(append(base(), a))
		_, err := Build(s, &File{GenericForeignKeys: []GenericFKSpec{
			{Table: "ghost", ContentType: "content_type_id", ObjectID: "object_id"},
			{Table: "a", ContentType: "ct_missing", ObjectID: "object_id"},
			{Table: "a", ContentType: "content_type_id", ObjectID: "oid_missing"},
		}})
		errorsContain(t, err, "on table ghost, which does not exist", "column ct_missing does not exist", "column oid_missing does not exist")
		_, err = Build(s, &File{ContentTypes: &ContentTypeSpec{Disabled: true},
			GenericForeignKeys: []GenericFKSpec{{Table: "a", ContentType: "content_type_id", ObjectID: "object_id"}}})
		errorsContain(t, err, "needs a content type table")
	})
}

// cyclic returns tables a and b whose natural keys reference each other.
func cyclic() *schema.Schema {
	a := with(idTable("a", col("b_id", "integer"), col("name", "text")), uniq("a_b_name", true, "b_id", "name"))
	a.ForeignKeys = []schema.ForeignKey{fk("a_b", "b_id", "b")}
	b := with(idTable("b", col("a_id", "integer"), col("name", "text")), uniq("b_a_name", true, "a_id", "name"))
	b.ForeignKeys = []schema.ForeignKey{fk("b_a", "a_id", "a")}
	return schema.New([]*schema.Table{a, b})
}

func TestNaturalKeyCycles(t *testing.T) {
	_, err := Build(cyclic(), nil)
	errorsContain(t, err, "natural keys form a cycle")

	// Breaking one side with the keys file removes the cycle.
	nk := []string{"name"}
	if _, err := Build(cyclic(), &File{Tables: map[string]TableSpec{"b": {NaturalKey: &nk}}}); err != nil {
		t.Errorf("cycle broken by the keys file: %v", err)
	}

	// A three-table cycle.
	x := with(idTable("x", col("y_id", "integer")), uniq("x_y", true, "y_id"))
	x.ForeignKeys = []schema.ForeignKey{fk("x_y", "y_id", "y")}
	y := with(idTable("y", col("z_id", "integer")), uniq("y_z", true, "z_id"))
	y.ForeignKeys = []schema.ForeignKey{fk("y_z", "z_id", "z")}
	z := with(idTable("z", col("x_id", "integer")), uniq("z_x", true, "x_id"))
	z.ForeignKeys = []schema.ForeignKey{fk("z_x", "x_id", "x")}
	_, err = Build(schema.New([]*schema.Table{x, y, z}), nil)
	errorsContain(t, err, "natural keys form a cycle", "x", "y", "z")

	// A chain (no cycle) is fine: version -> document -> type.
	if _, err := Build(edmsSchema(), nil); err != nil {
		t.Errorf("chain: %v", err)
	}
}

func TestNaturalKeySelfReference(t *testing.T) {
	// Once: the folder tree.
	s := schema.New([]*schema.Table{folderTable("parent_id", "(parent_id IS NULL)")})
	if _, err := Build(s, nil); err != nil {
		t.Fatalf("tree: %v", err)
	}
	// Twice: two self-references in one key.
	tb := folderTable("parent_id", "(parent_id IS NULL)")
	tb.Columns = append(tb.Columns, col("twin_id", "integer"))
	tb.ForeignKeys = append(tb.ForeignKeys, fk("folder_twin", "twin_id", "folder"))
	nk := []string{"parent_id", "twin_id", "name"}
	_, err := Build(schema.New([]*schema.Table{tb}), &File{Tables: map[string]TableSpec{"folder": {NaturalKey: &nk}}})
	errorsContain(t, err, "self-reference more than once")
}

func TestPlanValidate(t *testing.T) {
	s := edmsSchema()
	p := &Plan{
		Tables: map[string]*TablePlan{
			"public.ghost":     {NaturalKey: []string{"x"}},
			"public.auth_user": {NaturalKey: []string{"id", "nocol"}},
			"public.folder":    nil,
		},
		GenericFKs: []GenericFK{
			{Table: "public.ghost2", ContentTypeColumn: "a", ObjectIDColumn: "b"},
			{Table: "public.audit_auditentry", ContentTypeColumn: "nope", ObjectIDColumn: "object_id"},
		},
		ContentTypes: &ContentTypes{Table: "public.ghost_ct"},
	}
	got := map[string]bool{}
	for _, f := range p.Validate(s) {
		if f.Kind != finding.KeyPlan || f.Severity != finding.Error {
			t.Errorf("finding %v: want an error of kind key-plan", f)
		}
		got[f.Table+"|"+f.Column+"|"+f.Message] = true
	}
	for _, want := range []string{
		"ghost||the table does not exist",
		"auth_user|nocol|natural key column does not exist",
		"auth_user|id|natural key column is the surrogate id",
		"folder||the table has an empty entry",
		"ghost2||generic foreign key on an unknown table",
		"audit_auditentry|nope|generic foreign key names an unknown column",
		"ghost_ct||content type table does not exist",
	} {
		if !got[want] {
			t.Errorf("Validate did not report table|column|message %q; got:\n%v", want, got)
		}
	}
	p.ContentTypes = nil
	p.GenericFKs = p.GenericFKs[1:]
	found := false
	for _, f := range p.Validate(s) {
		if f.Kind == finding.KeyPlan && f.Table == "audit_auditentry" && f.Column == "" && f.Message == "generic foreign key without a content type table" {
			found = true
		}
	}
	if !found {
		t.Errorf("generic FK without content types not reported: %v", p.Validate(s))
	}
}

func TestPlanEqual(t *testing.T) {
	s := edmsSchema()
	a, err := Build(s, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Build(edmsSchema(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !a.Equal(b) || !b.Equal(a) {
		t.Fatal("plans built from the same schema differ")
	}
	// Source is not part of equality.
	b.Tables["public.auth_user"].Source = "keys file"
	if !a.Equal(b) {
		t.Error("a different Source made plans unequal")
	}
	mutations := map[string]func(p *Plan){
		"natural key":       func(p *Plan) { p.Tables["public.auth_user"].NaturalKey = []string{"email"} },
		"natural key order": func(p *Plan) { p.Tables["public.folder"].NaturalKey = []string{"name", "parent_id"} },
		"keyless":           func(p *Plan) { p.Tables["public.auth_user"].NaturalKey = nil },
		"table dropped":     func(p *Plan) { delete(p.Tables, "public.auth_user") },
		"table renamed": func(p *Plan) {
			p.Tables["public.x"] = p.Tables["public.auth_user"]
			delete(p.Tables, "public.auth_user")
		},
		"table nil":          func(p *Plan) { p.Tables["public.auth_user"] = nil },
		"generic FK dropped": func(p *Plan) { p.GenericFKs = nil },
		"generic FK column":  func(p *Plan) { p.GenericFKs[0].ObjectIDColumn = "oid" },
	}
	for name, mutate := range mutations {
		c, err := Build(edmsSchema(), nil)
		if err != nil {
			t.Fatal(err)
		}
		mutate(c)
		if a.Equal(c) || c.Equal(a) {
			t.Errorf("%s: plans still equal", name)
		}
	}
	// A table with a null entry on one side and a missing one on the other.
	x := &Plan{Tables: map[string]*TablePlan{"public.a": nil, "public.b": {}}}
	y := &Plan{Tables: map[string]*TablePlan{"public.b": {}, "public.c": {}}}
	if x.Equal(y) || y.Equal(x) {
		t.Error("plans over different tables are equal")
	}
	var nilPlan *Plan
	if nilPlan.Equal(a) || a.Equal(nil) || !nilPlan.Equal(nil) {
		t.Error("nil plans")
	}
}
