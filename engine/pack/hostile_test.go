package pack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
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
