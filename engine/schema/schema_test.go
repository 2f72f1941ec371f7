package schema

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/edmsdr/edmsdr/engine/finding"
)

// col returns a NOT NULL column of type typ.
func col(name, typ string) Column { return Column{Name: name, Type: typ, NotNull: true} }

// idTable returns table public.name with a surrogate integer id and the given extra columns.
func idTable(name string, cols ...Column) *Table {
	return &Table{Schema: "public", Name: name, Columns: append([]Column{col("id", "integer")}, cols...), PrimaryKey: []string{"id"}}
}

// fk returns a foreign key from cols to public.ref(refCols).
func fk(name string, cols []string, ref string, refCols ...string) ForeignKey {
	return ForeignKey{Name: name, Columns: cols, RefSchema: "public", RefTable: ref, RefColumns: refCols}
}

func TestNewSortsAndIndexes(t *testing.T) {
	s := New([]*Table{
		{Schema: "public", Name: "b"},
		{Schema: "audit", Name: "z"},
		{Schema: "public", Name: "a"},
	})
	var got []string
	for _, tb := range s.Tables {
		got = append(got, tb.QName())
	}
	if want := "audit.z public.a public.b"; strings.Join(got, " ") != want {
		t.Fatalf("table order = %v, want %s", got, want)
	}
	if s.Table("a") == nil || s.Table("public.a") == nil {
		t.Error("bare and qualified lookups of public.a must both succeed")
	}
	if s.Table("z") != nil {
		t.Error("a bare name must only look in schema public")
	}
	if s.Lookup("audit", "z") == nil || s.Table("audit.z") == nil {
		t.Error("audit.z must be found")
	}
	if s.Table("nope.a") != nil {
		t.Error("unknown schema must not be found")
	}
}

func TestTableLookupAfterJSONDecode(t *testing.T) {
	data, err := json.Marshal(New([]*Table{idTable("a"), idTable("b")}))
	if err != nil {
		t.Fatal(err)
	}
	var s Schema
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatal(err)
	}
	// No Index() call: Table must build the index itself.
	if s.Table("b") == nil {
		t.Fatal("lookup on a decoded schema without Index() failed")
	}
}

func TestDisplayNames(t *testing.T) {
	if got := (&Table{Schema: "public", Name: "x"}).Display(); got != "x" {
		t.Errorf("Display = %q", got)
	}
	if got := (&Table{Schema: "audit", Name: "x"}).Display(); got != "audit.x" {
		t.Errorf("Display = %q", got)
	}
	if got := (ColumnRef{Table: "public.t", Column: "c"}).String(); got != "t.c" {
		t.Errorf("ColumnRef.String = %q", got)
	}
}

func TestSurrogateID(t *testing.T) {
	cases := []struct {
		name  string
		table *Table
		want  string
	}{
		{"integer", idTable("t"), "id"},
		{"bigint", &Table{Columns: []Column{col("pk", "bigint")}, PrimaryKey: []string{"pk"}}, "pk"},
		{"smallint", &Table{Columns: []Column{col("pk", "smallint")}, PrimaryKey: []string{"pk"}}, "pk"},
		{"text", &Table{Columns: []Column{col("key", "text")}, PrimaryKey: []string{"key"}}, ""},
		{"uuid", &Table{Columns: []Column{col("id", "uuid")}, PrimaryKey: []string{"id"}}, ""},
		{"numeric", &Table{Columns: []Column{col("id", "numeric")}, PrimaryKey: []string{"id"}}, ""},
		{"composite integer", &Table{Columns: []Column{col("a", "integer"), col("b", "integer")}, PrimaryKey: []string{"a", "b"}}, ""},
		{"none", &Table{Columns: []Column{col("id", "integer")}}, ""},
		{"pk names missing column", &Table{Columns: []Column{col("id", "integer")}, PrimaryKey: []string{"nope"}}, ""},
	}
	for _, c := range cases {
		if got := c.table.SurrogateID(); got != c.want {
			t.Errorf("%s: SurrogateID = %q, want %q", c.name, got, c.want)
		}
	}
}

func TestDataColumnsSkipsGenerated(t *testing.T) {
	tb := idTable("t", col("a", "text"), Column{Name: "g", Type: "text", Generated: true}, col("b", "text"))
	if got := strings.Join(tb.DataColumns(), ","); got != "id,a,b" {
		t.Errorf("DataColumns = %s", got)
	}
}

func TestFKFor(t *testing.T) {
	tb := idTable("t", col("a", "integer"), col("b", "integer"))
	tb.ForeignKeys = []ForeignKey{
		fk("t_a", []string{"a"}, "x", "id"),
		fk("t_ab", []string{"a", "b"}, "y", "a", "b"),
	}
	if got := tb.FKFor("a"); len(got) != 2 {
		t.Errorf("FKFor(a) = %d keys, want 2", len(got))
	}
	if got := tb.FKFor("b"); len(got) != 1 || got[0].Name != "t_ab" {
		t.Errorf("FKFor(b) = %v", got)
	}
	if got := tb.FKFor("id"); len(got) != 0 {
		t.Errorf("FKFor(id) = %v", got)
	}
}

func TestValidateAcceptsConsistentSchema(t *testing.T) {
	parent := idTable("parent", col("name", "text"))
	parent.Uniques = []Unique{{Name: "parent_name", Columns: []string{"name"}, Constraint: true}}
	child := idTable("child", col("parent_id", "integer"))
	child.ForeignKeys = []ForeignKey{fk("child_parent", []string{"parent_id"}, "parent", "id")}
	if errs := New([]*Table{parent, child}).Validate(); len(errs) != 0 {
		t.Fatalf("Validate = %v, want no errors", errs)
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	bad := &Table{Schema: "public", Name: "bad",
		Columns:    []Column{col("id", "integer"), col("id", "integer"), col("", "text")},
		PrimaryKey: []string{"nokey"},
		Uniques:    []Unique{{Name: "u", Columns: []string{"nouniq"}}},
		ForeignKeys: []ForeignKey{
			fk("to_missing_table", []string{"id"}, "ghost", "id"),
			fk("to_missing_col", []string{"id"}, "other", "nocol"),
			fk("bad_arity", []string{"id"}, "other", "id", "id"),
			fk("empty", nil, "other"),
			fk("from_missing_col", []string{"nofk"}, "other", "id"),
		},
	}
	other := idTable("other")
	s := &Schema{Tables: []*Table{bad, other, idTable("other"), nil, {Schema: "public"}}}
	got := map[string]bool{}
	for _, f := range s.Validate() {
		if f.Kind != finding.Corrupt || f.Severity != finding.Error {
			t.Errorf("finding %v: want an error of kind corrupt", f)
		}
		got[f.Table+"|"+f.Column+"|"+f.Constraint+"|"+f.Message] = true
	}
	for _, want := range []string{
		"|||schema: null table",
		"|||schema: table with an empty name",
		"other|||schema: table listed twice",
		"bad|id||column listed twice",
		"bad|||column with an empty name",
		"bad|nokey||primary key names an unknown column",
		"bad|nouniq|u|unique constraint names an unknown column",
		"bad|nofk|from_missing_col|foreign key names an unknown column",
		"bad||to_missing_table|foreign key references unknown table ghost",
		"bad||to_missing_col|foreign key references unknown column other.nocol",
		"bad||bad_arity|foreign key has 1 columns referencing 2",
		"bad||empty|foreign key has 0 columns referencing 0",
	} {
		if !got[want] {
			t.Errorf("Validate did not report table|column|constraint|message %q; got:\n%v", want, got)
		}
	}
}

func TestValidateEmptySchema(t *testing.T) {
	if errs := New(nil).Validate(); len(errs) != 0 {
		t.Errorf("empty schema: %v", errs)
	}
}

// TestWideTableLinear: lookups by column name are indexed (100,000 columns took 34 s to verify
// when every lookup scanned the columns).
func TestWideTableLinear(t *testing.T) {
	const n = 100000
	parent := &Table{Schema: "public", Name: "parent"}
	child := &Table{Schema: "public", Name: "child"}
	fk := ForeignKey{Name: "wide", RefSchema: "public", RefTable: "parent"}
	for i := range n {
		c := fmt.Sprintf("c%d", i)
		parent.Columns = append(parent.Columns, Column{Name: c, Type: "integer"})
		child.Columns = append(child.Columns, Column{Name: c, Type: "integer"})
		fk.Columns = append(fk.Columns, c)
		fk.RefColumns = append(fk.RefColumns, c)
	}
	parent.PrimaryKey = fk.RefColumns
	child.ForeignKeys = []ForeignKey{fk}
	s := New([]*Table{parent, child})
	start := time.Now()
	if errs := s.Validate(); len(errs) != 0 {
		t.Fatal(errs)
	}
	for i := range n {
		c := fmt.Sprintf("c%d", i)
		if s.Table("child").Column(c) == nil || len(s.Table("child").FKFor(c)) != 1 {
			t.Fatalf("column %s not found", c)
		}
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("validating and looking up %d columns took %v", n, took)
	}
	// A table changed after indexing is still read right.
	child.Columns = append(child.Columns, Column{Name: "late", Type: "text"})
	if child.Column("late") == nil || child.Column("c7") == nil || child.Column("none") != nil {
		t.Error("lookup wrong after the table changed")
	}
}
