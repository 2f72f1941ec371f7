// Package digest computes the logical digest of a database's data in SQL: a hash that does not
// depend on ids. Every reference (a foreign key to a surrogate id, or a generic foreign key) is
// replaced by the identity of the row it points at: its natural key, recursively, or for a keyless
// row a hash of its content. Each row hashes to two 64-bit lanes that are summed exactly per
// table, so the digest is independent of row order and counts duplicates (a multiset digest).
// Equal digests mean the same data; any changed row, reference target or duplicate count differs.
// The values (pack.TableDigest, pack.Digest) belong to the package format, which records them.
package digest

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/edmsdr/edmsdr/engine/contenttype"
	"github.com/edmsdr/edmsdr/engine/finding"
	"github.com/edmsdr/edmsdr/engine/keys"
	"github.com/edmsdr/edmsdr/engine/pack"
	"github.com/edmsdr/edmsdr/engine/pgquote"
	"github.com/edmsdr/edmsdr/engine/schema"
)

// Querier is what a Session needs of a connection or transaction. The session creates temporary
// tables, so it must run in a read-write transaction (importing a read-only snapshot is fine).
type Querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// SessionSettings are the settings every digest (and every COPY) runs under, so that values print
// the same on every server.
var SessionSettings = map[string]string{
	"TimeZone":           "UTC",
	"DateStyle":          "ISO, YMD",
	"IntervalStyle":      "postgres",
	"extra_float_digits": "1",
	"bytea_output":       "hex",
	"client_encoding":    "UTF8",
}

// Session computes digests over one database state. It builds temporary identity tables as
// needed (one per referenced table) and reuses them for every table it digests.
type Session struct {
	q       Querier
	s       *schema.Schema
	plan    *keys.Plan
	domains schema.Domains
	graph   *schema.Graph
	columns map[string][]string
	prefix  string
	source  func(string) string
	scan    bool // Options.ScanJoins
	// sliceAbove and sliceBytes: see Options.SliceAbove and largeSlice.
	sliceAbove int64
	sliceBytes int

	idents   map[string]string // qualified table -> temp table (id bigint, h uuid)
	building map[string]bool
	gident   string        // temp table (ct bigint, obj bigint, h uuid) past maxGenericJoins, or ""
	gtypes   []genericType // the content types generic foreign keys use, with their identities
	gdone    map[int64]bool
	used     map[string][]contenttype.Type // usedTypes, by table and column (ScanJoins only)
	temps    []string
	seq      int
	hold     *holdState // HoldGenericIdentities, or nil
}

// Options tune a Session.
type Options struct {
	// Columns restricts each table's digest to these columns (a package's columns); default: every
	// data column of the table.
	Columns map[string][]string
	// Prefix names the session's temporary tables; default "_edmsdr_dg".
	Prefix string
	// Source, if set, names the FROM item holding each table's rows (a staging table with the
	// package's own ids, say); identities are built from it. Default: the table itself.
	Source func(qname string) string
	// SliceAbove, when positive, makes TableCopy (and TableLarge) read every bytea value longer
	// than this many bytes in slices (see TableCopy) instead of first trying the plain COPY. Tests
	// set it low so that the slice path runs on small values; 0 slices only where the plain path
	// fails for size, values above largeValue.
	SliceAbove int64
	// ScanJoins builds identity tables for joins that read them whole (hash joins over whole
	// tables, as a backup's COPYs do), never probe them by id: no primary keys (the ids come
	// from each table's own primary key, unique already; at 20k documents the index was a third
	// of the cost of filling the document versions' identities) and statistics of the join
	// columns only. The same identities, so the same digests. Only for tables read as they are
	// (no Source: staged rows may repeat ids).
	ScanJoins bool
}

// NewSession prepares digests of the tables of s under plan.
func NewSession(q Querier, s *schema.Schema, plan *keys.Plan, opts Options) (*Session, error) {
	domains, fl := schema.ComputeDomains(s)
	if len(fl) > 0 {
		return nil, &finding.Refused{Op: "digest", Findings: fl}
	}
	if opts.Prefix == "" {
		opts.Prefix = "_edmsdr_dg"
	}
	if opts.ScanJoins && opts.Source != nil {
		return nil, fmt.Errorf("digest: identity tables without keys need each table's own rows (no Source)")
	}
	return &Session{
		q: q, s: s, plan: plan, domains: domains, graph: schema.BuildGraph(s), columns: opts.Columns,
		prefix: opts.Prefix, source: opts.Source, scan: opts.ScanJoins, idents: map[string]string{}, building: map[string]bool{}, gdone: map[int64]bool{},
		used:       map[string][]contenttype.Type{},
		sliceAbove: opts.SliceAbove, sliceBytes: largeSlice,
	}, nil
}

// Close drops the temporary tables.
func (d *Session) Close(ctx context.Context) {
	for _, t := range d.temps {
		_, _ = d.q.Exec(ctx, "DROP TABLE IF EXISTS "+t)
	}
	d.temps = nil
}

// from is the FROM item holding the rows of qname.
func (d *Session) from(qname string) string {
	if d.source != nil {
		if f := d.source(qname); f != "" {
			return f
		}
	}
	return pgquote.Table(qname)
}

func (d *Session) table(qname string) (*schema.Table, error) {
	t := d.s.Table(qname)
	if t == nil {
		return nil, fmt.Errorf("digest: unknown table %s", schema.DisplayName(qname))
	}
	return t, nil
}

func (d *Session) contentColumns(t *schema.Table) []string {
	cols := d.columns[t.QName()]
	if cols == nil {
		cols = t.DataColumns()
	}
	sid := t.SurrogateID()
	out := make([]string, 0, len(cols))
	for _, c := range cols {
		if c != sid && t.Column(c) != nil {
			out = append(out, c)
		}
	}
	sort.Strings(out)
	return out
}

func (d *Session) gfkFor(t *schema.Table, col string) *keys.GenericFK {
	if d.plan == nil {
		return nil
	}
	for _, g := range d.plan.GenericFKsOf(t.QName()) {
		if g.ObjectIDColumn == col {
			return &g
		}
	}
	return nil
}

// exprs renders, for row alias a of table t, one SQL expression per column with every reference
// replaced by the identity of its target, plus the joins those need. skip says which columns to
// leave out. Identity tables are built on demand.
func (d *Session) exprs(ctx context.Context, t *schema.Table, a string, cols []string, skip func(col string) bool) ([]string, []string, error) {
	var ex, joins []string
	for i, c := range cols {
		if skip != nil && skip(c) {
			continue
		}
		qc := a + "." + pgquote.Ident(c)
		if g := d.gfkFor(t, c); g != nil {
			intObj := false
			if col := t.Column(c); col != nil && schema.IsInteger(col.Type) {
				intObj = true
			}
			// lazy: the client resolves this generic foreign key (held.go), so the identity
			// tables of the content types it finds harvested are not built.
			lazy := false
			if hs := d.hold; hs != nil && hs.active && intObj {
				ctCol := t.Column(g.ContentTypeColumn)
				lazy = ctCol != nil && schema.IsInteger(ctCol.Type)
			}
			gr, err := d.genericIdents(ctx, t, g, lazy)
			if err != nil {
				return nil, nil, err
			}
			if gr == nil {
				ex = append(ex, "'?' || "+qc+"::text")
				continue
			}
			lazy = lazy && gr.table == ""
			match := func(alias, idCol string) string {
				if intObj {
					return fmt.Sprintf("%s.%s = %s", alias, idCol, qc)
				}
				return fmt.Sprintf("%s.%s::text = %s::text", alias, idCol, qc)
			}
			ctc := a + "." + pgquote.Ident(g.ContentTypeColumn)
			types := gr.types
			var held *heldColumn
			if lazy {
				held = &heldColumn{ctCol: g.ContentTypeColumn, objCol: c, sets: map[int64]*IdentitySet{}}
				// Content types whose tables' identities were harvested from their own streams
				// (harvest.go) are resolved from those; the rest read from the server's
				// identity tables while they fit, joined past that.
				var rest []genericType
				for _, gt := range types {
					if set := d.hold.harvested[gt.target]; set != nil {
						held.sets[gt.ct] = set
						continue
					}
					rest = append(rest, gt)
				}
				if rest, err = d.typeIdents(ctx, rest); err != nil {
					return nil, nil, err
				}
				if types, err = d.holdTypes(ctx, held, rest); err != nil {
					return nil, nil, err
				}
				held.server = len(types) > 0
				d.hold.cols[i] = held
			} else if types, err = d.typeIdents(ctx, types); err != nil {
				return nil, nil, err
			}
			if gr.table != "" {
				alias := fmt.Sprintf("g%d", i)
				joins = append(joins, fmt.Sprintf("LEFT JOIN %s %s ON %s.ct = %s AND %s", gr.table, alias, alias, ctc, match(alias, "obj")))
				ex = append(ex, fmt.Sprintf("coalesce(%s.h::text, '?' || %s::text)", alias, qc))
				continue
			}
			// One join per content type, each to its table's identities: the planner hashes each
			// identity table and probes it with the rows (a union of them, joined on both
			// columns, made it hash the rows instead, spilling wide rows to disk).
			h := "NULL::uuid"
			if len(types) > 0 {
				whens := make([]string, 0, len(types))
				for k, gt := range types {
					alias := fmt.Sprintf("g%d_%d", i, k)
					joins = append(joins, fmt.Sprintf("LEFT JOIN %s %s ON %s = %d AND %s", gt.ident, alias, ctc, gt.ct, match(alias, "id")))
					whens = append(whens, fmt.Sprintf("WHEN %d THEN %s.h", gt.ct, alias))
				}
				h = fmt.Sprintf("CASE %s %s END", ctc, strings.Join(whens, " "))
			}
			if held != nil {
				// The server renders only the content types left to it; the client the rest.
				ex = append(ex, fmt.Sprintf("(%s)::text", h))
				continue
			}
			ex = append(ex, fmt.Sprintf("coalesce((%s)::text, '?' || %s::text)", h, qc))
			continue
		}
		dom := d.domains.Of(t.QName(), c)
		if dom == "" {
			ex = append(ex, qc)
			continue
		}
		if hs := d.hold; hs != nil && hs.active && dom != t.QName() {
			if col := t.Column(c); col != nil && schema.IsInteger(col.Type) {
				if set := hs.harvested[dom]; set != nil {
					// Harvested from the target's own stream (harvest.go): no identity table.
					hs.cols[i] = &heldColumn{objCol: c, sets: map[int64]*IdentitySet{0: set}}
					ex = append(ex, "NULL")
					continue
				}
			}
		}
		it, err := d.ident(ctx, dom)
		if err != nil {
			return nil, nil, err
		}
		if hs := d.hold; hs != nil && hs.active {
			if col := t.Column(c); col != nil && schema.IsInteger(col.Type) {
				set, err := d.holdIdentities(ctx, it, dom)
				if err != nil {
					return nil, nil, err
				}
				if set != nil {
					hs.cols[i] = &heldColumn{objCol: c, sets: map[int64]*IdentitySet{0: set}}
					ex = append(ex, "NULL")
					continue
				}
			}
		}
		alias := fmt.Sprintf("r%d", i)
		joins = append(joins, fmt.Sprintf("LEFT JOIN %s %s ON %s.id = %s", it, alias, alias, qc))
		ex = append(ex, fmt.Sprintf("coalesce(%s.h::text, '?' || %s::text)", alias, qc))
	}
	return ex, joins, nil
}

func rowHash(exprs []string) string {
	if len(exprs) == 0 {
		return "md5('')"
	}
	return "md5(ROW(" + strings.Join(exprs, ", ") + ")::text)"
}

// ident returns the identity table of qname, building it (and those it depends on) first.
func (d *Session) ident(ctx context.Context, qname string) (string, error) {
	if name, ok := d.idents[qname]; ok {
		return name, nil
	}
	t, err := d.table(qname)
	if err != nil {
		return "", err
	}
	sid := t.SurrogateID()
	if sid == "" {
		return "", fmt.Errorf("digest: table %s is referenced by id but has no integer id", t.Display())
	}
	if d.building[qname] {
		return "", fmt.Errorf("digest: identities of %s depend on themselves", t.Display())
	}
	d.building[qname] = true
	defer delete(d.building, qname)
	if d.hold != nil && d.hold.active {
		// Identities are built in SQL: the client resolves only the streamed table's own columns.
		d.hold.active = false
		defer func() { d.hold.active = true }()
	}

	d.seq++
	name := fmt.Sprintf("%s_i%d", d.prefix, d.seq)
	src := d.from(qname)
	qsid := pgquote.Ident(sid)
	nk := d.plan.NaturalKey(qname)
	var sql string
	if len(nk) > 0 {
		selfCol := ""
		for _, c := range nk {
			if d.domains.Of(qname, c) == qname {
				selfCol = c
			}
		}
		skipSelf := func(c string) bool { return c == selfCol }
		ex, joins, err := d.exprs(ctx, t, "t", nk, skipSelf)
		if err != nil {
			return "", err
		}
		if selfCol == "" {
			sql = fmt.Sprintf("SELECT t.%s, %s::uuid FROM %s t %s", qsid, rowHash(ex), src, strings.Join(joins, " "))
		} else {
			// A tree: identities are built from the roots down, each through its parent's.
			rootEx, recEx := withSelf(nk, selfCol, ex, "NULL::text"), withSelf(nk, selfCol, ex, "r.h::text")
			sql = fmt.Sprintf(`WITH RECURSIVE r(id, h) AS (
  SELECT t.%[1]s, %[2]s::uuid FROM %[3]s t %[4]s WHERE t.%[5]s IS NULL
  UNION ALL
  SELECT t.%[1]s, %[6]s::uuid FROM %[3]s t JOIN r ON t.%[5]s = r.id %[4]s
) SELECT id, h FROM r`, qsid, rowHash(rootEx), src, strings.Join(joins, " "), pgquote.Ident(selfCol), rowHash(recEx))
		}
	} else {
		// Keyless: identity is the content, leaving out references inside the table's own cycle
		// (they would make identities depend on themselves) and generic object references.
		cols := d.contentColumns(t)
		skip := func(c string) bool {
			if d.gfkFor(t, c) != nil {
				return true
			}
			dom := d.domains.Of(qname, c)
			return dom != "" && d.graph.SameComponent(dom, qname)
		}
		ex, joins, err := d.exprs(ctx, t, "t", cols, skip)
		if err != nil {
			return "", err
		}
		sql = fmt.Sprintf("SELECT t.%s, %s::uuid FROM %s t %s", qsid, rowHash(ex), src, strings.Join(joins, " "))
	}
	key, analyze := "PRIMARY KEY", name
	if d.scan {
		key, analyze = "NOT NULL", name+" (id)"
	}
	if _, err := d.q.Exec(ctx, fmt.Sprintf("CREATE TEMP TABLE %s (id bigint %s, h uuid NOT NULL)", name, key)); err != nil {
		return "", fmt.Errorf("digest %s: create identity table: %w", t.Display(), err)
	}
	d.temps = append(d.temps, name)
	if _, err := d.q.Exec(ctx, fmt.Sprintf("INSERT INTO %s (id, h) %s", name, sql)); err != nil {
		return "", fmt.Errorf("digest %s: identities: %w", t.Display(), err)
	}
	if _, err := d.q.Exec(ctx, "ANALYZE "+analyze); err != nil {
		return "", fmt.Errorf("digest %s: analyze identities: %w", t.Display(), err)
	}
	d.idents[qname] = name
	return name, nil
}

// withSelf puts selfExpr at the position of the self-referencing column in the key's expressions
// (exprs were rendered without it).
func withSelf(nk []string, selfCol string, exprs []string, selfExpr string) []string {
	out := make([]string, 0, len(nk))
	j := 0
	for _, c := range nk {
		if c == selfCol {
			out = append(out, selfExpr)
			continue
		}
		out = append(out, exprs[j])
		j++
	}
	return out
}

// maxGenericJoins is the most content types a generic foreign key is joined through one by one
// (genericIdents); beyond, their identities are copied into one table. A variable for tests.
var maxGenericJoins = 8

// genericType is a content type's id, the table it names and that table's identity table ("":
// not built yet, see typeIdents).
type genericType struct {
	ct     int64
	target string
	ident  string
}

// genericRel is how generic foreign keys find their identities: one identity table per content
// type (types), or, past maxGenericJoins content types, one table (ct bigint, obj bigint, h uuid)
// holding them all.
type genericRel struct {
	types []genericType
	table string
}

// genericIdents returns the identities for generic foreign keys (content type id, object id) ->
// identity, covering the content types used by table t (and by the tables asked for before); nil
// when there is no content type table. With lazy, the identity tables of the content types'
// tables are left to the caller (typeIdents) unless they must all go into one table.
func (d *Session) genericIdents(ctx context.Context, t *schema.Table, g *keys.GenericFK, lazy bool) (*genericRel, error) {
	ct := d.plan.ContentTypes
	if ct == nil || d.s.Table(ct.Table) == nil || d.s.Table(ct.Table).SurrogateID() == "" {
		return nil, nil
	}
	cts, err := d.usedTypes(ctx, t, g)
	if err != nil {
		return nil, err
	}
	var added []genericType
	for _, r := range cts {
		if d.gdone[r.ID] {
			continue
		}
		d.gdone[r.ID] = true
		target := ct.TableForContentType(d.s, r.AppLabel, r.Model)
		tt := d.s.Table(target)
		if tt == nil || tt.SurrogateID() == "" {
			continue
		}
		added = append(added, genericType{ct: r.ID, target: target})
	}
	d.gtypes = append(d.gtypes, added...)
	if d.gident == "" && len(d.gtypes) <= maxGenericJoins {
		if !lazy {
			if _, err := d.typeIdents(ctx, d.gtypes); err != nil {
				return nil, err
			}
		}
		return &genericRel{types: slices.Clone(d.gtypes)}, nil
	}
	if _, err := d.typeIdents(ctx, d.gtypes); err != nil {
		return nil, err
	}
	added = d.gtypes[len(d.gtypes)-len(added):] // with their identity tables now
	if d.gident == "" {
		name := d.prefix + "_g"
		key := ", PRIMARY KEY (ct, obj)"
		if d.scan {
			key = ""
		}
		if _, err := d.q.Exec(ctx, fmt.Sprintf("CREATE TEMP TABLE %s (ct bigint NOT NULL, obj bigint NOT NULL, h uuid NOT NULL%s)", name, key)); err != nil {
			return nil, fmt.Errorf("digest: create generic identity table: %w", err)
		}
		d.temps = append(d.temps, name)
		d.gident = name
		added = d.gtypes
	}
	for _, gt := range added {
		if _, err := d.q.Exec(ctx, fmt.Sprintf("INSERT INTO %s (ct, obj, h) SELECT $1, id, h FROM %s", d.gident, gt.ident), gt.ct); err != nil {
			return nil, fmt.Errorf("digest: generic identities of content type %d: %w", gt.ct, err)
		}
	}
	analyze := d.gident
	if d.scan {
		analyze += " (ct, obj)"
	}
	if _, err := d.q.Exec(ctx, "ANALYZE "+analyze); err != nil {
		return nil, fmt.Errorf("digest: analyze generic identities: %w", err)
	}
	return &genericRel{table: d.gident}, nil
}

// typeIdents builds the identity tables of the content types' tables that lack one, and returns
// types with them (types is updated in place, and so is the session's list).
func (d *Session) typeIdents(ctx context.Context, types []genericType) ([]genericType, error) {
	for k := range types {
		if types[k].ident != "" {
			continue
		}
		it, err := d.ident(ctx, types[k].target)
		if err != nil {
			return nil, err
		}
		types[k].ident = it
		for j := range d.gtypes {
			if d.gtypes[j].ct == types[k].ct {
				d.gtypes[j].ident = it
			}
		}
	}
	return types, nil
}

// usedTypes are the content types the rows of t's generic foreign key g use; a backup's
// session (ScanJoins: one snapshot, each table's own rows) asks the server once per column.
func (d *Session) usedTypes(ctx context.Context, t *schema.Table, g *keys.GenericFK) ([]contenttype.Type, error) {
	key := t.QName() + "\x00" + g.ContentTypeColumn
	if cts, ok := d.used[key]; ok && d.scan {
		return cts, nil
	}
	ct := d.plan.ContentTypes
	cts, err := contenttype.Used(ctx, d.q,
		contenttype.Table{From: d.from(ct.Table), ID: d.s.Table(ct.Table).SurrogateID(), Plan: ct},
		contenttype.Refs{From: d.from(t.QName()), Column: g.ContentTypeColumn, Table: d.scan})
	if err != nil {
		return nil, fmt.Errorf("digest %s: %w", t.Display(), err)
	}
	if d.scan {
		d.used[key] = cts
	}
	return cts, nil
}

// Table digests table qname. relation is a FROM item producing the table's columns (a subquery
// restricting rows, or a projection of staged rows in target ids); "" means the table itself.
func (d *Session) Table(ctx context.Context, qname, relation string) (pack.TableDigest, error) {
	t, err := d.table(qname)
	if err != nil {
		return pack.TableDigest{}, err
	}
	if relation == "" {
		relation = d.from(qname)
	}
	ex, joins, err := d.exprs(ctx, t, "t", d.contentColumns(t), nil)
	if err != nil {
		return pack.TableDigest{}, err
	}
	sql := fmt.Sprintf(`SELECT count(*),
  coalesce(sum(('x' || substr(h, 1, 16))::bit(64)::bigint), 0)::text,
  coalesce(sum(('x' || substr(h, 17, 16))::bit(64)::bigint), 0)::text
FROM (SELECT %s AS h FROM %s t %s) x`, rowHash(ex), relation, strings.Join(joins, " "))
	var out pack.TableDigest
	if err := d.q.QueryRow(ctx, sql).Scan(&out.Rows, &out.Sum1, &out.Sum2); err != nil {
		return pack.TableDigest{}, fmt.Errorf("digest %s: %w", t.Display(), err)
	}
	return out, nil
}

// RowHashes returns a query over relation (alias t; "" means the table itself) selecting, for
// every row of table qname, its row hash (column h, text: the same value Table sums, every
// reference replaced by the identity of its target) followed by the expressions in extra, which
// may name t's columns (t.ctid, say). Two sessions over two states of the same tables (the
// package's staged rows and the target's, for instance) give equal hashes to equal rows.
func (d *Session) RowHashes(ctx context.Context, qname, relation string, extra ...string) (string, error) {
	t, err := d.table(qname)
	if err != nil {
		return "", err
	}
	if relation == "" {
		relation = d.from(qname)
	}
	ex, joins, err := d.exprs(ctx, t, "t", d.contentColumns(t), nil)
	if err != nil {
		return "", err
	}
	sel := rowHash(ex) + " AS h"
	if len(extra) > 0 {
		sel += ", " + strings.Join(extra, ", ")
	}
	return fmt.Sprintf("SELECT %s FROM %s t %s", sel, relation, strings.Join(joins, " ")), nil
}

// All digests every table in qnames (every table of the schema when nil).
func (d *Session) All(ctx context.Context, qnames []string) (pack.Digest, error) {
	if qnames == nil {
		for _, t := range d.s.Tables {
			qnames = append(qnames, t.QName())
		}
	}
	tables := map[string]pack.TableDigest{}
	for _, q := range qnames {
		td, err := d.Table(ctx, q, "")
		if err != nil {
			return pack.Digest{}, err
		}
		tables[q] = td
	}
	return pack.NewDigest(tables), nil
}

// ApplySettings sets SessionSettings on a connection (or in a transaction, with local=true).
func ApplySettings(ctx context.Context, q Querier, local bool) error {
	scope := "SESSION"
	if local {
		scope = "LOCAL"
	}
	names := make([]string, 0, len(SessionSettings))
	for k := range SessionSettings {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if _, err := q.Exec(ctx, fmt.Sprintf("SET %s %s = '%s'", scope, k, SessionSettings[k])); err != nil {
			return fmt.Errorf("set %s: %w", k, err)
		}
	}
	return nil
}
