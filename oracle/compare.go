package oracle

import (
	"fmt"
	"slices"
	"strings"
)

// Kind is what a Difference is.
type Kind string

// The kinds of difference.
const (
	// MissingTable: a table of the source is not in the target; ExtraTable: the reverse.
	MissingTable Kind = "missing table"
	ExtraTable   Kind = "extra table"
	// Lost: a source row the target lacks (Count of them).
	Lost Kind = "lost"
	// Extra: a target row the source lacks.
	Extra Kind = "extra"
	// Duplicated: a row the target holds more often than the source.
	Duplicated Kind = "duplicated"
	// Changed: a source row and a target row with the same natural key (or, keyless, the most
	// columns in common) that differ in Columns: a wrong parent, a wrong undeclared reference, a
	// changed value.
	Changed Kind = "changed"
)

// Difference is one way the target differs from the source.
type Difference struct {
	Table string
	Kind  Kind
	// Count is how many rows differ this way.
	Count int
	// Columns are the columns (a reference's columns joined by commas) that differ, for Changed.
	Columns []string
	// Source and Target are the renderings involved ("" when absent).
	Source, Target string
}

// String describes the difference on one line.
func (d Difference) String() string {
	switch d.Kind {
	case MissingTable, ExtraTable:
		return fmt.Sprintf("%s: %s", d.Table, d.Kind)
	case Changed:
		return fmt.Sprintf("%s: %d row(s) changed in %s: source %s, target %s", d.Table, d.Count, strings.Join(d.Columns, "; "), d.Source, d.Target)
	case Lost:
		return fmt.Sprintf("%s: %d row(s) lost: %s", d.Table, d.Count, d.Source)
	default:
		return fmt.Sprintf("%s: %d row(s) %s: %s", d.Table, d.Count, d.Kind, d.Target)
	}
}

// Differences is the outcome of Compare.
type Differences []Difference

// Has reports whether some difference is of kind k in table (any table when table is "").
func (ds Differences) Has(k Kind, table string) bool {
	return slices.ContainsFunc(ds, func(d Difference) bool { return d.Kind == k && (table == "" || d.Table == qualify(table)) })
}

// String lists the differences one a line; "" when there are none.
func (ds Differences) String() string {
	lines := make([]string, len(ds))
	for i, d := range ds {
		lines[i] = d.String()
	}
	return strings.Join(lines, "\n")
}

// Compare returns how target differs from source, table by table in name order; nil when they
// hold the same rows.
func Compare(source, target *Snapshot) Differences {
	var out Differences
	names := map[string]bool{}
	for n := range source.Tables {
		names[n] = true
	}
	for n := range target.Tables {
		names[n] = true
	}
	for _, name := range sortedKeys(names) {
		s, t := source.Tables[name], target.Tables[name]
		switch {
		case t == nil:
			out = append(out, Difference{Table: name, Kind: MissingTable})
		case s == nil:
			out = append(out, Difference{Table: name, Kind: ExtraTable})
		default:
			out = append(out, compareTable(s, t)...)
		}
	}
	return out
}

type surplus struct {
	r *rendered
	s string
	n int
}

func compareTable(s, t *Table) []Difference {
	var out []Difference
	var lost, extra []*surplus
	for _, k := range sortedKeys(s.Rows) {
		if n := s.Rows[k] - t.Rows[k]; n > 0 {
			lost = append(lost, &surplus{s.rows[k], k, n})
		}
	}
	for _, k := range sortedKeys(t.Rows) {
		n := t.Rows[k] - s.Rows[k]
		switch {
		case n > 0 && s.Rows[k] > 0:
			out = append(out, Difference{Table: s.Name, Kind: Duplicated, Count: n, Target: k})
		case n > 0:
			extra = append(extra, &surplus{t.rows[k], k, n})
		}
	}
	// Pair lost and extra rows: by natural key, else by the most items in common (at least half).
	for _, l := range lost {
		for l.n > 0 {
			var best *surplus
			bestCommon := 0
			for _, e := range extra {
				if e.n == 0 {
					continue
				}
				if s.Keyed && l.r.key != "" {
					if e.r.key == l.r.key {
						best = e
						break
					}
					continue
				}
				if c := common(l.r, e.r); c*2 >= len(l.r.items) && c > bestCommon {
					best, bestCommon = e, c
				}
			}
			if best == nil {
				break
			}
			n := min(l.n, best.n)
			l.n -= n
			best.n -= n
			out = append(out, Difference{Table: s.Name, Kind: Changed, Count: n, Columns: differing(l.r, best.r), Source: l.s, Target: best.s})
		}
	}
	for _, l := range lost {
		if l.n > 0 {
			out = append(out, Difference{Table: s.Name, Kind: Lost, Count: l.n, Source: l.s})
		}
	}
	for _, e := range extra {
		if e.n > 0 {
			out = append(out, Difference{Table: s.Name, Kind: Extra, Count: e.n, Target: e.s})
		}
	}
	return out
}

func common(a, b *rendered) int {
	n := 0
	for _, x := range a.items {
		if slices.Contains(b.items, x) {
			n++
		}
	}
	return n
}

// differing names the items of a and b whose values differ or that only one of them has.
func differing(a, b *rendered) []string {
	va, vb := map[string]string{}, map[string]string{}
	for _, it := range a.items {
		va[it.name] = it.value
	}
	for _, it := range b.items {
		vb[it.name] = it.value
	}
	var out []string
	for n, v := range va {
		if w, ok := vb[n]; !ok || w != v {
			out = append(out, n)
		}
	}
	for n := range vb {
		if _, ok := va[n]; !ok {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

// Merge returns what a target must hold after a restore of source that reuses the target's
// matching rows (the default, --on-existing reuse): every row of target, plus every row of
// source whose natural key the target lacks (keyless rows always). Both snapshots must have been
// read with the same natural keys.
func Merge(target, source *Snapshot) *Snapshot {
	out := &Snapshot{Tables: map[string]*Table{}}
	for name, t := range target.Tables {
		out.Tables[name] = t.clone()
	}
	for name, s := range source.Tables {
		m, ok := out.Tables[name]
		if !ok {
			m = &Table{Name: name, Keyed: s.Keyed, Rows: map[string]int{}, rows: map[string]*rendered{}}
			out.Tables[name] = m
		}
		keys := map[string]bool{}
		for _, r := range m.rows {
			if r.key != "" {
				keys[r.key] = true
			}
		}
		for k, n := range s.Rows {
			r := s.rows[k]
			if r.key != "" && keys[r.key] {
				continue
			}
			m.Rows[k] += n
			m.rows[k] = r
		}
	}
	return out
}

func (t *Table) clone() *Table {
	c := &Table{Name: t.Name, Keyed: t.Keyed, Rows: make(map[string]int, len(t.Rows)), rows: make(map[string]*rendered, len(t.rows))}
	for k, n := range t.Rows {
		c.Rows[k] = n
	}
	for k, r := range t.rows {
		c.rows[k] = r
	}
	return c
}
