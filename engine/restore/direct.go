package restore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/edmsdr/edmsdr/engine/contenttype"
	"github.com/edmsdr/edmsdr/engine/keys"
	"github.com/edmsdr/edmsdr/engine/pack"
	"github.com/edmsdr/edmsdr/engine/pgcopy"
	"github.com/edmsdr/edmsdr/engine/pgquote"
)

// The direct load (issue 11): a table that was empty before the restore, whose id map keeps
// every id (keepsIDs: the identity, or a tree's map built over the rows loaded, which refuses the
// restore for any row it cannot map) and whose references all point at such tables (or at a
// seeded table, through whose held id map they are rewritten in the stream: held.go), receives exactly its staged
// rows: the INSERT … SELECT from staging would copy them unchanged, so its entries are COPYed
// straight into the table instead (its foreign keys and indexes held for the load as for every
// table empty before the restore), and its staging name becomes a view over the table, so that
// the maps, the preflight and the id map read the same rows as they would from staging.
//
// Eligibility is decided conservatively before anything is written (chooseDirect) and confirmed
// once the package's manifest (its key plan, its reference rows) and the staged content types
// are known (confirmDirect). A table that turns out not to fit, an entry the server refuses (NOT
// NULL, CHECK, a type), a reference entry or an entry without a checksum demote the table to the
// staging path (demoteDirect): every row it received moves to a staging table and leaves the
// final table, and the failed entry is staged again from its spool, so that the findings are
// those of the staging path.
//
// The price: dropping a table's foreign keys and indexes locks it ACCESS EXCLUSIVE, so a table
// loaded straight in is held exclusively from staging to the end of the restore (on the staging
// path only from the load on). Such a table was empty before the restore, but even a catalog
// read of it (pg_get_serial_sequence, a digest) waits until the restore commits or rolls back.

// predictedPlan is the key plan the package will most likely bring, nil when none can be built:
// the target's own (or the keys file's). The manifest's, read after the data, has the last word
// (confirmDirect; the landing proof compares the two). Without the keys file's references: Build
// adds them to the schema it is given, which checkManifest does later.
func (r *run) predictedPlan() *keys.Plan {
	var kf *keys.File
	if r.opts.Keys != nil {
		c := *r.opts.Keys
		c.References = nil
		kf = &c
	}
	p, err := keys.Build(r.target, kf)
	if err != nil {
		return nil
	}
	return p
}

// chooseDirect marks the tables that load straight into their final table and holds their
// foreign keys and indexes for the load. Run after the tables are locked and their emptiness
// read, before staging.
func (r *run) chooseDirect(ctx context.Context) error {
	// A package with large values (format 2) writes them into their staged rows after the
	// table's entries: every table goes through staging.
	if r.opts.StageAll || r.replacing() || r.rollback != nil || r.opts.Safety != nil || r.opts.KeepConstraints ||
		r.reader.Header().Format >= pack.FormatLargeValues {
		return nil
	}
	predicted := r.predictedPlan()
	r.predicted = predicted
	candidate := func(st *tableState) bool {
		if st.sid == "" || st.targetHasRows {
			return false
		}
		if predicted == nil {
			return true
		}
		if len(predicted.GenericFKsOf(st.qname)) > 0 {
			// Rewritten through the maps of the tables its content types name: the identity
			// at best when the content types themselves keep their ids (genericIdentity).
			ct := predicted.ContentTypes
			if ct == nil {
				return false
			}
			if p := r.byName[ct.Table]; p == nil || p.sid == "" || p.targetHasRows {
				return false
			}
		}
		// A tree in the key keeps its ids too (buildTreeKept): its map is built over the rows
		// loaded straight in, and the rows it cannot map refuse the restore.
		return true
	}
	var chosen bool
	for _, st := range r.tables {
		if !candidate(st) {
			continue
		}
		ok := true
		var heldCols map[string]*tableState
		for _, c := range st.cols {
			d := r.domains.Of(st.qname, c)
			if d == "" || d == st.qname {
				continue
			}
			p := r.byName[d]
			switch {
			case p != nil && candidate(p):
			case p != nil && r.holdable(st, p):
				// A seeded table's: rewritten in the stream through its held map (held.go).
				if heldCols == nil {
					heldCols = map[string]*tableState{}
				}
				heldCols[c] = p
			default:
				ok = false
			}
		}
		if !ok {
			continue
		}
		plain, err := r.plainTable(ctx, st)
		if err != nil {
			return err
		}
		if !plain {
			continue
		}
		st.direct, st.heldCols = true, heldCols
		chosen = true
	}
	if !chosen {
		return nil
	}
	r.log.Debug("loading straight into the tables", "direct", r.directNames())
	// What may write rows the restore did not send, asked while the catalog is whole: the
	// indexes held next (an expression may run a user's function) are back only after the load.
	// The reference checks left to the load rest on it (proven.go).
	what, err := r.writesElsewhere(ctx)
	if err != nil {
		return err
	}
	r.elsewhere = &what
	isDirect := func(st *tableState) bool { return st.direct }
	if err := r.holdForeignKeys(ctx, isDirect); err != nil {
		return err
	}
	return r.holdIndexes(ctx, isDirect)
}

// plainTable reports whether COPY into st's table does exactly what INSERT … SELECT would: an
// ordinary table (not partitioned, not a partition, no inheritance), owned by the restoring role
// (its foreign keys and indexes can be held), without user triggers (a trigger reading other
// tables would see another order of writes), rules (COPY ignores them) or row-level security.
func (r *run) plainTable(ctx context.Context, st *tableState) (bool, error) {
	var ok bool
	err := r.tx.QueryRow(ctx, `SELECT c.relkind = 'r' AND NOT c.relispartition AND NOT c.relrowsecurity AND pg_has_role(c.relowner, 'USAGE')
  AND NOT EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = c.oid AND NOT t.tgisinternal)
  AND NOT EXISTS (SELECT 1 FROM pg_rewrite w WHERE w.ev_class = c.oid)
  AND NOT EXISTS (SELECT 1 FROM pg_inherits h WHERE h.inhrelid = c.oid OR h.inhparent = c.oid)
FROM pg_class c WHERE c.oid = $1::regclass`, pgquote.Table(st.qname)).Scan(&ok)
	if err != nil {
		return false, r.sqlError(st.display, err)
	}
	return ok, nil
}

// directView makes st's staging name a view over its final table, shaped like a staging table
// (rewritten references read back as source ids: directSelect).
func (r *run) directView(ctx context.Context, st *tableState) error {
	sel, from := r.directSelect(st)
	sel = append(sel, "false AS _edmsdr_ref")
	sql := fmt.Sprintf("CREATE TEMP VIEW %s AS SELECT %s FROM %s", st.stg, strings.Join(sel, ", "), from)
	_, err := r.exec(ctx, st.display, sql)
	return err
}

// copyDirect COPYs one verified entry of a direct table into the final table, inside a
// savepoint. ok is false when the server refused the rows: the savepoint is rolled back, the
// table demoted, and the caller stages the entry again.
func (r *run) copyDirect(ctx context.Context, st *tableState, e *pack.Entry, data io.Reader) (ok bool, err error) {
	if _, err := r.tx.Exec(ctx, "SAVEPOINT edmsdr_direct"); err != nil {
		return false, fmt.Errorf("restore %s: %w", st.display, err)
	}
	sql := fmt.Sprintf("COPY %s (%s) FROM STDIN", pgquote.Table(st.qname), pgquote.Idents(st.cols))
	tag, err := pgcopy.From(ctx, r.tx.Conn().PgConn(), data, sql)
	if err != nil {
		var pe *pgconn.PgError
		var ue *unmappedError
		why := ""
		switch {
		case ctx.Err() != nil:
		case errors.As(err, &ue):
			why = fmt.Sprintf("entry %s: %s: staged instead", e.Name, ue.Error())
		case errors.As(err, &pe):
			why = fmt.Sprintf("the server refused entry %s (%s): staged instead", e.Name, pe.Code)
		}
		if why == "" {
			return false, fmt.Errorf("restore %s: load entry %s: %w", st.display, e.Name, err)
		}
		if _, rerr := r.tx.Exec(ctx, "ROLLBACK TO SAVEPOINT edmsdr_direct"); rerr != nil {
			return false, fmt.Errorf("restore %s: load entry %s: %w (then: %w)", st.display, e.Name, err, rerr)
		}
		if _, rerr := r.tx.Exec(ctx, "RELEASE SAVEPOINT edmsdr_direct"); rerr != nil {
			return false, fmt.Errorf("restore %s: %w", st.display, rerr)
		}
		if err := r.demoteDirect(ctx, st, why); err != nil {
			return false, err
		}
		return false, nil
	}
	if _, err := r.tx.Exec(ctx, "RELEASE SAVEPOINT edmsdr_direct"); err != nil {
		return false, fmt.Errorf("restore %s: %w", st.display, err)
	}
	st.staged += tag.RowsAffected()
	return true, nil
}

// demoteDirect puts a direct table back on the staging path: a staging table replaces the view,
// the rows already loaded move into it and leave the final table (empty before the restore, so
// they are all the restore's; no other table holds a row referencing them).
// Rows whose references were rewritten in the stream move back in source terms (directSelect),
// and the table's rows hashed as sent are no longer what it will hold.
func (r *run) demoteDirect(ctx context.Context, st *tableState, why string) error {
	st.direct = false
	r.log.Debug("direct load given up", "table", st.display, "why", why)
	if s := r.sent[st.qname]; s != nil && st.rewriting && s.off == "" {
		s.off = "its references were rewritten in the stream until it went back to staging"
	}
	if _, err := r.exec(ctx, st.display, "DROP VIEW "+st.stg); err != nil {
		return err
	}
	if err := r.createStagingTable(ctx, st); err != nil {
		return err
	}
	if st.staged > 0 {
		sel, from := r.directSelect(st)
		if _, err := r.exec(ctx, st.display, fmt.Sprintf("INSERT INTO %s (%s) SELECT %s FROM %s", st.stg, pgquote.Idents(st.cols), strings.Join(sel, ", "), from)); err != nil {
			return err
		}
	}
	st.rewriting = false
	if st.staged == 0 {
		return nil
	}
	_, err := r.exec(ctx, st.display, "DELETE FROM "+pgquote.Table(st.qname))
	return err
}

// confirmDirect demotes every direct table that the package's manifest shows not to fit: its id
// map does not keep every id (reference rows), one of its references points at a table whose map
// does not, or its generic foreign keys would not keep their values (genericIdentity).
func (r *run) confirmDirect(ctx context.Context) error {
	if err := r.confirmEarlyMaps(ctx); err != nil {
		return err
	}
	for _, st := range r.tables {
		if !st.direct {
			continue
		}
		why := ""
		if !r.keepsIDs(st) {
			why = "its id map does not keep every id"
		} else {
			var err error
			if why, err = r.genericIdentity(ctx, st); err != nil {
				return err
			}
		}
		for _, c := range st.cols {
			d := r.domains.Of(st.qname, c)
			if why != "" || d == "" || d == st.qname {
				continue
			}
			p := r.byName[d]
			if p != nil && st.rewriting && st.heldCols[c] == p && p.held != nil {
				continue // rewritten in the stream through p's held map (held.go)
			}
			if p == nil || !r.keepsIDs(p) {
				why = fmt.Sprintf("column %s references %s, whose id map does not keep every id", c, d)
			}
		}
		for c, p := range st.heldCols {
			if why == "" && st.rewriting && r.domains.Of(st.qname, c) != p.qname {
				why = fmt.Sprintf("column %s, rewritten through the id map of %s, holds other ids under the package's plan", c, p.display)
			}
		}
		if why == "" {
			continue
		}
		if err := r.demoteDirect(ctx, st, why); err != nil {
			return err
		}
	}
	return nil
}

// dropDirectViews drops the views directView made, with the identity maps over them: unlike the
// staging tables they are not dropped at commit, and the session may run another restore.
func (r *run) dropDirectViews(ctx context.Context) error {
	for _, st := range r.tables {
		if st.direct {
			if _, err := r.exec(ctx, st.display, "DROP VIEW "+st.stg+" CASCADE"); err != nil {
				return err
			}
		}
	}
	return nil
}

// genericIdentity says why the generic foreign keys of st would not keep their values as they
// are ("" when they would): the content type table's map and the map of every table a staged
// content type names must be the identity, and no row may hold an object id without a content
// type (the rewrite turns it into NULL).
func (r *run) genericIdentity(ctx context.Context, st *tableState) (string, error) {
	if len(st.gfks) == 0 {
		return "", nil
	}
	ctPlan := r.manifest.Plan.ContentTypes
	if ctPlan == nil {
		return "its generic foreign keys have no content type table", nil
	}
	ctSt := r.byName[ctPlan.Table]
	if ctSt == nil || ctSt.sid == "" || !r.identityMap(ctSt) {
		return "its generic foreign keys name content types whose id map is not the identity", nil
	}
	for _, g := range st.gfks {
		ct, obj := pgquote.Ident(g.ContentTypeColumn), pgquote.Ident(g.ObjectIDColumn)
		var loose bool
		sql := fmt.Sprintf("SELECT EXISTS (SELECT 1 FROM %s s WHERE s.%s IS NULL AND s.%s IS NOT NULL)", st.stg, ct, obj)
		if err := r.tx.QueryRow(ctx, sql).Scan(&loose); err != nil {
			return "", r.sqlError(st.display, err)
		}
		if loose {
			return fmt.Sprintf("rows with an object id in %s but no content type", g.ObjectIDColumn), nil
		}
		cts, err := contenttype.Used(ctx, r.tx, contenttype.Table{From: ctSt.stg, ID: ctSt.sid, Plan: ctPlan},
			contenttype.Refs{From: st.stg, Column: g.ContentTypeColumn})
		if err != nil {
			return "", r.sqlError(st.display, err)
		}
		for _, c := range cts {
			target := ctPlan.TableForContentType(r.target, c.AppLabel, c.Model)
			if p := r.byName[target]; p == nil || !r.identityMap(p) {
				return fmt.Sprintf("%s names content type %s.%s, whose table's id map is not the identity", g.ObjectIDColumn, c.AppLabel, c.Model), nil
			}
		}
	}
	return "", nil
}

// directNames lists the tables loaded straight into their final table, for the log.
func (r *run) directNames() string {
	var names []string
	for _, st := range r.tables {
		if st.direct {
			names = append(names, st.display)
		}
	}
	if len(names) == 0 {
		return "-"
	}
	return strings.Join(names, ",")
}
