package pack

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"testing"

	"github.com/edmsdr/edmsdr/engine/finding"
	"github.com/edmsdr/edmsdr/engine/keys"
)

// largeValuePackage writes a format-2 package: one table of two rows whose first row's email is
// a large value (raw bytes holding newlines, tabs and backslashes), and returns it and the value.
func largeValuePackage(tb testing.TB) ([]byte, []byte) {
	tb.Helper()
	tables := []testTable{{qname: "public.auth_user", cols: []string{"id", "username", "email"}, rows: []string{"1\tadmin\t\\N", "2\tbob\tx"}}}
	path := filepath.Join(tb.TempDir(), "large.edmsdr")
	w, err := Create(path, WriterOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	if err := w.WriteHeader(Header{Format: FormatLargeValues, Tool: "edmsdr-test", Tables: []TableLayout{{Index: 0, Table: tables[0].qname, Columns: tables[0].cols}}}); err != nil {
		tb.Fatal(err)
	}
	ts := w.Table(0, tables[0].qname)
	if _, err := ts.Write([]byte(copyText(tables[0].rows))); err != nil {
		tb.Fatal(err)
	}
	if _, err := ts.Close(); err != nil {
		tb.Fatal(err)
	}
	value := make([]byte, 3000)
	rand.New(rand.NewSource(7)).Read(value)
	copy(value, "a\tb\nc\\.\n")
	if err := w.LargeValue(context.Background(), 0, tables[0].qname, 0, "email", bytes.NewReader(value), int64(len(value)), sha(value)); err != nil {
		tb.Fatal(err)
	}
	s := testSchema(tables)
	plan, err := keys.Build(s, nil)
	if err != nil {
		tb.Fatal(err)
	}
	m := &Manifest{Tool: "edmsdr-test", CreatedAt: testCreated, Database: "edms", Schema: s, Plan: plan,
		Digest: NewDigest(map[string]TableDigest{tables[0].qname: {Rows: 2, Sum1: "1", Sum2: "2"}})}
	if err := w.Close(m); err != nil {
		tb.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return data, value
}

// TestLargeValueEntries: a large value travels as raw bytes in an entry of its own, named with
// its row and column, in a format-2 package; the reader hands it over verified, and refuses it
// damaged, moved, unlisted, misplaced or in a format-1 package.
func TestLargeValueEntries(t *testing.T) {
	pkg, value := largeValuePackage(t)
	m, err := Verify(bytes.NewReader(pkg), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if m.Format != FormatLargeValues || len(m.Tables[0].Large) != 1 || m.Tables[0].Large[0].Bytes != int64(len(value)) {
		t.Fatalf("manifest: format %d, large %+v", m.Format, m.Tables[0].Large)
	}
	rd, err := NewReader(bytes.NewReader(pkg), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	var got []byte
	for {
		e, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(e)
		if err != nil {
			t.Fatalf("entry %s: %v", e.Name, err)
		}
		if e.Large {
			if e.Row != 0 || e.Column != "email" || e.Name != LargeName(0, 0) {
				t.Errorf("large entry %s: row %d, column %s", e.Name, e.Row, e.Column)
			}
			got = data
		}
	}
	if !bytes.Equal(got, value) {
		t.Errorf("large value read back: %d bytes, want %d equal bytes", len(got), len(value))
	}

	// Only a package whose header says format 2 takes a large value.
	w, err := Create(filepath.Join(t.TempDir(), "v1.edmsdr"), WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WriteHeader(Header{Tool: "t", Tables: []TableLayout{{Index: 0, Table: "public.t", Columns: []string{"v"}}}}); err != nil {
		t.Fatal(err)
	}
	if err := w.LargeValue(context.Background(), 0, "public.t", 0, "v", bytes.NewReader(value), int64(len(value)), sha(value)); err == nil {
		t.Error("a format-1 writer took a large value")
	}
	w.Abort()

	large := LargeName(0, 0)
	for name, damage := range map[string]func(es []rawEntry){
		"flipped byte": func(es []rawEntry) { es[find(t, es, large)].data[1500] ^= 1 },
		"other row": func(es []rawEntry) {
			es[find(t, es, large)].hdr.PAXRecords[LargeRowRecord] = "1"
		},
		"unknown column": func(es []rawEntry) {
			es[find(t, es, large)].hdr.PAXRecords[LargeColumnRecord] = "nope"
		},
		"no checksum": func(es []rawEntry) { delete(es[find(t, es, large)].hdr.PAXRecords, EntrySHA256Record) },
		"unlisted": func(es []rawEntry) {
			editManifest(t, es, func(m *Manifest) { m.Tables[0].Large = nil })
		},
		"row past the data": func(es []rawEntry) {
			es[find(t, es, large)].hdr.PAXRecords[LargeRowRecord] = "2"
			editManifest(t, es, func(m *Manifest) { m.Tables[0].Large[0].Row = 2 })
		},
		"before the data": func(es []rawEntry) {
			i, d := find(t, es, large), find(t, es, DataName(0, 0))
			es[i], es[d] = es[d], es[i]
		},
		"format 1": func(es []rawEntry) {
			editHeader(t, es, func(h map[string]any) { h["format"] = 1 })
			editManifest(t, es, func(m *Manifest) { m.Format = 1 })
			reseal(t, es)
		},
	} {
		es := unpack(t, pkg)
		damage(es)
		m, err := Verify(bytes.NewReader(repack(t, es)), Limits{})
		wantRefused(t, name, m, err, finding.Corrupt)
	}
}
