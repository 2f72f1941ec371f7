package legacy

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
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
	tr     *tracker
	dec    *json.Decoder
	src    io.Reader // what dec reads: the tracker, after a skip with the bytes read past the run first
	origin int64     // the fixture offset of dec's offset 0 (dec is replaced after a long whitespace run)
	array  bool
	done   bool
	n      int64
}

// DecodeLimits bound what a fixture may cost. Zero fields take the defaults.
type DecodeLimits struct {
	// MaxBytes bounds the decompressed fixture; default 64 GiB.
	MaxBytes int64
	// MaxObjectBytes bounds one object, whitespace before it included; default 64 MiB (an
	// object costs about four times its size in memory while it is decoded).
	MaxObjectBytes int64
	// MaxRatio bounds decompressed over compressed bytes of a gzip fixture, past its first
	// 64 MiB; default 250 (Django's fixtures compress about 10:1; deflate stops near 1032:1).
	MaxRatio int64
}

func (l DecodeLimits) withDefaults() DecodeLimits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = 64 << 30
	}
	if l.MaxObjectBytes <= 0 {
		l.MaxObjectBytes = 64 << 20
	}
	if l.MaxRatio <= 0 {
		l.MaxRatio = 250
	}
	return l
}

var gzipMagic = []byte{0x1f, 0x8b}

// NewDecoder is NewDecoderContext without a context and with the default limits.
func NewDecoder(r io.Reader) (*Decoder, error) {
	return NewDecoderContext(context.Background(), r, DecodeLimits{})
}

// NewDecoderContext starts reading a fixture from r, decompressing it when it is gzip. It reads
// up to the first object's start and refuses what cannot be a fixture. Reading stops with ctx's
// error once ctx is done, and with a *SyntaxError past any of limits.
func NewDecoderContext(ctx context.Context, r io.Reader, limits DecodeLimits) (*Decoder, error) {
	limits = limits.withDefaults()
	compressed := &countReader{r: r}
	br := bufio.NewReaderSize(compressed, 64<<10)
	head, _ := br.Peek(2)
	var src io.Reader = br
	gz := false
	if bytes.Equal(head, gzipMagic) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, &SyntaxError{Line: 1, Column: 1, Msg: "gzip: " + err.Error()}
		}
		zr.Multistream(true)
		src = zr
		gz = true
	}
	lim := &limitReader{ctx: ctx, r: src, compressed: compressed, gzip: gz, limits: limits}
	bsrc := bufio.NewReaderSize(lim, 64<<10)
	// A UTF-8 byte order mark is tolerated, as Python's json module writes none but editors may.
	if bom, _ := bsrc.Peek(3); bytes.Equal(bom, []byte("\ufeff")) {
		_, _ = bsrc.Discard(3)
	}
	tr := &tracker{r: bsrc, baseLine: 1, baseCol: 1, maxKept: limits.MaxObjectBytes}
	d := &Decoder{tr: tr, dec: json.NewDecoder(tr), src: tr}
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

// countReader counts the bytes read through it.
type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// limitReader is the decompressed fixture: it stops at ctx's end, past MaxBytes, and past
// MaxRatio times the compressed bytes consumed (gzip only, past the first 64 MiB).
type limitReader struct {
	ctx        context.Context
	r          io.Reader
	compressed *countReader
	gzip       bool
	limits     DecodeLimits
	n          int64
}

func (l *limitReader) Read(p []byte) (int, error) {
	if err := l.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := l.r.Read(p)
	l.n += int64(n)
	switch {
	case l.n > l.limits.MaxBytes:
		return 0, fmt.Errorf("the fixture is larger than the %d bytes allowed", l.limits.MaxBytes)
	case l.gzip && l.n > 64<<20 && l.n > l.limits.MaxRatio*max(l.compressed.n, 1):
		return 0, fmt.Errorf("the gzip stream expands more than %d:1 (a decompression bomb?)", l.limits.MaxRatio)
	}
	return n, err
}

// Objects is the number of objects read so far.
func (d *Decoder) Objects() int64 { return d.n }

// Offset is the number of (decompressed) bytes consumed so far.
func (d *Decoder) Offset() int64 { return d.origin + d.dec.InputOffset() }

// Next returns the next object, io.EOF after the last, or a *SyntaxError (or the context's
// error, unwrapped, when it ended the read).
func (d *Decoder) Next() (*Object, error) {
	if d.done {
		return nil, io.EOF
	}
	if err := d.skipSpace(); err != nil {
		return nil, err
	}
	d.tr.advance(d.Offset())
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

// spaceRun is the whitespace run past which the decoder skips whitespace itself: encoding/json
// rescans the whitespace before a value on every refill of its buffer (quadratic: 32 MiB of
// spaces took 12 s, 64 MiB minutes).
const spaceRun = 4 << 10

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// skipSpace skips a long whitespace run at the decoder's position in linear time: it reads past
// it, then continues with a new json.Decoder at the first byte after it (in an array, put back
// inside the array: a "[" it consumes, then the comma handled here).
func (d *Decoder) skipSpace() error {
	buffered, _ := io.ReadAll(io.LimitReader(d.dec.Buffered(), spaceRun))
	w := 0
	for w < len(buffered) && isSpace(buffered[w]) {
		w++
	}
	if w < len(buffered) && buffered[w] == ',' && d.array && d.n > 0 {
		// encoding/json skips the whitespace after a comma as it decodes the next value,
		// linearly but keeping it all in its buffer: skip that run here too.
		for w++; w < len(buffered) && isSpace(buffered[w]); w++ {
		}
	}
	if w < len(buffered) && w < spaceRun {
		return nil // the common case: a value, a comma or the end comes soon
	}
	rest, _ := io.ReadAll(d.dec.Buffered())
	pos := d.Offset()
	commaSeen := false
	var chunk []byte
	for {
		w := 0
		for w < len(rest) && isSpace(rest[w]) {
			w++
		}
		pos += int64(w)
		rest = rest[w:]
		d.tr.advance(pos)
		if len(rest) == 0 {
			if chunk == nil {
				chunk = make([]byte, 64<<10)
			}
			n, err := d.src.Read(chunk)
			rest = chunk[:n]
			if n == 0 && err != nil {
				if errors.Is(err, io.EOF) {
					break
				}
				if d.tr.ctxErr(err) != nil {
					return err
				}
				return d.readError(err)
			}
			continue
		}
		if d.array && d.n > 0 && !commaSeen && rest[0] == ',' {
			commaSeen = true
			pos++
			rest = rest[1:]
			continue
		}
		break
	}
	if d.array && len(rest) > 0 {
		switch {
		case d.n > 0 && !commaSeen && rest[0] != ']':
			line, col := d.tr.pos(pos)
			return &SyntaxError{Object: d.n, Line: line, Column: col, Offset: pos, Msg: fmt.Sprintf("invalid character %q after array element", rest[0])}
		case commaSeen && rest[0] == ']':
			line, col := d.tr.pos(pos)
			return &SyntaxError{Object: d.n, Line: line, Column: col, Offset: pos, Msg: "invalid character ']' looking for beginning of value"}
		}
	}
	src := io.MultiReader(bytes.NewReader(rest), d.src)
	d.src = src
	if d.array {
		d.dec = json.NewDecoder(io.MultiReader(strings.NewReader("["), src))
		if _, err := d.dec.Token(); err != nil {
			return d.wrap(err)
		}
		d.origin = pos - 1
	} else {
		d.dec = json.NewDecoder(src)
		d.origin = pos
	}
	return nil
}

func (d *Decoder) finishArray() error {
	if _, err := d.dec.Token(); err != nil { // the closing ]
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return d.wrap(err)
	}
	d.done = true
	if err := d.skipSpace(); err != nil {
		return err
	}
	d.tr.advance(d.Offset())
	if _, err := d.dec.Token(); !errors.Is(err, io.EOF) {
		off := d.Offset()
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
			if cerr := d.tr.ctxErr(rerr.err); cerr != nil {
				return cerr
			}
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
	maxKept  int64 // the most bytes one object (and the whitespace before it) may span
}

func (t *tracker) Read(p []byte) (int, error) {
	if t.kept() > t.maxKept {
		return 0, &readError{fmt.Errorf("an object is larger than the %d bytes allowed", t.maxKept)}
	}
	n, err := t.r.Read(p)
	t.buf = append(t.buf, p[:n]...)
	if err != nil && !errors.Is(err, io.EOF) {
		err = &readError{err}
	}
	return n, err
}

// ctxErr returns err when it is a context's end (the caller was cancelled), else nil.
func (t *tracker) ctxErr(err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
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
