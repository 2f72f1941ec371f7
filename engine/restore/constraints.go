package restore

import (
	"context"
	"fmt"

	"github.com/edmsdr/edmsdr/engine/finding"
	"github.com/edmsdr/edmsdr/engine/pgerr"
	"github.com/edmsdr/edmsdr/engine/pgquote"
)

// heldConstraint is a foreign key dropped for the load and added back afterwards.
type heldConstraint struct {
	table, display, name, def string
}

// holdForeignKeys drops, inside the transaction, the foreign keys of every table that receives
// rows, so that the server does not check each inserted row by itself (one trigger query per row
// and foreign key); restoreForeignKeys adds them back, and PostgreSQL then validates each with
// one set-based query. The transaction keeps it atomic: a refusal or a crash leaves the
// constraints exactly as they were. It needs the tables' ownership; without it (a least-privilege
// role) the per-row path is used, which is slower but equally correct. A table with a deferrable
// trigger of its own keeps its foreign keys: its events are still pending when the load ends,
// and PostgreSQL refuses to alter a table with pending trigger events.
func (r *run) holdForeignKeys(ctx context.Context, only func(*tableState) bool) error {
	if r.opts.KeepConstraints {
		return nil
	}
	var oids []string
	for _, st := range r.tables {
		if only(st) {
			oids = append(oids, st.qname)
		}
	}
	if len(oids) == 0 {
		return nil
	}
	var owner bool
	if err := r.tx.QueryRow(ctx, `SELECT coalesce(bool_and(pg_has_role(c.relowner, 'USAGE')), false)
FROM pg_class c WHERE c.oid = ANY (SELECT to_regclass(q)::oid FROM unnest($1::text[]) q)`, quoteAll(oids)).Scan(&owner); err != nil {
		return r.sqlError("", err)
	}
	if !owner {
		r.log.Debug("not the owner of every table: foreign keys are checked row by row")
		return nil
	}
	rows, err := r.tx.Query(ctx, `SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid)
FROM pg_constraint c WHERE c.contype = 'f' AND c.conparentid = 0 AND c.conrelid = ANY (SELECT to_regclass(q)::oid FROM unnest($1::text[]) q)
  AND NOT EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = c.conrelid AND t.tgdeferrable AND NOT t.tgisinternal)
ORDER BY 1, 2`, quoteAll(oids))
	if err != nil {
		return r.sqlError("", err)
	}
	var held []heldConstraint
	for rows.Next() {
		var h heldConstraint
		if err := rows.Scan(&h.table, &h.name, &h.def); err != nil {
			rows.Close()
			return r.sqlError("", err)
		}
		held = append(held, h)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return r.sqlError("", err)
	}
	for i := range held {
		h := &held[i]
		for _, st := range r.tables {
			if pgquote.Table(st.qname) == h.table || st.display == h.table || st.qname == h.table {
				h.display = st.display
			}
		}
		if h.display == "" {
			h.display = h.table
		}
		if _, err := r.exec(ctx, h.display, fmt.Sprintf("ALTER TABLE %s DROP CONSTRAINT %s", h.table, pgquote.Ident(h.name))); err != nil {
			return err
		}
	}
	// Those of tables loaded straight in were held before staging (direct.go).
	r.held = append(r.held, held...)
	return nil
}

// holds reports whether the foreign key name of st is held (dropped for the load).
func (r *run) holds(st *tableState, name string) bool {
	for _, h := range r.held {
		if h.name == name && (h.display == st.display || h.table == pgquote.Table(st.qname) || h.table == st.qname) {
			return true
		}
	}
	return false
}

// restoreForeignKeys adds back the foreign keys dropped by holdForeignKeys; each is validated
// against every row of its table at once.
func (r *run) restoreForeignKeys(ctx context.Context) error {
	for _, h := range r.held {
		if _, err := r.tx.Exec(ctx, fmt.Sprintf("ALTER TABLE %s ADD CONSTRAINT %s %s", h.table, pgquote.Ident(h.name), h.def)); err != nil {
			if f, ok := pgerr.Finding(err, h.display); ok {
				f.Constraint = h.name
				r.findings.Add(f)
				return r.refuse()
			}
			return fmt.Errorf("restore %s: add back foreign key %s: %w", h.display, h.name, err)
		}
	}
	if len(r.held) > 0 {
		r.check("foreign keys", "", finding.Pass, fmt.Sprintf("%d foreign keys validated set-based after the load", len(r.held)))
	}
	r.held = nil
	return nil
}

// quoteAll quotes qualified table names for to_regclass.
func quoteAll(qnames []string) []string {
	out := make([]string, len(qnames))
	for i, q := range qnames {
		out[i] = pgquote.Table(q)
	}
	return out
}
