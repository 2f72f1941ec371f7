package pack

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"slices"
	"sort"
	"strconv"

	"github.com/klauspost/compress/zstd"

	"github.com/edmsdr/edmsdr/engine/finding"
)

// zstdMagic starts every zstd frame.
var zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}

// Sniff classifies the first bytes of a file: "package" for a zstd stream, "json" for a Django
// fixture, "age" for an encrypted package, "gzip", or "".
func Sniff(head []byte) string {
	trimmed := bytes.TrimLeft(head, " \t\r\n\ufeff")
	switch {
	case bytes.HasPrefix(head, zstdMagic):
		return "package"
	case bytes.HasPrefix(head, []byte("age-encryption.org/")):
		return "age"
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
		return "gzip"
	case len(trimmed) > 0 && (trimmed[0] == '[' || trimmed[0] == '{'):
		return "json"
	}
	return ""
}

func corrupt(format string, args ...any) error {
	return &finding.Refused{Op: "read package", Findings: finding.List{{Kind: finding.Corrupt, Severity: finding.Error, Message: fmt.Sprintf(format, args...)}}}
}

func unsupported(format string, args ...any) error {
	return &finding.Refused{Op: "read package", Findings: finding.List{{Kind: finding.Unsupported, Severity: finding.Error, Message: fmt.Sprintf(format, args...)}}}
}

// Reader streams a package: the header first, then every data entry, then the manifest, which
// it checks against everything seen.
type Reader struct {
	limits     Limits
	compressed *countingReader
	plain      *plainReader // the decompressed stream, as the tar reader consumes it
	zr         *zstd.Decoder
	tr         *tar.Reader
	header     Header
	headerSHA  string
	manifest   *Manifest
	cur        *Entry
	seen       map[string]Chunk
	largeAt    map[string]LargeValue // large value entries seen: the row and column their records name
	lastTable  int
	lastChunk  int
	total      int64
	findings   finding.List
	finished   bool
	layout     map[int]TableLayout
	tableOrder []int

	manifestBytes []byte
	signature     []byte
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// ratioFloor is the decompressed size below which the ratio is not checked (small packages of
// repetitive rows compress far better than 1000:1 and cost nothing to read).
const ratioFloor = 64 << 20

// plainReader is the decompressed stream as the tar reader consumes it. It counts every byte
// decompressed (entry data read or drained, tar headers, padding) and fails for good once the
// count passes MaxRatio times the compressed bytes consumed: a decompression bomb costs at most
// MaxRatio times its own size, whatever its entries declare and whatever happens to them.
type plainReader struct {
	ctx        context.Context
	r          io.Reader
	compressed *countingReader
	maxRatio   int64
	n          int64
	err        error
}

func (p *plainReader) Read(b []byte) (int, error) {
	if p.err != nil {
		return 0, p.err
	}
	if err := p.ctx.Err(); err != nil {
		p.err = fmt.Errorf("read package: %w", err)
		return 0, p.err
	}
	n, err := p.r.Read(b)
	p.n += int64(n)
	if p.n > ratioFloor && p.n > p.maxRatio*max(p.compressed.n, 1) {
		p.err = corrupt("decompression ratio above %d:1 after %d bytes (a decompression bomb?): refused", p.maxRatio, p.n)
		return 0, p.err
	}
	return n, err
}

// streamErr is the error for a failed read of the archive: the ratio refusal or the context's
// end when that is what stopped it, else a corruption finding built from format and args.
func (r *Reader) streamErr(format string, args ...any) error {
	if r.plain.err != nil {
		return r.plain.err
	}
	return corrupt(format, args...)
}

// NewReader is NewReaderContext without a context.
func NewReader(r io.Reader, limits Limits) (*Reader, error) {
	return NewReaderContext(context.Background(), r, limits)
}

// NewReaderContext starts reading a package from r (the bytes of a .edmsdr file, decrypted if
// it was encrypted) and reads its header. Unknown format versions are refused here, before any
// data. Once ctx is done every read fails with its error (wrapped, never as a finding).
func NewReaderContext(ctx context.Context, r io.Reader, limits Limits) (*Reader, error) {
	limits = limits.withDefaults()
	br := bufio.NewReaderSize(r, 64<<10)
	head, _ := br.Peek(32)
	switch Sniff(head) {
	case "package":
	case "":
		if len(head) == 0 {
			return nil, corrupt("empty file")
		}
		return nil, corrupt("not an edmsdr package (unknown file signature)")
	case "age":
		return nil, unsupported("package is encrypted: give the identity or passphrase to decrypt it")
	default:
		return nil, unsupported("not an edmsdr package (looks like %s)", Sniff(head))
	}
	cr := &countingReader{r: br}
	zr, err := zstd.NewReader(cr, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(64<<20), zstd.WithDecoderMaxMemory(uint64(limits.MaxEntryBytes)+(256<<20)))
	if err != nil {
		return nil, fmt.Errorf("open package: %w", err)
	}
	plain := &plainReader{ctx: ctx, r: zr, compressed: cr, maxRatio: limits.MaxRatio}
	rd := &Reader{limits: limits, compressed: cr, plain: plain, zr: zr, tr: tar.NewReader(plain), seen: map[string]Chunk{}, largeAt: map[string]LargeValue{}, lastTable: -1, lastChunk: -1}
	if err := rd.readHeader(); err != nil {
		zr.Close()
		return nil, err
	}
	return rd, nil
}

// Close releases the decompressor.
func (r *Reader) Close() { r.zr.Close() }

// Header returns the package header.
func (r *Reader) Header() Header { return r.header }

// Manifest returns the manifest, once Next has returned io.EOF.
func (r *Reader) Manifest() *Manifest { return r.manifest }

// ManifestBytes returns the manifest exactly as stored (what a signature covers).
func (r *Reader) ManifestBytes() []byte { return r.manifestBytes }

// Signature returns the manifest.sig entry, or nil when the package is not signed.
func (r *Reader) Signature() []byte { return r.signature }

func (r *Reader) nextHeader() (*tar.Header, error) {
	h, err := r.tr.Next()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, corrupt("package ends before its manifest (truncated or incomplete)")
		}
		return nil, r.streamErr("unreadable archive: %v", err)
	}
	if h.Typeflag != tar.TypeReg {
		return nil, corrupt("entry %q is not a regular file (type %q): refused", h.Name, h.Typeflag)
	}
	if h.Size < 0 {
		return nil, corrupt("entry %q has a negative size", h.Name)
	}
	return h, nil
}

func (r *Reader) readSmall(h *tar.Header, max int64) ([]byte, error) {
	if h.Size > max {
		return nil, corrupt("entry %s is %d bytes, more than the %d allowed", h.Name, h.Size, max)
	}
	data, err := io.ReadAll(io.LimitReader(r.tr, max+1))
	if err != nil {
		return nil, r.streamErr("entry %s unreadable: %v", h.Name, err)
	}
	if int64(len(data)) != h.Size {
		return nil, corrupt("entry %s is truncated", h.Name)
	}
	return data, nil
}

func (r *Reader) readHeader() error {
	h, err := r.nextHeader()
	if err != nil {
		return err
	}
	if h.Name != HeaderName {
		return corrupt("first entry is %q, expected %s", h.Name, HeaderName)
	}
	data, err := r.readSmall(h, r.limits.MaxHeaderBytes)
	if err != nil {
		return err
	}
	if err := boundValues(data, maxHeaderValues, "header"); err != nil {
		return err
	}
	sum := sha256.Sum256(data)
	r.headerSHA = hex.EncodeToString(sum[:])
	// The header's checksum is checked before its version is believed: a damaged byte is damage,
	// not a newer format. Every header written since the record exists carries it; only version-1
	// packages written before lack it.
	want, signed := h.PAXRecords[EntrySHA256Record]
	if signed && want != r.headerSHA {
		return corrupt("header entry's SHA-256 %s does not match its record %s: the header is damaged", r.headerSHA, want)
	}
	var probe struct {
		Format *int `json:"format"`
	}
	if err := json.Unmarshal(data, &probe); err != nil {
		return corrupt("header is not valid JSON: %v", err)
	}
	switch {
	case probe.Format == nil:
		// Every package ever written names its format: a header without one is damaged (a
		// flipped byte in the key) or is not an edmsdr package.
		return corrupt("header names no package format version: the header is damaged or this is not an edmsdr package")
	case *probe.Format == 1:
		// Version 1: every package without large values.
	case *probe.Format == FormatLargeValues && signed:
		// Version 2: version 1 plus large value entries.
	case *probe.Format < 1:
		// No package was ever written with a version below 1: the header is damaged.
		return corrupt("header names package format version %d, which never existed: the header is damaged", *probe.Format)
	case !signed:
		// Only version-1 headers were ever written without a checksum: a higher version without
		// one is a damaged header.
		return corrupt("header names package format version %d but carries no checksum, as no such header was ever written: the header is damaged", *probe.Format)
	default:
		return unsupported("package format version %d is not supported by this build (it reads versions 1 and 2); use a newer edmsdr", *probe.Format)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r.header); err != nil {
		return corrupt("header: %v", err)
	}
	r.layout = map[int]TableLayout{}
	names := map[string]bool{}
	for _, t := range r.header.Tables {
		if t.Index < 0 || t.Index > maxTableIndex {
			return corrupt("header lists table index %d, outside 0..%d (entry names have six digits)", t.Index, maxTableIndex)
		}
		if _, dup := r.layout[t.Index]; dup {
			return corrupt("header lists table index %d twice", t.Index)
		}
		if t.Table == "" || names[t.Table] {
			return corrupt("header lists table %q twice or empty", t.Table)
		}
		if len(t.Columns) == 0 {
			return corrupt("header: table %s has no columns", t.Table)
		}
		cols := map[string]bool{}
		for _, c := range t.Columns {
			if c == "" || cols[c] {
				return corrupt("header: table %s lists column %q twice or empty", t.Table, c)
			}
			cols[c] = true
		}
		names[t.Table] = true
		r.layout[t.Index] = t
		r.tableOrder = append(r.tableOrder, t.Index)
	}
	sort.Ints(r.tableOrder)
	return nil
}

// Next returns the next data entry. After the last one it reads and verifies the manifest and
// returns io.EOF when the package is whole and correct, or a *finding.Refused listing every problem.
func (r *Reader) Next() (*Entry, error) {
	if r.finished {
		return nil, io.EOF
	}
	if r.cur != nil {
		if err := r.cur.drain(); err != nil {
			return nil, err
		}
		r.cur = nil
	}
	h, err := r.nextHeader()
	if err != nil {
		return nil, err
	}
	if h.Name == ManifestName {
		if err := r.readManifest(h); err != nil {
			return nil, err
		}
		r.finished = true
		if len(r.findings) > 0 {
			return nil, &finding.Refused{Op: "verify package", Findings: r.findings}
		}
		return nil, io.EOF
	}
	ti, ci, ref, ok := parseEntryName(h.Name)
	large := false
	if !ok && r.header.Format == FormatLargeValues {
		ti, ci, large = parseLargeName(h.Name)
		ok = large
	}
	if !ok {
		return nil, corrupt("unexpected entry %q: not a name this format uses (refused)", h.Name)
	}
	lay, ok := r.layout[ti]
	if !ok {
		return nil, corrupt("entry %s belongs to table index %d, which the header does not list", h.Name, ti)
	}
	if _, dup := r.seen[h.Name]; dup {
		return nil, corrupt("entry %s appears twice", h.Name)
	}
	// Entries come by table index, a table's data before its reference rows before its large
	// values, chunks from 0 up.
	key := 3 * ti
	switch {
	case ref:
		key++
	case large:
		key += 2
	}
	switch {
	case key < r.lastTable, key == r.lastTable && ci != r.lastChunk+1, key > r.lastTable && ci != 0:
		return nil, corrupt("entry %s is out of order (entries removed, duplicated or reordered)", h.Name)
	}
	r.lastTable, r.lastChunk = key, ci
	if h.Size == 0 {
		return nil, corrupt("entry %s is empty (the writer never writes an empty entry)", h.Name)
	}
	if h.Size > r.limits.MaxEntryBytes {
		return nil, corrupt("entry %s is %d bytes, more than the %d allowed", h.Name, h.Size, r.limits.MaxEntryBytes)
	}
	r.total += h.Size
	if r.total > r.limits.MaxTotalBytes {
		return nil, corrupt("package holds more than the %d bytes allowed", r.limits.MaxTotalBytes)
	}
	r.cur = &Entry{Name: h.Name, Layout: lay, Chunk: ci, Ref: ref, Size: h.Size, SHA256: h.PAXRecords[EntrySHA256Record], r: r, h: sha256.New(), fields: 1, line: 1}
	if large {
		row, err := strconv.ParseInt(h.PAXRecords[LargeRowRecord], 10, 64)
		col := h.PAXRecords[LargeColumnRecord]
		if err != nil || row < 0 || !slices.Contains(lay.Columns, col) || r.cur.SHA256 == "" {
			return nil, corrupt("large value entry %s names no valid row, column of %s and checksum", h.Name, lay.Table)
		}
		r.cur.Large, r.cur.Row, r.cur.Column = true, row, col
		r.largeAt[h.Name] = LargeValue{Name: h.Name, Row: row, Column: col}
	}
	return r.cur, nil
}

func (r *Reader) addFinding(f finding.Finding) {
	f.Severity = finding.Error
	r.findings = append(r.findings, f)
}

func (r *Reader) readManifest(h *tar.Header) error {
	if r.cur != nil {
		if err := r.cur.drain(); err != nil {
			return err
		}
	}
	data, err := r.readSmall(h, r.limits.MaxManifestBytes)
	if err != nil {
		return err
	}
	// A manifest lists what the package holds: its chunks, and a schema, plan and digest in
	// proportion to the header's tables and columns. Count its JSON values before decoding it,
	// so that a small package with a huge list of empty values cannot cost gigabytes.
	if err := boundValues(data, r.manifestValues(), "manifest"); err != nil {
		return err
	}
	m := &Manifest{}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(m); err != nil {
		return corrupt("manifest: %v", err)
	}
	r.manifestBytes = data
	// Nothing may follow the manifest but its signature: not another entry, not trailing bytes.
	end := (r.plain.n+511)/512*512 + 1024 // the manifest's padding, then the two end-of-archive blocks
	next, err := r.tr.Next()
	if err == nil && next.Name == SignatureName && next.Typeflag == tar.TypeReg {
		sig, err := r.readSmall(next, 64<<10)
		if err != nil {
			return err
		}
		r.signature = sig
		end = (r.plain.n+511)/512*512 + 1024
		if _, err := r.tr.Next(); !errors.Is(err, io.EOF) {
			return corrupt("data after the manifest signature (appended or reordered entries)")
		}
	} else if !errors.Is(err, io.EOF) {
		return corrupt("data after the manifest (appended or reordered entries)")
	}
	// archive/tar also reports io.EOF when the stream stops short of the end marker.
	if r.plain.n != end {
		return corrupt("archive ends without its end-of-archive marker (truncated)")
	}
	if n, err := io.Copy(io.Discard, io.LimitReader(r.zr, 1<<20)); err != nil {
		return corrupt("damaged data after the archive end: %v", err)
	} else if n > 0 {
		return corrupt("%d bytes of trailing data after the archive end", n)
	}
	r.manifest = m
	r.verifyManifest(m)
	return nil
}

// maxTableIndex is the largest table index an entry name can carry.
const maxTableIndex = 999999

// maxHeaderValues bounds the JSON values of a header: a million columns.
const maxHeaderValues = 2 << 20

// manifestValues is the most JSON values a manifest may hold given what preceded it: a chunk is
// 9 values; a table and each of its columns take at most a few hundred between the schema
// snapshot (columns, keys, constraints), the key plan and the digest.
func (r *Reader) manifestValues() int64 {
	var columns int64
	for _, t := range r.header.Tables {
		columns += int64(len(t.Columns))
	}
	return 1<<16 + 16*int64(len(r.seen)) + 512*(int64(len(r.header.Tables))+columns)
}

// boundValues refuses data, a JSON document, when it holds more than max values (scalars, arrays
// and objects, keys included). It reads tokens without keeping them.
func boundValues(data []byte, max int64, what string) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	var n int64
	for {
		_, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return corrupt("%s is not valid JSON: %v", what, err)
		}
		if n++; n > max {
			return corrupt("%s holds more than %d JSON values, more than the package's tables, columns and entries can need", what, max)
		}
	}
}

func (r *Reader) verifyManifest(m *Manifest) {
	bad := func(table, format string, args ...any) {
		r.addFinding(finding.Finding{Kind: finding.Corrupt, Table: table, Message: fmt.Sprintf(format, args...)})
	}
	if m.Format != r.header.Format {
		bad("", "manifest says format %d, header says %d", m.Format, r.header.Format)
	}
	if m.HeaderSHA256 != r.headerSHA {
		bad("", "header checksum mismatch")
	}
	if m.Schema == nil {
		bad("", "manifest has no schema snapshot")
	} else {
		m.Schema.Index()
		for _, f := range m.Schema.Validate() {
			f.Message = "manifest schema: " + f.Message
			r.addFinding(f)
		}
	}
	if m.Plan == nil {
		bad("", "manifest has no key plan")
	}
	listed := map[int]bool{}
	for _, te := range m.Tables {
		lay, ok := r.layout[te.Index]
		if !ok || lay.Table != te.Table {
			bad(te.Table, "manifest lists table %s at index %d, which the header does not", te.Table, te.Index)
			continue
		}
		if listed[te.Index] {
			bad(te.Table, "manifest lists table %s twice", te.Table)
		}
		listed[te.Index] = true
		var rows, size int64
		for i, c := range te.Chunks {
			if c.Name != DataName(te.Index, i) {
				bad(te.Table, "manifest lists entry %s out of order", c.Name)
			}
			rows += c.Rows
			size += c.Bytes
			got, ok := r.seen[c.Name]
			switch {
			case !ok:
				r.addFinding(finding.Finding{Kind: finding.Corrupt, Table: te.Table, Count: c.Rows, Message: fmt.Sprintf("entry %s is missing from the package", c.Name)})
			case got.SHA256 != c.SHA256:
				bad(te.Table, "entry %s: checksum mismatch", c.Name)
			case got.Bytes != c.Bytes:
				bad(te.Table, "entry %s: %d bytes, manifest says %d", c.Name, got.Bytes, c.Bytes)
			case got.Rows != c.Rows:
				bad(te.Table, "entry %s: %d rows, manifest says %d", c.Name, got.Rows, c.Rows)
			}
		}
		var refRows int64
		for i, c := range te.Refs {
			if c.Name != RefName(te.Index, i) {
				bad(te.Table, "manifest lists entry %s out of order", c.Name)
			}
			refRows += c.Rows
			got, ok := r.seen[c.Name]
			switch {
			case !ok:
				r.addFinding(finding.Finding{Kind: finding.Corrupt, Table: te.Table, Count: c.Rows, Message: fmt.Sprintf("entry %s is missing from the package", c.Name)})
			case got.SHA256 != c.SHA256 || got.Bytes != c.Bytes || got.Rows != c.Rows:
				bad(te.Table, "entry %s: checksum, size or row count mismatch", c.Name)
			}
		}
		if len(te.Large) > 0 && r.header.Format != FormatLargeValues {
			bad(te.Table, "table %s: manifest lists large values in a package of format %d", te.Table, r.header.Format)
		}
		type cell struct {
			row int64
			col string
		}
		cells := map[cell]bool{}
		for i, lv := range te.Large {
			if lv.Name != LargeName(te.Index, i) {
				bad(te.Table, "manifest lists entry %s out of order", lv.Name)
			}
			got, ok := r.seen[lv.Name]
			at := r.largeAt[lv.Name]
			switch {
			case !ok:
				bad(te.Table, "entry %s is missing from the package", lv.Name)
			case got.SHA256 != lv.SHA256 || got.Bytes != lv.Bytes:
				bad(te.Table, "entry %s: checksum or size mismatch", lv.Name)
			case at.Row != lv.Row || at.Column != lv.Column:
				bad(te.Table, "entry %s: row %d, column %s; manifest says row %d, column %s", lv.Name, at.Row, at.Column, lv.Row, lv.Column)
			case lv.Row >= te.Rows || !slices.Contains(lay.Columns, lv.Column) || cells[cell{lv.Row, lv.Column}]:
				bad(te.Table, "entry %s: row %d, column %s is not a cell of the table's data, or has two large values", lv.Name, lv.Row, lv.Column)
			}
			cells[cell{lv.Row, lv.Column}] = true
		}
		if refRows != te.RefRows {
			bad(te.Table, "table %s: manifest lists %d reference rows, its entries hold %d", te.Table, te.RefRows, refRows)
		}
		if rows != te.Rows || size != te.Bytes {
			bad(te.Table, "table %s: manifest totals (%d rows, %d bytes) disagree with its entries (%d rows, %d bytes)", te.Table, te.Rows, te.Bytes, rows, size)
		}
		if d, ok := m.Digest.Tables[te.Table]; !ok {
			bad(te.Table, "manifest digest lacks table %s", te.Table)
		} else if d.Rows != te.Rows {
			bad(te.Table, "table %s: digest covers %d rows, manifest lists %d", te.Table, d.Rows, te.Rows)
		}
		if m.Schema != nil {
			st := m.Schema.Table(te.Table)
			if st == nil {
				bad(te.Table, "table %s is missing from the schema snapshot", te.Table)
			} else if fmt.Sprint(st.DataColumns()) != fmt.Sprint(lay.Columns) {
				bad(te.Table, "table %s: header columns %v differ from the schema snapshot %v", te.Table, lay.Columns, st.DataColumns())
			}
		}
	}
	for _, idx := range r.tableOrder {
		if !listed[idx] {
			bad(r.layout[idx].Table, "table %s is in the header but not in the manifest", r.layout[idx].Table)
		}
	}
	named := make(map[string]bool, len(r.seen))
	for _, te := range m.Tables {
		for _, c := range te.Chunks {
			named[c.Name] = true
		}
		for _, c := range te.Refs {
			named[c.Name] = true
		}
		for _, c := range te.Large {
			named[c.Name] = true
		}
	}
	var unlisted []string
	for name := range r.seen {
		if !named[name] {
			unlisted = append(unlisted, name)
		}
	}
	sort.Strings(unlisted)
	for _, name := range unlisted {
		bad("", "entry %s is not listed in the manifest", name)
	}
	if len(m.Digest.Tables) != len(r.layout) {
		bad("", "manifest digest covers %d tables, the header lists %d", len(m.Digest.Tables), len(r.layout))
	}
	// The total hashes every per-table digest: a table taken out of the package (entries, header,
	// manifest and digest alike) or an edited total shows here.
	if total := NewDigest(m.Digest.Tables).Total; m.Digest.Total != total {
		bad("", "manifest digest total does not match its per-table digests (a table removed, or the digest edited)")
	}
}

// Entry is one data entry being read: COPY text rows of Layout.Table. Reading it verifies the row
// shape (every row has exactly one field per column) and computes its checksum.
type Entry struct {
	Name   string
	Layout TableLayout
	Chunk  int
	// Ref is true for reference rows (see TableEntry.Refs).
	Ref bool
	// Large is true for a large value entry (see TableEntry.Large): raw bytes, the value of
	// Column in data row Row (0-based) of the table, where the data entries hold NULL.
	Large  bool
	Row    int64
	Column string
	Size   int64
	// SHA256 is the checksum the entry's header announces ("" in packages written before
	// entries carried one): reading the entry to its end verifies it, so a caller that reads the
	// whole entry before acting on it acts only on verified bytes.
	SHA256 string

	r      *Reader
	h      hash.Hash
	n      int64
	rows   int64
	fields int
	line   int64
	err    error
	shape  bool // err is a row-shape error: the stream itself is intact
	escape bool // the last byte scanned was a backslash that escapes the next one
	done   bool
}

// Read implements io.Reader.
func (e *Entry) Read(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	if e.done {
		return 0, io.EOF
	}
	n, err := e.r.tr.Read(p)
	if n > 0 {
		e.h.Write(p[:n])
		e.n += int64(n)
		if e.Large {
			// Raw bytes: no rows to check.
		} else if verr := e.scan(p[:n]); verr != nil {
			e.err = verr
			return 0, verr
		}
	}
	if errors.Is(err, io.EOF) {
		if ferr := e.finish(); ferr != nil {
			e.err = ferr
			return n, ferr
		}
		return n, io.EOF
	}
	if err != nil {
		e.err = e.r.streamErr("entry %s unreadable: %v", e.Name, err)
		return n, e.err
	}
	return n, nil
}

func (e *Entry) scan(p []byte) error {
	want := len(e.Layout.Columns)
	for len(p) > 0 {
		if e.escape {
			// The byte after a backslash is data, whatever it is (the server reads even a
			// newline there as part of the row), except '.': "\." ends the data for the
			// server, which would drop the rest of the row where this reader kept it.
			e.escape = false
			if p[0] == '.' {
				return e.shapeError(fmt.Sprintf("row %d holds \\. (COPY's end-of-data marker), which a backup never writes", e.line))
			}
			p = p[1:]
			continue
		}
		i := bytes.IndexAny(p, "\t\n\\")
		if i < 0 {
			return nil
		}
		switch p[i] {
		case '\\':
			e.escape = true
		case '\t':
			e.fields++
			if e.fields > want {
				return e.shapeError(fmt.Sprintf("row %d has more than %d fields, table %s has %d columns", e.line, want, e.Layout.Table, want))
			}
		default:
			if e.fields != want {
				return e.shapeError(fmt.Sprintf("row %d has %d fields, table %s has %d columns", e.line, e.fields, e.Layout.Table, want))
			}
			e.rows++
			e.line++
			e.fields = 1
		}
		p = p[i+1:]
	}
	return nil
}

func (e *Entry) shapeError(msg string) error {
	f := finding.Finding{Kind: finding.Corrupt, Severity: finding.Error, Table: e.Layout.Table, Message: fmt.Sprintf("entry %s: %s", e.Name, msg)}
	e.r.addFinding(f)
	e.shape = true
	return &finding.Refused{Op: "read package", Findings: finding.List{f}}
}

func (e *Entry) finish() error {
	if e.done {
		return nil
	}
	e.done = true
	if e.n != e.Size {
		return corrupt("entry %s is truncated", e.Name)
	}
	if e.n > 0 && (e.fields != 1 || e.escape) {
		return e.shapeError("last row is not terminated")
	}
	sum := hex.EncodeToString(e.h.Sum(nil))
	e.r.seen[e.Name] = Chunk{Name: e.Name, Rows: e.rows, Bytes: e.n, SHA256: sum}
	if e.SHA256 != "" && e.SHA256 != sum {
		f := finding.Finding{Kind: finding.Corrupt, Severity: finding.Error, Table: e.Layout.Table, Message: fmt.Sprintf("entry %s: checksum mismatch", e.Name)}
		return &finding.Refused{Op: "read package", Findings: finding.List{f}}
	}
	return nil
}

// Rows is the number of rows read so far.
func (e *Entry) Rows() int64 { return e.rows }

func (e *Entry) drain() error {
	var buf []byte // allocated only when something is left to read
	for !e.done {
		if e.err != nil {
			if !e.shape {
				return e.err
			}
			// The entry failed its shape check but the stream is intact: skip the rest so the
			// reader stays in step; the finding stands.
			if _, err := io.Copy(io.Discard, e.r.tr); err != nil {
				return e.r.streamErr("entry %s unreadable: %v", e.Name, err)
			}
			e.done = true
			e.r.seen[e.Name] = Chunk{Name: e.Name, Rows: -1, Bytes: -1, SHA256: "unverifiable"}
			return nil
		}
		if buf == nil {
			buf = make([]byte, 256<<10)
		}
		if _, err := e.Read(buf); errors.Is(err, io.EOF) {
			return nil
		}
	}
	return nil
}

// Verify reads a whole package from r and returns its manifest, or a *finding.Refused that lists
// every problem found (checksums, counts, sizes, names, order, row shapes, format).
func Verify(r io.Reader, limits Limits) (*Manifest, error) {
	return VerifyContext(context.Background(), r, limits)
}

// VerifyContext is Verify stopping, with ctx's error, once ctx is done.
func VerifyContext(ctx context.Context, r io.Reader, limits Limits) (*Manifest, error) {
	rd, err := NewReaderContext(ctx, r, limits)
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	return rd.Verify()
}

// Verify reads every remaining entry and the manifest, verifying them as Verify does, and returns
// the manifest. Afterwards ManifestBytes and Signature hold what a signature check needs.
func (r *Reader) Verify() (*Manifest, error) {
	for {
		e, err := r.Next()
		if errors.Is(err, io.EOF) {
			return r.manifest, nil
		}
		if err != nil {
			var fe *finding.Refused
			if errors.As(err, &fe) {
				return r.manifest, &finding.Refused{Op: "verify package", Findings: dedupe(append(r.findings, fe.Findings...))}
			}
			return r.manifest, err
		}
		if _, err := io.Copy(io.Discard, e); err != nil && !e.shape {
			if r.plain.ctx.Err() != nil && errors.Is(err, r.plain.ctx.Err()) {
				return nil, err
			}
			return nil, &finding.Refused{Op: "verify package", Findings: dedupe(append(r.findings, finding.FindingsOf(err)...))}
		}
	}
}

func dedupe(l finding.List) finding.List {
	seen := map[string]bool{}
	var out finding.List
	for _, f := range l {
		k := f.String()
		if !seen[k] {
			seen[k] = true
			out = append(out, f)
		}
	}
	return out
}
