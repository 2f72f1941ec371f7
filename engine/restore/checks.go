package restore

import (
	"context"
	"fmt"
	"strings"

	"github.com/edmsdr/edmsdr/engine/digest"
	"github.com/edmsdr/edmsdr/engine/finding"
	"github.com/edmsdr/edmsdr/engine/pgquote"
	"github.com/edmsdr/edmsdr/engine/schema"
)

// projection renders the staged row (alias s) of st in target terms: one expression per package
// column, every reference rewritten through the maps (the surrogate id as m.tgt, which the caller
// joins), plus the LEFT JOINs the expressions need. nullDeferred puts NULL in cycle columns.
func (r *run) projection(st *tableState, nullDeferred bool) (map[string]string, []string) {
	exprs := map[string]string{}
	var joins []string
	for i, c := range st.cols {
		qc := pgquote.Ident(c)
		switch {
		case c == st.sid && (st.identity || st.keptAll):
			exprs[c] = "s." + qc
		case c == st.sid:
			exprs[c] = "m.tgt"
		case nullDeferred && st.deferredCols[c]:
			exprs[c] = "NULL"
		default:
			if g := r.gmaps[st.qname+"."+c]; g != "" {
				var ctCol string
				for _, gf := range st.gfks {
					if gf.ObjectIDColumn == c {
						ctCol = gf.ContentTypeColumn
					}
				}
				alias := fmt.Sprintf("g%d", i)
				joins = append(joins, fmt.Sprintf("LEFT JOIN %s %s ON %s.ct = s.%s AND %s.src = s.%s", g, alias, alias, pgquote.Ident(ctCol), alias, qc))
				// An object id without a content type names nothing: the digest hashes it as it
				// is, so it is written as it is (the map join alone would write NULL).
				exprs[c] = fmt.Sprintf("CASE WHEN s.%s IS NULL THEN s.%s ELSE %s.tgt END", pgquote.Ident(ctCol), qc, alias)
				continue
			}
			if d := r.domains.Of(st.qname, c); d != "" {
				if p := r.byName[d]; p != nil && (p.identity || p.keptAll) {
					// Every staged id of p maps to itself; one p lacks is refused by
					// checkReferences before anything is inserted.
					exprs[c] = "s." + qc
					continue
				}
				if p := r.byName[d]; p != nil && p.mapT != "" {
					alias := fmt.Sprintf("j%d", i)
					joins = append(joins, fmt.Sprintf("LEFT JOIN %s %s ON %s.src = s.%s", p.mapT, alias, alias, qc))
					exprs[c] = alias + ".tgt"
					continue
				}
			}
			exprs[c] = "s." + qc
		}
	}
	return exprs, joins
}

// checkReferences finds staged rows whose references resolve to nothing: foreign keys to rows
// the package lacks, tree rows whose ancestors are missing or circular, generic foreign keys to
// unknown objects or content types.
func (r *run) checkReferences(ctx context.Context) error {
	for _, st := range r.tables {
		for _, fk := range st.t.ForeignKeys {
			p := r.byName[fk.RefQName()]
			if p == nil {
				continue
			}
			var notNull, match []string
			ok := true
			for i, c := range fk.Columns {
				if !st.colSet[c] || !p.colSet[fk.RefColumns[i]] {
					ok = false
					break
				}
				notNull = append(notNull, fmt.Sprintf("s.%s IS NOT NULL", pgquote.Ident(c)))
				match = append(match, fmt.Sprintf("p.%s = s.%s", pgquote.Ident(fk.RefColumns[i]), pgquote.Ident(c)))
			}
			if !ok {
				continue
			}
			if st.direct && st.rewriting && len(fk.Columns) == 1 && st.heldCols[fk.Columns[0]] == p && p.held != nil &&
				len(fk.RefColumns) == 1 && fk.RefColumns[0] == p.sid {
				// Rewritten in the stream: every value was found in p's map, whose source ids
				// are staged rows of p; a value it lacked sent the table to staging (held.go).
				continue
			}
			if r.trustLoad {
				proven, err := r.provenByLoad(ctx, st, fk, p)
				if err != nil {
					return err
				}
				if proven {
					r.leftToLoad++
					continue
				}
			}
			from := fmt.Sprintf("%s s WHERE %s AND NOT EXISTS (SELECT 1 FROM %s p WHERE %s)",
				st.stg, strings.Join(notNull, " AND "), p.stg, strings.Join(match, " AND "))
			if _, err := r.rowsFinding(ctx, st, finding.Orphaned, strings.Join(fk.Columns, ", "), fk.Name, from,
				fmt.Sprintf("references rows of %s that the package does not contain", p.display)); err != nil {
				return err
			}
		}
		if st.refs > st.refsMatched {
			from := fmt.Sprintf("%s s WHERE s._edmsdr_ref AND NOT EXISTS (SELECT 1 FROM %s m WHERE m.src = s.%s)", st.stg, st.mapT, pgquote.Ident(st.sid))
			if st.mapT == "" {
				from = fmt.Sprintf("%s s WHERE s._edmsdr_ref AND NOT EXISTS (SELECT 1 FROM %s k WHERE k.r = s._edmsdr_r)", st.stg, st.keep)
			}
			if _, err := r.rowsFinding(ctx, st, finding.Orphaned, strings.Join(st.nk, ", "), "", from,
				"the package refers to these rows by natural key, but neither the package nor the target has them"); err != nil {
				return err
			}
		}
		if st.mapT != "" && !st.identity {
			from := fmt.Sprintf("%s s WHERE NOT s._edmsdr_ref AND s.%s IS NOT NULL AND NOT EXISTS (SELECT 1 FROM %s m WHERE m.src = s.%s)",
				st.stg, pgquote.Ident(st.sid), st.mapT, pgquote.Ident(st.sid))
			n, err := r.rowsFinding(ctx, st, finding.Orphaned, r.selfColumn(st), "", from,
				"rows whose ancestors are missing or circular could not be mapped")
			if err != nil {
				return err
			}
			st.keptAll = st.treeKept && n == 0
		}
		for _, g := range st.gfks {
			gm := r.gmaps[st.qname+"."+g.ObjectIDColumn]
			if gm == "" {
				continue
			}
			ct, obj := pgquote.Ident(g.ContentTypeColumn), pgquote.Ident(g.ObjectIDColumn)
			from := fmt.Sprintf("%s s WHERE s.%s IS NOT NULL AND s.%s IS NOT NULL AND NOT EXISTS (SELECT 1 FROM %s g WHERE g.ct = s.%s AND g.src = s.%s)",
				st.stg, ct, obj, gm, ct, obj)
			if _, err := r.rowsFinding(ctx, st, finding.Orphaned, g.ObjectIDColumn, "", from,
				"generic foreign key to an object the package does not contain (or of a content type that names no table)"); err != nil {
				return err
			}
		}
	}
	return nil
}

// matchedFrom renders the FROM of matched staged rows joined to their target rows (alias t).
func (r *run) matchedFrom(st *tableState) string {
	if st.mapT != "" {
		return fmt.Sprintf("%s s JOIN %s m ON m.src = s.%s AND m.matched AND NOT m.ref JOIN %s t ON t.%s = m.tgt",
			st.stg, st.mapT, pgquote.Ident(st.sid), pgquote.Table(st.qname), pgquote.Ident(st.sid))
	}
	return fmt.Sprintf("%s s JOIN %s k ON k.r = s._edmsdr_r AND NOT k.ref JOIN %s t ON t.tableoid = k.toid AND t.ctid = k.tid", st.stg, st.keep, pgquote.Table(st.qname))
}

// checkDiverged finds matched rows whose content differs from the package's.
func (r *run) checkDiverged(ctx context.Context) error {
	for _, st := range r.tables {
		if _, err := r.exec(ctx, st.display, fmt.Sprintf("CREATE TEMP TABLE %s (h bigint PRIMARY KEY) ON COMMIT DROP", st.div)); err != nil {
			return err
		}
		if st.matched == 0 {
			continue
		}
		exprs, joins := r.projection(st, false)
		var diffs []string
		for _, c := range st.cols {
			if c == st.sid {
				continue
			}
			diffs = append(diffs, fmt.Sprintf("(%s)::text IS DISTINCT FROM t.%s::text", exprs[c], pgquote.Ident(c)))
		}
		if len(diffs) == 0 {
			continue
		}
		sql := fmt.Sprintf("INSERT INTO %s (h) SELECT s.%s FROM %s %s WHERE %s",
			st.div, st.rowHandle(), r.matchedFrom(st), strings.Join(joins, " "), strings.Join(diffs, " OR "))
		tag, err := r.exec(ctx, st.display, sql)
		if err != nil {
			return err
		}
		st.diverged = tag.RowsAffected()
		if st.diverged == 0 {
			continue
		}
		sev, msg := finding.Warning, "matched by natural key, but the target's content differs: the target's row was kept (Options.OnExisting reuse)"
		switch r.opts.OnExisting {
		case Update:
			sev, msg = finding.Info, "matched by natural key with different content: the target's row is overwritten (Options.OnExisting update)"
		case Fail:
			sev, msg = finding.Error, "matched by natural key, but the target's content differs (Options.OnExisting fail)"
		}
		n, keys, err := r.sample(ctx, st, fmt.Sprintf("%s s JOIN %s d ON d.h = s.%s", st.stg, st.div, st.rowHandle()))
		if err != nil {
			return err
		}
		r.findings.Add(finding.Finding{Kind: finding.Diverged, Severity: sev, Table: st.display, Count: n, Keys: keys, Message: msg})
	}
	return nil
}

func (r *run) sample(ctx context.Context, st *tableState, from string) (int64, []string, error) {
	var n int64
	var keys []string
	rows, err := r.tx.Query(ctx, fmt.Sprintf(`SELECT count(*) OVER (), %s FROM %s LIMIT %d`, r.locator(st, "s", 2), from, sampleKeys))
	if err != nil {
		return 0, nil, r.sqlError(st.display, err)
	}
	defer rows.Close()
	for rows.Next() {
		var k string
		if err := rows.Scan(&n, &k); err != nil {
			return 0, nil, r.sqlError(st.display, err)
		}
		keys = append(keys, k)
	}
	if err := rows.Err(); err != nil {
		return 0, nil, r.sqlError(st.display, err)
	}
	return n, keys, nil
}

// checkKeyless finds keyless rows that already exist in the target. All of a package present
// (every keyed row matched, every keyless row present) means it was restored before: a no-op.
// Some present means restoring would duplicate them: refused unless AppendKeyless.
//
// A keyless row is compared by its whole content with every reference replaced by the identity
// of the row it points at (a keyed parent's natural key, a keyless parent's own content, through
// its references in turn): the row hashes of the digest, computed once over the staged rows and
// once over the target's. Rows are matched as a multiset (two equal staged rows need two equal
// target rows), and the target rows found are recorded (st.exists) so that the digest reported
// for them is computed from the target.
func (r *run) checkKeyless(ctx context.Context) error {
	var candidates []*tableState
	for _, st := range r.tables {
		if len(st.nk) == 0 && st.targetHasRows && st.staged > 0 {
			candidates = append(candidates, st)
		}
	}
	if len(candidates) == 0 {
		return nil
	}
	cols := map[string][]string{}
	for _, st := range r.tables {
		cols[st.qname] = st.cols
	}
	staged := func(qname string) string {
		if st := r.byName[qname]; st != nil {
			return st.stg
		}
		return ""
	}
	pkg, err := digest.NewSession(r.tx, r.target, r.manifest.Plan, digest.Options{Columns: cols, Prefix: "_edmsdr_pk", Source: staged})
	if err != nil {
		return fmt.Errorf("restore: keyless rows: %w", err)
	}
	defer pkg.Close(ctx)
	tgt, err := digest.NewSession(r.tx, r.target, r.manifest.Plan, digest.Options{Columns: cols, Prefix: "_edmsdr_tk"})
	if err != nil {
		return fmt.Errorf("restore: keyless rows: %w", err)
	}
	defer tgt.Close(ctx)
	overlap := map[*tableState]int64{}
	for _, st := range candidates {
		st.exists = fmt.Sprintf("_edmsdr_e%d", st.layout.Index)
		if _, err := r.exec(ctx, st.display, fmt.Sprintf("CREATE TEMP TABLE %s (toid oid NOT NULL, tid tid NOT NULL) ON COMMIT DROP", st.exists)); err != nil {
			return err
		}
		mine, err := pkg.RowHashes(ctx, st.qname, fmt.Sprintf("(SELECT * FROM %s WHERE NOT _edmsdr_ref)", st.stg))
		if err != nil {
			return r.sqlError(st.display, err)
		}
		theirs, err := tgt.RowHashes(ctx, st.qname, "", "t.tableoid AS toid", "t.ctid AS tid")
		if err != nil {
			return r.sqlError(st.display, err)
		}
		sql := fmt.Sprintf(`INSERT INTO %s (toid, tid) SELECT b.toid, b.tid
FROM (SELECT h, row_number() OVER (PARTITION BY h) AS n FROM (%s) a0) a
JOIN (SELECT h, toid, tid, row_number() OVER (PARTITION BY h ORDER BY toid, tid) AS n FROM (%s) b0) b USING (h, n)`,
			st.exists, mine, theirs)
		tag, err := r.exec(ctx, st.display, sql)
		if err != nil {
			return err
		}
		if n := tag.RowsAffected(); n > 0 {
			overlap[st] = n
		}
	}
	if len(overlap) == 0 {
		return nil
	}
	allPresent := true
	for _, st := range r.tables {
		if len(st.nk) > 0 && st.staged-st.matched > 0 {
			allPresent = false
		}
		if len(st.nk) == 0 && st.staged > 0 && overlap[st] != st.staged {
			allPresent = false
		}
	}
	if allPresent {
		for st, n := range overlap {
			st.exist = n
		}
		return nil
	}
	for st, n := range overlap {
		if r.opts.AppendKeyless {
			r.findings.Add(finding.Finding{Kind: finding.Duplicated, Severity: finding.Warning, Table: st.display, Count: n,
				Message: "keyless rows equal to rows already in the target are inserted again (Options.AppendKeyless)"})
			continue
		}
		r.findings.Add(finding.Finding{Kind: finding.Duplicated, Table: st.display, Count: n,
			Message: fmt.Sprintf("%d of %d keyless rows already exist in the target: restoring would duplicate them. "+
				"Declare a natural key for this table first (a keys file's natural_key entry), so that rows are matched instead of compared whole; "+
				"Options.AppendKeyless inserts every row again, duplicating the existing ones", n, st.staged)})
	}
	return nil
}

// checkConflicts finds rows to insert that would violate a unique constraint other than their
// natural key (for example a second unique column matching an existing row).
func (r *run) checkConflicts(ctx context.Context) error {
	for _, st := range r.tables {
		if !st.targetHasRows || st.toInsert() == 0 {
			continue
		}
		exprs, joins := r.projection(st, false)
		for _, u := range st.t.Uniques {
			if u.Predicate != "" || sameSet(u.Columns, st.nk) || (len(u.Columns) == 1 && u.Columns[0] == st.sid) {
				continue
			}
			covered := true
			var on []string
			for _, c := range u.Columns {
				if !st.colSet[c] {
					covered = false
					break
				}
				op := "="
				if u.NullsNotDistinct {
					op = "IS NOT DISTINCT FROM"
				}
				on = append(on, fmt.Sprintf("t.%s %s %s", pgquote.Ident(c), op, exprs[c]))
			}
			if !covered {
				continue
			}
			from := st.stg + " s "
			if st.mapT != "" {
				from += fmt.Sprintf("JOIN %s m ON m.src = s.%s AND NOT m.matched ", st.mapT, pgquote.Ident(st.sid))
			}
			from += strings.Join(joins, " ")
			where := fmt.Sprintf("EXISTS (SELECT 1 FROM %s t WHERE %s)", pgquote.Table(st.qname), strings.Join(on, " AND "))
			if st.mapT == "" {
				where += fmt.Sprintf(" AND NOT s._edmsdr_ref AND NOT EXISTS (SELECT 1 FROM %s k WHERE k.r = s._edmsdr_r)", st.keep)
			}
			if _, err := r.rowsFinding(ctx, st, finding.Conflict, strings.Join(u.Columns, ", "), u.Name, from+" WHERE "+where,
				fmt.Sprintf("rows to insert collide with existing rows on unique (%s)", strings.Join(u.Columns, ", "))); err != nil {
				return err
			}
		}
	}
	return nil
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	m := map[string]bool{}
	for _, x := range a {
		m[x] = true
	}
	for _, x := range b {
		if !m[x] {
			return false
		}
	}
	return true
}

// checkGenerated refuses a restore whose inserted rows would get other values than the source's
// in a stored generated column: one computed from the surrogate id when rows take fresh ids, or
// from a reference whose parent rows take other ids. A backup carries no generated value (the
// target computes them) and the digest leaves them out, so nothing else would notice that a
// document number "D-41" became "D-4".
func (r *run) checkGenerated(ctx context.Context) error {
	for _, st := range r.tables {
		if st.toInsert() == 0 || !hasGenerated(st.t) {
			continue
		}
		deps, err := r.generatedDeps(ctx, st)
		if err != nil {
			return err
		}
		for _, g := range deps {
			for _, dep := range g.on {
				n, err := r.changedFor(ctx, st, dep)
				if err != nil {
					return err
				}
				if n == 0 {
					continue
				}
				r.findings.Add(finding.Finding{Kind: finding.Unsupported, Severity: finding.Error, Table: st.display, Column: g.column,
					Message: fmt.Sprintf("generated column %s is computed from %s, whose value this restore changes in %d inserted rows (their ids are taken in the target): "+
						"the restored rows would not carry the source's %s values. Restore into tables where the source ids are free (they are kept when they collide with nothing), "+
						"or drop the generation expression for the restore", g.column, dep, n, g.column)})
			}
		}
	}
	return nil
}

func hasGenerated(t *schema.Table) bool {
	for _, c := range t.Columns {
		if c.Generated {
			return true
		}
	}
	return false
}

type generatedColumn struct {
	column string
	on     []string // the table's columns its expression reads
}

// generatedDeps reads, from the target's catalog, the columns each stored generated column of st
// is computed from.
func (r *run) generatedDeps(ctx context.Context, st *tableState) ([]generatedColumn, error) {
	rows, err := r.tx.Query(ctx, `SELECT a.attname::text, array_agg(DISTINCT ra.attname::text ORDER BY ra.attname::text)
FROM pg_attribute a
JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
JOIN pg_depend d ON d.classid = 'pg_attrdef'::regclass AND d.objid = ad.oid AND d.refclassid = 'pg_class'::regclass
 AND d.refobjid = a.attrelid AND d.refobjsubid > 0 AND d.refobjsubid <> a.attnum
JOIN pg_attribute ra ON ra.attrelid = a.attrelid AND ra.attnum = d.refobjsubid
WHERE a.attrelid = $1::regclass AND a.attgenerated <> ''
GROUP BY a.attname ORDER BY a.attname`, pgquote.Table(st.qname))
	if err != nil {
		return nil, r.sqlError(st.display, err)
	}
	defer rows.Close()
	var out []generatedColumn
	for rows.Next() {
		var g generatedColumn
		if err := rows.Scan(&g.column, &g.on); err != nil {
			return nil, r.sqlError(st.display, err)
		}
		out = append(out, g)
	}
	if err := rows.Err(); err != nil {
		return nil, r.sqlError(st.display, err)
	}
	return out, nil
}

// changedFor counts the rows of st the restore will insert whose column dep gets another value
// than the package's: the surrogate id given a fresh id, or a reference whose parent row has
// another id in the target.
func (r *run) changedFor(ctx context.Context, st *tableState, dep string) (int64, error) {
	var sql string
	switch {
	case dep == st.sid && st.mapT != "":
		sql = fmt.Sprintf("SELECT count(*) FROM %s WHERE NOT matched AND NOT ref AND src <> tgt", st.mapT)
	default:
		d := r.domains.Of(st.qname, dep)
		p := r.byName[d]
		if d == "" || p == nil || p.mapT == "" || !st.colSet[dep] {
			return 0, nil // not a value the restore rewrites
		}
		qd := pgquote.Ident(dep)
		notMatched := "true"
		if st.mapT != "" {
			notMatched = fmt.Sprintf("NOT EXISTS (SELECT 1 FROM %s k WHERE k.src = s.%s AND k.matched)", st.mapT, pgquote.Ident(st.sid))
		} else if st.keep != "" {
			notMatched = fmt.Sprintf("NOT EXISTS (SELECT 1 FROM %s k WHERE k.r = s._edmsdr_r)", st.keep)
		}
		sql = fmt.Sprintf("SELECT count(*) FROM %s s JOIN %s m ON m.src = s.%s WHERE NOT s._edmsdr_ref AND m.src <> m.tgt AND %s",
			st.stg, p.mapT, qd, notMatched)
	}
	var n int64
	if err := r.tx.QueryRow(ctx, sql).Scan(&n); err != nil {
		return 0, r.sqlError(st.display, err)
	}
	return n, nil
}

// checkSharedIDs refuses a restore that would attach rows to other parents through a primary key
// that is also a foreign key (Django's multi-table inheritance, a one-to-one primary key): such a
// column is the table's own id, mapped through its own map, never through its parent's, so where
// the parent's map gives a row's parent another target id than the table's map gives the row,
// the row would land under another parent. The digest would not see it either: it hashes the
// column as the row's own id.
func (r *run) checkSharedIDs(ctx context.Context) error {
	for _, st := range r.tables {
		if st.sid == "" || st.mapT == "" {
			continue
		}
		for _, fk := range st.t.ForeignKeys {
			if len(fk.Columns) != 1 || fk.Columns[0] != st.sid || len(fk.RefColumns) != 1 {
				continue
			}
			p := r.byName[fk.RefQName()]
			if p == nil || p == st || p.sid == "" || p.mapT == "" || fk.RefColumns[0] != p.sid {
				continue
			}
			sid := pgquote.Ident(st.sid)
			from := fmt.Sprintf("%s s JOIN %s a ON a.src = s.%s JOIN %s b ON b.src = s.%s WHERE NOT s._edmsdr_ref AND a.tgt <> b.tgt",
				st.stg, st.mapT, sid, p.mapT, sid)
			if _, err := r.rowsFinding(ctx, st, finding.Unsupported, st.sid, fk.Name, from, fmt.Sprintf(
				"%s is both the table's id and a reference to %s, whose id map gives these rows' parents other ids than the table's map gives the rows: "+
					"they would land under other parents (a primary key is mapped as the table's own id, never through the table it references). "+
					"Restore into a target where %s's rows keep their ids, or without these rows", st.sid, p.display, p.display)); err != nil {
				return err
			}
		}
	}
	return nil
}
