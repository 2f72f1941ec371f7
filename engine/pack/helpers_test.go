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
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/edmsdr/edmsdr/engine/finding"
	"github.com/edmsdr/edmsdr/engine/keys"
	"github.com/edmsdr/edmsdr/engine/schema"
)

// testTable is one table of a test package: its COPY columns and rows (COPY text, no newline).
type testTable struct {
	qname string
	cols  []string
	rows  []string
}

// sampleTables covers the shapes a package must carry: a small table with NULLs, an empty table,
// a table far larger than the test chunk size with escaped tabs, newlines and backslashes, a
// table in another schema with one row larger than a chunk, and a one-column table.
func sampleTables() []testTable {
	docs := testTable{qname: "public.documents_document", cols: []string{"id", "label", "body"}}
	for i := 1; i <= 300; i++ {
		// COPY text escapes a tab as \t, a newline as \n and a backslash as \\.
		docs.rows = append(docs.rows, fmt.Sprintf(`%d	doc\tnumber\n%d	Grüße «%d» C:\\dir\\file \N`, i, i, i*7))
	}
	return []testTable{
		{qname: "public.auth_user", cols: []string{"id", "username", "email"}, rows: []string{
			"1\tadmin\tadmin@example.com", "2\tbob\t\\N", "3\tzoë\t",
		}},
		{qname: "public.empty", cols: []string{"id", "x"}},
		docs,
		{qname: "audit.entry", cols: []string{"id", "payload"}, rows: []string{
			"1\tsmall",
			"2\t" + strings.Repeat(`big\\row\t`, 700),
			"3\tafter",
		}},
		{qname: "public.one_col", cols: []string{"v"}, rows: []string{"", "x", ""}},
	}
}

// testSchema returns the schema snapshot for tables: every column text, except id (an integer
// primary key).
func testSchema(tables []testTable) *schema.Schema {
	var out []*schema.Table
	for _, tt := range tables {
		sc, name, _ := strings.Cut(tt.qname, ".")
		t := &schema.Table{Schema: sc, Name: name}
		for _, c := range tt.cols {
			typ := "text"
			if c == "id" {
				typ = "integer"
				t.PrimaryKey = []string{"id"}
			}
			t.Columns = append(t.Columns, schema.Column{Name: c, Type: typ, NotNull: c == "id"})
		}
		out = append(out, t)
	}
	return schema.New(out)
}

var testCreated = time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)

// writePackage writes tables to path with opts, feeding every table's COPY text in pieces of
// random size (seeded) so that chunk cuts fall at arbitrary write boundaries.
func writePackage(tb testing.TB, path string, tables []testTable, opts WriterOptions) *Manifest {
	tb.Helper()
	w, err := Create(path, opts)
	if err != nil {
		tb.Fatal(err)
	}
	var layouts []TableLayout
	for i, tt := range tables {
		layouts = append(layouts, TableLayout{Index: i, Table: tt.qname, Columns: tt.cols})
	}
	if err := w.WriteHeader(Header{Tool: "edmsdr-test", Tables: layouts}); err != nil {
		tb.Fatal(err)
	}
	rng := rand.New(rand.NewSource(42))
	digests := map[string]TableDigest{}
	for i, tt := range tables {
		ts := w.Table(i, tt.qname)
		var text []byte
		for _, r := range tt.rows {
			text = append(text, r...)
			text = append(text, '\n')
		}
		for len(text) > 0 {
			n := min(len(text), 1+rng.Intn(97))
			if _, err := ts.Write(text[:n]); err != nil {
				tb.Fatal(err)
			}
			text = text[n:]
		}
		te, err := ts.Close()
		if err != nil {
			tb.Fatal(err)
		}
		if te.Rows != int64(len(tt.rows)) {
			tb.Fatalf("table %s: stream counted %d rows, wrote %d", tt.qname, te.Rows, len(tt.rows))
		}
		digests[tt.qname] = TableDigest{Rows: int64(len(tt.rows)), Sum1: fmt.Sprint(11 * (i + 1)), Sum2: fmt.Sprint(13 * (i + 1))}
	}
	s := testSchema(tables)
	plan, err := keys.Build(s, nil)
	if err != nil {
		tb.Fatal(err)
	}
	m := &Manifest{Tool: "edmsdr-test", CreatedAt: testCreated, ServerVersion: 150007, Database: "edms", Schema: s, Plan: plan, Digest: NewDigest(digests)}
	if err := w.Close(m); err != nil {
		tb.Fatal(err)
	}
	return m
}

// samplePackage returns the bytes of a valid package of sampleTables cut in chunks of chunkBytes.
func samplePackage(tb testing.TB, chunkBytes int) []byte {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "sample.edmsdr")
	writePackage(tb, path, sampleTables(), WriterOptions{ChunkBytes: chunkBytes})
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

// rawEntry is one tar entry of a hand-built package.
type rawEntry struct {
	hdr  tar.Header
	data []byte
}

// unpack decompresses and splits a package into its tar entries.
func unpack(tb testing.TB, pkg []byte) []rawEntry {
	tb.Helper()
	zr, err := zstd.NewReader(bytes.NewReader(pkg))
	if err != nil {
		tb.Fatal(err)
	}
	defer zr.Close()
	tr := tar.NewReader(zr)
	var out []rawEntry
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			tb.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, rawEntry{hdr: *h, data: data})
	}
}

// tarBytes writes entries as an uncompressed tar stream (with its end-of-archive blocks).
func tarBytes(tb testing.TB, entries []rawEntry) []byte {
	tb.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := e.hdr
		if h.Typeflag == tar.TypeReg || h.Typeflag == 0 {
			h.Size = int64(len(e.data))
		}
		if err := tw.WriteHeader(&h); err != nil {
			tb.Fatal(err)
		}
		if len(e.data) > 0 {
			if _, err := tw.Write(e.data); err != nil {
				tb.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// compress zstd-compresses data as one frame.
func compress(tb testing.TB, data []byte) []byte {
	tb.Helper()
	encoderOnce.Do(func() { encoder, encoderErr = zstd.NewWriter(nil) })
	if encoderErr != nil {
		tb.Fatal(encoderErr)
	}
	return encoder.EncodeAll(data, nil)
}

var (
	encoderOnce sync.Once
	encoder     *zstd.Encoder
	encoderErr  error
)

// repack builds a package from entries.
func repack(tb testing.TB, entries []rawEntry) []byte { return compress(tb, tarBytes(tb, entries)) }

// reg returns a regular-file entry.
func reg(name string, data []byte) rawEntry {
	return rawEntry{hdr: tar.Header{Name: name, Mode: 0o600, Typeflag: tar.TypeReg, ModTime: time.Unix(0, 0)}, data: data}
}

// find returns the index of the entry called name.
func find(tb testing.TB, entries []rawEntry, name string) int {
	tb.Helper()
	for i, e := range entries {
		if e.hdr.Name == name {
			return i
		}
	}
	tb.Fatalf("no entry %s", name)
	return -1
}

// editManifest decodes the manifest entry, lets edit change it and encodes it back.
func editManifest(tb testing.TB, entries []rawEntry, edit func(m *Manifest)) {
	tb.Helper()
	i := find(tb, entries, ManifestName)
	m := &Manifest{}
	if err := json.Unmarshal(entries[i].data, m); err != nil {
		tb.Fatal(err)
	}
	edit(m)
	data, err := json.Marshal(m)
	if err != nil {
		tb.Fatal(err)
	}
	entries[i].data = data
}

// editHeader decodes the header entry, lets edit change it and encodes it back.
func editHeader(tb testing.TB, entries []rawEntry, edit func(h map[string]any)) {
	tb.Helper()
	i := find(tb, entries, HeaderName)
	h := map[string]any{}
	if err := json.Unmarshal(entries[i].data, &h); err != nil {
		tb.Fatal(err)
	}
	edit(h)
	data, err := json.Marshal(h)
	if err != nil {
		tb.Fatal(err)
	}
	entries[i].data = data
}

func sha(data []byte) string {
	s := sha256.Sum256(data)
	return hex.EncodeToString(s[:])
}

// reseal recomputes every checksum, size and count the manifest holds from the entries as they
// are, so that only the damage a test made on purpose remains.
func reseal(tb testing.TB, entries []rawEntry) {
	tb.Helper()
	byName := map[string][]byte{}
	for _, e := range entries {
		byName[e.hdr.Name] = e.data
	}
	if i := find(tb, entries, HeaderName); entries[i].hdr.PAXRecords[EntrySHA256Record] != "" {
		entries[i].hdr.PAXRecords = map[string]string{EntrySHA256Record: sha(byName[HeaderName])}
	}
	editManifest(tb, entries, func(m *Manifest) {
		m.HeaderSHA256 = sha(byName[HeaderName])
		for ti := range m.Tables {
			te := &m.Tables[ti]
			te.Rows, te.Bytes = 0, 0
			for ci := range te.Chunks {
				c := &te.Chunks[ci]
				data := byName[c.Name]
				c.SHA256, c.Bytes, c.Rows = sha(data), int64(len(data)), int64(bytes.Count(data, []byte{'\n'}))
				te.Rows += c.Rows
				te.Bytes += c.Bytes
			}
			d := m.Digest.Tables[te.Table]
			d.Rows = te.Rows
			m.Digest.Tables[te.Table] = d
		}
	})
}

// wantRefused fails unless err is a *finding.Refused holding a finding of kind k (and only
// Corrupt or Unsupported findings).
func wantRefused(tb testing.TB, what string, m *Manifest, err error, k finding.Kind) {
	tb.Helper()
	if err == nil {
		tb.Errorf("%s: accepted (manifest %v), want a %s finding", what, m != nil, k)
		return
	}
	var fe *finding.Refused
	if !errors.As(err, &fe) {
		tb.Errorf("%s: error %T is not a *finding.Refused: %v", what, err, err)
		return
	}
	if !fe.Findings.Has(k) {
		tb.Errorf("%s: findings %v lack kind %s: %v", what, fe.Findings.Kinds(), k, err)
	}
	for _, f := range fe.Findings {
		if f.Kind != finding.Corrupt && f.Kind != finding.Unsupported {
			tb.Errorf("%s: unexpected finding kind %s: %v", what, f.Kind, f)
		}
		if f.Severity != finding.Error {
			tb.Errorf("%s: finding with severity %s: %v", what, f.Severity, f)
		}
	}
}

// readAll reads a package through a Reader and returns the COPY text of every table.
func readAll(tb testing.TB, pkg []byte, limits Limits) (map[string]string, *Reader) {
	tb.Helper()
	rd, err := NewReader(bytes.NewReader(pkg), limits)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(rd.Close)
	got := map[string]string{}
	for {
		e, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return got, rd
		}
		if err != nil {
			tb.Fatal(err)
		}
		data, err := io.ReadAll(e)
		if err != nil {
			tb.Fatalf("entry %s: %v", e.Name, err)
		}
		if int64(len(data)) != e.Size || e.Rows() != int64(bytes.Count(data, []byte{'\n'})) {
			tb.Fatalf("entry %s: %d bytes (header says %d), %d rows counted", e.Name, len(data), e.Size, e.Rows())
		}
		got[e.Layout.Table] += string(data)
	}
}

// copyText is the COPY text of a table's rows.
func copyText(rows []string) string {
	var b strings.Builder
	for _, r := range rows {
		b.WriteString(r)
		b.WriteByte('\n')
	}
	return b.String()
}

// planFor builds the inferred key plan of s.
func planFor(tb testing.TB, s *schema.Schema) *keys.Plan {
	tb.Helper()
	p, err := keys.Build(s, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// summary is a digest summary with the given row counts.
func summary(rows map[string]int64) Digest {
	tables := map[string]TableDigest{}
	for q, n := range rows {
		tables[q] = TableDigest{Rows: n, Sum1: "1", Sum2: "2"}
	}
	return NewDigest(tables)
}
