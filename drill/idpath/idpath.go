// Package idpath is the id path, the baseline the benchmarks measure a natural-key backup and
// restore against: COPY every table out to a file per table in one snapshot, then into empty
// indexed tables keeping ids, the sequences set, in one transaction. The drill's bench scenario
// and suites/bench share it, so that both measure the same baseline.
package idpath

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/jackc/pgx/v5"

	"github.com/edmsdr/edmsdr/engine/pgquote"
	"github.com/edmsdr/edmsdr/engine/schema"
)

// copyOutBuffer is the write buffer of each table's file in CopyOut.
const copyOutBuffer = 256 << 10

// file is the file of the i-th table in dir.
func file(dir string, i int) string { return filepath.Join(dir, fmt.Sprintf("%03d.copy", i)) }

// CopyOut copies every table out of the database conn is connected to, into a file per table in
// dir, in one repeatable-read snapshot; the files are synced.
func CopyOut(ctx context.Context, conn *pgx.Conn, dir string, tables []*schema.Table) error {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if _, err := tx.Exec(ctx, "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"); err != nil {
		return err
	}
	for i, t := range tables {
		f, err := os.Create(file(dir, i))
		if err != nil {
			return err
		}
		// Buffered, as psql's \copy and pg_dump write: pgconn hands over one row per call, and a
		// write system call per row cost the baseline more than its COPY (7–8 s of system time
		// for 4.6M rows on a machine with costly system calls), flattering every ratio against it.
		bw := bufio.NewWriterSize(f, copyOutBuffer)
		_, err = tx.Conn().PgConn().CopyTo(ctx, bw, "COPY "+pgquote.Table(t.QName())+" TO STDOUT")
		if err == nil {
			err = bw.Flush()
		}
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("COPY %s out: %w", t.Display(), err)
		}
	}
	return tx.Commit(ctx)
}

// setSequences moves every sequence owned by a column to the column's maximum, as a restore
// keeping ids must.
const setSequences = `SELECT format('SELECT setval(%L, coalesce((SELECT max(%I) FROM %I.%I), 1))', s.oid::regclass::text, a.attname, n.nspname, c.relname)
FROM pg_class s
JOIN pg_depend d ON d.objid = s.oid AND d.classid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
JOIN pg_class c ON c.oid = d.refobjid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = d.refobjsubid
WHERE s.relkind = 'S' AND n.nspname NOT IN ('pg_catalog', 'information_schema')`

// CopyIn copies the files CopyOut wrote to dir into the tables (empty, indexed) of the database
// conn is connected to, keeping ids, then sets the sequences, in one transaction.
func CopyIn(ctx context.Context, conn *pgx.Conn, dir string, tables []*schema.Table) error {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	for i, t := range tables {
		f, err := os.Open(file(dir, i))
		if err != nil {
			return err
		}
		_, err = tx.Conn().PgConn().CopyFrom(ctx, f, "COPY "+pgquote.Table(t.QName())+" FROM STDIN")
		f.Close()
		if err != nil {
			return fmt.Errorf("COPY %s in: %w", t.Display(), err)
		}
	}
	rows, err := tx.Query(ctx, setSequences)
	if err != nil {
		return err
	}
	var sets []string
	for rows.Next() {
		var q string
		if err := rows.Scan(&q); err != nil {
			rows.Close()
			return err
		}
		sets = append(sets, q)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for _, q := range sets {
		if _, err := tx.Exec(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	return tx.Commit(ctx)
}
