package restore_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/edmsdr/edmsdr/engine/finding"
	"github.com/edmsdr/edmsdr/engine/restore"
	"github.com/edmsdr/edmsdr/fixtures/localpg/localpgtest"
)

// Attacks on the landing proof and the direct load (issue 11): each target changes, or could
// change, what lands; the restore must refuse, or commit rows equal to the source's, as an
// independent comparison (the rows printed by both servers) shows, not only its own verdict.

// rowsText prints every row of table in the database dsn names, in id order.
func rowsText(e *env, dsn, table string) string {
	e.t.Helper()
	var s string
	q := `SELECT coalesce(string_agg(t::text, E'\n' ORDER BY id), '') FROM ` + table + ` t`
	if err := localpgtest.Shared(e.t).Connect(e.t, dsn).QueryRow(e.ctx, q).Scan(&s); err != nil {
		e.t.Fatalf("%s: %v", q, err)
	}
	return s
}

// refusedOrEqual fails unless the restore was refused with nothing committed, or committed with
// every one of tables equal to the source's.
func refusedOrEqual(t *testing.T, e *env, res *restore.Result, err error, tables ...string) {
	t.Helper()
	var refused *finding.Refused
	if errors.As(err, &refused) {
		if res.Committed {
			t.Fatalf("refused (%v) but committed", err)
		}
		return
	}
	if err != nil || !res.Committed || res.Verdict != finding.Pass {
		t.Fatalf("restore: %v (committed %t, verdict %s, findings %v)", err, res.Committed, res.Verdict, res.Findings)
	}
	for _, tbl := range tables {
		if got, want := rowsText(e, e.tgt, tbl), rowsText(e, e.src, tbl); got != want {
			t.Errorf("PASS, but %s differs from the source:\n target %q\n source %q\n evidence %q", tbl, got, want, digestEvidence(t, res, tbl))
		}
	}
}

// loner is a table nothing refers to (its digest stands alone), loaded before item.
const lonerDDL = `
CREATE TABLE aloner (id serial PRIMARY KEY, val text NOT NULL);`
const lonerRows = `
INSERT INTO aloner (val) VALUES ('one'), ('two');`

// sideEffect changes aloner's rows when called: a function the target's DDL can hide in a column
// default, a CHECK constraint or a domain's CHECK of another table the restore writes.
const sideEffect = `
CREATE FUNCTION touch_aloner() RETURNS text LANGUAGE plpgsql VOLATILE AS $$
BEGIN UPDATE aloner SET val = val || '!' WHERE val NOT LIKE '%!'; RETURN 'x'; END $$;`

func TestAttackDefaultWritingAnotherTable(t *testing.T) {
	e := newLandingEnv(t, lonerDDL+lonerRows+landingDDL+landingRows, lonerDDL+landingDDL+sideEffect+`
ALTER TABLE item ADD COLUMN note text DEFAULT touch_aloner();`)
	res, err := e.restore(restore.Options{})
	refusedOrEqual(t, e, res, err, "aloner", "kind", "plain")
	if ev := digestEvidence(t, res, "aloner"); !strings.HasPrefix(ev, "full digest: ") {
		t.Errorf("aloner: digest evidence %q, want the full digest", ev)
	}
}

func TestAttackCheckWritingAnotherTable(t *testing.T) {
	e := newLandingEnv(t, lonerDDL+lonerRows+landingDDL+landingRows, lonerDDL+landingDDL+sideEffect+`
ALTER TABLE item ADD CONSTRAINT item_side CHECK (touch_aloner() IS NOT NULL);`)
	res, err := e.restore(restore.Options{})
	refusedOrEqual(t, e, res, err, "aloner", "kind", "plain")
	if ev := digestEvidence(t, res, "aloner"); !strings.HasPrefix(ev, "full digest: ") {
		t.Errorf("aloner: digest evidence %q, want the full digest", ev)
	}
}

func TestAttackDomainCheckWritingAnotherTable(t *testing.T) {
	e := newLandingEnv(t, lonerDDL+lonerRows+landingDDL+landingRows, lonerDDL+sideEffect+`
CREATE DOMAIN lbl AS text CHECK (touch_aloner() IS NOT NULL);`+strings.Replace(landingDDL, "label text NOT NULL", "label lbl NOT NULL", 1))
	res, err := e.restore(restore.Options{})
	refusedOrEqual(t, e, res, err, "aloner", "kind", "plain")
	if ev := digestEvidence(t, res, "aloner"); !strings.HasPrefix(ev, "full digest: ") {
		t.Errorf("aloner: digest evidence %q, want the full digest", ev)
	}
}

func TestAttackIndexExpressionWritingAnotherTable(t *testing.T) {
	// An IMMUTABLE function may not write, but one it calls may.
	e := newLandingEnv(t, lonerDDL+lonerRows+landingDDL+landingRows, lonerDDL+landingDDL+sideEffect+`
CREATE FUNCTION folded(text) RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$ BEGIN PERFORM touch_aloner(); RETURN lower($1); END $$;
CREATE INDEX item_folded ON item (folded(label));`)
	res, err := e.restore(restore.Options{})
	refusedOrEqual(t, e, res, err, "aloner", "kind", "plain")
	if ev := digestEvidence(t, res, "aloner"); !strings.HasPrefix(ev, "full digest: ") {
		t.Errorf("aloner: digest evidence %q, want the full digest", ev)
	}
}
