package restore

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/edmsdr/edmsdr/engine/pgquote"
	"github.com/edmsdr/edmsdr/engine/schema"
)

// Reference checks the load proves (issue 11). A foreign key held for the load is added back
// after it, and PostgreSQL then validates it against every row of its table: where those rows
// and the rows they reference are exactly the staged ones, that validation fails exactly when
// the preflight's look at the staged rows (checkReferences) would find an orphan. The preflight
// then leaves that look out, and runs it only when the restore is refused, so that a refused
// restore reports what it reported before, as precisely:
//
//   - refused by the preflight's other checks: the reference checks are run in full first, their
//     findings in their place (redoReferences);
//   - refused by the load (a foreign key that does not validate, or anything else): the load,
//     run inside a savepoint, is rolled back to it, the reference checks are run in full, and if
//     they find anything the refusal is the preflight's, as before; else the load's stands
//     (diagnoseLoad).
//
// A foreign key of the target always ends validated, whichever path found the orphans: no check
// is skipped that nothing else proves.

// loadSavepoint is the savepoint the load runs in when reference checks were left to it.
const loadSavepoint = "edmsdr_load"

// provenByLoad reports whether adding fk of st back after the load proves what checkReferences
// would find about it in the staged rows: fk is held (dropped for the load, added back
// validated), one column referencing p's surrogate id; st is loaded straight in (its staging is
// a view over its table, which was empty: the rows validated are the staged rows), and p keeps
// every staged id (identity map: empty before the restore, no reference rows; every staged row
// inserted with its id, into a table whose rows nothing but that insert writes — see plainParent).
func (r *run) provenByLoad(ctx context.Context, st *tableState, fk schema.ForeignKey, p *tableState) (bool, error) {
	if !st.direct || st.refs > 0 || !p.identity || p.refs > 0 || p.targetHasRows || fk.Undeclared ||
		len(fk.Columns) != 1 || len(fk.RefColumns) != 1 || fk.RefColumns[0] != p.sid || p.sid == "" {
		return false, nil
	}
	held := false
	for _, h := range r.held {
		if h.name == fk.Name && (h.display == st.display || h.table == pgquote.Table(st.qname) || h.table == st.qname) &&
			!strings.Contains(h.def, "NOT VALID") {
			held = true
		}
	}
	if !held {
		return false, nil
	}
	return r.plainParent(ctx, p)
}

// plainParent reports whether p's table receives exactly the rows inserted into it: loaded
// straight in (checked then), or an ordinary table without user triggers, rules or row-level
// security (plainTable), so that its ids after the load are its staged ids.
func (r *run) plainParent(ctx context.Context, p *tableState) (bool, error) {
	if p.direct {
		return true, nil
	}
	if v, ok := r.plain[p.qname]; ok {
		return v, nil
	}
	v, err := r.plainTable(ctx, p)
	if err != nil {
		return false, err
	}
	if r.plain == nil {
		r.plain = map[string]bool{}
	}
	r.plain[p.qname] = v
	return v, nil
}

// redoReferences replaces the findings checkReferences added (from base to end) by those of a
// full run, when it left checks to the load: the findings that follow keep their place.
func (r *run) redoReferences(ctx context.Context, base, end int) error {
	if r.leftToLoad == 0 {
		return nil
	}
	rest := slices.Clone(r.findings[end:])
	r.findings = slices.Clone(r.findings[:base])
	r.trustLoad = false
	r.leftToLoad = 0
	if err := r.checkReferences(ctx); err != nil {
		return err
	}
	r.findings = append(r.findings, rest...)
	return nil
}

// diagnoseLoad handles a load that failed (loadErr) after the preflight left reference checks to
// it: the load is rolled back to its savepoint and the checks are run in full; when they find
// something the restore is refused with the preflight's findings, as when the preflight found
// it; otherwise loadErr stands.
func (r *run) diagnoseLoad(ctx context.Context, loadErr error) error {
	if ctx.Err() != nil {
		return loadErr
	}
	if _, err := r.tx.Exec(ctx, "ROLLBACK TO SAVEPOINT "+loadSavepoint); err != nil {
		return fmt.Errorf("%w (then, rolling back the load to look for orphaned rows: %v)", loadErr, err)
	}
	findings, checks := r.findings, r.res.Checks
	r.findings = slices.Clone(r.findings[:r.pre.end])
	if err := r.redoReferences(ctx, r.pre.refsBase, r.pre.refsEnd); err != nil {
		r.findings, r.res.Checks = findings, checks
		return fmt.Errorf("%w (then, looking for orphaned rows: %v)", loadErr, err)
	}
	if !r.findings.HasErrors() {
		r.findings, r.res.Checks = findings, checks
		return loadErr
	}
	// Refused as by the preflight: nothing was loaded.
	r.res.Checks = r.res.Checks[:r.pre.checks]
	for _, st := range r.tables {
		st.inserted, st.updated = 0, 0
	}
	r.log.Debug("load refused: the reference checks left to it find orphaned rows", "load", loadErr)
	return r.refuse()
}
