package schema

import (
	"math/rand"
	"reflect"
	"strings"
	"testing"

	"github.com/edmsdr/edmsdr/engine/finding"
)

// components renders g's components as "a|b c d" (tables of a component joined by |, in order).
func components(g *Graph) string {
	var parts []string
	for _, comp := range g.Components {
		var names []string
		for _, t := range comp {
			names = append(names, t.Display())
		}
		parts = append(parts, strings.Join(names, "|"))
	}
	return strings.Join(parts, " ")
}

// position returns the index of table name in g.Order, failing the test when absent.
func position(tb testing.TB, g *Graph, name string) int {
	tb.Helper()
	for i, t := range g.Order {
		if t.Display() == name {
			return i
		}
	}
	tb.Fatalf("table %s not in graph order", name)
	return -1
}

// edmsLike is a small EDMS-shaped schema: users, a folder tree, documents with versions, a
// document <-> version cycle (latest version), a three-table cycle, and a reference to a table
// outside the schema.
func edmsLike() []*Table {
	user := idTable("auth_user", col("username", "text"))
	folder := idTable("folder", Column{Name: "parent_id", Type: "integer"})
	folder.ForeignKeys = []ForeignKey{fk("folder_parent", []string{"parent_id"}, "folder", "id")}
	doc := idTable("document", col("folder_id", "integer"), col("owner_id", "integer"), Column{Name: "latest_id", Type: "integer"})
	doc.ForeignKeys = []ForeignKey{
		fk("doc_folder", []string{"folder_id"}, "folder", "id"),
		fk("doc_owner", []string{"owner_id"}, "auth_user", "id"),
		fk("doc_latest", []string{"latest_id"}, "version", "id"),
	}
	version := idTable("version", col("document_id", "integer"))
	version.ForeignKeys = []ForeignKey{fk("version_doc", []string{"document_id"}, "document", "id")}
	x := idTable("cx", col("y_id", "integer"))
	x.ForeignKeys = []ForeignKey{fk("x_y", []string{"y_id"}, "cy", "id")}
	y := idTable("cy", col("z_id", "integer"))
	y.ForeignKeys = []ForeignKey{fk("y_z", []string{"z_id"}, "cz", "id")}
	z := idTable("cz", col("x_id", "integer"), col("owner_id", "integer"))
	z.ForeignKeys = []ForeignKey{fk("z_x", []string{"x_id"}, "cx", "id"), fk("z_owner", []string{"owner_id"}, "auth_user", "id")}
	audit := idTable("audit", col("user_id", "integer"), col("ext_id", "integer"))
	audit.ForeignKeys = []ForeignKey{
		fk("audit_user", []string{"user_id"}, "auth_user", "id"),
		{Name: "audit_ext", Columns: []string{"ext_id"}, RefSchema: "elsewhere", RefTable: "thing", RefColumns: []string{"id"}},
	}
	return []*Table{audit, x, y, z, version, doc, folder, user}
}

func TestBuildGraphTopologicalOrder(t *testing.T) {
	s := New(edmsLike())
	g := BuildGraph(s)
	if len(g.Order) != len(s.Tables) {
		t.Fatalf("order has %d tables, schema %d", len(g.Order), len(s.Tables))
	}
	// Every reference to another component points backwards in the order.
	for _, tb := range s.Tables {
		for _, k := range tb.ForeignKeys {
			if s.Table(k.RefQName()) == nil {
				continue
			}
			if g.SameComponent(tb.QName(), k.RefQName()) {
				continue
			}
			if g.Component(k.RefQName()) >= g.Component(tb.QName()) {
				t.Errorf("%s references %s, which is not in an earlier component", tb.Display(), k.RefTable)
			}
			if position(t, g, DisplayName(k.RefQName())) >= position(t, g, tb.Display()) {
				t.Errorf("%s comes before %s, which it references", tb.Display(), k.RefTable)
			}
		}
	}
	// Components are what the cycles say.
	if !g.SameComponent("public.document", "public.version") {
		t.Error("document and version form a two-table cycle")
	}
	if !g.SameComponent("public.cx", "public.cy") || !g.SameComponent("public.cy", "public.cz") {
		t.Error("cx, cy, cz form a three-table cycle")
	}
	if g.SameComponent("public.folder", "public.document") || g.SameComponent("public.auth_user", "public.cz") {
		t.Error("tables outside a cycle must be in components of their own")
	}
	for _, comp := range g.Components {
		switch len(comp) {
		case 1, 2, 3:
		default:
			t.Errorf("unexpected component size %d: %s", len(comp), components(g))
		}
	}
	if len(g.Components) != 5 {
		t.Errorf("components = %s, want 5 of them", components(g))
	}
	// Tables inside a component are sorted by name.
	for _, comp := range g.Components {
		for i := 1; i < len(comp); i++ {
			if comp[i-1].QName() >= comp[i].QName() {
				t.Errorf("component not sorted: %s", components(g))
			}
		}
	}
}

func TestBuildGraphSelfReferenceIsOwnComponent(t *testing.T) {
	g := BuildGraph(New(edmsLike()))
	c := g.Component("public.folder")
	if c < 0 || len(g.Components[c]) != 1 {
		t.Fatalf("folder (self-referencing) must be alone in its component: %s", components(g))
	}
	if !g.SameComponent("public.folder", "public.folder") {
		t.Error("a table is in its own component")
	}
}

func TestBuildGraphUnknownTables(t *testing.T) {
	g := BuildGraph(New(edmsLike()))
	if got := g.Component("elsewhere.thing"); got != -1 {
		t.Errorf("Component of a table outside the schema = %d, want -1", got)
	}
	if g.SameComponent("elsewhere.thing", "elsewhere.thing") {
		t.Error("unknown tables are in no component")
	}
	for _, tb := range g.Order {
		if tb.Schema == "elsewhere" {
			t.Error("a table outside the schema entered the order")
		}
	}
}

func TestBuildGraphDeterministic(t *testing.T) {
	want := components(BuildGraph(New(edmsLike())))
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 50; i++ {
		tables := edmsLike()
		rng.Shuffle(len(tables), func(a, b int) { tables[a], tables[b] = tables[b], tables[a] })
		for _, tb := range tables {
			rng.Shuffle(len(tb.ForeignKeys), func(a, b int) { tb.ForeignKeys[a], tb.ForeignKeys[b] = tb.ForeignKeys[b], tb.ForeignKeys[a] })
		}
		if got := components(BuildGraph(New(tables))); got != want {
			t.Fatalf("shuffle %d: components %s, want %s", i, got, want)
		}
	}
}

func TestBuildGraphExactOrder(t *testing.T) {
	// a <- b <- c chain plus an isolated table: referenced first, ties broken by name.
	a := idTable("a")
	b := idTable("b", col("a_id", "integer"))
	b.ForeignKeys = []ForeignKey{fk("b_a", []string{"a_id"}, "a", "id")}
	c := idTable("c", col("b_id", "integer"), col("b2_id", "integer"))
	c.ForeignKeys = []ForeignKey{fk("c_b", []string{"b_id"}, "b", "id"), fk("c_b2", []string{"b2_id"}, "b", "id")}
	iso := idTable("0iso")
	got := components(BuildGraph(New([]*Table{c, b, a, iso})))
	if got != "0iso a b c" {
		t.Errorf("order = %s, want 0iso a b c", got)
	}
}

func TestBuildGraphEmpty(t *testing.T) {
	g := BuildGraph(New(nil))
	if len(g.Components) != 0 || len(g.Order) != 0 {
		t.Errorf("empty schema: %+v", g)
	}
}

func TestComputeDomains(t *testing.T) {
	tables := edmsLike()
	// A composite-PK join table and a table that references it through a composite FK whose
	// columns are listed in the opposite order of the join table's.
	join := &Table{Schema: "public", Name: "doc_user",
		Columns:    []Column{col("document_id", "integer"), col("user_id", "integer"), col("role", "text")},
		PrimaryKey: []string{"document_id", "user_id"},
		ForeignKeys: []ForeignKey{
			fk("du_doc", []string{"document_id"}, "document", "id"),
			fk("du_user", []string{"user_id"}, "auth_user", "id"),
		},
	}
	grant := idTable("grant", col("who", "integer"), col("what", "integer"), col("note", "text"))
	grant.ForeignKeys = []ForeignKey{fk("grant_du", []string{"who", "what"}, "doc_user", "user_id", "document_id")}
	// References to non-surrogate columns carry plain values.
	lang := &Table{Schema: "public", Name: "lang", Columns: []Column{col("code", "text")}, PrimaryKey: []string{"code"}}
	num := idTable("numbered", col("number", "integer"))
	num.Uniques = []Unique{{Name: "numbered_number", Columns: []string{"number"}, Constraint: true}}
	page := idTable("page", col("lang", "text"), col("number", "integer"))
	page.ForeignKeys = []ForeignKey{fk("page_lang", []string{"lang"}, "lang", "code"), fk("page_number", []string{"number"}, "numbered", "number")}
	tables = append(tables, join, grant, lang, num, page)

	d, errs := ComputeDomains(New(tables))
	if len(errs) != 0 {
		t.Fatalf("ComputeDomains errors: %v", errs)
	}
	want := map[string]string{
		"auth_user.id":          "public.auth_user",
		"folder.id":             "public.folder",
		"folder.parent_id":      "public.folder",
		"document.folder_id":    "public.folder",
		"document.owner_id":     "public.auth_user",
		"document.latest_id":    "public.version",
		"version.document_id":   "public.document",
		"cx.y_id":               "public.cy",
		"cz.x_id":               "public.cx",
		"audit.user_id":         "public.auth_user",
		"doc_user.document_id":  "public.document",
		"doc_user.user_id":      "public.auth_user",
		"grant.who":             "public.auth_user",
		"grant.what":            "public.document",
		"grant.id":              "public.grant",
		"audit.ext_id":          "",
		"auth_user.username":    "",
		"doc_user.role":         "",
		"lang.code":             "",
		"page.lang":             "",
		"page.number":           "",
		"numbered.number":       "",
		"grant.note":            "",
		"document.nonexistent":  "",
		"ghost_table.id":        "",
		"page.id":               "public.page",
		"version.id":            "public.version",
		"cy.z_id":               "public.cz",
		"cz.owner_id":           "public.auth_user",
		"document.id":           "public.document",
		"numbered.id":           "public.numbered",
		"doc_user.nonexistent2": "",
		"cx.id":                 "public.cx",
		"cy.id":                 "public.cy",
		"cz.id":                 "public.cz",
		"audit.id":              "public.audit",
	}
	for ref, dom := range want {
		tbl, c, _ := strings.Cut(ref, ".")
		if got := d.Of("public."+tbl, c); got != dom {
			t.Errorf("domain of %s = %q, want %q", ref, got, dom)
		}
	}
	// No column absent from want has a domain.
	for ref := range d {
		if _, ok := want[ref.String()]; !ok {
			t.Errorf("unexpected domain %s -> %s", ref, d[ref])
		}
	}
}

func TestComputeDomainsConflict(t *testing.T) {
	a, b := idTable("a"), idTable("b")
	c := idTable("c", col("ref", "integer"))
	c.ForeignKeys = []ForeignKey{fk("c_a", []string{"ref"}, "a", "id"), fk("c_b", []string{"ref"}, "b", "id")}
	d, errs := ComputeDomains(New([]*Table{a, b, c}))
	if len(errs) != 1 {
		t.Fatalf("errors = %v, want exactly one conflict", errs)
	}
	if f := errs[0]; f.Kind != finding.SchemaMismatch || f.Table != "c" || f.Column != "ref" {
		t.Errorf("conflict finding %+v, want schema-mismatch on c.ref", f)
	}
	// Two foreign keys that agree are fine.
	c.ForeignKeys = []ForeignKey{fk("c_a", []string{"ref"}, "a", "id"), fk("c_a2", []string{"ref"}, "a", "id")}
	d, errs = ComputeDomains(New([]*Table{a, b, c}))
	if len(errs) != 0 || d.Of("public.c", "ref") != "public.a" {
		t.Errorf("agreeing FKs: domain %q, errors %v", d.Of("public.c", "ref"), errs)
	}
}

func TestComputeDomainsChainThroughNonSurrogate(t *testing.T) {
	// one_to_one.a_id is a unique FK to a.id; b.x references one_to_one.a_id: still a's ids.
	a := idTable("a")
	o := &Table{Schema: "public", Name: "one_to_one", Columns: []Column{col("a_id", "integer"), col("v", "text")}, PrimaryKey: []string{"a_id", "v"},
		ForeignKeys: []ForeignKey{fk("o_a", []string{"a_id"}, "a", "id")},
		Uniques:     []Unique{{Name: "o_a_uniq", Columns: []string{"a_id"}, Constraint: true}}}
	b := idTable("b", col("x", "integer"))
	b.ForeignKeys = []ForeignKey{fk("b_o", []string{"x"}, "one_to_one", "a_id")}
	d, errs := ComputeDomains(New([]*Table{a, o, b}))
	if len(errs) != 0 || d.Of("public.b", "x") != "public.a" {
		t.Errorf("b.x domain %q errs %v, want public.a", d.Of("public.b", "x"), errs)
	}
}

func TestComputeDomainsColumnCycleTerminates(t *testing.T) {
	// Two non-surrogate columns referencing each other: no domain, and no infinite recursion.
	p := &Table{Schema: "public", Name: "p", Columns: []Column{col("k", "text")}, PrimaryKey: []string{"k"},
		ForeignKeys: []ForeignKey{fk("p_q", []string{"k"}, "q", "k")}}
	q := &Table{Schema: "public", Name: "q", Columns: []Column{col("k", "text")}, PrimaryKey: []string{"k"},
		ForeignKeys: []ForeignKey{fk("q_p", []string{"k"}, "p", "k")}}
	d, errs := ComputeDomains(New([]*Table{p, q}))
	if len(d) != 0 || len(errs) != 0 {
		t.Errorf("domains %v errs %v, want none", d, errs)
	}
}

func TestDomainsReferences(t *testing.T) {
	tables := edmsLike()
	doc := tables[5]
	if doc.Name != "document" {
		t.Fatal("fixture order changed")
	}
	doc.Columns = append(doc.Columns, Column{Name: "gen_folder", Type: "integer", Generated: true})
	doc.ForeignKeys = append(doc.ForeignKeys, fk("doc_gen", []string{"gen_folder"}, "folder", "id"))
	s := New(tables)
	d, errs := ComputeDomains(s)
	if len(errs) != 0 {
		t.Fatal(errs)
	}
	if got := d.References(s.Table("document")); !reflect.DeepEqual(got, []string{"folder_id", "owner_id", "latest_id"}) {
		t.Errorf("References(document) = %v", got)
	}
	if got := d.References(s.Table("folder")); !reflect.DeepEqual(got, []string{"parent_id"}) {
		t.Errorf("References(folder) = %v (self-reference included, own id excluded)", got)
	}
	if got := d.References(s.Table("auth_user")); len(got) != 0 {
		t.Errorf("References(auth_user) = %v, want none", got)
	}
}
