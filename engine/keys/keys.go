// Package keys owns the key plan: the natural key of every table (from a keys file, else inferred
// from the schema), the generic foreign keys (Django's content_type + object_id) and the content
// type table that resolves them. A natural key is what matches a backed-up row with a row the
// target already has; tables without one are keyless and their rows are always inserted.
package keys

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/edmsdr/edmsdr/engine/finding"
	"github.com/edmsdr/edmsdr/engine/schema"
)

// File is the keys file a user writes (YAML):
//
//	tables:
//	  auth_user: {natural_key: [username]}
//	  workflows_transition: {natural_key: []}   # force keyless
//	generic_foreign_keys:
//	  - {table: audit_auditentry, content_type: content_type_id, object_id: object_id}
//	content_types:
//	  table: django_content_type
//	  models: {"legacy.doc": documents_document}
//	exclude: [django_session]
//	references:
//	  branch.manager_id: employee(id)        # a reference no foreign key declares
//	django:
//	  models:
//	    legacy.document: {table: documents_document, fields: {doc_no: document_number}, natural_key: [document_number]}
type File struct {
	Tables             map[string]TableSpec `yaml:"tables"`
	GenericForeignKeys []GenericFKSpec      `yaml:"generic_foreign_keys"`
	ContentTypes       *ContentTypeSpec     `yaml:"content_types"`
	// Exclude names tables that are neither backed up nor restored.
	Exclude []string `yaml:"exclude"`
	// References declares references that no foreign key constraint declares
	// ("table.column": "table(column)"); they are followed and rewritten like foreign keys.
	References map[string]string `yaml:"references"`
	// Django tunes how Django dumpdata fixtures map to tables (edmsdr convert and fixture); nil
	// means Django's conventions throughout.
	Django *DjangoSpec `yaml:"django"`
}

// DjangoSpec overrides Django's naming conventions for fixtures, per model ("app_label.model").
type DjangoSpec struct {
	Models map[string]DjangoModelSpec `yaml:"models"`
}

// DjangoModelSpec describes one Django model whose fixture form does not follow the conventions.
type DjangoModelSpec struct {
	// Table is the model's table (default app_label_model).
	Table string `yaml:"table"`
	// Fields maps a fixture field to its column (default: the column of the same name, or
	// field_id for a foreign key).
	Fields map[string]string `yaml:"fields"`
	// ManyToMany maps a many-to-many field to its through table (default table_field).
	ManyToMany map[string]string `yaml:"many_to_many"`
	// NaturalKey is the model's natural_key(), in its order, as columns or fields; a foreign key in
	// it stands for the natural key of the row it points at, spliced in place, or nested as one list
	// when written in brackets ([document]). nil means the default (learned from a fixture where it
	// can be); empty means the model has no natural key.
	NaturalKey *DjangoKey `yaml:"natural_key"`
}

// DjangoKey is a Django model's natural_key() as the keys file writes it: the parts in order, a
// foreign key either bare (its natural key spliced in place: self.document.natural_key() +
// (self.version_number,) is [document, version_number]) or in brackets (nested as one list:
// (self.document.natural_key(), self.workflow_type) is [[document], workflow_type]).
type DjangoKey []DjangoKeyPart

// DjangoKeyPart is one part of a DjangoKey.
type DjangoKeyPart struct {
	// Name is a field or column.
	Name string
	// Nested is set for a foreign key whose natural key is one nested list.
	Nested bool
}

// String writes the key as the keys file does: [[document], workflow_type].
func (k DjangoKey) String() string {
	parts := make([]string, len(k))
	for i, p := range k {
		parts[i] = p.Name
		if p.Nested {
			parts[i] = "[" + p.Name + "]"
		}
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// UnmarshalYAML reads a name, or a list holding one name (nested).
func (p *DjangoKeyPart) UnmarshalYAML(n *yaml.Node) error {
	switch {
	case n.Kind == yaml.ScalarNode:
		p.Name = n.Value
	case n.Kind == yaml.SequenceNode && len(n.Content) == 1 && n.Content[0].Kind == yaml.ScalarNode:
		p.Name, p.Nested = n.Content[0].Value, true
	default:
		return fmt.Errorf("line %d: a natural_key part is a field name, or a foreign key in brackets ([document]) whose natural key is nested", n.Line)
	}
	if p.Name == "" {
		return fmt.Errorf("line %d: empty natural_key part", n.Line)
	}
	return nil
}

// TableSpec overrides inference for one table. A nil NaturalKey means "infer"; an empty one means keyless.
type TableSpec struct {
	NaturalKey *[]string `yaml:"natural_key"`
}

// GenericFKSpec declares a generic foreign key: ContentType names the column referencing the
// content type table, ObjectID the column holding the referenced row's id.
type GenericFKSpec struct {
	Table       string `yaml:"table"`
	ContentType string `yaml:"content_type"`
	ObjectID    string `yaml:"object_id"`
}

// ContentTypeSpec names the content type table and how its rows map to tables.
type ContentTypeSpec struct {
	Table    string            `yaml:"table"`
	AppLabel string            `yaml:"app_label"`
	Model    string            `yaml:"model"`
	Models   map[string]string `yaml:"models"` // "app_label.model" -> table
	// Disabled turns off content type handling and generic foreign key detection.
	Disabled bool `yaml:"disabled"`
}

// Excluded returns the excluded tables as qualified names (a bare name is in schema public).
func (f *File) Excluded() []string {
	if f == nil {
		return nil
	}
	out := make([]string, 0, len(f.Exclude))
	for _, e := range f.Exclude {
		if !strings.Contains(e, ".") {
			e = "public." + e
		}
		out = append(out, e)
	}
	return out
}

// ParseFile decodes a keys file, refusing unknown fields.
func ParseFile(data []byte) (*File, error) {
	f := &File{}
	if len(bytes.TrimSpace(data)) == 0 {
		return f, nil
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(f); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("keys file: %w", err)
	}
	// A second YAML document would otherwise be ignored without a word.
	var more yaml.Node
	if err := dec.Decode(&more); !errors.Is(err, io.EOF) {
		return nil, errors.New("keys file: more than one YAML document (remove the extra '---')")
	}
	return f, nil
}

// LoadFile reads and decodes a keys file; an empty path gives an empty File.
func LoadFile(path string) (*File, error) {
	if path == "" {
		return &File{}, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("keys file: %w", err)
	}
	f, err := ParseFile(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

// Plan is the resolved key plan for a schema. It travels in every package's manifest.
type Plan struct {
	Tables       map[string]*TablePlan `json:"tables"` // by qualified table name
	GenericFKs   []GenericFK           `json:"generic_fks,omitempty"`
	ContentTypes *ContentTypes         `json:"content_types,omitempty"`
	// References are the keys file's references without a foreign key constraint.
	References []Reference `json:"references,omitempty"`
}

// Reference is a reference no foreign key constraint declares: Table.Column holds values of
// RefTable.RefColumn (qualified table names).
type Reference struct {
	Table     string `json:"table"`
	Column    string `json:"column"`
	RefTable  string `json:"ref_table"`
	RefColumn string `json:"ref_column"`
}

// String renders the reference as a keys file writes it.
func (r Reference) String() string {
	return fmt.Sprintf("%s.%s: %s(%s)", schema.DisplayName(r.Table), r.Column, schema.DisplayName(r.RefTable), r.RefColumn)
}

// UndeclaredName is the name given to the foreign key standing for a declared reference.
func (r Reference) UndeclaredName() string { return "keys file: " + r.Column }

// ApplyReferences adds the plan's references to s as foreign keys marked Undeclared (no
// constraint in the catalog), so that the id domains, the foreign-key graph and the digest follow
// them. A reference already present is not added twice. It fails when a table or column is missing.
func (p *Plan) ApplyReferences(s *schema.Schema) error {
	if p == nil {
		return nil
	}
	var errs []error
	for _, r := range p.References {
		t, rt := s.Table(r.Table), s.Table(r.RefTable)
		switch {
		case t == nil || t.Column(r.Column) == nil:
			errs = append(errs, located(schema.DisplayName(r.Table), r.Column, "reference %s: no column %s.%s", r, schema.DisplayName(r.Table), r.Column))
			continue
		case rt == nil || rt.Column(r.RefColumn) == nil:
			errs = append(errs, located(schema.DisplayName(r.RefTable), r.RefColumn, "reference %s: no column %s.%s", r, schema.DisplayName(r.RefTable), r.RefColumn))
			continue
		}
		present := false
		for _, fk := range t.ForeignKeys {
			if len(fk.Columns) == 1 && fk.Columns[0] == r.Column && fk.RefQName() == rt.QName() && fk.RefColumns[0] == r.RefColumn {
				present = true
			}
		}
		if !present {
			t.ForeignKeys = append(t.ForeignKeys, schema.ForeignKey{Name: r.UndeclaredName(), Columns: []string{r.Column},
				RefSchema: rt.Schema, RefTable: rt.Name, RefColumns: []string{r.RefColumn}, Undeclared: true})
		}
	}
	return errors.Join(errs...)
}

var referenceTarget = regexp.MustCompile(`^\s*([^()\s]+)\s*\(\s*([^()\s]+)\s*\)\s*$`)

// resolveReferences checks the keys file's references against s.
func resolveReferences(s *schema.Schema, f *File) ([]Reference, []error) {
	var errs []error
	var out []Reference
	names := make([]string, 0, len(f.References))
	for k := range f.References {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		v := f.References[k]
		dot := strings.LastIndex(k, ".")
		m := referenceTarget.FindStringSubmatch(v)
		if dot <= 0 || dot == len(k)-1 || m == nil {
			errs = append(errs, fmt.Errorf("keys file: references: %q: %q: write it as table.column: table(column)", k, v))
			continue
		}
		t, col := s.Table(k[:dot]), k[dot+1:]
		if t == nil || t.Column(col) == nil {
			errs = append(errs, fmt.Errorf("keys file: references: column %s does not exist", k))
			continue
		}
		rt := s.Table(m[1])
		if rt == nil || rt.Column(m[2]) == nil {
			errs = append(errs, fmt.Errorf("keys file: references: %s: column %s.%s does not exist", k, m[1], m[2]))
			continue
		}
		if len(t.FKFor(col)) > 0 {
			errs = append(errs, fmt.Errorf("keys file: references: %s.%s is already a foreign key (remove the entry)", t.Display(), col))
			continue
		}
		out = append(out, Reference{Table: t.QName(), Column: col, RefTable: rt.QName(), RefColumn: m[2]})
	}
	return out, errs
}

// TablePlan is the key of one table.
type TablePlan struct {
	// NaturalKey lists the natural-key columns; empty for a keyless table.
	NaturalKey []string `json:"natural_key,omitempty"`
	// Source says where the key came from: "keys file", "primary key", "unique NAME" or "none".
	Source string `json:"source"`
}

// GenericFK is a resolved generic foreign key.
type GenericFK struct {
	Table             string `json:"table"` // qualified
	ContentTypeColumn string `json:"content_type_column"`
	ObjectIDColumn    string `json:"object_id_column"`
}

// ContentTypes describes the content type table.
type ContentTypes struct {
	Table          string            `json:"table"` // qualified
	AppLabelColumn string            `json:"app_label_column"`
	ModelColumn    string            `json:"model_column"`
	Models         map[string]string `json:"models,omitempty"` // "app_label.model" -> qualified table
}

// Keyed reports whether table qname has a natural key.
func (p *Plan) Keyed(qname string) bool {
	tp := p.Tables[qname]
	return tp != nil && len(tp.NaturalKey) > 0
}

// NaturalKey returns the natural key of qname (nil when keyless).
func (p *Plan) NaturalKey(qname string) []string {
	if tp := p.Tables[qname]; tp != nil {
		return tp.NaturalKey
	}
	return nil
}

// GenericFKsOf returns the generic foreign keys declared on table qname.
func (p *Plan) GenericFKsOf(qname string) []GenericFK {
	var out []GenericFK
	for _, g := range p.GenericFKs {
		if g.Table == qname {
			out = append(out, g)
		}
	}
	return out
}

// TableForContentType resolves a content type (app_label, model) to a table of s: an explicit
// mapping first, else Django's convention app_label_model, looked up in the content type table's
// schema and then in any schema. It returns "" when no table matches.
func (ct *ContentTypes) TableForContentType(s *schema.Schema, appLabel, model string) string {
	if ct == nil {
		return ""
	}
	if q, ok := ct.Models[appLabel+"."+model]; ok {
		return q
	}
	name := strings.ToLower(appLabel + "_" + model)
	ctSchema := strings.SplitN(ct.Table, ".", 2)[0]
	if t := s.Lookup(ctSchema, name); t != nil {
		return t.QName()
	}
	for _, t := range s.Tables {
		if t.Name == name {
			return t.QName()
		}
	}
	return ""
}

// Build resolves the key plan of s: the keys file first, inference for the rest. It returns every
// problem with the keys file at once; a plan is returned only when there are none. The keys
// file's references are added to s (see ApplyReferences) before natural keys are inferred.
func Build(s *schema.Schema, f *File) (*Plan, error) {
	if f == nil {
		f = &File{}
	}
	var errs []error
	p := &Plan{Tables: map[string]*TablePlan{}}
	refs, rErrs := resolveReferences(s, f)
	errs = append(errs, rErrs...)
	p.References = refs
	if err := p.ApplyReferences(s); err != nil {
		errs = append(errs, err)
	}
	specs := map[string]TableSpec{}
	// In name order, so that errors come out the same every time; one table named twice
	// ("auth_user" and "public.auth_user") is an error, not a coin toss between two keys.
	names := make([]string, 0, len(f.Tables))
	for name := range f.Tables {
		names = append(names, name)
	}
	sort.Strings(names)
	namedAs := map[string]string{}
	for _, name := range names {
		t := s.Table(name)
		if t == nil {
			errs = append(errs, located(name, "", "keys file: table %s does not exist", name))
			continue
		}
		if first, dup := namedAs[t.QName()]; dup {
			errs = append(errs, located(t.Display(), "", "keys file: table %s is listed twice (as %s and %s)", t.Display(), first, name))
			continue
		}
		namedAs[t.QName()] = name
		specs[t.QName()] = f.Tables[name]
	}
	for _, t := range s.Tables {
		if spec, ok := specs[t.QName()]; ok && spec.NaturalKey != nil {
			nk := append([]string(nil), (*spec.NaturalKey)...)
			for _, c := range nk {
				col := t.Column(c)
				switch {
				case col == nil:
					errs = append(errs, located(t.Display(), c, "keys file: table %s: natural key column %s does not exist", t.Display(), c))
				case col.Generated:
					errs = append(errs, located(t.Display(), c, "keys file: table %s: natural key column %s is generated", t.Display(), c))
				case c == t.SurrogateID():
					errs = append(errs, located(t.Display(), c, "keys file: table %s: natural key column %s is the surrogate id, which differs between databases", t.Display(), c))
				}
			}
			if dup := firstDuplicate(nk); dup != "" {
				errs = append(errs, located(t.Display(), dup, "keys file: table %s: natural key lists column %s twice", t.Display(), dup))
			}
			src := "keys file"
			if len(nk) == 0 {
				src = "keys file (keyless)"
			}
			p.Tables[t.QName()] = &TablePlan{NaturalKey: nk, Source: src}
			continue
		}
		nk, src := Infer(t)
		p.Tables[t.QName()] = &TablePlan{NaturalKey: nk, Source: src}
	}
	ct, ctErrs := resolveContentTypes(s, f.ContentTypes)
	errs = append(errs, ctErrs...)
	p.ContentTypes = ct
	gfks, gErrs := resolveGenericFKs(s, f, ct)
	errs = append(errs, gErrs...)
	p.GenericFKs = gfks
	if len(errs) == 0 {
		for _, f := range p.Validate(s) {
			errs = append(errs, planError(f))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return p, nil
}

// Error is one problem of a keys file or a key plan, with where it is: the table (display name)
// and, when the problem is one column, the column. Build joins them (errors.Join); Plan.Validate
// returns them; errors.As finds them, so that callers report the locators as fields.
type Error struct {
	Table  string
	Column string
	Msg    string // the whole message, locators included
}

func (e *Error) Error() string { return e.Msg }

// located returns an *Error for table and column with the message format gives.
func located(table, column, format string, args ...any) error {
	return &Error{Table: table, Column: column, Msg: fmt.Sprintf(format, args...)}
}

// planError is a finding of Plan.Validate as an *Error, its locators written into the message.
func planError(f finding.Finding) error {
	where := ""
	if f.Table != "" {
		where += "table " + f.Table
	}
	if f.Column != "" {
		where += " column " + f.Column
	}
	if where != "" {
		where = strings.TrimSpace(where) + ": "
	}
	return &Error{Table: f.Table, Column: f.Column, Msg: "key plan: " + where + f.Message}
}

// Finding is e as a key-plan finding, its table and column as fields.
func (e *Error) Finding() finding.Finding {
	return finding.Finding{Kind: finding.KeyPlan, Severity: finding.Error, Table: e.Table, Column: e.Column, Message: e.Msg}
}

// Findings turns an error of Build or ApplyReferences into key-plan findings, one per problem
// (they join them), each located by its table and column when it is an *Error.
func Findings(err error) finding.List {
	if err == nil {
		return nil
	}
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	var out finding.List
	for _, e := range errs {
		var ke *Error
		if errors.As(e, &ke) {
			out.Add(ke.Finding())
			continue
		}
		out.Add(finding.Finding{Kind: finding.KeyPlan, Message: e.Error()})
	}
	return out
}

func firstDuplicate(cols []string) string {
	seen := map[string]bool{}
	for _, c := range cols {
		if seen[c] {
			return c
		}
		seen[c] = true
	}
	return ""
}

// isNullPredicate matches "col IS NULL" as pg_get_expr prints it: in parentheses, the column
// quoted when it needs to be ("Parent Id", with "" for a quote inside).
var isNullPredicate = regexp.MustCompile(`(?i)^\(*\s*(?:"((?:[^"]|"")+)"|([^"()\s]+))\s+IS\s+NULL\s*\)*$`)

// nullTestColumn returns the column a predicate tests for NULL, or "".
func nullTestColumn(predicate string) string {
	m := isNullPredicate.FindStringSubmatch(strings.TrimSpace(predicate))
	switch {
	case m == nil:
		return ""
	case m[1] != "":
		return strings.ReplaceAll(m[1], `""`, `"`)
	default:
		return m[2]
	}
}

// Infer derives a table's natural key from its schema: a primary key that is not a surrogate id,
// else the narrowest unique constraint that cannot hold two equal keys — all columns NOT NULL, or
// NULLS NOT DISTINCT, or Django's tree idiom (unique (parent, name) plus a partial unique index on
// name WHERE parent IS NULL). Ties go to constraints over bare indexes, then to the name.
func Infer(t *schema.Table) ([]string, string) {
	sid := t.SurrogateID()
	if sid == "" && len(t.PrimaryKey) > 0 {
		return append([]string(nil), t.PrimaryKey...), "primary key"
	}
	var cands []schema.Unique
	for _, u := range t.Uniques {
		if u.Primary || u.Predicate != "" || len(u.Columns) == 0 {
			continue
		}
		if containsString(u.Columns, sid) {
			continue
		}
		if usableUnique(t, u) {
			cands = append(cands, u)
		}
	}
	if len(cands) == 0 {
		return nil, "none"
	}
	sort.SliceStable(cands, func(i, j int) bool {
		a, b := cands[i], cands[j]
		if len(a.Columns) != len(b.Columns) {
			return len(a.Columns) < len(b.Columns)
		}
		if a.Constraint != b.Constraint {
			return a.Constraint
		}
		return a.Name < b.Name
	})
	return append([]string(nil), cands[0].Columns...), "unique " + cands[0].Name
}

func usableUnique(t *schema.Table, u schema.Unique) bool {
	var nullable []string
	for _, c := range u.Columns {
		col := t.Column(c)
		if col == nil || col.Generated || !comparable(col.Type) {
			return false
		}
		if !col.NotNull {
			nullable = append(nullable, c)
		}
	}
	if len(nullable) == 0 || u.NullsNotDistinct {
		return true
	}
	if len(nullable) != 1 || len(u.Columns) < 2 {
		return false
	}
	// The tree idiom: a partial unique index over the other columns WHERE nullable IS NULL.
	rest := map[string]bool{}
	for _, c := range u.Columns {
		if c != nullable[0] {
			rest[c] = true
		}
	}
	for _, p := range t.Uniques {
		if p.Predicate == "" || len(p.Columns) != len(rest) {
			continue
		}
		if nullTestColumn(p.Predicate) != nullable[0] {
			continue
		}
		all := true
		for _, c := range p.Columns {
			if !rest[c] {
				all = false
			}
		}
		if all {
			return true
		}
	}
	return false
}

// comparable reports whether a type has an equality usable for matching keys.
func comparable(typ string) bool {
	switch typ {
	case "json", "xml", "point", "polygon", "line", "circle", "path", "box", "lseg":
		return false
	}
	return true
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func resolveContentTypes(s *schema.Schema, spec *ContentTypeSpec) (*ContentTypes, []error) {
	if spec != nil && spec.Disabled {
		return nil, nil
	}
	ct := &ContentTypes{Table: "public.django_content_type", AppLabelColumn: "app_label", ModelColumn: "model"}
	explicit := spec != nil && spec.Table != ""
	if spec != nil {
		if spec.Table != "" {
			ct.Table = spec.Table
		}
		if spec.AppLabel != "" {
			ct.AppLabelColumn = spec.AppLabel
		}
		if spec.Model != "" {
			ct.ModelColumn = spec.Model
		}
	}
	t := s.Table(ct.Table)
	if t == nil {
		if explicit {
			return nil, []error{fmt.Errorf("keys file: content type table %s does not exist", ct.Table)}
		}
		return nil, nil
	}
	ct.Table = t.QName()
	var errs []error
	for _, c := range []string{ct.AppLabelColumn, ct.ModelColumn} {
		if t.Column(c) == nil {
			errs = append(errs, located(t.Display(), c, "content type table %s has no column %s", t.Display(), c))
		}
	}
	if t.SurrogateID() == "" {
		errs = append(errs, located(t.Display(), "", "content type table %s has no integer id", t.Display()))
	}
	if spec != nil && len(spec.Models) > 0 {
		ct.Models = map[string]string{}
		for model, table := range spec.Models {
			if !strings.Contains(model, ".") {
				errs = append(errs, fmt.Errorf("keys file: content type %q must be app_label.model", model))
				continue
			}
			tt := s.Table(table)
			if tt == nil {
				errs = append(errs, fmt.Errorf("keys file: content type %s maps to table %s, which does not exist", model, table))
				continue
			}
			ct.Models[model] = tt.QName()
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return ct, nil
}

func resolveGenericFKs(s *schema.Schema, f *File, ct *ContentTypes) ([]GenericFK, []error) {
	var (
		out      []GenericFK
		errs     []error
		declared = map[string]bool{}
	)
	for _, spec := range f.GenericForeignKeys {
		t := s.Table(spec.Table)
		if t == nil {
			errs = append(errs, located(spec.Table, "", "keys file: generic foreign key on table %s, which does not exist", spec.Table))
			continue
		}
		if ct == nil {
			errs = append(errs, located(t.Display(), "", "keys file: generic foreign key on %s needs a content type table", t.Display()))
			continue
		}
		if t.Column(spec.ContentType) == nil {
			errs = append(errs, located(t.Display(), spec.ContentType, "keys file: generic foreign key on %s: column %s does not exist", t.Display(), spec.ContentType))
			continue
		}
		if t.Column(spec.ObjectID) == nil {
			errs = append(errs, located(t.Display(), spec.ObjectID, "keys file: generic foreign key on %s: column %s does not exist", t.Display(), spec.ObjectID))
			continue
		}
		declared[t.QName()] = true
		out = append(out, GenericFK{Table: t.QName(), ContentTypeColumn: spec.ContentType, ObjectIDColumn: spec.ObjectID})
	}
	if ct == nil {
		return out, errs
	}
	// Django's pattern, detected: an FK to the content type table plus an integer object_id.
	for _, t := range s.Tables {
		if declared[t.QName()] {
			continue
		}
		oid := t.Column("object_id")
		if oid == nil || !schema.IsInteger(oid.Type) {
			continue
		}
		var ctCols []string
		for _, fk := range t.ForeignKeys {
			if fk.RefQName() == ct.Table && len(fk.Columns) == 1 {
				ctCols = append(ctCols, fk.Columns[0])
			}
		}
		col := ""
		switch {
		case len(ctCols) == 1:
			col = ctCols[0]
		case containsString(ctCols, "content_type_id"):
			col = "content_type_id"
		}
		if col != "" {
			out = append(out, GenericFK{Table: t.QName(), ContentTypeColumn: col, ObjectIDColumn: "object_id"})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Table < out[j].Table })
	return out, errs
}

// Validate checks the plan against s: every table and column exists, natural keys hold no
// surrogate ids, natural keys that run through foreign keys form no cycle (a self-reference — a
// tree — is allowed once per key), and generic foreign keys name real columns. It returns every
// problem as a finding of kind KeyPlan with its table and column as fields.
func (p *Plan) Validate(s *schema.Schema) finding.List {
	var out finding.List
	bad := func(table, column, format string, args ...any) {
		out.Add(finding.Finding{Kind: finding.KeyPlan, Table: table, Column: column, Message: fmt.Sprintf(format, args...)})
	}
	domains, dfs := schema.ComputeDomains(s)
	for _, f := range dfs {
		f.Kind = finding.KeyPlan
		out.Add(f)
	}
	deps := map[string][]string{}
	names := make([]string, 0, len(p.Tables))
	for q := range p.Tables {
		names = append(names, q)
	}
	sort.Strings(names)
	for _, q := range names {
		tp := p.Tables[q]
		t := s.Table(q)
		if tp == nil {
			bad(schema.DisplayName(q), "", "the table has an empty entry")
			continue
		}
		if t == nil {
			bad(schema.DisplayName(q), "", "the table does not exist")
			continue
		}
		self := 0
		for _, c := range tp.NaturalKey {
			col := t.Column(c)
			if col == nil {
				bad(t.Display(), c, "natural key column does not exist")
				continue
			}
			if c == t.SurrogateID() {
				bad(t.Display(), c, "natural key column is the surrogate id")
			}
			d := domains.Of(q, c)
			switch {
			case d == q:
				self++
			case d != "":
				deps[q] = append(deps[q], d)
			}
		}
		if self > 1 {
			bad(t.Display(), "", "natural key runs through the self-reference more than once")
		}
	}
	// Natural keys referencing each other in a cycle can never be matched.
	state := map[string]int{}
	var visit func(q string, path []string)
	visit = func(q string, path []string) {
		switch state[q] {
		case 1:
			bad(schema.DisplayName(q), "", "natural keys form a cycle: %s", strings.Join(displayAll(append(path, q)), " -> "))
			return
		case 2:
			return
		}
		state[q] = 1
		for _, d := range deps[q] {
			visit(d, append(path, q))
		}
		state[q] = 2
	}
	for _, q := range names {
		visit(q, nil)
	}
	for _, g := range p.GenericFKs {
		t := s.Table(g.Table)
		if t == nil {
			bad(schema.DisplayName(g.Table), "", "generic foreign key on an unknown table")
			continue
		}
		if t.Column(g.ContentTypeColumn) == nil {
			bad(t.Display(), g.ContentTypeColumn, "generic foreign key names an unknown column")
		}
		if t.Column(g.ObjectIDColumn) == nil {
			bad(t.Display(), g.ObjectIDColumn, "generic foreign key names an unknown column")
		}
		if p.ContentTypes == nil {
			bad(t.Display(), "", "generic foreign key without a content type table")
		}
	}
	if p.ContentTypes != nil && s.Table(p.ContentTypes.Table) == nil {
		bad(schema.DisplayName(p.ContentTypes.Table), "", "content type table does not exist")
	}
	return out
}

func displayAll(q []string) []string {
	out := make([]string, len(q))
	for i, x := range q {
		out[i] = schema.DisplayName(x)
	}
	return out
}

// Describe renders the plan for people: one line per table.
func (p *Plan) Describe(s *schema.Schema) string {
	var b strings.Builder
	for _, t := range s.Tables {
		tp := p.Tables[t.QName()]
		if tp == nil {
			continue
		}
		key := "(keyless)"
		if len(tp.NaturalKey) > 0 {
			key = "(" + strings.Join(tp.NaturalKey, ", ") + ")"
		}
		fmt.Fprintf(&b, "%-40s %-50s %s\n", t.Display(), key, tp.Source)
	}
	for _, g := range p.GenericFKs {
		fmt.Fprintf(&b, "generic foreign key %s (%s, %s)\n", schema.DisplayName(g.Table), g.ContentTypeColumn, g.ObjectIDColumn)
	}
	return b.String()
}

// Equal reports whether two plans key every table the same way.
func (p *Plan) Equal(o *Plan) bool {
	if p == nil || o == nil {
		return p == o
	}
	if len(p.Tables) != len(o.Tables) || len(p.GenericFKs) != len(o.GenericFKs) || len(p.References) != len(o.References) {
		return false
	}
	for i := range p.References {
		if p.References[i] != o.References[i] {
			return false
		}
	}
	for q, tp := range p.Tables {
		otp, ok := o.Tables[q]
		if !ok {
			return false
		}
		if tp == nil || otp == nil {
			if tp != otp {
				return false
			}
			continue
		}
		if strings.Join(tp.NaturalKey, "\x00") != strings.Join(otp.NaturalKey, "\x00") {
			return false
		}
	}
	for i := range p.GenericFKs {
		if p.GenericFKs[i] != o.GenericFKs[i] {
			return false
		}
	}
	return true
}
