package restore

import (
	"context"
	"fmt"
	"strings"

	"github.com/edmsdr/edmsdr/engine/finding"
	"github.com/edmsdr/edmsdr/engine/pgquote"
)

// insertAll inserts every table's new rows in dependency order, then sets the references that
// were held back to get through cycles.
func (r *run) insertAll(ctx context.Context) error {
	receives := func(st *tableState) bool { return st.toInsert() > 0 }
	if err := r.holdForeignKeys(ctx, receives); err != nil {
		return err
	}
	if err := r.holdIndexes(ctx, func(st *tableState) bool { return receives(st) && !st.targetHasRows }); err != nil {
		return err
	}
	// Deferrable constraints inside cycles are deferred unless they were dropped for the load.
	var deferred []string
	for _, st := range r.tables {
		for _, c := range st.deferConstraints {
			if !r.holds(st, c) {
				deferred = append(deferred, pgquote.Ident(st.t.Schema)+"."+pgquote.Ident(c))
			}
		}
	}
	if len(deferred) > 0 {
		if _, err := r.exec(ctx, "", "SET CONSTRAINTS "+strings.Join(deferred, ", ")+" DEFERRED"); err != nil {
			return err
		}
	}
	for _, st := range r.tables {
		if st.toInsert() <= 0 {
			continue
		}
		if st.direct {
			// Its rows went straight into it while staging: nothing to map, nothing to rewrite.
			st.inserted = st.staged
			r.log.Debug("inserted", "table", st.display, "rows", st.inserted, "direct", true)
		} else if err := r.insertTable(ctx, st); err != nil {
			return err
		}
		if err := r.hook(ctx, HookInsertedTable); err != nil {
			return err
		}
	}
	for _, st := range r.tables {
		if len(st.deferredCols) == 0 || st.inserted == 0 || st.direct {
			continue
		}
		if err := r.setDeferred(ctx, st); err != nil {
			return err
		}
	}
	return nil
}

func (r *run) overriding(st *tableState) string {
	for _, c := range st.cols {
		if col := st.t.Column(c); col != nil && col.Identity == "a" {
			return "OVERRIDING SYSTEM VALUE "
		}
	}
	return ""
}

func (r *run) insertTable(ctx context.Context, st *tableState) error {
	exprs, joins := r.projection(st, true)
	sel := make([]string, len(st.cols))
	for i, c := range st.cols {
		sel[i] = exprs[c]
	}
	var from string
	switch {
	case st.identity:
		from = st.stg + " s"
	case st.mapT != "":
		from = fmt.Sprintf("%s s JOIN %s m ON m.src = s.%s AND NOT m.matched", st.stg, st.mapT, pgquote.Ident(st.sid))
	default:
		from = st.stg + " s"
	}
	where := ""
	if st.identity {
		where = " WHERE NOT s._edmsdr_ref"
	}
	if st.mapT == "" {
		where = " WHERE NOT s._edmsdr_ref"
		if len(st.nk) > 0 {
			where += fmt.Sprintf(" AND NOT EXISTS (SELECT 1 FROM %s k WHERE k.r = s._edmsdr_r)", st.keep)
		}
	}
	sql := fmt.Sprintf("INSERT INTO %s (%s) %sSELECT %s FROM %s %s%s",
		pgquote.Table(st.qname), pgquote.Idents(st.cols), r.overriding(st), strings.Join(sel, ", "), from, strings.Join(joins, " "), where)
	tag, err := r.exec(ctx, st.display, sql)
	if err != nil {
		return err
	}
	st.inserted = tag.RowsAffected()
	r.log.Debug("inserted", "table", st.display, "rows", st.inserted)
	return nil
}

// setDeferred sets the cycle references that went in NULL.
func (r *run) setDeferred(ctx context.Context, st *tableState) error {
	exprs, joins := r.projection(st, false)
	var sets, any []string
	for _, c := range st.cols {
		if !st.deferredCols[c] {
			continue
		}
		sets = append(sets, fmt.Sprintf("%s = %s", pgquote.Ident(c), exprs[c]))
		any = append(any, fmt.Sprintf("s.%s IS NOT NULL", pgquote.Ident(c)))
	}
	sid := pgquote.Ident(st.sid)
	sql := fmt.Sprintf("UPDATE %s t SET %s FROM %s s JOIN %s m ON m.src = s.%s AND NOT m.matched %s WHERE t.%s = m.tgt AND (%s)",
		pgquote.Table(st.qname), strings.Join(sets, ", "), st.stg, st.mapT, sid, strings.Join(joins, " "), sid, strings.Join(any, " OR "))
	if st.identity {
		sql = fmt.Sprintf("UPDATE %s t SET %s FROM %s s %s WHERE t.%s = s.%s AND NOT s._edmsdr_ref AND (%s)",
			pgquote.Table(st.qname), strings.Join(sets, ", "), st.stg, strings.Join(joins, " "), sid, sid, strings.Join(any, " OR "))
	}
	_, err := r.exec(ctx, st.display, sql)
	return err
}

// updateDiverged overwrites matched rows that differ, under Options.OnExisting Update.
func (r *run) updateDiverged(ctx context.Context) error {
	if r.opts.OnExisting != Update {
		return nil
	}
	for _, st := range r.tables {
		if st.diverged == 0 {
			continue
		}
		exprs, joins := r.projection(st, false)
		var sets []string
		for _, c := range st.cols {
			if c == st.sid {
				continue
			}
			sets = append(sets, fmt.Sprintf("%s = %s", pgquote.Ident(c), exprs[c]))
		}
		var sql string
		if st.mapT != "" {
			sid := pgquote.Ident(st.sid)
			sql = fmt.Sprintf("UPDATE %s t SET %s FROM %s s JOIN %s m ON m.src = s.%s JOIN %s d ON d.h = s.%s %s WHERE t.%s = m.tgt",
				pgquote.Table(st.qname), strings.Join(sets, ", "), st.stg, st.mapT, sid, st.div, sid, strings.Join(joins, " "), sid)
		} else {
			sql = fmt.Sprintf("UPDATE %s t SET %s FROM %s s JOIN %s k ON k.r = s._edmsdr_r JOIN %s d ON d.h = s._edmsdr_r %s WHERE t.tableoid = k.toid AND t.ctid = k.tid",
				pgquote.Table(st.qname), strings.Join(sets, ", "), st.stg, st.keep, st.div, strings.Join(joins, " "))
		}
		tag, err := r.exec(ctx, st.display, sql)
		if err != nil {
			return err
		}
		st.updated = tag.RowsAffected()
		if st.updated != st.diverged {
			r.findings.Add(finding.Finding{Kind: finding.CountMismatch, Table: st.display,
				Message: fmt.Sprintf("updated %d diverged rows of %d", st.updated, st.diverged)})
		}
	}
	return nil
}

// moveSequences moves every sequence of a written table past the highest value in its column.
// A sequence the role owns is moved with ALTER SEQUENCE … RESTART, which is transactional: a
// restore that fails later (even at COMMIT) leaves it where it was. Otherwise setval is the only
// way, and it is not transactional; that is why it runs only after every check has passed.
func (r *run) moveSequences(ctx context.Context) error {
	for _, st := range r.tables {
		if st.inserted == 0 && st.updated == 0 {
			continue
		}
		for _, col := range st.t.Columns {
			if col.Sequence == "" {
				continue
			}
			s, err := r.sequence(ctx, st, col.Name, col.Sequence)
			if err != nil {
				return err
			}
			if s.max == nil || *s.max < s.next {
				continue
			}
			sql := fmt.Sprintf("ALTER SEQUENCE %s RESTART WITH %d", s.name, *s.max+1)
			if !s.owned {
				sql = fmt.Sprintf("SELECT setval(%s::regclass, %d)", pgquote.Literal(s.name), *s.max)
			}
			if _, err := r.exec(ctx, st.display, sql); err != nil {
				return err
			}
		}
	}
	return nil
}

// seqState is what a sequence will hand out next, against its column's highest value.
type seqState struct {
	name  string // quoted, qualified
	next  int64  // the value nextval would return
	max   *int64 // max(column), nil for an empty table
	owned bool   // the role may ALTER it
}

func (r *run) sequence(ctx context.Context, st *tableState, column, seq string) (seqState, error) {
	s := seqState{}
	if err := r.tx.QueryRow(ctx, `SELECT $1::regclass::text, pg_has_role(c.relowner, 'USAGE'), p.seqincrement
FROM pg_class c JOIN pg_sequence p ON p.seqrelid = c.oid WHERE c.oid = $1::regclass`, seq).Scan(&s.name, &s.owned, new(int64)); err != nil {
		return s, r.sqlError(st.display, err)
	}
	sql := fmt.Sprintf(`SELECT CASE WHEN s.is_called THEN s.last_value + p.seqincrement ELSE s.last_value END,
  (SELECT max(%s) FROM %s)::bigint
FROM %s s, pg_sequence p WHERE p.seqrelid = %s::regclass`, pgquote.Ident(column), pgquote.Table(st.qname), s.name, pgquote.Literal(s.name))
	if err := r.tx.QueryRow(ctx, sql).Scan(&s.next, &s.max); err != nil {
		return s, r.sqlError(st.display, err)
	}
	return s, nil
}
