package pack

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// TestEntriesCutWhereRowsReachTheChunk: entries written in the background (a chunk's rows fit in
// the buffer) and in the caller's call (a row longer than the buffer's slack) are cut at the
// same rows: an entry ends with the row at which the buffered rows reach the chunk size, or,
// for a row arriving in pieces, at the last row end before it.
func TestEntriesCutWhereRowsReachTheChunk(t *testing.T) {
	const chunk = 1000
	var rows []string
	for i := range 400 {
		n := (i * 37) % 90
		if i%97 == 50 {
			n = 70 << 10 // longer than the buffer's 64 KiB of slack: written in the call
		}
		rows = append(rows, fmt.Sprintf("%d\t%s\n", i, strings.Repeat("x", n)))
	}
	var want []int64 // rows per entry
	size, n := 0, int64(0)
	for _, r := range rows {
		size += len(r)
		n++
		if size >= chunk {
			want = append(want, n)
			size, n = 0, 0
		}
	}
	if n > 0 {
		want = append(want, n)
	}
	path := filepath.Join(t.TempDir(), "cut.edmsdr")
	w, err := Create(path, WriterOptions{ChunkBytes: chunk})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WriteHeader(Header{Tables: []TableLayout{{Index: 0, Table: "public.t", Columns: []string{"id", "v"}}}}); err != nil {
		t.Fatal(err)
	}
	ts := w.Table(0, "public.t")
	for _, r := range rows {
		if _, err := ts.Write([]byte(r)); err != nil {
			t.Fatal(err)
		}
	}
	te, err := ts.Close()
	if err != nil {
		t.Fatal(err)
	}
	var got []int64
	var bytes int64
	for _, c := range te.Chunks {
		got = append(got, c.Rows)
		bytes += c.Bytes
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("rows per entry:\n got %v\nwant %v", got, want)
	}
	var total int64
	for _, r := range rows {
		total += int64(len(r))
	}
	if te.Rows != int64(len(rows)) || bytes != total || te.Bytes != total {
		t.Fatalf("entry: %d rows, %d bytes (chunks %d); want %d rows, %d bytes", te.Rows, te.Bytes, bytes, len(rows), total)
	}
	if err := w.Close(&Manifest{}); err != nil {
		t.Fatal(err)
	}
}

// TestBackgroundEntryErrorEndsTheStream: an entry refused while being written in the background
// (the end-of-data marker) fails the stream at its next write or at its close, and the writer
// still aborts cleanly, leaving nothing behind.
func TestBackgroundEntryErrorEndsTheStream(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.edmsdr")
	w, err := Create(path, WriterOptions{ChunkBytes: 16})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WriteHeader(Header{Tables: []TableLayout{{Index: 0, Table: "public.t", Columns: []string{"v"}}}}); err != nil {
		t.Fatal(err)
	}
	ts := w.Table(0, "public.t")
	var werr error
	for _, r := range []string{"ok ok ok ok ok ok\n", "bad \\.\n", "more rows to come\n", "and more rows to come\n", "last\n"} {
		if _, werr = ts.Write([]byte(r)); werr != nil {
			break
		}
	}
	_, cerr := ts.Close()
	if cerr == nil {
		t.Fatalf("close after a refused entry: no error (write: %v)", werr)
	}
	w.Abort()
	if matches, _ := filepath.Glob(path + "*"); len(matches) > 0 {
		t.Fatalf("aborted package left %v", matches)
	}
}
