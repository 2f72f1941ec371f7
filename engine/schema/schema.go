// Package schema is the vocabulary of database structure the engine works with: tables, columns,
// primary and foreign keys, unique constraints, sequences, the foreign-key graph and its strongly
// connected components. It is pure data: reading it from a server is package introspect's job.
package schema

import (
	"fmt"
	"sort"
	"strings"

	"github.com/edmsdr/edmsdr/engine/finding"
)

// Schema is a set of tables, sorted by qualified name.
type Schema struct {
	Tables []*Table `json:"tables"`

	byName map[string]*Table
}

// Table is one base table.
type Table struct {
	Schema      string       `json:"schema"`
	Name        string       `json:"name"`
	Columns     []Column     `json:"columns"`
	PrimaryKey  []string     `json:"primary_key,omitempty"`
	ForeignKeys []ForeignKey `json:"foreign_keys,omitempty"`
	Uniques     []Unique     `json:"uniques,omitempty"`
	// Partitioned is true for a partitioned table (its rows live in partitions).
	Partitioned bool `json:"partitioned,omitempty"`

	// columnAt and fksOf index Columns and ForeignKeys by column name (Schema.Index builds
	// them), so that lookups stay constant-time for tables of any width; a table built or
	// changed since falls back to scanning.
	columnAt map[string]int
	fksOf    map[string][]int
	nfks     int
}

// Column is one column of a table.
type Column struct {
	Name    string `json:"name"`
	Type    string `json:"type"` // format_type(): "integer", "character varying(100)", ...
	NotNull bool   `json:"not_null,omitempty"`
	// HasDefault is true when the column has a default or is an identity column.
	HasDefault bool `json:"has_default,omitempty"`
	// Identity is "a" (GENERATED ALWAYS), "d" (BY DEFAULT) or "".
	Identity string `json:"identity,omitempty"`
	// Generated is true for GENERATED ALWAYS AS (expr) STORED columns: never backed up or written.
	Generated bool `json:"generated,omitempty"`
	// Sequence is the qualified, quoted name of the sequence that feeds this column (serial or identity), or "".
	Sequence string `json:"sequence,omitempty"`
}

// ForeignKey is one foreign-key constraint.
type ForeignKey struct {
	Name              string   `json:"name"`
	Columns           []string `json:"columns"`
	RefSchema         string   `json:"ref_schema"`
	RefTable          string   `json:"ref_table"`
	RefColumns        []string `json:"ref_columns"`
	Deferrable        bool     `json:"deferrable,omitempty"`
	InitiallyDeferred bool     `json:"initially_deferred,omitempty"`
	// Partition is true for a foreign key declared on partitions of a partitioned table (some or
	// all of them) rather than on the table: it counts for the whole logical table.
	Partition bool `json:"partition,omitempty"`
	// Undeclared is true for a reference a keys file declares where the catalog has no
	// constraint: followed and rewritten like a foreign key, never enforced by the server.
	Undeclared bool `json:"undeclared,omitempty"`
}

// Unique is a unique constraint or a unique index over plain columns.
type Unique struct {
	Name    string   `json:"name"`
	Columns []string `json:"columns"`
	// Constraint is true for a UNIQUE constraint, false for a bare unique index.
	Constraint bool `json:"constraint,omitempty"`
	// Predicate is the WHERE clause of a partial unique index ("" when not partial), as pg_get_expr prints it.
	Predicate string `json:"predicate,omitempty"`
	// NullsNotDistinct is true for UNIQUE NULLS NOT DISTINCT (PostgreSQL 15+).
	NullsNotDistinct bool `json:"nulls_not_distinct,omitempty"`
	// Primary is true for the primary key's index.
	Primary bool `json:"primary,omitempty"`
}

// New builds a Schema from tables, sorting them and indexing them by name.
func New(tables []*Table) *Schema {
	s := &Schema{Tables: tables}
	s.Index()
	return s
}

// Index sorts the tables and rebuilds the name index; call it after decoding a Schema.
func (s *Schema) Index() {
	// A decoded schema may hold null tables (Validate reports them): sort them first, index none.
	qname := func(t *Table) string {
		if t == nil {
			return ""
		}
		return t.QName()
	}
	sort.SliceStable(s.Tables, func(i, j int) bool { return qname(s.Tables[i]) < qname(s.Tables[j]) })
	s.byName = make(map[string]*Table, len(s.Tables))
	for _, t := range s.Tables {
		if t != nil {
			s.byName[t.QName()] = t
			t.index()
		}
	}
}

// index builds the table's column and foreign-key indexes.
func (t *Table) index() {
	t.columnAt = make(map[string]int, len(t.Columns))
	for i, c := range t.Columns {
		if _, dup := t.columnAt[c.Name]; !dup {
			t.columnAt[c.Name] = i
		}
	}
	t.fksOf = map[string][]int{}
	for i, fk := range t.ForeignKeys {
		for _, c := range fk.Columns {
			if l := t.fksOf[c]; len(l) == 0 || l[len(l)-1] != i {
				t.fksOf[c] = append(l, i)
			}
		}
	}
	t.nfks = len(t.ForeignKeys)
}

// indexed reports whether the indexes describe the table as it is now (same number of columns
// and foreign keys, and the column found under its name).
func (t *Table) indexed() bool {
	return t.columnAt != nil && len(t.columnAt) == len(t.Columns) && t.nfks == len(t.ForeignKeys)
}

// Table returns the table with the qualified name qname ("schema.name"); a bare name means schema public.
func (s *Schema) Table(qname string) *Table {
	if s.byName == nil {
		s.Index()
	}
	if t, ok := s.byName[qname]; ok {
		return t
	}
	if !strings.Contains(qname, ".") {
		return s.byName["public."+qname]
	}
	return nil
}

// Lookup returns the table schema.name.
func (s *Schema) Lookup(schemaName, name string) *Table {
	return s.Table(schemaName + "." + name)
}

// QName is the table's qualified name, "schema.name", used as its identity everywhere.
func (t *Table) QName() string { return t.Schema + "." + t.Name }

// Display is the name shown to people: the bare name for schema public, else schema.name.
func (t *Table) Display() string { return DisplayName(t.QName()) }

// DisplayName shortens a qualified name in schema public to its bare name.
func DisplayName(qname string) string { return strings.TrimPrefix(qname, "public.") }

// Column returns the named column, or nil.
func (t *Table) Column(name string) *Column {
	if t.indexed() {
		if i, ok := t.columnAt[name]; ok && t.Columns[i].Name == name {
			return &t.Columns[i]
		} else if !ok {
			return nil
		}
	}
	for i := range t.Columns {
		if t.Columns[i].Name == name {
			return &t.Columns[i]
		}
	}
	return nil
}

// DataColumns are the columns a backup carries: every column but generated ones, in table order.
func (t *Table) DataColumns() []string {
	out := make([]string, 0, len(t.Columns))
	for _, c := range t.Columns {
		if !c.Generated {
			out = append(out, c.Name)
		}
	}
	return out
}

// integerTypes are the column types a surrogate id may have.
var integerTypes = map[string]bool{"smallint": true, "integer": true, "bigint": true}

// IsInteger reports whether a column type is a PostgreSQL integer type.
func IsInteger(typ string) bool { return integerTypes[typ] }

// SurrogateID returns the name of the table's surrogate id: a single-column integer primary key.
// Rows of such a table get new ids on restore and references to them are rewritten through id maps.
// It returns "" for tables keyed otherwise (composite, text or uuid primary keys, or none).
func (t *Table) SurrogateID() string {
	if len(t.PrimaryKey) != 1 {
		return ""
	}
	c := t.Column(t.PrimaryKey[0])
	if c == nil || !IsInteger(c.Type) {
		return ""
	}
	return c.Name
}

// FKFor returns the foreign keys that contain column name.
func (t *Table) FKFor(name string) []ForeignKey {
	var out []ForeignKey
	if t.indexed() {
		for _, i := range t.fksOf[name] {
			out = append(out, t.ForeignKeys[i])
		}
		return out
	}
	for _, fk := range t.ForeignKeys {
		for _, c := range fk.Columns {
			if c == name {
				out = append(out, fk)
				break
			}
		}
	}
	return out
}

// RefQName is the qualified name of the referenced table.
func (fk ForeignKey) RefQName() string { return fk.RefSchema + "." + fk.RefTable }

// Validate checks the internal consistency of a schema (as decoded from a package): every column
// named by a key exists, every referenced table and column exists. It returns every problem found,
// each a finding of kind Corrupt (a snapshot that fails these checks is damaged) with its table,
// column and constraint as fields.
func (s *Schema) Validate() finding.List {
	var out finding.List
	bad := func(table, column, constraint, format string, args ...any) {
		out.Add(finding.Finding{Kind: finding.Corrupt, Table: table, Column: column, Constraint: constraint,
			Message: fmt.Sprintf(format, args...)})
	}
	seen := map[string]bool{}
	for _, t := range s.Tables {
		if t == nil {
			bad("", "", "", "schema: null table")
			continue
		}
		if t.Name == "" || t.Schema == "" {
			bad("", "", "", "schema: table with an empty name")
			continue
		}
		if seen[t.QName()] {
			bad(t.Display(), "", "", "schema: table listed twice")
		}
		seen[t.QName()] = true
		cols := map[string]bool{}
		for _, c := range t.Columns {
			if c.Name == "" {
				bad(t.Display(), "", "", "column with an empty name")
			}
			if cols[c.Name] {
				bad(t.Display(), c.Name, "", "column listed twice")
			}
			cols[c.Name] = true
		}
		check := func(what, constraint string, names []string) {
			for _, n := range names {
				if !cols[n] {
					bad(t.Display(), n, constraint, "%s names an unknown column", what)
				}
			}
		}
		check("primary key", "", t.PrimaryKey)
		for _, u := range t.Uniques {
			check("unique constraint", u.Name, u.Columns)
		}
		for _, fk := range t.ForeignKeys {
			check("foreign key", fk.Name, fk.Columns)
			if len(fk.Columns) != len(fk.RefColumns) || len(fk.Columns) == 0 {
				bad(t.Display(), "", fk.Name, "foreign key has %d columns referencing %d", len(fk.Columns), len(fk.RefColumns))
			}
		}
	}
	for _, t := range s.Tables {
		if t == nil {
			continue
		}
		for _, fk := range t.ForeignKeys {
			p := s.Table(fk.RefQName())
			if p == nil {
				bad(t.Display(), "", fk.Name, "foreign key references unknown table %s", DisplayName(fk.RefQName()))
				continue
			}
			for _, c := range fk.RefColumns {
				if p.Column(c) == nil {
					bad(t.Display(), "", fk.Name, "foreign key references unknown column %s.%s", p.Display(), c)
				}
			}
		}
	}
	return out
}

// LeftOutReferences finds the foreign keys of s's tables that reference a table s lacks: one left
// out of a backup or a conversion (the keys file's exclude, or schemas not read). A package whose
// schema snapshot holds one is refused as corrupt by verify and every restore (Validate), so
// whatever writes a package refuses first: one finding (key-plan) per such foreign key.
func (s *Schema) LeftOutReferences() finding.List {
	var fl finding.List
	for _, t := range s.Tables {
		for _, fk := range t.ForeignKeys {
			if s.Table(fk.RefQName()) != nil {
				continue
			}
			fl.Add(finding.Finding{Kind: finding.KeyPlan, Table: t.Display(), Constraint: fk.Name, Message: fmt.Sprintf(
				"references %s, which is left out (the keys file's exclude, or --schema): a package without it cannot be restored; include it, or leave out %s as well",
				DisplayName(fk.RefQName()), t.Display())})
		}
	}
	return fl
}
