package restore

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/edmsdr/edmsdr/engine/finding"
	"github.com/edmsdr/edmsdr/engine/pgquote"
)

// sampleKeys is how many row locators a finding carries.
const sampleKeys = 5

// locator renders a SQL expression describing staged row alias of st for people: its natural key
// (references described through the referenced row's own key, a few levels deep), else its
// source id, else its position in the package.
func (r *run) locator(st *tableState, alias string, depth int) string {
	if len(st.nk) == 0 {
		if st.sid != "" {
			return fmt.Sprintf("(%s || coalesce(%s.%s::text, 'NULL'))", pgquote.Literal(st.sid+"="), alias, pgquote.Ident(st.sid))
		}
		return fmt.Sprintf("('row ' || %s._edmsdr_r)", alias)
	}
	parts := make([]string, 0, len(st.nk))
	for _, c := range st.nk {
		qc := alias + "." + pgquote.Ident(c)
		val := fmt.Sprintf("coalesce(quote_literal(%s::text), 'NULL')", qc)
		if d := r.domains.Of(st.qname, c); d != "" && depth > 0 {
			if p := r.byName[d]; p != nil && p.sid != "" {
				inner := fmt.Sprintf("p%d", depth)
				val = fmt.Sprintf("coalesce((SELECT '(' || %s || ')' FROM %s %s WHERE %s.%s = %s LIMIT 1), 'missing ' || coalesce(%s::text, 'NULL'))",
					r.locator(p, inner, depth-1), p.stg, inner, inner, pgquote.Ident(p.sid), qc, qc)
			}
		}
		parts = append(parts, fmt.Sprintf("'%s=' || %s", strings.ReplaceAll(c, "'", "''"), val))
	}
	return "(" + strings.Join(parts, " || ', ' || ") + ")"
}

// rowsFinding runs a query over staged rows (alias s, FROM/WHERE given) and adds a finding with the
// count and a few locators when it matches any.
func (r *run) rowsFinding(ctx context.Context, st *tableState, kind finding.Kind, column, constraint, from, msg string) (int64, error) {
	var n int64
	var keys []string
	sql := fmt.Sprintf(`SELECT count(*) OVER (), %s FROM %s LIMIT %d`, r.locator(st, "s", 2), from, sampleKeys)
	rows, err := r.tx.Query(ctx, sql)
	if err != nil {
		return 0, r.sqlError(st.display, err)
	}
	for rows.Next() {
		var k string
		if err := rows.Scan(&n, &k); err != nil {
			rows.Close()
			return 0, r.sqlError(st.display, err)
		}
		keys = append(keys, k)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, r.sqlError(st.display, err)
	}
	if n > 0 {
		r.findings.Add(finding.Finding{Kind: kind, Table: st.display, Column: column, Constraint: constraint, Count: n, Keys: keys, Message: msg})
	}
	return n, nil
}

// precheckStaging looks at the staged data alone: ids present and unique, natural keys unique,
// NOT NULL columns filled. Each staging table is read at most three times when nothing is wrong
// (one scan counts missing ids and NULLs, one aggregate per uniqueness); rows are looked at again,
// for the finding's samples, only where a count found some.
func (r *run) precheckStaging(ctx context.Context) error {
	for _, st := range r.tables {
		var notNull, counts []string
		if st.sid != "" {
			counts = append(counts, fmt.Sprintf("count(*) FILTER (WHERE s.%s IS NULL)", pgquote.Ident(st.sid)))
		}
		for _, c := range st.cols {
			if col := st.t.Column(c); col != nil && col.NotNull {
				notNull = append(notNull, c)
				counts = append(counts, fmt.Sprintf("count(*) FILTER (WHERE s.%s IS NULL AND NOT s._edmsdr_ref)", pgquote.Ident(c)))
			}
		}
		nulls := make([]int64, len(counts))
		if len(counts) > 0 && st.staged+st.refs > 0 {
			dest := make([]any, len(counts))
			for i := range nulls {
				dest[i] = &nulls[i]
			}
			sql := fmt.Sprintf("SELECT %s FROM %s s", strings.Join(counts, ", "), st.stg)
			if err := r.tx.QueryRow(ctx, sql).Scan(dest...); err != nil {
				return r.sqlError(st.display, err)
			}
		}
		if st.sid != "" {
			sid := pgquote.Ident(st.sid)
			if nulls[0] > 0 {
				if _, err := r.rowsFinding(ctx, st, finding.Corrupt, st.sid, "",
					fmt.Sprintf("%s s WHERE s.%s IS NULL", st.stg, sid), "rows without an id"); err != nil {
					return err
				}
			}
			nulls = nulls[1:]
			dup, err := r.duplicateGroupsUnlessProven(ctx, st, []string{st.sid})
			if err != nil {
				return err
			}
			if dup > 0 {
				if _, err := r.rowsFinding(ctx, st, finding.Duplicated, st.sid, "",
					fmt.Sprintf("%s s WHERE s.%s IN (SELECT %s FROM %s GROUP BY 1 HAVING count(*) > 1)", st.stg, sid, sid, st.stg),
					"the package holds several rows with the same id"); err != nil {
					return err
				}
			}
		}
		if len(st.nk) > 0 {
			cols := pgquote.Idents(st.nk)
			// GROUP BY puts NULLs together: the count is a gate at least as wide as the check.
			dup, err := r.duplicateGroupsUnlessProven(ctx, st, st.nk)
			if err != nil {
				return err
			}
			sAlias := make([]string, len(st.nk))
			for i, c := range st.nk {
				sAlias[i] = "s." + pgquote.Ident(c)
			}
			from := fmt.Sprintf("%s s WHERE (%s) IN (SELECT %s FROM %s GROUP BY %s HAVING count(*) > 1)",
				st.stg, strings.Join(sAlias, ", "), cols, st.stg, cols)
			if hasNullable(st) {
				// IN does not match NULLs; GROUP BY puts NULLs together, so join the (normally empty)
				// set of duplicated keys with NULLs equal.
				from = fmt.Sprintf("%s s JOIN (SELECT %s FROM %s GROUP BY %s HAVING count(*) > 1) o ON %s",
					st.stg, cols, st.stg, cols, nullSafeEq("o", "s", st.nk))
			}
			if dup > 0 {
				if _, err := r.rowsFinding(ctx, st, finding.Duplicated, "", "", from,
					fmt.Sprintf("natural key (%s) is not unique in the package", strings.Join(st.nk, ", "))); err != nil {
					return err
				}
			}
		}
		for i, c := range notNull {
			if nulls[i] == 0 {
				continue
			}
			if _, err := r.rowsFinding(ctx, st, finding.Constraint, c, "",
				fmt.Sprintf("%s s WHERE s.%s IS NULL AND NOT s._edmsdr_ref", st.stg, pgquote.Ident(c)),
				"NULL in a NOT NULL column"); err != nil {
				return err
			}
		}
	}
	// A natural key may not be unique in the target (a keys file's, or the package's where the
	// target lacks the constraint that made it a key in the source): matching would be ambiguous.
	for _, st := range r.tables {
		if len(st.nk) == 0 || !st.targetHasRows {
			continue
		}
		if tp := r.match.Tables[st.qname]; tp == nil || (!strings.HasPrefix(tp.Source, "keys file") && targetEnforces(st)) {
			continue
		}
		var groups int64
		cols := pgquote.Idents(st.nk)
		sql := fmt.Sprintf("SELECT count(*) FROM (SELECT 1 FROM %s GROUP BY %s HAVING count(*) > 1) d", pgquote.Table(st.qname), cols)
		if err := r.tx.QueryRow(ctx, sql).Scan(&groups); err != nil {
			return r.sqlError(st.display, err)
		}
		if groups > 0 {
			r.findings.Add(finding.Finding{Kind: finding.KeyPlan, Table: st.display, Count: groups,
				Message: fmt.Sprintf("natural key (%s) is not unique in the target (%d keys are shared): matching would be ambiguous", strings.Join(st.nk, ", "), groups)})
		}
	}
	return nil
}

// duplicateGroups counts the values of cols (quoted, comma-separated) that several staged rows
// of st share, NULLs counted equal.
func (r *run) duplicateGroups(ctx context.Context, st *tableState, cols string) (int64, error) {
	var n int64
	sql := fmt.Sprintf("SELECT count(*) FROM (SELECT 1 FROM %s GROUP BY %s HAVING count(*) > 1) d", st.stg, cols)
	if err := r.tx.QueryRow(ctx, sql).Scan(&n); err != nil {
		return 0, r.sqlError(st.display, err)
	}
	return n, nil
}

// targetEnforces reports whether the target holds a unique constraint or index (not partial)
// over exactly the natural key's columns that no two rows can share: every column NOT NULL, or
// NULLS NOT DISTINCT.
func targetEnforces(st *tableState) bool {
	for _, u := range st.t.Uniques {
		if u.Predicate != "" || len(u.Columns) != len(st.nk) {
			continue
		}
		same := true
		for _, c := range st.nk {
			if !slices.Contains(u.Columns, c) {
				same = false
			}
		}
		if same && (u.NullsNotDistinct || !hasNullable(st)) {
			return true
		}
	}
	return false
}

func hasNullable(st *tableState) bool {
	for _, c := range st.nk {
		if col := st.t.Column(c); col != nil && !col.NotNull {
			return true
		}
	}
	return false
}

func nullSafeEq(a, b string, cols []string) string {
	parts := make([]string, len(cols))
	for i, c := range cols {
		q := pgquote.Ident(c)
		parts[i] = fmt.Sprintf("%s.%s IS NOT DISTINCT FROM %s.%s", a, q, b, q)
	}
	return strings.Join(parts, " AND ")
}
