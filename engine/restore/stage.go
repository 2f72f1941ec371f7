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
	"sync"

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

// spooler holds one verified entry: a buffer reused from entry to entry, and a temporary file
// for entries larger than spoolMemory, opened on first use and unlinked at once.
type spooler struct {
	buf  []byte
	file *os.File
}

// close closes the spooler's file, if it opened one.
func (s *spooler) close() {
	if s.file != nil {
		_ = s.file.Close()
		s.file = nil
	}
}

// spool reads a whole entry that announces its checksum, verifying it, before the server sees a
// byte of it: a damaged byte surfaces as a checksum mismatch rather than as whatever error the
// server makes of it. Memory is bounded by spoolMemory (one buffer, reused); a larger entry is
// spooled to the spooler's temporary file. again reads the same verified bytes once more from
// their start. The bytes stay valid until the spooler's next spool. e must announce a checksum.
func (s *spooler) spool(e *pack.Entry, src io.Reader) (data io.Reader, again func() (io.Reader, error), err error) {
	if e.Size <= spoolMemory {
		// bytes.MinRead more than the entry: reading into a full buffer would double it, to
		// learn that the entry ends. And 1 MiB of room: entries are cut at the first row past
		// the chunk size, so their sizes differ by a row; a buffer replaced at every slightly
		// larger entry leaves an entry's size of garbage each time (measured: 28 MiB more peak
		// RSS at 20k documents with two spoolers).
		if need := e.Size + bytes.MinRead; int64(cap(s.buf)) < need {
			s.buf = make([]byte, 0, min(need+1<<20, spoolMemory+bytes.MinRead))
		}
		b := bytes.NewBuffer(s.buf[:0])
		if _, err := io.Copy(b, src); err != nil {
			return nil, nil, err
		}
		s.buf = b.Bytes()[:0]
		buf := b.Bytes()
		return bytes.NewReader(buf), func() (io.Reader, error) { return bytes.NewReader(buf), nil }, nil
	}
	if s.file == nil {
		f, err := os.CreateTemp("", "edmsdr-restore-*.copy")
		if err != nil {
			return nil, nil, fmt.Errorf("spool entry %s: %w", e.Name, err)
		}
		_ = os.Remove(f.Name()) // unlinked at once: the file vanishes with the restore, however it ends
		s.file = f
	}
	f := s.file
	if err := f.Truncate(0); err != nil {
		return nil, nil, fmt.Errorf("spool entry %s: %w", e.Name, err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, nil, fmt.Errorf("spool entry %s: %w", e.Name, err)
	}
	n, err := io.Copy(f, src)
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

// spoolers are the entries read ahead of the COPY (see readAhead): one being sent, one being
// read. More would only hold more memory: reading an entry costs the client less than the
// server's COPY of it.
const spoolers = 2

// closeSpool closes the spoolers' files.
func (r *run) closeSpool() {
	for _, s := range r.spools {
		s.close()
	}
}

// ahead is one entry as readAhead hands it to the staging loop: spooled and verified (data,
// again, or spoolErr with what reading it found), or, for an entry the loop reads itself (a
// large value, an entry without a checksum), with release, to be closed once the loop is done
// with it. err is the reader's own (io.EOF after a whole package): readAhead sends nothing after it.
type ahead struct {
	e        *pack.Entry
	st       *tableState
	data     io.Reader
	again    func() (io.Reader, error)
	spoolErr error
	sp       *spooler      // the spooler data is in, to go back to free once the entry is staged
	release  chan struct{} // for an entry not spooled here
	err      error
}

// errStopped ends a read ahead the staging loop no longer wants.
var errStopped = errors.New("staging stopped")

// stopReader reads an entry until stop is closed.
type stopReader struct {
	r    io.Reader
	stop <-chan struct{}
}

func (s stopReader) Read(p []byte) (int, error) {
	select {
	case <-s.stop:
		return 0, errStopped
	default:
	}
	return s.r.Read(p)
}

// readAhead reads the package's entries in order, in its own goroutine, and hands them to the
// staging loop through out: an entry with a checksum is spooled and verified into a free spooler
// while the server takes the previous one (the client's reading, decompressing and hashing no
// longer waits for the server's COPY, nor the COPY for them). Memory stays that of the spoolers:
// at most one entry is read ahead. Entries of tables the target lacks are passed over, as the
// loop did. An entry the loop must read itself is handed over unread, and the reader is not
// touched again until the loop releases it. readAhead returns after sending the reader's error
// (io.EOF at the end) or a spooling error, or as soon as stop is closed; the loop reads no
// reader state it changes before out has delivered the entry.
func (r *run) readAhead(byIndex map[int]*tableState, out chan<- ahead, free chan *spooler, stop <-chan struct{}) {
	send := func(a ahead) bool {
		select {
		case out <- a:
			return true
		case <-stop:
			return false
		}
	}
	for {
		e, err := r.reader.Next()
		if err != nil {
			send(ahead{err: err})
			return
		}
		st := byIndex[e.Layout.Index]
		if st == nil {
			continue // a table the target lacks: already reported
		}
		if e.Large || e.SHA256 == "" {
			a := ahead{e: e, st: st, release: make(chan struct{})}
			if !send(a) {
				return
			}
			select {
			case <-a.release:
			case <-stop:
				return
			}
			continue
		}
		var sp *spooler
		select {
		case sp = <-free:
		case <-stop:
			return
		}
		data, again, err := sp.spool(e, stopReader{r: e, stop: stop})
		if !send(ahead{e: e, st: st, data: data, again: again, spoolErr: err, sp: sp}) || err != nil {
			return
		}
	}
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
	if r.spools == nil {
		for range spoolers {
			r.spools = append(r.spools, &spooler{})
		}
	}
	free := make(chan *spooler, len(r.spools))
	for _, sp := range r.spools {
		free <- sp
	}
	out := make(chan ahead)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		r.readAhead(byIndex, out, free, stop)
	}()
	// However staging ends, the reader is left alone before the restore goes on (or closes it).
	defer wg.Wait()
	defer close(stop)
	for {
		a := <-out
		if errors.Is(a.err, io.EOF) {
			break
		}
		if a.err != nil {
			if fl := finding.FindingsOf(a.err); fl != nil {
				r.findings = append(r.findings, fl...)
				return r.refuse()
			}
			return fmt.Errorf("restore: read package: %w", a.err)
		}
		err := r.stageEntry(ctx, a, free)
		if a.release != nil {
			close(a.release)
		}
		if err != nil {
			return err
		}
		if a.sp != nil {
			free <- a.sp
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

// stageEntry stages one entry readAhead handed over: COPYs it into its staging table, or
// straight into its table (direct.go), or writes a large value into its staged row.
func (r *run) stageEntry(ctx context.Context, a ahead, free chan *spooler) error {
	e, st := a.e, a.st
	if st.direct && (e.Ref || e.SHA256 == "") {
		// Reference rows are never inserted; an entry without a checksum cannot be read again.
		if err := r.demoteDirect(ctx, st, "a reference entry or an entry without a checksum"); err != nil {
			return err
		}
	}
	if st.direct && len(st.heldCols) > 0 && !st.rewriting {
		// Its first entry: the maps of the seeded tables it refers to are built and held now
		// (held.go), their entries all staged.
		why, err := r.holdMaps(ctx, st)
		if err != nil {
			return err
		}
		if why != "" {
			if err := r.demoteDirect(ctx, st, why); err != nil {
				return err
			}
		}
	}
	if e.Ref && !st.stagingRefs {
		st.stagingRefs = true
		if _, err := r.exec(ctx, st.display, fmt.Sprintf("ALTER TABLE %s ALTER COLUMN _edmsdr_ref SET DEFAULT true", st.stg)); err != nil {
			return err
		}
	}
	if e.Large {
		// readAhead waits for this entry's release: every spooler is free.
		sp := <-free
		err := r.stageLarge(ctx, st, e, sp)
		free <- sp
		if err != nil {
			return err
		}
		if s := r.sent[st.qname]; s != nil {
			// Its rows were sent with the value NULL: no landing proof (landing.go).
			s.off = "a large value was written into a row after its entry"
		}
		return nil
	}
	data, again, err := a.data, a.again, a.spoolErr
	if a.sp == nil {
		// An entry without a checksum (an older package) is streamed as it is read and
		// verified against the manifest at the end.
		data = e
	}
	if err != nil {
		if fl := finding.FindingsOf(err); fl != nil {
			r.findings = append(r.findings, fl...)
			return r.refuse()
		}
		return fmt.Errorf("restore %s: read entry %s: %w", st.display, e.Name, err)
	}
	if st.direct && st.rewriting {
		// Its references to seeded tables become their target ids on the way (held.go).
		data = r.rewrite(st, data)
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
			return r.hook(ctx, HookStagedEntry)
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
	return r.hook(ctx, HookStagedEntry)
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
func (r *run) stageLarge(ctx context.Context, st *tableState, e *pack.Entry, sp *spooler) error {
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
	data, _, err := sp.spool(e, e)
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
