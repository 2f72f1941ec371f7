package legacy

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Object is one fixture object: {"model": ..., "pk": ..., "fields": {...}}.
type Object struct {
	// Index is the object's position in the fixture, from 1.
	Index int64
	// Line is the line the object starts on, from 1.
	Line int64
	// Model is "app_label.model" as written (not yet lowercased).
	Model string
	// PK is the primary key as raw JSON; nil when absent or null (dumpdata --natural-primary).
	PK json.RawMessage
	// Fields is the fields object as raw JSON ("{}" when absent).
	Fields json.RawMessage
}

// SyntaxError is a fixture that is not well-formed: where and why.
type SyntaxError struct {
	// Object is the index of the object being read (0 before the first).
	Object int64
	Line   int64
	Column int64
	// Offset is the byte offset into the (decompressed) fixture.
	Offset int64
	Msg    string
}

func (e *SyntaxError) Error() string {
	where := fmt.Sprintf("line %d, column %d (byte %d)", e.Line, e.Column, e.Offset)
	if e.Object > 0 {
		where += fmt.Sprintf(", object #%d", e.Object)
	}
	return fmt.Sprintf("fixture is malformed at %s: %s", where, e.Msg)
}

// Decoder reads fixture objects one at a time from a JSON array, or from JSON Lines (one object
// per line, or any whitespace-separated objects), gzip-compressed or not. Only one object is held
// in memory at a time.
type Decoder struct {
	tr    *tracker
	dec   *json.Decoder
	array bool
	done  bool
	n     int64
}

var gzipMagic = []byte{0x1f, 0x8b}

// NewDecoder starts reading a fixture from r, decompressing it when it is gzip. It reads up to
// the first object's start and refuses what cannot be a fixture.
func NewDecoder(r io.Reader) (*Decoder, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, _ := br.Peek(2)
	var src io.Reader = br
	if bytes.Equal(head, gzipMagic) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, &SyntaxError{Line: 1, Column: 1, Msg: "gzip: " + err.Error()}
		}
		zr.Multistream(true)
		src = bufio.NewReaderSize(zr, 64<<10)
	}
	bsrc := src.(*bufio.Reader)
	// A UTF-8 byte order mark is tolerated, as Python's json module writes none but editors may.
	if bom, _ := bsrc.Peek(3); bytes.Equal(bom, []byte("\ufeff")) {
		_, _ = bsrc.Discard(3)
	}
	tr := &tracker{r: bsrc, baseLine: 1, baseCol: 1}
	d := &Decoder{tr: tr, dec: json.NewDecoder(tr)}
	first, err := firstByte(bsrc)
	switch {
	case errors.Is(err, io.EOF):
		return nil, &SyntaxError{Line: 1, Column: 1, Msg: "the fixture is empty"}
	case err != nil:
		return nil, d.readError(err)
	case first == '[':
		d.array = true
		if _, err := d.dec.Token(); err != nil {
			return nil, d.wrap(err)
		}
	case first == '{':
	default:
		line, col := tr.pos(tr.base)
		return nil, &SyntaxError{Line: line, Column: col, Offset: tr.base,
			Msg: fmt.Sprintf("a fixture starts with '[' (dumpdata JSON) or '{' (JSON Lines), not %q", first)}
	}
	return d, nil
}

// firstByte returns the first byte that is not JSON whitespace, without consuming it.
func firstByte(r *bufio.Reader) (byte, error) {
	for i := 1; ; i++ {
		b, err := r.Peek(i)
		if len(b) < i {
			if err == nil {
				err = io.EOF
			}
			return 0, err
		}
		switch c := b[i-1]; c {
		case ' ', '\t', '\r', '\n':
			if i > 4096 {
				// Only whitespace so far: let the JSON decoder skip it as it streams.
				return '{', nil
			}
		default:
			return c, nil
		}
	}
}

// Objects is the number of objects read so far.
func (d *Decoder) Objects() int64 { return d.n }

// Offset is the number of (decompressed) bytes consumed so far.
func (d *Decoder) Offset() int64 { return d.dec.InputOffset() }

// Next returns the next object, io.EOF after the last, or a *SyntaxError.
func (d *Decoder) Next() (*Object, error) {
	if d.done {
		return nil, io.EOF
	}
	d.tr.advance(d.dec.InputOffset())
	if d.array {
		if !d.dec.More() {
			return nil, d.finishArray()
		}
	}
	var raw struct {
		Model  *string          `json:"model"`
		PK     json.RawMessage  `json:"pk"`
		Fields *json.RawMessage `json:"fields"`
	}
	d.dec.DisallowUnknownFields()
	err := d.dec.Decode(&raw)
	if errors.Is(err, io.EOF) && !d.array {
		d.done = true
		return nil, io.EOF
	}
	d.n++
	start := d.tr.start()
	line, _ := d.tr.pos(start)
	if err != nil {
		return nil, d.wrap(err)
	}
	o := &Object{Index: d.n, Line: line}
	if raw.Model == nil {
		return nil, d.objectError(start, "the object has no \"model\"")
	}
	o.Model = *raw.Model
	if len(raw.PK) > 0 && !bytes.Equal(raw.PK, []byte("null")) {
		o.PK = raw.PK
	}
	switch {
	case raw.Fields == nil, bytes.Equal(*raw.Fields, []byte("null")):
		o.Fields = json.RawMessage("{}")
	case len(*raw.Fields) > 0 && (*raw.Fields)[0] == '{':
		o.Fields = *raw.Fields
	default:
		return nil, d.objectError(start, "\"fields\" is not an object")
	}
	return o, nil
}

func (d *Decoder) finishArray() error {
	if _, err := d.dec.Token(); err != nil { // the closing ]
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return d.wrap(err)
	}
	d.done = true
	d.tr.advance(d.dec.InputOffset())
	if _, err := d.dec.Token(); !errors.Is(err, io.EOF) {
		off := d.dec.InputOffset()
		line, col := d.tr.pos(d.tr.start())
		if err == nil {
			return &SyntaxError{Object: d.n, Line: line, Column: col, Offset: off, Msg: "data after the closing ']' of the fixture"}
		}
		return d.wrap(err)
	}
	return io.EOF
}

func (d *Decoder) objectError(start int64, msg string) error {
	line, col := d.tr.pos(start)
	return &SyntaxError{Object: d.n, Line: line, Column: col, Offset: start, Msg: msg}
}

// wrap turns a decoding error into a *SyntaxError with a position.
func (d *Decoder) wrap(err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	start := d.tr.start()
	off := start
	msg := err.Error()
	switch {
	case errors.As(err, &se):
		// encoding/json's offsets are not reliable inside a stream (some count from the start
		// of the stream, some leave out the bytes Token consumed): scan the value again from
		// the object's start to find the offending byte.
		off = se.Offset
		if pos, ok := d.tr.syntaxErrorAt(start); ok {
			off = pos
		}
		msg = se.Error()
	case errors.As(err, &te):
		if te.Field != "" {
			msg = fmt.Sprintf("%q must be a JSON %s, found %s", te.Field, jsonKind(te.Type.Kind().String()), te.Value)
		} else {
			msg = fmt.Sprintf("expected an object {\"model\", \"pk\", \"fields\"}, found a JSON %s", te.Value)
		}
	case errors.Is(err, io.ErrUnexpectedEOF):
		off = d.tr.base + d.tr.kept()
		msg = "the fixture ends in the middle of a value (truncated?)"
	default:
		var rerr *readError
		if errors.As(err, &rerr) {
			return d.readError(rerr.err)
		}
		msg = strings.TrimPrefix(msg, "json: ")
	}
	line, col := d.tr.pos(off)
	return &SyntaxError{Object: d.n, Line: line, Column: col, Offset: off, Msg: msg}
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "string"
	case "map", "struct":
		return "object"
	case "slice":
		return "list"
	}
	return goKind
}

func (d *Decoder) readError(err error) error {
	off := d.tr.base + d.tr.kept()
	line, col := d.tr.pos(off)
	return &SyntaxError{Object: d.n, Line: line, Column: col, Offset: off, Msg: "cannot read the fixture: " + err.Error()}
}

// readError marks an error of the underlying reader (a damaged gzip stream, an I/O error).
type readError struct{ err error }

func (e *readError) Error() string { return e.err.Error() }
func (e *readError) Unwrap() error { return e.err }

// tracker keeps the bytes the JSON decoder has read but the caller has not passed yet, so that a
// byte offset can be turned into a line and column without keeping the whole input. buf[head:]
// holds the bytes from offset base on; the consumed prefix is dropped once it is large.
type tracker struct {
	r        io.Reader
	buf      []byte
	head     int
	base     int64
	baseLine int64
	baseCol  int64
}

func (t *tracker) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	t.buf = append(t.buf, p[:n]...)
	if err != nil && !errors.Is(err, io.EOF) {
		err = &readError{err}
	}
	return n, err
}

// kept is the number of bytes kept from base on.
func (t *tracker) kept() int64 { return int64(len(t.buf) - t.head) }

// advance forgets the bytes before offset off.
func (t *tracker) advance(off int64) {
	k := off - t.base
	if k <= 0 {
		return
	}
	k = min(k, t.kept())
	t.baseLine, t.baseCol = t.lineCol(k)
	t.head += int(k)
	t.base += k
	if t.head > 64<<10 && t.head > len(t.buf)/2 {
		n := copy(t.buf, t.buf[t.head:])
		t.buf = t.buf[:n]
		t.head = 0
		if cap(t.buf) > 4<<20 && n < cap(t.buf)/4 {
			t.buf = append([]byte(nil), t.buf...) // give back a buffer grown by one huge object
		}
	}
}

// lineCol is the line and column of the byte k bytes past base.
func (t *tracker) lineCol(k int64) (int64, int64) {
	line, col := t.baseLine, t.baseCol
	for _, c := range t.buf[t.head : t.head+int(k)] {
		if c == '\n' {
			line++
			col = 1
		} else if c&0xC0 != 0x80 { // count characters, not UTF-8 continuation bytes
			col++
		}
	}
	return line, col
}

// pos is the line and column of offset off (clamped to what is kept).
func (t *tracker) pos(off int64) (int64, int64) {
	return t.lineCol(max(0, min(off-t.base, t.kept())))
}

// syntaxErrorAt scans the kept bytes from offset start as one JSON value and returns the offset
// of the byte that makes it malformed; ok is false when the value there is well-formed.
func (t *tracker) syntaxErrorAt(start int64) (int64, bool) {
	k := start - t.base
	if k < 0 || k > t.kept() {
		return 0, false
	}
	var raw json.RawMessage
	err := json.NewDecoder(bytes.NewReader(t.buf[t.head+int(k):])).Decode(&raw)
	var se *json.SyntaxError
	if !errors.As(err, &se) {
		return 0, false
	}
	return start + max(se.Offset-1, 0), true
}

// start is the offset of the first byte at or after base that is not whitespace or a comma.
func (t *tracker) start() int64 {
	for i, c := range t.buf[t.head:] {
		switch c {
		case ' ', '\t', '\r', '\n', ',':
		default:
			return t.base + int64(i)
		}
	}
	return t.base + t.kept()
}
