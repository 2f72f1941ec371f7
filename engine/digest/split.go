package digest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/md5"
	"encoding"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/edmsdr/edmsdr/engine/contenttype"
	"github.com/edmsdr/edmsdr/engine/pack"
	"github.com/edmsdr/edmsdr/engine/schema"
)

// Hashing rows with references as they are sent (restore): a row's digest hashes each reference
// as the identity of the row it points at, which the rows alone do not carry. A SplitHasher
// hashes each row's record text up to its first reference into md5 and keeps md5's state, the
// text between the references and each reference's raw value (a few dozen bytes a row, however
// large the row) in a spill; once the referenced rows' identities are known, Finish completes
// every row's hash exactly as Table would have computed it.

// HashColumns returns the columns the digest of qname hashes, in the digest's order, which of
// them are references to a table's surrogate id (refs[i] names the table, "" for a plain value),
// and whether one is a generic foreign key (then SplitHasher cannot compute the digest).
func (d *Session) HashColumns(qname string) (cols, refs []string, generic bool, err error) {
	t, err := d.table(qname)
	if err != nil {
		return nil, nil, false, err
	}
	cols = d.contentColumns(t)
	refs = make([]string, len(cols))
	for i, c := range cols {
		if d.gfkFor(t, c) != nil {
			generic = true
		}
		refs[i] = d.domains.Of(qname, c)
	}
	return cols, refs, generic, nil
}

// GenericColumns returns, per column of the digest of qname (as HashColumns returns them), the
// content type column of the generic foreign key whose object id it is ("" for any other column),
// for a SplitHasher that completes generic references (NewGenericSplitHasher). It fails for an
// object id column that is not an integer: the digest matches such ids as text, which a split
// hash does not do.
func (d *Session) GenericColumns(qname string) ([]string, error) {
	t, err := d.table(qname)
	if err != nil {
		return nil, err
	}
	cols := d.contentColumns(t)
	cts := make([]string, len(cols))
	for i, c := range cols {
		g := d.gfkFor(t, c)
		if g == nil {
			continue
		}
		if col := t.Column(c); col == nil || !schema.IsInteger(col.Type) {
			return nil, fmt.Errorf("digest %s: generic object id %s is not an integer", t.Display(), c)
		}
		cts[i] = g.ContentTypeColumn
	}
	return cts, nil
}

// GenericTargets maps each content type that the rows of qname name in column ctColumn (a
// generic foreign key's content type column) to the table it names, as the digest joins them
// (genericIdents): only content types that exist and name a table with a surrogate id. A generic
// reference through any other content type, or none, is hashed as '?' and its object id.
func (d *Session) GenericTargets(ctx context.Context, qname, ctColumn string) (map[int64]string, error) {
	t, err := d.table(qname)
	if err != nil {
		return nil, err
	}
	out := map[int64]string{}
	if d.plan == nil {
		return out, nil
	}
	ct := d.plan.ContentTypes
	if ct == nil || d.s.Table(ct.Table) == nil || d.s.Table(ct.Table).SurrogateID() == "" {
		return out, nil
	}
	cts, err := contenttype.Used(ctx, d.q,
		contenttype.Table{From: d.from(ct.Table), ID: d.s.Table(ct.Table).SurrogateID(), Plan: ct},
		contenttype.Refs{From: d.from(t.QName()), Column: ctColumn})
	if err != nil {
		return nil, fmt.Errorf("digest %s: %w", t.Display(), err)
	}
	for _, r := range cts {
		target := ct.TableForContentType(d.s, r.AppLabel, r.Model)
		if tt := d.s.Table(target); tt != nil && tt.SurrogateID() != "" {
			out[r.ID] = target
		}
	}
	return out, nil
}

// identityReader parses COPY text rows "id\thex".
type identityReader struct {
	fn      func(id int64, h [16]byte) error
	pending []byte
	err     error
}

func (w *identityReader) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	w.pending = append(w.pending, p...)
	for {
		i := bytes.IndexByte(w.pending, '\n')
		if i < 0 {
			break
		}
		line := w.pending[:i]
		tab := bytes.IndexByte(line, '\t')
		var h [16]byte
		id, err := strconv.ParseInt(string(line[:max(tab, 0)]), 10, 64)
		if err == nil && tab >= 0 {
			if n, herr := hex.Decode(h[:], line[tab+1:]); herr != nil || n != 16 {
				err = fmt.Errorf("bad identity %q", line[tab+1:])
			}
		}
		if err == nil && tab < 0 {
			err = fmt.Errorf("bad identity row %q", line)
		}
		if err == nil {
			err = w.fn(id, h)
		}
		if err != nil {
			w.err = fmt.Errorf("digest: identities: %w", err)
			return 0, w.err
		}
		w.pending = w.pending[i+1:]
	}
	w.pending = append(w.pending[:0:0], w.pending...)
	return len(p), nil
}

// SplitHasher hashes COPY text rows of a table whose digest columns include references, as far
// as it can without their identities, into a spill (see the top of this file).
type SplitHasher struct {
	ncols   int
	order   []int  // the fields hashed, in the digest's order
	isRef   []bool // per hashed field: a reference (or a generic object id)
	ctField []int  // per hashed field: the field of its content type when a generic object id, else -1
	pre     *Hasher
	post    *Hasher
	capture capture
	w       io.Writer
	num     [binary.MaxVarintLen64]byte
	pending []byte
	fields  [][]byte
	rows    int64
	err     error
	checks  []FieldCheck // see CheckFields
}

// NewSplitHasher returns a SplitHasher of COPY text rows whose columns are cols, in that order,
// hashed over hashed (as HashColumns returns them; refs[i] != "" marks a reference), writing
// its spill to w. At least one hashed column must be a reference.
func NewSplitHasher(cols, hashed, refs []string, w io.Writer) (*SplitHasher, error) {
	return NewGenericSplitHasher(cols, hashed, refs, nil, w)
}

// NewGenericSplitHasher is NewSplitHasher for a table with generic foreign keys: cts (as
// GenericColumns returns them; nil for none) marks each generic object id by its content type
// column, which must be among cols. A generic object id is split at like a reference, its raw
// value followed in the spill by its row's raw content type (FinishGenericSplit); it is hashed as
// a generic reference even where a foreign key also declares it a reference, as Table does.
func NewGenericSplitHasher(cols, hashed, refs, cts []string, w io.Writer) (*SplitHasher, error) {
	s := &SplitHasher{ncols: len(cols), w: w}
	field := func(c string) int {
		for j, k := range cols {
			if k == c {
				return j
			}
		}
		return -1
	}
	if cts != nil && len(cts) != len(hashed) {
		return nil, fmt.Errorf("digest: %d generic markers for %d columns", len(cts), len(hashed))
	}
	any := false
	for i, c := range hashed {
		p := field(c)
		if p < 0 {
			return nil, fmt.Errorf("digest: column %s is not among the rows' columns", c)
		}
		ctf := -1
		if cts != nil && cts[i] != "" {
			if ctf = field(cts[i]); ctf < 0 {
				return nil, fmt.Errorf("digest: content type column %s of %s is not among the rows' columns", cts[i], c)
			}
		}
		s.order = append(s.order, p)
		s.isRef = append(s.isRef, refs[i] != "" || ctf >= 0)
		s.ctField = append(s.ctField, ctf)
		any = any || refs[i] != "" || ctf >= 0
	}
	if !any {
		return nil, errors.New("digest: no reference among the hashed columns")
	}
	s.pre = &Hasher{md: md5.New(), out: make([]byte, 0, renderBuf)}
	s.post = &Hasher{md: &s.capture, out: make([]byte, 0, renderBuf)}
	return s, nil
}

// capture is a hash.Hash that keeps what is written (the text after a row's first reference).
type capture struct{ buf []byte }

func (c *capture) Write(p []byte) (int, error) { c.buf = append(c.buf, p...); return len(p), nil }
func (c *capture) Sum(b []byte) []byte         { return b }
func (c *capture) Reset()                      { c.buf = c.buf[:0] }
func (c *capture) Size() int                   { return 0 }
func (c *capture) BlockSize() int              { return 1 }

// Rows is the number of rows hashed so far.
func (s *SplitHasher) Rows() int64 { return s.rows }

// Write takes COPY text in any pieces.
func (s *SplitHasher) Write(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	data := p
	if len(s.pending) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			s.pending = append(s.pending, p...)
			return len(p), nil
		}
		s.pending = append(s.pending, p[:i+1]...)
		if err := s.row(s.pending); err != nil {
			s.err = err
			return 0, err
		}
		s.pending = s.pending[:0]
		data = p[i+1:]
	}
	for {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			break
		}
		if err := s.row(data[:i+1]); err != nil {
			s.err = err
			return 0, err
		}
		data = data[i+1:]
	}
	s.pending = append(s.pending[:0], data...)
	if len(s.pending) == 0 && cap(s.pending) > renderBuf {
		s.pending = nil
	}
	return len(p), nil
}

// Close ends the stream; a stream ending inside a row is an error.
func (s *SplitHasher) Close() error {
	if s.err != nil {
		return s.err
	}
	if len(s.pending) > 0 {
		return errors.New("digest: COPY stream ends inside a row")
	}
	return nil
}

func (s *SplitHasher) put(b []byte) error {
	n := binary.PutUvarint(s.num[:], uint64(len(b)))
	if _, err := s.w.Write(s.num[:n]); err != nil {
		return err
	}
	_, err := s.w.Write(b)
	return err
}

// flushPost hands the text rendered since the last reference to the spill.
func (s *SplitHasher) flushPost() error {
	s.post.md.Write(s.post.out)
	s.post.out = s.post.out[:0]
	err := s.put(s.capture.buf)
	s.capture.Reset()
	return err
}

// putRef hands the k-th hashed field (field f) to the spill: its raw value, then, for a generic
// object id, its row's raw content type.
func (s *SplitHasher) putRef(k, f int) error {
	if err := s.put(s.fields[f]); err != nil {
		return err
	}
	if s.ctField[k] < 0 {
		return nil
	}
	return s.put(s.fields[s.ctField[k]])
}

func (s *SplitHasher) row(line []byte) error {
	s.fields = s.fields[:0]
	body := line[:len(line)-1]
	for {
		i := bytes.IndexByte(body, '\t')
		if i < 0 {
			s.fields = append(s.fields, body)
			break
		}
		s.fields = append(s.fields, body[:i])
		body = body[i+1:]
	}
	if len(s.fields) != s.ncols {
		return fmt.Errorf("digest: COPY row has %d fields, want %d", len(s.fields), s.ncols)
	}
	if s.checks != nil {
		if err := checkFields(s.checks, s.fields); err != nil {
			return err
		}
	}
	pre, post := s.pre, s.post
	pre.md.Reset()
	pre.out = pre.out[:0]
	post.out = post.out[:0]
	s.capture.Reset()
	pre.emitByte('(')
	first := true
	for k, f := range s.order {
		switch {
		case first && !s.isRef[k]:
			if k > 0 {
				pre.emitByte(',')
			}
			pre.renderField(s.fields[f])
		case first:
			if k > 0 {
				pre.emitByte(',')
			}
			pre.md.Write(pre.out)
			pre.out = pre.out[:0]
			state, err := pre.md.(encoding.BinaryMarshaler).MarshalBinary()
			if err != nil {
				return fmt.Errorf("digest: %w", err)
			}
			if err := s.put(state); err != nil {
				return err
			}
			if err := s.flushPost(); err != nil { // no text between the prefix and the reference
				return err
			}
			if err := s.putRef(k, f); err != nil {
				return err
			}
			first = false
		case s.isRef[k]:
			post.emitByte(',')
			if err := s.flushPost(); err != nil {
				return err
			}
			if err := s.putRef(k, f); err != nil {
				return err
			}
		default:
			post.emitByte(',')
			post.renderField(s.fields[f])
		}
	}
	post.emitByte(')')
	if pre.unprinted || post.unprinted {
		return errUnprinted
	}
	if err := s.flushPost(); err != nil {
		return err
	}
	s.rows++
	return nil
}

// FinishSplit reads a spill written by a SplitHasher of the same columns (refs as given to
// NewSplitHasher) for rows rows, and completes each row's hash: lookup(i, id) gives the identity
// of the row with surrogate id id of the table the i-th reference column points at (false when
// there is none: the digest then hashes '?' and the id, as Table does). It returns the table's
// digest.
func FinishSplit(spill io.Reader, refs []string, rows int64, lookup func(i int, id int64) ([16]byte, bool)) (pack.TableDigest, error) {
	return FinishGenericSplit(spill, refs, nil, rows, lookup, nil)
}

// FinishGenericSplit is FinishSplit for a spill of NewGenericSplitHasher (refs and cts as given
// to it): i counts the columns split at, references and generic object ids alike, in order; for
// a generic object id, glookup(i, ct, id) gives the identity of the row with surrogate id id of
// the table content type ct names (false when there is none). As Table does, it hashes a NULL
// object id as nothing, and an object id whose content type is NULL, names no table, or whose
// table has no such row, as '?' and the id.
func FinishGenericSplit(spill io.Reader, refs, cts []string, rows int64, lookup func(i int, id int64) ([16]byte, bool), glookup func(i int, ct, id int64) ([16]byte, bool)) (pack.TableDigest, error) {
	br := bufio.NewReaderSize(spill, 1<<20)
	var buf, ctBuf []byte
	next := func() ([]byte, error) {
		n, err := binary.ReadUvarint(br)
		if err != nil {
			return nil, err
		}
		if n > 1<<30 {
			return nil, fmt.Errorf("digest: spill record of %d bytes", n)
		}
		if uint64(cap(buf)) < n {
			buf = make([]byte, n)
		}
		buf = buf[:n]
		_, err = io.ReadFull(br, buf)
		return buf, err
	}
	if cts != nil && len(cts) != len(refs) {
		return pack.TableDigest{}, fmt.Errorf("digest: %d generic markers for %d columns", len(cts), len(refs))
	}
	var generic []bool // per column split at
	for k, r := range refs {
		g := cts != nil && cts[k] != ""
		if r != "" || g {
			generic = append(generic, g)
		}
	}
	isNull := func(raw []byte) bool { return len(raw) == 2 && raw[0] == '\\' && raw[1] == 'N' }
	var s1, s2 acc
	var sum [md5.Size]byte
	var text [36]byte
	md := md5.New()
	for row := int64(0); row < rows; row++ {
		state, err := next()
		if err != nil {
			return pack.TableDigest{}, fmt.Errorf("digest: spill row %d: %w", row, err)
		}
		if err := md.(encoding.BinaryUnmarshaler).UnmarshalBinary(state); err != nil {
			return pack.TableDigest{}, fmt.Errorf("digest: spill row %d: %w", row, err)
		}
		for i, g := range generic {
			seg, err := next()
			if err != nil {
				return pack.TableDigest{}, fmt.Errorf("digest: spill row %d: %w", row, err)
			}
			md.Write(seg)
			raw, err := next()
			if err != nil {
				return pack.TableDigest{}, fmt.Errorf("digest: spill row %d: %w", row, err)
			}
			var ctRaw []byte
			if g {
				// raw is buf's: keep it while the content type is read.
				ctBuf = append(ctBuf[:0], raw...)
				raw = ctBuf
				if ctRaw, err = next(); err != nil {
					return pack.TableDigest{}, fmt.Errorf("digest: spill row %d: %w", row, err)
				}
			}
			if isNull(raw) {
				continue // NULL: nothing between the separators
			}
			id, err := strconv.ParseInt(string(raw), 10, 64)
			if err != nil {
				return pack.TableDigest{}, fmt.Errorf("digest: spill row %d: reference %q is no id", row, raw)
			}
			var h [16]byte
			ok := false
			switch {
			case !g:
				h, ok = lookup(i, id)
			case !isNull(ctRaw):
				ct, err := strconv.ParseInt(string(ctRaw), 10, 64)
				if err != nil {
					return pack.TableDigest{}, fmt.Errorf("digest: spill row %d: content type %q is no id", row, ctRaw)
				}
				h, ok = glookup(i, ct, id)
			}
			if !ok {
				md.Write([]byte{'?'})
				md.Write(raw)
				continue
			}
			hex.Encode(text[0:8], h[0:4])
			text[8] = '-'
			hex.Encode(text[9:13], h[4:6])
			text[13] = '-'
			hex.Encode(text[14:18], h[6:8])
			text[18] = '-'
			hex.Encode(text[19:23], h[8:10])
			text[23] = '-'
			hex.Encode(text[24:36], h[10:16])
			md.Write(text[:])
		}
		tail, err := next()
		if err != nil {
			return pack.TableDigest{}, fmt.Errorf("digest: spill row %d: %w", row, err)
		}
		md.Write(tail)
		d := md.Sum(sum[:0])
		s1.add(int64(binary.BigEndian.Uint64(d[0:8])))
		s2.add(int64(binary.BigEndian.Uint64(d[8:16])))
	}
	if _, err := br.ReadByte(); err != io.EOF {
		return pack.TableDigest{}, errors.New("digest: the spill holds more rows than expected")
	}
	return pack.TableDigest{Rows: rows, Sum1: s1.String(), Sum2: s2.String()}, nil
}
