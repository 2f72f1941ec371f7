package pack

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
	// Level is the zstd level; 0 means zstd.SpeedDefault.
	Level zstd.EncoderLevel
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
	zw        *zstd.Encoder
	tw        *tar.Writer
	opts      WriterOptions
	headerSHA string
	tables    []*TableEntry
	byIndex   map[int]*TableEntry
	done      bool
	partial   string
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
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
		opts.Level = zstd.SpeedDefault
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
	zw, err := zstd.NewWriter(dst, zstd.WithEncoderLevel(opts.Level), zstd.WithEncoderConcurrency(2))
	if err != nil {
		w.Abort()
		return nil, fmt.Errorf("create package %s: %w", name, err)
	}
	w.zw = zw
	w.tw = tar.NewWriter(zw)
	return w, nil
}

// Bytes is the number of bytes written to the sink so far (the package's size once closed).
func (w *Writer) Bytes() int64 { return w.count.n }

// Partial is the path being written ("" when the sink is not a file of Create).
func (w *Writer) Partial() string { return w.partial }

func (w *Writer) entry(name string, data []byte) error {
	hdr := &tar.Header{Name: name, Mode: 0o600, Size: int64(len(data)), Typeflag: tar.TypeReg, ModTime: time.Unix(0, 0), Format: tar.FormatPAX}
	if err := w.tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("write entry %s: %w", name, err)
	}
	if _, err := w.tw.Write(data); err != nil {
		return fmt.Errorf("write entry %s: %w", name, err)
	}
	return nil
}

// WriteHeader writes the header entry; it must come first.
func (w *Writer) WriteHeader(h Header) error {
	h.Format = FormatVersion
	data, err := json.Marshal(h)
	if err != nil {
		return fmt.Errorf("encode header: %w", err)
	}
	sum := sha256.Sum256(data)
	w.headerSHA = hex.EncodeToString(sum[:])
	return w.entry(HeaderName, data)
}

// Table starts the COPY stream of table index: write COPY text rows to it, then Close it.
func (w *Writer) Table(index int, qname string) *TableStream {
	return &TableStream{w: w, entry: w.tableEntry(index, qname), buf: make([]byte, 0, w.opts.ChunkBytes+64<<10)}
}

// Refs starts the stream of reference rows of table index (after its data): rows that must match
// existing target rows by natural key. Write them as COPY text in the table's layout.
func (w *Writer) Refs(index int, qname string) *TableStream {
	return &TableStream{w: w, entry: w.tableEntry(index, qname), refs: true, buf: make([]byte, 0, w.opts.ChunkBytes+64<<10)}
}

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
}

// Write buffers COPY text and emits an entry whenever the buffer is full.
func (t *TableStream) Write(p []byte) (int, error) {
	if t.err != nil {
		return 0, t.err
	}
	t.buf = append(t.buf, p...)
	for len(t.buf) >= t.w.opts.ChunkBytes {
		i := bytes.LastIndexByte(t.buf, '\n')
		if i < 0 {
			break // a single row larger than a chunk: keep buffering until its end
		}
		if err := t.flush(t.buf[:i+1]); err != nil {
			t.err = err
			return 0, err
		}
		n := copy(t.buf, t.buf[i+1:])
		t.buf = t.buf[:n]
	}
	return len(p), nil
}

func (t *TableStream) flush(data []byte) error {
	name := DataName(t.entry.Index, len(t.entry.Chunks))
	if t.refs {
		name = RefName(t.entry.Index, len(t.entry.Refs))
	}
	if err := t.w.entry(name, data); err != nil {
		return err
	}
	sum := sha256.Sum256(data)
	rows := int64(bytes.Count(data, []byte{'\n'}))
	c := Chunk{Name: name, Rows: rows, Bytes: int64(len(data)), SHA256: hex.EncodeToString(sum[:])}
	if t.refs {
		t.entry.Refs = append(t.entry.Refs, c)
		t.entry.RefRows += rows
		return nil
	}
	t.entry.Chunks = append(t.entry.Chunks, c)
	t.entry.Rows += rows
	t.entry.Bytes += int64(len(data))
	return nil
}

// Close flushes the last chunk and records the table in the manifest.
func (t *TableStream) Close() (TableEntry, error) {
	if t.err != nil {
		return TableEntry{}, t.err
	}
	if len(t.buf) > 0 {
		if t.buf[len(t.buf)-1] != '\n' {
			return TableEntry{}, fmt.Errorf("table %s: COPY stream ends inside a row", t.entry.Table)
		}
		if err := t.flush(t.buf); err != nil {
			return TableEntry{}, err
		}
	}
	t.buf = nil
	return *t.entry, nil
}

// Close writes the manifest, flushes and commits the sink (for Create: fsyncs and renames
// PATH.partial to PATH). The manifest's
// Tables and HeaderSHA256 are filled in from what was written.
func (w *Writer) Close(m *Manifest) error {
	if w.done {
		return errors.New("package already closed")
	}
	m.Format = FormatVersion
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
	if err := w.entry(ManifestName, data); err != nil {
		w.Abort()
		return err
	}
	if w.opts.Sign != nil {
		sig, err := w.opts.Sign(data)
		if err != nil {
			w.Abort()
			return fmt.Errorf("sign manifest: %w", err)
		}
		if err := w.entry(SignatureName, sig); err != nil {
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
	if w.zw != nil {
		_ = w.zw.Close()
	}
	w.sink.Abort()
}
