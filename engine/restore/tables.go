package restore

import (
	"fmt"
	"sort"
	"strings"

	"github.com/edmsdr/edmsdr/engine/finding"
	"github.com/edmsdr/edmsdr/engine/keys"
	"github.com/edmsdr/edmsdr/engine/pack"
	"github.com/edmsdr/edmsdr/engine/pgquote"
	"github.com/edmsdr/edmsdr/engine/schema"
)

// tableState is one package table on its way into the target.
type tableState struct {
	layout  pack.TableLayout
	t       *schema.Table // the target's table
	qname   string
	display string
	stg     string   // staging table (source values, target types)
	mapT    string   // id map (src, tgt, matched, lvl); "" without a surrogate id
	keep    string   // matched row handles of a table without surrogate id (r, toid, tid): a target row is addressed by (tableoid, ctid), as ctid alone repeats across partitions
	div     string   // diverged rows (src or r)
	exists  string   // target rows (toid, tid) equal to staged keyless rows; "" when not looked for
	cols    []string // package columns, staging order
	colSet  map[string]bool
	sid     string // surrogate id column ("" if none)
	nk      []string
	gfks    []keys.GenericFK
	// deferredCols are references inside a cycle, inserted NULL and set afterwards.
	deferredCols map[string]bool
	// deferConstraints are deferrable constraints inside a cycle, deferred for the insert.
	deferConstraints []string
	// identity marks an id map that maps every staged id to itself (see identityMap): mapT is then
	// a view over the staging table, and the insert and its projections use the staged ids as
	// they are, without joining it.
	identity bool
	// direct marks a table whose entries are COPYed straight into it (direct.go): stg is then a
	// view over the table, and insertAll skips it.
	direct bool
	// treeKept marks the map of a tree restored into a table empty before the restore
	// (buildTreeKept): every row it maps keeps its id. keptAll adds that it maps every staged row
	// (checkReferences found none unmapped): the map is then the identity, though built, and the
	// projections use the staged ids as they are, as for identity.
	treeKept, keptAll bool
	// heldCols, for a table chosen to load straight in, are its references to tables that had
	// rows, each with that table: rewritten in the stream through its held map (held.go), once
	// rewriting is set (the maps held, the staging view reading through them).
	heldCols  map[string]*tableState
	rewriting bool
	// held is this table's id map in the client (held.go); holdWhy why it could not be held.
	held    *heldMap
	holdWhy string
	// early is the plan the map was built under while staging (mapBuilt: buildMaps skips it);
	// earlyWhy why it could not be.
	early    *earlyPlan
	earlyWhy string
	mapBuilt bool

	targetHasRows                                       bool // the target had rows before the restore
	refs, refsMatched                                   int64
	stagingRefs                                         bool
	staged, matched, inserted, diverged, updated, exist int64
	replaced                                            int64 // rows replace mode removed
}

func (t *tableState) toInsert() int64 { return t.staged - t.matched - t.exist }

func (t *tableState) rowHandle() string {
	if t.sid != "" {
		return pgquote.Ident(t.sid)
	}
	return "_edmsdr_r"
}

// prepare checks the package's layout against the target's catalog and sets up table states.
func (r *run) prepareLayout() {
	r.byName = map[string]*tableState{}
	hdr := r.reader.Header()
	present := 0
	for _, lay := range hdr.Tables {
		if r.target.Table(lay.Table) != nil {
			present++
		}
	}
	if present == 0 && len(hdr.Tables) > 0 {
		r.findings.Add(finding.Finding{Kind: finding.SchemaMismatch, Message: fmt.Sprintf(
			"the target database has none of the package's %d tables: create the application's schema there first (migrations, or a re-initialised install)", len(hdr.Tables))})
		return
	}
	for _, lay := range hdr.Tables {
		t := r.target.Table(lay.Table)
		if t == nil {
			r.findings.Add(finding.Finding{Kind: finding.SchemaMismatch, Table: schema.DisplayName(lay.Table),
				Message: "table is in the package but not in the target"})
			continue
		}
		st := &tableState{
			layout: lay, t: t, qname: t.QName(), display: t.Display(),
			stg:  fmt.Sprintf("_edmsdr_s%d", lay.Index),
			cols: lay.Columns, colSet: map[string]bool{}, sid: t.SurrogateID(),
			deferredCols: map[string]bool{},
		}
		for _, c := range lay.Columns {
			st.colSet[c] = true
			col := t.Column(c)
			switch {
			case col == nil:
				r.findings.Add(finding.Finding{Kind: finding.SchemaMismatch, Table: t.Display(), Column: c,
					Message: "column is in the package but not in the target"})
			case col.Generated:
				r.findings.Add(finding.Finding{Kind: finding.SchemaMismatch, Table: t.Display(), Column: c,
					Message: "column is generated in the target and cannot be restored"})
			}
		}
		for _, col := range t.Columns {
			if st.colSet[col.Name] || col.Generated {
				continue
			}
			if col.NotNull && !col.HasDefault {
				r.findings.Add(finding.Finding{Kind: finding.SchemaMismatch, Table: t.Display(), Column: col.Name,
					Message: "target column is NOT NULL without a default and the package has no values for it"})
			} else {
				r.findings.Add(finding.Finding{Kind: finding.SchemaMismatch, Severity: finding.Warning, Table: t.Display(), Column: col.Name,
					Message: "target column is not in the package: restored rows get its default"})
			}
		}
		if st.sid != "" {
			if !st.colSet[st.sid] {
				r.findings.Add(finding.Finding{Kind: finding.SchemaMismatch, Table: t.Display(), Column: st.sid,
					Message: "the package lacks the table's id column"})
			}
			st.mapT = fmt.Sprintf("_edmsdr_m%d", lay.Index)
		} else {
			st.keep = fmt.Sprintf("_edmsdr_k%d", lay.Index)
		}
		st.div = fmt.Sprintf("_edmsdr_d%d", lay.Index)
		r.tables = append(r.tables, st)
		r.byName[st.qname] = st
	}
	// Process tables in the target's dependency order.
	pos := map[string]int{}
	for i, t := range r.graph.Order {
		pos[t.QName()] = i
	}
	sort.SliceStable(r.tables, func(i, j int) bool { return pos[r.tables[i].qname] < pos[r.tables[j].qname] })
	r.checkSchemas()
}

// checkSchemas refuses every package table outside Options.Schemas (when set) and records the
// schemas the restore writes into in the result. A package names its tables itself: without this
// a package could write into any schema the role may write (issue 9, item 13).
func (r *run) checkSchemas() {
	var allowed map[string]bool
	if len(r.opts.Schemas) > 0 {
		allowed = map[string]bool{}
		for _, s := range r.opts.Schemas {
			allowed[s] = true
		}
	}
	seen := map[string]bool{}
	for _, st := range r.tables {
		s := st.t.Schema
		if allowed != nil && !allowed[s] {
			r.findings.Add(finding.Finding{Kind: finding.Privilege, Table: st.display, Message: fmt.Sprintf(
				"the package writes into schema %q, which is not among the schemas this restore may write (Options.Schemas %s): add it there if the package may write into it",
				s, strings.Join(r.opts.Schemas, ","))})
			continue
		}
		seen[s] = true
	}
	r.res.Schemas = r.res.Schemas[:0]
	for s := range seen {
		r.res.Schemas = append(r.res.Schemas, s)
	}
	sort.Strings(r.res.Schemas)
}

// checkManifest compares the package's schema snapshot and key plan with the target, and settles
// the plan used for matching.
func (r *run) checkManifest() error {
	m := r.manifest
	// References a keys file declared without a constraint: the package's (its digest follows
	// them) are the target's too, and a keys file given now may not change them.
	var kplan *keys.Plan
	if r.opts.Keys != nil {
		p, err := keys.Build(r.target, r.opts.Keys)
		if err != nil {
			r.findings = append(r.findings, keys.Findings(err)...)
			return nil
		}
		kplan = p
	}
	if m.Plan != nil && len(m.Plan.References)+len(planReferences(kplan)) > 0 {
		for _, f := range keys.Findings(m.Plan.ApplyReferences(r.target)) {
			f.Message = "package key plan does not fit the target: " + f.Message
			r.findings.Add(f)
		}
		if kplan != nil && !sameReferences(kplan.References, m.Plan.References) {
			r.findings.Add(finding.Finding{Kind: finding.KeyPlan, Message: "the keys file's references differ from the package's (its digest follows the package's): back up again with this keys file, or give the package's references"})
		}
		// A keys file's plan validated the same domains: what it reported is not reported twice.
		reported := func(d finding.Finding) bool {
			for _, f := range r.findings {
				if f.Table == d.Table && f.Column == d.Column && strings.HasSuffix(f.Message, d.Message) {
					return true
				}
			}
			return false
		}
		var dfs finding.List
		r.domains, dfs = schema.ComputeDomains(r.target)
		for _, d := range dfs {
			if !reported(d) {
				r.findings.Add(d)
			}
		}
		r.graph = schema.BuildGraph(r.target)
	}
	srcDomains, _ := schema.ComputeDomains(m.Schema)
	for _, st := range r.tables {
		for _, c := range st.cols {
			if st.t.Column(c) == nil {
				continue
			}
			sd, td := srcDomains.Of(st.qname, c), r.domains.Of(st.qname, c)
			if sd != td {
				describe := func(d string) string {
					if d == "" {
						return "plain values"
					}
					return "ids of " + schema.DisplayName(d)
				}
				r.findings.Add(finding.Finding{Kind: finding.SchemaMismatch, Table: st.display, Column: c,
					Message: fmt.Sprintf("the package's column holds %s, the target's holds %s", describe(sd), describe(td))})
				continue
			}
			if td != "" && td != st.qname && r.byName[td] == nil {
				r.findings.Add(finding.Finding{Kind: finding.SchemaMismatch, Table: st.display, Column: c,
					Message: fmt.Sprintf("references %s, which the package does not contain", schema.DisplayName(td))})
			}
			if sc, tc := m.Schema.Table(st.qname).Column(c), st.t.Column(c); sc != nil && tc != nil && sc.Type != tc.Type {
				r.findings.Add(finding.Finding{Kind: finding.SchemaMismatch, Severity: finding.Info, Table: st.display, Column: c,
					Message: fmt.Sprintf("type differs: package %s, target %s (values are converted by the server)", sc.Type, tc.Type)})
			}
		}
	}
	// The package's plan defines identities (its digest was computed with it); matching may use
	// a keys file given at restore time instead.
	if m.Plan == nil {
		r.findings.Errorf(finding.KeyPlan, "", "package has no key plan")
		return nil
	}
	for _, f := range m.Plan.Validate(r.target) {
		f.Message = "package key plan does not fit the target: " + f.Message
		r.findings.Add(f)
	}
	r.match = m.Plan
	if kplan != nil {
		r.match = kplan
	}
	for _, st := range r.tables {
		st.nk = r.match.NaturalKey(st.qname)
		for _, c := range st.nk {
			if !st.colSet[c] {
				r.findings.Add(finding.Finding{Kind: finding.KeyPlan, Table: st.display, Column: c,
					Message: "natural key column is not in the package"})
			}
		}
		st.gfks = m.Plan.GenericFKsOf(st.qname)
	}
	for _, n := range r.opts.KeepIDs {
		known := n == "*"
		for _, st := range r.tables {
			if n == st.qname || n == st.display {
				known = true
			}
		}
		if !known {
			r.findings.Add(finding.Finding{Kind: finding.SchemaMismatch, Table: schema.DisplayName(n),
				Message: "ids to keep: the package restores no table of this name"})
		}
	}
	r.planCycles()
	return nil
}

// planCycles decides, for every foreign key inside a strongly connected component, how the insert
// gets past it: self-references need nothing (one INSERT checks at its end), deferrable
// constraints are deferred, nullable columns go in NULL and are set afterwards; what remains must
// be orderable.
func (r *run) planCycles() {
	for _, st := range r.tables {
		for _, fk := range st.t.ForeignKeys {
			ref := fk.RefQName()
			if ref == st.qname || !r.graph.SameComponent(ref, st.qname) {
				continue
			}
			if fk.Undeclared {
				continue // no constraint binds at insert time
			}
			if fk.Deferrable {
				st.deferConstraints = append(st.deferConstraints, fk.Name)
				continue
			}
			nullable := true
			for _, c := range fk.Columns {
				if col := st.t.Column(c); col == nil || col.NotNull {
					nullable = false
				}
			}
			if nullable && st.sid != "" {
				for _, c := range fk.Columns {
					st.deferredCols[c] = true
				}
			}
		}
	}
	// Order each component by the constraints that still bind at insert time.
	pos := map[string]int{}
	var ordered []*tableState
	for _, comp := range r.graph.Components {
		var members []*tableState
		for _, t := range comp {
			if st := r.byName[t.QName()]; st != nil {
				members = append(members, st)
			}
		}
		sorted, ok := r.orderComponent(members)
		if !ok {
			names := make([]string, len(members))
			for i, m := range members {
				names[i] = m.display
			}
			r.findings.Add(finding.Finding{Kind: finding.SchemaMismatch, Table: names[0],
				Message: fmt.Sprintf("tables %s reference each other through NOT NULL, non-deferrable foreign keys: no insert order exists", strings.Join(names, ", "))})
			sorted = members
		}
		ordered = append(ordered, sorted...)
	}
	for i, st := range ordered {
		pos[st.qname] = i
	}
	r.tables = ordered
}

func (r *run) orderComponent(members []*tableState) ([]*tableState, bool) {
	if len(members) <= 1 {
		return members, true
	}
	in := map[string]*tableState{}
	for _, m := range members {
		in[m.qname] = m
	}
	deps := map[string]map[string]bool{}
	for _, m := range members {
		deps[m.qname] = map[string]bool{}
		for _, fk := range m.t.ForeignKeys {
			ref := fk.RefQName()
			if ref == m.qname || in[ref] == nil || fk.Deferrable || fk.Undeclared {
				continue
			}
			if m.deferredCols[fk.Columns[0]] {
				continue
			}
			deps[m.qname][ref] = true
		}
	}
	var out []*tableState
	done := map[string]bool{}
	for len(out) < len(members) {
		progress := false
		for _, m := range members {
			if done[m.qname] {
				continue
			}
			ready := true
			for d := range deps[m.qname] {
				if !done[d] {
					ready = false
				}
			}
			if ready {
				done[m.qname] = true
				out = append(out, m)
				progress = true
			}
		}
		if !progress {
			return nil, false
		}
	}
	return out, true
}

// mapOrder returns the tables with surrogate ids in an order where every table comes after the
// tables its natural key references (its id map needs theirs).
func (r *run) mapOrder() []*tableState {
	var out []*tableState
	done := map[string]bool{}
	var visit func(st *tableState, depth int)
	visit = func(st *tableState, depth int) {
		if done[st.qname] || depth > len(r.tables) {
			return
		}
		for _, c := range st.nk {
			if d := r.domains.Of(st.qname, c); d != "" && d != st.qname {
				if dep := r.byName[d]; dep != nil {
					visit(dep, depth+1)
				}
			}
		}
		if !done[st.qname] {
			done[st.qname] = true
			out = append(out, st)
		}
	}
	for _, st := range r.tables {
		visit(st, 0)
	}
	return out
}

// planReferences returns the plan's references; nil for a nil plan.
func planReferences(p *keys.Plan) []keys.Reference {
	if p == nil {
		return nil
	}
	return p.References
}

func sameReferences(a, b []keys.Reference) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
