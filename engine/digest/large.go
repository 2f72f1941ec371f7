package digest

import (
	"bytes"
	"context"
	hexpkg "encoding/hex"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/edmsdr/edmsdr/engine/pack"
	"github.com/edmsdr/edmsdr/engine/pgerr"
	"github.com/edmsdr/edmsdr/engine/pgquote"
	"github.com/edmsdr/edmsdr/engine/schema"
)

// Large values. A row's digest hashes its record text (md5(ROW(...)::text)), which the server
// builds in one piece of at most 1 GiB: a bytea renders in hex, twice its size, so a row holding
// a bytea of about 512 MiB or more cannot be hashed in SQL, nor copied out whole. Such rows are
// hashed on the client instead, with the same result: the server sends the row with its large
// values NULLed, followed by one COPY row per slice of each large value (substring of the stored
// value, read in place), and the Hasher renders the record text — the other fields as usual, each
// large value as record_out renders a bytea, "\\x<hex>" — straight into md5. Memory is one slice,
// whatever the value's size. The slices carry their column, offset and the value's length; a
// slice missing, repeated or out of order is an error, never a different digest.

const (
	// largeValue: in the fallback (plain COPY too large), bytea values longer than this are read
	// in slices.
	largeValue = 64 << 20
	// largeSlice is the bytes of a large value per COPY row (twice that in hex).
	largeSlice = 16 << 20
)

// largeColumns returns the positions (in cols, the sorted content columns) of the columns whose
// values can be read in slices: plain bytea columns, hashed as stored (ex[i] is the column).
func largeColumns(t *schema.Table, cols, ex []string) []int {
	var out []int
	for i, c := range cols {
		col := t.Column(c)
		if col != nil && col.Type == "bytea" && i < len(ex) && ex[i] == "t."+pgquote.Ident(c) {
			out = append(out, i)
		}
	}
	return out
}

// execSimple runs one statement without results on pc.
func execSimple(ctx context.Context, pc *pgconn.PgConn, sql string) error {
	_, err := pc.Exec(ctx, sql).ReadAll()
	return err
}

// largeRows is the Hasher's state for rows whose large values arrive in slices. The stream has
// the row's fields (large values NULLed), then k (which large column, or NULL for a row without
// large values), n (how many of the row's values are large), total (the value's length), off
// (1-based offset of the slice) and the slice.
type largeRows struct {
	pos   []int    // order position of large column k
	slice int64    // slice length the server was asked for
	names []string // column of large column k (with sink)
	sink  LargeSink
	dec   []byte // a decoded slice (with sink)
	row   int64  // the row's number among the rows passed on

	open  bool
	base  [][]byte // the row's fields, copied from its first slice row
	buf   []byte
	n     int   // large values in the row
	done  int   // large values hashed
	k     int   // the large column being hashed, -1 between columns
	lastK int   // the last large column hashed, -1 before the first
	next  int64 // offset of the next slice expected
	total int64
	at    int // next order position to render
}

// sliceRow handles a row of the sliced stream: false for a row without large values (hashed as
// usual), true for a slice (hashed here).
func (h *Hasher) sliceRow() (bool, error) {
	l := h.large
	nrow := h.nfields - sliceFields
	f := h.fields[nrow:]
	if isNull(f[0]) {
		if l.open {
			return false, fmt.Errorf("digest: a row ends before the slices of its large values")
		}
		return false, nil
	}
	k, err1 := strconv.Atoi(string(f[0]))
	n, err2 := strconv.Atoi(string(f[1]))
	total, err3 := strconv.ParseInt(string(f[2]), 10, 64)
	off, err4 := strconv.ParseInt(string(f[3]), 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || err4 != nil || k < 0 || k >= len(l.pos) || n < 1 || n > len(l.pos) || total < 1 || off < 1 {
		return true, fmt.Errorf("digest: malformed slice header %q %q %q %q", f[0], f[1], f[2], f[3])
	}
	part := f[4]
	if !bytes.HasPrefix(part, []byte(`\\x`)) {
		return true, fmt.Errorf("digest: a slice of a large value is not bytea hex")
	}
	hex := part[3:]
	if !l.open {
		if off != 1 {
			return true, fmt.Errorf("digest: the slices of a large value start at offset %d", off)
		}
		l.open, l.n, l.done, l.k, l.lastK, l.at = true, n, 0, -1, -1, 0
		l.buf = l.buf[:0]
		l.base = l.base[:0]
		for _, b := range h.fields[:nrow] {
			l.buf = append(l.buf, b...)
		}
		o := 0
		for _, b := range h.fields[:nrow] {
			l.base = append(l.base, l.buf[o:o+len(b)])
			o += len(b)
		}
		// The row is passed on once, its large values NULL, its table columns only.
		l.row = h.rows
		if err := h.passOn(h.fields[:h.ncols]); err != nil {
			return true, err
		}
		h.md.Reset()
		h.out = h.out[:0]
		h.emitByte('(')
	} else if n != l.n {
		return true, fmt.Errorf("digest: slices of one row disagree on its large values (%d, %d)", l.n, n)
	}
	if k != l.k {
		// A new large column: the previous one is complete, this one starts at its beginning.
		if l.k != -1 || k <= l.lastK || off != 1 {
			return true, fmt.Errorf("digest: slices of large values out of order (column %d at offset %d)", k, off)
		}
		p := l.pos[k]
		if !isNull(l.base[h.order[p]]) {
			return true, fmt.Errorf("digest: a large value is also in its row")
		}
		h.renderRange(l.at, p, l.base)
		if p > 0 {
			h.emitByte(',')
		}
		h.emit([]byte(`"\\x`))
		l.at, l.k, l.next, l.total = p+1, k, 1, total
	}
	if off != l.next || total != l.total {
		return true, fmt.Errorf("digest: slices of a large value out of order (offset %d, want %d)", off, l.next)
	}
	want := min(l.slice, total-off+1)
	if int64(len(hex)) != 2*want {
		return true, fmt.Errorf("digest: a slice of a large value has %d hex digits, want %d", len(hex), 2*want)
	}
	h.emit(hex)
	if l.sink != nil {
		if cap(l.dec) < int(want) {
			l.dec = make([]byte, want)
		}
		n, err := hexpkg.Decode(l.dec[:want], hex)
		if err != nil || int64(n) != want {
			return true, fmt.Errorf("digest: a slice of a large value is not hex: %v", err)
		}
		if err := l.sink(l.row, l.names[k], total, off, l.dec[:n]); err != nil {
			return true, err
		}
	}
	l.next += want
	if l.next <= total {
		return true, nil
	}
	h.emitByte('"')
	l.lastK, l.k = k, -1
	l.done++
	if l.done < l.n {
		return true, nil
	}
	h.renderRange(l.at, len(h.order), l.base)
	h.emitByte(')')
	h.finishRow()
	l.open = false
	return true, nil
}

// renderRange renders the fields at order positions [from, to) of a row, each after a comma but
// the first of the record.
func (h *Hasher) renderRange(from, to int, fields [][]byte) {
	for p := from; p < to; p++ {
		if p > 0 {
			h.emitByte(',')
		}
		h.renderField(fields[h.order[p]])
	}
}

// passOn writes a row of the given fields to the Hasher's destination.
func (h *Hasher) passOn(fields [][]byte) error {
	var row []byte
	for i, f := range fields {
		if i > 0 {
			row = append(row, '\t')
		}
		row = append(row, f...)
	}
	row = append(row, '\n')
	_, err := h.dst.Write(row)
	return err
}

func isNull(f []byte) bool { return len(f) == 2 && f[0] == '\\' && f[1] == 'N' }

// sliceFields are the fields that follow a row in a sliced stream: k, n, total, off, part.
const sliceFields = 5

// nulledLarge is column expression c with values longer than above bytes NULLed.
func nulledLarge(c string, above int64) string {
	return fmt.Sprintf("CASE WHEN octet_length(%s) > %d THEN NULL ELSE %s END", c, above, c)
}

// sliceParts returns the select-list tail (k, n, total, off, part) and the lateral join that
// produce one row per slice of each value longer than above bytes, of the columns ex[i], i in
// large. A row without one gets a single row with k NULL.
func (d *Session) sliceParts(ex []string, large []int, above int64) (string, string) {
	slice := d.sliceBytes
	var parts, isLarge []string
	for k, i := range large {
		c := ex[i]
		cond := fmt.Sprintf("octet_length(%s) > %d", c, above)
		isLarge = append(isLarge, fmt.Sprintf("CASE WHEN %s THEN 1 ELSE 0 END", cond))
		parts = append(parts, fmt.Sprintf("SELECT %d AS k, octet_length(%s)::bigint AS total, g.off::bigint AS off, substring(%s from g.off for %d) AS part FROM generate_series(1, CASE WHEN %s THEN octet_length(%s) END, %d) g(off)",
			k, c, c, slice, cond, c, slice))
	}
	return fmt.Sprintf("s.k, %s, s.total, s.off, s.part", strings.Join(isLarge, " + ")),
		fmt.Sprintf("LEFT JOIN LATERAL (%s) s ON true", strings.Join(parts, " UNION ALL "))
}

// tableSlices is TableCopy with every bytea value (at large positions of the content columns)
// longer than above bytes read in slices.
func (d *Session) tableSlices(ctx context.Context, pc *pgconn.PgConn, t *schema.Table, relation string, ex, joins []string, large []int, above int64) (pack.TableDigest, error) {
	sel := make([]string, len(ex))
	copy(sel, ex)
	for _, i := range large {
		sel[i] = nulledLarge(ex[i], above)
	}
	tail, lateral := d.sliceParts(ex, large, above)
	sql := fmt.Sprintf("COPY (SELECT %s, %s FROM %s t %s %s) TO STDOUT", strings.Join(sel, ", "), tail, relation, strings.Join(joins, " "), lateral)
	h := &Hasher{dst: io.Discard, ncols: len(ex), nfields: len(ex) + sliceFields, order: make([]int, len(ex)), large: &largeRows{slice: int64(d.sliceBytes)}}
	for i := range h.order {
		h.order[i] = i
	}
	h.large.pos = large
	if _, err := pc.CopyTo(ctx, h, sql); err != nil {
		return pack.TableDigest{}, fmt.Errorf("digest %s (large values in slices): %w", t.Display(), err)
	}
	td, err := h.Close()
	if err != nil {
		return pack.TableDigest{}, fmt.Errorf("digest %s (large values in slices): %w", t.Display(), err)
	}
	return td, nil
}

// TableLarge is Table (in SQL) where the server can build every row's record text; a table with
// a row it cannot (a bytea of about 512 MiB or more) is hashed by TableCopy with its large values
// in slices, when stream says the client hashes as the server does (StreamCheck), else refused
// with the reason. pc is the connection of the session's transaction; a savepoint keeps the
// transaction usable after the server's refusal.
func (d *Session) TableLarge(ctx context.Context, pc *pgconn.PgConn, qname string, stream bool) (pack.TableDigest, error) {
	t, err := d.table(qname)
	if err != nil {
		return pack.TableDigest{}, err
	}
	content := d.contentColumns(t)
	ex, joins, err := d.exprs(ctx, t, "t", content, nil)
	if err != nil {
		return pack.TableDigest{}, err
	}
	large := largeColumns(t, content, ex)
	if len(large) == 0 {
		return d.Table(ctx, qname, "")
	}
	if stream && d.sliceAbove > 0 {
		return d.tableSlices(ctx, pc, t, d.from(qname), ex, joins, large, d.sliceAbove)
	}
	if err := execSimple(ctx, pc, "SAVEPOINT _edmsdr_large"); err != nil {
		return pack.TableDigest{}, fmt.Errorf("digest %s: %w", t.Display(), err)
	}
	td, err := d.Table(ctx, qname, "")
	if err == nil {
		if err := execSimple(ctx, pc, "RELEASE SAVEPOINT _edmsdr_large"); err != nil {
			return pack.TableDigest{}, fmt.Errorf("digest %s: %w", t.Display(), err)
		}
		return td, nil
	}
	if rerr := execSimple(ctx, pc, "ROLLBACK TO SAVEPOINT _edmsdr_large"); rerr != nil {
		return pack.TableDigest{}, fmt.Errorf("%w (then: %v)", err, rerr)
	}
	if !pgerr.TooLarge(err) {
		return pack.TableDigest{}, err
	}
	if !stream {
		return pack.TableDigest{}, fmt.Errorf("digest %s: a row is too large for the server to hash, and the client cannot hash it in its place here: %w", t.Display(), err)
	}
	return d.tableSlices(ctx, pc, t, d.from(qname), ex, joins, large, largeValue)
}
