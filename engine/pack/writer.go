package pack

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/klauspost/compress/zstd"
)

// DefaultChunkBytes is the size at which a table's COPY stream is cut into a new entry (at a row
// boundary). The writer's memory is bounded by it, whatever the size of the data.
const DefaultChunkBytes = 8 << 20

// WriterOptions tune a Writer.
type WriterOptions struct {
	// ChunkBytes is the entry size; 0 means DefaultChunkBytes.
	ChunkBytes int
	// Level is the zstd level of the frames written with matches; 0 means zstd.SpeedFastest (a
	// quarter less CPU than zstd.SpeedDefault for a package a few percent larger).
	Level zstd.EncoderLevel
	// MatchesOnly writes every frame with the zstd encoder at Level, none of literals only
	// (see compressor): hex-heavy tables come out ~15% smaller for three times the CPU of
	// compressing them.
	MatchesOnly bool
	// Overwrite allows replacing an existing package at the destination.
	Overwrite bool
	// Wrap, if set, wraps the file before compression (encryption); it must return a WriteCloser
	// whose Close flushes without closing the file.
	Wrap func(io.Writer) (io.WriteCloser, error)
	// Sign, if set, signs the manifest's bytes; the signature becomes the manifest.sig entry.
	Sign func(manifest []byte) ([]byte, error)
}

// Sink is where a Writer puts a package's bytes. Commit is called once, after the last byte, and
// makes the package visible whole (a file fsynced and renamed into place, an object upload
// completed); Abort discards everything written and leaves nothing behind. A Writer calls exactly
// one of them, once.
type Sink interface {
	io.Writer
	Commit() error
	Abort()
}

// Writer writes a package into a Sink: PATH.partial renamed to PATH on Close (Create), or any
// other destination (NewWriter).
type Writer struct {
	name      string
	sink      Sink
	count     *countingWriter
	wrap      io.WriteCloser
	zw        *compressor
	guard     *ratioGuard
	tw        *tar.Writer
	opts      WriterOptions
	headerSHA string
	format    int // the header's format version
	tables    []*TableEntry
	byIndex   map[int]*TableEntry
	spareMu   sync.Mutex
	spare     [][]byte       // closed streams' chunk buffers (at most two), for the next one
	flushing  sync.WaitGroup // entries being written in the background (TableStream.Write)
	done      bool
	partial   string
}

// countingWriter counts what passes. The compressor writes from its own goroutines while the
// ratio guard reads the count: the count is atomic.
type countingWriter struct {
	w io.Writer
	n atomic.Int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n.Add(int64(n))
	return n, err
}

// Create opens PATH.partial for writing. It refuses an existing PATH (unless opts.Overwrite) and a
// PATH.partial that another live writer holds; a stale PATH.partial left by a crash is replaced.
func Create(path string, opts WriterOptions) (*Writer, error) {
	sink, err := CreateFile(path, opts.Overwrite)
	if err != nil {
		return nil, err
	}
	w, err := NewWriter(sink, path, opts)
	if err != nil {
		return nil, err
	}
	w.partial = sink.partial
	return w, nil
}

// NewWriter starts a package in sink; name names it in errors. On error sink is aborted.
func NewWriter(sink Sink, name string, opts WriterOptions) (*Writer, error) {
	if opts.ChunkBytes <= 0 {
		opts.ChunkBytes = DefaultChunkBytes
	}
	if opts.Level == 0 {
		opts.Level = zstd.SpeedFastest
	}
	w := &Writer{name: name, sink: sink, count: &countingWriter{w: sink}, opts: opts, byIndex: map[int]*TableEntry{}}
	var dst io.Writer = w.count
	if opts.Wrap != nil {
		wc, err := opts.Wrap(w.count)
		if err != nil {
			w.Abort()
			return nil, fmt.Errorf("create package %s: %w", name, err)
		}
		w.wrap = wc
		dst = wc
	}
	comp := &countingWriter{w: dst}
	zw, err := newCompressor(comp, opts.Level, !opts.MatchesOnly)
	if err != nil {
		w.Abort()
		return nil, fmt.Errorf("create package %s: %w", name, err)
	}
	w.zw = zw
	w.guard = &ratioGuard{w: w, comp: comp}
	w.tw = tar.NewWriter(w.guard)
	return w, nil
}

// Keeping the ratio: every prefix of a package this writer writes decompresses to at most
// writeRatio times the compressed bytes before it (past ratioFloor/2), half of what a reader
// with default limits accepts, however repetitive the rows (a column of zeros compresses far
// beyond 1000:1). When the compressed stream falls behind, the writer flushes the compressor;
// if that is not enough it ends the zstd frame and adds a skippable frame of padding (bytes
// every zstd decoder skips); the next write starts the next frame.
const (
	writeRatio = DefaultMaxRatio / 2
	guardStep  = 1 << 20 // the most the guard lets through between two checks
)

// skippableMagic starts a zstd skippable frame (little-endian 0x184D2A50), followed by the
// payload's length as a little-endian uint32.
var skippableMagic = []byte{0x50, 0x2a, 0x4d, 0x18}

// ratioGuard sits between the tar writer and the compressor and keeps the ratio.
type ratioGuard struct {
	w     *Writer
	comp  *countingWriter // the compressor's output
	plain int64           // bytes given to the compressor
	pads  int64           // padding bytes added
}

func (g *ratioGuard) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		n := min(len(p), guardStep)
		if err := g.balance(int64(n)); err != nil {
			return written, err
		}
		m, err := g.w.zw.Write(p[:n])
		written += m
		g.plain += int64(m)
		if err != nil {
			return written, err
		}
		p = p[n:]
	}
	return written, nil
}

// balance makes room for next more bytes: a reader that has decompressed up to any of them has
// consumed every compressed byte emitted before them, which must be at least a writeRatio-th
// of the stream up to there.
func (g *ratioGuard) balance(next int64) error {
	after := g.plain + next
	if after <= ratioFloor/2 {
		return nil
	}
	short := func() int64 { return (after+writeRatio-1)/writeRatio - g.comp.n.Load() }
	if short() <= 0 {
		return nil
	}
	if err := g.w.zw.Flush(); err != nil {
		return err
	}
	if short() <= 0 {
		return nil
	}
	if err := g.w.zw.End(); err != nil {
		return err
	}
	pad := short()
	frame := make([]byte, 8+pad)
	copy(frame, skippableMagic)
	binary.LittleEndian.PutUint32(frame[4:], uint32(pad))
	if _, err := g.comp.Write(frame); err != nil {
		return err
	}
	g.pads += int64(len(frame))
	return nil
}

// Bytes is the number of bytes written to the sink so far (the package's size once closed).
func (w *Writer) Bytes() int64 { return w.count.n.Load() }

// Partial is the path being written ("" when the sink is not a file of Create).
func (w *Writer) Partial() string { return w.partial }

func (w *Writer) entry(name string, data []byte, pax map[string]string) error {
	hdr := &tar.Header{Name: name, Mode: 0o600, Size: int64(len(data)), Typeflag: tar.TypeReg, ModTime: time.Unix(0, 0), Format: tar.FormatPAX, PAXRecords: pax}
	if err := w.tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("write entry %s: %w", name, err)
	}
	if _, err := w.tw.Write(data); err != nil {
		return fmt.Errorf("write entry %s: %w", name, err)
	}
	return nil
}

// WriteHeader writes the header entry; it must come first.
// h.Format is FormatVersion unless the caller asks for FormatLargeValues (the package will
// hold large values: see LargeValue).
func (w *Writer) WriteHeader(h Header) error {
	if h.Format != FormatLargeValues {
		h.Format = FormatVersion
	}
	w.format = h.Format
	data, err := json.Marshal(h)
	if err != nil {
		return fmt.Errorf("encode header: %w", err)
	}
	sum := sha256.Sum256(data)
	w.headerSHA = hex.EncodeToString(sum[:])
	// The checksum rides ahead of the header, as for data entries: a reader checks it before it
	// believes the format version (a damaged byte must read as damage, not as a newer format).
	return w.entry(HeaderName, data, map[string]string{EntrySHA256Record: w.headerSHA})
}

// Table starts the COPY stream of table index: write COPY text rows to it, then Close it. One
// stream is written at a time, but the next may be started (on another goroutine) while the one
// before is being written and closed.
func (w *Writer) Table(index int, qname string) *TableStream {
	return &TableStream{w: w, entry: w.tableEntry(index, qname), buf: w.chunkBuf()}
}

// Refs starts the stream of reference rows of table index (after its data): rows that must match
// existing target rows by natural key. Write them as COPY text in the table's layout.
func (w *Writer) Refs(index int, qname string) *TableStream {
	return &TableStream{w: w, entry: w.tableEntry(index, qname), refs: true, buf: w.chunkBuf()}
}

// chunkBuf returns an empty chunk buffer: one a closed stream gave back, else a new one. Streams
// are written one after the other, so two buffers serve them all (a new 8 MiB buffer per table
// cost a backup 10% of its CPU in clearing memory, most tables being small).
func (w *Writer) chunkBuf() []byte {
	size := w.chunkBufSize()
	w.spareMu.Lock()
	var b []byte
	if n := len(w.spare); n > 0 {
		b = w.spare[n-1]
		w.spare = w.spare[:n-1]
	}
	w.spareMu.Unlock()
	if cap(b) >= size {
		return b[:0]
	}
	return make([]byte, 0, size)
}

// putChunkBuf gives a stream's chunk buffer back for the next stream, unless a long row grew it.
func (w *Writer) putChunkBuf(b []byte) {
	if cap(b) != w.chunkBufSize() {
		return
	}
	w.spareMu.Lock()
	if len(w.spare) < 2 {
		w.spare = append(w.spare, b[:0])
	}
	w.spareMu.Unlock()
}

func (w *Writer) chunkBufSize() int { return min(w.opts.ChunkBytes, DefaultChunkBytes) + 64<<10 }

func (w *Writer) tableEntry(index int, qname string) *TableEntry {
	if te, ok := w.byIndex[index]; ok {
		return te
	}
	te := &TableEntry{Index: index, Table: qname}
	w.byIndex[index] = te
	w.tables = append(w.tables, te)
	return te
}

// TableStream cuts one table's COPY text into chunk entries at row boundaries.
type TableStream struct {
	w     *Writer
	entry *TableEntry
	refs  bool
	buf   []byte
	err   error
	// The entry being written in the background (checksummed, compressed, written out) while
	// the next one fills: its buffer and error come back on flushing. At most one at a time;
	// nil when none.
	flushing chan flushed
	spare    []byte // the second chunk buffer, once the first entry went out in the background
}

// flushed is the outcome of an entry written in the background: its buffer, to fill again.
type flushed struct {
	buf []byte
	err error
}

// Write buffers COPY text and emits an entry, cut at the last row end, whenever the buffer and p
// together reach the chunk size. Where the rows of p fit in the buffer (a chunk's size plus
// 64 KiB), the entry is written in the background while the next one fills a second buffer, so
// that the caller (a COPY being read) does not wait for the checksum and the compressor; the
// entries are cut at the same rows either way. A longer p itself is never copied into the
// buffer when it completes an entry: a row of any size (one write of pgconn's CopyTo is one
// row) costs no memory beyond the caller's own.
func (t *TableStream) Write(p []byte) (int, error) {
	if t.err != nil {
		return 0, t.err
	}
	if len(t.buf)+len(p) >= t.w.opts.ChunkBytes {
		if len(t.buf)+len(p) <= cap(t.buf) {
			if i := bytes.LastIndexByte(p, '\n'); i >= 0 {
				next, err := t.wait()
				if err != nil {
					return 0, err
				}
				full := append(t.buf, p[:i+1]...)
				t.buf = append(next, p[i+1:]...)
				t.flushBackground(full)
				return len(p), nil
			}
		}
		if _, err := t.wait(); err != nil {
			return 0, err
		}
		if i := bytes.LastIndexByte(p, '\n'); i >= 0 {
			if err := t.flush(t.buf, p[:i+1]); err != nil {
				t.err = err
				return 0, err
			}
			t.buf = append(t.buf[:0], p[i+1:]...)
			return len(p), nil
		}
		if i := bytes.LastIndexByte(t.buf, '\n'); i >= 0 {
			if err := t.flush(t.buf[:i+1], nil); err != nil {
				t.err = err
				return 0, err
			}
			t.buf = t.buf[:copy(t.buf, t.buf[i+1:])]
		}
	}
	// A row larger than a chunk written in pieces is buffered until its end.
	t.buf = append(t.buf, p...)
	return len(p), nil
}

// flushBackground writes buf (whole rows) as the stream's next entry on a goroutine of its own;
// wait collects it.
func (t *TableStream) flushBackground(buf []byte) {
	done := make(chan flushed, 1)
	t.flushing = done
	t.w.flushing.Add(1)
	go func() {
		defer t.w.flushing.Done()
		err := t.flush(buf, nil)
		done <- flushed{buf: buf[:0], err: err}
	}()
}

// wait waits for the entry being written in the background, if any, and returns an empty chunk
// buffer to fill next (the entry's own once written); an error writing it is the stream's error.
func (t *TableStream) wait() ([]byte, error) {
	if t.flushing != nil {
		f := <-t.flushing
		t.flushing = nil
		if f.err != nil {
			t.err = f.err
			t.w.putChunkBuf(f.buf)
			return nil, f.err
		}
		if t.spare == nil {
			t.spare = f.buf
		} else {
			t.w.putChunkBuf(f.buf)
		}
	}
	if b := t.spare; b != nil {
		t.spare = nil
		return b[:0], nil
	}
	return t.w.chunkBuf(), nil
}

// WriteFrom writes the COPY text in src[0:size) (whole rows, each ending in '\n') into the
// stream, cutting entries at row boundaries as Write does. It reads src twice per entry (the
// checksum goes ahead of the data), in pieces of 1 MiB: a row longer than a chunk (a spooled
// table's large value) becomes an entry of its own without ever being held in memory.
func (t *TableStream) WriteFrom(ctx context.Context, src io.ReaderAt, size int64) error {
	if t.err != nil {
		return t.err
	}
	if err := t.settle(); err != nil {
		return err
	}
	if len(t.buf) > 0 {
		if t.buf[len(t.buf)-1] != '\n' {
			return fmt.Errorf("table %s: rows written from a file after a partial row", t.entry.Table)
		}
		if err := t.flush(t.buf, nil); err != nil {
			t.err = err
			return err
		}
		t.buf = t.buf[:0]
	}
	piece := make([]byte, 1<<20)
	for pos := int64(0); pos < size; {
		end, err := t.cutFrom(ctx, src, pos, size, piece)
		if err == nil {
			err = t.flushFrom(ctx, src, pos, end, piece)
		}
		if err != nil {
			t.err = err
			return err
		}
		pos = end
	}
	return nil
}

// cutFrom returns where the entry starting at pos ends: after the last row that ends within a
// chunk, else after the first row.
func (t *TableStream) cutFrom(ctx context.Context, src io.ReaderAt, pos, size int64, piece []byte) (int64, error) {
	limit := min(pos+int64(t.w.opts.ChunkBytes), size)
	last := int64(-1)
	for off := pos; off < size; {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		n, err := src.ReadAt(piece[:min(int64(len(piece)), size-off)], off)
		if n == 0 && err != nil {
			return 0, fmt.Errorf("table %s: read rows: %w", t.entry.Table, err)
		}
		p := piece[:n]
		if off < limit {
			k := min(int64(n), limit-off)
			if i := bytes.LastIndexByte(p[:k], '\n'); i >= 0 {
				last = off + int64(i)
			}
			if off+int64(n) >= limit {
				if last >= 0 {
					return last + 1, nil
				}
				if i := bytes.IndexByte(p[k:], '\n'); i >= 0 {
					return off + k + int64(i) + 1, nil
				}
			}
		} else if i := bytes.IndexByte(p, '\n'); i >= 0 {
			return off + int64(i) + 1, nil
		}
		off += int64(n)
	}
	if last >= 0 {
		return last + 1, nil
	}
	return 0, fmt.Errorf("table %s: COPY stream ends inside a row", t.entry.Table)
}

// flushFrom writes src[a:b) as the stream's next entry: one pass for the checksum, one for the data.
func (t *TableStream) flushFrom(ctx context.Context, src io.ReaderAt, a, b int64, piece []byte) error {
	each := func(fn func(p []byte) error) error {
		for off := a; off < b; {
			if err := ctx.Err(); err != nil {
				return err
			}
			n, err := src.ReadAt(piece[:min(int64(len(piece)), b-off)], off)
			if n == 0 && err != nil {
				return fmt.Errorf("table %s: read rows: %w", t.entry.Table, err)
			}
			if err := fn(piece[:n]); err != nil {
				return err
			}
			off += int64(n)
		}
		return nil
	}
	h := sha256.New()
	var rows int64
	esc := false
	if err := each(func(p []byte) error {
		if err := checkEscapes(p, &esc); err != nil {
			return fmt.Errorf("table %s: %w", t.entry.Table, err)
		}
		h.Write(p)
		rows += int64(bytes.Count(p, []byte{'\n'}))
		return nil
	}); err != nil {
		return err
	}
	name, err := t.startEntry(b-a, hex.EncodeToString(h.Sum(nil)))
	if err != nil {
		return err
	}
	if err := each(func(p []byte) error {
		if _, err := t.w.tw.Write(p); err != nil {
			return fmt.Errorf("write entry %s: %w", name, err)
		}
		return nil
	}); err != nil {
		return err
	}
	t.record(name, rows, b-a, hex.EncodeToString(h.Sum(nil)))
	return nil
}

// checkEscapes refuses COPY text that the server and a reader could split differently: "\."
// (the end-of-data marker) and a backslash before a newline (data for the server, a row end for
// the writer's cut). PostgreSQL never writes either; esc carries a trailing backslash over.
func checkEscapes(p []byte, esc *bool) error {
	for len(p) > 0 {
		if *esc {
			*esc = false
			switch p[0] {
			case '.':
				return errors.New(`COPY text holds \. (the end-of-data marker): refused`)
			case '\n':
				return errors.New("COPY text holds a backslash before a newline: refused")
			}
			p = p[1:]
			continue
		}
		i := bytes.IndexByte(p, '\\')
		if i < 0 {
			return nil
		}
		*esc = true
		p = p[i+1:]
	}
	return nil
}

// flush writes a and b, together, as the stream's next entry.
func (t *TableStream) flush(a, b []byte) error {
	esc := false
	for _, part := range [][]byte{a, b} {
		if err := checkEscapes(part, &esc); err != nil {
			return fmt.Errorf("table %s: %w", t.entry.Table, err)
		}
	}
	size := int64(len(a) + len(b))
	h := sha256.New()
	var rows int64
	for _, part := range [][]byte{a, b} {
		h.Write(part)
		rows += int64(bytes.Count(part, []byte{'\n'}))
	}
	sum := hex.EncodeToString(h.Sum(nil))
	name, err := t.startEntry(size, sum)
	if err != nil {
		return err
	}
	for _, part := range [][]byte{a, b} {
		if _, err := t.w.tw.Write(part); err != nil {
			return fmt.Errorf("write entry %s: %w", name, err)
		}
	}
	t.record(name, rows, size, sum)
	return nil
}

// startEntry writes the tar header of the stream's next entry and returns its name. The checksum
// also goes ahead of the data, in the entry's own header, so that a reader can verify the entry
// before anything acts on it (the manifest, which lists it too, comes last).
func (t *TableStream) startEntry(size int64, sum string) (string, error) {
	name := DataName(t.entry.Index, len(t.entry.Chunks))
	if t.refs {
		name = RefName(t.entry.Index, len(t.entry.Refs))
	}
	hdr := &tar.Header{Name: name, Mode: 0o600, Size: size, Typeflag: tar.TypeReg, ModTime: time.Unix(0, 0), Format: tar.FormatPAX,
		PAXRecords: map[string]string{EntrySHA256Record: sum}}
	if err := t.w.tw.WriteHeader(hdr); err != nil {
		return "", fmt.Errorf("write entry %s: %w", name, err)
	}
	return name, nil
}

// record adds a written entry to the table's manifest entry.
func (t *TableStream) record(name string, rows, size int64, sum string) {
	c := Chunk{Name: name, Rows: rows, Bytes: size, SHA256: sum}
	if t.refs {
		t.entry.Refs = append(t.entry.Refs, c)
		t.entry.RefRows += rows
		return
	}
	t.entry.Chunks = append(t.entry.Chunks, c)
	t.entry.Rows += rows
	t.entry.Bytes += size
}

// LargeValue writes large value entry of table index: the value of column in data row row
// (0-based), size bytes read from src in pieces, whose SHA-256 (hex) is sum (it goes ahead of
// the data). It comes after the table's data and reference streams are closed, and only in a
// package whose header asked for FormatLargeValues.
func (w *Writer) LargeValue(ctx context.Context, index int, qname string, row int64, column string, src io.ReaderAt, size int64, sum string) error {
	if w.format != FormatLargeValues {
		return fmt.Errorf("table %s: a large value in a package of format %d", qname, w.format)
	}
	if size <= 0 {
		return fmt.Errorf("table %s: an empty large value", qname)
	}
	te := w.tableEntry(index, qname)
	name := LargeName(index, len(te.Large))
	hdr := &tar.Header{Name: name, Mode: 0o600, Size: size, Typeflag: tar.TypeReg, ModTime: time.Unix(0, 0), Format: tar.FormatPAX,
		PAXRecords: map[string]string{EntrySHA256Record: sum, LargeRowRecord: strconv.FormatInt(row, 10), LargeColumnRecord: column}}
	if err := w.tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("write entry %s: %w", name, err)
	}
	piece := make([]byte, 1<<20)
	for off := int64(0); off < size; {
		if err := ctx.Err(); err != nil {
			return err
		}
		n := int(min(int64(len(piece)), size-off))
		if _, err := src.ReadAt(piece[:n], off); err != nil {
			return fmt.Errorf("write entry %s: read value: %w", name, err)
		}
		if _, err := w.tw.Write(piece[:n]); err != nil {
			return fmt.Errorf("write entry %s: %w", name, err)
		}
		off += int64(n)
	}
	te.Large = append(te.Large, LargeValue{Name: name, Row: row, Column: column, Bytes: size, SHA256: sum})
	return nil
}

// settle waits for the entry being written in the background, if any, and keeps its buffer.
func (t *TableStream) settle() error {
	if t.flushing == nil {
		return nil
	}
	b, err := t.wait()
	if err != nil {
		return err
	}
	t.spare = b
	return nil
}

// Close flushes the last chunk and records the table in the manifest.
func (t *TableStream) Close() (TableEntry, error) {
	if t.err != nil {
		t.release()
		return TableEntry{}, t.err
	}
	if err := t.settle(); err != nil {
		t.release()
		return TableEntry{}, err
	}
	if len(t.buf) > 0 {
		if t.buf[len(t.buf)-1] != '\n' {
			t.release()
			return TableEntry{}, fmt.Errorf("table %s: COPY stream ends inside a row", t.entry.Table)
		}
		if err := t.flush(t.buf, nil); err != nil {
			t.release()
			return TableEntry{}, err
		}
	}
	t.release()
	return *t.entry, nil
}

// release waits for the entry being written in the background, if any, and gives the stream's
// chunk buffers back to the writer for the next stream (a buffer a long row grew is not kept).
func (t *TableStream) release() {
	if t.flushing != nil {
		f := <-t.flushing
		t.flushing = nil
		if f.err != nil && t.err == nil {
			t.err = f.err
		}
		t.w.putChunkBuf(f.buf)
	}
	if t.buf != nil {
		t.w.putChunkBuf(t.buf)
		t.buf = nil
	}
	if t.spare != nil {
		t.w.putChunkBuf(t.spare)
		t.spare = nil
	}
}

// Close writes the manifest, flushes and commits the sink (for Create: fsyncs and renames
// PATH.partial to PATH). The manifest's
// Tables and HeaderSHA256 are filled in from what was written.
func (w *Writer) Close(m *Manifest) error {
	if w.done {
		return errors.New("package already closed")
	}
	w.flushing.Wait()
	m.Format = w.format
	m.HeaderSHA256 = w.headerSHA
	m.Tables = make([]TableEntry, 0, len(w.tables))
	for _, te := range w.tables {
		if te.Chunks == nil {
			te.Chunks = []Chunk{}
		}
		m.Tables = append(m.Tables, *te)
	}
	data, err := json.Marshal(m)
	if err != nil {
		w.Abort()
		return fmt.Errorf("encode manifest: %w", err)
	}
	if err := w.entry(ManifestName, data, nil); err != nil {
		w.Abort()
		return err
	}
	if w.opts.Sign != nil {
		sig, err := w.opts.Sign(data)
		if err != nil {
			w.Abort()
			return fmt.Errorf("sign manifest: %w", err)
		}
		if err := w.entry(SignatureName, sig, nil); err != nil {
			w.Abort()
			return err
		}
	}
	if err := w.finish(); err != nil {
		w.Abort()
		return fmt.Errorf("write package %s: %w", w.name, err)
	}
	return nil
}

func (w *Writer) finish() error {
	if err := w.tw.Close(); err != nil {
		return err
	}
	if err := w.zw.Close(); err != nil {
		return err
	}
	if w.wrap != nil {
		if err := w.wrap.Close(); err != nil {
			return err
		}
	}
	w.done = true
	if err := w.sink.Commit(); err != nil {
		w.sink.Abort()
		return err
	}
	return nil
}

// Abort discards the package: the sink is aborted. It is safe to call after Close.
func (w *Writer) Abort() {
	if w.done {
		return
	}
	w.done = true
	// An entry still being written in the background (a stream abandoned on an error) ends
	// before the compressor closes under it.
	w.flushing.Wait()
	if w.zw != nil {
		_ = w.zw.Close()
	}
	w.sink.Abort()
}
