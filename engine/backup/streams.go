package backup

import (
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/edmsdr/edmsdr/engine/digest"
	"github.com/edmsdr/edmsdr/engine/dsn"
	"github.com/edmsdr/edmsdr/engine/keys"
	"github.com/edmsdr/edmsdr/engine/pack"
	"github.com/edmsdr/edmsdr/engine/pgerr"
	"github.com/edmsdr/edmsdr/engine/schema"
)

// A second stream: while the backup's own connection writes tables into the package in order, a
// second connection, in the same exported snapshot, reads other tables (with their own identity
// tables: temporary tables belong to one session) into unlinked temporary files, hashing them as
// they pass. When the package reaches such a table, its rows are copied from the file: the
// package's bytes and the digest are the same as with one stream, and memory stays flat (the
// files hold the rows, on disk, until their turn).

// spoolCost is what copying a spooled table into the package costs, relative to streaming it
// from the server (no query, no join, no row hashing: the checksum and the compression remain).
const spoolCost = 0.35

// spoolCandidates bounds the tables the schedule considers for the second stream (the largest).
const spoolCandidates = 32

// makespan estimates how long the package takes to write when the tables in side are read by
// the second stream: cost[i] is the cost of table i (in package order) streamed.
func makespan(cost []float64, side []bool) float64 {
	var worker, main float64
	for i, c := range cost {
		if !side[i] {
			main += c
			continue
		}
		worker += c
		main = max(main, worker) + spoolCost*c
	}
	return main
}

// schedule picks the tables (by index in package order) the second stream reads: greedily, the
// table whose move shortens the estimated makespan most, until none does.
func schedule(cost []float64) []bool {
	side := make([]bool, len(cost))
	idx := make([]int, len(cost))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return cost[idx[a]] > cost[idx[b]] })
	if len(idx) > spoolCandidates {
		idx = idx[:spoolCandidates]
	}
	best := makespan(cost, side)
	for {
		pick := -1
		for _, i := range idx {
			if side[i] || cost[i] <= 0 {
				continue
			}
			side[i] = true
			if m := makespan(cost, side); m < best*0.98 {
				best, pick = m, i
			}
			side[i] = false
		}
		if pick < 0 {
			return side
		}
		side[pick] = true
	}
}

// tableSizes returns the on-disk size (heap and TOAST, partitions summed) of every table of sch,
// by qualified name: the schedule's costs. pg_table_size locks the relation it measures (ACCESS
// SHARE, until the transaction ends): only the tables of sch are measured, so that a table the
// backup leaves out (another schema, excluded by the keys file), held exclusively by another
// session, never stops it.
func tableSizes(ctx context.Context, tx pgx.Tx, sch *schema.Schema) (map[string]float64, error) {
	nss, names := make([]string, 0, len(sch.Tables)), make([]string, 0, len(sch.Tables))
	for _, t := range sch.Tables {
		nss, names = append(nss, t.Schema), append(names, t.Name)
	}
	rows, err := tx.Query(ctx, `SELECT n.nspname, c.relname,
  CASE WHEN c.relkind = 'p' THEN (SELECT coalesce(sum(pg_table_size(p.relid)), 0) FROM pg_partition_tree(c.oid) p)
    ELSE pg_table_size(c.oid) END::float8
FROM unnest($1::text[], $2::text[]) AS w(nspname, relname)
JOIN pg_namespace n ON n.nspname = w.nspname
JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = w.relname
WHERE c.relkind IN ('r', 'p')`, nss, names)
	if err != nil {
		return nil, fmt.Errorf("table sizes: %w", err)
	}
	defer rows.Close()
	out := map[string]float64{}
	for rows.Next() {
		var ns, name string
		var size float64
		if err := rows.Scan(&ns, &name, &size); err != nil {
			return nil, fmt.Errorf("table sizes: %w", err)
		}
		if sch.Table(ns+"."+name) != nil {
			out[ns+"."+name] = size
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("table sizes: %w", err)
	}
	return out, nil
}

// spooled is one table read by the second stream: its rows in file (at offset 0), its digest.
type spooled struct {
	file *os.File
	sum  pack.TableDigest
	err  error
}

// sideStream is the second stream: it reads tables into temporary files, in order, and hands
// each over on its channel.
type sideStream struct {
	results map[string]chan spooled
	cancel  context.CancelFunc
	done    chan struct{}
}

// startSide starts reading tables (in package order) on a second connection that imports
// snapshot. dir holds the temporary files ("" is the system's temporary directory).
func startSide(ctx context.Context, cfg *pgx.ConnConfig, snapshot, dir string, sch *schema.Schema, plan *keys.Plan, tables []*schema.Table) *sideStream {
	ctx, cancel := context.WithCancel(ctx)
	s := &sideStream{results: map[string]chan spooled{}, cancel: cancel, done: make(chan struct{})}
	for _, t := range tables {
		s.results[t.QName()] = make(chan spooled, 1)
	}
	go func() {
		defer close(s.done)
		err := s.run(ctx, cfg, snapshot, dir, sch, plan, tables)
		if err == nil {
			return
		}
		// Every table not yet handed over fails with the stream.
		for _, t := range tables {
			select {
			case s.results[t.QName()] <- spooled{err: err}:
			default:
			}
		}
	}()
	return s
}

func (s *sideStream) run(ctx context.Context, cfg *pgx.ConnConfig, snapshot, dir string, sch *schema.Schema, plan *keys.Plan, tables []*schema.Table) error {
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("second stream: connect to %s: %w", dsn.Describe(cfg), dsn.Scrub(err, cfg.Password))
	}
	defer conn.Close(context.WithoutCancel(ctx))
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead})
	if err != nil {
		return fmt.Errorf("second stream: begin: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // only temporary tables to undo
	if _, err := tx.Exec(ctx, fmt.Sprintf("SET TRANSACTION SNAPSHOT '%s'", strings.ReplaceAll(snapshot, "'", ""))); err != nil {
		return fmt.Errorf("second stream: import snapshot %s: %w", snapshot, err)
	}
	if err := sessionMemory(ctx, tx); err != nil {
		return fmt.Errorf("second stream: %w", err)
	}
	ds, err := digest.NewSession(tx, sch, plan, digest.Options{Prefix: "_edmsdr_dg2", ScanJoins: true})
	if err != nil {
		return fmt.Errorf("second stream: %w", err)
	}
	for _, t := range tables {
		f, err := os.CreateTemp(dir, "edmsdr-backup-*.copy")
		if err != nil {
			return fmt.Errorf("second stream: table %s: %w", t.Display(), err)
		}
		// Unlinked at once: nothing is left behind, whatever happens to the process.
		_ = os.Remove(f.Name())
		sum, err := spool(ctx, tx, ds, t, f)
		if err != nil {
			f.Close()
			return fmt.Errorf("second stream: %w", err)
		}
		s.results[t.QName()] <- spooled{file: f, sum: sum}
	}
	return nil
}

// spool writes table t's COPY rows into f through a digest Hasher and rewinds f.
func spool(ctx context.Context, tx pgx.Tx, ds *digest.Session, t *schema.Table, f *os.File) (pack.TableDigest, error) {
	bw := &bufWriter{f: f, buf: make([]byte, 0, 1<<20)}
	sql, hasher, err := ds.StreamTable(ctx, t.QName(), t.DataColumns(), t.Partitioned, bw)
	if err != nil {
		return pack.TableDigest{}, err
	}
	if _, err := tx.Conn().PgConn().CopyTo(ctx, hasher, sql); err != nil {
		return pack.TableDigest{}, copyError(err)
	}
	sum, err := hasher.Close()
	if err != nil {
		return pack.TableDigest{}, err
	}
	if err := bw.flush(); err != nil {
		return pack.TableDigest{}, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return pack.TableDigest{}, err
	}
	return sum, nil
}

// bufWriter batches small writes (a row each) into larger writes to f.
type bufWriter struct {
	f   *os.File
	buf []byte
}

func (b *bufWriter) Write(p []byte) (int, error) {
	if len(b.buf)+len(p) > cap(b.buf) {
		if err := b.flush(); err != nil {
			return 0, err
		}
		if len(p) >= cap(b.buf) {
			return b.f.Write(p)
		}
	}
	b.buf = append(b.buf, p...)
	return len(p), nil
}

func (b *bufWriter) flush() error {
	if len(b.buf) == 0 {
		return nil
	}
	_, err := b.f.Write(b.buf)
	b.buf = b.buf[:0]
	return err
}

// take waits for table qname from the second stream and copies its rows into ts, entry by entry
// (a row of any size is copied in pieces, never held whole).
func (s *sideStream) take(ctx context.Context, qname string, ts *pack.TableStream) (pack.TableDigest, error) {
	var r spooled
	select {
	case r = <-s.results[qname]:
	case <-ctx.Done():
		return pack.TableDigest{}, ctx.Err()
	}
	if r.err != nil {
		return pack.TableDigest{}, r.err
	}
	defer r.file.Close()
	fi, err := r.file.Stat()
	if err != nil {
		return pack.TableDigest{}, fmt.Errorf("read back: %w", err)
	}
	if err := ts.WriteFrom(ctx, r.file, fi.Size()); err != nil {
		return pack.TableDigest{}, fmt.Errorf("read back: %w", err)
	}
	return r.sum, nil
}

// stop cancels the second stream, waits for it, and closes the files nobody took.
func (s *sideStream) stop() {
	s.cancel()
	<-s.done
	for _, ch := range s.results {
		select {
		case r := <-ch:
			if r.file != nil {
				r.file.Close()
			}
		default:
		}
	}
}

// copyError says what to do about a COPY the server could not write.
func copyError(err error) error {
	if pgerr.TooLarge(err) {
		return fmt.Errorf("a row holds a value too large for PostgreSQL to write in COPY text (1 GiB at most per row: a text value escaped past it, or a bytea of about 512 MiB or more where the digest cannot be streamed): no package written; keep such files outside the database: %w", err)
	}
	return err
}
