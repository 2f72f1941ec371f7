package restore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/edmsdr/edmsdr/engine/finding"
	"github.com/edmsdr/edmsdr/engine/pack"
	"github.com/edmsdr/edmsdr/engine/pgcopy"
	"github.com/edmsdr/edmsdr/engine/pgerr"
	"github.com/edmsdr/edmsdr/engine/pgquote"
)

// createStaging creates one temporary staging table per package table (a view over the final
// table for a table loaded directly: see direct.go).
func (r *run) createStaging(ctx context.Context) error {
	for _, st := range r.tables {
		if st.direct {
			if err := r.directView(ctx, st); err != nil {
				return err
			}
			continue
		}
		if err := r.createStagingTable(ctx, st); err != nil {
			return err
		}
	}
	return nil
}

// createStagingTable creates st's staging table: the package's columns with the target's types,
// all nullable (so that bad data is reported by our checks, by row), plus a row handle for
// tables without a surrogate id.
func (r *run) createStagingTable(ctx context.Context, st *tableState) error {
	defs := make([]string, 0, len(st.cols)+1)
	for _, c := range st.cols {
		col := st.t.Column(c)
		defs = append(defs, pgquote.Ident(c)+" "+col.Type)
	}
	if st.sid == "" {
		defs = append(defs, "_edmsdr_r bigint GENERATED ALWAYS AS IDENTITY")
	}
	// Reference rows (see pack.TableEntry.Refs) are staged beside the data, flagged.
	defs = append(defs, "_edmsdr_ref boolean NOT NULL DEFAULT false")
	if r.reader.Header().Format >= pack.FormatLargeValues {
		// Large values name their row by its number among the table's data rows.
		defs = append(defs, "_edmsdr_n bigint GENERATED ALWAYS AS IDENTITY")
	}
	sql := fmt.Sprintf("CREATE TEMP TABLE %s (%s) ON COMMIT DROP", st.stg, strings.Join(defs, ", "))
	_, err := r.exec(ctx, st.display, sql)
	return err
}

// spoolMemory is the largest entry spooled in memory; larger ones go to a temporary file.
const spoolMemory = 32 << 20

// spool reads a whole entry that announces its checksum, verifying it, before the server sees a
// byte of it: a damaged byte surfaces as a checksum mismatch rather than as whatever error the
// server makes of it. Memory is bounded by spoolMemory (one buffer, reused); a larger entry is
// spooled to a temporary file, removed when the restore ends. An entry without a checksum (an
// older package) is streamed as it is read and verified against the manifest at the end. again,
// for a spooled entry, reads the same verified bytes once more from their start (nil for an
// entry streamed as it is read).
func (r *run) spool(e *pack.Entry) (data io.Reader, again func() (io.Reader, error), err error) {
	if e.SHA256 == "" {
		return e, nil, nil
	}
	if e.Size <= spoolMemory {
		if int64(cap(r.spoolBuf)) < e.Size {
			r.spoolBuf = make([]byte, 0, e.Size)
		}
		b := bytes.NewBuffer(r.spoolBuf[:0])
		if _, err := io.Copy(b, e); err != nil {
			return nil, nil, err
		}
		r.spoolBuf = b.Bytes()[:0]
		buf := b.Bytes()
		return bytes.NewReader(buf), func() (io.Reader, error) { return bytes.NewReader(buf), nil }, nil
	}
	if r.spoolFile == nil {
		f, err := os.CreateTemp("", "edmsdr-restore-*.copy")
		if err != nil {
			return nil, nil, fmt.Errorf("spool entry %s: %w", e.Name, err)
		}
		_ = os.Remove(f.Name()) // unlinked at once: the file vanishes with the restore, however it ends
		r.spoolFile = f
	}
	f := r.spoolFile
	if err := f.Truncate(0); err != nil {
		return nil, nil, fmt.Errorf("spool entry %s: %w", e.Name, err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, nil, fmt.Errorf("spool entry %s: %w", e.Name, err)
	}
	n, err := io.Copy(f, e)
	if err != nil {
		return nil, nil, err
	}
	again = func() (io.Reader, error) {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return nil, fmt.Errorf("spool entry %s: %w", e.Name, err)
		}
		return io.LimitReader(f, n), nil
	}
	data, err = again()
	if err != nil {
		return nil, nil, err
	}
	return data, again, nil
}

var copyWhere = regexp.MustCompile(`COPY (_edmsdr_s\d+), line (\d+)(?:, column ([^:]+))?`)

// stage streams every data entry into its staging table, then reads and verifies the manifest.
func (r *run) stage(ctx context.Context) error {
	if err := r.createStaging(ctx); err != nil {
		return err
	}
	byIndex := map[int]*tableState{}
	for _, st := range r.tables {
		byIndex[st.layout.Index] = st
	}
	for {
		e, err := r.reader.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if fl := finding.FindingsOf(err); fl != nil {
				r.findings = append(r.findings, fl...)
				return r.refuse()
			}
			return fmt.Errorf("restore: read package: %w", err)
		}
		st := byIndex[e.Layout.Index]
		if st == nil {
			continue // a table the target lacks: already reported
		}
		if st.direct && (e.Ref || e.SHA256 == "") {
			// Reference rows are never inserted; an entry without a checksum cannot be read again.
			if err := r.demoteDirect(ctx, st, "a reference entry or an entry without a checksum"); err != nil {
				return err
			}
		}
		if e.Ref && !st.stagingRefs {
			st.stagingRefs = true
			if _, err := r.exec(ctx, st.display, fmt.Sprintf("ALTER TABLE %s ALTER COLUMN _edmsdr_ref SET DEFAULT true", st.stg)); err != nil {
				return err
			}
		}
		if e.Large {
			if err := r.stageLarge(ctx, st, e); err != nil {
				return err
			}
			if s := r.sent[st.qname]; s != nil {
				// Its rows were sent with the value NULL: no landing proof (landing.go).
				s.off = "a large value was written into a row after its entry"
			}
			continue
		}
		data, again, err := r.spool(e)
		if err != nil {
			if fl := finding.FindingsOf(err); fl != nil {
				r.findings = append(r.findings, fl...)
				return r.refuse()
			}
			return fmt.Errorf("restore %s: read entry %s: %w", st.display, e.Name, err)
		}
		// Hashed on the first read only: a demoted entry read again is the same bytes.
		if data, err = r.hashSent(ctx, st, e, data); err != nil {
			return err
		}
		if st.direct {
			ok, err := r.copyDirect(ctx, st, e, data)
			if err != nil {
				return err
			}
			if ok {
				if err := r.hook(ctx, HookStagedEntry); err != nil {
					return err
				}
				continue
			}
			// Demoted: the entry is staged again, so that what the server says of it is said
			// of the staging table, as without the direct load.
			if data, err = again(); err != nil {
				return fmt.Errorf("restore %s: read entry %s again: %w", st.display, e.Name, err)
			}
		}
		sql := fmt.Sprintf("COPY %s (%s) FROM STDIN", st.stg, pgquote.Idents(st.cols))
		tag, err := pgcopy.From(ctx, r.tx.Conn().PgConn(), data, sql)
		if err != nil {
			if fl := finding.FindingsOf(err); fl != nil {
				r.findings = append(r.findings, fl...)
				return r.refuse()
			}
			var pe *pgconn.PgError
			if errors.As(err, &pe) {
				f, ok := pgerr.Finding(err, st.display)
				// The server stopping the COPY for its own reasons (cancelled, timed out, shut
				// down, out of disk) says nothing about the package; a row too big for it does.
				if !ok && !strings.HasPrefix(pe.Code, "54") {
					return fmt.Errorf("restore %s: stage entry %s: %w", st.display, e.Name, err)
				}
				if m := copyWhere.FindStringSubmatch(pe.Where); m != nil {
					f.Message = fmt.Sprintf("%s (entry %s, row %s)", f.Message, e.Name, m[2])
					if m[3] != "" {
						f.Column = m[3]
					}
				}
				if f.Kind == "" {
					f.Kind = finding.Corrupt
				}
				r.findings.Add(f)
				return r.refuse()
			}
			return fmt.Errorf("restore %s: stage entry %s: %w", st.display, e.Name, err)
		}
		if e.Ref {
			st.refs += tag.RowsAffected()
		} else {
			st.staged += tag.RowsAffected()
		}
		if err := r.hook(ctx, HookStagedEntry); err != nil {
			return err
		}
	}
	r.manifest = r.reader.Manifest()
	// Counts: what the server took must be what the manifest lists.
	for _, te := range r.manifest.Tables {
		st := r.byName[te.Table]
		if st == nil {
			continue
		}
		if st.staged != te.Rows || st.refs != te.RefRows {
			r.findings.Add(finding.Finding{Kind: finding.CountMismatch, Table: st.display, Count: te.Rows,
				Message: fmt.Sprintf("staged %d rows and %d reference rows, the manifest lists %d and %d", st.staged, st.refs, te.Rows, te.RefRows)})
		}
	}
	r.res.PackageDigest = r.manifest.Digest.Total
	for _, st := range r.tables {
		analyze := st.stg
		if st.direct {
			analyze = pgquote.Table(st.qname)
		}
		if _, err := r.exec(ctx, st.display, "ANALYZE "+analyze); err != nil {
			return err
		}
	}
	return nil
}

// readTargetRows notes which of the target's tables hold rows, before anything is written (the
// tables are locked: nobody else writes them until the restore ends).
func (r *run) readTargetRows(ctx context.Context) error {
	for _, st := range r.tables {
		if err := r.tx.QueryRow(ctx, fmt.Sprintf("SELECT EXISTS (SELECT 1 FROM %s)", pgquote.Table(st.qname))).Scan(&st.targetHasRows); err != nil {
			return r.sqlError(st.display, err)
		}
	}
	return nil
}

// largePiece is how much of a large value goes to the server per call.
const largePiece = 16 << 20

// stageLarge puts a large value entry (see pack.TableEntry.Large) into its staged row, server-side:
// the entry is spooled and verified against its checksum, written into a large object in
// pieces, copied into the row's column (NULL until then) and the large object dropped, all
// inside the restore's transaction. The client holds one piece, whatever the value's size.
func (r *run) stageLarge(ctx context.Context, st *tableState, e *pack.Entry) error {
	bad := func(format string, args ...any) error {
		r.findings.Add(finding.Finding{Kind: finding.Corrupt, Table: st.display, Column: e.Column, Message: fmt.Sprintf("entry %s: ", e.Name) + fmt.Sprintf(format, args...)})
		return r.refuse()
	}
	if !st.colSet[e.Column] {
		return bad("a large value for column %s, which the table has not", e.Column)
	}
	if typ := st.t.Column(e.Column).Type; typ != "bytea" {
		return bad("a large value (bytea) for column %s, of type %s in the target", e.Column, typ)
	}
	data, _, err := r.spool(e)
	if err != nil {
		if fl := finding.FindingsOf(err); fl != nil {
			r.findings = append(r.findings, fl...)
			return r.refuse()
		}
		return fmt.Errorf("restore %s: read entry %s: %w", st.display, e.Name, err)
	}
	var oid uint32
	if err := r.tx.QueryRow(ctx, "SELECT lo_create(0)").Scan(&oid); err != nil {
		return r.sqlError(st.display, err)
	}
	piece := make([]byte, largePiece)
	var off int64
	for {
		n, rerr := io.ReadFull(data, piece)
		if n > 0 {
			if _, err := r.tx.Exec(ctx, "SELECT lo_put($1, $2, $3)", oid, off, piece[:n]); err != nil {
				return r.sqlError(st.display, err)
			}
			off += int64(n)
		}
		if errors.Is(rerr, io.EOF) || errors.Is(rerr, io.ErrUnexpectedEOF) {
			break
		}
		if rerr != nil {
			return fmt.Errorf("restore %s: read entry %s: %w", st.display, e.Name, rerr)
		}
	}
	if off != e.Size {
		return bad("%d bytes read, %d declared", off, e.Size)
	}
	col := pgquote.Ident(e.Column)
	tag, err := r.exec(ctx, st.display, fmt.Sprintf("UPDATE %s SET %s = lo_get($1) WHERE _edmsdr_n = $2 AND %s IS NULL AND NOT _edmsdr_ref", st.stg, col, col), oid, e.Row+1)
	if err != nil {
		return err
	}
	if _, err := r.exec(ctx, st.display, "SELECT lo_unlink($1)", oid); err != nil {
		return err
	}
	if tag.RowsAffected() != 1 {
		return bad("row %d of the table's data has no NULL %s to hold the value", e.Row, e.Column)
	}
	return nil
}
