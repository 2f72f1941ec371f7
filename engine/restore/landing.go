package restore

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/edmsdr/edmsdr/engine/digest"
	"github.com/edmsdr/edmsdr/engine/pack"
	"github.com/edmsdr/edmsdr/engine/pgquote"
	"github.com/edmsdr/edmsdr/engine/schema"
)

// The landing proof: a cheaper proof than a second digest scan, for a table whose rows land
// verbatim. Validation reads every restored row back, renders its digest columns and hashes them
// (checkDigest). For a table that
//
//   - the restore hashed as it sent it — the package's own bytes, verified against their checksums
//     — each reference hashed as the identity of the restored row it points at (the identities
//     the full digest would hash: each row is hashed up to its first reference while it is sent,
//     md5's state and the rest kept in a spill file, and completed during validation), to the
//     package's digest of the table — but for rows too long to gather (maxSentRow): those are
//     left out, their ids kept, and digested from the restored table by id (longRowsDigest),
//     where the id is its single-column primary key; their digest is added to the rest's,
//   - sent rows as COPY TO prints them, which COPY FROM reads as the hasher does: no escape but
//     \\, \b, \f, \n, \r, \t and \v (the server reads \101 and \x41 as 'A', a backslash before
//     a raw tab or newline as data: digest.Hasher refuses the row), no raw carriage return (a
//     first row ending in "\r\n" makes the server drop every row's: sentHash.Write),
//   - was empty before the restore (seen under the restore's lock, in its transaction), in merge
//     mode, and received exactly the rows sent (count(*) afterwards = rows sent = the package's),
//     inserted from staging with every column as sent (no id or reference rewritten, no column
//     held back and set later, none left to a default), nothing matched, diverged or updated, a
//     generic foreign key only in a table loaded straight in (its object ids COPYed as sent; each
//     hashed as the identity of the restored row of the table its content type names), a
//     reference to a seeded table only where it was rewritten in the stream through that table's
//     held id map (held.go): the rows sent, and hashed, are the rewritten ones, each reference
//     hashed as the identity of the restored row at the target id sent,
//   - has, in the target, every column of the package's type and type modifier, among built-in
//     types whose text output of their text input is that text under the settings the restore
//     pins (digest.SessionSettings; floats only from a source of PostgreSQL 12 or newer, which
//     prints them exactly; no money, no extension or user type, no domain), and each field's text
//     one the target column's type reads back the same, checked as it is sent (fieldChecks,
//     digest.TypeCheck: a varchar(n) or character(n) value's characters, a float's digits, a
//     time's fractional digits, a jsonb object's keys; any other type modifier takes the proof
//     off): the manifest's word for the types is resealable, so it is no proof of them,
//   - sits in a target whose digest text is the client's (digest.StreamCheck: UTF-8 server, C or
//     UTF-8 character type), with no enabled user trigger or rule on any table the restore writes
//     (a trigger or rule on one table may write another), no function of a user or an extension
//     in a default, CHECK, domain CHECK, index expression or policy of any of them (a volatile function,
//     or one an immutable function calls, may write another), no row-level security on the table or
//     its partitions, and no foreign key that cascades from a table the restore updates,
//
// the restored rows are the rows sent, byte for byte once printed, so their digest is the one
// computed from what was sent: the table's digest verdict rests on that, and says so. Wherever
// one condition fails, or cannot be established, the full digest runs as before. A package whose
// rows do not hash to its digest (damaged and resealed) takes the full digest, which reports it.

// sentHash hashes the rows of one table as they are sent to the server: whole (h) when the
// table's digest columns are plain values, else up to each row's first reference (split), the
// rest kept in the restore's spill (see digest.SplitHasher) and completed by validation.
type sentHash struct {
	h      *digest.Hasher
	split  *digest.SplitHasher
	hashed []string // the digest's columns, in order
	cols   []string // the columns sent, in order
	refs   []string // per hashed column, the table it references ("" for a plain value)
	// cts, per hashed column, names the content type column of a generic object id ("" for
	// any other column): split at like a reference (digest.NewGenericSplitHasher).
	cts []string
	// long passes the rows on to h or split, but for those too long to gather (see maxSentRow):
	// their ids are kept, the rows themselves digested from the restored table (longRowsDigest).
	long *digest.LongRows
	// start and written are the table's region of the spill.
	start, written int64
	begun          bool
	hadRows        bool // the table had rows before the restore
	// off says why the table's rows are not hashed ("" while they are).
	off string
}

// Write passes rows to the hasher; a row it cannot parse only ends the hashing (the COPY
// reports what is wrong with it), and so does a row too long to gather whose id cannot be kept.
func (s *sentHash) Write(p []byte) (int, error) {
	if s.off != "" {
		return len(p), nil
	}
	if bytes.IndexByte(p, '\r') >= 0 {
		// COPY TO prints a carriage return as \r, never raw. The server may read a raw one as a
		// line's end (a first row ending in "\r\n" makes every row end so, their carriage
		// returns dropped), where the hasher keeps it in the value: such rows are not the
		// package's printed rows, and what lands is not what they hash to.
		s.off = "a raw carriage return, which COPY TO never prints"
		return len(p), nil
	}
	if _, err := s.long.Write(p); err != nil {
		var le *digest.LongRowError
		var ce *digest.ChangedFieldError
		switch {
		case errors.As(err, &le):
			s.off = le.Why
		case errors.As(err, &ce) && ce.Field < len(s.cols):
			s.off = "column " + s.cols[ce.Field] + ": " + ce.Why
		default:
			s.off = "a row the hasher could not read: " + err.Error()
		}
	}
	return len(p), nil
}

// limitRows puts the LongRows in front of s's hasher, reading each long row's id at the
// position of st's surrogate id among the columns sent (none: a long row ends the hashing).
func (s *sentHash) limitRows(st *tableState) {
	if s.off != "" {
		return
	}
	idField := -1
	if st.sid != "" {
		idField = slices.Index(st.cols, st.sid)
	}
	var w digest.RowDropper = s.h
	if s.split != nil {
		w = s.split
	}
	s.long = digest.NewLongRows(w, maxSentRow, idField, maxLongRows)
}

// sentSpill is the unlinked temporary file where split hashes keep what their rows still need.
type sentSpill struct {
	f     *os.File
	w     *bufio.Writer
	n     int64  // bytes written
	owner string // the table writing now
}

// spillWriter counts what one table writes to the spill.
type spillWriter struct {
	sp *sentSpill
	s  *sentHash
}

func (w spillWriter) Write(p []byte) (int, error) {
	n, err := w.sp.w.Write(p)
	w.sp.n += int64(n)
	w.s.written += int64(n)
	return n, err
}

// hashSent returns the reader to send for entry e of st: the same bytes, hashed on the way
// wherever the table may get a landing proof (empty before the restore, merge mode).
func (r *run) hashSent(ctx context.Context, st *tableState, e *pack.Entry, data io.Reader) (io.Reader, error) {
	if r.sent == nil {
		r.sent = map[string]*sentHash{}
	}
	s := r.sent[st.qname]
	if s == nil {
		var err error
		if s, err = r.startSentHash(ctx, st); err != nil {
			return nil, err
		}
		s.limitRows(st)
		r.sent[st.qname] = s
	}
	if e.Ref {
		s.off = "reference rows"
	}
	if s.off != "" {
		return data, nil
	}
	if s.split != nil {
		switch {
		case r.spill.owner != st.qname && s.begun:
			s.off = "its entries are not one after the other"
			return data, nil
		case !s.begun:
			s.begun, s.start = true, r.spill.n
		}
		r.spill.owner = st.qname
	}
	return io.TeeReader(data, s), nil
}

func (r *run) startSentHash(ctx context.Context, st *tableState) (*sentHash, error) {
	switch {
	case r.replacing():
		return &sentHash{off: "replace mode"}, nil
	case r.rollback != nil:
		return &sentHash{off: "a rollback"}, nil
	}
	if has, err := r.hadRows(ctx, st.qname); err != nil || has {
		return &sentHash{off: "the table had rows before the restore", hadRows: has}, err
	}
	// The key plan comes with the manifest, at the end: here the target's catalog says what is a
	// reference, and the plan the package most likely brings which columns are generic object
	// ids (predictedPlan). validate checks both again under the package's plan.
	if r.sentSession == nil {
		cols := map[string][]string{}
		for _, t := range r.tables {
			cols[t.qname] = t.cols
		}
		ds, err := digest.NewSession(r.tx, r.target, r.predictedPlan(), digest.Options{Columns: cols})
		if err != nil {
			return &sentHash{off: "its columns' domains: " + err.Error()}, nil
		}
		r.sentSession = ds
	}
	hashed, refs, _, err := r.sentSession.HashColumns(st.qname)
	if err != nil {
		return nil, fmt.Errorf("restore %s: %w", st.display, err)
	}
	cts, err := r.sentSession.GenericColumns(st.qname)
	if err != nil {
		return &sentHash{off: err.Error()}, nil
	}
	for _, c := range cts {
		if c != "" && !st.colSet[c] {
			return &sentHash{off: "the package lacks the content type column " + c + " of a generic foreign key"}, nil
		}
	}
	s := &sentHash{hashed: hashed, cols: st.cols, refs: refs, cts: cts}
	for k, d := range refs {
		// A reference to a table with rows goes through its map: the rows will not land as sent.
		// Unless rewritten in the stream, as they are sent (held.go): what is hashed is then the
		// row as it lands.
		if d == "" || d == st.qname {
			continue
		}
		if p := st.heldCols[hashed[k]]; st.direct && st.rewriting && p != nil && p.qname == d {
			continue
		}
		if has, err := r.hadRows(ctx, d); err != nil || has {
			return &sentHash{off: "it refers to a table that had rows before the restore"}, err
		}
	}
	checks, why, err := r.fieldChecks(ctx, st, hashed, refs, cts)
	if err != nil || why != "" {
		return &sentHash{off: why}, err
	}
	split := func(d string) bool { return d != "" }
	if !slices.ContainsFunc(refs, split) && !slices.ContainsFunc(cts, split) {
		if s.h, err = digest.NewRowHasher(st.cols, hashed); err != nil {
			return nil, fmt.Errorf("restore %s: %w", st.display, err)
		}
		s.h.CheckFields(checks)
		return s, nil
	}
	if r.spill.f == nil {
		f, err := os.CreateTemp("", "edmsdr-restore-*.spill")
		if err != nil {
			return nil, fmt.Errorf("restore: hash rows sent: %w", err)
		}
		_ = os.Remove(f.Name()) // unlinked at once: the file vanishes with the restore, however it ends
		r.spill.f, r.spill.w = f, bufio.NewWriterSize(f, 1<<20)
	}
	if s.split, err = digest.NewGenericSplitHasher(st.cols, hashed, refs, cts, spillWriter{sp: &r.spill, s: s}); err != nil {
		return nil, fmt.Errorf("restore %s: %w", st.display, err)
	}
	s.split.CheckFields(checks)
	return s, nil
}

// fieldChecks returns, per column sent of st, the check its text needs before a digest of the
// rows as sent stands for the rows that land (digest.TypeCheck, from the target's column types:
// the package's word for them is no proof), or why none can establish it: "" and nil checks when
// no column needs one. Only the plain values hashed are checked: references and generic object
// ids are integers, hashed as the identities of the rows they point at.
func (r *run) fieldChecks(ctx context.Context, st *tableState, hashed, refs, cts []string) ([]digest.FieldCheck, string, error) {
	rows, err := r.tx.Query(ctx, `SELECT a.attname, coalesce(e.typname, t.typname), e.oid IS NOT NULL, a.atttypmod,
  coalesce(en.nspname, tn.nspname), current_setting('server_encoding') = 'UTF8'
FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid JOIN pg_namespace tn ON tn.oid = t.typnamespace
  LEFT JOIN pg_type e ON e.oid = t.typelem AND e.typarray = t.oid LEFT JOIN pg_namespace en ON en.oid = e.typnamespace
WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped`, pgquote.Table(st.qname))
	if err != nil {
		return nil, "", r.sqlError(st.display, err)
	}
	type colType struct {
		name, ns   string
		elem, utf8 bool
		typmod     int32
	}
	types := map[string]colType{}
	for rows.Next() {
		var col string
		var ct colType
		if err := rows.Scan(&col, &ct.name, &ct.elem, &ct.typmod, &ct.ns, &ct.utf8); err != nil {
			rows.Close()
			return nil, "", r.sqlError(st.display, err)
		}
		types[col] = ct
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, "", r.sqlError(st.display, err)
	}
	var checks []digest.FieldCheck
	for k, c := range hashed {
		if refs[k] != "" || cts[k] != "" {
			continue
		}
		ct, ok := types[c]
		if !ok {
			return nil, fmt.Sprintf("column %s is missing in the target", c), nil
		}
		if ct.ns != "pg_catalog" {
			continue // no landing proof for it (landingCatalog)
		}
		check, why := digest.TypeCheck(ct.name, ct.typmod, ct.elem, ct.utf8)
		if why != "" {
			return nil, fmt.Sprintf("column %s is %s in the target", c, why), nil
		}
		if check == nil {
			continue
		}
		p := slices.Index(st.cols, c)
		if p < 0 {
			return nil, fmt.Sprintf("column %s is not among the columns sent", c), nil
		}
		if checks == nil {
			checks = make([]digest.FieldCheck, len(st.cols))
		}
		checks[p] = check
	}
	return checks, "", nil
}

// hadRows says whether table qname had rows before the restore wrote to it (asked while the
// entries are staged, under the restore's lock: a table written later is still as it was).
func (r *run) hadRows(ctx context.Context, qname string) (bool, error) {
	if s := r.sent[qname]; s != nil {
		return s.hadRows, nil // asked before its first entry was written
	}
	var has bool
	if err := r.tx.QueryRow(ctx, fmt.Sprintf("SELECT EXISTS (SELECT 1 FROM %s)", pgquote.Table(qname))).Scan(&has); err != nil {
		return false, r.sqlError(schema.DisplayName(qname), err)
	}
	return has, nil
}

// closeSentSpill closes the spill file, if one was opened.
func (r *run) closeSentSpill() {
	if r.spill.f != nil {
		_ = r.spill.f.Close()
	}
}

// landingProof is the outcome of the landing proof for one table.
type landingProof struct {
	ok bool
	// why is the evidence of a proof, or why there is none.
	why string
	// sent is the digest of the rows sent (ok only).
	sent pack.TableDigest
}

// roundTrips are the built-in types (pg_catalog typname) whose text input reads their text output
// back to the same value, printed the same, under digest.SessionSettings (float4 and float8 only
// where the text was printed exactly: see landingProofs). money is not among them (its output
// follows lc_monetary), nor any type outside pg_catalog.
var roundTrips = map[string]bool{
	"bool": true, "int2": true, "int4": true, "int8": true, "numeric": true,
	"text": true, "varchar": true, "bpchar": true, "bytea": true, "uuid": true,
	"date": true, "time": true, "timestamp": true, "timestamptz": true, "interval": true,
	"json": true, "jsonb": true, "inet": true, "cidr": true,
	"float4": true, "float8": true,
}

// landingProofs decides, per table, whether its digest verdict may rest on the landing proof
// (see the top of this file). streamWhy is digest.StreamCheck's answer for the target.
func (r *run) landingProofs(ctx context.Context, ds *digest.Session, streamWhy string) (map[string]landingProof, error) {
	out := map[string]landingProof{}
	no := func(st *tableState, why string) { out[st.qname] = landingProof{why: why} }
	var global string
	switch {
	case r.replacing():
		global = "replace mode"
	case r.rollback != nil:
		global = "a rollback"
	case r.manifest.Origin != pack.OriginDatabase && r.manifest.Origin != pack.OriginSafety:
		global = "the package was not written from a database (origin " + r.manifest.Origin + ")"
	case streamWhy != "":
		global = "the target prints values otherwise: " + streamWhy
	}
	var candidates []*tableState
	for _, st := range r.tables {
		if global != "" {
			no(st, global)
			continue
		}
		if why := r.landingCandidate(ds, st); why != "" {
			no(st, why)
			continue
		}
		candidates = append(candidates, st)
	}
	if len(candidates) == 0 {
		return out, nil
	}
	what, err := r.writesElsewhere(ctx)
	if err != nil {
		return nil, err
	}
	if what != "" {
		for _, st := range candidates {
			no(st, what+" may change what the restore writes")
		}
		return out, nil
	}
	// The identities read for one table serve the next ones that refer to the same tables.
	held := map[string]*digest.IdentitySet{}
	for _, st := range candidates {
		began := time.Now()
		why, err := r.landingCatalog(ctx, st)
		if err != nil {
			return nil, err
		}
		if why != "" {
			no(st, why)
			continue
		}
		var n int64
		if err := r.tx.QueryRow(ctx, "SELECT count(*) FROM "+pgquote.Table(st.qname)).Scan(&n); err != nil {
			return nil, r.sqlError(st.display, err)
		}
		if n != st.staged {
			no(st, fmt.Sprintf("the table holds %d rows, %d were sent", n, st.staged))
			continue
		}
		td, why, err := r.sentDigest(ctx, ds, st, held)
		if err != nil {
			return nil, err
		}
		if why != "" {
			no(st, why)
			continue
		}
		how := "hashed as they were sent"
		if s := r.sent[st.qname]; s.split != nil {
			how = "hashed as they were sent, each reference as the identity of the restored row it points at"
			if slices.ContainsFunc(s.cts, func(c string) bool { return c != "" }) {
				how += " (a generic one: of the table its content type names)"
			}
		}
		if st.direct && st.rewriting {
			var through []string
			for _, c := range st.cols {
				if p := st.heldCols[c]; p != nil {
					through = append(through, c+" through the id map of "+p.display)
				}
			}
			how += " (rewritten as they were sent: " + strings.Join(through, ", ") + ")"
		}
		if n := len(r.sent[st.qname].long.IDs()); n > 0 {
			rows := "rows"
			if n == 1 {
				rows = "row"
			}
			how += fmt.Sprintf(", but for %d %s longer than %d MiB, digested from the table by id", n, rows, maxSentRow>>20)
		}
		r.log.Debug("landing proof", "table", st.display, "rows", td.Rows, "digest", td.Hex(st.qname)[:16], "elapsed", time.Since(began))
		out[st.qname] = landingProof{ok: true, sent: td, why: fmt.Sprintf(
			"landing proof: the %d rows, %s, give the package's digest %s, and landed as sent into a table empty before the restore (count %d; types, triggers, rules, row security and defaults checked)",
			td.Rows, how, td.Hex(st.qname)[:16], n)}
	}
	return out, nil
}

// landingCandidate checks what the restore itself knows about st: "" when the landing proof may
// hold, else why not.
func (r *run) landingCandidate(ds *digest.Session, st *tableState) string {
	s := r.sent[st.qname]
	switch {
	case s == nil:
		return "no rows were sent"
	case s.off != "":
		return "its rows were not hashed as they were sent: " + s.off
	}
	hashed, refs, _, err := ds.HashColumns(st.qname)
	if err != nil || !slices.Equal(hashed, s.hashed) || !slices.Equal(refs, s.refs) {
		return "its digest follows references the target's catalog does not declare"
	}
	if cts, err := ds.GenericColumns(st.qname); err != nil || !slices.Equal(cts, s.cts) {
		return "its digest follows generic foreign keys other than those its rows were hashed for as they were sent"
	}
	if want, ok := r.manifest.Digest.Tables[st.qname]; !ok || want.Rows != st.staged {
		return "the package's digest does not count the rows staged"
	}
	for _, te := range r.manifest.Tables {
		if te.Table == st.qname && te.Rows != st.staged {
			return fmt.Sprintf("%d rows staged, the manifest lists %d", st.staged, te.Rows)
		}
	}
	return r.landsAsSent(st)
}

// maxHeldIdentityBytes bounds the memory of the identities of referenced rows held to complete
// one table's split hashes (digest.IdentitySet: 24 bytes an identity, about 16 where the ids are
// dense): a table referring to more takes the full digest.
var maxHeldIdentityBytes int64 = 24 << 20 // a variable for tests

// maxSentRow is the longest row hashed as it is sent (a row cut across reads is gathered whole
// first): a longer one is left out of the hash, its id kept, and digested from the restored
// table by id (longRowsDigest), whose memory stays bounded.
const maxSentRow = 1 << 20

// maxLongRows bounds the ids of rows longer than maxSentRow kept for one table: a table with
// more takes the full digest.
const maxLongRows = 4096

// sentDigest is the digest of st's rows as they were sent and "" when it is the package's digest
// of the table, else why it is not or is not known. A split hash is completed here with the
// identities of the restored rows its references point at: those the full digest would hash.
// held keeps them from one table to the next, at most maxHeldIdentityBytes at once: those st does
// not refer to are let go when they leave no room for those it does (completeSplit).
func (r *run) sentDigest(ctx context.Context, ds *digest.Session, st *tableState, held map[string]*digest.IdentitySet) (pack.TableDigest, string, error) {
	s := r.sent[st.qname]
	var td pack.TableDigest
	if s.split == nil {
		var err error
		if td, err = s.h.Close(); err != nil {
			return td, "its rows were not hashed as they were sent: " + err.Error(), nil
		}
	} else {
		if err := s.split.Close(); err != nil {
			return td, "its rows were not hashed as they were sent: " + err.Error(), nil
		}
		if err := r.spill.w.Flush(); err != nil {
			return td, "", fmt.Errorf("restore %s: hash rows sent: %w", st.display, err)
		}
		var why string
		var err error
		if td, why, err = r.completeSplit(ctx, ds, st, held); err != nil || why != "" {
			return td, why, err
		}
	}
	long, why, err := r.longRowsDigest(ctx, ds, st)
	if err != nil || why != "" {
		return td, why, err
	}
	td = td.Add(long)
	want := r.manifest.Digest.Tables[st.qname]
	if !td.Equal(want) || td.Rows != st.staged {
		return td, fmt.Sprintf("the %d rows sent hash to %s, the package's digest is %d rows %s", td.Rows, td.Hex(st.qname)[:16], want.Rows, want.Hex(st.qname)[:16]), nil
	}
	return td, "", nil
}

// completeSplit completes st's split hashes (see sentDigest): each reference with the identity
// of the restored row it points at, each generic object id with that of the restored row of the
// table its row's content type names (as the package's plan resolves it in the restored content
// types: digest.GenericTargets). It returns the digest and "", or why it cannot be completed.
func (r *run) completeSplit(ctx context.Context, ds *digest.Session, st *tableState, held map[string]*digest.IdentitySet) (pack.TableDigest, string, error) {
	s := r.sent[st.qname]
	// Per column split at, in order: the table it references, or the tables its content types
	// name.
	var domains []string
	var targets []map[int64]string
	needed := map[string]bool{}
	for k := range s.hashed {
		switch {
		case s.cts[k] != "": // generic even where a foreign key also declares it a reference
			m, err := ds.GenericTargets(ctx, st.qname, s.cts[k])
			if err != nil {
				return pack.TableDigest{}, "", fmt.Errorf("restore %s: %w", st.display, err)
			}
			for _, d := range m {
				needed[d] = true
			}
			domains, targets = append(domains, ""), append(targets, m)
		case s.refs[k] != "":
			domains, targets = append(domains, s.refs[k]), append(targets, nil)
			needed[s.refs[k]] = true
		}
	}
	// Identities held for earlier tables stay while they fit (the documents' serve the audit
	// trail, the documents, the versions' signatures...: each read is a COPY of the identity
	// table); those st does not need are let go when a table it needs does not fit beside them.
	var total int64
	for _, in := range held {
		total += in.Bytes()
	}
	order := make([]string, 0, len(needed))
	for d := range needed {
		order = append(order, d)
	}
	slices.Sort(order)
	for _, d := range order {
		if held[d] != nil {
			continue
		}
		began := time.Now()
		in, err := ds.Identities(ctx, r.tx.Conn().PgConn(), d, maxHeldIdentityBytes-total)
		if errors.Is(err, digest.ErrTooManyIdentities) {
			freed := false
			for k, in := range held {
				if !needed[k] {
					total -= in.Bytes()
					delete(held, k)
					freed = true
				}
			}
			if freed {
				in, err = ds.Identities(ctx, r.tx.Conn().PgConn(), d, maxHeldIdentityBytes-total)
			}
		}
		if errors.Is(err, digest.ErrTooManyIdentities) {
			return pack.TableDigest{}, "it refers to more rows than are held in memory to hash it", nil
		}
		if err != nil {
			return pack.TableDigest{}, "", fmt.Errorf("restore %s: %w", st.display, err)
		}
		held[d] = in
		total += in.Bytes()
		r.log.Debug("identities held", "table", schema.DisplayName(d), "for", st.display, "rows", in.Len(), "dense", in.Dense(), "bytes", in.Bytes(), "held", total, "elapsed", time.Since(began))
	}
	td, err := digest.FinishGenericSplit(io.NewSectionReader(r.spill.f, s.start, s.written), s.refs, s.cts, s.split.Rows(),
		func(i int, id int64) ([16]byte, bool) { return held[domains[i]].Lookup(id) },
		func(i int, ct, id int64) ([16]byte, bool) {
			d, ok := targets[i][ct]
			if !ok {
				return [16]byte{}, false
			}
			return held[d].Lookup(id)
		})
	if err != nil {
		return td, "its rows were not hashed as they were sent: " + err.Error(), nil
	}
	return td, "", nil
}

// longRowsDigest is the digest of st's rows left out of its sent hash for their length (see
// maxSentRow), and "" when it has it, else why not. It is taken from the restored table by id,
// with the full digest's own code and per-row hash (ds.TableCopy over a relation restricted to
// those ids), and holds only where one id is one row: st's id is the table's single-column
// primary key in the target (its index built by now) and no id was kept twice. The rows found
// are added to the rows sent, so a long row that landed otherwise, or an id read wrong (it finds
// another row, or none), leaves the sum unequal to the package's digest.
func (r *run) longRowsDigest(ctx context.Context, ds *digest.Session, st *tableState) (pack.TableDigest, string, error) {
	s := r.sent[st.qname]
	if err := s.long.Close(); err != nil {
		return pack.TableDigest{}, "its rows were not hashed as they were sent: " + err.Error(), nil
	}
	ids := slices.Clone(s.long.IDs())
	if len(ids) == 0 {
		return pack.TableDigest{}, "", nil
	}
	slices.Sort(ids)
	for i := 1; i < len(ids); i++ {
		if ids[i] == ids[i-1] {
			return pack.TableDigest{}, fmt.Sprintf("two rows longer than %d MiB have id %d", maxSentRow>>20, ids[i]), nil
		}
	}
	var pk bool
	if err := r.tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_constraint k JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = k.conkey[1]
WHERE k.conrelid = $1::regclass AND k.contype = 'p' AND cardinality(k.conkey) = 1 AND a.attname = $2)`, pgquote.Table(st.qname), st.sid).Scan(&pk); err != nil {
		return pack.TableDigest{}, "", r.sqlError(st.display, err)
	}
	if !pk {
		return pack.TableDigest{}, fmt.Sprintf("%d rows longer than %d MiB would be found by %s, not the table's single-column primary key in the target", len(ids), maxSentRow>>20, st.sid), nil
	}
	list := make([]string, len(ids))
	for i, id := range ids {
		list[i] = strconv.FormatInt(id, 10)
	}
	rel := fmt.Sprintf("(SELECT t.* FROM %s t WHERE t.%s = ANY ('{%s}'::bigint[]))", pgquote.Table(st.qname), pgquote.Ident(st.sid), strings.Join(list, ","))
	td, err := ds.TableCopy(ctx, r.tx.Conn().PgConn(), st.qname, rel)
	if err != nil {
		return td, "", r.sqlError(st.display, err)
	}
	if td.Rows != int64(len(ids)) {
		return td, fmt.Sprintf("%d rows longer than %d MiB were sent, the table holds %d of their ids", len(ids), maxSentRow>>20, td.Rows), nil
	}
	return td, "", nil
}

// landsAsSent checks that the restore wrote st's rows as they were sent: "" when it did, else why
// it may not have.
func (r *run) landsAsSent(st *tableState) string {
	switch {
	case st.targetHasRows || st.matched != 0 || st.exist != 0 || st.diverged != 0 || st.updated != 0 || st.refs != 0 || st.stagingRefs:
		return "rows were matched, found or updated"
	case len(st.deferredCols) > 0:
		return "references held back and set after the insert"
	case len(st.gfks) > 0 && !st.direct:
		return "generic foreign keys rewritten through their map on insert"
	case st.inserted != st.staged:
		return fmt.Sprintf("%d rows inserted, %d staged", st.inserted, st.staged)
	}
	// Every column goes in as sent: the insert's projection takes each one from staging as it is.
	// Except a generic object id of a table loaded straight in: the package's rows were COPYed
	// into the table as they were sent (confirmDirect found its content types and the tables
	// they name keep their ids, and no object id without a content type: genericIdentity), and
	// nothing the restore runs later writes them (insert skips the table, nothing is deferred);
	// its projection, through the generic map, is only what the insert would have written.
	exprs, joins := r.projection(st, true)
	asSent := map[string]bool{}
	if st.direct {
		for _, g := range st.gfks {
			if r.gmaps[st.qname+"."+g.ObjectIDColumn] != "" {
				asSent[g.ObjectIDColumn] = true
			}
		}
		// A reference rewritten in the stream through a held map landed as it was sent, and
		// was hashed so (held.go): its projection through the map is what was sent.
		if st.rewriting {
			for c := range st.heldCols {
				asSent[c] = true
			}
		}
	}
	if len(joins) > len(asSent) {
		return "ids or references are rewritten through a map"
	}
	for _, c := range st.cols {
		if asSent[c] {
			continue
		}
		if exprs[c] != "s."+pgquote.Ident(c) {
			return fmt.Sprintf("column %s is rewritten on insert", c)
		}
	}
	for _, c := range st.t.DataColumns() {
		if !st.colSet[c] {
			return fmt.Sprintf("column %s is not in the package: the target fills it", c)
		}
	}
	if sc := r.manifest.Schema.Table(st.qname); sc == nil {
		return "the package's schema lacks the table"
	}
	return ""
}

// landingCatalog checks st in the target's catalog: its columns' types against the package's,
// row-level security, and foreign keys that cascade from a table the restore updates. "" when
// they allow the landing proof, else why not.
func (r *run) landingCatalog(ctx context.Context, st *tableState) (string, error) {
	src := r.manifest.Schema.Table(st.qname)
	rows, err := r.tx.Query(ctx, `SELECT a.attname, format_type(a.atttypid, a.atttypmod), tn.nspname, t.typname, t.typtype::text,
  coalesce(en.nspname, ''), coalesce(e.typname, ''), coalesce(e.typtype::text, '')
FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid JOIN pg_namespace tn ON tn.oid = t.typnamespace
  LEFT JOIN pg_type e ON e.oid = t.typelem AND e.typarray = t.oid LEFT JOIN pg_namespace en ON en.oid = e.typnamespace
WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped`, pgquote.Table(st.qname))
	if err != nil {
		return "", r.sqlError(st.display, err)
	}
	type colType struct{ format, ns, name, kind, ens, ename, ekind string }
	types := map[string]colType{}
	for rows.Next() {
		var name string
		var ct colType
		if err := rows.Scan(&name, &ct.format, &ct.ns, &ct.name, &ct.kind, &ct.ens, &ct.ename, &ct.ekind); err != nil {
			rows.Close()
			return "", r.sqlError(st.display, err)
		}
		types[name] = ct
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return "", r.sqlError(st.display, err)
	}
	floatsExact := r.manifest.ServerVersion >= 120000
	builtin := func(ns, name, kind string) bool {
		return ns == "pg_catalog" && kind == "b" && roundTrips[name] && (floatsExact || (name != "float4" && name != "float8"))
	}
	for _, c := range st.cols {
		ct, ok := types[c]
		sc := src.Column(c)
		switch {
		case !ok || sc == nil:
			return fmt.Sprintf("column %s is missing", c), nil
		case sc.Type != ct.format:
			return fmt.Sprintf("column %s is %s in the target, %s in the package", c, ct.format, sc.Type), nil
		case ct.ename != "" && (ct.ns != "pg_catalog" || !builtin(ct.ens, ct.ename, ct.ekind)):
			return fmt.Sprintf("column %s is an array of %s, whose text may not read back the same", c, ct.format), nil
		case ct.ename == "" && !builtin(ct.ns, ct.name, ct.kind):
			return fmt.Sprintf("column %s is of type %s, whose text may not read back the same", c, ct.format), nil
		}
	}
	var what string
	err = r.tx.QueryRow(ctx, `WITH rel AS (SELECT $1::regclass AS relid UNION SELECT relid FROM pg_partition_tree($1::regclass))
SELECT coalesce((SELECT format('row-level security on %s', c.oid::regclass) FROM pg_class c WHERE c.oid IN (SELECT relid FROM rel) AND c.relrowsecurity LIMIT 1), '')`,
		pgquote.Table(st.qname)).Scan(&what)
	if err != nil {
		return "", r.sqlError(st.display, err)
	}
	if what != "" {
		return what, nil
	}
	// A foreign key whose action changes or deletes this table's rows when the row it references
	// changes: only tables the restore updates can set it off.
	crows, err := r.tx.Query(ctx, `WITH rel AS (SELECT $1::regclass AS relid UNION SELECT relid FROM pg_partition_tree($1::regclass))
SELECT DISTINCT n.nspname, c.relname, k.conname FROM pg_constraint k JOIN pg_class c ON c.oid = k.confrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE k.contype = 'f' AND k.conrelid IN (SELECT relid FROM rel) AND (k.confupdtype NOT IN ('a', 'r') OR k.confdeltype NOT IN ('a', 'r'))`, pgquote.Table(st.qname))
	if err != nil {
		return "", r.sqlError(st.display, err)
	}
	var cascades []string
	for crows.Next() {
		var ns, rel, con string
		if err := crows.Scan(&ns, &rel, &con); err != nil {
			crows.Close()
			return "", r.sqlError(st.display, err)
		}
		if ref := r.byName[ns+"."+rel]; ref != nil && (ref.updated > 0 || ref.diverged > 0 || ref.replaced > 0 || len(ref.deferredCols) > 0) {
			cascades = append(cascades, con)
		}
	}
	crows.Close()
	if err := crows.Err(); err != nil {
		return "", r.sqlError(st.display, err)
	}
	if len(cascades) > 0 {
		return "foreign key " + strings.Join(cascades, ", ") + " cascades from a table the restore updates", nil
	}
	return "", nil
}

// jitOff turns JIT compilation off for the rest of the transaction and returns the setting it
// had, for jitRestore.
func (r *run) jitOff(ctx context.Context) (string, error) {
	var prev string
	if err := r.tx.QueryRow(ctx, "SELECT coalesce(current_setting('jit', true), '')").Scan(&prev); err != nil {
		return "", r.sqlError("", fmt.Errorf("read the JIT setting: %w", err))
	}
	if prev == "" {
		return "", nil // PostgreSQL 10: no JIT
	}
	if _, err := r.tx.Exec(ctx, "SELECT set_config('jit', 'off', true)"); err != nil {
		return "", r.sqlError("", fmt.Errorf("turn JIT off: %w", err))
	}
	return prev, nil
}

// jitRestore puts back the JIT setting jitOff returned ("": a server without JIT).
func (r *run) jitRestore(ctx context.Context, prev string) error {
	if prev == "" {
		return nil
	}
	if _, err := r.tx.Exec(ctx, "SELECT set_config('jit', $1, true)", prev); err != nil {
		return r.sqlError("", fmt.Errorf("restore JIT setting: %w", err))
	}
	return nil
}

// writesElsewhere says what, in the target's catalog, may write rows the restore did not send
// when the restore writes its tables ("" when nothing may): a user trigger or rule, or a user's
// or an extension's function run by writing them (see below). The landing proof rests on its
// answer, and so do the reference checks left to the load (proven.go).
func (r *run) writesElsewhere(ctx context.Context) (string, error) {
	written := make([]string, 0, len(r.tables))
	for _, st := range r.tables {
		written = append(written, pgquote.Table(st.qname))
	}
	var what string
	// The walk's estimates are absurd (millions of rows for a catalog of hundreds), so the server
	// would compile it with JIT, inlined and optimised: about 1 s of compiling for milliseconds of
	// work, at any size of data. JIT is off for this one query, then as it was.
	jit, err := r.jitOff(ctx)
	if err != nil {
		return "", err
	}
	// The tables written, their partitions, and every table a foreign key action may write when
	// they change (recursively): a trigger or rule on any of them may write anywhere. So may a
	// function outside the catalog that writing them runs: in a column default, a CHECK, a
	// domain's CHECK (domains, arrays and composite types of their columns followed), an index
	// expression or predicate, an extended statistics expression, a row security policy. The server records no
	// dependency on a built-in function, so any recorded function is a user's or an extension's.
	// So may an enabled event trigger of the database, whatever tables it names: the restore's own
	// DDL runs it (the constraints and indexes held for the load and added back, the digest's
	// temporary tables), after the rows landed and before they are proven.
	err = r.tx.QueryRow(ctx, `WITH RECURSIVE rel(relid) AS (
  SELECT x.relid FROM (SELECT q.r::oid AS relid FROM unnest($1::text[]::regclass[]) q(r)
    UNION SELECT p.relid::oid FROM unnest($1::text[]::regclass[]) q(r), pg_partition_tree(q.r) p) x
  UNION SELECT k.conrelid FROM pg_constraint k JOIN rel ON k.confrelid = rel.relid
    WHERE k.contype = 'f' AND (k.confupdtype NOT IN ('a', 'r') OR k.confdeltype NOT IN ('a', 'r'))),
obj(classid, objid) AS (
  SELECT 'pg_class'::regclass::oid, relid FROM rel
  UNION SELECT x.classid, x.objid FROM obj o CROSS JOIN LATERAL (
    SELECT d.classid, d.objid FROM pg_depend d WHERE d.refclassid = o.classid AND d.refobjid = o.objid
      AND ((o.classid = 'pg_class'::regclass AND d.classid IN ('pg_constraint'::regclass, 'pg_attrdef'::regclass, 'pg_class'::regclass, 'pg_statistic_ext'::regclass, 'pg_policy'::regclass))
        OR (o.classid = 'pg_type'::regclass AND (d.classid = 'pg_constraint'::regclass OR (d.classid = 'pg_class'::regclass AND d.deptype = 'i'))))
    UNION ALL SELECT d.refclassid, d.refobjid FROM pg_depend d WHERE d.classid = o.classid AND d.objid = o.objid
      AND (d.refclassid = 'pg_type'::regclass OR (o.classid = 'pg_type'::regclass AND d.refclassid = 'pg_class'::regclass))) x)
SELECT coalesce((SELECT format('trigger %I on %s', t.tgname, t.tgrelid::regclass) FROM pg_trigger t
    WHERE t.tgrelid IN (SELECT relid FROM rel) AND NOT t.tgisinternal AND t.tgenabled <> 'D' LIMIT 1),
  (SELECT format('event trigger %I', e.evtname) FROM pg_event_trigger e WHERE e.evtenabled <> 'D' AND e.evtevent <> 'login' LIMIT 1),
  (SELECT format('rule %I on %s', w.rulename, w.ev_class::regclass) FROM pg_rewrite w
    WHERE w.ev_class IN (SELECT relid FROM rel) AND w.rulename <> '_RETURN' LIMIT 1),
  (SELECT format('function %s (in %s)', d.refobjid::regprocedure, pg_describe_object(o.classid, o.objid, 0)) FROM obj o
    JOIN pg_depend d ON d.classid = o.classid AND d.objid = o.objid AND d.refclassid = 'pg_proc'::regclass LIMIT 1), '')`, written).Scan(&what)
	if err != nil {
		return "", r.sqlError("", err)
	}
	if err := r.jitRestore(ctx, jit); err != nil {
		return "", err
	}
	return what, nil
}
