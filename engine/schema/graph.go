package schema

import (
	"fmt"
	"sort"

	"github.com/edmsdr/edmsdr/engine/finding"
)

// Graph is the foreign-key graph of a schema: an edge from every referencing table to the table it
// references, its strongly connected components, and their topological order (referenced first).
type Graph struct {
	// Components are the strongly connected components in topological order: every table comes
	// after the tables it references, except for references inside its own component (cycles).
	Components [][]*Table
	// Order is Components flattened.
	Order []*Table

	component map[string]int
}

// BuildGraph computes the foreign-key graph of s. Foreign keys to tables outside s are ignored.
func BuildGraph(s *Schema) *Graph {
	index := map[string]int{}
	for i, t := range s.Tables {
		index[t.QName()] = i
	}
	adj := make([][]int, len(s.Tables))
	for i, t := range s.Tables {
		seen := map[int]bool{}
		for _, fk := range t.ForeignKeys {
			j, ok := index[fk.RefQName()]
			if !ok || seen[j] {
				continue
			}
			seen[j] = true
			adj[i] = append(adj[i], j)
		}
		sort.Ints(adj[i])
	}
	// Tarjan's algorithm. Edges point from child to parent, so a component is emitted only after
	// every component it references: the emission order is the topological order we want.
	var (
		counter int
		stack   []int
		onStack = make([]bool, len(s.Tables))
		num     = make([]int, len(s.Tables))
		low     = make([]int, len(s.Tables))
		g       = &Graph{component: map[string]int{}}
	)
	for i := range num {
		num[i] = -1
	}
	var visit func(v int)
	visit = func(v int) {
		num[v], low[v] = counter, counter
		counter++
		stack = append(stack, v)
		onStack[v] = true
		for _, w := range adj[v] {
			if num[w] < 0 {
				visit(w)
				low[v] = min(low[v], low[w])
			} else if onStack[w] {
				low[v] = min(low[v], num[w])
			}
		}
		if low[v] == num[v] {
			var comp []*Table
			for {
				w := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				onStack[w] = false
				comp = append(comp, s.Tables[w])
				if w == v {
					break
				}
			}
			sort.Slice(comp, func(i, j int) bool { return comp[i].QName() < comp[j].QName() })
			for _, t := range comp {
				g.component[t.QName()] = len(g.Components)
			}
			g.Components = append(g.Components, comp)
			g.Order = append(g.Order, comp...)
		}
	}
	for v := range s.Tables {
		if num[v] < 0 {
			visit(v)
		}
	}
	return g
}

// Component returns the index of the component holding table qname, or -1.
func (g *Graph) Component(qname string) int {
	if c, ok := g.component[qname]; ok {
		return c
	}
	return -1
}

// SameComponent reports whether two tables are in one strongly connected component (a cycle).
func (g *Graph) SameComponent(a, b string) bool {
	ca, cb := g.Component(a), g.Component(b)
	return ca >= 0 && ca == cb
}

// Domains says, for every column that holds surrogate ids, whose ids they are: the surrogate id
// column of a table holds that table's ids, and a foreign-key column holds the ids held by the
// column it references (so a composite key through a join table still resolves to the right table).
// Columns absent from the map hold plain values that need no rewriting.
type Domains map[ColumnRef]string

// ColumnRef names one column of one table.
type ColumnRef struct {
	Table  string // qualified name
	Column string
}

// String renders the reference as table.column.
func (c ColumnRef) String() string { return DisplayName(c.Table) + "." + c.Column }

// ComputeDomains derives the id domains of s. A column that two foreign keys send to different
// domains is reported as a finding of kind SchemaMismatch locating the table and column, and left
// out.
func ComputeDomains(s *Schema) (Domains, finding.List) {
	d := Domains{}
	state := map[ColumnRef]int{} // 0 unvisited, 1 in progress, 2 done
	var errs finding.List
	var resolve func(ref ColumnRef) string
	resolve = func(ref ColumnRef) string {
		switch state[ref] {
		case 1:
			return "" // a reference cycle between key columns: no id domain
		case 2:
			return d[ref]
		}
		state[ref] = 1
		t := s.Table(ref.Table)
		dom := ""
		if t != nil {
			if t.SurrogateID() == ref.Column {
				dom = t.QName()
			} else {
				for _, fk := range t.ForeignKeys {
					for i, c := range fk.Columns {
						if c != ref.Column || i >= len(fk.RefColumns) || s.Table(fk.RefQName()) == nil {
							continue
						}
						got := resolve(ColumnRef{fk.RefQName(), fk.RefColumns[i]})
						if got == "" {
							continue
						}
						if dom != "" && dom != got {
							errs.Add(finding.Finding{Kind: finding.SchemaMismatch, Table: DisplayName(ref.Table), Column: ref.Column,
								Message: fmt.Sprintf("foreign keys disagree on what the column references (%s and %s)", DisplayName(dom), DisplayName(got))})
							continue
						}
						dom = got
					}
				}
			}
		}
		state[ref] = 2
		if dom != "" {
			d[ref] = dom
		}
		return dom
	}
	for _, t := range s.Tables {
		for _, c := range t.Columns {
			resolve(ColumnRef{t.QName(), c.Name})
		}
	}
	return d, errs
}

// Of returns the domain of table.column, or "".
func (d Domains) Of(table, column string) string { return d[ColumnRef{table, column}] }

// References returns the columns of t that hold other rows' ids (every domain column but t's own
// surrogate id), in column order.
func (d Domains) References(t *Table) []string {
	var out []string
	sid := t.SurrogateID()
	for _, c := range t.Columns {
		if c.Name == sid || c.Generated {
			continue
		}
		if d.Of(t.QName(), c.Name) != "" {
			out = append(out, c.Name)
		}
	}
	return out
}
