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
//
// Likewise the staged rows' uniqueness (precheckStaging): a table loaded straight in has its
// primary key and unique constraints dropped for the load and built again after it, over exactly
// the staged rows; a build fails exactly when the check would find a duplicated id or natural
// key, where the constraint covers exactly those columns and no two NULLs pass it (NOT NULL
// columns, or NULLS NOT DISTINCT). Such a check is left to the build; steps 3 to 5 run inside a
// savepoint then, and any failure in them rolls back to it and runs the staged-row checks in
// full: when they find something, the refusal is theirs, as before (diagnoseStaged).

// loadSavepoint is the savepoint the load runs in when reference checks were left to it;
// stagedSavepoint the one steps 3 to 5 run in when uniqueness checks were left to the index builds.
const (
	loadSavepoint   = "edmsdr_load"
	stagedSavepoint = "edmsdr_staged"
)

// provenByLoad reports whether adding fk of st back after the load proves what checkReferences
// would find about it in the staged rows: fk is held (dropped for the load, added back
// validated), one column referencing p's surrogate id; st is loaded straight in (its staging is
// a view over its table, which was empty: the rows validated are the staged rows), and p keeps
// every staged id (identity map: empty before the restore, no reference rows; or a tree's map
// there that checkReferences found to map every staged row, keptAll; every staged row
// inserted with its id, into a table whose rows nothing but that insert writes — see plainParent —
// and that no trigger, rule or user function of any table the restore writes may write:
// writesElsewhere, as for the landing proof).
func (r *run) provenByLoad(ctx context.Context, st *tableState, fk schema.ForeignKey, p *tableState) (bool, error) {
	if !st.direct || st.refs > 0 || !(p.identity || p.keptAll) || p.refs > 0 || p.targetHasRows || fk.Undeclared ||
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
	// Nothing but the restore may write p's rows: a trigger, rule or user function run by
	// writing any table of the restore may write p (a row the package lacks would then satisfy
	// the foreign key, which the staged rows' check does not see), as for the landing proof.
	if r.elsewhere == nil {
		what, err := r.writesElsewhere(ctx)
		if err != nil {
			return false, err
		}
		r.elsewhere = &what
	}
	if *r.elsewhere != "" {
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
	r.trustLoad, r.leftToLoad = false, 0
	return r.rerunFindings(ctx, base, end, r.checkReferences)
}

// rerunFindings replaces the findings from base to end by those check adds when run again (in
// full): the findings after end keep their place.
func (r *run) rerunFindings(ctx context.Context, base, end int, check func(context.Context) error) error {
	rest := slices.Clone(r.findings[end:])
	r.findings = slices.Clone(r.findings[:base])
	if err := check(ctx); err != nil {
		return err
	}
	r.findings = append(r.findings, rest...)
	return nil
}

// diagnoseLoad handles a load that failed (loadErr) after the preflight left reference checks to
// it: see diagnose; refused, the load's counts go back to nothing loaded.
func (r *run) diagnoseLoad(ctx context.Context, loadErr error) error {
	return r.diagnose(ctx, loadErr, diagnosis{
		savepoint: loadSavepoint, findings: r.pre.end, checks: r.pre.checks,
		redo:  func(ctx context.Context) error { return r.redoReferences(ctx, r.pre.refsBase, r.pre.refsEnd) },
		reset: func(st *tableState) { st.inserted, st.updated = 0, 0 },
		look:  "orphaned rows", refused: "load refused: the reference checks left to it find orphaned rows",
	})
}

// diagnosis is what diagnose needs of the checks that were left to later steps: the savepoint
// taken before those steps, where the findings and checks ended before them, how to run the
// checks in full, what to reset in each table when they refuse, and the debug lines' words.
type diagnosis struct {
	savepoint     string
	findings      int
	checks        int
	redo          func(context.Context) error
	reset         func(*tableState)
	look, refused string
}

// diagnose handles a failure (stepErr) of steps run inside d.savepoint after checks were left to
// them: everything since is rolled back to the savepoint and the checks are run in full; when
// they find something the restore is refused with their findings, as when they ran first;
// otherwise, or when the diagnosis itself fails (a connection lost), stepErr stands.
func (r *run) diagnose(ctx context.Context, stepErr error, d diagnosis) error {
	if ctx.Err() != nil {
		return stepErr
	}
	if _, err := r.tx.Exec(ctx, "ROLLBACK TO SAVEPOINT "+d.savepoint); err != nil {
		r.log.Debug("rolling back to look for "+d.look+" failed", "error", err)
		return stepErr
	}
	findings, checks := r.findings, r.res.Checks
	r.findings = slices.Clone(r.findings[:d.findings])
	if err := d.redo(ctx); err != nil {
		r.findings, r.res.Checks = findings, checks
		r.log.Debug("looking for "+d.look+" failed", "error", err)
		return stepErr
	}
	if !r.findings.HasErrors() {
		r.findings, r.res.Checks = findings, checks
		return stepErr
	}
	// Refused as when the checks ran first: nothing from the steps after them stands.
	r.res.Checks = r.res.Checks[:d.checks]
	for _, st := range r.tables {
		d.reset(st)
	}
	r.log.Debug(d.refused, "after", stepErr)
	return r.refuse()
}

// duplicateGroupsUnlessProven is duplicateGroups over cols, unless the index builds after the load
// prove it (provenByIndex): then it counts the check as left to them and returns 0.
func (r *run) duplicateGroupsUnlessProven(ctx context.Context, st *tableState, cols []string) (int64, error) {
	if r.trustIndexes && r.provenByIndex(st, cols) {
		r.leftToIndexes++
		return 0, nil
	}
	return r.duplicateGroups(ctx, st, pgquote.Idents(cols))
}

// provenByIndex reports whether building st's held indexes again after the load proves that no
// two staged rows share cols: st is loaded straight in (its rows are the staged rows, and nothing
// else writes them), and a primary key or unique constraint over exactly cols, through which no
// two NULLs pass, is held for the load (dropped, built again by buildIndexes).
func (r *run) provenByIndex(st *tableState, cols []string) bool {
	if !st.direct || len(cols) == 0 {
		return false
	}
	// Nothing else writes them: no trigger, rule or user function that writing any table of the
	// restore runs (writesElsewhere, asked before the indexes were held) may delete a duplicate
	// before the build.
	if r.elsewhere == nil || *r.elsewhere != "" {
		return false
	}
	nullable := false
	for _, c := range cols {
		if col := st.t.Column(c); col == nil || !col.NotNull {
			nullable = true
		}
	}
	for _, u := range st.t.Uniques {
		if !(u.Constraint || u.Primary) || u.Predicate != "" || !sameSet(u.Columns, cols) || (nullable && !u.NullsNotDistinct) {
			continue
		}
		for _, h := range r.heldIndexes {
			if h.name == u.Name && h.display == st.display {
				return true
			}
		}
	}
	return false
}

// redoStaging replaces the findings precheckStaging added by those of a full run, when it left
// checks to the index builds: the findings that follow keep their place.
func (r *run) redoStaging(ctx context.Context) error {
	if r.leftToIndexes == 0 {
		return nil
	}
	r.trustIndexes, r.leftToIndexes = false, 0
	return r.rerunFindings(ctx, r.stagedAt.base, r.stagedAt.end, r.precheckStaging)
}

// mapCheckLoad runs steps 3 to 5 (maps, preflight, load); inside a savepoint when uniqueness
// checks of the staged rows were left to the index builds, so that a failure can be diagnosed
// by them (diagnoseStaged).
func (r *run) mapCheckLoad(ctx context.Context) error {
	steps := func() error {
		if err := r.mapIDs(ctx); err != nil {
			return err
		}
		if err := r.preflight(ctx); err != nil {
			return err
		}
		return r.load(ctx)
	}
	if r.leftToIndexes == 0 {
		return steps()
	}
	if _, err := r.tx.Exec(ctx, "SAVEPOINT "+stagedSavepoint); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	r.stagedAt.saved, r.stagedAt.checks = len(r.findings), len(r.res.Checks)
	if err := steps(); err != nil {
		return r.diagnoseStaged(ctx, err)
	}
	if _, err := r.tx.Exec(ctx, "RELEASE SAVEPOINT "+stagedSavepoint); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	return nil
}

// diagnoseStaged handles a failure of steps 3 to 5 (stepErr) after precheckStaging left
// uniqueness checks to the index builds: see diagnose; refused, nothing is mapped or loaded.
func (r *run) diagnoseStaged(ctx context.Context, stepErr error) error {
	return r.diagnose(ctx, stepErr, diagnosis{
		savepoint: stagedSavepoint, findings: r.stagedAt.saved, checks: r.stagedAt.checks,
		redo:  r.redoStaging,
		reset: func(st *tableState) { st.inserted, st.updated, st.matched, st.diverged = 0, 0, 0, 0 },
		look:  "duplicated rows", refused: "refused: the staged-row checks left to the index builds find duplicated rows",
	})
}
