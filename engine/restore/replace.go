package restore

import (
	"context"
	"fmt"
	"strings"

	"github.com/edmsdr/edmsdr/engine/finding"
	"github.com/edmsdr/edmsdr/engine/pgerr"
	"github.com/edmsdr/edmsdr/engine/pgquote"
)

// Mode says how a restore treats the rows the target already holds in the package's tables.
type Mode string

// Restore modes.
const (
	// Merge reconciles the package with the target's rows: matched by natural key, the others
	// inserted under fresh ids (the default).
	Merge Mode = "merge"
	// Replace empties every table of the package in the target and loads the package's rows
	// under their own ids, sequences past them: afterwards those tables hold exactly the
	// package's rows. Tables outside the package are not touched; the restore refuses when one
	// of them references a table it would empty.
	Replace Mode = "replace"
)

// ParseMode validates a mode name ("" is Merge).
func ParseMode(s string) (Mode, error) {
	switch Mode(s) {
	case Merge, Replace:
		return Mode(s), nil
	case "":
		return Merge, nil
	}
	return "", fmt.Errorf("restore mode must be merge or replace, not %q", s)
}

// replacing reports whether the restore runs in replace mode.
func (r *run) replacing() bool { return r.opts.Mode == Replace }

// checkReplace refuses what replace mode cannot do safely, before anything is written: tables
// outside the package referencing a table it would empty (their rows would dangle, or the
// server would refuse the TRUNCATE midway), and reference rows (they name target rows that
// replace mode removes).
func (r *run) checkReplace() {
	for _, t := range r.target.Tables {
		if r.byName[t.QName()] != nil {
			continue
		}
		for _, fk := range t.ForeignKeys {
			if st := r.byName[fk.RefQName()]; st != nil {
				r.findings.Add(finding.Finding{Kind: finding.SchemaMismatch, Table: t.Display(), Constraint: fk.Name,
					Message: fmt.Sprintf("replace mode would empty %s, which this table references and the package does not contain: back it up together with %s, or restore in merge mode", st.display, st.display)})
			}
		}
	}
	for _, st := range r.tables {
		if st.refs > 0 {
			r.findings.Add(finding.Finding{Kind: finding.Unsupported, Table: st.display, Count: st.refs,
				Message: "the package has reference rows (rows it names but does not carry): replace mode would remove the target rows they name; restore it in merge mode"})
		}
	}
}

// emptyTargets truncates every table of the package in one statement (the transaction makes it
// undoable until COMMIT) and records how many rows each held.
func (r *run) emptyTargets(ctx context.Context) error {
	if len(r.tables) == 0 {
		return nil
	}
	names := make([]string, 0, len(r.tables))
	for _, st := range r.tables {
		if err := r.tx.QueryRow(ctx, "SELECT count(*) FROM "+pgquote.Table(st.qname)).Scan(&st.replaced); err != nil {
			return r.sqlError(st.display, err)
		}
		names = append(names, pgquote.Table(st.qname))
	}
	if _, err := r.tx.Exec(ctx, "TRUNCATE "+strings.Join(names, ", ")); err != nil {
		if pgerr.Code(err) == "42501" {
			return fmt.Errorf("restore: replace mode truncates the package's tables and this role may not (grant it TRUNCATE on them, or restore in merge mode): %w", err)
		}
		return r.sqlError("", err)
	}
	for _, st := range r.tables {
		st.targetHasRows = false
	}
	r.log.Debug("emptied the package's tables for replace mode", "tables", len(names))
	return nil
}

// buildKeptMap maps every staged id of st to itself: replace mode keeps the package's ids.
func (r *run) buildKeptMap(ctx context.Context, st *tableState) error {
	sql := fmt.Sprintf("INSERT INTO %s (src, tgt, matched, lvl) SELECT s.%s, s.%s, false, 0 FROM %s s WHERE NOT s._edmsdr_ref",
		st.mapT, pgquote.Ident(st.sid), pgquote.Ident(st.sid), st.stg)
	if _, err := r.exec(ctx, st.display, sql); err != nil {
		return err
	}
	_, err := r.exec(ctx, st.display, "ANALYZE "+st.mapT)
	return err
}

// replacedAny reports whether replace mode removed rows (then even an empty package changes
// the target).
func (r *run) replacedAny() bool {
	for _, st := range r.tables {
		if st.replaced > 0 {
			return true
		}
	}
	return false
}

// lockMode is the lock taken on the package's tables: replace mode truncates them, which needs
// ACCESS EXCLUSIVE; taking it first avoids upgrading a lock (and a deadlock) midway.
func (r *run) lockMode() string {
	if r.replacing() {
		return "ACCESS EXCLUSIVE"
	}
	return "SHARE ROW EXCLUSIVE"
}
