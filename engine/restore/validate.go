package restore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/edmsdr/edmsdr/engine/digest"
	"github.com/edmsdr/edmsdr/engine/finding"
	"github.com/edmsdr/edmsdr/engine/pack"
	"github.com/edmsdr/edmsdr/engine/pgerr"
	"github.com/edmsdr/edmsdr/engine/pgquote"
)

func (r *run) check(name, table string, v finding.Verdict, evidence string) {
	r.res.Checks = append(r.res.Checks, finding.Check{Name: name, Table: table, Verdict: v, Evidence: evidence})
}

// validate checks, inside the transaction, that the restore is complete and correct: every
// deferred constraint holds, counts add up, sequences stand past every id, and the digest of the
// restored rows equals the package's. Each check needs positive evidence to PASS.
func (r *run) validate(ctx context.Context) error {
	var verdicts []finding.Verdict
	if _, err := r.tx.Exec(ctx, "SET CONSTRAINTS ALL IMMEDIATE"); err != nil {
		f, ok := pgerr.Finding(err, "")
		if !ok {
			return fmt.Errorf("restore: check constraints: %w", err)
		}
		r.findings.Add(f)
		r.check("constraints", f.Table, finding.Fail, f.Message)
		r.res.Verdict = finding.Fail
		return nil
	}
	r.check("constraints", "", finding.Pass, "every deferred constraint holds")
	verdicts = append(verdicts, finding.Pass)

	for _, st := range r.tables {
		v := finding.Pass
		if st.staged != st.matched+st.inserted+st.exist {
			v = finding.Fail
			r.findings.Add(finding.Finding{Kind: finding.CountMismatch, Table: st.display, Count: st.staged - st.matched - st.inserted - st.exist,
				Message: fmt.Sprintf("staged %d rows, but matched %d + inserted %d + already present %d", st.staged, st.matched, st.inserted, st.exist)})
		}
		r.check("counts", st.display, v, fmt.Sprintf("staged %d = matched %d + inserted %d + present %d", st.staged, st.matched, st.inserted, st.exist))
		verdicts = append(verdicts, v)
	}

	dv, err := r.checkDigest(ctx)
	if err != nil {
		return err
	}
	verdicts = append(verdicts, dv...)

	r.res.Verdict = finding.Combine(verdicts...)
	if r.findings.HasErrors() {
		r.res.Verdict = finding.Fail
	}
	r.tableVerdicts()
	return nil
}

// tableVerdicts summarises the checks per table.
func (r *run) tableVerdicts() {
	r.res.Tables = r.res.Tables[:0]
	for _, st := range r.tables {
		tv := finding.Pass
		for _, c := range r.res.Checks {
			if c.Table == st.display && c.Verdict != finding.Pass {
				tv = finding.Combine(tv, c.Verdict)
			}
		}
		r.res.Tables = append(r.res.Tables, TableResult{Table: st.display, Staged: st.staged, Matched: st.matched,
			Inserted: st.inserted, Present: st.exist, Diverged: st.diverged, Updated: st.updated, Replaced: st.replaced, Direct: st.direct, Verdict: tv})
	}
	if r.findings.HasErrors() {
		r.res.Verdict = finding.Fail
	}
}

// checkSequences checks that every sequence will hand out a value past the highest one of its
// column. Before the sequences were moved (moved=false: a dry run) it checks where they would be.
func (r *run) checkSequences(ctx context.Context, moved bool) ([]finding.Verdict, error) {
	var out []finding.Verdict
	for _, st := range r.tables {
		for _, col := range st.t.Columns {
			if col.Sequence == "" || !st.colSet[col.Name] {
				continue
			}
			s, err := r.sequence(ctx, st, col.Name, col.Sequence)
			if err != nil {
				return nil, err
			}
			v, ev := finding.Pass, ""
			switch {
			case s.max == nil:
				ev = fmt.Sprintf("%s: table empty, next value %d", s.name, s.next)
			case !moved && s.next <= *s.max:
				ev = fmt.Sprintf("%s would move to %d, past max(%s) %d", s.name, *s.max+1, col.Name, *s.max)
			case s.next <= *s.max:
				v, ev = finding.Fail, fmt.Sprintf("%s next value %d <= max(%s) %d", s.name, s.next, col.Name, *s.max)
			default:
				ev = fmt.Sprintf("%s next value %d > max(%s) %d", s.name, s.next, col.Name, *s.max)
			}
			if v == finding.Fail {
				r.findings.Add(finding.Finding{Kind: finding.Sequence, Table: st.display, Column: col.Name, Message: ev})
			}
			r.check("sequence", st.display, v, ev)
			out = append(out, v)
		}
	}
	return out, nil
}

// restoredRelation is a FROM item with the target rows that correspond to the package's rows of st.
func (r *run) restoredRelation(st *tableState, excludeDiverged bool) string {
	tbl := pgquote.Table(st.qname)
	switch {
	case st.exist > 0:
		return fmt.Sprintf("(SELECT t.* FROM %s t WHERE (t.tableoid, t.ctid) IN (SELECT toid, tid FROM %s))", tbl, st.exists)
	case st.mapT != "" && !st.targetHasRows && !excludeDiverged:
		// The table was empty before the restore: every row in it is a restored row.
		return tbl
	case st.mapT != "":
		sid := pgquote.Ident(st.sid)
		cond := fmt.Sprintf("t.%s IN (SELECT tgt FROM %s WHERE NOT ref)", sid, st.mapT)
		if excludeDiverged {
			cond += fmt.Sprintf(" AND t.%s NOT IN (SELECT m.tgt FROM %s m JOIN %s d ON d.h = m.src)", sid, st.mapT, st.div)
		}
		return fmt.Sprintf("(SELECT t.* FROM %s t WHERE %s)", tbl, cond)
	default:
		// Rows the restore wrote carry its transaction id, or, written inside a savepoint (the
		// load, when reference checks are left to it), a subtransaction's, assigned after it:
		// younger than the restore (a negative age). Nobody else writes the table meanwhile (it
		// is locked before the restore writes anything), and rows older than the restore are
		// older than 2^31 transactions only once frozen (age INT_MAX).
		cond := fmt.Sprintf("(t.xmin = pg_current_xact_id()::xid OR age(t.xmin) < 0 OR (t.tableoid, t.ctid) IN (SELECT toid, tid FROM %s WHERE NOT ref))", st.keep)
		if excludeDiverged {
			cond += fmt.Sprintf(" AND (t.tableoid, t.ctid) NOT IN (SELECT k.toid, k.tid FROM %s k JOIN %s d ON d.h = k.r)", st.keep, st.div)
		}
		return fmt.Sprintf("(SELECT t.* FROM %s t WHERE %s)", tbl, cond)
	}
}

// divergedTarget is a FROM item with the target's version of the diverged rows of st.
func (r *run) divergedTarget(st *tableState) string {
	tbl := pgquote.Table(st.qname)
	if st.mapT != "" {
		return fmt.Sprintf("(SELECT t.* FROM %s t WHERE t.%s IN (SELECT m.tgt FROM %s m JOIN %s d ON d.h = m.src))", tbl, pgquote.Ident(st.sid), st.mapT, st.div)
	}
	return fmt.Sprintf("(SELECT t.* FROM %s t WHERE (t.tableoid, t.ctid) IN (SELECT k.toid, k.tid FROM %s k JOIN %s d ON d.h = k.r))", tbl, st.keep, st.div)
}

// divergedProjection is a FROM item with the package's version of the diverged rows of st, in
// target ids (what they would have been restored as).
func (r *run) divergedProjection(st *tableState) string {
	exprs, joins := r.projection(st, false)
	sel := make([]string, 0, len(st.cols))
	for _, c := range st.cols {
		sel = append(sel, fmt.Sprintf("%s AS %s", exprs[c], pgquote.Ident(c)))
	}
	var from string
	if st.mapT != "" {
		from = fmt.Sprintf("%s s JOIN %s m ON m.src = s.%s JOIN %s d ON d.h = s.%s", st.stg, st.mapT, pgquote.Ident(st.sid), st.div, pgquote.Ident(st.sid))
	} else {
		from = fmt.Sprintf("%s s JOIN %s d ON d.h = s._edmsdr_r", st.stg, st.div)
	}
	return fmt.Sprintf("(SELECT %s FROM %s %s)", strings.Join(sel, ", "), from, strings.Join(joins, " "))
}

// checkDigest compares, per table, the digest of the restored rows with the package's. Diverged
// rows kept under Options.OnExisting Reuse are accounted for: the package's version of them is taken
// out of the expected digest and the target's is left out of the actual one.
func (r *run) checkDigest(ctx context.Context) ([]finding.Verdict, error) {
	cols := map[string][]string{}
	for _, st := range r.tables {
		cols[st.qname] = st.cols
	}
	// The identity tables are built from the target's tables as they stand after the load, each
	// keyed by its own primary key (unique already, its index built): no second index on them,
	// statistics of the join columns only (digest.Options.ScanJoins).
	ds, err := digest.NewSession(r.tx, r.target, r.manifest.Plan, digest.Options{Columns: cols, Prefix: "_edmsdr_v", ScanJoins: true})
	if err != nil {
		return nil, fmt.Errorf("restore: digest: %w", err)
	}
	defer ds.Close(ctx)
	// The restored rows are hashed client-side (the same digest, less work for the server) where
	// the server's bytes are the client's.
	why, err := digest.StreamCheck(ctx, r.tx)
	if err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	tableDigest := func(qname, relation string) (pack.TableDigest, error) {
		if why == "" {
			return ds.TableCopy(ctx, r.tx.Conn().PgConn(), qname, relation)
		}
		return ds.Table(ctx, qname, relation)
	}
	began := time.Now()
	proofs, err := r.landingProofs(ctx, ds, why)
	if err != nil {
		return nil, err
	}
	r.log.Debug("landing proofs", "elapsed", time.Since(began))
	var out []finding.Verdict
	restored := map[string]pack.TableDigest{}
	var prev *tableState
	var prevAt time.Time
	logPrev := func() {
		if prev != nil {
			r.log.Debug("table digest", "table", prev.display, "landing", proofs[prev.qname].ok, "elapsed", time.Since(prevAt))
		}
	}
	defer logPrev()
	for _, st := range r.tables {
		logPrev()
		prev, prevAt = st, time.Now()
		expected, ok := r.manifest.Digest.Tables[st.qname]
		if !ok {
			r.check("digest", st.display, finding.Unknown, "the package has no digest for this table")
			out = append(out, finding.Unknown)
			continue
		}
		if p := proofs[st.qname]; p.ok && p.sent.Equal(expected) {
			// The rows landed as they were sent, and they were sent as the package digests them.
			restored[st.qname] = p.sent
			r.noteWholeTable(st, p.sent)
			r.check("digest", st.display, finding.Pass, p.why)
			out = append(out, finding.Pass)
			continue
		} else if p.why != "" {
			r.log.Debug("full digest", "table", st.display, "reason", p.why)
		}
		if st.exist > 0 {
			// Keyless rows found already present: the digest is computed over those target rows.
			actual, err := ds.Table(ctx, st.qname, r.restoredRelation(st, false))
			if err != nil {
				return nil, r.sqlError(st.display, err)
			}
			restored[st.qname] = actual
			v := finding.Pass
			ev := fmt.Sprintf("%d of %d keyless rows found equal in the target, digest %s", st.exist, st.staged, actual.Hex(st.qname)[:16])
			if st.exist != st.staged || !actual.Equal(expected) {
				v = finding.Fail
				ev = fmt.Sprintf("%d of %d keyless rows found in the target: %d rows with digest %s, package has %d rows with digest %s",
					st.exist, st.staged, actual.Rows, actual.Hex(st.qname)[:16], expected.Rows, expected.Hex(st.qname)[:16])
				r.findings.Add(finding.Finding{Kind: finding.DigestMismatch, Table: st.display, Message: ev})
			}
			r.check("digest", st.display, v, ev)
			out = append(out, v)
			continue
		}
		excl := st.diverged > 0 && r.opts.OnExisting == Reuse
		actual, err := tableDigest(st.qname, r.restoredRelation(st, excl))
		if err != nil {
			return nil, r.sqlError(st.display, err)
		}
		want := expected
		if excl {
			pkgDiv, err := ds.Table(ctx, st.qname, r.divergedProjection(st))
			if err != nil {
				return nil, r.sqlError(st.display, err)
			}
			want = expected.Sub(pkgDiv)
			tgtDiv, err := ds.Table(ctx, st.qname, r.divergedTarget(st))
			if err != nil {
				return nil, r.sqlError(st.display, err)
			}
			restored[st.qname] = actual.Add(tgtDiv)
		} else {
			restored[st.qname] = actual
			r.noteWholeTable(st, actual)
		}
		v := finding.Pass
		ev := fmt.Sprintf("full digest: %d rows, digest %s", actual.Rows, actual.Hex(st.qname)[:16])
		if excl {
			ev += fmt.Sprintf(" (%d diverged rows kept)", st.diverged)
		}
		if !actual.Equal(want) {
			v = finding.Fail
			ev = fmt.Sprintf("full digest: restored %d rows with digest %s, package has %d rows with digest %s", actual.Rows, actual.Hex(st.qname)[:16], want.Rows, want.Hex(st.qname)[:16])
			hint, err := r.triggerHint(ctx, st)
			if err != nil {
				return nil, err
			}
			ev += hint
			r.findings.Add(finding.Finding{Kind: finding.DigestMismatch, Table: st.display, Message: ev})
		}
		r.check("digest", st.display, v, ev)
		out = append(out, v)
	}
	r.res.RestoredDigest = pack.NewDigest(restored).Total
	return out, nil
}

// triggerHint names the BEFORE ROW triggers that may have rewritten the rows the restore wrote to
// st (on INSERT when it inserted rows, on UPDATE when it updated some), on the table or its
// partitions, and says what to do; "" when there are none.
func (r *run) triggerHint(ctx context.Context, st *tableState) (string, error) {
	var events []string
	mask := 0
	if st.inserted > 0 {
		mask |= 4 // TRIGGER_TYPE_INSERT
		events = append(events, "INSERT")
	}
	if st.updated > 0 {
		mask |= 16 // TRIGGER_TYPE_UPDATE
		events = append(events, "UPDATE")
	}
	if mask == 0 {
		return "", nil
	}
	// tgtype: 1 ROW, 2 BEFORE; a trigger cloned onto partitions is named once.
	rows, err := r.tx.Query(ctx, `SELECT DISTINCT t.tgname FROM pg_trigger t
WHERE (t.tgrelid = $1::regclass OR t.tgrelid IN (SELECT relid FROM pg_partition_tree($1::regclass))) AND NOT t.tgisinternal AND t.tgenabled <> 'D'
  AND t.tgtype::int & 3 = 3 AND t.tgtype::int & $2::int <> 0 ORDER BY 1`, pgquote.Table(st.qname), mask)
	if err != nil {
		return "", r.sqlError(st.display, err)
	}
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return "", r.sqlError(st.display, err)
		}
		names = append(names, n)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return "", r.sqlError(st.display, err)
	}
	if len(names) == 0 {
		return "", nil
	}
	return fmt.Sprintf("; BEFORE %s trigger %s on %s rewrites rows as the restore writes them, so they differ from the package's: "+
		"disable it for the restore (ALTER TABLE %s DISABLE TRIGGER %s, then ENABLE), or keep the target's rows (Options.OnExisting reuse)",
		strings.Join(events, "/"), strings.Join(names, ", "), st.display, pgquote.Table(st.qname), pgquote.Ident(names[0])), nil
}
