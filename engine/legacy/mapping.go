package legacy

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/edmsdr/edmsdr/engine/keys"
	"github.com/edmsdr/edmsdr/engine/schema"
)

// builtinTables are the tables of Django's own apps whose db_table breaks the app_label_model
// convention.
var builtinTables = map[string]string{
	"contenttypes.contenttype": "django_content_type",
	"sessions.session":         "django_session",
	"admin.logentry":           "django_admin_log",
	"sites.site":               "django_site",
	"flatpages.flatpage":       "django_flatpage",
	"redirects.redirect":       "django_redirect",
}

// builtinKeys are the natural_key() of Django's own models, as fields in Django's order.
var builtinKeys = map[string][]string{
	"contenttypes.contenttype": {"app_label", "model"},
	"auth.permission":          {"codename", "content_type"},
	"auth.user":                {"username"},
	"auth.group":               {"name"},
}

// ConventionTable is Django's default table name of a model: app_label_model, lowercased.
func ConventionTable(model string) string {
	return strings.ToLower(strings.Replace(model, ".", "_", 1))
}

// Mapping maps Django models and fields to the tables and columns of one schema, following
// Django's conventions and the keys file's django: section.
type Mapping struct {
	s       *schema.Schema
	plan    *keys.Plan
	domains schema.Domains
	spec    map[string]keys.DjangoModelSpec // by lowercased model name
	byName  map[string]*Model
	byTable map[string]*Model
}

// Model is one Django model: its table, fields, many-to-many fields and natural key.
type Model struct {
	// Name is "app_label.model", lowercased (as content types and fixtures name it).
	Name  string
	Table *schema.Table
	// Fields are the model's concrete fields, in column order.
	Fields []*Field
	// ManyToMany are the model's many-to-many fields (through tables Django creates), by name.
	ManyToMany []*ManyToMany
	// Key is the natural key; nil when the model has none.
	Key *NaturalKey
	// PK is the column a fixture's "pk" fills ("" when the table has no single-column primary key).
	PK string

	byField  map[string]*Field
	byColumn map[string]*Field
	m2m      map[string]*ManyToMany
	mapping  *Mapping
}

// Field is one concrete field of a model.
type Field struct {
	Name   string // as in fixtures ("owner")
	Column string // as in the table ("owner_id")
	Type   string
	// Ref is the table whose surrogate ids the column holds through a single-column foreign key
	// ("" for plain values): a fixture may give such a value as an id or as a natural key list.
	Ref string
	// NotNull mirrors the column.
	NotNull bool
}

// ManyToMany is a many-to-many field folded into its owner's fixture objects as a list.
type ManyToMany struct {
	Name    string
	Through *schema.Table
	// Owner and Target are the through table's columns pointing at the owner and the target.
	Owner, Target string
	// TargetTable is the qualified name of the target model's table.
	TargetTable string
}

// NaturalKey is a model's natural_key(): its parts in the model's order. A part that is a foreign
// key stands for the natural key of the row it points at, spliced in place (a tree's key is then
// its path from the root; a NULL foreign key contributes nothing) or, Nested, as one list element
// (a NULL foreign key is then null).
type NaturalKey struct {
	Parts []KeyPart
	// Source says where the layout comes from: KeyFromKeysFile, KeyFromDjango, KeyFromPlan or
	// KeyFromFixture.
	Source string
}

// Where a natural key's layout comes from.
const (
	// KeyFromKeysFile: the keys file's django: models: M: natural_key.
	KeyFromKeysFile = "keys file"
	// KeyFromDjango: Django's own models (content types, permissions, users, groups).
	KeyFromDjango = "django"
	// KeyFromPlan: the key plan's natural key, in its order, foreign keys spliced (the default).
	KeyFromPlan = "key plan"
	// KeyFromFixture: learned from the lists a fixture gives (Mapping.Candidates).
	KeyFromFixture = "fixture"
)

// Layout writes the key as the keys file's django: models: M: natural_key does.
func (k *NaturalKey) Layout() keys.DjangoKey {
	out := make(keys.DjangoKey, len(k.Parts))
	for i, p := range k.Parts {
		out[i] = keys.DjangoKeyPart{Name: p.Field, Nested: p.Nested}
	}
	return out
}

// KeyPart is one part of a natural key.
type KeyPart struct {
	Field  string
	Column string
	// Ref is the table the part points at ("" for a plain value); Self when it is the model's own.
	Ref  string
	Self bool
	// Nullable parts may be NULL (a foreign key then contributes no values, or null when Nested).
	Nullable bool
	// Nested is set for a foreign key whose natural key is one element of the list, not spliced.
	Nested bool
}

// Columns lists the key's columns.
func (k *NaturalKey) Columns() []string {
	out := make([]string, len(k.Parts))
	for i, p := range k.Parts {
		out[i] = p.Column
	}
	return out
}

// NewMapping prepares the mapping for schema s under key plan plan; f's django: section overrides
// the conventions. It checks the overrides against s and returns every problem at once.
func NewMapping(s *schema.Schema, plan *keys.Plan, f *keys.File) (*Mapping, error) {
	domains, _ := schema.ComputeDomains(s)
	m := &Mapping{s: s, plan: plan, domains: domains, spec: map[string]keys.DjangoModelSpec{},
		byName: map[string]*Model{}, byTable: map[string]*Model{}}
	var errs []error
	if f != nil && f.Django != nil {
		names := make([]string, 0, len(f.Django.Models))
		for n := range f.Django.Models {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			key := strings.ToLower(n)
			if !strings.Contains(key, ".") {
				errs = append(errs, fmt.Errorf("keys file: django model %q must be app_label.model", n))
				continue
			}
			m.spec[key] = f.Django.Models[n]
		}
		for _, n := range names {
			key := strings.ToLower(n)
			if _, ok := m.spec[key]; !ok {
				continue
			}
			if _, err := m.build(key); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return m, nil
}

// Schema is the schema the mapping is for.
func (m *Mapping) Schema() *schema.Schema { return m.s }

// Plan is the key plan the mapping is for.
func (m *Mapping) Plan() *keys.Plan { return m.plan }

// Model returns the model named name ("app_label.model", any case), or nil when no table of the
// schema is that model's.
func (m *Mapping) Model(name string) *Model {
	key := strings.ToLower(name)
	if md, ok := m.byName[key]; ok {
		return md
	}
	md, err := m.build(key)
	if err != nil {
		md = nil
	}
	if md != nil || len(m.byName) < maxUnknownModels {
		m.byName[key] = md // a fixture naming millions of unknown models must not grow this
	}
	return md
}

// maxUnknownModels bounds how many names without a table the mapping remembers.
const maxUnknownModels = 10000

// ModelOfTable returns the model of table qname as named by content types or the overrides
// (register names first with Model), or nil.
func (m *Mapping) ModelOfTable(qname string) *Model { return m.byTable[qname] }

// tableFor resolves a model name to a table: keys file, content type overrides, Django's own
// tables, then the convention (in the content type table's schema, then any schema).
func (m *Mapping) tableFor(name string) (*schema.Table, error) {
	if sp, ok := m.spec[name]; ok && sp.Table != "" {
		t := m.s.Table(sp.Table)
		if t == nil {
			return nil, fmt.Errorf("keys file: django model %s: table %s does not exist", name, sp.Table)
		}
		return t, nil
	}
	if ct := m.plan.ContentTypes; ct != nil {
		if q, ok := ct.Models[name]; ok {
			if t := m.s.Table(q); t != nil {
				return t, nil
			}
		}
		if name == "contenttypes.contenttype" {
			if t := m.s.Table(ct.Table); t != nil {
				return t, nil
			}
		}
	}
	conv := ConventionTable(name)
	if b, ok := builtinTables[name]; ok {
		conv = b
	}
	pref := "public"
	if ct := m.plan.ContentTypes; ct != nil {
		pref = strings.SplitN(ct.Table, ".", 2)[0]
	}
	if t := m.s.Lookup(pref, conv); t != nil {
		return t, nil
	}
	for _, t := range m.s.Tables {
		if t.Name == conv {
			return t, nil
		}
	}
	return nil, nil
}

func (m *Mapping) build(name string) (*Model, error) {
	if md, ok := m.byName[name]; ok && md != nil {
		return md, nil
	}
	t, err := m.tableFor(name)
	if err != nil {
		return nil, err
	}
	if t == nil {
		if _, ok := m.spec[name]; ok {
			return nil, fmt.Errorf("keys file: django model %s: no table %s (give table:)", name, ConventionTable(name))
		}
		return nil, nil
	}
	sp := m.spec[name]
	md := &Model{Name: name, Table: t, mapping: m, byField: map[string]*Field{}, byColumn: map[string]*Field{}, m2m: map[string]*ManyToMany{}}
	var errs []error
	colField := map[string]string{}
	for field, col := range sp.Fields {
		if t.Column(col) == nil {
			errs = append(errs, fmt.Errorf("keys file: django model %s: field %s maps to column %s, which table %s lacks", name, field, col, t.Display()))
			continue
		}
		colField[col] = field
	}
	if len(t.PrimaryKey) == 1 {
		md.PK = t.PrimaryKey[0]
	}
	for _, c := range t.Columns {
		if c.Generated {
			continue
		}
		f := &Field{Name: colField[c.Name], Column: c.Name, Type: c.Type, NotNull: c.NotNull}
		if fks := t.FKFor(c.Name); len(fks) == 1 && len(fks[0].Columns) == 1 {
			if d := m.domains.Of(t.QName(), c.Name); d != "" {
				f.Ref = d
			}
		}
		if f.Name == "" {
			f.Name = c.Name
			if len(t.FKFor(c.Name)) > 0 && strings.HasSuffix(c.Name, "_id") && t.Column(strings.TrimSuffix(c.Name, "_id")) == nil {
				f.Name = strings.TrimSuffix(c.Name, "_id")
			}
		}
		md.Fields = append(md.Fields, f)
		md.byColumn[c.Name] = f
		md.byField[f.Name] = f
		if f.Name != c.Name && md.byField[c.Name] == nil {
			md.byField[c.Name] = f // Django accepts the attname ("owner_id") too
		}
	}
	for field, through := range sp.ManyToMany {
		tt := m.s.Table(through)
		if tt == nil {
			errs = append(errs, fmt.Errorf("keys file: django model %s: many-to-many field %s: table %s does not exist", name, field, through))
			continue
		}
		mm, err := m.throughOf(t, field, tt)
		if err != nil {
			errs = append(errs, fmt.Errorf("keys file: django model %s: %w", name, err))
			continue
		}
		md.m2m[field] = mm
		md.ManyToMany = append(md.ManyToMany, mm)
	}
	// Conventional through tables: table_field with a foreign key to this table and one to another.
	prefix := t.Name + "_"
	for _, tt := range m.s.Tables {
		if tt.Schema != t.Schema || !strings.HasPrefix(tt.Name, prefix) {
			continue
		}
		field := strings.TrimPrefix(tt.Name, prefix)
		if md.byField[field] != nil || md.m2m[field] != nil {
			continue
		}
		if mm, err := m.throughOf(t, field, tt); err == nil {
			md.m2m[field] = mm
			md.ManyToMany = append(md.ManyToMany, mm)
		}
	}
	sort.Slice(md.ManyToMany, func(i, j int) bool { return md.ManyToMany[i].Name < md.ManyToMany[j].Name })
	key, err := m.naturalKey(md, sp)
	if err != nil {
		errs = append(errs, err)
	}
	md.Key = key
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	m.byName[name] = md
	if _, taken := m.byTable[t.QName()]; !taken {
		m.byTable[t.QName()] = md
	}
	return md, nil
}

// throughOf recognises tt as the through table of many-to-many field of owner: besides its own id,
// exactly two single-column foreign keys, one to owner (from_x_id/to_x_id for a self relation).
func (m *Mapping) throughOf(owner *schema.Table, field string, tt *schema.Table) (*ManyToMany, error) {
	type ref struct{ col, table string }
	var refs []ref
	sid := tt.SurrogateID()
	for _, c := range tt.Columns {
		if c.Name == sid || c.Generated {
			continue
		}
		d := m.domains.Of(tt.QName(), c.Name)
		if d == "" || len(tt.FKFor(c.Name)) == 0 {
			return nil, fmt.Errorf("table %s is not a many-to-many through table (column %s)", tt.Display(), c.Name)
		}
		refs = append(refs, ref{c.Name, d})
	}
	if len(refs) != 2 {
		return nil, fmt.Errorf("table %s is not a many-to-many through table (%d references)", tt.Display(), len(refs))
	}
	mm := &ManyToMany{Name: field, Through: tt}
	switch {
	case refs[0].table == owner.QName() && refs[1].table == owner.QName():
		for _, r := range refs {
			switch {
			case strings.HasPrefix(r.col, "from_"):
				mm.Owner = r.col
			case strings.HasPrefix(r.col, "to_"):
				mm.Target = r.col
			}
		}
		if mm.Owner == "" || mm.Target == "" {
			return nil, fmt.Errorf("table %s: a self many-to-many needs from_ and to_ columns", tt.Display())
		}
		mm.TargetTable = owner.QName()
	case refs[0].table == owner.QName():
		mm.Owner, mm.Target, mm.TargetTable = refs[0].col, refs[1].col, refs[1].table
	case refs[1].table == owner.QName():
		mm.Owner, mm.Target, mm.TargetTable = refs[1].col, refs[0].col, refs[0].table
	default:
		return nil, fmt.Errorf("table %s does not reference %s", tt.Display(), owner.Display())
	}
	return mm, nil
}

// naturalKey settles a model's natural key: the keys file, Django's own models, else the key plan.
func (m *Mapping) naturalKey(md *Model, sp keys.DjangoModelSpec) (*NaturalKey, error) {
	var layout keys.DjangoKey
	source := ""
	switch {
	case sp.NaturalKey != nil:
		layout, source = *sp.NaturalKey, KeyFromKeysFile
		if len(layout) == 0 {
			return nil, nil
		}
	case builtinKeys[md.Name] != nil:
		source = KeyFromDjango
		for _, n := range builtinKeys[md.Name] {
			if md.FieldByName(n) == nil {
				layout = nil // not Django's table after all: fall back to the plan
				break
			}
			layout = append(layout, keys.DjangoKeyPart{Name: n})
		}
	}
	if layout == nil {
		source = KeyFromPlan
		for _, n := range m.plan.NaturalKey(md.Table.QName()) {
			layout = append(layout, keys.DjangoKeyPart{Name: n})
		}
		if len(layout) == 0 {
			return nil, nil
		}
	}
	k := &NaturalKey{Source: source}
	for _, n := range layout {
		f := md.FieldByName(n.Name)
		if f == nil {
			return nil, fmt.Errorf("django model %s: natural key names %s, which is neither a field nor a column of %s", md.Name, n.Name, md.Table.Display())
		}
		p := KeyPart{Field: f.Name, Column: f.Column, Ref: f.Ref, Nullable: !f.NotNull}
		if f.Ref != "" {
			rt := m.s.Table(f.Ref)
			if rt == nil || rt.SurrogateID() == "" {
				p.Ref = ""
			}
			p.Self = p.Ref == md.Table.QName()
		}
		if n.Nested {
			if p.Ref == "" {
				return nil, fmt.Errorf("django model %s: natural key part [%s] is nested, but %s is no foreign key to a model", md.Name, n.Name, n.Name)
			}
			p.Nested = true
		}
		k.Parts = append(k.Parts, p)
	}
	return k, nil
}

// maxLearnedParts bounds the natural keys whose layout is learned from a fixture: their orders
// grow factorially.
const maxLearnedParts = 4

// Candidates lists the layouts md's natural key may have in a fixture when nothing declares it:
// every order of its parts, each foreign key spliced or nested; the current layout first. It is
// nil when the layout is declared (keys file, Django's own models), when there is only one, or
// when the key has more than maxLearnedParts parts.
func (m *Mapping) Candidates(md *Model) []*NaturalKey {
	k := md.Key
	if k == nil || k.Source == KeyFromKeysFile || k.Source == KeyFromDjango || len(k.Parts) > maxLearnedParts {
		return nil
	}
	out := []*NaturalKey{k}
	seen := map[string]bool{k.Layout().String(): true}
	var perm func(done []KeyPart, rest []KeyPart)
	perm = func(done []KeyPart, rest []KeyPart) {
		if len(rest) == 0 {
			c := &NaturalKey{Parts: append([]KeyPart(nil), done...), Source: KeyFromFixture}
			if s := c.Layout().String(); !seen[s] {
				seen[s] = true
				out = append(out, c)
			}
			return
		}
		for i, p := range rest {
			others := append(append([]KeyPart(nil), rest[:i]...), rest[i+1:]...)
			for _, nested := range []bool{false, true} {
				if nested && p.Ref == "" {
					continue
				}
				p.Nested = nested
				perm(append(done, p), others)
			}
		}
	}
	perm(nil, k.Parts)
	if len(out) == 1 {
		return nil
	}
	return out
}

// SetKey replaces md's natural key layout (one of Candidates).
func (m *Mapping) SetKey(md *Model, k *NaturalKey) { md.Key = k }

// FieldByName returns the field called name in fixtures, or holding column name.
func (md *Model) FieldByName(name string) *Field {
	if f := md.byField[name]; f != nil {
		return f
	}
	return md.byColumn[name]
}

// FieldOfColumn returns the field stored in column col.
func (md *Model) FieldOfColumn(col string) *Field { return md.byColumn[col] }

// ManyToManyField returns the many-to-many field called name.
func (md *Model) ManyToManyField(name string) *ManyToMany { return md.m2m[name] }

// KeyShape describes how long a model's natural key is: Fixed values, or Variable when a part
// contributes a varying number (a tree path, a nullable foreign key).
type KeyShape struct {
	Fixed    int
	Variable bool
}

// Shape computes the length of md's natural key; it fails when a foreign key in it points at a
// model without a natural key.
func (m *Mapping) Shape(md *Model) (KeyShape, error) {
	return m.shape(md, map[string]bool{})
}

func (m *Mapping) shape(md *Model, seen map[string]bool) (KeyShape, error) {
	if md.Key == nil {
		return KeyShape{}, fmt.Errorf("model %s has no natural key", md.Name)
	}
	if seen[md.Name] {
		return KeyShape{}, fmt.Errorf("natural key of %s runs through itself", md.Name)
	}
	seen[md.Name] = true
	defer delete(seen, md.Name)
	var out KeyShape
	for _, p := range md.Key.Parts {
		switch {
		case p.Ref == "":
			out.Fixed++
		case p.Nested:
			out.Fixed++
		case p.Self:
			out.Variable = true
		default:
			rm := m.ModelForTable(p.Ref)
			if rm == nil || rm.Key == nil {
				return KeyShape{}, fmt.Errorf("natural key of %s: %s points at %s, which has no natural key", md.Name, p.Field, schema.DisplayName(p.Ref))
			}
			sub, err := m.shape(rm, seen)
			if err != nil {
				return KeyShape{}, err
			}
			if p.Nullable || sub.Variable {
				out.Variable = true
			} else {
				out.Fixed += sub.Fixed
			}
		}
	}
	return out, nil
}

// Decodable reports whether a natural key list of md can be split into its parts: at most one
// part may have a varying length.
func (m *Mapping) Decodable(md *Model) error {
	if md.Key == nil {
		return fmt.Errorf("model %s has no natural key", md.Name)
	}
	variable := 0
	for _, p := range md.Key.Parts {
		if p.Ref == "" || p.Nested {
			continue
		}
		if p.Self || p.Nullable {
			variable++
			continue
		}
		rm := m.ModelForTable(p.Ref)
		if rm == nil {
			return fmt.Errorf("natural key of %s: %s points at %s, which is no model", md.Name, p.Field, schema.DisplayName(p.Ref))
		}
		sh, err := m.Shape(rm)
		if err != nil {
			return err
		}
		if sh.Variable {
			variable++
		}
	}
	if variable > 1 {
		return fmt.Errorf("natural key of %s has %d parts of varying length: a list cannot be split into them", md.Name, variable)
	}
	return nil
}

// ModelForTable returns the model of table qname: a registered name, else the conventional name
// derived from the table (which content types confirm where the package or fixture has them).
func (m *Mapping) ModelForTable(qname string) *Model {
	if md := m.byTable[qname]; md != nil {
		return md
	}
	t := m.s.Table(qname)
	if t == nil {
		return nil
	}
	for name, b := range builtinTables {
		if b == t.Name {
			if md := m.Model(name); md != nil && md.Table == t {
				return md
			}
		}
	}
	for name, sp := range m.spec {
		if sp.Table != "" && m.s.Table(sp.Table) == t {
			return m.Model(name)
		}
	}
	// app_label_model: try every split at an underscore, the first that maps back wins.
	for i := 0; i < len(t.Name); i++ {
		if t.Name[i] != '_' {
			continue
		}
		name := t.Name[:i] + "." + t.Name[i+1:]
		if md := m.Model(name); md != nil && md.Table == t {
			return md
		}
	}
	return nil
}

// Register names table qname's model explicitly (from a content type row), so that ModelOfTable
// and ModelForTable answer with it.
func (m *Mapping) Register(name string) *Model {
	md := m.Model(name)
	if md != nil {
		m.byTable[md.Table.QName()] = md
	}
	return md
}
