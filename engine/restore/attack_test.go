package restore_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/edmsdr/edmsdr/engine/backup"
	"github.com/edmsdr/edmsdr/engine/digest"
	"github.com/edmsdr/edmsdr/engine/finding"
	"github.com/edmsdr/edmsdr/engine/pack"
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
	conn := localpgtest.Shared(e.t).Connect(e.t, dsn)
	// The same settings on both sides, whatever the database's defaults.
	if err := digest.ApplySettings(e.ctx, conn, false); err != nil {
		e.t.Fatal(err)
	}
	q := `SELECT coalesce(string_agg(t::text, E'\n' ORDER BY id), '') FROM ` + table + ` t`
	if err := conn.QueryRow(e.ctx, q).Scan(&s); err != nil {
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
	wantEvidence(t, res, "aloner", "full digest")
}

func TestAttackCheckWritingAnotherTable(t *testing.T) {
	e := newLandingEnv(t, lonerDDL+lonerRows+landingDDL+landingRows, lonerDDL+landingDDL+sideEffect+`
ALTER TABLE item ADD CONSTRAINT item_side CHECK (touch_aloner() IS NOT NULL);`)
	res, err := e.restore(restore.Options{})
	refusedOrEqual(t, e, res, err, "aloner", "kind", "plain")
	wantEvidence(t, res, "aloner", "full digest")
}

func TestAttackDomainCheckWritingAnotherTable(t *testing.T) {
	e := newLandingEnv(t, lonerDDL+lonerRows+landingDDL+landingRows, lonerDDL+sideEffect+`
CREATE DOMAIN lbl AS text CHECK (touch_aloner() IS NOT NULL);`+strings.Replace(landingDDL, "label text NOT NULL", "label lbl NOT NULL", 1))
	res, err := e.restore(restore.Options{})
	refusedOrEqual(t, e, res, err, "aloner", "kind", "plain")
	wantEvidence(t, res, "aloner", "full digest")
}

func TestAttackIndexExpressionWritingAnotherTable(t *testing.T) {
	// An IMMUTABLE function may not write, but one it calls may.
	e := newLandingEnv(t, lonerDDL+lonerRows+landingDDL+landingRows, lonerDDL+landingDDL+sideEffect+`
CREATE FUNCTION folded(text) RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$ BEGIN PERFORM touch_aloner(); RETURN lower($1); END $$;
CREATE INDEX item_folded ON item (folded(label));`)
	res, err := e.restore(restore.Options{})
	refusedOrEqual(t, e, res, err, "aloner", "kind", "plain")
	wantEvidence(t, res, "aloner", "full digest")
}

func TestAttackStatementAndDeferredTriggers(t *testing.T) {
	shared := newSourceEnv(t, lonerDDL+lonerRows+landingDDL+landingRows)
	for name, trig := range map[string]string{
		"statement": `CREATE TRIGGER item_touch AFTER INSERT ON item FOR EACH STATEMENT EXECUTE FUNCTION touch_trigger();`,
		// Fired at commit, after validation, unless the restore makes it fire before.
		"deferred": `CREATE CONSTRAINT TRIGGER item_touch AFTER INSERT ON item DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION touch_trigger();`,
	} {
		t.Run(name, func(t *testing.T) {
			e := shared.forTest(t)
			e.newTarget(lonerDDL + landingDDL + sideEffect + `
CREATE FUNCTION touch_trigger() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM touch_aloner(); RETURN NULL; END $$;` + trig)
			// A table with a deferrable trigger keeps its indexes for the load (building one
			// again under pending trigger events is an error), and validation fires the
			// deferred events first: the restore refuses the altered rows, or commits equal ones.
			res, err := e.restore(restore.Options{})
			refusedOrEqual(t, e, res, err, "aloner", "kind", "plain", "item")
		})
	}
}

// edgeDDL has text that COPY escapes and intervals whose signs a sql_standard IntervalStyle
// would read otherwise.
const edgeDDL = `CREATE TABLE edge (id serial PRIMARY KEY, s text, iv interval, ts timestamp, tz timestamptz, d date, f float8, b bytea);`

const edgeRows = `INSERT INTO edge (s, iv, ts, tz, d, f, b) VALUES
 (E'\\N', '-1 day', '2024-03-04 05:06:07', '2024-03-04 05:06:07+13:45', '2024-03-04', 0.1, '\x5c4e'),
 ('\N', '-1 day +02:00', '0001-01-01 00:00:00 BC', '1901-12-13 20:45:52+00', '0001-01-01 BC', -0.0, '\x'),
 ('', '1 year -1 month', 'infinity', '-infinity', 'infinity', 1e308, NULL),
 (NULL, '-00:00:01', '2000-01-01', '2038-01-19 03:14:08+00', '2000-01-01', 'NaN', '\x00'),
 (E'\\.', '-1 year -2 mons -3 days -04:05:06', NULL, NULL, NULL, NULL, NULL),
 (E'a\rb\tc\nd\\e', '-3 days 4 hours', NULL, NULL, NULL, NULL, NULL),
 (E'\\\\x', '1 day -1 second', NULL, NULL, NULL, NULL, NULL),
 (E'\u00e9\u20ac\U0001F511', '@ 1 hour ago', NULL, NULL, NULL, NULL, NULL);`

func TestAttackSessionDefaultsOfTheTarget(t *testing.T) {
	// The target database prints and reads values otherwise by default: the restore pins its
	// own settings, so the rows land as in the source (with the landing proof or not).
	e := newLandingEnv(t, edgeDDL+edgeRows, edgeDDL+`
DO $$ BEGIN
  EXECUTE format('ALTER DATABASE %I SET DateStyle = %L', current_database(), 'SQL, DMY');
  EXECUTE format('ALTER DATABASE %I SET IntervalStyle = %L', current_database(), 'sql_standard');
  EXECUTE format('ALTER DATABASE %I SET TimeZone = %L', current_database(), 'Pacific/Chatham');
  EXECUTE format('ALTER DATABASE %I SET extra_float_digits = %s', current_database(), -15);
  EXECUTE format('ALTER DATABASE %I SET bytea_output = %L', current_database(), 'escape');
END $$;`)
	e.conn = localpgtest.Shared(t).Connect(t, e.tgt) // a session with the database's defaults
	if got := e.text(`SELECT current_setting('IntervalStyle')`); got != "sql_standard" {
		t.Fatalf("IntervalStyle %s: the database's defaults are not in force", got)
	}
	res, err := e.restore(restore.Options{})
	if err != nil || !res.Committed || res.Verdict != finding.Pass {
		t.Fatalf("restore: %v (findings %v)", err, res.Findings)
	}
	if got, want := rowsText(e, e.tgt, "edge"), rowsText(e, e.src, "edge"); got != want {
		t.Errorf("edge differs from the source:\n target %q\n source %q", got, want)
	}
	if got, want := e.digestOf(e.tgt), e.digestOf(e.src); got != want {
		t.Errorf("target digest %s, source %s", got, want)
	}
}

func TestAttackPartitionedTarget(t *testing.T) {
	e := newLandingEnv(t, edgeDDL+edgeRows, strings.Replace(edgeDDL, "id serial PRIMARY KEY", "id serial", 1)+`
ALTER TABLE edge RENAME TO edge_old; DROP TABLE edge_old;
CREATE TABLE edge (id serial, s text, iv interval, ts timestamp, tz timestamptz, d date, f float8, b bytea, PRIMARY KEY (id)) PARTITION BY RANGE (id);
CREATE TABLE edge_low PARTITION OF edge FOR VALUES FROM (MINVALUE) TO (4);
CREATE TABLE edge_high PARTITION OF edge FOR VALUES FROM (4) TO (MAXVALUE);`)
	res, err := e.restore(restore.Options{})
	if err != nil || !res.Committed || res.Verdict != finding.Pass {
		t.Fatalf("restore: %v (findings %v)", err, res.Findings)
	}
	if table(t, res, "edge").Direct {
		t.Errorf("a partitioned table was loaded directly")
	}
	if got, want := rowsText(e, e.tgt, "edge"), rowsText(e, e.src, "edge"); got != want {
		t.Errorf("edge differs from the source:\n target %q\n source %q", got, want)
	}
	if n := e.text(`SELECT count(*)::text FROM edge_high`); n != "5" {
		t.Errorf("edge_high holds %s rows, want 5", n)
	}
}

func TestAttackDirectLoadOfBadRows(t *testing.T) {
	shared := newSourceEnv(t, lonerDDL+lonerRows+landingDDL+landingRows)
	for name, tc := range map[string]struct {
		table, column, value string
		kinds                []finding.Kind
	}{
		"duplicate id":   {"public.aloner", "id", "1", []finding.Kind{finding.Duplicated, finding.Constraint}},
		"missing parent": {"public.item", "kind_id", "99", []finding.Kind{finding.Orphaned, finding.Constraint}},
	} {
		t.Run(name, func(t *testing.T) {
			e := shared.forTest(t)
			e.newTarget(lonerDDL + landingDDL)
			e.setField(tc.table, -1, tc.column, []byte(tc.value))
			res, err := e.restore(restore.Options{})
			var refused *finding.Refused
			if !errors.As(err, &refused) || res.Committed {
				t.Fatalf("restore: %v (committed %t), want a refusal", err, res.Committed)
			}
			found := false
			for _, k := range tc.kinds {
				found = found || hasKind(res.Findings, k, strings.TrimPrefix(tc.table, "public."))
			}
			if !found {
				t.Errorf("findings %v, want one of %v on %s", res.Findings, tc.kinds, tc.table)
			}
			for _, tbl := range []string{"aloner", "kind", "plain", "item"} {
				if n := e.text(fmt.Sprintf(`SELECT count(*)::text FROM %s`, tbl)); n != "0" {
					t.Errorf("%s: %s rows committed", tbl, n)
				}
			}
		})
	}
}

// wrappedDDL and wrappedRows are landingDDL and landingRows with item.label of a composite type.
var (
	wrappedDDL  = strings.Replace(landingDDL, "label text NOT NULL", "label wrapped NOT NULL", 1)
	wrappedRows = strings.NewReplacer("'one',", "'(one)',", `E'two\t"'`, "'(two)'", "'three',", "'(three)',").Replace(landingRows)
)

func TestAttackCompositeAndPolicyFunctions(t *testing.T) {
	for name, tgt := range map[string]string{
		// item.label is a composite whose field is a domain that checks through the function.
		"composite domain": sideEffect + `
CREATE DOMAIN checked AS text CHECK (touch_aloner() IS NOT NULL);
CREATE TYPE wrapped AS (v checked);` + wrappedDDL,
		// A row security policy the owner is held to, on item.
		"policy": landingDDL + sideEffect + `
ALTER TABLE item ENABLE ROW LEVEL SECURITY; ALTER TABLE item FORCE ROW LEVEL SECURITY;
CREATE POLICY item_all ON item USING (true) WITH CHECK (touch_aloner() IS NOT NULL);`,
	} {
		t.Run(name, func(t *testing.T) {
			src := lonerDDL + lonerRows + landingDDL + landingRows
			if name == "composite domain" {
				src = lonerDDL + lonerRows + `CREATE TYPE wrapped AS (v text);` + wrappedDDL + wrappedRows
			}
			e := newLandingEnv(t, src, lonerDDL+tgt)
			res, err := e.restore(restore.Options{})
			refusedOrEqual(t, e, res, err, "aloner", "kind", "plain")
			wantEvidence(t, res, "aloner", "full digest")
		})
	}
}

func TestAttackTargetInAnotherEncoding(t *testing.T) {
	// Non-ASCII text into a LATIN1 or SQL_ASCII target: the server's text is not the client's,
	// so no landing proof; the restore refuses, or the rows read back as the source's.
	ddl := `CREATE TABLE word (id serial PRIMARY KEY, w text NOT NULL, c char(4), v varchar(3));`
	rows := `INSERT INTO word (w, c, v) VALUES ('café', 'é', 'àçü'), (E'\\N \u00ff', NULL, ''), ('plain', 'ab', 'xyz');`
	for _, enc := range []string{"LATIN1", "SQL_ASCII"} {
		t.Run(enc, func(t *testing.T) {
			tc := localpgtest.Shared(t)
			e := &env{t: t, ctx: localpgtest.Context(t, 2*time.Minute)}
			e.src = tc.NewDatabase(t, "esrc")
			if _, err := tc.Connect(t, e.src).Exec(e.ctx, ddl+rows); err != nil {
				t.Fatalf("source: %v", err)
			}
			name := fmt.Sprintf("etgt_%s_%d", strings.ToLower(enc), time.Now().UnixNano())
			if _, err := tc.Connect(t, e.src).Exec(e.ctx, fmt.Sprintf(`CREATE DATABASE %s ENCODING '%s' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0`, name, enc)); err != nil {
				t.Fatalf("create the target: %v", err)
			}
			t.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				if err := tc.DropDatabase(ctx, name); err != nil {
					t.Errorf("drop %s: %v", name, err)
				}
			})
			e.tgt = tc.DSN(name)
			e.conn = tc.Connect(t, e.tgt)
			if _, err := e.conn.Exec(e.ctx, ddl); err != nil {
				t.Fatalf("target: %v", err)
			}
			e.pkg = e.backup(nil)
			// Today LATIN1 is refused by the full digest (it hashes the server's bytes) and
			// SQL_ASCII by varchar(3), which counts bytes there: refusals, never a wrong PASS.
			res, err := e.restore(restore.Options{})
			refusedOrEqual(t, e, res, err, "word")
			if res.Committed {
				wantEvidence(t, res, "word", "full digest")
			} else if n := e.text(`SELECT count(*)::text FROM word`); n != "0" {
				t.Errorf("refused, but %s rows committed", n)
			}
		})
	}
}

func TestAttackTablesSplitInManyEntries(t *testing.T) {
	// 16 KiB entries: every table of some size spans many, rows with escapes on the seams; the
	// rows hashed as sent across entries must still be the rows that landed.
	ddl := `CREATE TABLE kind (id serial PRIMARY KEY, name text NOT NULL UNIQUE);
CREATE TABLE item (id serial PRIMARY KEY, kind_id int NOT NULL REFERENCES kind (id), label text, n numeric);`
	rows := `INSERT INTO kind (name) SELECT 'k' || i || E'\\\t' FROM generate_series(1, 1500) i;
INSERT INTO item (kind_id, label, n) SELECT 1 + i % 1500, CASE WHEN i % 7 = 0 THEN NULL WHEN i % 5 = 0 THEN '\N' ELSE repeat(E'a\tb\\c\n', i % 11) END, i / 3.0
  FROM generate_series(1, 4000) i;`
	e := newLandingEnv(t, ddl+rows, ddl)
	cfg, err := pgx.ParseConfig(e.src)
	if err != nil {
		t.Fatal(err)
	}
	e.pkg = filepath.Join(t.TempDir(), "split.edmsdr")
	if _, err := backup.Run(e.ctx, cfg, e.pkg, backup.Options{Tool: "attack test", Writer: pack.WriterOptions{ChunkBytes: 16 << 10}}); err != nil {
		t.Fatalf("backup: %v", err)
	}
	res, err := e.restore(restore.Options{})
	if err != nil || !res.Committed || res.Verdict != finding.Pass {
		t.Fatalf("restore: %v (findings %v)", err, res.Findings)
	}
	for _, tbl := range []string{"kind", "item"} {
		wantEvidence(t, res, tbl, "landing proof")
		if got, want := rowsText(e, e.tgt, tbl), rowsText(e, e.src, tbl); got != want {
			t.Errorf("%s differs from the source", tbl)
		}
	}
	if got, want := e.digestOf(e.tgt), e.digestOf(e.src); got != want {
		t.Errorf("target digest %s, source %s", got, want)
	}
}
