package restore

import (
	"context"
	"fmt"

	"github.com/edmsdr/edmsdr/engine/finding"
	"github.com/edmsdr/edmsdr/engine/pgerr"
	"github.com/edmsdr/edmsdr/engine/pgquote"
)

// heldIndex is an index (or the primary key or unique constraint it backs) of a table that was
// empty before the load: dropped for the load, built afterwards in one pass.
type heldIndex struct {
	display, name string
	create        string // the statement that builds it again
}

// holdIndexes drops, inside the transaction, the indexes of every table that was empty before
// the restore and receives rows, so that the load does not maintain them row by row;
// buildIndexes builds them afterwards (one sort each, and a unique one checks every row at
// once). Like holdForeignKeys it needs the tables' ownership, and keeps to what it can put back
// exactly: plain indexes and the primary keys and unique constraints no foreign key still
// depends on, in the default tablespace, not clustered on, not the replica identity, without a
// comment, on tables that are neither partitions nor partitioned, and without a deferrable
// trigger left after holdForeignKeys (its events would still be pending when the index is built
// again, and PostgreSQL refuses to alter a table with pending trigger events). Run after
// holdForeignKeys.
func (r *run) holdIndexes(ctx context.Context, only func(*tableState) bool) error {
	if r.opts.KeepConstraints {
		return nil
	}
	var names []string
	for _, st := range r.tables {
		if only(st) {
			names = append(names, st.qname)
		}
	}
	if len(names) == 0 {
		return nil
	}
	rows, err := r.tx.Query(ctx, `SELECT c.oid::regclass::text, ic.oid::regclass::text, k.conname, coalesce(pg_get_constraintdef(k.oid), ''), pg_get_indexdef(i.indexrelid)
FROM pg_index i
JOIN pg_class c ON c.oid = i.indrelid
JOIN pg_class ic ON ic.oid = i.indexrelid
LEFT JOIN pg_constraint k ON k.conindid = i.indexrelid AND k.contype IN ('p', 'u') AND k.conrelid = c.oid
WHERE c.oid = ANY (SELECT to_regclass(q)::oid FROM unnest($1::text[]) q)
  AND c.relkind = 'r' AND NOT c.relispartition AND pg_has_role(c.relowner, 'USAGE')
  AND i.indisvalid AND i.indisready AND NOT i.indisclustered AND NOT i.indisreplident AND NOT i.indisexclusion
  AND ic.reltablespace = 0
  AND NOT EXISTS (SELECT 1 FROM pg_inherits h WHERE h.inhrelid = i.indexrelid OR h.inhparent = c.oid OR h.inhrelid = c.oid)
  AND NOT EXISTS (SELECT 1 FROM pg_description d WHERE d.objoid IN (i.indexrelid, coalesce(k.oid, 0)))
  AND NOT EXISTS (SELECT 1 FROM pg_constraint o WHERE o.conindid = i.indexrelid AND o.oid IS DISTINCT FROM k.oid)
  AND NOT EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = c.oid AND t.tgdeferrable)
ORDER BY 1, 2`, quoteAll(names))
	if err != nil {
		return r.sqlError("", err)
	}
	type idx struct{ table, index, con, condef, indexdef string }
	var found []idx
	for rows.Next() {
		var x idx
		var con *string
		if err := rows.Scan(&x.table, &x.index, &con, &x.condef, &x.indexdef); err != nil {
			rows.Close()
			return r.sqlError("", err)
		}
		if con != nil {
			x.con = *con
		}
		found = append(found, x)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return r.sqlError("", err)
	}
	for _, x := range found {
		h := heldIndex{display: x.table, name: x.index, create: x.indexdef + ";"}
		drop := "DROP INDEX " + x.index
		if x.con != "" {
			h.name = x.con
			h.create = fmt.Sprintf("ALTER TABLE %s ADD CONSTRAINT %s %s", x.table, pgquote.Ident(x.con), x.condef)
			drop = fmt.Sprintf("ALTER TABLE %s DROP CONSTRAINT %s", x.table, pgquote.Ident(x.con))
		}
		for _, st := range r.tables {
			if pgquote.Table(st.qname) == x.table || st.display == x.table || st.qname == x.table {
				h.display = st.display
			}
		}
		if _, err := r.exec(ctx, h.display, drop); err != nil {
			return err
		}
		r.heldIndexes = append(r.heldIndexes, h)
	}
	if len(found) > 0 {
		r.log.Debug("indexes of empty tables held for the load", "indexes", len(found))
	}
	return nil
}

// buildIndexes builds the indexes holdIndexes dropped; a unique one that the loaded rows break
// refuses the restore.
func (r *run) buildIndexes(ctx context.Context) error {
	for _, h := range r.heldIndexes {
		if _, err := r.tx.Exec(ctx, h.create); err != nil {
			if f, ok := pgerr.Finding(err, h.display); ok {
				f.Constraint = h.name
				r.findings.Add(f)
				return r.refuse()
			}
			return fmt.Errorf("restore %s: build index %s again: %w", h.display, h.name, err)
		}
	}
	if len(r.heldIndexes) > 0 {
		r.check("indexes", "", finding.Pass, fmt.Sprintf("%d indexes of tables empty before the restore built after the load", len(r.heldIndexes)))
	}
	r.heldIndexes = nil
	return nil
}
