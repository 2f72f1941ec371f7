package oracle_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/edmsdr/edmsdr/engine/digest"
	"github.com/edmsdr/edmsdr/fixtures/localpg/localpgtest"
	"github.com/edmsdr/edmsdr/oracle"
)

func TestMain(m *testing.M) { os.Exit(localpgtest.RunShared(m)) }

// schemaSQL holds the shapes the oracle must see through: a partitioned table with a foreign key
// on one partition only, two schemas with a table of the same name, an undeclared reference,
// ids from 0 with gaps, keyless parents of keyless children with duplicate rows, a keyless
// two-table cycle and a tree.
const schemaSQL = `
CREATE SCHEMA other;
CREATE TABLE parent (id serial PRIMARY KEY, name text NOT NULL UNIQUE);
CREATE TABLE other.parent (id serial PRIMARY KEY, name text NOT NULL UNIQUE);
CREATE TABLE ev (id bigserial, parent_id int, at date NOT NULL, note text, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
CREATE TABLE ev_2023 PARTITION OF ev FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');
CREATE TABLE ev_2024 PARTITION OF ev FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
ALTER TABLE ev_2024 ADD CONSTRAINT ev_2024_parent_fk FOREIGN KEY (parent_id) REFERENCES parent (id);
CREATE TABLE employee (id int PRIMARY KEY, email text NOT NULL UNIQUE);
CREATE TABLE branch (id int PRIMARY KEY, city text NOT NULL UNIQUE, manager_id int);
CREATE TABLE p (id serial PRIMARY KEY, label text);
CREATE TABLE c (id serial PRIMARY KEY, p_id int REFERENCES p, v text);
CREATE TABLE k1 (id int PRIMARY KEY, k2_id int, v text);
CREATE TABLE k2 (id int PRIMARY KEY, k1_id int REFERENCES k1, v text);
ALTER TABLE k1 ADD FOREIGN KEY (k2_id) REFERENCES k2 DEFERRABLE;
CREATE TABLE node (id int PRIMARY KEY, parent_id int REFERENCES node, name text NOT NULL, UNIQUE (parent_id, name));
`

// populate writes the same logical rows under ids shifted by off.
func populate(off int) []string {
	return []string{
		fmt.Sprintf(`INSERT INTO parent VALUES (%d, 'alpha'), (%d, 'beta')`, 5+off, 9+off),
		fmt.Sprintf(`INSERT INTO other.parent VALUES (%d, 'alpha'), (%d, 'gamma')`, 1+off, 2+off),
		fmt.Sprintf(`INSERT INTO ev VALUES (%d, %d, '2024-03-01', 'a'), (%d, %d, '2024-04-01', 'b'), (%d, NULL, '2023-05-01', 'c')`,
			1+off, 5+off, 2+off, 9+off, 3+off),
		fmt.Sprintf(`INSERT INTO employee VALUES (%d, 'zero@example.org'), (%d, 'seven@example.org')`, 0+off, 7+off),
		fmt.Sprintf(`INSERT INTO branch VALUES (%d, 'Lyon', %d), (%d, 'Kyiv', %d)`, 3+off, 0+off, 4+off, 7+off),
		fmt.Sprintf(`INSERT INTO p VALUES (%d, 'A'), (%d, 'B')`, 1+off, 2+off),
		fmt.Sprintf(`INSERT INTO c VALUES (%d, %d, 'x'), (%d, %d, 'x'), (%d, %d, 'y')`, 1+off, 1+off, 2+off, 1+off, 3+off, 2+off),
		`BEGIN`,
		`SET CONSTRAINTS ALL DEFERRED`,
		fmt.Sprintf(`INSERT INTO k1 VALUES (%d, %d, 'one')`, 1+off, 1+off),
		fmt.Sprintf(`INSERT INTO k2 VALUES (%d, %d, 'two')`, 1+off, 1+off),
		`COMMIT`,
		fmt.Sprintf(`INSERT INTO node VALUES (%d, NULL, 'root'), (%d, %d, 'leaf'), (%d, NULL, 'leaf')`, 1+off, 2+off, 1+off, 3+off),
	}
}

var opts = oracle.Options{References: []oracle.Reference{
	{Table: "branch", Columns: []string{"manager_id"}, RefTable: "employee", RefColumns: []string{"id"}},
}}

func database(t *testing.T, off int, extra ...string) *pgx.Conn {
	t.Helper()
	tc := localpgtest.Shared(t)
	conn := tc.Connect(t, tc.NewDatabase(t, "oracle"))
	ctx := localpgtest.Context(t, time.Minute)
	for _, s := range append(append([]string{schemaSQL}, populate(off)...), extra...) {
		if _, err := conn.Exec(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	return conn
}

func snapshot(t *testing.T, conn *pgx.Conn, o oracle.Options) *oracle.Snapshot {
	t.Helper()
	s, err := oracle.Read(localpgtest.Context(t, time.Minute), conn, o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestOracle(t *testing.T) {
	src := snapshot(t, database(t, 0), opts)
	for _, tc := range []struct {
		name   string
		plant  []string
		kind   oracle.Kind
		table  string
		column string // for Changed
		also   string // the one other table a difference may be in
	}{
		{name: "same rows under other ids"},
		// Every difference must be in table (or also); for Changed, one names column.
		{"wrong parent through a partition's foreign key", []string{`UPDATE ev SET parent_id = 109 WHERE note = 'a'`},
			oracle.Changed, "ev", "parent_id", ""},
		{"wrong undeclared reference", []string{`UPDATE branch SET manager_id = 107 WHERE city = 'Lyon'`},
			oracle.Changed, "branch", "manager_id", ""},
		{"wrong keyless parent", []string{`UPDATE c SET p_id = 101 WHERE v = 'y'`}, oracle.Changed, "c", "p_id", ""},
		{"keyless parent changed under its children", []string{`UPDATE p SET label = 'Z' WHERE label = 'B'`},
			oracle.Changed, "c", "p_id", "p"},
		{"lost row", []string{`DELETE FROM c WHERE v = 'y'`}, oracle.Lost, "c", "", ""},
		{"lost copy of a duplicate keyless row", []string{`DELETE FROM c WHERE id = 101`}, oracle.Lost, "c", "", ""},
		{"duplicated keyless row", []string{`INSERT INTO c VALUES (104, 101, 'x')`}, oracle.Duplicated, "c", "", ""},
		{"extra row", []string{`INSERT INTO parent VALUES (1, 'delta')`}, oracle.Extra, "parent", "", ""},
		{"same table name, other schema", []string{`UPDATE other.parent SET name = 'omega' WHERE name = 'gamma'`},
			oracle.Lost, "other.parent", "", ""},
		{"tree parent renamed", []string{`UPDATE node SET name = 'ROOT' WHERE id = 101`},
			oracle.Changed, "node", "parent_id", ""},
		{"keyless cycle", []string{`UPDATE k2 SET v = 'deux'`}, oracle.Changed, "k1", "k2_id", "k2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			diffs := oracle.Compare(src, snapshot(t, database(t, 100, tc.plant...), opts))
			if tc.kind == "" {
				if len(diffs) != 0 {
					t.Fatalf("differences between equal databases:\n%s", diffs)
				}
				return
			}
			t.Logf("differences:\n%s", diffs)
			if !diffs.Has(tc.kind, tc.table) {
				t.Fatalf("want %s in %s, got:\n%s", tc.kind, tc.table, diffs)
			}
			for _, d := range diffs {
				if d.Table != qualify(tc.table) && (tc.also == "" || d.Table != qualify(tc.also)) {
					t.Errorf("difference outside %s: %s", tc.table, d)
				}
			}
			if tc.column != "" {
				found := false
				for _, d := range diffs {
					if d.Kind == tc.kind && d.Table == qualify(tc.table) && strings.Contains(strings.Join(d.Columns, ";"), tc.column) {
						found = true
					}
				}
				if !found {
					t.Fatalf("no %s difference naming %s in %s:\n%s", tc.kind, tc.column, tc.table, diffs)
				}
			}
		})
	}
}

// TestUndeclaredReferenceNeedsDeclaring shows why References exist: renumbered ids behind an
// undeclared reference read as plain numbers unless the reference is declared.
func TestUndeclaredReferenceNeedsDeclaring(t *testing.T) {
	a, b := database(t, 0), database(t, 100)
	if d := oracle.Compare(snapshot(t, a, opts), snapshot(t, b, opts)); len(d) != 0 {
		t.Fatalf("declared: differences:\n%s", d)
	}
	d := oracle.Compare(snapshot(t, a, oracle.Options{}), snapshot(t, b, oracle.Options{}))
	if !d.Has(oracle.Changed, "branch") {
		t.Fatalf("undeclared: want branch changed, got:\n%s", d)
	}
}

func TestOptionsErrors(t *testing.T) {
	conn := database(t, 0)
	ctx := context.Background()
	for name, o := range map[string]oracle.Options{
		"unknown table":      {References: []oracle.Reference{{Table: "nope", Columns: []string{"x"}, RefTable: "p", RefColumns: []string{"id"}}}},
		"unknown column":     {References: []oracle.Reference{{Table: "branch", Columns: []string{"nope"}, RefTable: "employee", RefColumns: []string{"id"}}}},
		"column count":       {References: []oracle.Reference{{Table: "branch", Columns: []string{"manager_id"}, RefTable: "employee", RefColumns: []string{"id", "email"}}}},
		"unknown key column": {NaturalKeys: map[string][]string{"parent": {"nope"}}},
	} {
		if _, err := oracle.Read(ctx, conn, o); err == nil {
			t.Errorf("%s: Read succeeded, want an error", name)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
}

func qualify(name string) string {
	if strings.Contains(name, ".") {
		return name
	}
	return "public." + name
}

// TestCatchesWhatTheDigestMisses plants the outcome of issue 8's case 4: employees renumbered
// while branch.manager_id, a reference no constraint declares, kept the old numbers. The engine's
// digest reads manager_id as a plain number and sees nothing; the oracle follows the declared
// reference and reports the wrong manager.
func TestCatchesWhatTheDigestMisses(t *testing.T) {
	src := database(t, 0)
	dst := database(t, 100, `UPDATE branch SET manager_id = manager_id - 100`)
	ctx := localpgtest.Context(t, time.Minute)
	a, err := digest.OfDatabase(ctx, src, digest.DatabaseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := digest.OfDatabase(ctx, dst, digest.DatabaseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"public.branch", "public.employee"} {
		if a.Summary.Tables[table] != b.Summary.Tables[table] {
			t.Fatalf("the digest of %s saw the planted mismatch: the premise of this test is gone", table)
		}
	}
	diffs := oracle.Compare(snapshot(t, src, opts), snapshot(t, dst, opts))
	if !diffs.Has(oracle.Changed, "branch") || len(diffs) != 2 {
		t.Fatalf("want both branches changed, got:\n%s", diffs)
	}
}

func TestMerge(t *testing.T) {
	// The target holds alpha (diverged: another id, same key) and delta; the source alpha and beta.
	src := database(t, 0)
	tgt := database(t, 100, `DELETE FROM ev`, `DELETE FROM parent WHERE name = 'beta'`, `INSERT INTO parent VALUES (1, 'delta')`)
	after := database(t, 100, `INSERT INTO parent VALUES (1, 'delta')`)
	merged := oracle.Merge(snapshot(t, tgt, opts), snapshot(t, src, opts))
	for _, d := range oracle.Compare(merged, snapshot(t, after, opts)) {
		// Keyless rows are in both and add up: the expected database has them once.
		if d.Table == "public.parent" || d.Kind != oracle.Lost {
			t.Errorf("merge differs from the expected database: %s", d)
		}
	}
	if n := merged.Tables["public.c"].Rows[`(p_id=→public.p{label="A"}, v="x")`]; n != 4 {
		t.Errorf("keyless rows of both: %d, want 4", n)
	}
	if d := oracle.Compare(merged, snapshot(t, src, opts)); !d.Has(oracle.Lost, "parent") {
		t.Fatalf("merge lost the target's own row:\n%s", d)
	}
}
