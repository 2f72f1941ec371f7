package pack

import (
	"archive/tar"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/edmsdr/edmsdr/engine/finding"
)

// largeRowPackage writes a package of one two-column table (id, data) whose rows are given as
// whole COPY lines, each in one write as pgconn's CopyTo writes them, and returns its path and
// the bytes the writer allocated while writing the rows.
func largeRowPackage(tb testing.TB, rows ...[]byte) (string, uint64) {
	tb.Helper()
	var n int64
	for _, r := range rows {
		n += int64(bytes.Count(r, []byte{'\n'}))
	}
	path := filepath.Join(tb.TempDir(), "large.edmsdr")
	w, err := Create(path, WriterOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	if err := w.WriteHeader(Header{Tables: []TableLayout{{Index: 0, Table: "public.scan", Columns: []string{"id", "data"}}}}); err != nil {
		tb.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	ts := w.Table(0, "public.scan")
	for _, r := range rows {
		if _, err := ts.Write(r); err != nil {
			tb.Fatal(err)
		}
	}
	if _, err := ts.Close(); err != nil {
		tb.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	s := testSchema([]testTable{{qname: "public.scan", cols: []string{"id", "data"}}})
	m := &Manifest{Schema: s, Plan: planFor(tb, s), Digest: summary(map[string]int64{"public.scan": n})}
	if err := w.Close(m); err != nil {
		tb.Fatal(err)
	}
	return path, after.TotalAlloc - before.TotalAlloc
}

// byteaRow is the COPY text line of row id holding value as bytea (hex output, backslash escaped).
func byteaRow(id int, value []byte) []byte {
	row := make([]byte, 0, 24+2*len(value))
	row = strconv.AppendInt(row, int64(id), 10)
	row = append(row, '\t', '\\', '\\', 'x')
	row = hex.AppendEncode(row, value)
	return append(row, '\n')
}

// verifyFile verifies the package at path with default limits and returns what it cost.
func verifyFile(tb testing.TB, path string) (*Manifest, time.Duration, uint64) {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	m, err := Verify(f, Limits{})
	took := time.Since(start)
	runtime.ReadMemStats(&after)
	if err != nil {
		tb.Fatalf("verify %s: %v", path, err)
	}
	return m, took, after.TotalAlloc - before.TotalAlloc
}

// TestLargeValue: a row holding a 64 MiB bytea (a scanned document, incompressible), written as
// pgconn hands it over, verifies with default limits (it was refused as a decompression bomb);
// the writer copies no row, and the reader's allocations do not grow with the value.
func TestLargeValue(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 128 MiB row")
	}
	const size = 64 << 20
	random := make([]byte, size)
	if _, err := rand.Read(random); err != nil {
		t.Fatal(err)
	}
	for name, value := range map[string][]byte{"random": random} {
		row := byteaRow(1, value)
		path, alloc := largeRowPackage(t, []byte("0\t\\\\x00\n"), row, []byte("2\t\\\\x\n"))
		// The zstd encoder's buffers, not a copy of the 128 MiB row.
		if alloc > 64<<20 {
			t.Errorf("%s: writing a %d-byte row allocated %d bytes", name, len(row), alloc)
		}
		m, took, ralloc := verifyFile(t, path)
		st, _ := os.Stat(path)
		t.Logf("%s: row %d bytes, package %d bytes, writer allocated %d, verify %v allocating %d", name, len(row), st.Size(), alloc, took, ralloc)
		if m.Tables[0].Rows != 3 {
			t.Errorf("%s: %d rows", name, m.Tables[0].Rows)
		}
		if ralloc > 64<<20 {
			t.Errorf("%s: verify allocated %d bytes", name, ralloc)
		}
	}
}

// TestWriterKeepsRatio: a package of nothing but zeros stays within half the reader's ratio at
// every prefix (the writer pads it), so that a reader with MaxRatio 1000 and one with exactly
// the writer's ratio accept it.
func TestWriterKeepsRatio(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 80 MiB of zeros")
	}
	zeros := bytes.Repeat([]byte("0\t\\\\x"+strings.Repeat("00", 1<<19)+"\n"), 80)
	path, _ := largeRowPackage(t, zeros)
	for _, l := range []Limits{{}, {MaxRatio: writeRatio}} {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Verify(f, l); err != nil {
			t.Errorf("max ratio %d: %v", l.MaxRatio, err)
		}
		f.Close()
	}
	st, _ := os.Stat(path)
	if ratio := int64(len(zeros)) / st.Size(); ratio > writeRatio || ratio < writeRatio/4 {
		t.Errorf("package of %d bytes for %d of rows: ratio %d", st.Size(), len(zeros), ratio)
	}
}

// TestDrainedBomb: an entry refused for its row shape at its first row is skipped to keep the
// reader in step; skipping it still decompresses, and the ratio check stops that as it stops
// reading (a 64 GiB entry from a few MiB).
func TestDrainedBomb(t *testing.T) {
	hdr := []byte(`{"format":1,"tool":"bomb","tables":[{"index":0,"table":"public.t","columns":["v"]}]}`)
	var out bytes.Buffer
	zw, err := zstd.NewWriter(&out, zstd.WithEncoderLevel(zstd.SpeedFastest))
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(zw)
	const size = 64 << 30
	tw.WriteHeader(&tar.Header{Name: HeaderName, Size: int64(len(hdr)), Mode: 0o600, Typeflag: tar.TypeReg})
	tw.Write(hdr)
	tw.WriteHeader(&tar.Header{Name: DataName(0, 0), Size: size, Mode: 0o600, Typeflag: tar.TypeReg})
	// Two fields in a one-column table: a shape error on the first row, then more to drain.
	block := bytes.Repeat([]byte{'\t', '\n'}, 1<<19)
	for left := int64(200 << 20); left > 0; left -= int64(len(block)) {
		tw.Write(block)
	}
	zw.Close() // the rest of the 64 GiB would follow; the reader must stop long before
	start := time.Now()
	m, err := Verify(bytes.NewReader(out.Bytes()), Limits{MaxEntryBytes: size, MaxTotalBytes: size})
	wantRefused(t, "drained bomb", m, err, finding.Corrupt)
	if err == nil || !strings.Contains(err.Error(), "ratio") {
		t.Errorf("refused for another reason than the ratio: %v", err)
	}
	t.Logf("%d compressed bytes refused in %v: %v", out.Len(), time.Since(start), err)
}
