package restore

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/edmsdr/edmsdr/engine/finding"
	"github.com/edmsdr/edmsdr/engine/pack"
	"github.com/edmsdr/edmsdr/engine/pgquote"
)

// RollbackOptions tune a rollback.
type RollbackOptions struct {
	// Force rolls back even when the target changed after the restore (those changes are lost;
	// they are reported as warnings).
	Force bool
	// DryRun does everything, then rolls back.
	DryRun bool
	// LockTimeout bounds the wait for the target's tables (default 30s).
	LockTimeout time.Duration
	// Limits bound what the package reader accepts.
	Limits pack.Limits
	// Log receives progress; nil discards.
	Log *slog.Logger
	// Restore, if set, is the result (report) of the restore being rolled back: the rollback
	// refuses a safety backup that was not taken by that restore.
	Restore *Result
	// Hook and Authenticate are as in Options.
	Hook         func(ctx context.Context, step string) error
	Authenticate func(manifest, signature []byte) error
}

// RollbackResult is what a rollback found before acting.
type RollbackResult struct {
	// Before is the digest of the tables before the restore (the safety backup's); After what
	// the restore left behind; Current what the rollback found.
	Before  string `json:"before"`
	After   string `json:"after"`
	Current string `json:"current"`
	// Changed lists the tables that changed after the restore; Forced says they were rolled back
	// anyway.
	Changed []string `json:"changed,omitempty"`
	Forced  bool     `json:"forced,omitempty"`
	// IDs counts the rows whose id and content were compared with the safety backup's, one by one.
	IDs int64 `json:"ids_compared"`
}

// Rollback puts the safety backup read from src (written by a restore with Options.Safety) back
// into the database conn is connected to, in one transaction: the tables it holds get exactly
// its rows, under their ids, and their sequences where they stood before the restore. It first
// compares the target with what the restore left behind and refuses, naming the rows, when the
// target changed since (unless Force); afterwards it proves the result by the digest of the
// pre-restore state and a row-by-row comparison by id. The result's Rollback says what it found.
func Rollback(ctx context.Context, conn *pgx.Conn, src io.Reader, opts RollbackOptions) (*Result, error) {
	return run1(ctx, conn, src, Options{
		Mode: Replace, DryRun: opts.DryRun, LockTimeout: opts.LockTimeout, Limits: opts.Limits, Log: opts.Log,
		Hook: opts.Hook, Authenticate: opts.Authenticate, KeepConstraints: false,
	}, &rollbackState{force: opts.Force, restore: opts.Restore})
}

// rollbackState is what a run that is a rollback carries.
type rollbackState struct {
	force   bool
	restore *Result
}

// checkRollback runs once the safety backup is staged and before anything is written: the
// package must be a safety backup, and the target must hold what the restore left behind.
// It returns nothing to do (already rolled back) as done=true.
func (r *run) checkRollback(ctx context.Context) (done bool, err error) {
	m := r.manifest
	if m.Origin != pack.OriginSafety || m.Safety == nil {
		r.findings.Add(finding.Finding{Kind: finding.Unsupported, Message: "the package is not a safety backup (one a restore writes under Options.Safety): restore it rather than roll it back"})
		return false, r.refuse()
	}
	rb := &RollbackResult{Before: m.Digest.Total, After: m.Safety.After.Total}
	r.res.Rollback = rb
	if rep := r.rollback.restore; rep != nil {
		switch {
		case rep.Safety == nil || !rep.Safety.Kept:
			r.findings.Errorf(finding.Unsupported, "", "the restore report records no safety backup kept: it is not the report of the restore that wrote this one")
		case rep.Safety.After != m.Safety.After.Total || rep.PackageDigest != m.Safety.Package:
			r.findings.Errorf(finding.Unsupported, "", "the restore report is of another restore (package %s, after %s) than the one this safety backup was taken for (package %s, after %s)",
				short(rep.PackageDigest), short(rep.Safety.After), short(m.Safety.Package), short(m.Safety.After.Total))
		case !rep.Committed:
			r.findings.Add(finding.Finding{Kind: finding.AlreadyRestored, Severity: finding.Warning,
				Message: "the restore report says the restore did not commit (its outcome may be unknown): rolling back only if the target holds what it would have left"})
		}
		if r.findings.HasErrors() {
			return false, r.refuse()
		}
	}
	qnames := make([]string, 0, len(r.tables))
	for _, st := range r.tables {
		qnames = append(qnames, st.qname)
	}
	cur, err := r.digestTables(ctx, qnames, "_edmsdr_rc")
	if err != nil {
		return false, fmt.Errorf("rollback: digest the target: %w", err)
	}
	rb.Current = cur.Total
	if cur.Total == m.Digest.Total {
		r.findings.Add(finding.Finding{Kind: finding.AlreadyRestored, Severity: finding.Info,
			Message: "the target's tables already hold their pre-restore state (digest " + short(cur.Total) + "): nothing to roll back"})
		return true, nil
	}
	sev := finding.Error
	if r.rollback.force {
		sev = finding.Warning
	}
	for _, st := range r.tables {
		after, ok := m.Safety.After.Tables[st.qname]
		if ok && after.Equal(cur.Tables[st.qname]) {
			continue
		}
		rb.Changed = append(rb.Changed, st.display)
		f, err := r.changedSince(ctx, st, after, cur.Tables[st.qname], m.Safety.XID)
		if err != nil {
			return false, err
		}
		f.Severity = sev
		if r.rollback.force {
			f.Message += "; rolled back anyway (RollbackOptions.Force): these changes are lost"
		} else {
			f.Message += "; a rollback would lose them: keep them (export them first) and roll back with RollbackOptions.Force, or leave the restore in place"
		}
		r.findings.Add(f)
	}
	if len(rb.Changed) > 0 {
		rb.Forced = r.rollback.force
		if !r.rollback.force {
			return false, r.refuse()
		}
	}
	return false, nil
}

// changedSince describes how table st differs from what the restore left behind: rows whose
// version is newer than the restore's transaction (inserted or updated since: named by id), and
// rows gone.
func (r *run) changedSince(ctx context.Context, st *tableState, after, cur pack.TableDigest, xid string) (finding.Finding, error) {
	f := finding.Finding{Kind: finding.ChangedSince, Table: st.display}
	var newer, preexisting int64
	var ids []string
	// xmin is 32 bits: a row's age can be compared with the restore's only while the restore is
	// less than 2^31 transactions old.
	var comparable bool
	if err := r.tx.QueryRow(ctx, "SELECT $1::xid8 <= pg_current_xact_id() AND age($1::xid8::xid) < 2000000000", xid).Scan(&comparable); err != nil {
		return f, r.sqlError(st.display, err)
	}
	if comparable {
		where := fmt.Sprintf("age(t.xmin) < age(%s::xid8::xid)", pgquote.Literal(xid))
		if err := r.tx.QueryRow(ctx, fmt.Sprintf("SELECT count(*) FROM %s t WHERE %s", pgquote.Table(st.qname), where)).Scan(&newer); err != nil {
			return f, r.sqlError(st.display, err)
		}
		if newer > 0 && st.sid != "" {
			// Of those, the ids the safety backup holds were rows before the restore: updated since.
			sql := fmt.Sprintf("SELECT count(*) FROM %s t WHERE %s AND EXISTS (SELECT 1 FROM %s s WHERE s.%s = t.%s)",
				pgquote.Table(st.qname), where, st.stg, pgquote.Ident(st.sid), pgquote.Ident(st.sid))
			if err := r.tx.QueryRow(ctx, sql).Scan(&preexisting); err != nil {
				return f, r.sqlError(st.display, err)
			}
			rows, err := r.tx.Query(ctx, fmt.Sprintf("SELECT t.%s::text FROM %s t WHERE %s ORDER BY 1 LIMIT 10", pgquote.Ident(st.sid), pgquote.Table(st.qname), where))
			if err != nil {
				return f, r.sqlError(st.display, err)
			}
			got, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				return f, r.sqlError(st.display, err)
			}
			for _, id := range got {
				ids = append(ids, st.sid+"="+id)
			}
		}
	}
	var parts []string
	switch {
	case newer > 0 && st.sid != "":
		parts = append(parts, fmt.Sprintf("%d rows written since the restore (%d under ids that existed before it: updated since; %d under other ids: inserted since, or restored rows updated since)",
			newer, preexisting, newer-preexisting))
	case newer > 0:
		parts = append(parts, fmt.Sprintf("%d rows written since the restore (inserted or updated)", newer))
	}
	if gone := after.Rows - (cur.Rows - newer); gone > 0 && comparable {
		parts = append(parts, fmt.Sprintf("%d rows the restore left behind deleted or updated since", gone))
	} else if !comparable && cur.Rows != after.Rows {
		parts = append(parts, fmt.Sprintf("%d rows now, %d after the restore", cur.Rows, after.Rows))
	}
	if len(parts) == 0 {
		parts = append(parts, "content differs from what the restore left behind")
	}
	f.Count = newer
	f.Keys = ids
	f.Message = fmt.Sprintf("changed after the restore (digest %s, was %s): %s", short(cur.Hex(st.qname)), short(after.Hex(st.qname)), strings.Join(parts, ", "))
	return f, nil
}

// compareIDs compares, table by table, every row now in the target with the safety backup's row
// of the same id (tables without one: as multisets), every column as text. Any difference fails.
func (r *run) compareIDs(ctx context.Context) ([]finding.Verdict, error) {
	var out []finding.Verdict
	for _, st := range r.tables {
		cols := make([]string, 0, len(st.cols))
		for _, c := range st.cols {
			cols = append(cols, "x."+pgquote.Ident(c)+"::text")
		}
		var bad int64
		var sql string
		if st.sid != "" {
			sid := pgquote.Ident(st.sid)
			sql = fmt.Sprintf("SELECT count(*) FROM (%s) s FULL JOIN (%s) t ON t.k = s.k WHERE s.k IS NULL OR t.k IS NULL OR s.r IS DISTINCT FROM t.r",
				fmt.Sprintf("SELECT x.%s AS k, ROW(%s) AS r FROM %s x WHERE NOT x._edmsdr_ref", sid, strings.Join(cols, ", "), st.stg),
				fmt.Sprintf("SELECT x.%s AS k, ROW(%s) AS r FROM %s x", sid, strings.Join(cols, ", "), pgquote.Table(st.qname)))
		} else {
			s := fmt.Sprintf("SELECT %s FROM %s x WHERE NOT x._edmsdr_ref", strings.Join(cols, ", "), st.stg)
			t := fmt.Sprintf("SELECT %s FROM %s x", strings.Join(cols, ", "), pgquote.Table(st.qname))
			sql = fmt.Sprintf("SELECT count(*) FROM ((%s EXCEPT ALL %s) UNION ALL (%s EXCEPT ALL %s)) d", s, t, t, s)
		}
		if err := r.tx.QueryRow(ctx, sql).Scan(&bad); err != nil {
			return nil, r.sqlError(st.display, err)
		}
		v, ev := finding.Pass, fmt.Sprintf("%d rows, every one back under its id with its content", st.staged)
		if st.sid == "" {
			ev = fmt.Sprintf("%d rows, the same multiset of rows", st.staged)
		}
		if bad > 0 {
			v, ev = finding.Fail, fmt.Sprintf("%d rows differ from the safety backup's by id or content", bad)
			r.findings.Add(finding.Finding{Kind: finding.DigestMismatch, Table: st.display, Count: bad, Message: ev})
		}
		r.res.Rollback.IDs += st.staged
		r.check("ids", st.display, v, ev)
		out = append(out, v)
	}
	return out, nil
}

// setSequences puts every sequence of the safety backup back where it stood before the restore.
// ALTER SEQUENCE … RESTART is transactional (the role owns the sequence); setval is not, which is
// why this runs only after every check has passed.
func (r *run) setSequences(ctx context.Context) error {
	for _, sq := range r.manifest.Safety.Sequences {
		st := r.byName[sq.Table]
		if st == nil {
			continue
		}
		col := st.t.Column(sq.Column)
		if col == nil || col.Sequence == "" {
			r.findings.Add(finding.Finding{Kind: finding.Sequence, Table: st.display, Column: sq.Column,
				Message: fmt.Sprintf("the safety backup has sequence %s for this column, the target none", sq.Sequence)})
			continue
		}
		s, err := r.sequence(ctx, st, sq.Column, col.Sequence)
		if err != nil {
			return err
		}
		if s.next == sq.Next {
			continue
		}
		sql := fmt.Sprintf("ALTER SEQUENCE %s RESTART WITH %d", s.name, sq.Next)
		if !s.owned {
			sql = fmt.Sprintf("SELECT setval(%s::regclass, %d, false)", pgquote.Literal(s.name), sq.Next)
		}
		if _, err := r.exec(ctx, st.display, sql); err != nil {
			return err
		}
	}
	return nil
}

func short(h string) string {
	if len(h) > 16 {
		return h[:16]
	}
	return h
}
