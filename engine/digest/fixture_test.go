package digest

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/edmsdr/edmsdr/engine/introspect"
	"github.com/edmsdr/edmsdr/engine/keys"
	"github.com/edmsdr/edmsdr/engine/pack"
	"github.com/edmsdr/edmsdr/engine/schema"
	"github.com/edmsdr/edmsdr/fixtures/localpg/localpgtest"
)

// testDB gives t a database of the shared local cluster (named after name) holding what ddl
// creates, a connection to it, and a context that ends after d or with t.
func testDB(t *testing.T, name, ddl string, d time.Duration) (*pgx.Conn, context.Context) {
	t.Helper()
	tc := localpgtest.Shared(t)
	conn := tc.Connect(t, tc.NewDatabase(t, name))
	ctx := localpgtest.Context(t, d)
	if _, err := conn.Exec(ctx, ddl); err != nil {
		t.Fatal(err)
	}
	return conn, ctx
}

// snapshot opens what a digest session reads from: a REPEATABLE READ transaction on conn, rolled
// back when t ends (the sessions' tables are temporary), with the digest's session settings when
// settings is set (ApplySettings), its schema, and the key plan of kf.
func snapshot(t *testing.T, ctx context.Context, conn *pgx.Conn, kf *keys.File, settings bool) (pgx.Tx, *schema.Schema, *keys.Plan) {
	t.Helper()
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tx.Rollback(context.Background()) })
	if settings {
		if err := ApplySettings(ctx, tx, true); err != nil {
			t.Fatal(err)
		}
	}
	sch, err := introspect.Read(ctx, tx, introspect.Options{})
	if err != nil {
		t.Fatal(err)
	}
	plan, err := keys.Build(sch, kf)
	if err != nil {
		t.Fatal(err)
	}
	return tx, sch, plan
}

// newSession is NewSession, failing t on an error.
func newSession(t *testing.T, tx pgx.Tx, sch *schema.Schema, plan *keys.Plan, opts Options) *Session {
	t.Helper()
	d, err := NewSession(tx, sch, plan, opts)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// streamAndCompare streams table tbl through session d (StreamTable, its COPY run on tx) and
// checks that the streamed digest is SQL's (want) and not empty; what names the case in a
// failure. It returns the rows passed on, the COPY statement and the closed Hasher.
func streamAndCompare(t *testing.T, ctx context.Context, tx pgx.Tx, d *Session, tbl *schema.Table, want pack.Digest, what string) ([]byte, string, *Hasher) {
	t.Helper()
	var got bytes.Buffer
	sql, h, err := d.StreamTable(ctx, tbl.QName(), tbl.DataColumns(), tbl.Partitioned, &got)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Conn().PgConn().CopyTo(ctx, h, sql); err != nil {
		t.Fatalf("%s: %s: %v", tbl.Display(), sql, err)
	}
	td, err := h.Close()
	if err != nil {
		t.Fatal(err)
	}
	if w := want.Tables[tbl.QName()]; !td.Equal(w) || td.Rows == 0 {
		t.Errorf("%s (%s): streamed digest %+v, SQL digest %+v (%s)", tbl.Display(), what, td, w, sql)
	}
	return got.Bytes(), sql, h
}
