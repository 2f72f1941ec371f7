package pack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/edmsdr/edmsdr/engine/finding"
)

// TestManyEntriesLinear: the manifest check is linear in the number of entries (40,000 entries
// took 59 s when every entry was looked up in every table's list).
func TestManyEntriesLinear(t *testing.T) {
	const n = 40000
	path := filepath.Join(t.TempDir(), "many.edmsdr")
	w, err := Create(path, WriterOptions{ChunkBytes: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WriteHeader(Header{Tables: []TableLayout{{Index: 0, Table: "public.t", Columns: []string{"v"}}}}); err != nil {
		t.Fatal(err)
	}
	ts := w.Table(0, "public.t")
	for i := range n {
		if _, err := fmt.Fprintf(ts, "%d\n", i); err != nil {
			t.Fatal(err)
		}
	}
	te, err := ts.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(te.Chunks) != n {
		t.Fatalf("%d entries written, want %d", len(te.Chunks), n)
	}
	s := testSchema([]testTable{{qname: "public.t", cols: []string{"v"}}})
	if err := w.Close(&Manifest{Schema: s, Plan: planFor(t, s), Digest: summary(map[string]int64{"public.t": n})}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	m, _, _ := verifyFile(t, path)
	took := time.Since(start)
	t.Logf("%d entries verified in %v", n, took)
	if m.Tables[0].Rows != n {
		t.Errorf("%d rows", m.Tables[0].Rows)
	}
	if took > 10*time.Second {
		t.Errorf("verifying %d entries took %v", n, took)
	}
}

// TestEmptyEntryRefused: the writer never writes an empty entry; a reader refuses one (40,000 of
// them, listed nowhere, were accepted).
func TestEmptyEntryRefused(t *testing.T) {
	es := unpack(t, samplePackage(t, testChunk))
	i := find(t, es, DataName(0, 0))
	es = append(es[:i+1], es[i:]...)
	es[i+1] = reg(DataName(0, 1), nil)
	for j := i + 2; j < len(es); j++ {
		if ti, ci, ok := ParseDataName(es[j].hdr.Name); ok && ti == 0 && !strings.HasPrefix(es[j].hdr.Name, "refs/") {
			es[j].hdr.Name = DataName(ti, ci+1)
		}
	}
	m, err := Verify(bytes.NewReader(repack(t, es)), Limits{})
	wantRefused(t, "empty entry", m, err, finding.Corrupt)
	if err != nil && !strings.Contains(err.Error(), "empty") {
		t.Errorf("refused for another reason: %v", err)
	}
}

// TestManifestValuesBounded: a small package whose manifest is a huge list of empty values is
// refused before decoding (a 7.8 KB package with a 64 MiB manifest cost 1 GiB of memory).
func TestManifestValuesBounded(t *testing.T) {
	es := unpack(t, samplePackage(t, testChunk))
	i := find(t, es, ManifestName)
	const items = 8 << 20
	var b bytes.Buffer
	b.WriteString(`{"format":1,"tables":[`)
	b.WriteString(strings.Repeat(`{},`, items))
	b.WriteString(`{}]}`)
	es[i].data = b.Bytes()
	pkg := repack(t, es)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	m, err := Verify(bytes.NewReader(pkg), Limits{})
	runtime.ReadMemStats(&after)
	t.Logf("package of %d bytes, manifest of %d: %v, %v, %d bytes allocated", len(pkg), b.Len(), time.Since(start), err, after.TotalAlloc-before.TotalAlloc)
	wantRefused(t, "huge manifest list", m, err, finding.Corrupt)
	if err != nil && !strings.Contains(err.Error(), "JSON values") {
		t.Errorf("refused for another reason: %v", err)
	}
	// The manifest's bytes and the decompressor, not a decoded list of 8 million tables.
	if got := after.TotalAlloc - before.TotalAlloc; got > 160<<20 {
		t.Errorf("refusing it allocated %d bytes", got)
	}
}

// cancelAfter cancels its context once n bytes have been read through it.
type cancelAfter struct {
	r      io.Reader
	n      int
	cancel context.CancelFunc
}

func (c *cancelAfter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p[:min(len(p), 512)])
	if c.n -= n; c.n <= 0 {
		c.cancel()
	}
	return n, err
}

// TestVerifyContext: a cancelled context stops a verify with the context's error, not a finding
// (SIGTERM was ignored during verify).
func TestVerifyContext(t *testing.T) {
	pkg := samplePackage(t, testChunk)
	for _, at := range []int{1, len(pkg) / 3, len(pkg) - 600} {
		ctx, cancel := context.WithCancel(context.Background())
		m, err := VerifyContext(ctx, &cancelAfter{r: bytes.NewReader(pkg), n: at, cancel: cancel}, Limits{})
		var fe *finding.Refused
		if !errors.Is(err, context.Canceled) || errors.As(err, &fe) {
			t.Errorf("cancelled after %d bytes: manifest %v, %v", at, m != nil, err)
		}
	}
}

// TestHeaderIndexBounded: a header table index outside what an entry name can carry (negative:
// it was spliced into SQL names) is refused.
func TestHeaderIndexBounded(t *testing.T) {
	for _, idx := range []int{-1, -1 << 40, 1000000} {
		es := unpack(t, samplePackage(t, testChunk))
		editHeader(t, es, func(h map[string]any) {
			h["tables"].([]any)[0].(map[string]any)["index"] = idx
		})
		reseal(t, es) // a forged header with a matching checksum record: the index itself is refused
		m, err := Verify(bytes.NewReader(repack(t, es)), Limits{})
		wantRefused(t, fmt.Sprintf("index %d", idx), m, err, finding.Corrupt)
		if err != nil && !strings.Contains(err.Error(), "outside") {
			t.Errorf("index %d: refused for another reason: %v", idx, err)
		}
	}
}

// TestEndOfDataMarker: the reader and the server agree on every byte of a COPY row. "\." ends
// the data for the server (a row ending in it lost its dot): the writer refuses to write it and
// the reader refuses it; a backslash escapes whatever follows, for the server and the reader.
func TestEndOfDataMarker(t *testing.T) {
	for name, c := range map[string]struct {
		rows []string
		ok   bool
	}{
		"row ending in \\.":      {[]string{`a\.`}, false},
		"\\. inside a row":       {[]string{`a\.b`}, false},
		"\\. alone":              {[]string{`\.`}, false},
		"escaped backslash, dot": {[]string{`a\\.`, `\\.`}, true},
		"escaped tab":            {[]string{"a\\\tb"}, true},
	} {
		if c.ok {
			path := filepath.Join(t.TempDir(), "p.edmsdr")
			writePackage(t, path, []testTable{{qname: "public.t", cols: []string{"v"}, rows: c.rows}}, WriterOptions{})
			f, _ := os.Open(path)
			m, err := Verify(f, Limits{})
			f.Close()
			if err != nil || m.Tables[0].Rows != int64(len(c.rows)) {
				t.Errorf("%s: %v", name, err)
			}
			continue
		}
		// The writer refuses it; a package written without that check is refused on read.
		w, err := Create(filepath.Join(t.TempDir(), "w.edmsdr"), WriterOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ts := w.Table(0, "public.t")
		ts.Write([]byte(copyText(c.rows)))
		if _, err := ts.Close(); err == nil || !strings.Contains(err.Error(), "end-of-data") {
			t.Errorf("%s: writer: %v", name, err)
		}
		w.Abort()
		es := unpack(t, samplePackage(t, testChunk))
		i := find(t, es, DataName(4, 0))
		es[i].data = []byte(copyText(c.rows))
		reseal(t, es)
		m, err := Verify(bytes.NewReader(repack(t, es)), Limits{})
		wantRefused(t, name, m, err, finding.Corrupt)
		if err != nil && !strings.Contains(err.Error(), "end-of-data") {
			t.Errorf("%s: refused for another reason: %v", name, err)
		}
	}
	// A backslash before a newline: the writer refuses it (the server would read one row where
	// the writer's cut sees two).
	w, err := Create(filepath.Join(t.TempDir(), "n.edmsdr"), WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	ts := w.Table(0, "public.t")
	ts.Write([]byte("a\\\nb\n"))
	if _, err := ts.Close(); err == nil || !strings.Contains(err.Error(), "backslash before a newline") {
		t.Errorf("backslash before a newline: writer: %v", err)
	}
}

// TestCreatePartialRefusesLinks: a link planted at NAME.partial is refused, its target left
// alone (root once overwrote the file a planted link pointed at); a stale regular file is
// replaced; a held one is refused.
func TestCreatePartialRefusesLinks(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "shadow")
	if err := os.WriteFile(target, []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	pkg := filepath.Join(dir, "b.edmsdr")
	if err := os.Symlink(target, pkg+".partial"); err != nil {
		t.Fatal(err)
	}
	if _, err := Create(pkg, WriterOptions{}); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("a symbolic link at .partial: %v", err)
	}
	if data, _ := os.ReadFile(target); string(data) != "secret" {
		t.Errorf("the link's target was changed: %q", data)
	}
	os.Remove(pkg + ".partial")
	// A stale partial file is replaced by a new file (not written through).
	if err := os.WriteFile(pkg+".partial", []byte("stale"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := CreatePartial(pkg + ".partial")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if fi, _ := f.Stat(); fi.Size() != 0 || fi.Mode().Perm() != 0o600 {
		t.Errorf("stale file reused: size %d, mode %v", fi.Size(), fi.Mode())
	}
	if _, err := CreatePartial(pkg + ".partial"); !errors.Is(err, ErrPartialHeld) {
		t.Errorf("a held partial file: %v", err)
	}
}
