package rollback_test

import (
	"context"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/jackc/pgx/v5"

	"github.com/edmsdr/edmsdr/engine/dsn"
	"github.com/edmsdr/edmsdr/fixtures/ledger"
	"github.com/edmsdr/edmsdr/generators/ledgergen"
	"github.com/edmsdr/edmsdr/suites/suitekit"
)

// state is the exact content of a database's tables — every row with its ids, as text, per
// table — and where its sequences stand: two equal states hold the same rows under the same ids.
type state struct {
	Rows      map[string]string // table -> md5 of its rows' text, sorted
	Sequences map[string]int64  // sequence -> the value nextval would return
}

// exactState reads the state of url's public tables and sequences.
func exactState(ctx context.Context, url string) state {
	GinkgoHelper()
	conn, err := dsn.Connect(ctx, url)
	Expect(err).NotTo(HaveOccurred())
	defer conn.Close(context.WithoutCancel(ctx))
	st := state{Rows: map[string]string{}, Sequences: map[string]int64{}}
	tables := names(ctx, conn, `SELECT quote_ident(relname) FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'p') AND NOT relispartition`)
	for _, t := range tables {
		var sum string
		Expect(conn.QueryRow(ctx, `SELECT md5(coalesce(string_agg(x.r, E'\n' ORDER BY x.r), '')) FROM (SELECT t::text AS r FROM `+t+` t) x`).Scan(&sum)).To(Succeed(), t)
		st.Rows[t] = sum
	}
	for _, s := range names(ctx, conn, `SELECT quote_ident(relname) FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind = 'S'`) {
		var next int64
		Expect(conn.QueryRow(ctx, `SELECT CASE WHEN s.is_called THEN s.last_value + p.seqincrement ELSE s.last_value END FROM `+s+` s, pg_sequence p WHERE p.seqrelid = '`+s+`'::regclass`).Scan(&next)).To(Succeed(), s)
		st.Sequences[s] = next
	}
	return st
}

func names(ctx context.Context, conn *pgx.Conn, sql string) []string {
	GinkgoHelper()
	rows, err := conn.Query(ctx, sql)
	Expect(err).NotTo(HaveOccurred())
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	Expect(err).NotTo(HaveOccurred())
	Expect(out).NotTo(BeEmpty(), sql)
	return out
}

// ledgerDB creates a database holding the ledger schema: seeded and filled from seed when
// fill is true, re-initialised and empty otherwise.
func ledgerDB(ctx context.Context, seed int64, fill bool) string {
	GinkgoHelper()
	url := srv.DSN(suitekit.NewDatabase(ctx, srv, "ledger"))
	Expect(ledger.Install(ctx, url, ledger.SeedOptions{Reinit: !fill})).To(Succeed())
	if fill {
		conn := suitekit.Connect(ctx, url)
		_, err := ledgergen.Generate(ctx, conn, seed, 64)
		Expect(err).NotTo(HaveOccurred())
		Expect(conn.Close(ctx)).To(Succeed())
	}
	return url
}
