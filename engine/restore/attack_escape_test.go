package restore_test

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edmsdr/edmsdr/corrupt"
	"github.com/edmsdr/edmsdr/engine/finding"
	"github.com/edmsdr/edmsdr/engine/restore"
)

// The server reads escapes in COPY text that it never prints: \101 (octal) and \x41 (hex) are
// 'A', a backslash before a raw tab or newline makes it data. The rows sent are hashed as the
// digest reads printed rows, where \1 is '1' and x is 'x': a value rewritten into such an escape
// hashes as the original while another value lands. The landing proof must not take it.
func TestAttackEscapesTheServerReadsOtherwise(t *testing.T) {
	ddl := `CREATE TABLE word (id serial PRIMARY KEY, w text NOT NULL, n text);
CREATE TABLE kind (id serial PRIMARY KEY, name text NOT NULL);
CREATE TABLE item (id serial PRIMARY KEY, kind_id int NOT NULL REFERENCES kind (id), label text NOT NULL);`
	rows := `INSERT INTO word (w, n) VALUES ('101', 'x41'), ('plain', E'a\\b'), ('x7e', '');
INSERT INTO kind (name) VALUES ('k');
INSERT INTO item (kind_id, label) VALUES (1, '101'), (1, 'x41');`
	for _, c := range []struct {
		name, table, col string
		row              int
		value            string
	}{
		{"octal", "word", "w", 0, `\101`},         // 'A', hashed as "101"
		{"hex", "word", "n", 0, `\x41`},           // 'A', hashed as "x41"
		{"hex lowercase", "word", "w", 2, `\x7e`}, // '~', hashed as "x7e"
		{"octal after a reference", "item", "label", 0, `\101`},
		{"hex after a reference", "item", "label", 1, `\x41`},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newLandingEnv(t, ddl+rows, ddl)
			e.setField("public."+c.table, c.row, c.col, []byte(c.value))
			res, err := e.restore(restore.Options{})
			refusedOrEqual(t, e, res, err, "word", "kind", "item")
		})
	}
}

// A raw carriage return, which COPY TO never prints (it escapes it as \r): where the first row
// of a COPY ends in one before its newline, the server takes every row to end in "\r\n" and
// drops the carriage returns, while the rows sent hash them as the escaped \r they replace.
func TestAttackRawCarriageReturns(t *testing.T) {
	ddl := `CREATE TABLE note (id serial PRIMARY KEY, body text NOT NULL);
CREATE TABLE kind (id serial PRIMARY KEY, name text NOT NULL);
CREATE TABLE item (id serial PRIMARY KEY, kind_id int NOT NULL REFERENCES kind (id), label text NOT NULL);`
	rows := `INSERT INTO note (body) VALUES (E'line\r'), (E'other\r');
INSERT INTO kind (name) VALUES ('k');
INSERT INTO item (kind_id, label) VALUES (1, E'a\r'), (1, E'b\r');`
	for _, table := range []string{"note", "item"} {
		t.Run(table, func(t *testing.T) {
			e := newLandingEnv(t, ddl+rows, ddl)
			changed := filepath.Join(t.TempDir(), "cr.edmsdr")
			err := corrupt.Rewrite(e.pkg, changed, func(tbl string, cols []string, rows [][]byte) ([][]byte, error) {
				if tbl == "public."+table {
					for i, r := range rows {
						rows[i] = append(bytes.TrimSuffix(r, []byte(`\r`)), '\r')
					}
				}
				return rows, nil
			})
			if err != nil {
				t.Fatal(err)
			}
			e.pkg = changed
			res, err := e.restore(restore.Options{})
			refusedOrEqual(t, e, res, err, "note", "kind", "item")
		})
	}
}

// An event trigger runs its function on the restore's own DDL: while the rows are loaded and
// proven (the constraints and indexes held for the load and added back, the digest's temporary
// tables), and after they were validated (the sequences moved, the temporary tables and views
// dropped). Its function may change them; the restore refuses such a target, nothing written.
func TestAttackEventTriggerAfterValidation(t *testing.T) {
	for name, when := range map[string]string{
		// Under the landing proof, which PASSed the changed rows.
		"on every command": `PERFORM touch_aloner();`,
		// After validation: the full digest PASSed them too.
		"on the sequences moved": `IF tg_tag = 'ALTER SEQUENCE' THEN PERFORM touch_aloner(); END IF;`,
	} {
		t.Run(name, func(t *testing.T) {
			e := newLandingEnv(t, lonerDDL+lonerRows+landingDDL+landingRows, lonerDDL+landingDDL+sideEffect+`
CREATE FUNCTION touch_event() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN `+when+` END $$;
CREATE EVENT TRIGGER edmsdr_test_touch ON ddl_command_end EXECUTE FUNCTION touch_event();`)
			res, err := e.restore(restore.Options{})
			var refused *finding.Refused
			if !errors.As(err, &refused) || res.Committed {
				t.Fatalf("restore: %v (committed %t, verdict %s): want a refusal", err, res.Committed, res.Verdict)
			}
			if !hasKind(res.Findings, finding.Unsupported, "") || !strings.Contains(fmt.Sprint(res.Findings), "edmsdr_test_touch") {
				t.Errorf("findings %v, want the event trigger named as unsupported", res.Findings)
			}
			if n := e.text(`SELECT count(*)::text FROM aloner`); n != "0" {
				t.Errorf("refused, but %s rows committed", n)
			}
			// Disabled, it runs on nothing: the restore goes ahead.
			if _, err := e.conn.Exec(e.ctx, `ALTER EVENT TRIGGER edmsdr_test_touch DISABLE`); err != nil {
				t.Fatal(err)
			}
			res, err = e.restore(restore.Options{})
			refusedOrEqual(t, e, res, err, "aloner", "kind", "plain", "item")
			if !res.Committed {
				t.Errorf("not committed with the event trigger disabled: %v", err)
			}
		})
	}
}

// The manifest's column types are the package's word for what printed the rows. Rewritten to the
// target's (numeric as numeric(10,2), text as varchar(3)) and resealed, they would let the landing
// proof trust text the target's type reads otherwise: 1.005 lands as 1.01, 'ab   ' as 'ab '.
func TestAttackManifestTypesRewrittenToTheTargets(t *testing.T) {
	src := `CREATE TABLE price (id serial PRIMARY KEY, amount numeric NOT NULL, code text NOT NULL);`
	tgt := `CREATE TABLE price (id serial PRIMARY KEY, amount numeric(10,2) NOT NULL, code varchar(3) NOT NULL);`
	e := newLandingEnv(t, src+`INSERT INTO price (amount, code) VALUES (1.005, 'ab   '), (2.5, 'x');`, tgt)
	resealTypes(t, e, map[string]string{"amount": "numeric(10,2)", "code": "character varying(3)"})
	res, err := e.restore(restore.Options{})
	refusedOrEqual(t, e, res, err, "price")
}
