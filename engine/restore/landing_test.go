package restore_test

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/edmsdr/edmsdr/engine/finding"
	"github.com/edmsdr/edmsdr/engine/restore"
	"github.com/edmsdr/edmsdr/fixtures/localpg/localpgtest"
)

// landingDDL has a table of hostile plain values (every type the landing proof trusts), a lookup
// table and a table referring to it (its references hashed as their targets' identities).
const landingDDL = `
CREATE TABLE plain (id serial PRIMARY KEY, name text NOT NULL, amount numeric, ratio float8, r4 real,
  at timestamptz, ts timestamp(3), d date, tm time, iv interval, b bytea, j jsonb, js json, tags text[],
  ip inet, net cidr, u uuid, flag bool, code char(5), big bigint, small smallint, v varchar(20));
CREATE TABLE kind (id serial PRIMARY KEY, name text NOT NULL UNIQUE);
CREATE TABLE item (id serial PRIMARY KEY, a_first text, kind_id int NOT NULL REFERENCES kind (id), label text NOT NULL,
  other_id int REFERENCES kind (id), z_plain_id int REFERENCES plain (id));`

const landingRows = `
INSERT INTO plain (name, amount, ratio, r4, at, ts, d, tm, iv, b, j, js, tags, ip, net, u, flag, code, big, small, v) VALUES
 (E'tab\there\nnewline', 0.1, 0.1, 0.1, '2024-02-29 23:59:59.999999+05:30', '2024-01-01 00:00:00.1239', '4713-01-01 BC', '24:00:00',
  '1 year 2 mons -3 days 04:05:06.789', '\x00ff5c', '{"b": [1, 2.50, null], "a": "\u00e9", "": {}}', ' { "k" : 1 , "k": 2} ',
  '{a,"b c","d\"e",NULL,""}', '192.168.0.1/24', '10.0.0.0/8', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', true, 'ab', -9223372036854775808, -32768, 'ünï cödé 🔑'),
 ('quote " and \ backslash, (parens)', 'NaN', 'NaN', 'NaN', 'infinity', '-infinity', '2000-02-29', '00:00:00.000001',
  '-178000000 years', '', '[]', 'null', '{}', '::1', '2001:db8::/32', '00000000-0000-0000-0000-000000000000', false, '', 9223372036854775807, 32767, ''),
 ('', 123456789012345678901234567890.123456789, 1.7976931348623157e308, 3.4e38, '0044-03-15 12:00:00+00 BC', '1999-12-31 23:59:59.999', '2024-12-31', '12:34:56',
  '0', '\x', '{"n": 1e-7, "big": 12345678901234567890}', '"s"', '{{1,2},{3,4}}', '0.0.0.0/0', '0.0.0.0/0', NULL, NULL, NULL, 0, 0, NULL),
 (' spaced ', -0.0, '-0', 1e-45, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
 ('NULL', 1, 5e-324, '-Infinity', '1970-01-01 00:00:00+00', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
 ('third', 1.005, 0.30000000000000004, 16777217, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
 ('fourth', 2.5, 1e-300, 1.17549435e-38, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
 ('fifth', 3, 'Infinity', 0.3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
INSERT INTO kind (name) VALUES ('a'), ('b');
INSERT INTO item (a_first, kind_id, label, other_id, z_plain_id) VALUES
 ('x y', 1, 'one', NULL, 1), (NULL, 2, E'two\t"', 1, NULL), ('', 2, 'three', 2, 8);`

// newLandingEnv backs up a source (srcSQL) and opens an empty target (tgtSQL).
func newLandingEnv(t *testing.T, srcSQL, tgtSQL string) *env {
	t.Helper()
	e := newSourceEnv(t, srcSQL)
	e.newTarget(tgtSQL)
	return e
}

// digestEvidence is the evidence of table's digest check.
func digestEvidence(t *testing.T, res *restore.Result, table string) string {
	t.Helper()
	for _, c := range res.Checks {
		if c.Name == "digest" && c.Table == table {
			return c.Evidence
		}
	}
	t.Fatalf("no digest check for %s in %+v", table, res.Checks)
	return ""
}

// wantEvidence requires table's digest check to have been made by proof: "landing proof" (the
// rows as sent) or "full digest".
func wantEvidence(t *testing.T, res *restore.Result, table, proof string) {
	t.Helper()
	if ev := digestEvidence(t, res, table); !strings.HasPrefix(ev, proof+": ") {
		t.Errorf("%s: digest evidence %q, want the %s", table, ev, proof)
	}
}

// expectRefused requires the restore that returned res and err to have been refused
// (*finding.Refused, nothing committed), with a finding of kind on table.
func expectRefused(t *testing.T, res *restore.Result, err error, kind finding.Kind, table string) {
	t.Helper()
	var refused *finding.Refused
	if !errors.As(err, &refused) || res.Committed {
		t.Fatalf("restore: %v (committed %t, verdict %s, findings %v), want a refusal", err, res.Committed, res.Verdict, res.Findings)
	}
	if !hasKind(res.Findings, kind, table) {
		t.Errorf("findings %v, want %s on %s", res.Findings, kind, table)
	}
}

func hasKind(l finding.List, k finding.Kind, table string) bool {
	for _, f := range l {
		if f.Kind == k && f.Table == table {
			return true
		}
	}
	return false
}

func TestLandingProofForRowsThatLandAsSent(t *testing.T) {
	e := newLandingEnv(t, landingDDL+landingRows, landingDDL)
	res, err := e.restore(restore.Options{})
	if err != nil || !res.Committed || res.Verdict != finding.Pass {
		t.Fatalf("restore: %v (committed %t, verdict %s, findings %v)", err, res.Committed, res.Verdict, res.Findings)
	}
	for tbl, proof := range map[string]string{"plain": "landing proof: ", "kind": "landing proof: ", "item": "landing proof: "} {
		if ev := digestEvidence(t, res, tbl); !strings.HasPrefix(ev, proof) {
			t.Errorf("%s: digest evidence %q, want the %s", tbl, ev, strings.TrimSuffix(proof, ": "))
		}
	}
	if got, want := e.digestOf(e.tgt), e.digestOf(e.src); got != want {
		t.Errorf("target digest %s, source %s", got, want)
	}
	if res.RestoredDigest != res.PackageDigest {
		t.Errorf("restored digest %s, package %s", res.RestoredDigest, res.PackageDigest)
	}
	// Every value reads back as the source prints it (floats included).
	q := `SELECT md5(string_agg(p::text, E'\n' ORDER BY id)) FROM plain p`
	var src string
	if err := localpgtest.Shared(t).Connect(t, e.src).QueryRow(e.ctx, q).Scan(&src); err != nil {
		t.Fatal(err)
	}
	if got := e.text(q); got != src {
		t.Errorf("restored rows print as %s, the source's as %s", got, src)
	}
}

func TestLandingProofNotTakenWhereATriggerCouldWrite(t *testing.T) {
	// A trigger on another table of the package (harmless here) is enough to take the full digest.
	e := newLandingEnv(t, landingDDL+landingRows, landingDDL+`
CREATE FUNCTION noop() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;
CREATE TRIGGER item_noop AFTER INSERT ON item FOR EACH ROW EXECUTE FUNCTION noop();`)
	res, err := e.restore(restore.Options{})
	if err != nil || !res.Committed {
		t.Fatalf("restore: %v (findings %v)", err, res.Findings)
	}
	wantEvidence(t, res, "plain", "full digest")
	// So is one on a table outside the package that a cascading foreign key may write.
	e = newLandingEnv(t, landingDDL+landingRows, landingDDL+`
CREATE TABLE watch (kind_name text REFERENCES kind (name) ON UPDATE CASCADE);
CREATE FUNCTION noop() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;
CREATE TRIGGER watch_noop AFTER UPDATE ON watch FOR EACH ROW EXECUTE FUNCTION noop();`)
	res, err = e.restore(restore.Options{})
	if err != nil || !res.Committed {
		t.Fatalf("restore: %v (findings %v)", err, res.Findings)
	}
	wantEvidence(t, res, "plain", "full digest")
}

func TestLandingProofBeforeInsertTriggerRefused(t *testing.T) {
	e := newLandingEnv(t, landingDDL+landingRows, landingDDL+`
CREATE FUNCTION shout() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.name := upper(NEW.name); RETURN NEW; END $$;
CREATE TRIGGER plain_shout BEFORE INSERT ON plain FOR EACH ROW EXECUTE FUNCTION shout();`)
	res, err := e.restore(restore.Options{})
	expectRefused(t, res, err, finding.DigestMismatch, "plain")
	if ev := digestEvidence(t, res, "plain"); !strings.HasPrefix(ev, "full digest: ") || !strings.Contains(ev, "plain_shout") {
		t.Errorf("plain: digest evidence %q, want the full digest naming the trigger", ev)
	}
	if n := e.text(`SELECT count(*)::text FROM plain`); n != "0" {
		t.Errorf("%s rows committed", n)
	}
}

const priceDDL = `CREATE TABLE price (id serial PRIMARY KEY, amount numeric NOT NULL, ratio float8 NOT NULL);`

func TestLandingProofNotTakenForAnotherTypmod(t *testing.T) {
	// numeric(10,2) in the target rounds 1.005 and prints 2.5 as 2.50: the full digest sees it.
	e := newLandingEnv(t, priceDDL+`INSERT INTO price (amount, ratio) VALUES (1.005, 0.1), (2.5, 1e-300);`,
		strings.Replace(priceDDL, "amount numeric", "amount numeric(10,2)", 1))
	res, err := e.restore(restore.Options{})
	expectRefused(t, res, err, finding.DigestMismatch, "price")
	wantEvidence(t, res, "price", "full digest")
}

func TestLandingProofFloatsRoundTrip(t *testing.T) {
	e := newLandingEnv(t, priceDDL+`INSERT INTO price (amount, ratio) SELECT i, 1.0 / i + i * 1e-17 FROM generate_series(1, 500) i;
INSERT INTO price (amount, ratio) VALUES (0, 'NaN'), (0, '-0'), (0, 5e-324), (0, 1.7976931348623157e308), (0, 0.1 + 0.2);`, priceDDL)
	res, err := e.restore(restore.Options{})
	if err != nil || !res.Committed || res.Verdict != finding.Pass {
		t.Fatalf("restore: %v (findings %v)", err, res.Findings)
	}
	wantEvidence(t, res, "price", "landing proof")
	if got, want := e.digestOf(e.tgt), e.digestOf(e.src); got != want {
		t.Errorf("target digest %s, source %s", got, want)
	}
}

func TestLandingProofNotTakenForMoney(t *testing.T) {
	ddl := `CREATE TABLE fee (id serial PRIMARY KEY, amount money NOT NULL);`
	e := newLandingEnv(t, ddl+`INSERT INTO fee (amount) VALUES (1.5), (-2), (1234567.89);`, ddl)
	res, err := e.restore(restore.Options{})
	if err != nil || !res.Committed || res.Verdict != finding.Pass {
		t.Fatalf("restore: %v (findings %v)", err, res.Findings)
	}
	wantEvidence(t, res, "fee", "full digest")
}

func TestLandingProofNotTakenWhereTheTargetFillsAColumn(t *testing.T) {
	e := newLandingEnv(t, priceDDL+`INSERT INTO price (amount, ratio) VALUES (1, 2);`,
		strings.Replace(priceDDL, ");", ", note text DEFAULT 'filled');", 1))
	res, err := e.restore(restore.Options{})
	if err != nil || !res.Committed {
		t.Fatalf("restore: %v (findings %v)", err, res.Findings)
	}
	wantEvidence(t, res, "price", "full digest")
}

func TestLandingProofRefusesResealedRows(t *testing.T) {
	// A value changed and the package resealed (it verifies): the rows sent no longer hash to the
	// package's digest, so the full digest runs and refuses the restore.
	e := newLandingEnv(t, landingDDL+landingRows, landingDDL)
	e.setField("public.plain", 0, "name", []byte("changed"))
	res, err := e.restore(restore.Options{})
	expectRefused(t, res, err, finding.DigestMismatch, "plain")
	if ev := digestEvidence(t, res, "kind"); !strings.HasPrefix(ev, "landing proof: ") {
		t.Errorf("kind: digest evidence %q, want the landing proof (its rows are intact)", ev)
	}
}

func TestLandingProofRefusesRewiredReferences(t *testing.T) {
	// A reference moved to another existing row and the package resealed: the identities the
	// rows sent are completed with no longer give the package's digest.
	e := newLandingEnv(t, landingDDL+landingRows, landingDDL)
	e.setField("public.item", 0, "kind_id", []byte("2"))
	res, err := e.restore(restore.Options{})
	expectRefused(t, res, err, finding.DigestMismatch, "item")
	wantEvidence(t, res, "item", "full digest")
}

func TestLandingProofOfATreeIntoAnEmptyTable(t *testing.T) {
	// ddl: node is a tree, note refers to it. Into an empty schema the tree's map keeps every id
	// (built, but found to map every row to itself): node and note land as sent, as kind does,
	// loaded straight in or through staging. Into a seeded target, none is empty but note, whose
	// references are rewritten in the stream through node's held map (held.go): note lands as
	// sent, rewritten, and takes the landing proof; kind and node, matched, the full digest.
	for _, opts := range []restore.Options{{}, {StageAll: true}} {
		e := newEnv(t, sourceRows, ddl, "")
		res, err := e.restore(opts)
		if err != nil || !res.Committed || res.Verdict != finding.Pass {
			t.Fatalf("restore (stage all %t): %v (findings %v)", opts.StageAll, err, res.Findings)
		}
		for _, tbl := range []string{"kind", "node", "note"} {
			if ev := digestEvidence(t, res, tbl); !strings.HasPrefix(ev, "landing proof: ") {
				t.Errorf("%s (stage all %t): digest evidence %q, want the landing proof", tbl, opts.StageAll, ev)
			}
			if tr := table(t, res, tbl); tr.Direct == opts.StageAll {
				t.Errorf("%s (stage all %t): direct %t", tbl, opts.StageAll, tr.Direct)
			}
		}
		if got, want := e.digestOf(e.tgt), e.digestOf(e.src); got != want {
			t.Errorf("target digest %s, source %s", got, want)
		}
	}
	e := newEnv(t, sourceRows, ddl, targetSeed)
	res, err := e.restore(restore.Options{})
	if err != nil || !res.Committed || res.Verdict != finding.Pass {
		t.Fatalf("restore into a seeded target: %v (findings %v)", err, res.Findings)
	}
	for _, tbl := range []string{"kind", "node"} {
		if ev := digestEvidence(t, res, tbl); !strings.HasPrefix(ev, "full digest: ") {
			t.Errorf("seeded %s: digest evidence %q, want the full digest", tbl, ev)
		}
		// The seeded tree is matched by natural key, level by level: not loaded straight in.
		if tr := table(t, res, tbl); tr.Direct {
			t.Errorf("seeded %s: loaded straight in", tbl)
		}
	}
	if ev := digestEvidence(t, res, "note"); !strings.HasPrefix(ev, "landing proof: ") || !strings.Contains(ev, "node_id through the id map of node") {
		t.Errorf("seeded note: digest evidence %q, want the landing proof through node's map", ev)
	}
	if tr := table(t, res, "note"); !tr.Direct {
		t.Error("seeded note: not loaded straight in")
	}
	if got, want := e.digestOf(e.tgt), e.digestOf(e.src); got != want {
		t.Errorf("target digest %s, source %s", got, want)
	}
}

// longDDL has tables holding rows longer than the sent hash gathers (1 MiB), among short ones:
// one referring to another (its rows split-hashed), one of plain values, one whose id comes
// after its long value.
const longDDL = `
CREATE TABLE kind (id serial PRIMARY KEY, name text NOT NULL UNIQUE);
CREATE TABLE blob (id serial PRIMARY KEY, kind_id int NOT NULL REFERENCES kind (id), body text NOT NULL, data bytea);
CREATE TABLE page (id bigserial PRIMARY KEY, body text);
CREATE TABLE tail (body text NOT NULL, n int, id serial PRIMARY KEY);`

// longRows: escapes (backslash, newline, tab) all through the long values, bytea printed as
// hex, short rows before, between and after the long ones.
const longRows = `
INSERT INTO kind (name) VALUES ('a'), ('b');
INSERT INTO blob (kind_id, body, data) VALUES (1, 'short', NULL), (2, repeat(E'back\\slash\nnew\tline ', 150000), NULL),
  (1, 'between', '\x00ff'), (2, 'x', decode(repeat('5c0a09', 500000), 'hex')), (1, repeat('y', 3 << 20), NULL), (2, 'after', '\x');
INSERT INTO page (body) VALUES ('one'), (repeat(E'\\', 1 << 20)), (NULL), (repeat('p', (1 << 20) + 100000)), ('last');
INSERT INTO tail (body, n) VALUES ('s', 1), (repeat(E'\t\\', 700000), 2), ('t', 3), (repeat('z', 2 << 20), 4);`

func TestLandingProofLeavesOutLongRows(t *testing.T) {
	// Rows longer than 1 MiB are left out of the sent hash and digested from the restored table
	// by id: the tables keep the landing proof.
	e := newLandingEnv(t, longDDL+longRows, longDDL)
	res, err := e.restore(restore.Options{})
	if err != nil || !res.Committed || res.Verdict != finding.Pass {
		t.Fatalf("restore: %v (committed %t, verdict %s, findings %v)", err, res.Committed, res.Verdict, res.Findings)
	}
	for tbl, long := range map[string]string{"blob": "3 rows", "page": "2 rows", "tail": "2 rows"} {
		ev := digestEvidence(t, res, tbl)
		if !strings.HasPrefix(ev, "landing proof: ") || !strings.Contains(ev, "but for "+long+" longer than 1 MiB, digested from the table by id") {
			t.Errorf("%s: digest evidence %q, want the landing proof leaving out %s", tbl, ev, long)
		}
	}
	if got, want := e.digestOf(e.tgt), e.digestOf(e.src); got != want {
		t.Errorf("target digest %s, source %s", got, want)
	}
	if res.RestoredDigest != res.PackageDigest {
		t.Errorf("restored digest %s, package %s", res.RestoredDigest, res.PackageDigest)
	}
}

func TestLandingProofNotTakenForALongRowWithoutAnID(t *testing.T) {
	// A keyless table has no id to find its long row by: the full digest.
	ddl := `CREATE TABLE loose (body text NOT NULL);`
	e := newLandingEnv(t, ddl+`INSERT INTO loose (body) VALUES ('short'), (repeat('x', 2 << 20)), ('after');`, ddl)
	res, err := e.restore(restore.Options{})
	if err != nil || !res.Committed || res.Verdict != finding.Pass {
		t.Fatalf("restore: %v (findings %v)", err, res.Findings)
	}
	wantEvidence(t, res, "loose", "full digest")
}

func TestLandingProofRefusesResealedLongRows(t *testing.T) {
	// A short or a long row of a table with long rows changed and the package resealed: the sum
	// of the rows sent and the long rows digested from the table is not the package's digest.
	shared := newSourceEnv(t, longDDL+longRows)
	for _, c := range []struct {
		name  string
		table string
		row   int
		col   string
		value []byte
		rows  int
	}{
		{"short row", "public.blob", 2, "body", []byte("changed"), 6},
		{"long row", "public.blob", 1, "body", []byte(strings.Repeat("changed", 200000)), 6},
		{"long row of plain values", "public.page", 3, "body", []byte(strings.Repeat("q", (1<<20)+100000)), 5},
		{"long row, id last", "public.tail", 3, "body", []byte(strings.Repeat("z", 2<<20-1)), 4},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := shared.forTest(t)
			e.newTarget(longDDL)
			e.setField(c.table, c.row, c.col, c.value)
			var log bytes.Buffer
			res, err := e.restore(restore.Options{Log: slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelDebug}))})
			var refused *finding.Refused
			if !errors.As(err, &refused) || res.Committed {
				t.Fatalf("restore: %v (committed %t), want a refusal", err, res.Committed)
			}
			display := strings.TrimPrefix(c.table, "public.")
			// The landing proof was tried, long rows and all, and its sum did not hold.
			if want := fmt.Sprintf(`table=%s reason="the %d rows sent hash to `, display, c.rows); !strings.Contains(log.String(), want) {
				t.Errorf("no %s in the debug log:\n%s", want, log.String())
			}
			if !hasKind(res.Findings, finding.DigestMismatch, display) {
				t.Errorf("findings %v, want a digest mismatch on %s", res.Findings, display)
			}
			if ev := digestEvidence(t, res, display); !strings.HasPrefix(ev, "full digest: ") {
				t.Errorf("%s: digest evidence %q, want the full digest", display, ev)
			}
		})
	}
}
