package corrupt

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	"github.com/edmsdr/edmsdr/engine/schema"
)

// Semantic damage: rows edited in ways every checksum and count agrees with (the package is
// resealed), each one a mistake the restore's reconciliation or validation must catch.

// nonNull returns the indexes of t's rows whose column col is not NULL.
func nonNull(t *TableRows, col int) []int {
	var out []int
	for i, row := range t.Rows {
		if string(Field(row, col)) != `\N` {
			out = append(out, i)
		}
	}
	return out
}

// pickColumn picks a table and one of its columns for which ok holds, with at least one row
// where the column is not NULL, and one such row. It returns the table, the column index and the
// row index.
func (v *view) pickColumn(r *rand.Rand, ok func(st *schema.Table, c *schema.Column) bool) (*TableRows, int, int, error) {
	type cand struct {
		t   *TableRows
		col int
	}
	var cands []cand
	for _, lay := range v.header.Tables {
		t, st := v.table(lay.Index), v.man.Schema.Table(lay.Table)
		if st == nil {
			continue
		}
		for i, name := range lay.Columns {
			if c := st.Column(name); c != nil && ok(st, c) && len(nonNull(t, i)) > 0 {
				cands = append(cands, cand{t, i})
			}
		}
	}
	if len(cands) == 0 {
		return nil, 0, 0, ErrNotApplicable
	}
	c := cands[r.IntN(len(cands))]
	rows := nonNull(c.t, c.col)
	return c.t, c.col, rows[r.IntN(len(rows))], nil
}

// inKey reports whether column c of st takes part in a key: the primary key, a foreign key, a
// unique constraint or the plan's natural key.
func (v *view) inKey(st *schema.Table, c string) bool {
	if slices.Contains(st.PrimaryKey, c) || len(st.FKFor(c)) > 0 || slices.Contains(v.man.Plan.NaturalKey(st.QName()), c) {
		return true
	}
	for _, u := range st.Uniques {
		if slices.Contains(u.Columns, c) {
			return true
		}
	}
	return false
}

// keyless reports whether st has no natural key (its rows are always inserted, never matched).
func (v *view) keyless(st *schema.Table) bool { return len(v.man.Plan.NaturalKey(st.QName())) == 0 }

// danglingReference points a foreign key at a row the package does not hold.
func danglingReference(v *view, r *rand.Rand) error {
	var ref *TableRows
	var refCol int
	t, col, row, err := v.pickColumn(r, func(st *schema.Table, c *schema.Column) bool {
		for _, fk := range st.FKFor(c.Name) {
			rt := v.man.Schema.Table(fk.RefQName())
			if len(fk.Columns) == 1 && rt != nil && rt.SurrogateID() == fk.RefColumns[0] && v.byTable(rt.QName()) != nil {
				return true
			}
		}
		return false
	})
	if err != nil {
		return err
	}
	st := v.man.Schema.Table(t.Layout.Table)
	fk := st.FKFor(t.Layout.Columns[col])[0]
	ref = v.byTable(fk.RefQName())
	refCol = ref.Col(fk.RefColumns[0])
	t.Rows[row] = SetField(t.Rows[row], col, []byte(strconv.FormatInt(maxID(ref, refCol)+1_000_000, 10)))
	return nil
}

// duplicateNaturalKey gives one row the natural key of another (keys without foreign-key parts).
func duplicateNaturalKey(v *view, r *rand.Rand) error {
	t, st, err := v.pick(r, 2, func(t *TableRows, st *schema.Table) bool {
		nk := v.man.Plan.NaturalKey(st.QName())
		return len(nk) > 0 && !slices.ContainsFunc(nk, func(c string) bool { return len(st.FKFor(c)) > 0 })
	})
	if err != nil {
		return err
	}
	a := r.IntN(len(t.Rows))
	b := (a + 1 + r.IntN(len(t.Rows)-1)) % len(t.Rows)
	for _, c := range v.man.Plan.NaturalKey(st.QName()) {
		i := t.Col(c)
		t.Rows[b] = SetField(t.Rows[b], i, Field(t.Rows[a], i))
	}
	return nil
}

// duplicateID gives one row the surrogate id of another.
func duplicateID(v *view, r *rand.Rand) error {
	t, st, err := v.pick(r, 2, func(t *TableRows, st *schema.Table) bool { return st.SurrogateID() != "" })
	if err != nil {
		return err
	}
	i := t.Col(st.SurrogateID())
	a := r.IntN(len(t.Rows))
	b := (a + 1 + r.IntN(len(t.Rows)-1)) % len(t.Rows)
	t.Rows[b] = SetField(t.Rows[b], i, Field(t.Rows[a], i))
	return nil
}

// typed are column types that reject the text "not-a-value".
var typed = []string{"boolean", "smallint", "integer", "bigint", "numeric", "date", "timestamp with time zone", "timestamp without time zone", "jsonb", "json", "inet", "uuid"}

// wrongTypeValue puts text where the column's type cannot take it.
func wrongTypeValue(v *view, r *rand.Rand) error {
	t, col, row, err := v.pickColumn(r, func(st *schema.Table, c *schema.Column) bool {
		return slices.Contains(typed, c.Type) && c.Name != st.SurrogateID() && len(st.FKFor(c.Name)) == 0
	})
	if err != nil {
		return err
	}
	t.Rows[row] = SetField(t.Rows[row], col, []byte("not-a-value"))
	return nil
}

// nullInNotNull puts NULL in a NOT NULL column.
func nullInNotNull(v *view, r *rand.Rand) error {
	t, col, row, err := v.pickColumn(r, func(st *schema.Table, c *schema.Column) bool {
		return c.NotNull && c.Name != st.SurrogateID()
	})
	if err != nil {
		return err
	}
	t.Rows[row] = SetField(t.Rows[row], col, []byte(`\N`))
	return nil
}

// extraColumn adds a column the target lacks, to the header, the schema snapshot and every row.
func extraColumn(v *view, r *rand.Rand) error {
	t, st, err := v.pick(r, 0, nil)
	if err != nil {
		return err
	}
	const name = "edmsdr_extra"
	st.Columns = append(st.Columns, schema.Column{Name: name, Type: "text"})
	for i := range v.header.Tables {
		if v.header.Tables[i].Index == t.Layout.Index {
			v.header.Tables[i].Columns = append(slices.Clone(v.header.Tables[i].Columns), name)
		}
	}
	for i := range t.Rows {
		t.Rows[i] = append(t.Rows[i], "\textra"...)
	}
	return nil
}

// missingColumn drops a NOT NULL column without default (and outside every key) from the
// header, the schema snapshot and every row.
func missingColumn(v *view, r *rand.Rand) error {
	var cands [][2]string
	for _, st := range v.man.Schema.Tables {
		for _, c := range st.Columns {
			if c.NotNull && !c.HasDefault && !c.Generated && c.Identity == "" && !v.inKey(st, c.Name) && v.byTable(st.QName()) != nil {
				cands = append(cands, [2]string{st.QName(), c.Name})
			}
		}
	}
	if len(cands) == 0 {
		return ErrNotApplicable
	}
	pick := cands[r.IntN(len(cands))]
	st, t := v.man.Schema.Table(pick[0]), v.byTable(pick[0])
	col := t.Col(pick[1])
	st.Columns = slices.DeleteFunc(st.Columns, func(c schema.Column) bool { return c.Name == pick[1] })
	for i := range v.header.Tables {
		if v.header.Tables[i].Index == t.Layout.Index {
			v.header.Tables[i].Columns = slices.Delete(slices.Clone(v.header.Tables[i].Columns), col, col+1)
		}
	}
	for i, row := range t.Rows {
		f := strings.Split(string(row), "\t")
		t.Rows[i] = []byte(strings.Join(slices.Delete(f, col, col+1), "\t"))
	}
	return nil
}

// textTypes are the column types changedValue edits.
func textType(typ string) bool {
	return typ == "text" || strings.HasPrefix(typ, "character varying") || strings.HasPrefix(typ, "character(")
}

// changedValue changes one character of a text value of a keyless table (rows that are always
// inserted): nothing but the digest can tell.
func changedValue(v *view, r *rand.Rand) error {
	t, col, row, err := v.pickColumn(r, func(st *schema.Table, c *schema.Column) bool {
		return v.keyless(st) && textType(c.Type) && !v.inKey(st, c.Name)
	})
	if err != nil {
		return err
	}
	val := Field(t.Rows[row], col)
	// Change the first letter or digit that is not part of an escape sequence; an empty value
	// becomes "x".
	nv := []byte("x")
	if len(val) > 0 {
		i := 0
		for i < len(val) && !(alnum(val[i]) && (i == 0 || val[i-1] != '\\')) {
			i++
		}
		if i == len(val) {
			return fmt.Errorf("changed-value: no letter to change in %q: %w", val, ErrNotApplicable)
		}
		nv = slices.Clone(val)
		nv[i] = rotate(val[i])
	}
	t.Rows[row] = SetField(t.Rows[row], col, nv)
	return nil
}

func alnum(c byte) bool {
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}

func rotate(c byte) byte {
	switch c {
	case 'z':
		return 'a'
	case 'Z':
		return 'A'
	case '9':
		return '0'
	}
	return c + 1
}

// removedRow drops a row of a keyless table.
func removedRow(v *view, r *rand.Rand) error {
	t, _, err := v.pick(r, 1, func(t *TableRows, st *schema.Table) bool { return v.keyless(st) })
	if err != nil {
		return err
	}
	i := r.IntN(len(t.Rows))
	t.Rows = slices.Delete(t.Rows, i, i+1)
	return nil
}

// duplicatedRow copies a row of a keyless table under a new id.
func duplicatedRow(v *view, r *rand.Rand) error {
	t, st, err := v.pick(r, 1, func(t *TableRows, st *schema.Table) bool { return v.keyless(st) && st.SurrogateID() != "" })
	if err != nil {
		return err
	}
	col := t.Col(st.SurrogateID())
	row := SetField(t.Rows[r.IntN(len(t.Rows))], col, []byte(strconv.FormatInt(maxID(t, col)+1, 10)))
	t.Rows = append(t.Rows, row)
	return nil
}

// gfkCell is the object id of one row's generic foreign key.
type gfkCell struct {
	t        *TableRows
	col, row int
}

// danglingGenericReference points a generic foreign key (content type + object id) at an object
// the package does not hold.
func danglingGenericReference(v *view, r *rand.Rand) error {
	var cands []gfkCell
	for _, g := range v.man.Plan.GenericFKs {
		if t := v.byTable(g.Table); t != nil {
			ct, obj := t.Col(g.ContentTypeColumn), t.Col(g.ObjectIDColumn)
			for i, row := range t.Rows {
				if ct >= 0 && obj >= 0 && string(Field(row, ct)) != `\N` && string(Field(row, obj)) != `\N` {
					cands = append(cands, gfkCell{t, obj, i})
				}
			}
		}
	}
	if len(cands) == 0 {
		return ErrNotApplicable
	}
	c := cands[r.IntN(len(cands))]
	c.t.Rows[c.row] = SetField(c.t.Rows[c.row], c.col, []byte("2000000000"))
	return nil
}

// rewiredReference points a foreign key of a keyless row at another row that exists: every
// reference resolves, only the digest (identities of referenced rows) can tell.
func rewiredReference(v *view, r *rand.Rand) error {
	t, col, row, err := v.pickColumn(r, func(st *schema.Table, c *schema.Column) bool {
		fks := st.FKFor(c.Name)
		if !v.keyless(st) || len(fks) != 1 || len(fks[0].Columns) != 1 {
			return false
		}
		ref := v.byTable(fks[0].RefQName())
		return ref != nil && len(ref.Rows) >= 2 && ref.Col(fks[0].RefColumns[0]) >= 0
	})
	if err != nil {
		return err
	}
	fk := v.man.Schema.Table(t.Layout.Table).FKFor(t.Layout.Columns[col])[0]
	ref := v.byTable(fk.RefQName())
	rc := ref.Col(fk.RefColumns[0])
	cur := string(Field(t.Rows[row], col))
	var others [][]byte
	for _, rr := range ref.Rows {
		if id := Field(rr, rc); string(id) != cur {
			others = append(others, id)
		}
	}
	t.Rows[row] = SetField(t.Rows[row], col, others[r.IntN(len(others))])
	return nil
}

// columnsSwapped swaps the names of the first two columns of a keyless table (same type and
// nullability, outside every key) in the header and the schema snapshot: the data lands in the
// wrong columns. It does not depend on the seed.
func columnsSwapped(v *view, _ *rand.Rand) error {
	type pair struct {
		t    *TableRows
		a, b int
	}
	var cands []pair
	for _, lay := range v.header.Tables {
		st, t := v.man.Schema.Table(lay.Table), v.table(lay.Index)
		if st == nil || !v.keyless(st) || len(t.Rows) == 0 {
			continue
		}
		for a, ca := range lay.Columns {
			for b := a + 1; b < len(lay.Columns); b++ {
				x, y := st.Column(ca), st.Column(lay.Columns[b])
				if x != nil && y != nil && x.Type == y.Type && x.NotNull == y.NotNull && !v.inKey(st, x.Name) && !v.inKey(st, y.Name) && differ(t, a, b) {
					cands = append(cands, pair{t, a, b})
				}
			}
		}
	}
	if len(cands) == 0 {
		return ErrNotApplicable
	}
	c := cands[0]
	for i := range v.header.Tables {
		if v.header.Tables[i].Index == c.t.Layout.Index {
			cols := slices.Clone(v.header.Tables[i].Columns)
			cols[c.a], cols[c.b] = cols[c.b], cols[c.a]
			v.header.Tables[i].Columns = cols
			st := v.man.Schema.Table(v.header.Tables[i].Table)
			ia := slices.IndexFunc(st.Columns, func(col schema.Column) bool { return col.Name == cols[c.b] })
			ib := slices.IndexFunc(st.Columns, func(col schema.Column) bool { return col.Name == cols[c.a] })
			st.Columns[ia].Name, st.Columns[ib].Name = st.Columns[ib].Name, st.Columns[ia].Name
		}
	}
	return nil
}

// differ reports whether columns a and b of t hold different values in some row.
func differ(t *TableRows, a, b int) bool {
	return slices.ContainsFunc(t.Rows, func(row []byte) bool { return string(Field(row, a)) != string(Field(row, b)) })
}

// nullID blanks the surrogate id of a row.
func nullID(v *view, r *rand.Rand) error {
	t, st, err := v.pick(r, 1, func(t *TableRows, st *schema.Table) bool { return st.SurrogateID() != "" })
	if err != nil {
		return err
	}
	i := r.IntN(len(t.Rows))
	t.Rows[i] = SetField(t.Rows[i], t.Col(st.SurrogateID()), []byte(`\N`))
	return nil
}
