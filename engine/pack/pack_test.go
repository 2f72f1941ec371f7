package pack

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/edmsdr/edmsdr/engine/finding"
)

func TestDataName(t *testing.T) {
	if got := DataName(3, 12); got != "data/000003.000012.copy" {
		t.Errorf("DataName = %s", got)
	}
	for _, c := range []struct {
		name     string
		tbl, chk int
		ok       bool
	}{
		{"data/000003.000012.copy", 3, 12, true},
		{"data/999999.999999.copy", 999999, 999999, true},
		{"data/3.12.copy", 0, 0, false},
		{"data/0000003.000012.copy", 0, 0, false},
		{"./data/000003.000012.copy", 0, 0, false},
		{"/data/000003.000012.copy", 0, 0, false},
		{"../data/000003.000012.copy", 0, 0, false},
		{"data/000003.000012.copy/", 0, 0, false},
		{"data/000003.000012.copy.bak", 0, 0, false},
		{"data/-00003.000012.copy", 0, 0, false},
		{"", 0, 0, false},
	} {
		tbl, chk, ok := ParseDataName(c.name)
		if ok != c.ok || tbl != c.tbl || chk != c.chk {
			t.Errorf("ParseDataName(%q) = %d, %d, %v", c.name, tbl, chk, ok)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	for _, chunk := range []int{0, 1, 256, 4096} {
		tables := sampleTables()
		path := filepath.Join(t.TempDir(), "p.edmsdr")
		written := writePackage(t, path, tables, WriterOptions{ChunkBytes: chunk})
		pkg, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}

		m, err := Verify(bytes.NewReader(pkg), Limits{})
		if err != nil {
			t.Fatalf("chunk %d: Verify: %v", chunk, err)
		}
		if m.Format != FormatVersion || m.Tool != "edmsdr-test" || !m.CreatedAt.Equal(testCreated) || m.ServerVersion != 150007 || m.Database != "edms" {
			t.Errorf("chunk %d: manifest fields = %+v", chunk, m)
		}
		if m.HeaderSHA256 == "" || m.HeaderSHA256 != written.HeaderSHA256 {
			t.Errorf("chunk %d: header checksum %q, writer had %q", chunk, m.HeaderSHA256, written.HeaderSHA256)
		}
		if m.Schema == nil || len(m.Schema.Tables) != len(tables) || m.Schema.Table("audit.entry") == nil {
			t.Errorf("chunk %d: schema snapshot lost", chunk)
		}
		if m.Plan == nil || !m.Plan.Equal(written.Plan) {
			t.Errorf("chunk %d: key plan lost", chunk)
		}
		if m.Digest.Total == "" || m.Digest.Total != written.Digest.Total || len(m.Digest.Tables) != len(tables) {
			t.Errorf("chunk %d: digest %+v, wrote %+v", chunk, m.Digest, written.Digest)
		}
		if !reflect.DeepEqual(m.Tables, written.Tables) {
			t.Errorf("chunk %d: table entries differ:\n%+v\n%+v", chunk, m.Tables, written.Tables)
		}
		for i, tt := range tables {
			te := m.Tables[i]
			if te.Index != i || te.Table != tt.qname || te.Rows != int64(len(tt.rows)) || te.Bytes != int64(len(copyText(tt.rows))) {
				t.Errorf("chunk %d: table entry %+v for %s (%d rows)", chunk, te, tt.qname, len(tt.rows))
			}
			if len(tt.rows) == 0 && len(te.Chunks) != 0 {
				t.Errorf("chunk %d: empty table %s has %d entries", chunk, tt.qname, len(te.Chunks))
			}
		}

		got, rd := readAll(t, pkg, Limits{})
		for i, tt := range tables {
			if got[tt.qname] != copyText(tt.rows) {
				t.Errorf("chunk %d: table %s came back different", chunk, tt.qname)
			}
			lay := rd.Header().Tables[i]
			if lay.Index != i || lay.Table != tt.qname || !reflect.DeepEqual(lay.Columns, tt.cols) {
				t.Errorf("chunk %d: header layout %+v", chunk, lay)
			}
		}
		if rd.Header().Format != FormatVersion || rd.Header().Tool != "edmsdr-test" {
			t.Errorf("chunk %d: header %+v", chunk, rd.Header())
		}
		if rd.Manifest() == nil || rd.Manifest().Digest.Total != written.Digest.Total {
			t.Errorf("chunk %d: Reader.Manifest after EOF", chunk)
		}
		if e, err := rd.Next(); e != nil || !errors.Is(err, io.EOF) {
			t.Errorf("chunk %d: Next after the end = %v, %v", chunk, e, err)
		}
	}
}

func TestChunking(t *testing.T) {
	const chunk = 256
	tables := sampleTables()
	path := filepath.Join(t.TempDir(), "p.edmsdr")
	m := writePackage(t, path, tables, WriterOptions{ChunkBytes: chunk})
	docs := m.Tables[2]
	if docs.Table != "public.documents_document" || len(docs.Chunks) < 10 {
		t.Fatalf("documents: %d entries, want many with chunk size %d", len(docs.Chunks), chunk)
	}
	for i, c := range docs.Chunks {
		if c.Name != DataName(2, i) {
			t.Errorf("entry %d named %s", i, c.Name)
		}
		// A chunk is cut at the last row boundary once chunk bytes are buffered; a write is
		// at most 97 bytes and a row shorter than 100.
		if i < len(docs.Chunks)-1 && (c.Bytes < chunk-100 || c.Bytes > chunk+100) {
			t.Errorf("entry %s holds %d bytes, chunk size %d", c.Name, c.Bytes, chunk)
		}
		if c.Rows == 0 {
			t.Errorf("entry %s holds no row", c.Name)
		}
	}
	// The row larger than a chunk is whole in one entry, and nothing is split inside a row.
	pkg, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range unpack(t, pkg) {
		if _, _, ok := ParseDataName(e.hdr.Name); ok && (len(e.data) == 0 || e.data[len(e.data)-1] != '\n') {
			t.Errorf("entry %s does not end at a row boundary", e.hdr.Name)
		}
		if strings.Contains(string(e.data), "2\tbig") && !strings.Contains(string(e.data), tables[3].rows[1]+"\n") {
			t.Errorf("the big row was split")
		}
	}
}

func TestSingleHugeWrite(t *testing.T) {
	// One write holding many chunks' worth of rows, and one row far larger than a chunk.
	path := filepath.Join(t.TempDir(), "p.edmsdr")
	w, err := Create(path, WriterOptions{ChunkBytes: 64})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WriteHeader(Header{Tables: []TableLayout{{Index: 0, Table: "public.t", Columns: []string{"v"}}}}); err != nil {
		t.Fatal(err)
	}
	ts := w.Table(0, "public.t")
	text := strings.Repeat("row\n", 100) + strings.Repeat("x", 1000) + "\n"
	if _, err := ts.Write([]byte(text)); err != nil {
		t.Fatal(err)
	}
	te, err := ts.Close()
	if err != nil {
		t.Fatal(err)
	}
	if te.Rows != 101 || te.Bytes != int64(len(text)) {
		t.Errorf("entry %+v", te)
	}
	s := testSchema([]testTable{{qname: "public.t", cols: []string{"v"}}})
	m := &Manifest{Schema: s, Plan: planFor(t, s), Digest: summary(map[string]int64{"public.t": 101})}
	if err := w.Close(m); err != nil {
		t.Fatal(err)
	}
	pkg, _ := os.ReadFile(path)
	got, _ := readAll(t, pkg, Limits{})
	if got["public.t"] != text {
		t.Error("content differs")
	}
}

func TestTableStreamEndsInsideRow(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.edmsdr")
	w, err := Create(path, WriterOptions{ChunkBytes: 8})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	if err := w.WriteHeader(Header{Tables: []TableLayout{{Index: 0, Table: "public.t", Columns: []string{"a", "b"}}}}); err != nil {
		t.Fatal(err)
	}
	ts := w.Table(0, "public.t")
	if _, err := ts.Write([]byte("1\tone\n2\ttwo\n3\tthr")); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.Close(); err == nil || !strings.Contains(err.Error(), "public.t") {
		t.Errorf("a stream ending inside a row closed with %v", err)
	}
}

func TestWriterAtomicRename(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "p.edmsdr")
	w, err := Create(path, WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if w.Partial() != path+".partial" {
		t.Errorf("Partial = %s", w.Partial())
	}
	if err := w.WriteHeader(Header{Tables: []TableLayout{{Index: 0, Table: "public.t", Columns: []string{"v"}}}}); err != nil {
		t.Fatal(err)
	}
	ts := w.Table(0, "public.t")
	if _, err := ts.Write([]byte("a\nb\n")); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.Close(); err != nil {
		t.Fatal(err)
	}
	if names := dirNames(t, dir); !reflect.DeepEqual(names, []string{"p.edmsdr.partial"}) {
		t.Errorf("before Close the directory holds %v, want only the partial file", names)
	}
	s := testSchema([]testTable{{qname: "public.t", cols: []string{"v"}}})
	if err := w.Close(&Manifest{Schema: s, Plan: planFor(t, s), Digest: summary(map[string]int64{"public.t": 2})}); err != nil {
		t.Fatal(err)
	}
	if names := dirNames(t, dir); !reflect.DeepEqual(names, []string{"p.edmsdr"}) {
		t.Errorf("after Close the directory holds %v", names)
	}
	if err := w.Close(&Manifest{}); err == nil {
		t.Error("second Close succeeded")
	}
	w.Abort() // after Close: must not remove the package
	if names := dirNames(t, dir); !reflect.DeepEqual(names, []string{"p.edmsdr"}) {
		t.Errorf("Abort after Close changed the directory: %v", names)
	}
	pkg, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(bytes.NewReader(pkg), Limits{}); err != nil {
		t.Errorf("Verify: %v", err)
	}
	info, err := os.Stat(path)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("package mode %v, %v", info.Mode(), err)
	}
}

func TestWriterAbort(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "p.edmsdr")
	w, err := Create(path, WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WriteHeader(Header{}); err != nil {
		t.Fatal(err)
	}
	w.Abort()
	w.Abort() // twice is fine
	if names := dirNames(t, dir); len(names) != 0 {
		t.Errorf("after Abort the directory holds %v", names)
	}
	// The name is free again.
	w2, err := Create(path, WriterOptions{})
	if err != nil {
		t.Fatalf("Create after Abort: %v", err)
	}
	w2.Abort()
}

func TestCreateRefusesExisting(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "p.edmsdr")
	if err := os.WriteFile(path, []byte("precious"), 0o600); err != nil {
		t.Fatal(err)
	}
	if w, err := Create(path, WriterOptions{}); err == nil {
		w.Abort()
		t.Fatal("Create over an existing file succeeded")
	}
	if data, _ := os.ReadFile(path); string(data) != "precious" {
		t.Error("the existing file was touched")
	}
	if _, err := os.Stat(path + ".partial"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused Create left a partial file: %v", err)
	}
	// A dangling symlink counts as existing too.
	link := filepath.Join(dir, "link.edmsdr")
	if err := os.Symlink(filepath.Join(dir, "nowhere"), link); err != nil {
		t.Fatal(err)
	}
	if w, err := Create(link, WriterOptions{}); err == nil {
		w.Abort()
		t.Error("Create over a dangling symlink succeeded")
	}
	// Overwrite replaces it with a whole package.
	writePackage(t, path, sampleTables()[:2], WriterOptions{Overwrite: true})
	pkg, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(bytes.NewReader(pkg), Limits{}); err != nil {
		t.Errorf("overwritten package: %v", err)
	}
}

func TestCreatePartialLocking(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "p.edmsdr")
	w1, err := Create(path, WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w1.WriteHeader(Header{}); err != nil {
		t.Fatal(err)
	}
	before, err := os.Stat(w1.Partial())
	if err != nil {
		t.Fatal(err)
	}
	for _, overwrite := range []bool{false, true} {
		if w2, err := Create(path, WriterOptions{Overwrite: overwrite}); err == nil {
			w2.Abort()
			t.Fatalf("a second writer (overwrite %v) took a partial file held by a live writer", overwrite)
		}
	}
	after, err := os.Stat(w1.Partial())
	if err != nil || after.Size() < before.Size() {
		t.Errorf("the refused writer damaged the live partial file: %v", err)
	}
	w1.Abort()

	// A stale partial (no live writer holds it) is replaced, not appended to.
	if err := os.WriteFile(path+".partial", bytes.Repeat([]byte("stale garbage "), 10000), 0o600); err != nil {
		t.Fatal(err)
	}
	writePackage(t, path, sampleTables(), WriterOptions{})
	pkg, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(bytes.NewReader(pkg), Limits{}); err != nil {
		t.Errorf("package written over a stale partial: %v", err)
	}
	if bytes.Contains(pkg, []byte("stale garbage")) {
		t.Error("stale bytes survived in the package")
	}
}

// wrapCounter stands in for encryption: it counts bytes and records Close.
type wrapCounter struct {
	w      io.Writer
	n      int
	closed bool
}

func (c *wrapCounter) Write(p []byte) (int, error) { c.n += len(p); return c.w.Write(p) }
func (c *wrapCounter) Close() error                { c.closed = true; return nil }

func TestWriterWrap(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.edmsdr")
	var wc *wrapCounter
	opts := WriterOptions{Wrap: func(w io.Writer) (io.WriteCloser, error) {
		wc = &wrapCounter{w: w}
		return wc, nil
	}}
	writePackage(t, path, sampleTables(), opts)
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if wc == nil || !wc.closed || int64(wc.n) != info.Size() {
		t.Errorf("wrap: %+v, file %d bytes", wc, info.Size())
	}
	// A failing Wrap fails Create and leaves nothing behind.
	dir := t.TempDir()
	_, err = Create(filepath.Join(dir, "q.edmsdr"), WriterOptions{Wrap: func(io.Writer) (io.WriteCloser, error) { return nil, errors.New("no key") }})
	if err == nil || !strings.Contains(err.Error(), "no key") {
		t.Errorf("Create with a failing Wrap: %v", err)
	}
	if names := dirNames(t, dir); len(names) != 0 {
		t.Errorf("failed Create left %v", names)
	}
}

func TestReaderPartialEntryReads(t *testing.T) {
	// A caller that reads only part of each entry still gets every checksum verified.
	pkg := samplePackage(t, 256)
	rd, err := NewReader(bytes.NewReader(pkg), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	n := 0
	for {
		e, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		n++
		if n%2 == 0 {
			if _, err := e.Read(make([]byte, 3)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if rd.Manifest() == nil {
		t.Fatal("no manifest")
	}

	// The same with one entry's content changed (and nothing resealed): refused at the end.
	entries := unpack(t, pkg)
	i := find(t, entries, DataName(2, 3))
	entries[i].data = bytes.Replace(entries[i].data, []byte("doc"), []byte("DOC"), 1)
	rd, err = NewReader(bytes.NewReader(repack(t, entries)), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	for {
		_, err := rd.Next() // never reads the entries: Next drains them
		if errors.Is(err, io.EOF) {
			t.Fatal("a changed entry was accepted")
		}
		if err != nil {
			wantRefused(t, "changed entry, undrained", nil, err, finding.Corrupt)
			break
		}
	}
}

func TestSniff(t *testing.T) {
	pkg := samplePackage(t, 0)
	for _, c := range []struct {
		head []byte
		want string
	}{
		{pkg[:8], "package"},
		{[]byte("age-encryption.org/v1\n-> X25519"), "age"},
		{[]byte{0x1f, 0x8b, 0x08, 0}, "gzip"},
		{[]byte(`[{"model": "auth.user"`), "json"},
		{[]byte("\ufeff  \n {\"a\": 1}"), "json"},
		{[]byte("\r\n\t["), "json"},
		{[]byte("PK\x03\x04"), ""},
		{[]byte("   "), ""},
		{nil, ""},
		{[]byte{0x28, 0xb5, 0x2f}, ""},
	} {
		if got := Sniff(c.head); got != c.want {
			t.Errorf("Sniff(%q) = %q, want %q", c.head, got, c.want)
		}
	}
}

func dirNames(tb testing.TB, dir string) []string {
	tb.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		tb.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}
