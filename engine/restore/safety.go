package restore

import (
	"context"
	"fmt"
	"time"

	"github.com/edmsdr/edmsdr/engine/digest"
	"github.com/edmsdr/edmsdr/engine/pack"
	"github.com/edmsdr/edmsdr/engine/pgquote"
)

// Safety asks a restore for a safety backup: a package of the target's current content of every
// table the restore touches (every column, every row), read inside the restore's transaction
// once its tables are locked and before anything is written to them, so that it is exactly the
// state the restore changes. A rollback puts it back (Rollback).
type Safety struct {
	// Sink receives the package. It is committed just before the restore's COMMIT, once the
	// restore has passed validation; a restore that fails, is refused, is a dry run or finds
	// nothing to do aborts it (nothing was changed, nothing is kept). A restore never commits
	// without its safety backup complete: when it cannot be written, the restore fails.
	Sink pack.Sink
	// Name names the package in errors and in the result.
	Name string
	// Writer tunes the package writer (encryption, signature).
	Writer pack.WriterOptions
	// Tool is recorded in the package.
	Tool string
}

// SafetyResult says what became of a safety backup.
type SafetyResult struct {
	Name string `json:"name"`
	// Kept is true when the package was committed (the restore then committed, or its commit's
	// outcome is unknown).
	Kept   bool  `json:"kept"`
	Tables int   `json:"tables"`
	Rows   int64 `json:"rows"`
	Bytes  int64 `json:"bytes"`
	// Digest is the digest of the tables before the restore; After once it had written them.
	Digest  string        `json:"digest"`
	After   string        `json:"after_digest,omitempty"`
	Elapsed time.Duration `json:"elapsed_ns"`
}

// writeSafety streams the current content of every table of the restore into the safety
// backup, with its digest and the sequences' positions. The manifest is written by closeSafety.
func (r *run) writeSafety(ctx context.Context) error {
	s := r.opts.Safety
	if s == nil {
		return nil
	}
	start := time.Now()
	fail := func(err error) error {
		return fmt.Errorf("restore: safety backup %s: %w (nothing was restored)", s.Name, err)
	}
	w, err := pack.NewWriter(s.Sink, s.Name, s.Writer)
	if err != nil {
		s.Sink.Abort()
		return fail(err)
	}
	r.safetyW = w
	r.res.Safety = &SafetyResult{Name: s.Name, Tables: len(r.tables)}
	hdr := pack.Header{Tool: s.Tool}
	qnames := make([]string, 0, len(r.tables))
	for i, st := range r.tables {
		hdr.Tables = append(hdr.Tables, pack.TableLayout{Index: i, Table: st.qname, Columns: st.t.DataColumns()})
		qnames = append(qnames, st.qname)
	}
	if err := w.WriteHeader(hdr); err != nil {
		return fail(err)
	}
	for i, st := range r.tables {
		ts := w.Table(i, st.qname)
		cols := pgquote.Idents(st.t.DataColumns())
		sql := fmt.Sprintf("COPY %s (%s) TO STDOUT", pgquote.Table(st.qname), cols)
		if st.t.Partitioned {
			sql = fmt.Sprintf("COPY (SELECT %s FROM %s) TO STDOUT", cols, pgquote.Table(st.qname))
		}
		if _, err := r.tx.Conn().PgConn().CopyTo(ctx, ts, sql); err != nil {
			return fail(fmt.Errorf("table %s: %w", st.display, err))
		}
		te, err := ts.Close()
		if err != nil {
			return fail(fmt.Errorf("table %s: %w", st.display, err))
		}
		r.res.Safety.Rows += te.Rows
	}
	sum, err := r.digestTables(ctx, qnames, "_edmsdr_sb")
	if err != nil {
		return fail(err)
	}
	var seqs []pack.SequenceState
	for _, st := range r.tables {
		for _, col := range st.t.Columns {
			if col.Sequence == "" {
				continue
			}
			sq, err := r.sequence(ctx, st, col.Name, col.Sequence)
			if err != nil {
				return fail(err)
			}
			seqs = append(seqs, pack.SequenceState{Table: st.qname, Column: col.Name, Sequence: col.Sequence, Next: sq.next})
		}
	}
	var db string
	if err := r.tx.QueryRow(ctx, "SELECT current_database()").Scan(&db); err != nil {
		return fail(err)
	}
	r.safetyM = &pack.Manifest{
		Origin: pack.OriginSafety, Tool: s.Tool, CreatedAt: time.Now().UTC(), ServerVersion: r.version, Database: db,
		Schema: r.target, Plan: r.manifest.Plan, Digest: sum,
		Safety: &pack.Safety{Package: r.manifest.Digest.Total, Mode: string(r.opts.Mode), Sequences: seqs},
	}
	r.res.Safety.Digest = sum.Total
	r.res.Safety.Elapsed += time.Since(start)
	r.mark("safety-backup")
	return nil
}

// closeSafety records what the restore leaves behind (the tables' digest, its transaction id)
// and commits the safety backup. It runs after validation, just before COMMIT.
func (r *run) closeSafety(ctx context.Context) error {
	if r.safetyW == nil {
		return nil
	}
	start := time.Now()
	qnames := make([]string, 0, len(r.tables))
	for _, st := range r.tables {
		qnames = append(qnames, st.qname)
	}
	after, err := r.digestTables(ctx, qnames, "_edmsdr_sa")
	if err != nil {
		return fmt.Errorf("restore: safety backup %s: %w (nothing was restored)", r.opts.Safety.Name, err)
	}
	if err := r.tx.QueryRow(ctx, "SELECT pg_current_xact_id()::text").Scan(&r.safetyM.Safety.XID); err != nil {
		return fmt.Errorf("restore: safety backup %s: %w (nothing was restored)", r.opts.Safety.Name, err)
	}
	r.safetyM.Safety.After = after
	if err := r.safetyW.Close(r.safetyM); err != nil {
		return fmt.Errorf("restore: safety backup %s could not be completed, so nothing was restored: %w", r.opts.Safety.Name, err)
	}
	r.res.Safety.Kept = true
	r.res.Safety.After = after.Total
	r.res.Safety.Bytes = r.safetyW.Bytes()
	r.res.Safety.Elapsed += time.Since(start)
	r.mark("safety-backup-close")
	return nil
}

// noteWholeTable keeps the digest validation computed for st when it covers the whole table with
// every column (the table was empty before the restore): the safety backup's "after" digest
// reuses it instead of digesting the table a second time.
func (r *run) noteWholeTable(st *tableState, d pack.TableDigest) {
	if r.safetyW == nil || st.targetHasRows || st.exist > 0 || fmt.Sprint(st.cols) != fmt.Sprint(st.t.DataColumns()) {
		return
	}
	if r.wholeDigests == nil {
		r.wholeDigests = map[string]pack.TableDigest{}
	}
	r.wholeDigests[st.qname] = d
}

// digestTables digests whole tables of the target (every data column) under the package's plan,
// inside the restore's transaction; tables validation already digested whole are not read again.
// Rows are hashed client-side where the server's bytes are the client's (digest.StreamCheck).
func (r *run) digestTables(ctx context.Context, qnames []string, prefix string) (pack.Digest, error) {
	ds, err := digest.NewSession(r.tx, r.target, r.manifest.Plan, digest.Options{Prefix: prefix})
	if err != nil {
		return pack.Digest{}, err
	}
	defer ds.Close(ctx)
	why, err := digest.StreamCheck(ctx, r.tx)
	if err != nil {
		return pack.Digest{}, err
	}
	tables := map[string]pack.TableDigest{}
	for _, q := range qnames {
		if d, ok := r.wholeDigests[q]; ok {
			tables[q] = d
			continue
		}
		var d pack.TableDigest
		if why == "" {
			d, err = ds.TableCopy(ctx, r.tx.Conn().PgConn(), q, "")
		} else {
			d, err = ds.Table(ctx, q, "")
		}
		if err != nil {
			return pack.Digest{}, err
		}
		tables[q] = d
	}
	return pack.NewDigest(tables), nil
}
