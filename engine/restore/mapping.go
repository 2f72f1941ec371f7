package restore

import (
	"context"
	"fmt"
	"strings"

	"github.com/edmsdr/edmsdr/engine/contenttype"
	"github.com/edmsdr/edmsdr/engine/finding"
	"github.com/edmsdr/edmsdr/engine/pgquote"
)

// maxNullPatterns bounds the split of a natural-key match by which nullable columns are NULL
// (each pattern is one hash-joinable statement); beyond it, IS NOT DISTINCT FROM is used.
const maxNullableSplit = 3

// buildMaps builds every id map in natural-key dependency order, then the match sets of tables
// without surrogate ids and the generic foreign-key maps.
func (r *run) buildMaps(ctx context.Context) error {
	for _, st := range r.mapOrder() {
		if st.sid == "" || st.mapBuilt {
			continue // built while staging (held.go)
		}
		if err := r.buildMap(ctx, st); err != nil {
			return err
		}
	}
	for _, st := range r.tables {
		if st.sid == "" {
			if err := r.buildKeep(ctx, st); err != nil {
				return err
			}
		}
	}
	return r.buildGenericMaps(ctx)
}

// keyJoin renders the join of staged rows (alias s) to target rows (alias t) on the natural key,
// for one null pattern (the columns in isNull are NULL on both sides). References are compared
// through the maps; the self-reference of a tree through the map's earlier levels (lvl < $level).
// It returns the join clauses and the WHERE conditions on s.
func (r *run) keyJoin(st *tableState, isNull map[string]bool, nullSafe bool, targetAlias string) (joins []string, conds []string, on []string) {
	for i, c := range st.nk {
		qc := pgquote.Ident(c)
		if isNull[c] {
			conds = append(conds, fmt.Sprintf("s.%s IS NULL", qc))
			on = append(on, fmt.Sprintf("%s.%s IS NULL", targetAlias, qc))
			continue
		}
		val := "s." + qc
		if d := r.domains.Of(st.qname, c); d != "" {
			p := r.byName[d]
			alias := fmt.Sprintf("k%d", i)
			lvl := ""
			if d == st.qname {
				lvl = fmt.Sprintf(" AND %s.lvl < $1", alias)
			}
			if nullSafe {
				joins = append(joins, fmt.Sprintf("LEFT JOIN %s %s ON %s.src = s.%s%s", p.mapT, alias, alias, qc, lvl))
			} else {
				joins = append(joins, fmt.Sprintf("JOIN %s %s ON %s.src = s.%s%s", p.mapT, alias, alias, qc, lvl))
			}
			val = alias + ".tgt"
		}
		if nullSafe {
			on = append(on, fmt.Sprintf("%s.%s IS NOT DISTINCT FROM %s", targetAlias, qc, val))
		} else {
			conds = append(conds, fmt.Sprintf("s.%s IS NOT NULL", qc))
			on = append(on, fmt.Sprintf("%s.%s = %s", targetAlias, qc, val))
		}
	}
	return joins, conds, on
}

// nullPatterns lists the subsets of the key's nullable columns (each subset = the columns NULL).
func (r *run) nullPatterns(st *tableState) ([]map[string]bool, bool) {
	var nullable []string
	for _, c := range st.nk {
		if col := st.t.Column(c); col != nil && !col.NotNull {
			nullable = append(nullable, c)
		}
	}
	if len(nullable) > maxNullableSplit {
		return []map[string]bool{{}}, true
	}
	out := make([]map[string]bool, 0, 1<<len(nullable))
	for mask := 0; mask < 1<<len(nullable); mask++ {
		p := map[string]bool{}
		for i, c := range nullable {
			if mask&(1<<i) != 0 {
				p[c] = true
			}
		}
		out = append(out, p)
	}
	return out, false
}

func (r *run) selfColumn(st *tableState) string {
	for _, c := range st.nk {
		if r.domains.Of(st.qname, c) == st.qname {
			return c
		}
	}
	return ""
}

// nextIDBase is the highest id the target uses or its sequence has handed out.
func (r *run) nextIDBase(ctx context.Context, st *tableState) (int64, error) {
	seqPart := "0"
	if col := st.t.Column(st.sid); col != nil && col.Sequence != "" {
		sq, err := r.sequence(ctx, st, st.sid, col.Sequence)
		if err != nil {
			return 0, err
		}
		seqPart = fmt.Sprint(sq.next - 1)
	}
	var base int64
	sql := fmt.Sprintf("SELECT greatest((SELECT coalesce(max(%s), 0) FROM %s), %s)", pgquote.Ident(st.sid), pgquote.Table(st.qname), seqPart)
	if err := r.tx.QueryRow(ctx, sql).Scan(&base); err != nil {
		return 0, r.sqlError(st.display, err)
	}
	return base, nil
}

// identityMap reports whether every staged id of st maps to itself, so that the map need not be
// built: a merge into a table empty before the restore (nothing to match, every source id kept:
// none can collide), without reference rows (they are never given ids) and without a tree in
// its natural key (rows whose ancestors are missing or circular stay unmapped there). Ids are
// present and unique: precheckStaging refused the restore otherwise.
func (r *run) identityMap(st *tableState) bool {
	return r.keepsIDs(st) && r.selfColumn(st) == ""
}

// keepsIDs reports whether st's map maps every staged id it maps to itself: a merge into a table
// empty before the restore, without reference rows; a tree too (buildTreeKept), whose rows with
// missing or circular ancestors stay unmapped and refuse the restore (checkReferences, never
// left to the load) before anything is inserted.
func (r *run) keepsIDs(st *tableState) bool {
	return !r.replacing() && st.sid != "" && !st.targetHasRows && st.refs == 0 && !st.stagingRefs
}

// buildIdentityMap makes st's id map a view over its staging table, each id mapped to itself:
// nothing is written. The insert skips the map (projection, insertTable); the checks and the id
// map file read the view like a map table.
func (r *run) buildIdentityMap(ctx context.Context, st *tableState) error {
	sid := pgquote.Ident(st.sid)
	sql := fmt.Sprintf("CREATE TEMP VIEW %s AS SELECT s.%s::bigint AS src, s.%s::bigint AS tgt, false AS matched, 0 AS lvl, false AS ref FROM %s s WHERE NOT s._edmsdr_ref",
		st.mapT, sid, sid, st.stg)
	if _, err := r.exec(ctx, st.display, sql); err != nil {
		return err
	}
	st.identity = true
	return nil
}

// buildMap maps every staged id of st to a target id: matched by natural key, else fresh.
func (r *run) buildMap(ctx context.Context, st *tableState) error {
	if r.identityMap(st) {
		return r.buildIdentityMap(ctx, st)
	}
	sql := fmt.Sprintf("CREATE TEMP TABLE %s (src bigint PRIMARY KEY, tgt bigint NOT NULL, matched boolean NOT NULL, lvl int NOT NULL, ref boolean NOT NULL DEFAULT false) ON COMMIT DROP", st.mapT)
	if _, err := r.exec(ctx, st.display, sql); err != nil {
		return err
	}
	if r.replacing() {
		return r.buildKeptMap(ctx, st)
	}
	if r.selfColumn(st) != "" && !st.targetHasRows {
		return r.buildTreeKept(ctx, st)
	}
	base, err := r.nextIDBase(ctx, st)
	if err != nil {
		return err
	}
	sid := pgquote.Ident(st.sid)
	// Source ids are kept whenever they collide with nothing: always into an empty table, and
	// under Options.KeepIDs into one with rows. Fresh ids then start past every staged id too, so
	// that they never meet a kept one.
	keep := !st.targetHasRows || r.keepIDs(st)
	if keep {
		var maxSrc *int64
		if err := r.tx.QueryRow(ctx, fmt.Sprintf("SELECT max(%s)::bigint FROM %s WHERE NOT _edmsdr_ref", sid, st.stg)).Scan(&maxSrc); err != nil {
			return r.sqlError(st.display, err)
		}
		if maxSrc != nil && *maxSrc > base {
			base = *maxSrc
		}
	}
	self := r.selfColumn(st)
	frontier := fmt.Sprintf("NOT EXISTS (SELECT 1 FROM %s m WHERE m.src = s.%s)", st.mapT, sid)
	if self != "" {
		qs := pgquote.Ident(self)
		frontier += fmt.Sprintf(" AND (s.%s IS NULL OR EXISTS (SELECT 1 FROM %s p WHERE p.src = s.%s AND p.lvl < $1))", qs, st.mapT, qs)
	}
	// The rows a level reads: a tree's, only those of that depth (byDepth); else every staged row.
	rows := st.stg
	if self != "" && !st.direct {
		var err error
		if rows, err = r.byDepth(ctx, st); err != nil {
			return err
		}
	}
	patterns, nullSafe := r.nullPatterns(st)
	for level := 0; ; level++ {
		var added int64
		if len(st.nk) > 0 && st.targetHasRows {
			for _, pat := range patterns {
				joins, conds, on := r.keyJoin(st, pat, nullSafe, "t")
				where := append([]string{frontier}, conds...)
				sql := fmt.Sprintf("INSERT INTO %s (src, tgt, matched, lvl, ref) SELECT s.%s, t.%s, true, $1, s._edmsdr_ref FROM %s s %s JOIN %s t ON %s WHERE %s",
					st.mapT, sid, sid, rows, strings.Join(joins, " "), pgquote.Table(st.qname), strings.Join(on, " AND "), strings.Join(where, " AND "))
				tag, err := r.exec(ctx, st.display, sql, level)
				if err != nil {
					return err
				}
				added += tag.RowsAffected()
				st.matched += tag.RowsAffected()
			}
		}
		if keep {
			sql := fmt.Sprintf(`INSERT INTO %s (src, tgt, matched, lvl) SELECT s.%s, s.%s, false, $1 FROM %s s
WHERE NOT s._edmsdr_ref AND %s AND NOT EXISTS (SELECT 1 FROM %s t WHERE t.%s = s.%s) AND NOT EXISTS (SELECT 1 FROM %s k WHERE k.tgt = s.%s)`,
				st.mapT, sid, sid, rows, frontier, pgquote.Table(st.qname), sid, sid, st.mapT, sid)
			tag, err := r.exec(ctx, st.display, sql, level)
			if err != nil {
				return err
			}
			added += tag.RowsAffected()
		}
		// Reference rows are never given ids: unmatched, they stay out of the map and are reported.
		where := frontier
		if self == "" && added == 0 {
			where = "true" // nothing matched and no tree: every staged row is new
		}
		sql := fmt.Sprintf("INSERT INTO %s (src, tgt, matched, lvl) SELECT s.%s, $2::bigint + row_number() OVER (ORDER BY s.%s), false, $1 FROM %s s WHERE NOT s._edmsdr_ref AND %s",
			st.mapT, sid, sid, rows, where)
		tag, err := r.exec(ctx, st.display, sql, level, base)
		if err != nil {
			return err
		}
		base += tag.RowsAffected()
		added += tag.RowsAffected()
		if self == "" || added == 0 {
			break
		}
	}
	if _, err := r.exec(ctx, st.display, "ANALYZE "+st.mapT); err != nil {
		return err
	}
	if st.refs > 0 {
		if err := r.tx.QueryRow(ctx, fmt.Sprintf("SELECT count(*) FROM %s WHERE ref", st.mapT)).Scan(&st.refsMatched); err != nil {
			return r.sqlError(st.display, err)
		}
		st.matched -= st.refsMatched
	}
	return nil
}

// byDepth copies a tree's staged rows reachable from a root, each with its depth (0 for a root),
// into a table indexed by depth, and returns the row source of one level of buildMap's loop: the
// rows of depth $1. Only those can join the map at level $1: a row that is not a reference row
// joins it at the level after its parent's (matched, kept or given a fresh id), so at its depth;
// a reference row is matched at that level or never (its parent's map entry and the target's rows
// do not change from one level to the next). The map is the one that reading every staged row at
// every level makes, and the build reads each row once instead of once a level (at 20k folders,
// about 45 levels). Rows not reached (ancestors missing or circular) are read by no level, as
// before. The walk relies on unique ids, which precheckStaging checked in full before the maps (a
// table with rows is never loaded straight in, where that check may be left to the index build):
// it stops at depth st.staged all the same.
func (r *run) byDepth(ctx context.Context, st *tableState) (string, error) {
	name := fmt.Sprintf("_edmsdr_l%d", st.layout.Index)
	sid, self := pgquote.Ident(st.sid), pgquote.Ident(r.selfColumn(st))
	for _, sql := range []string{
		fmt.Sprintf("CREATE TEMP TABLE %s ON COMMIT DROP AS SELECT 0 AS _edmsdr_depth, s.* FROM %s s WITH NO DATA", name, st.stg),
		fmt.Sprintf(`INSERT INTO %s WITH RECURSIVE w AS (
  SELECT 0 AS _edmsdr_depth, s.* FROM %s s WHERE s.%s IS NULL
  UNION ALL
  SELECT w._edmsdr_depth + 1, s.* FROM w JOIN %s s ON s.%s = w.%s WHERE w._edmsdr_depth < %d
) SELECT * FROM w`, name, st.stg, self, st.stg, self, sid, st.staged+st.refs),
		fmt.Sprintf("CREATE INDEX ON %s (_edmsdr_depth)", name),
		"ANALYZE " + name,
	} {
		if _, err := r.exec(ctx, st.display, sql); err != nil {
			return "", err
		}
	}
	return fmt.Sprintf("(SELECT * FROM %s WHERE _edmsdr_depth = $1)", name), nil
}

// buildTreeKept maps a tree restored into a table empty before the restore: nothing to match,
// every source id kept (none can collide), so its map is every row reachable from a root through
// the tree's parent column, each mapped to itself. That is the map the level-by-level build makes
// there (its lvl aside: a row's depth, read only by that build's frontier and by the match against
// target rows, neither of which runs here), in one recursive statement instead of a few per
// level (at 20k folders, 34 levels deep and more: 6.4 s → see docs/performance.md). Rows whose
// ancestors are missing or circular are never reached and stay unmapped: checkReferences refuses
// them, as before. Reference rows are never given ids. UNION, not UNION ALL: with duplicated ids
// (refused by precheckStaging, or by the primary key's build when left to it) a walk could
// otherwise go round for ever; each id is reached once.
//
// No collision check against the table's rows: they are none, or, loaded straight in
// (direct.go), the staged rows themselves.
func (r *run) buildTreeKept(ctx context.Context, st *tableState) error {
	sid, self := pgquote.Ident(st.sid), pgquote.Ident(r.selfColumn(st))
	sql := fmt.Sprintf(`INSERT INTO %s (src, tgt, matched, lvl)
WITH RECURSIVE reached (id) AS (
  SELECT s.%s::bigint FROM %s s WHERE NOT s._edmsdr_ref AND s.%s IS NOT NULL AND s.%s IS NULL
  UNION
  SELECT s.%s::bigint FROM reached p JOIN %s s ON s.%s = p.id WHERE NOT s._edmsdr_ref AND s.%s IS NOT NULL
) SELECT id, id, false, 0 FROM reached`, st.mapT, sid, st.stg, sid, self, sid, st.stg, self, sid)
	if _, err := r.exec(ctx, st.display, sql); err != nil {
		return err
	}
	st.treeKept = true
	if _, err := r.exec(ctx, st.display, "ANALYZE "+st.mapT); err != nil {
		return err
	}
	return nil
}

// keepIDs reports whether Options.KeepIDs names st (or is "*").
func (r *run) keepIDs(st *tableState) bool {
	for _, n := range r.opts.KeepIDs {
		if n == "*" || n == st.qname || n == st.display {
			return true
		}
	}
	return false
}

// buildKeep records, for a table without surrogate id, which staged rows already exist in the
// target (by natural key, references compared through the maps) and where.
func (r *run) buildKeep(ctx context.Context, st *tableState) error {
	sql := fmt.Sprintf("CREATE TEMP TABLE %s (r bigint PRIMARY KEY, toid oid NOT NULL, tid tid NOT NULL, ref boolean NOT NULL DEFAULT false) ON COMMIT DROP", st.keep)
	if _, err := r.exec(ctx, st.display, sql); err != nil {
		return err
	}
	if len(st.nk) == 0 || !st.targetHasRows {
		return nil
	}
	patterns, nullSafe := r.nullPatterns(st)
	for _, pat := range patterns {
		joins, conds, on := r.keyJoin(st, pat, nullSafe, "t")
		where := "true"
		if len(conds) > 0 {
			where = strings.Join(conds, " AND ")
		}
		sql := fmt.Sprintf("INSERT INTO %s (r, toid, tid, ref) SELECT s._edmsdr_r, t.tableoid, t.ctid, s._edmsdr_ref FROM %s s %s JOIN %s t ON %s WHERE %s",
			st.keep, st.stg, strings.Join(joins, " "), pgquote.Table(st.qname), strings.Join(on, " AND "), where)
		tag, err := r.exec(ctx, st.display, sql)
		if err != nil {
			return err
		}
		st.matched += tag.RowsAffected()
	}
	if st.refs > 0 {
		if err := r.tx.QueryRow(ctx, fmt.Sprintf("SELECT count(*) FROM %s WHERE ref", st.keep)).Scan(&st.refsMatched); err != nil {
			return r.sqlError(st.display, err)
		}
		st.matched -= st.refsMatched
	}
	return nil
}

// buildGenericMaps maps (content type, object id) of every generic foreign key to target ids, through
// the id map of the table each staged content type names. For a table loaded straight in, which
// only the preflight's check reads it for, the map is a view, the union of those id maps each
// under its content type: nothing is copied (at 20k documents the copy, its primary key and its
// statistics cost ~0.3 s); the id maps' ids are unique, so are the view's (ct, src). Elsewhere
// it is a table: joined to every staged row by the insert, a view there made the planner hash
// the wide staged rows instead (slower than the copy saves). So is a key whose staged rows name
// no content type with a table (a view over nothing would outlive the transaction).
func (r *run) buildGenericMaps(ctx context.Context) error {
	r.gmaps = map[string]string{}
	ctPlan := r.manifest.Plan.ContentTypes
	for _, st := range r.tables {
		for gi, g := range st.gfks {
			name := fmt.Sprintf("_edmsdr_g%d_%d", st.layout.Index, gi)
			r.gmaps[st.qname+"."+g.ObjectIDColumn] = name
			var branches []string
			if ctPlan != nil {
				ctSt := r.byName[ctPlan.Table]
				if ctSt == nil || ctSt.sid == "" {
					r.findings.Add(finding.Finding{Kind: finding.SchemaMismatch, Table: st.display, Column: g.ObjectIDColumn,
						Message: "generic foreign key needs the content type table, which the package does not contain"})
				} else {
					cts, err := contenttype.Used(ctx, r.tx, contenttype.Table{From: ctSt.stg, ID: ctSt.sid, Plan: ctPlan},
						contenttype.Refs{From: st.stg, Column: g.ContentTypeColumn})
					if err != nil {
						return r.sqlError(st.display, err)
					}
					for _, c := range cts {
						target := ctPlan.TableForContentType(r.target, c.AppLabel, c.Model)
						tst := r.byName[target]
						if tst == nil || tst.mapT == "" {
							continue // its rows stay unresolved and are reported as orphaned
						}
						branches = append(branches, fmt.Sprintf("SELECT %d::bigint AS ct, src, tgt FROM %s", c.ID, tst.mapT))
					}
				}
			}
			sql := fmt.Sprintf("CREATE TEMP TABLE %s (ct bigint NOT NULL, src bigint NOT NULL, tgt bigint NOT NULL, PRIMARY KEY (ct, src)) ON COMMIT DROP", name)
			if len(branches) > 0 && st.direct {
				sql = fmt.Sprintf("CREATE TEMP VIEW %s AS %s", name, strings.Join(branches, " UNION ALL "))
			}
			if _, err := r.exec(ctx, st.display, sql); err != nil {
				return err
			}
			if len(branches) == 0 || st.direct {
				continue
			}
			for _, b := range branches {
				if _, err := r.exec(ctx, st.display, fmt.Sprintf("INSERT INTO %s (ct, src, tgt) %s", name, b)); err != nil {
					return err
				}
			}
			if _, err := r.exec(ctx, st.display, "ANALYZE "+name); err != nil {
				return err
			}
		}
	}
	return nil
}
