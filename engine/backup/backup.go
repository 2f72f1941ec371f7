// Package backup streams one consistent snapshot of a database into a package: every table as
// COPY text in foreign-key order, the schema snapshot, the key plan and the logical digest, which
// is hashed from the same COPY stream (digest.StreamTable) or, where that cannot match the SQL
// digest, computed by a second connection from the same exported snapshot while the data streams out.
// With the streamed digest, a second connection in the same snapshot can read some tables
// meanwhile (streams.go). A bytea too long for COPY text travels as an entry of its own, read in
// slices (large.go). Memory does not grow with the data; a failed backup leaves no file behind.
package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/edmsdr/edmsdr/engine/digest"
	"github.com/edmsdr/edmsdr/engine/dsn"
	"github.com/edmsdr/edmsdr/engine/finding"
	"github.com/edmsdr/edmsdr/engine/introspect"
	"github.com/edmsdr/edmsdr/engine/keys"
	"github.com/edmsdr/edmsdr/engine/pack"
	"github.com/edmsdr/edmsdr/engine/pgerr"
	"github.com/edmsdr/edmsdr/engine/pgquote"
	"github.com/edmsdr/edmsdr/engine/schema"
)

// Options tune a backup.
type Options struct {
	// Keys is the keys file (natural keys, generic foreign keys, exclusions); nil infers everything.
	Keys *keys.File
	// Schemas limits the backup to these schemas (default: every non-system schema).
	Schemas []string
	// Tool is recorded in the package ("edmsdr 1.2.3").
	Tool string
	// Writer tunes the package writer (chunk size, compression, overwrite, encryption).
	Writer pack.WriterOptions
	// Log receives progress; nil discards.
	Log *slog.Logger
	// Snapshot, if set, is called with the id of the backup's exported snapshot before any data is
	// read. While it runs, another session can import the snapshot (SET TRANSACTION SNAPSHOT) and
	// see exactly the data the package will hold: tests compare the package with it while writers
	// keep changing the source. An error aborts the backup.
	Snapshot func(ctx context.Context, id string) error
	// Streams is how many connections read tables at once, in the same snapshot: 0 or 1 reads
	// every table on the backup's own connection; 2 adds a second one (faster only where a core
	// is idle: on a loaded 2-core machine 20% faster, on a quiet one 4% slower for 37% more
	// server CPU, docs/performance.md). Tables the second connection reads wait
	// in unlinked temporary files (uncompressed COPY text, in TempDir) for their turn in the
	// package; the rows and the digest are the same either way (only where chunks are cut can
	// differ).
	Streams int
	// TempDir holds the second stream's temporary files and the large values waiting for
	// their entries ("" is the system's temporary directory).
	TempDir string
	// LargeValue: a bytea value longer than this many bytes travels as a large value entry of
	// its own (pack.TableEntry.Large), read from the server in slices, instead of inside its
	// row's COPY text, which PostgreSQL cannot write for a value of about 512 MiB or more;
	// 0 means DefaultLargeValue. Only with the streamed digest (digest.StreamCheck); otherwise
	// such a value makes the backup fail, saying so.
	LargeValue int64
}

// DefaultLargeValue is the default Options.LargeValue: half the largest bytea COPY text can carry.
const DefaultLargeValue = 256 << 20

// Result describes a finished backup.
type Result struct {
	Path     string
	Manifest *pack.Manifest
	Bytes    int64 // size of the package as written
	Elapsed  time.Duration
	// Warnings are things the operator should look at; the package is complete without them
	// (integer *_id columns that no foreign key or keys-file reference declares, for instance).
	Warnings finding.List
}

// Run backs up the database cfg points at into the package file out (written to out.partial,
// fsynced and renamed).
func Run(ctx context.Context, cfg *pgx.ConnConfig, out string, opts Options) (*Result, error) {
	return run(ctx, cfg, out, func() (*pack.Writer, error) { return pack.Create(out, opts.Writer) }, opts)
}

// RunTo backs up the database cfg points at into sink, a destination the caller opened (an
// object upload, for instance); name names the package in the result and in errors. The sink is
// committed when the backup succeeds and aborted when it fails: it is never left open.
func RunTo(ctx context.Context, cfg *pgx.ConnConfig, sink pack.Sink, name string, opts Options) (*Result, error) {
	opened := false
	res, err := run(ctx, cfg, name, func() (*pack.Writer, error) {
		opened = true
		return pack.NewWriter(sink, name, opts.Writer)
	}, opts)
	if !opened {
		sink.Abort()
	}
	return res, err
}

func run(ctx context.Context, cfg *pgx.ConnConfig, out string, create func() (*pack.Writer, error), opts Options) (res *Result, err error) {
	start := time.Now()
	log := opts.Log
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("backup: connect to %s: %w", dsn.Describe(cfg), dsn.Scrub(err, cfg.Password))
	}
	defer conn.Close(context.WithoutCancel(ctx))
	// Read-write only for the digest's temporary tables: the backup writes nothing else.
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead})
	if err != nil {
		return nil, fmt.Errorf("backup: begin snapshot: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // only temporary tables to undo
	if err := sessionMemory(ctx, tx); err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	var snapshot string
	if err := tx.QueryRow(ctx, "SELECT pg_export_snapshot()").Scan(&snapshot); err != nil {
		return nil, fmt.Errorf("backup: export snapshot: %w", err)
	}
	if opts.Snapshot != nil {
		if err := opts.Snapshot(ctx, snapshot); err != nil {
			return nil, fmt.Errorf("backup: snapshot %s: %w", snapshot, err)
		}
	}
	kf := opts.Keys
	if kf == nil {
		kf = &keys.File{}
	}
	sch, err := introspect.Read(ctx, tx, introspect.Options{Schemas: opts.Schemas, Exclude: kf.Excluded()})
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	if len(sch.Tables) == 0 {
		return nil, errors.New("backup: the database has no tables to back up")
	}
	if fl := sch.LeftOutReferences(); len(fl) > 0 {
		return nil, &finding.Refused{Op: "backup", Findings: fl}
	}
	plan, err := keys.Build(sch, kf)
	if err != nil {
		return nil, fmt.Errorf("backup: key plan: %w", err)
	}
	if fl := checkDeclaredKeys(ctx, tx, sch, plan); len(fl) > 0 {
		return nil, &finding.Refused{Op: "backup", Findings: fl}
	}
	version, err := introspect.ServerVersion(ctx, tx)
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}

	phase := start
	mark := func(name string) {
		now := time.Now()
		log.Debug("phase done", "phase", name, "elapsed", now.Sub(phase))
		phase = now
	}
	// The digest is folded into the COPY stream (see digest.StreamTable) where the server renders
	// values as the digest hashes them; otherwise it runs beside the stream, on a second connection
	// that imports the snapshot.
	why, err := digest.StreamCheckTables(ctx, tx, sch)
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	var stream *digest.Session
	if why == "" {
		if stream, err = digest.NewSession(tx, sch, plan, digest.Options{ScanJoins: true}); err != nil {
			return nil, fmt.Errorf("backup: %w", err)
		}
		stream.HoldGenericIdentities(tx.Conn().PgConn(), heldIdentityBytes)
	} else {
		log.Info("digest computed by a second scan", "reason", why)
	}
	mark("prepare")
	dctx, cancelDigest := context.WithCancel(ctx)
	defer cancelDigest()
	type digestResult struct {
		sum pack.Digest
		err error
	}
	digestDone := make(chan digestResult, 1)
	if stream == nil {
		go func() {
			sum, err := digestSnapshot(dctx, cfg, snapshot, sch, plan)
			digestDone <- digestResult{sum, err}
		}()
	} else {
		digestDone <- digestResult{}
	}

	w, err := create()
	if err != nil {
		cancelDigest()
		<-digestDone
		return nil, fmt.Errorf("backup: %w", err)
	}
	defer func() {
		if err != nil {
			w.Abort()
		}
	}()
	graph := schema.BuildGraph(sch)
	// The order the tables stream in (and the package lists them in): foreign-key order, and with
	// the streamed digest also each table after those its generic foreign keys name, cycles
	// largest first (digest.Session.StreamOrder), so that the identities harvested from a
	// table's stream serve every table after it.
	order := graph.Order
	var sizes map[string]float64
	if stream != nil {
		if sizes, err = tableSizes(ctx, tx, sch); err == nil {
			order, err = stream.StreamOrder(ctx, sizes)
		}
		if err != nil {
			cancelDigest()
			<-digestDone
			return nil, fmt.Errorf("backup: %w", err)
		}
	}
	hdr := pack.Header{Tool: opts.Tool}
	// Tables holding values too large for COPY text: their values travel in entries of their
	// own (format 2, only then). Found before the header, which names the format.
	above := opts.LargeValue
	if above <= 0 {
		above = DefaultLargeValue
	}
	var large map[string]bool
	if stream != nil {
		if large, err = largeTables(ctx, tx, order, above); err != nil {
			cancelDigest()
			<-digestDone
			return nil, fmt.Errorf("backup: %w", err)
		}
		if len(large) > 0 {
			hdr.Format = pack.FormatLargeValues
			log.Info("large values in their own entries", "tables", len(large), "above_bytes", above)
		}
	}
	for i, t := range order {
		hdr.Tables = append(hdr.Tables, pack.TableLayout{Index: i, Table: t.QName(), Columns: t.DataColumns()})
	}
	if err := w.WriteHeader(hdr); err != nil {
		cancelDigest()
		<-digestDone
		return nil, fmt.Errorf("backup: %w", err)
	}
	streamed := map[string]pack.TableDigest{}
	var side *sideStream
	sideTables := map[string]bool{}
	if stream != nil && opts.Streams >= 2 {
		cost := make([]float64, len(order))
		for i, t := range order {
			cost[i] = sizes[t.QName()]
		}
		var tables []*schema.Table
		for i, on := range schedule(cost) {
			if on && !large[order[i].QName()] {
				tables = append(tables, order[i])
				sideTables[order[i].QName()] = true
			}
		}
		if len(tables) > 0 {
			log.Debug("second stream", "tables", len(tables))
			side = startSide(ctx, cfg, snapshot, opts.TempDir, sch, plan, tables)
			defer side.stop()
		}
	}
	if stream != nil {
		// Identities harvested from the streams of the tables the first stream reads whole.
		skip := map[string]bool{}
		for q := range large {
			skip[q] = true
		}
		for q := range sideTables {
			skip[q] = true
		}
		if err := stream.HarvestIdentities(ctx, order, skip); err != nil {
			return nil, fmt.Errorf("backup: %w", err)
		}
		log.Debug("identities harvested from the stream", "tables", strings.Join(stream.Harvested(), ","))
	}
	aheadBlocks := readAheadPool()
	for i, t := range order {
		ts := w.Table(i, t.QName())
		if sideTables[t.QName()] {
			if streamed[t.QName()], err = side.take(ctx, t.QName(), ts); err != nil {
				return nil, fmt.Errorf("backup table %s: %w", t.Display(), err)
			}
			te, err := ts.Close()
			if err != nil {
				return nil, fmt.Errorf("backup table %s: %w", t.Display(), err)
			}
			log.Debug("table copied", "table", t.Display(), "rows", te.Rows, "bytes", te.Bytes, "stream", 2)
			continue
		}
		cols := pgquote.Idents(t.DataColumns())
		sql := fmt.Sprintf("COPY %s (%s) TO STDOUT", pgquote.Table(t.QName()), cols)
		if t.Partitioned {
			sql = fmt.Sprintf("COPY (SELECT %s FROM %s) TO STDOUT", cols, pgquote.Table(t.QName()))
		}
		var dst io.Writer = ts
		var hasher *digest.Hasher
		var spool *largeSpool
		switch {
		case stream != nil && large[t.QName()]:
			if spool, err = newLargeSpool(opts.TempDir); err != nil {
				return nil, fmt.Errorf("backup table %s: %w", t.Display(), err)
			}
			defer spool.close()
			if sql, hasher, err = stream.StreamTableLarge(ctx, t.QName(), t.DataColumns(), t.Partitioned, ts, above, spool.add); err != nil {
				return nil, fmt.Errorf("backup table %s: %w", t.Display(), err)
			}
			dst = hasher
		case stream != nil:
			if sql, hasher, err = stream.StreamTable(ctx, t.QName(), t.DataColumns(), t.Partitioned, ts); err != nil {
				return nil, fmt.Errorf("backup table %s: %w", t.Display(), err)
			}
			dst = hasher
		}
		var ahead *readAhead
		if spool == nil {
			ahead = newReadAhead(ctx, dst, aheadBlocks)
			dst = ahead
		}
		_, err := tx.Conn().PgConn().CopyTo(ctx, dst, sql)
		if ahead != nil {
			if aerr := ahead.Close(); err == nil {
				err = aerr
			}
		}
		if err != nil {
			cancelDigest()
			<-digestDone
			if pgerr.TooLarge(err) {
				return nil, fmt.Errorf("backup table %s: a row holds a value too large for PostgreSQL to write in COPY text (1 GiB at most per row: a text value escaped past it, or a bytea of about 512 MiB or more where the digest cannot be streamed): no package written; keep such files outside the database: %w", t.Display(), err)
			}
			return nil, fmt.Errorf("backup table %s: %w", t.Display(), err)
		}
		if hasher != nil {
			if streamed[t.QName()], err = hasher.Close(); err != nil {
				return nil, fmt.Errorf("backup table %s: %w", t.Display(), err)
			}
		}
		te, err := ts.Close()
		if err != nil {
			cancelDigest()
			<-digestDone
			return nil, fmt.Errorf("backup table %s: %w", t.Display(), err)
		}
		if spool != nil {
			if err := spool.write(ctx, w, i, t.QName()); err != nil {
				return nil, fmt.Errorf("backup table %s: %w", t.Display(), err)
			}
			spool.close()
		}
		log.Debug("table copied", "table", t.Display(), "rows", te.Rows, "bytes", te.Bytes)
	}
	mark("copy")
	dr := <-digestDone
	if dr.err != nil {
		return nil, fmt.Errorf("backup: digest: %w", dr.err)
	}
	if stream != nil {
		if len(streamed) != len(sch.Tables) {
			return nil, fmt.Errorf("backup: digest: %d tables hashed, the schema has %d", len(streamed), len(sch.Tables))
		}
		dr.sum = pack.NewDigest(streamed)
	}
	mark("digest")
	m := &pack.Manifest{
		Tool: opts.Tool, CreatedAt: time.Now().UTC(), ServerVersion: version, Database: cfg.Database,
		Schema: sch, Plan: plan, Digest: dr.sum,
	}
	if err := w.Close(m); err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	mark("close")
	return &Result{Path: out, Manifest: m, Bytes: w.Bytes(), Elapsed: time.Since(start), Warnings: UndeclaredReferences(sch, plan)}, nil
}

// heldIdentityBytes bounds the identities the backup holds in the client
// (digest.Session.HoldGenericIdentities): those harvested from the streams of the tables read so
// far and kept for the tables after them that reference them (digest.Session.HarvestIdentities;
// let go after the last of those), and those read from the server's identity tables for the
// table being streamed (let go after it). The documents, versions and workflows an audit trail
// points at, 16 bytes each, take about 85 MiB at a million documents; past the budget a table's
// identities are built and joined by the server as before (correct, slower).
const heldIdentityBytes = 96 << 20

// Server memory for the backup's own transaction, raised to at least these (kB; a server set
// higher keeps its value): the hash joins of the COPYs against the identity tables stay in
// memory instead of spilling in batches (at 200k documents the document versions' identities
// alone are ~30 MB, several times the default work_mem), and the identity tables, temporary,
// live in local buffers (temp_buffers, 8 MB by default) instead of being written out and read
// back. Both are allocated only as used.
const (
	backupWorkMemKB     = 64 << 10
	backupTempBuffersKB = 256 << 10
)

// sessionMemory raises work_mem and temp_buffers for the transaction (SET LOCAL: nothing
// outlives it). temp_buffers must be set before the session first touches a temporary table,
// which is why this comes first.
func sessionMemory(ctx context.Context, tx pgx.Tx) error {
	for name, kb := range map[string]int{"work_mem": backupWorkMemKB, "temp_buffers": backupTempBuffersKB} {
		if _, err := tx.Exec(ctx, "SELECT set_config($1::text, (greatest(pg_size_bytes(current_setting($1::text)), $2::bigint * 1024) / 1024)::text || 'kB', true)", name, kb); err != nil {
			return fmt.Errorf("set %s: %w", name, err)
		}
	}
	return nil
}

// UndeclaredReferences warns about integer columns named *_id that no foreign key (nor keys-file
// reference, nor generic foreign key) declares: if they hold other rows' ids, a restore that
// renumbers those rows leaves them pointing at other rows, and the digest, reading them as plain
// numbers, cannot tell. Each warning names the keys-file line that would declare the reference.
func UndeclaredReferences(s *schema.Schema, plan *keys.Plan) finding.List {
	var out finding.List
	for _, t := range s.Tables {
		generic := map[string]bool{}
		for _, g := range plan.GenericFKsOf(t.QName()) {
			generic[g.ContentTypeColumn], generic[g.ObjectIDColumn] = true, true
		}
		for _, c := range t.Columns {
			if !strings.HasSuffix(c.Name, "_id") || len(c.Name) <= 3 || !schema.IsInteger(c.Type) ||
				c.Generated || c.Name == t.SurrogateID() || generic[c.Name] || len(t.FKFor(c.Name)) > 0 {
				continue
			}
			line := fmt.Sprintf("%s.%s: %s", t.Display(), c.Name, guessReferenced(s, t, strings.TrimSuffix(c.Name, "_id")))
			out.Add(finding.Finding{Kind: finding.SchemaMismatch, Severity: finding.Warning, Table: t.Display(), Column: c.Name,
				Message: fmt.Sprintf("integer column looks like a reference, but no foreign key declares it: if it holds another table's ids, declare it in the keys file (references:\n  %s\n) so that restores rewrite it and the digest follows it", line)})
		}
	}
	return out
}

// guessReferenced names the table(column) a column named stem_id probably refers to: a table
// named stem (in t's schema first), else one whose name ends in _stem (Django's app_model), with
// its surrogate id; TABLE(id) when none or several fit.
func guessReferenced(s *schema.Schema, t *schema.Table, stem string) string {
	if r := s.Lookup(t.Schema, stem); r != nil && r.SurrogateID() != "" {
		return fmt.Sprintf("%s(%s)", r.Display(), r.SurrogateID())
	}
	var found []*schema.Table
	for _, r := range s.Tables {
		if (r.Name == stem || strings.HasSuffix(r.Name, "_"+stem)) && r.SurrogateID() != "" {
			found = append(found, r)
		}
	}
	if len(found) == 1 {
		return fmt.Sprintf("%s(%s)", found[0].Display(), found[0].SurrogateID())
	}
	return "TABLE(id)"
}

// digestSnapshot computes the digest of the exported snapshot on its own connection. Temporary
// tables need a read-write transaction; it only reads the data and rolls back.
func digestSnapshot(ctx context.Context, cfg *pgx.ConnConfig, snapshot string, sch *schema.Schema, plan *keys.Plan) (pack.Digest, error) {
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return pack.Digest{}, fmt.Errorf("connect: %w", dsn.Scrub(err, cfg.Password))
	}
	defer conn.Close(context.WithoutCancel(ctx))
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead})
	if err != nil {
		return pack.Digest{}, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // temp tables only
	if _, err := tx.Exec(ctx, fmt.Sprintf("SET TRANSACTION SNAPSHOT '%s'", strings.ReplaceAll(snapshot, "'", ""))); err != nil {
		return pack.Digest{}, fmt.Errorf("import snapshot: %w", err)
	}
	ds, err := digest.NewSession(tx, sch, plan, digest.Options{})
	if err != nil {
		return pack.Digest{}, err
	}
	return ds.All(ctx, nil)
}

// checkDeclaredKeys refuses natural keys from a keys file that the source data does not satisfy
// (inferred keys are enforced by the server's own unique constraints).
func checkDeclaredKeys(ctx context.Context, q pgx.Tx, sch *schema.Schema, plan *keys.Plan) finding.List {
	var out finding.List
	for _, t := range sch.Tables {
		tp := plan.Tables[t.QName()]
		if tp == nil || len(tp.NaturalKey) == 0 || !strings.HasPrefix(tp.Source, "keys file") {
			continue
		}
		cols := pgquote.Idents(tp.NaturalKey)
		var groups, rows int64
		sql := fmt.Sprintf("SELECT count(*), coalesce(sum(n), 0) FROM (SELECT count(*) AS n FROM %s GROUP BY %s HAVING count(*) > 1) d", pgquote.Table(t.QName()), cols)
		if err := q.QueryRow(ctx, sql).Scan(&groups, &rows); err != nil {
			out.Add(finding.Finding{Kind: finding.KeyPlan, Table: t.Display(), Message: fmt.Sprintf("cannot check natural key (%s): %v", cols, err)})
			continue
		}
		if groups > 0 {
			out.Add(finding.Finding{Kind: finding.Duplicated, Table: t.Display(), Count: rows,
				Message: fmt.Sprintf("natural key (%s) from the keys file is not unique in the source: %d keys are shared by %d rows", strings.Join(tp.NaturalKey, ", "), groups, rows)})
		}
	}
	return out
}
