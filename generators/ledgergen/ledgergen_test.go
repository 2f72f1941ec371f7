package ledgergen_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/edmsdr/edmsdr/fixtures/ledger"
	"github.com/edmsdr/edmsdr/fixtures/localpg/localpgtest"
	"github.com/edmsdr/edmsdr/generators/ledgergen"
	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { os.Exit(localpgtest.RunShared(m)) }

// testContext bounds a test's database work.
func testContext(tb testing.TB) context.Context { return localpgtest.Context(tb, 5*time.Minute) }

// seededDB creates a database on the shared cluster holding the ledger schema and a fresh
// install's seeds, and returns a connection to it.
func seededDB(tb testing.TB) *pgx.Conn {
	tb.Helper()
	tc := localpgtest.Shared(tb)
	dsn := tc.NewDatabase(tb, "ledgergen")
	if err := ledger.Install(testContext(tb), dsn, ledger.SeedOptions{}); err != nil {
		tb.Fatalf("install ledger: %v", err)
	}
	return tc.Connect(tb, dsn)
}

// digests returns, per table, the md5 of its rows as text sorted: a multiset digest that works
// for tables without any key.
func digests(tb testing.TB, conn *pgx.Conn) map[string]string {
	tb.Helper()
	out := map[string]string{}
	for _, table := range ledger.Tables() {
		var d *string
		q := fmt.Sprintf(`SELECT md5(string_agg(t::text, ',' ORDER BY t::text)) FROM %s t`, table)
		if err := conn.QueryRow(testContext(tb), q).Scan(&d); err != nil {
			tb.Fatalf("digest %s: %v", table, err)
		}
		out[table] = "empty"
		if d != nil {
			out[table] = *d
		}
	}
	return out
}

func TestGenerateRejectsBadScale(t *testing.T) {
	conn := seededDB(t)
	for _, n := range []int{-1, 0, ledgergen.MinMembers - 1, ledgergen.MaxMembers + 1} {
		if _, err := ledgergen.Generate(testContext(t), conn, 1, n); err == nil {
			t.Errorf("Generate(n=%d) succeeded, want an error", n)
		}
	}
}

func TestGenerateIsDeterministicBySeed(t *testing.T) {
	a, b, c := seededDB(t), seededDB(t), seededDB(t)
	const n = 200
	for _, run := range []struct {
		conn *pgx.Conn
		seed int64
	}{{a, 0}, {b, 0}, {c, 99}} {
		if _, err := ledgergen.Generate(testContext(t), run.conn, run.seed, n); err != nil {
			t.Fatalf("generate seed %d: %v", run.seed, err)
		}
	}
	da, db, dc := digests(t, a), digests(t, b), digests(t, c)
	for table := range da {
		if da[table] != db[table] {
			t.Errorf("%s: seed 0 twice gives different data", table)
		}
	}
	for _, table := range []string{"member", "team", "project", "membership", "account", "transfer", "event_log"} {
		if da[table] == dc[table] {
			t.Errorf("%s: seeds 0 and 99 give the same data", table)
		}
	}
}

func TestGenerateCoversTheSchemaShapes(t *testing.T) {
	conn := seededDB(t)
	before := map[string][]string{}
	ctx := testContext(t)
	seededRows := map[string]string{
		"currency": `SELECT string_agg(t::text, ',' ORDER BY t::text) FROM currency t`,
		"region":   `SELECT string_agg(t::text, ',' ORDER BY t::text) FROM region t`,
		"account":  `SELECT string_agg(t::text, ',' ORDER BY t::text) FROM account t WHERE id <= 7`,
		"member":   `SELECT string_agg(t::text, ',' ORDER BY t::text) FROM member t WHERE handle = 'ρίζα'`,
		"team":     `SELECT string_agg(t::text, ',' ORDER BY t::text) FROM team t WHERE name = 'Операции'`,
	}
	for table, q := range seededRows {
		var s string
		if err := conn.QueryRow(ctx, q).Scan(&s); err != nil {
			t.Fatal(err)
		}
		before[table] = []string{s}
	}
	start := time.Now()
	stats, err := ledgergen.Generate(ctx, conn, 5, 64)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("64 members: %d rows in %v\n%s", stats.Total(), time.Since(start), stats)
	for table, q := range seededRows {
		var s string
		if err := conn.QueryRow(ctx, q).Scan(&s); err != nil {
			t.Fatal(err)
		}
		if s != before[table][0] {
			t.Errorf("seeded %s rows changed", table)
		}
	}
	for table, n := range stats.Rows {
		var got int64
		if err := conn.QueryRow(ctx, fmt.Sprintf(`SELECT count(*) FROM %s`, table)).Scan(&got); err != nil {
			t.Fatal(err)
		}
		seeded := map[string]int64{"member": 1, "team": 1, "account": int64(len(ledger.Accounts()))}[table]
		if got-seeded != n {
			t.Errorf("%s: stats say %d rows, table has %d generated", table, n, got-seeded)
		}
	}
	checks := []struct{ name, sql string }{
		{"member managing himself", `SELECT count(*) FROM member WHERE manager_id = id`},
		{"member without team", `SELECT count(*) FROM member WHERE team_id IS NULL`},
		{"generated members in the seeded team", `SELECT count(*) FROM member m JOIN team t ON t.id = m.team_id WHERE t.name = 'Операции' AND m.handle <> 'ρίζα'`},
		{"every lead in his team", `SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM team t JOIN member m ON m.id = t.lead_id
			WHERE m.team_id IS DISTINCT FROM t.id AND NOT EXISTS (SELECT 1 FROM team t2 WHERE t2.lead_id = m.id AND t2.id = m.team_id)) THEN 1 ELSE 0 END`},
		{"slug repeated across teams", `SELECT count(*) FROM (SELECT slug FROM project GROUP BY slug HAVING count(*) > 1) s`},
		{"memberships", `SELECT count(*) FROM membership`},
		{"account code repeated under different parents", `SELECT count(*) FROM (SELECT code FROM account WHERE parent_id IS NOT NULL
			GROUP BY code HAVING count(DISTINCT parent_id) > 1) s`},
		{"generated root account", `SELECT count(*) FROM account WHERE parent_id IS NULL AND code LIKE 'R%'`},
		{"account tree deeper than 2", `WITH RECURSIVE c(id, depth) AS (SELECT id, 1 FROM account WHERE parent_id IS NULL
			UNION ALL SELECT a.id, c.depth + 1 FROM account a JOIN c ON a.parent_id = c.id) SELECT count(*) FROM c WHERE depth > 2`},
		{"bigint beyond 32 bits", `SELECT count(*) FROM transfer WHERE amount > 2147483647`},
		{"budget beyond 32 bits", `SELECT count(*) FROM project WHERE budget > 2147483647`},
		{"uuid refs version 4", `SELECT count(*) FROM transfer WHERE ref::text ~ '^[0-9a-f]{8}-[0-9a-f]{4}-4'`},
		{"NULL memo and empty memo", `SELECT CASE WHEN count(*) FILTER (WHERE memo IS NULL) > 0 AND count(*) FILTER (WHERE memo = '') > 0 THEN 1 ELSE 0 END FROM transfer`},
		{"Greek handle", `SELECT count(*) FROM member WHERE handle ~ '[\u0370-\u03FF]'`},
		{"Cyrillic handle", `SELECT count(*) FROM member WHERE handle ~ '[\u0400-\u04FF]'`},
		{"emoji handle", `SELECT count(*) FROM member WHERE handle ~ '[\U0001F300-\U0001FAFF]'`},
		{"literal \\N handle", `SELECT count(*) FROM member WHERE handle = '\N'`},
		{"identical event rows", `SELECT count(*) FROM (SELECT 1 FROM event_log GROUP BY at, member_id, kind, detail::text HAVING count(*) >= 5) s`},
		{"identical all-NULL event rows", `SELECT count(*) FROM (SELECT 1 FROM event_log WHERE member_id IS NULL AND detail IS NULL
			GROUP BY at, kind HAVING count(*) >= 5) s`},
		{"JSON null next to SQL NULL", `SELECT count(*) FROM event_log WHERE detail = 'null'::jsonb`},
		{"sequences past every id", `SELECT CASE WHEN (SELECT last_value FROM member_id_seq) >= (SELECT max(id) FROM member)
			AND (SELECT last_value FROM pg_sequences WHERE sequencename = 'account_id_seq') >= (SELECT max(id) FROM account) THEN 1 ELSE 0 END`},
	}
	for _, c := range checks {
		var n int64
		if err := conn.QueryRow(ctx, c.sql).Scan(&n); err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if n < 1 {
			t.Errorf("shape missing: %s", c.name)
		}
	}
	// The identity column still refuses ids from a plain INSERT, and hands out fresh ones.
	if _, err := conn.Exec(ctx, `INSERT INTO account (id, code, name, currency) VALUES (1, 'X', 'x', 'EUR')`); err == nil {
		t.Error("INSERT with an explicit id into the GENERATED ALWAYS column succeeded")
	}
	if _, err := conn.Exec(ctx, `INSERT INTO account (code, name, currency) VALUES ('fresh', 'fresh', 'EUR')`); err != nil {
		t.Errorf("INSERT with a generated id after Generate: %v", err)
	}
}
