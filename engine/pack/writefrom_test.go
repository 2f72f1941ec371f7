package pack

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// TestWriteFromLongRow: rows copied from a file (a spooled table) are cut into entries at row
// boundaries like Write cuts them; a row longer than a chunk becomes an entry of its own and is
// copied in pieces, never held whole; the package reads back byte for byte and verifies.
func TestWriteFromLongRow(t *testing.T) {
	const chunk = 64 << 10
	value := make([]byte, 8<<20)
	if _, err := rand.Read(value); err != nil {
		t.Fatal(err)
	}
	var text bytes.Buffer
	for i := range 300 {
		fmt.Fprintf(&text, "%d\t\\\\x%x\n", i, i*i)
	}
	text.Write(byteaRow(300, value))
	text.Write(byteaRow(301, value[:chunk]))
	for i := 302; i < 600; i++ {
		fmt.Fprintf(&text, "%d\t\\N\n", i)
	}
	dir := t.TempDir()
	src, err := os.Create(filepath.Join(dir, "rows.copy"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if _, err := src.Write(text.Bytes()); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "from.edmsdr")
	w, err := Create(path, WriterOptions{ChunkBytes: chunk})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WriteHeader(Header{Tables: []TableLayout{{Index: 0, Table: "public.scan", Columns: []string{"id", "data"}}}}); err != nil {
		t.Fatal(err)
	}
	ts := w.Table(0, "public.scan")
	if _, err := ts.Write([]byte("-1\tfirst\n")); err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if err := ts.WriteFrom(context.Background(), src, int64(text.Len())); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	te, err := ts.Close()
	if err != nil {
		t.Fatal(err)
	}
	long := int64(len(byteaRow(300, value)))
	// Holding the row would take 16 MiB at least (Write gathers it, growing its buffer); what
	// WriteFrom allocates is the compressor's state and its piece buffer.
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc >= uint64(long) {
		t.Errorf("WriteFrom of a %d-byte row allocated %d bytes", long, alloc)
	}
	var seen bool
	for _, c := range te.Chunks {
		if c.Bytes > chunk && c.Rows != 1 {
			t.Errorf("entry %s: %d bytes, %d rows: only a row longer than a chunk may exceed one", c.Name, c.Bytes, c.Rows)
		}
		seen = seen || c.Bytes == long
	}
	if !seen {
		t.Error("the long row is not an entry of its own")
	}
	s := testSchema([]testTable{{qname: "public.scan", cols: []string{"id", "data"}}})
	if err := w.Close(&Manifest{Schema: s, Plan: planFor(t, s), Digest: summary(map[string]int64{"public.scan": 601})}); err != nil {
		t.Fatal(err)
	}
	pkg, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := readAll(t, pkg, Limits{})
	if want := "-1\tfirst\n" + text.String(); got["public.scan"] != want {
		t.Errorf("read back %d bytes, want %d (equal prefix %v)", len(got["public.scan"]), len(want), len(got["public.scan"]) > 16 && want[:16] == got["public.scan"][:16])
	}

	// A file ending inside a row is refused.
	w2, err := Create(filepath.Join(dir, "cut.edmsdr"), WriterOptions{ChunkBytes: chunk})
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Abort()
	if err := w2.WriteHeader(Header{Tables: []TableLayout{{Index: 0, Table: "public.scan", Columns: []string{"id", "data"}}}}); err != nil {
		t.Fatal(err)
	}
	if err := w2.Table(0, "public.scan").WriteFrom(context.Background(), src, int64(text.Len())-1); err == nil {
		t.Error("a file ending inside a row was written")
	}
}
