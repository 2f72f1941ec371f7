package restore_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edmsdr/edmsdr/corrupt"
	"github.com/edmsdr/edmsdr/engine/finding"
	"github.com/edmsdr/edmsdr/engine/pack"
	"github.com/edmsdr/edmsdr/engine/restore"
)

// resealTypes rewrites the column types the manifest of e's package gives (column name -> type,
// as format_type prints it) and reseals the package, its rows and digest untouched.
func resealTypes(t *testing.T, e *env, types map[string]string) {
	t.Helper()
	raw, err := os.ReadFile(e.pkg)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := corrupt.Unpack(raw)
	if err != nil {
		t.Fatal(err)
	}
	edited := 0
	for i, en := range entries {
		if en.Header.Name != pack.ManifestName {
			continue
		}
		var m pack.Manifest
		if err := json.Unmarshal(en.Data, &m); err != nil {
			t.Fatal(err)
		}
		for ti := range m.Schema.Tables {
			for ci := range m.Schema.Tables[ti].Columns {
				c := &m.Schema.Tables[ti].Columns[ci]
				if typ, ok := types[c.Name]; ok {
					c.Type = typ
					edited++
				}
			}
		}
		if entries[i].Data, err = json.Marshal(&m); err != nil {
			t.Fatal(err)
		}
	}
	if edited != len(types) {
		t.Fatalf("%d of the columns %v edited in the manifest", edited, types)
	}
	if err := corrupt.Reseal(entries); err != nil {
		t.Fatal(err)
	}
	out, err := corrupt.Repack(entries)
	if err != nil {
		t.Fatal(err)
	}
	e.pkg = filepath.Join(t.TempDir(), "types.edmsdr")
	if err := os.WriteFile(e.pkg, out, 0o600); err != nil {
		t.Fatal(err)
	}
}

// One case per check of the text sent (digest.TypeCheck): the manifest claims the target's type
// for a value that type reads otherwise. Each PASSed under the landing proof without its check;
// each must take the full digest, which refuses the restore.
func TestAttackManifestClaimsATypeThatChangesTheText(t *testing.T) {
	for _, c := range []struct {
		name, src, tgt, value, claim string
	}{
		{"varchar cuts trailing spaces", "text", "varchar(3)", "'ab   '", "character varying(3)"},
		{"varchar counts characters", "text", "varchar(3)", "'äbc '", "character varying(3)"},
		{"character pads", "text", "char(3)", "'ab'", "character(3)"},
		{"numeric rounds", "numeric", "numeric(10,2)", "1.005", "numeric(10,2)"},
		{"array of varchar cuts", "text[]", "varchar(3)[]", `'{"ab   "}'`, "character varying(3)[]"},
		{"float8 rounds digits", "numeric", "float8", "0.1000000000000000055", "double precision"},
		{"float4 rounds digits", "float8", "real", "16777217", "real"},
		{"timestamptz rounds microseconds", "text", "timestamptz", "'2024-01-01 00:00:00.1234567+00'", "timestamp with time zone"},
		{"timestamp(3) rounds", "text", "timestamp(3)", "'2024-01-01 00:00:00.1239'", "timestamp(3) without time zone"},
		{"timestamp drops a zone", "text", "timestamp", "'2024-01-01 00:00:00+05'", "timestamp without time zone"},
		{"date drops a time", "text", "date", "'2024-01-01 23:59:59'", "date"},
		{"time rounds microseconds", "text", "time", "'12:00:00.0000005'", "time without time zone"},
		{"interval converts fractions of units", "text", "interval", "'1.0000005 ms'", "interval"},
		{"jsonb keeps the last key", "json", "jsonb", `'{"a": 1, "a": 2}'`, "jsonb"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ddl := `CREATE TABLE val (id serial PRIMARY KEY, v %s NOT NULL);`
			e := newLandingEnv(t, strings.Replace(ddl, "%s", c.src, 1)+`INSERT INTO val (v) VALUES (`+c.value+`);`,
				strings.Replace(ddl, "%s", c.tgt, 1))
			resealTypes(t, e, map[string]string{"v": c.claim})
			res, err := e.restore(restore.Options{})
			expectRefused(t, res, err, finding.DigestMismatch, "val")
			wantEvidence(t, res, "val", "full digest")
		})
	}
}

// The same types in a genuine package: the text they print reads back the same, and the landing
// proof holds (only a modifier that may round, numeric(10,2)'s, takes it off whatever the text).
func TestLandingProofForTheTypesItChecks(t *testing.T) {
	ddl := `CREATE TABLE val (id serial PRIMARY KEY, vc varchar(3), ch char(3), f8 float8, f4 real, tz timestamptz,
  ts3 timestamp(3), d date, tm time, iv interval, j jsonb, tags varchar[]);
CREATE TABLE price (id serial PRIMARY KEY, amount numeric(10,2));`
	rows := `INSERT INTO val (vc, ch, f8, f4, tz, ts3, d, tm, iv, j, tags) VALUES
 ('ab ', 'ab', 0.1 + 0.2, 16777216, '2024-01-01 00:00:00.123456+05:30', '2024-01-01 00:00:00.1239', '4713-01-01 BC', '12:00:00.000001',
  '1.0000005 ms', '{"b": {"y": 1, "x": [{"k": 1, "kk": 2}]}, "a": "{\"a\": 1, \"a\": 2}", "aa": null}', '{"ab   "}'),
 ('äöü', 'äb', 5e-324, 1e-45, 'infinity', '-infinity', 'infinity', '24:00:00', '-178000000 years 00:00:01.5', '[{"z": 1, "a": 2}]', NULL),
 (E'\t\\', E'\t\\ ', 'NaN', '-Infinity', '0044-03-15 12:00:00+00 BC', NULL, '10000-01-01', NULL, NULL, '"s"', NULL);
INSERT INTO price (amount) VALUES (1.01);`
	e := newLandingEnv(t, ddl+rows, ddl)
	res, err := e.restore(restore.Options{})
	if err != nil || !res.Committed || res.Verdict != finding.Pass {
		t.Fatalf("restore: %v (committed %t, verdict %s, findings %v)", err, res.Committed, res.Verdict, res.Findings)
	}
	wantEvidence(t, res, "val", "landing proof")
	wantEvidence(t, res, "price", "full digest")
	if got, want := e.digestOf(e.tgt), e.digestOf(e.src); got != want {
		t.Errorf("target digest %s, source %s", got, want)
	}
}
