// Package oracle is the harness's independent judge of a restore: it reads two databases and
// says whether they hold the same data, without sharing a line with engine/digest. Every row
// is rendered in Go, column by column, with each reference — a foreign key declared on the table
// or on any of its partitions, or an undeclared reference the caller names — replaced by the
// rendered identity of the row it points at: its natural key (references inside the key followed
// the same way), or, for a keyless row, its whole rendering, recursively. Tables compare as
// multisets of rendered rows, so surrogate ids may differ and duplicates count. Differences are
// reported per row: lost, extra, duplicated, or changed (with the columns that differ: a wrong
// parent, a wrong undeclared reference).
//
// It is meant for test-sized databases: every row is held in memory.
package oracle

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/edmsdr/edmsdr/engine/keys"
)

// Reference is a column list that refers to another table without a foreign-key constraint
// (Django's ForeignKey(db_constraint=False), legacy schemas).
type Reference struct {
	// Table and RefTable are table names, qualified ("schema.table") or bare (schema public).
	Table      string
	Columns    []string
	RefTable   string
	RefColumns []string
}

// String returns "table(columns) -> reftable(columns)".
func (r Reference) String() string {
	return fmt.Sprintf("%s(%s) -> %s(%s)", r.Table, strings.Join(r.Columns, ","), r.RefTable, strings.Join(r.RefColumns, ","))
}

// Options tells the oracle what the catalog cannot.
type Options struct {
	// NaturalKeys overrides the oracle's own choice of natural key, per table (qualified or bare
	// name); an empty list makes a table keyless.
	NaturalKeys map[string][]string
	// References are references no constraint declares.
	References []Reference
	// Exclude lists tables left out (qualified or bare names).
	Exclude []string
}

// OptionsFromKeys returns the Options a keys file implies: its natural keys, exclusions and
// references without a foreign key.
func OptionsFromKeys(kf *keys.File) (Options, error) {
	var o Options
	if kf == nil {
		return o, nil
	}
	for name, spec := range kf.Tables {
		if spec.NaturalKey != nil {
			if o.NaturalKeys == nil {
				o.NaturalKeys = map[string][]string{}
			}
			o.NaturalKeys[name] = slices.Clone(*spec.NaturalKey)
		}
	}
	o.Exclude = slices.Clone(kf.Exclude)
	for col, ref := range kf.References {
		r, err := ParseReference(col, ref)
		if err != nil {
			return o, fmt.Errorf("oracle: keys file: %w", err)
		}
		o.References = append(o.References, r)
	}
	slices.SortFunc(o.References, func(a, b Reference) int { return strings.Compare(a.String(), b.String()) })
	return o, nil
}

// Snapshot is the rendered content of a database: per table (qualified name), its rows.
type Snapshot struct {
	Tables map[string]*Table
}

// Table is the multiset of one table's rendered rows.
type Table struct {
	Name string
	// Keyed is true when the table has a natural key.
	Keyed bool
	// Rows maps a row's rendering to how many rows render so.
	Rows map[string]int
	rows map[string]*rendered
}

type rendered struct {
	key   string // the natural key's rendering, "" when keyless
	items []item
}

type item struct{ name, value string }

func (r *rendered) String() string {
	parts := make([]string, len(r.items))
	for i, it := range r.items {
		parts[i] = it.name + "=" + it.value
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

// Read renders every table of the database conn is connected to, in one read-only snapshot.
// Session settings that shape the text of values (time zone, date, interval and bytea styles,
// float digits) are fixed for the transaction.
func Read(ctx context.Context, conn *pgx.Conn, opts Options) (*Snapshot, error) {
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, fmt.Errorf("oracle: begin: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	for _, s := range []string{
		"SET LOCAL TimeZone = 'UTC'", "SET LOCAL DateStyle = 'ISO, YMD'", "SET LOCAL IntervalStyle = 'postgres'",
		"SET LOCAL extra_float_digits = 1", "SET LOCAL bytea_output = 'hex'",
	} {
		if _, err := tx.Exec(ctx, s); err != nil {
			return nil, fmt.Errorf("oracle: %s: %w", s, err)
		}
	}
	tables, err := readCatalog(ctx, tx, opts)
	if err != nil {
		return nil, fmt.Errorf("oracle: %w", err)
	}
	for _, name := range sortedKeys(tables) {
		if err := readRows(ctx, tx, tables[name]); err != nil {
			return nil, fmt.Errorf("oracle: %w", err)
		}
	}
	rd := &renderer{tables: tables, memo: map[*row]string{}}
	snap := &Snapshot{Tables: map[string]*Table{}}
	for _, name := range sortedKeys(tables) {
		t := tables[name]
		out := &Table{Name: name, Keyed: t.nk != nil, Rows: map[string]int{}, rows: map[string]*rendered{}}
		for _, r := range t.rows {
			rr, err := rd.row(t, r)
			if err != nil {
				return nil, fmt.Errorf("oracle: %w", err)
			}
			s := rr.String()
			out.Rows[s]++
			out.rows[s] = rr
		}
		snap.Tables[name] = out
	}
	return snap, nil
}

// renderer renders rows and identities; memo holds identities computed without cutting a cycle
// (those do not depend on the path that reached them).
type renderer struct {
	tables map[string]*table
	memo   map[*row]string
	stack  []*row
}

// row renders r: every column but the surrogate ones, references replaced by identities.
func (rd *renderer) row(t *table, r *row) (*rendered, error) {
	rd.stack = append(rd.stack[:0], r)
	items, _, err := rd.items(t, r, nil)
	if err != nil {
		return nil, err
	}
	out := &rendered{items: items}
	if t.nk != nil {
		out.key, _, err = rd.identity(t, r)
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// items renders the columns of r (only those in only, when only is not nil), sorted by name;
// cut reports whether a cycle was cut on the way.
func (rd *renderer) items(t *table, r *row, only []int) ([]item, bool, error) {
	in := func(i int) bool { return only == nil || slices.Contains(only, i) }
	covered := map[int]bool{}
	var items []item
	cut := false
	for _, ref := range t.refs {
		if !allIn(ref.cols, in) {
			continue
		}
		vals, complete := make([]string, len(ref.cols)), true
		for i, c := range ref.cols {
			if r.vals[c] == nil {
				complete = false
				break
			}
			vals[i] = *r.vals[c]
		}
		if !complete {
			continue // MATCH SIMPLE: a reference with a NULL column refers to nothing
		}
		for _, c := range ref.cols {
			covered[c] = true
		}
		target := rd.tables[ref.refTable]
		if target == nil {
			return nil, false, fmt.Errorf("%s refers to %s, which is not read", t.name, ref.refTable)
		}
		rows, err := target.lookupRows(ref.refColumns, vals)
		if err != nil {
			return nil, false, fmt.Errorf("reference %s of %s: %w", ref.name, t.name, err)
		}
		ids := make([]string, 0, len(rows))
		for _, tr := range rows {
			id, c, err := rd.identity(target, tr)
			if err != nil {
				return nil, false, err
			}
			cut = cut || c
			ids = append(ids, id)
		}
		slices.Sort(ids)
		value := "→" + strings.Join(ids, "|")
		if len(ids) == 0 {
			value = "→dangling " + ref.refTable + strings.Join(quoteAll(vals), ",")
		}
		items = append(items, item{name: colNames(t, ref.cols), value: value})
	}
	for i, c := range t.cols {
		if covered[i] || c.surrogate || !in(i) {
			continue
		}
		v := "NULL"
		if r.vals[i] != nil {
			v = fmt.Sprintf("%q", *r.vals[i])
		}
		items = append(items, item{name: c.name, value: v})
	}
	slices.SortFunc(items, func(a, b item) int { return strings.Compare(a.name+"="+a.value, b.name+"="+b.value) })
	return items, cut, nil
}

// identity renders what identifies r across databases: its natural key, or, when t is keyless,
// its whole rendering. A row already on the path is rendered as a cycle mark.
func (rd *renderer) identity(t *table, r *row) (string, bool, error) {
	if id, ok := rd.memo[r]; ok {
		return id, false, nil
	}
	if slices.Contains(rd.stack[1:], r) || (t.nk == nil && rd.stack[0] == r) {
		return t.name + "↺", true, nil
	}
	rd.stack = append(rd.stack, r)
	defer func() { rd.stack = rd.stack[:len(rd.stack)-1] }()
	items, cut, err := rd.items(t, r, t.nk)
	if err != nil {
		return "", false, err
	}
	parts := make([]string, len(items))
	for i, it := range items {
		parts[i] = it.name + "=" + it.value
	}
	id := t.name + "{" + strings.Join(parts, ", ") + "}"
	if !cut {
		rd.memo[r] = id
	}
	return id, cut, nil
}

func allIn(cols []int, in func(int) bool) bool {
	for _, c := range cols {
		if !in(c) {
			return false
		}
	}
	return true
}

func colNames(t *table, cols []int) string {
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = t.cols[c].name
	}
	return strings.Join(names, ",")
}

// ParseReference reads a keys-file reference: column "table.column" (table possibly
// schema-qualified) referring to "table(column)".
func ParseReference(column, ref string) (Reference, error) {
	dot := strings.LastIndex(column, ".")
	open, closing := strings.Index(ref, "("), strings.LastIndex(ref, ")")
	if dot <= 0 || dot == len(column)-1 || open <= 0 || closing != len(ref)-1 || closing <= open+1 {
		return Reference{}, fmt.Errorf("reference %q: %q: want table.column: table(column)", column, ref)
	}
	return Reference{
		Table: strings.TrimSpace(column[:dot]), Columns: []string{strings.TrimSpace(column[dot+1:])},
		RefTable: strings.TrimSpace(ref[:open]), RefColumns: []string{strings.TrimSpace(ref[open+1 : closing])},
	}, nil
}
