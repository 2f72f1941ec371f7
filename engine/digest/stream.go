package digest

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"math/big"
	"math/bits"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/edmsdr/edmsdr/engine/copytext"
	"github.com/edmsdr/edmsdr/engine/pack"
	"github.com/edmsdr/edmsdr/engine/pgerr"
	"github.com/edmsdr/edmsdr/engine/pgquote"
	"github.com/edmsdr/edmsdr/engine/schema"
)

// Streaming digests (backup): instead of reading every row a second time, the backup's COPY of a
// table carries, after the table's own columns, one extra column per reference: the identity its
// digest expression renders (the identity tables are built first, in the same transaction). A
// Hasher strips those columns from the stream, passes the table's rows on unchanged, and hashes
// each row exactly as Table does in SQL: md5 of the row's record text, two signed 64-bit lanes
// summed exactly. Equal to Table by construction (the same expressions, the same output
// functions); tests compare the two on hostile values.

// StreamCheck says whether the server renders values so that a Hasher computes the same digest
// as SQL: the client receives the bytes the server hashes (client and server encodings agree)
// and record quoting treats no byte above 0x7f as white space (a C or UTF-8 character type). It
// returns "" when streaming is safe, else the reason it is not.
func StreamCheck(ctx context.Context, q Querier) (string, error) {
	return StreamCheckTables(ctx, q, nil)
}

// StreamCheckTables is StreamCheck for the tables of s only (nil: every table of the database):
// a table with inheritance children outside s is never digested, so it does not matter (a backup
// leaving out a schema that holds one still streams its digest, its large values and its
// harvested identities).
func StreamCheckTables(ctx context.Context, q Querier, s *schema.Schema) (string, error) {
	var server, client, ctype string
	var inherits bool
	var nss, names []string
	if s != nil {
		nss, names = make([]string, 0, len(s.Tables)), make([]string, 0, len(s.Tables))
		for _, t := range s.Tables {
			nss, names = append(nss, t.Schema), append(names, t.Name)
		}
	}
	if err := q.QueryRow(ctx, `SELECT current_setting('server_encoding'), current_setting('client_encoding'),
  (SELECT datctype FROM pg_database WHERE datname = current_database()),
  EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent JOIN pg_namespace n ON n.oid = p.relnamespace
    WHERE p.relkind = 'r' AND ($1::text[] IS NULL OR (n.nspname, p.relname) IN (SELECT * FROM unnest($1::text[], $2::text[]))))`, nss, names).Scan(&server, &client, &ctype, &inherits); err != nil {
		return "", fmt.Errorf("digest: read encodings: %w", err)
	}
	if !strings.EqualFold(server, client) {
		return fmt.Sprintf("server encoding %s differs from client encoding %s", server, client), nil
	}
	lc := strings.ToLower(ctype)
	if lc != "c" && lc != "posix" && !strings.Contains(lc, "utf-8") && !strings.Contains(lc, "utf8") {
		return fmt.Sprintf("character type %s is neither C nor UTF-8", ctype), nil
	}
	if inherits {
		return "tables with inheritance children (COPY reads a parent alone, SQL with its children)", nil
	}
	return "", nil
}

// StreamTable prepares the streaming digest of table qname, whose COPY columns are cols (in the
// package's order). It builds the identity tables the table's references need, and returns the
// COPY statement to run and a Hasher to copy its output through into dst.
func (d *Session) StreamTable(ctx context.Context, qname string, cols []string, partitioned bool, dst io.Writer) (string, *Hasher, error) {
	return d.streamTable(ctx, qname, cols, partitioned, dst, 0, nil)
}

// LargeSink receives the large values of a table streamed by StreamTableLarge, in slices, in
// order: data (decoded bytes, valid during the call only) is at offset off (1-based) of the
// value of column in data row row (0-based, in the order the rows are passed on), total bytes long.
type LargeSink func(row int64, column string, total, off int64, data []byte) error

// StreamTableLarge is StreamTable for a table holding bytea values longer than above bytes: such
// a value is passed on as NULL in its row and given to sink in slices, and the row is hashed with
// it, as SQL would (see large.go).
func (d *Session) StreamTableLarge(ctx context.Context, qname string, cols []string, partitioned bool, dst io.Writer, above int64, sink LargeSink) (string, *Hasher, error) {
	if above <= 0 || sink == nil {
		return "", nil, fmt.Errorf("digest %s: large values need a threshold and a sink", schema.DisplayName(qname))
	}
	return d.streamTable(ctx, qname, cols, partitioned, dst, above, sink)
}

func (d *Session) streamTable(ctx context.Context, qname string, cols []string, partitioned bool, dst io.Writer, above int64, sink LargeSink) (string, *Hasher, error) {
	t, err := d.table(qname)
	if err != nil {
		return "", nil, err
	}
	content := d.contentColumns(t)
	pos := make(map[string]int, len(cols))
	for i, c := range cols {
		pos[c] = i
	}
	var held map[int]*heldColumn
	d.releaseHarvested()
	if d.hold != nil && above <= 0 {
		// Generic foreign keys resolved by the client (held.go): the rows' content type and
		// object id must be among the columns streamed.
		d.hold.active, d.hold.cols, d.hold.used = true, map[int]*heldColumn{}, 0
		defer func() { d.hold.active, d.hold.cols = false, nil }()
	}
	ex, joins, err := d.exprs(ctx, t, "t", content, nil)
	if err != nil {
		return "", nil, err
	}
	if above <= 0 {
		d.usingHarvested(qname)
	}
	if d.hold != nil && d.hold.active {
		held = d.hold.cols
	}
	h := &Hasher{dst: dst, ncols: len(cols)}
	var extra []string
	for i, c := range content {
		p, ok := pos[c]
		if !ok {
			return "", nil, fmt.Errorf("digest %s: column %s is not in the COPY column list", t.Display(), c)
		}
		if hc := held[i]; hc != nil {
			ctPos, ok := -1, true
			if hc.ctCol != "" {
				ctPos, ok = pos[hc.ctCol]
			}
			if !ok {
				return "", nil, fmt.Errorf("digest %s: column %s is not in the COPY column list", t.Display(), hc.ctCol)
			}
			hf := heldField{ct: ctPos, obj: p, server: -1, sets: hc.sets}
			if hc.server {
				hf.server = len(cols) + len(extra)
				extra = append(extra, ex[i])
			}
			h.held = append(h.held, hf)
			h.order = append(h.order, -len(h.held))
			continue
		}
		if ex[i] == "t."+pgquote.Ident(c) {
			h.order = append(h.order, p)
			continue
		}
		h.order = append(h.order, len(cols)+len(extra))
		extra = append(extra, ex[i])
	}
	h.nfields = len(cols) + len(extra)
	if above <= 0 && d.hold != nil && d.hold.active {
		if err := d.startHarvest(ctx, t, cols, h); err != nil {
			return "", nil, err
		}
	}
	qcols := pgquote.Idents(cols)
	var sql string
	var large []int
	if above > 0 {
		large = largeColumns(t, content, ex)
	}
	switch {
	case len(large) > 0:
		// Every column through the SELECT, large values NULLed and sent in slices after the row.
		sel := make([]string, 0, len(cols)+len(extra))
		for _, c := range cols {
			sel = append(sel, "t."+pgquote.Ident(c))
		}
		sel = append(sel, extra...)
		names := make([]string, len(large))
		for k, i := range large {
			names[k] = content[i]
			sel[pos[content[i]]] = nulledLarge(ex[i], above)
		}
		only := "ONLY "
		if partitioned {
			only = ""
		}
		tail, lateral := d.sliceParts(ex, large, above)
		sql = fmt.Sprintf("COPY (SELECT %s, %s FROM %s%s t %s %s) TO STDOUT", strings.Join(sel, ", "), tail, only, pgquote.Table(qname), strings.Join(joins, " "), lateral)
		h.nfields += sliceFields
		h.large = &largeRows{pos: large, slice: int64(d.sliceBytes), names: names, sink: sink}
	case len(extra) == 0 && !partitioned:
		sql = fmt.Sprintf("COPY %s (%s) TO STDOUT", pgquote.Table(qname), qcols)
	case len(extra) == 0:
		sql = fmt.Sprintf("COPY (SELECT %s FROM %s) TO STDOUT", qcols, pgquote.Table(qname))
	default:
		sel := make([]string, 0, len(cols)+len(extra))
		for _, c := range cols {
			sel = append(sel, "t."+pgquote.Ident(c))
		}
		sel = append(sel, extra...)
		only := "ONLY "
		if partitioned {
			only = ""
		}
		sql = fmt.Sprintf("COPY (SELECT %s FROM %s%s t %s) TO STDOUT", strings.Join(sel, ", "), only, pgquote.Table(qname), strings.Join(joins, " "))
	}
	return sql, h, nil
}

// Hasher hashes a table's COPY text rows as they stream through it (see StreamTable), passing
// the table's own columns on to its destination. A row is hashed without copying it: its fields
// are rendered as record_out would render them straight into md5 through a small buffer, so a
// large value costs no memory beyond the row as pgconn delivers it (one CopyData message).
type Hasher struct {
	dst     io.Writer
	ncols   int   // the table's columns, passed on
	nfields int   // columns in the stream: ncols, then the rendered references
	order   []int // the fields hashed, in the digest's column order
	pending []byte
	fields  [][]byte
	md      hash.Hash
	out     []byte // rendered record text not yet given to md
	sum     [md5.Size]byte
	rows    int64
	s1, s2  acc
	err     error
	large   *largeRows // rows whose large values arrive in slices (TableCopy), or nil
	// held are the generic foreign keys the Hasher resolves itself (held.go): field -k of order
	// is held[k-1].
	held []heldField
	uuid [36]byte
	// unprinted is set when a field held an escape that COPY TO never prints (see
	// emitUnescaped): the row is then no printed row, and its hash not the digest's.
	unprinted bool
	// checks, per field, check its text before the row is hashed (CheckFields).
	checks []FieldCheck
	// harvest computes each row's identity too (harvest.go), or is nil.
	harvest *harvester
}

// errUnprinted is the error of a row holding an escape COPY TO never prints.
var errUnprinted = errors.New(`digest: a COPY row holds an escape the server never prints (\101, \x41, a backslash before a tab or a newline, or at a field's end): the server reads it otherwise than the digest does`)

// renderBuf is the size of the buffer between the record renderer and md5.
const renderBuf = 64 << 10

// acc is a signed 128-bit accumulator.
type acc struct {
	hi int64
	lo uint64
}

func (a *acc) add(v int64) {
	var carry uint64
	a.lo, carry = bits.Add64(a.lo, uint64(v), 0)
	a.hi += (v >> 63) + int64(carry)
}

func (a acc) String() string {
	n := new(big.Int).Lsh(big.NewInt(a.hi), 64)
	return n.Add(n, new(big.Int).SetUint64(a.lo)).String()
}

// Write takes COPY text in any pieces. A row that arrives whole (pgconn's CopyTo writes one row
// per call) is hashed and passed on in place; only a row cut across calls is gathered first.
func (h *Hasher) Write(p []byte) (int, error) {
	if h.err != nil {
		return 0, h.err
	}
	data := p
	if len(h.pending) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			h.pending = append(h.pending, p...)
			return len(p), nil
		}
		h.pending = append(h.pending, p[:i+1]...)
		if err := h.row(h.pending); err != nil {
			h.err = err
			return 0, err
		}
		h.pending = h.pending[:0]
		data = p[i+1:]
	}
	for {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			break
		}
		if err := h.row(data[:i+1]); err != nil {
			h.err = err
			return 0, err
		}
		data = data[i+1:]
	}
	// Keep the partial row (copied: p belongs to the caller).
	h.pending = append(h.pending[:0], data...)
	if len(h.pending) == 0 && cap(h.pending) > renderBuf {
		h.pending = nil // a large row passed: do not keep its buffer
	}
	return len(p), nil
}

// row hashes one row (ending in '\n') and passes its table columns on.
func (h *Hasher) row(line []byte) error {
	h.fields = h.fields[:0]
	start := 0
	cut := -1
	for {
		i := bytes.IndexByte(line[start:len(line)-1], '\t')
		if i < 0 {
			break
		}
		i += start
		h.fields = append(h.fields, line[start:i])
		if len(h.fields) == h.ncols {
			cut = i
		}
		start = i + 1
	}
	h.fields = append(h.fields, line[start:len(line)-1])
	if len(h.fields) != h.nfields {
		return fmt.Errorf("digest: COPY row has %d fields, want %d", len(h.fields), h.nfields)
	}
	if h.checks != nil {
		if err := checkFields(h.checks, h.fields); err != nil {
			return err
		}
	}
	if h.md == nil {
		h.md = md5.New()
		h.out = make([]byte, 0, renderBuf)
	}
	if h.large != nil {
		if sliced, err := h.sliceRow(); sliced || err != nil {
			return err // a slice of a large value: nothing to pass on (TableCopy only)
		}
	}
	h.md.Reset()
	h.out = h.out[:0]
	if err := h.renderRecord(h.order); err != nil {
		return err
	}
	if h.unprinted {
		return errUnprinted
	}
	h.finishRow()
	if h.harvest != nil && h.harvest.failed == "" {
		if err := h.harvestRow(); err != nil {
			return err
		}
	}
	out := line
	if cut >= 0 {
		line[cut] = '\n'
		out = line[:cut+1]
	}
	_, err := h.dst.Write(out)
	return err
}

// renderRecord renders the record text of the fields order names, entries of a Hasher order (a
// field's position in h.fields, or -k for held field k-1), after what h.out holds: "(f1,f2,…)",
// nothing for no fields. The row's hash and its harvested identity both render through it.
func (h *Hasher) renderRecord(order []int) error {
	if len(order) == 0 {
		return nil
	}
	h.out = append(h.out, '(')
	for k, f := range order {
		if k > 0 {
			h.out = append(h.out, ',')
		}
		if f < 0 {
			if err := h.renderHeld(&h.held[-f-1]); err != nil {
				return err
			}
			continue
		}
		h.renderField(h.fields[f])
	}
	h.out = append(h.out, ')')
	return nil
}

// finishRow hashes what is left of the row's record text and adds the row to the sums.
func (h *Hasher) finishRow() {
	h.md.Write(h.out)
	h.out = h.out[:0]
	sum := h.md.Sum(h.sum[:0])
	h.s1.add(int64(binary.BigEndian.Uint64(sum[0:8])))
	h.s2.add(int64(binary.BigEndian.Uint64(sum[8:16])))
	h.rows++
}

// emit appends rendered record text, handing the buffer to md5 when it fills; a long run goes to
// md5 directly.
func (h *Hasher) emit(b []byte) {
	if len(h.out)+len(b) <= cap(h.out) {
		h.out = append(h.out, b...)
		return
	}
	h.md.Write(h.out)
	h.out = h.out[:0]
	if len(b) >= cap(h.out)/2 {
		h.md.Write(b)
		return
	}
	h.out = append(h.out, b...)
}

func (h *Hasher) emitByte(c byte) {
	if len(h.out) == cap(h.out) {
		h.md.Write(h.out)
		h.out = h.out[:0]
	}
	h.out = append(h.out, c)
}

// printedEscape reports the bytes COPY TO prints after a backslash.
func printedEscape(c byte) bool {
	switch c {
	case '\\', 'b', 'f', 'n', 'r', 't', 'v':
		return true
	}
	return false
}

// needsQuote reports the bytes that make record_out double-quote a value.
func needsQuote(c byte) bool {
	switch c {
	case '"', '\\', '(', ')', ',', ' ', '\t', '\n', '\r', '\v', '\f':
		return true
	}
	return false
}

// fieldClass classifies the bytes of COPY text for record_out: byteQuote makes the value
// double-quoted, byteEscape starts an escape (what it stands for is checked apart), every other
// byte is copied as it is. A table, not bytes.IndexAny: the scan runs over every field of every
// row, and IndexAny builds its set on each call.
var fieldClass = func() (c [256]byte) {
	for _, b := range []byte("\"(), \t\n\r\v\f") {
		c[b] = byteQuote
	}
	c['\\'] = byteEscape
	return c
}()

// mayAct reports whether any of the eight bytes of w (little-endian) is below 0x2d or is '\\'
// (0x5c): every byte renderField's scan acts on ('"', '(', ')', ',', ' ', the white space and
// '\\') is one of them, so a word for which it is false can be passed over whole. The answer is
// exact, not a guess: the lowest byte below n (n at most 0x80) leaves its lane's high bit set in
// both w - n*0x0101..01 and ^w, no lane below it borrows, and with no such byte no lane borrows
// at all and none can have both high bits set (TestMayAct checks every byte in every lane).
func mayAct(w uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	below := (w - ones*0x2d) &^ w & highs
	b := w ^ (ones * '\\')
	backslash := (b - ones) &^ b & highs
	return below|backslash != 0
}

const (
	bytePlain = iota
	byteQuote
	byteEscape
)

// renderField renders one COPY text field as record_out renders the value: nothing for NULL;
// the value, double-quoted (with '"' and '\' doubled) when it is empty or holds '"', '\', '(',
// ')', ',' or white space. It reads the field in place and never materialises the value.
func (h *Hasher) renderField(f []byte) {
	if len(f) == 2 && f[0] == '\\' && f[1] == 'N' {
		return
	}
	// One scan decides: stop at the first byte that needs quoting; remember whether any escape
	// (standing for a byte that needs none, \b say) must be unescaped.
	quote, escaped := len(f) == 0, false
	i := 0
	// Eight bytes at a time while none of them is one the scan below acts on (most of a field
	// that needs no quoting: digits, letters, '-', ':', '.', UTF-8); a word holding one is
	// classified byte by byte, as the rest of the field is.
	for i+8 <= len(f) && !mayAct(binary.LittleEndian.Uint64(f[i:])) {
		i += 8
	}
	for ; i < len(f) && !quote; i++ {
		switch fieldClass[f[i]] {
		case byteQuote:
			quote = true
		case byteEscape:
			escaped = true
			quote = i+1 == len(f) || needsQuote(copytext.Byte(f[i+1]))
			i++
		}
	}
	if !quote {
		if !escaped {
			h.emit(f)
			return
		}
		h.emitUnescaped(f, false)
		return
	}
	h.emitByte('"')
	h.emitUnescaped(f, true)
	h.emitByte('"')
}

// emitUnescaped emits f with its escapes unescaped, and, when quoted, '"' and '\' doubled. The
// runs between the bytes it acts on go out whole; it looks for them with bytes.IndexByte, each
// kind's next position kept until passed, so a long value is scanned once per kind.
func (h *Hasher) emitUnescaped(f []byte, quoted bool) {
	nextQ := -1 // next '"' at or after i (len(f): none); -1: not looked for yet
	if !quoted {
		nextQ = len(f)
	}
	nextB := -1
	for i := 0; i < len(f); {
		if nextB < i {
			nextB = indexFrom(f, i, '\\')
		}
		if nextQ < i {
			nextQ = indexFrom(f, i, '"')
		}
		j := min(nextB, nextQ)
		h.emit(f[i:j])
		if j == len(f) {
			return
		}
		i = j
		c := f[i]
		if c == '\\' {
			// COPY TO prints a backslash only before one of these. The server reads the
			// others otherwise than unescape does (\101 and \x41 are 'A'; before a raw tab
			// or newline, it makes that byte data, where a row's fields and rows are cut at
			// every one): such a field is no value printed, and its rendering not its value's.
			if i+1 == len(f) || !printedEscape(f[i+1]) {
				h.unprinted = true
			}
		}
		if c == '\\' && i+1 < len(f) {
			i++
			c = copytext.Byte(f[i])
		}
		if quoted && (c == '"' || c == '\\') {
			h.emitByte(c)
		}
		h.emitByte(c)
		i++
	}
}

// indexFrom is the position of the first c in f at or after i, len(f) when there is none.
func indexFrom(f []byte, i int, c byte) int {
	if j := bytes.IndexByte(f[i:], c); j >= 0 {
		return i + j
	}
	return len(f)
}

// Close ends the stream and returns the table's digest; a stream ending inside a row is an error.
func (h *Hasher) Close() (pack.TableDigest, error) {
	if h.err != nil {
		return pack.TableDigest{}, h.err
	}
	if h.unprinted {
		return pack.TableDigest{}, errUnprinted
	}
	if len(h.pending) > 0 {
		return pack.TableDigest{}, fmt.Errorf("digest: COPY stream ends inside a row")
	}
	if h.large != nil && h.large.open {
		return pack.TableDigest{}, fmt.Errorf("digest: COPY stream ends inside the slices of a large value")
	}
	if h.harvest != nil {
		h.harvest.finish()
		h.harvest = nil
	}
	return pack.TableDigest{Rows: h.rows, Sum1: h.s1.String(), Sum2: h.s2.String()}, nil
}

// TableCopy is Table with the hashing done client-side: the server renders each row's digest
// columns (references replaced by their identities, as Table does) and COPYs them out; the
// client hashes them. The same digest as Table (where StreamCheck allows), for a fraction of the
// server's work. pc is the connection of the session's transaction.
func (d *Session) TableCopy(ctx context.Context, pc *pgconn.PgConn, qname, relation string) (pack.TableDigest, error) {
	t, err := d.table(qname)
	if err != nil {
		return pack.TableDigest{}, err
	}
	if relation == "" {
		relation = d.from(qname)
	}
	ex, joins, err := d.exprs(ctx, t, "t", d.contentColumns(t), nil)
	if err != nil {
		return pack.TableDigest{}, err
	}
	if len(ex) == 0 {
		return d.Table(ctx, qname, relation)
	}
	large := largeColumns(t, d.contentColumns(t), ex)
	switch {
	case len(large) == 0:
	case d.sliceAbove > 0:
		return d.tableSlices(ctx, pc, t, relation, ex, joins, large, d.sliceAbove)
	default:
		// The plain COPY first (no cost for tables without large values); a row the server
		// cannot render is read again with its large values in slices.
		td, err := d.tableCopy(ctx, pc, t, relation, ex, joins, true)
		if !pgerr.TooLarge(err) {
			return td, err
		}
		return d.tableSlices(ctx, pc, t, relation, ex, joins, large, largeValue)
	}
	return d.tableCopy(ctx, pc, t, relation, ex, joins, false)
}

// tableCopy is TableCopy's plain path; with savepoint, inside a savepoint that a failure rolls
// back to (the transaction stays usable; the error is returned).
func (d *Session) tableCopy(ctx context.Context, pc *pgconn.PgConn, t *schema.Table, relation string, ex, joins []string, savepoint bool) (pack.TableDigest, error) {
	if savepoint {
		if err := execSimple(ctx, pc, "SAVEPOINT _edmsdr_large"); err != nil {
			return pack.TableDigest{}, fmt.Errorf("digest %s: %w", t.Display(), err)
		}
	}
	td, err := d.copyHashed(ctx, pc, t, relation, ex, joins)
	if !savepoint {
		return td, err
	}
	if err != nil {
		if rerr := execSimple(ctx, pc, "ROLLBACK TO SAVEPOINT _edmsdr_large"); rerr != nil {
			return pack.TableDigest{}, fmt.Errorf("digest %s: %w (then: %v)", t.Display(), err, rerr)
		}
		return pack.TableDigest{}, err
	}
	if err := execSimple(ctx, pc, "RELEASE SAVEPOINT _edmsdr_large"); err != nil {
		return pack.TableDigest{}, fmt.Errorf("digest %s: %w", t.Display(), err)
	}
	return td, nil
}

func (d *Session) copyHashed(ctx context.Context, pc *pgconn.PgConn, t *schema.Table, relation string, ex, joins []string) (pack.TableDigest, error) {
	h := &Hasher{dst: io.Discard, ncols: len(ex), nfields: len(ex), order: make([]int, len(ex))}
	for i := range h.order {
		h.order[i] = i
	}
	sql := fmt.Sprintf("COPY (SELECT %s FROM %s t %s) TO STDOUT", strings.Join(ex, ", "), relation, strings.Join(joins, " "))
	if _, err := pc.CopyTo(ctx, h, sql); err != nil {
		return pack.TableDigest{}, fmt.Errorf("digest %s: %w", t.Display(), err)
	}
	td, err := h.Close()
	if err != nil {
		return pack.TableDigest{}, fmt.Errorf("digest %s: %w", t.Display(), err)
	}
	return td, nil
}
