package pack

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"reflect"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/edmsdr/edmsdr/engine/finding"
)

// The sample package cut in chunks of 256 bytes has these tables (index: name, entries):
// 0 auth_user (1), 1 empty (0), 2 documents_document (many), 3 audit.entry (1), 4 one_col (1).
const testChunk = 256

// entryDamage is a named change to a package's entries and the finding kind it must produce.
type entryDamage struct {
	name string
	kind finding.Kind
	// reseal recomputes the manifest's checksums afterwards, so that only the damage itself
	// (not a checksum mismatch) can be what the reader detects.
	reseal bool
	damage func(tb testing.TB, es []rawEntry) []rawEntry
}

func remove(es []rawEntry, i int) []rawEntry { return append(es[:i:i], es[i+1:]...) }

func insert(es []rawEntry, i int, e rawEntry) []rawEntry {
	out := append(es[:i:i], e)
	return append(out, es[i:]...)
}

func entryDamages() []entryDamage {
	data := func(tb testing.TB, es []rawEntry, table, chunk int) int { return find(tb, es, DataName(table, chunk)) }
	return []entryDamage{
		{name: "entry content changed, manifest not", kind: finding.Corrupt, damage: func(tb testing.TB, es []rawEntry) []rawEntry {
			i := data(tb, es, 2, 1)
			es[i].data = bytes.Replace(es[i].data, []byte("doc"), []byte("dog"), 1)
			return es
		}},
		{name: "entry content changed, same length, one byte", kind: finding.Corrupt, damage: func(tb testing.TB, es []rawEntry) []rawEntry {
			i := data(tb, es, 0, 0)
			es[i].data[0] ^= 1
			return es
		}},
		{name: "manifest checksum edited", kind: finding.Corrupt, damage: func(tb testing.TB, es []rawEntry) []rawEntry {
			editManifest(tb, es, func(m *Manifest) { m.Tables[2].Chunks[3].SHA256 = sha([]byte("something else")) })
			return es
		}},
		{name: "manifest row count edited", kind: finding.Corrupt, damage: func(tb testing.TB, es []rawEntry) []rawEntry {
			editManifest(tb, es, func(m *Manifest) { m.Tables[0].Chunks[0].Rows++; m.Tables[0].Rows++ })
			return es
		}},
		{name: "manifest byte count edited", kind: finding.Corrupt, damage: func(tb testing.TB, es []rawEntry) []rawEntry {
			editManifest(tb, es, func(m *Manifest) { m.Tables[0].Chunks[0].Bytes--; m.Tables[0].Bytes-- })
			return es
		}},
		{name: "manifest table total edited", kind: finding.Corrupt, damage: func(tb testing.TB, es []rawEntry) []rawEntry {
			editManifest(tb, es, func(m *Manifest) { m.Tables[2].Rows-- })
			return es
		}},
		{name: "manifest digest row count edited", kind: finding.Corrupt, damage: func(tb testing.TB, es []rawEntry) []rawEntry {
			editManifest(tb, es, func(m *Manifest) {
				d := m.Digest.Tables["public.auth_user"]
				d.Rows = 99
				m.Digest.Tables["public.auth_user"] = d
			})
			return es
		}},
		{name: "manifest digest lacks a table", kind: finding.Corrupt, damage: func(tb testing.TB, es []rawEntry) []rawEntry {
			editManifest(tb, es, func(m *Manifest) { delete(m.Digest.Tables, "public.empty") })
			return es
		}},
		{name: "manifest digest total edited", kind: finding.Corrupt, damage: func(tb testing.TB, es []rawEntry) []rawEntry {
			editManifest(tb, es, func(m *Manifest) { m.Digest.Total = sha([]byte("another total")) })
			return es
		}},
		{name: "table removed everywhere but the digest total", kind: finding.Corrupt, damage: func(tb testing.TB, es []rawEntry) []rawEntry {
			editHeader(tb, es, func(h map[string]any) { h["tables"] = h["tables"].([]any)[:4] })
			editManifest(tb, es, func(m *Manifest) {
				m.HeaderSHA256 = sha(es[find(tb, es, HeaderName)].data)
				m.Tables = m.Tables[:4]
				m.Schema.Tables = m.Schema.Tables[:4]
				delete(m.Plan.Tables, "public.one_col")
				delete(m.Digest.Tables, "public.one_col")
			})
			return remove(es, data(tb, es, 4, 0))
		}},
		{name: "manifest header checksum edited", kind: finding.Corrupt, damage: func(tb testing.TB, es []rawEntry) []rawEntry {
			editManifest(tb, es, func(m *Manifest) { m.HeaderSHA256 = sha(nil) })
			return es
		}},
		{name: "manifest lists an entry the package lacks", kind: finding.Corrupt, damage: func(tb testing.TB, es []rawEntry) []rawEntry {
			editManifest(tb, es, func(m *Manifest) {
				m.Tables[1].Chunks = []Chunk{{Name: DataName(1, 0), Rows: 1, Bytes: 2, SHA256: sha([]byte("a\tb\n"))}}
				m.Tables[1].Rows, m.Tables[1].Bytes = 1, 2
			})
			return es
		}},
		{name: "manifest omits an entry", kind: finding.Corrupt, damage: func(tb testing.TB, es []rawEntry) []rawEntry {
			editManifest(tb, es, func(m *Manifest) {
				last := m.Tables[2].Chunks[len(m.Tables[2].Chunks)-1]
				m.Tables[2].Chunks = m.Tables[2].Chunks[:len(m.Tables[2].Chunks)-1]
				m.Tables[2].Rows -= last.Rows
				m.Tables[2].Bytes -= last.Bytes
			})
			return es
		}},
		{name: "manifest chunk names reordered", kind: finding.Corrupt, damage: func(tb testing.TB, es []rawEntry) []rawEntry {
			editManifest(tb, es, func(m *Manifest) { c := m.Tables[2].Chunks; c[0], c[1] = c[1], c[0] })
			return es
		}},
		{name: "manifest omits a table", kind: finding.Corrupt, damage: func(tb testing.TB, es []rawEntry) []rawEntry {
			editManifest(tb, es, func(m *Manifest) { m.Tables = append(m.Tables[:1:1], m.Tables[2:]...) })
			return es
		}},
		{name: "manifest lists a table twice", kind: finding.Corrupt, damage: func(tb testing.TB, es []rawEntry) []rawEntry {
			editManifest(tb, es, func(m *Manifest) { m.Tables = append(m.Tables, m.Tables[0]) })
			return es
		}},
		{name: "manifest table at another index", kind: finding.Corrupt, damage: func(tb testing.TB, es []rawEntry) []rawEntry {
			editManifest(tb, es, func(m *Manifest) { m.Tables[0].Table = "public.intruder" })
			return es
		}},
		{name: "manifest schema lacks a table", kind: finding.Corrupt, damage: func(tb testing.TB, es []rawEntry) []rawEntry {
			editManifest(tb, es, func(m *Manifest) { m.Schema.Tables = m.Schema.Tables[1:] })
			return es
		}},
		{name: "manifest schema columns differ from the header", kind: finding.Corrupt, damage: func(tb testing.TB, es []rawEntry) []rawEntry {
			editManifest(tb, es, func(m *Manifest) {
				t := m.Schema.Table("public.auth_user")
				t.Columns[1], t.Columns[2] = t.Columns[2], t.Columns[1]
			})
			return es
		}},
		{name: "manifest schema inconsistent", kind: finding.Corrupt, damage: func(tb testing.TB, es []rawEntry) []rawEntry {
			editManifest(tb, es, func(m *Manifest) { m.Schema.Table("public.auth_user").PrimaryKey = []string{"ghost"} })
			return es
		}},
		{name: "manifest schema holds a null table", kind: finding.Corrupt, damage: func(tb testing.TB, es []rawEntry) []rawEntry {
			editManifest(tb, es, func(m *Manifest) { m.Schema.Tables = append(m.Schema.Tables, nil) })
			return es
		}},
		{name: "manifest without schema", kind: finding.Corrupt, damage: func(tb testing.TB, es []rawEntry) []rawEntry {
			editManifest(tb, es, func(m *Manifest) { m.Schema = nil })
			return es
		}},
		{name: "manifest without key plan", kind: finding.Corrupt, damage: func(tb testing.TB, es []rawEntry) []rawEntry {
			editManifest(tb, es, func(m *Manifest) { m.Plan = nil })
			return es
		}},
		{name: "manifest format version", kind: finding.Corrupt, damage: func(tb testing.TB, es []rawEntry) []rawEntry {
			editManifest(tb, es, func(m *Manifest) { m.Format = 2 })
			return es
		}},
		{name: "manifest unknown field", kind: finding.Corrupt, damage: func(tb testing.TB, es []rawEntry) []rawEntry {
			i := find(tb, es, ManifestName)
			es[i].data = append([]byte(`{"surprise":1,`), es[i].data[1:]...)
			return es
		}},
		{name: "manifest not JSON", kind: finding.Corrupt, damage: func(tb testing.TB, es []rawEntry) []rawEntry {
			i := find(tb, es, ManifestName)
			es[i].data = es[i].data[:len(es[i].data)/2]
			return es
		}},
		{name: "missing middle entry", kind: finding.Corrupt, damage: func(tb testing.TB, es []rawEntry) []rawEntry {
			return remove(es, data(tb, es, 2, 4))
		}},
		{name: "missing first entry of a table", kind: finding.Corrupt, damage: func(tb testing.TB, es []rawEntry) []rawEntry {
			return remove(es, data(tb, es, 2, 0))
		}},
		{name: "missing last entry of a table", kind: finding.Corrupt, damage: func(tb testing.TB, es []rawEntry) []rawEntry {
			i := data(tb, es, 3, 0) - 1 // the entry before audit.entry's is documents' last
			return remove(es, i)
		}},
		{name: "missing single-entry table", kind: finding.Corrupt, damage: func(tb testing.TB, es []rawEntry) []rawEntry {
			return remove(es, data(tb, es, 4, 0))
		}},
		{name: "missing header", kind: finding.Corrupt, damage: func(tb testing.TB, es []rawEntry) []rawEntry {
			return remove(es, find(tb, es, HeaderName))
		}},
		{name: "missing manifest", kind: finding.Corrupt, damage: func(tb testing.TB, es []rawEntry) []rawEntry {
			return remove(es, find(tb, es, ManifestName))
		}},
		{name: "duplicated entry, adjacent", kind: finding.Corrupt, damage: func(tb testing.TB, es []rawEntry) []rawEntry {
			i := data(tb, es, 2, 2)
			return insert(es, i+1, es[i])
		}},
		{name: "duplicated entry, later", kind: finding.Corrupt, damage: func(tb testing.TB, es []rawEntry) []rawEntry {
			return insert(es, find(tb, es, ManifestName), es[data(tb, es, 0, 0)])
		}},
		{name: "duplicated header", kind: finding.Corrupt, damage: func(tb testing.TB, es []rawEntry) []rawEntry {
			return insert(es, 1, es[find(tb, es, HeaderName)])
		}},
		{name: "duplicated manifest", kind: finding.Corrupt, damage: func(tb testing.TB, es []rawEntry) []rawEntry {
			return append(es, es[find(tb, es, ManifestName)])
		}},
		{name: "entry after the manifest", kind: finding.Corrupt, damage: func(tb testing.TB, es []rawEntry) []rawEntry {
			i := data(tb, es, 4, 0)
			e := es[i]
			return append(remove(es, i), e)
		}},
		{name: "chunks reordered", kind: finding.Corrupt, damage: func(tb testing.TB, es []rawEntry) []rawEntry {
			i := data(tb, es, 2, 5)
			es[i], es[i+1] = es[i+1], es[i]
			return es
		}},
		{name: "tables reordered", kind: finding.Corrupt, damage: func(tb testing.TB, es []rawEntry) []rawEntry {
			i, j := data(tb, es, 0, 0), data(tb, es, 4, 0)
			es[i], es[j] = es[j], es[i]
			return es
		}},
		{name: "manifest before the data", kind: finding.Corrupt, damage: func(tb testing.TB, es []rawEntry) []rawEntry {
			i := find(tb, es, ManifestName)
			m := es[i]
			return insert(remove(es, i), 1, m)
		}},
		{name: "header not first", kind: finding.Corrupt, damage: func(tb testing.TB, es []rawEntry) []rawEntry {
			es[0], es[1] = es[1], es[0]
			return es
		}},
		{name: "unknown entry name", kind: finding.Corrupt, damage: func(tb testing.TB, es []rawEntry) []rawEntry {
			return insert(es, 2, reg("notes.txt", []byte("hello\n")))
		}},
		{name: "unknown data entry name", kind: finding.Corrupt, damage: func(tb testing.TB, es []rawEntry) []rawEntry {
			return insert(es, 2, reg("data/evil.sh", []byte("rm -rf /\n")))
		}},
		{name: "data entry of an unlisted table index", kind: finding.Corrupt, damage: func(tb testing.TB, es []rawEntry) []rawEntry {
			return insert(es, find(tb, es, ManifestName), reg(DataName(9, 0), []byte("x\n")))
		}},
		{name: "data entry for the empty table", kind: finding.Corrupt, reseal: true, damage: func(tb testing.TB, es []rawEntry) []rawEntry {
			return insert(es, data(tb, es, 2, 0), reg(DataName(1, 0), []byte("1\tx\n")))
		}},
		{name: "entry name with ../", kind: finding.Corrupt, damage: func(tb testing.TB, es []rawEntry) []rawEntry {
			i := data(tb, es, 0, 0)
			es[i].hdr.Name = "../" + es[i].hdr.Name
			return es
		}},
		{name: "entry name with data/../", kind: finding.Corrupt, damage: func(tb testing.TB, es []rawEntry) []rawEntry {
			i := data(tb, es, 0, 0)
			es[i].hdr.Name = "data/../" + es[i].hdr.Name
			return es
		}},
		{name: "absolute entry name", kind: finding.Corrupt, damage: func(tb testing.TB, es []rawEntry) []rawEntry {
			i := data(tb, es, 0, 0)
			es[i].hdr.Name = "/" + es[i].hdr.Name
			return es
		}},
		{name: "absolute header name", kind: finding.Corrupt, damage: func(tb testing.TB, es []rawEntry) []rawEntry {
			es[0].hdr.Name = "/" + HeaderName
			return es
		}},
		{name: "symlink entry", kind: finding.Corrupt, damage: func(tb testing.TB, es []rawEntry) []rawEntry {
			link := rawEntry{hdr: tar.Header{Name: DataName(0, 0), Typeflag: tar.TypeSymlink, Linkname: "/etc/passwd", Mode: 0o777}}
			return append(es[:1:1], append([]rawEntry{link}, es[2:]...)...)
		}},
		{name: "hardlink entry", kind: finding.Corrupt, damage: func(tb testing.TB, es []rawEntry) []rawEntry {
			link := rawEntry{hdr: tar.Header{Name: DataName(0, 0), Typeflag: tar.TypeLink, Linkname: HeaderName, Mode: 0o600}}
			return append(es[:1:1], append([]rawEntry{link}, es[2:]...)...)
		}},
		{name: "directory entry", kind: finding.Corrupt, damage: func(tb testing.TB, es []rawEntry) []rawEntry {
			return insert(es, 1, rawEntry{hdr: tar.Header{Name: "data/", Typeflag: tar.TypeDir, Mode: 0o755}})
		}},
		{name: "fifo entry", kind: finding.Corrupt, damage: func(tb testing.TB, es []rawEntry) []rawEntry {
			return insert(es, 1, rawEntry{hdr: tar.Header{Name: DataName(0, 0), Typeflag: tar.TypeFifo, Mode: 0o600}})
		}},
		{name: "header format version 3", kind: finding.Unsupported, reseal: true, damage: func(tb testing.TB, es []rawEntry) []rawEntry {
			editHeader(tb, es, func(h map[string]any) { h["format"] = 3 })
			return es
		}},
		{name: "header format version 3, its checksum record not updated", kind: finding.Corrupt, damage: func(tb testing.TB, es []rawEntry) []rawEntry {
			editHeader(tb, es, func(h map[string]any) { h["format"] = 3 })
			return es
		}},
		{name: "header format version 2 without a checksum record", kind: finding.Corrupt, reseal: true, damage: func(tb testing.TB, es []rawEntry) []rawEntry {
			editHeader(tb, es, func(h map[string]any) { h["format"] = 2 })
			es[find(tb, es, HeaderName)].hdr.PAXRecords = nil
			return es
		}},
		{name: "header format version 3 without a checksum record", kind: finding.Corrupt, reseal: true, damage: func(tb testing.TB, es []rawEntry) []rawEntry {
			editHeader(tb, es, func(h map[string]any) { h["format"] = 3 })
			es[find(tb, es, HeaderName)].hdr.PAXRecords = nil
			return es
		}},
		{name: "header without format version", kind: finding.Corrupt, reseal: true, damage: func(tb testing.TB, es []rawEntry) []rawEntry {
			editHeader(tb, es, func(h map[string]any) { delete(h, "format") })
			return es
		}},
		{name: "header not JSON", kind: finding.Corrupt, damage: func(tb testing.TB, es []rawEntry) []rawEntry {
			es[0].data = []byte("format: 1")
			return es
		}},
		{name: "header unknown field", kind: finding.Corrupt, reseal: true, damage: func(tb testing.TB, es []rawEntry) []rawEntry {
			editHeader(tb, es, func(h map[string]any) { h["compression"] = "none" })
			return es
		}},
		{name: "header lists a table twice", kind: finding.Corrupt, reseal: true, damage: func(tb testing.TB, es []rawEntry) []rawEntry {
			editHeader(tb, es, func(h map[string]any) {
				ts := h["tables"].([]any)
				dup := map[string]any{"index": 7, "table": ts[0].(map[string]any)["table"], "columns": []string{"id"}}
				h["tables"] = append(ts, dup)
			})
			return es
		}},
		{name: "header lists an index twice", kind: finding.Corrupt, reseal: true, damage: func(tb testing.TB, es []rawEntry) []rawEntry {
			editHeader(tb, es, func(h map[string]any) {
				h["tables"] = append(h["tables"].([]any), map[string]any{"index": 0, "table": "public.other", "columns": []string{"id"}})
			})
			return es
		}},
		{name: "header table without columns", kind: finding.Corrupt, reseal: true, damage: func(tb testing.TB, es []rawEntry) []rawEntry {
			editHeader(tb, es, func(h map[string]any) { h["tables"].([]any)[1].(map[string]any)["columns"] = []string{} })
			return es
		}},
		{name: "header column twice", kind: finding.Corrupt, reseal: true, damage: func(tb testing.TB, es []rawEntry) []rawEntry {
			editHeader(tb, es, func(h map[string]any) {
				h["tables"].([]any)[0].(map[string]any)["columns"] = []string{"id", "id", "email"}
			})
			return es
		}},
		{name: "header changed after the fact", kind: finding.Corrupt, damage: func(tb testing.TB, es []rawEntry) []rawEntry {
			editHeader(tb, es, func(h map[string]any) { h["tool"] = "forged" })
			return es
		}},
		{name: "row with too many fields", kind: finding.Corrupt, reseal: true, damage: func(tb testing.TB, es []rawEntry) []rawEntry {
			i := data(tb, es, 0, 0)
			es[i].data = bytes.Replace(es[i].data, []byte("bob"), []byte("bob\textra"), 1)
			return es
		}},
		{name: "row with too few fields", kind: finding.Corrupt, reseal: true, damage: func(tb testing.TB, es []rawEntry) []rawEntry {
			i := data(tb, es, 0, 0)
			es[i].data = bytes.Replace(es[i].data, []byte("bob\t"), []byte("bob "), 1)
			return es
		}},
		{name: "row with too few fields, later chunk", kind: finding.Corrupt, reseal: true, damage: func(tb testing.TB, es []rawEntry) []rawEntry {
			i := data(tb, es, 2, 7)
			es[i].data = append([]byte("999\n"), es[i].data...)
			return es
		}},
		{name: "raw newline inside a field", kind: finding.Corrupt, reseal: true, damage: func(tb testing.TB, es []rawEntry) []rawEntry {
			i := data(tb, es, 0, 0)
			es[i].data = bytes.Replace(es[i].data, []byte("admin\t"), []byte("ad\nmin\t"), 1)
			return es
		}},
		{name: "last row without newline", kind: finding.Corrupt, reseal: true, damage: func(tb testing.TB, es []rawEntry) []rawEntry {
			i := data(tb, es, 0, 0)
			es[i].data = es[i].data[:len(es[i].data)-1]
			return es
		}},
		{name: "last row without newline, middle chunk", kind: finding.Corrupt, reseal: true, damage: func(tb testing.TB, es []rawEntry) []rawEntry {
			i := data(tb, es, 2, 3)
			es[i].data = es[i].data[:len(es[i].data)-1]
			return es
		}},
		{name: "empty data entry", kind: finding.Corrupt, reseal: true, damage: func(tb testing.TB, es []rawEntry) []rawEntry {
			return insert(es, data(tb, es, 0, 0)+1, reg(DataName(0, 1), nil))
		}},
	}
}

func TestDetectsDamagedEntries(t *testing.T) {
	pkg := samplePackage(t, testChunk)
	// The hand-built path itself is faithful: unpack + repack (+ reseal) verifies.
	for _, rs := range []bool{false, true} {
		es := unpack(t, pkg)
		if rs {
			reseal(t, es)
		}
		if _, err := Verify(bytes.NewReader(repack(t, es)), Limits{}); err != nil {
			t.Fatalf("repacked (reseal %v) package refused: %v", rs, err)
		}
	}
	// A header written before it carried its checksum record (version 1) still reads.
	es := unpack(t, pkg)
	if es[0].hdr.PAXRecords[EntrySHA256Record] != sha(es[0].data) {
		t.Fatalf("the writer's header carries no checksum record of its content: %v", es[0].hdr.PAXRecords)
	}
	es[0].hdr.PAXRecords = nil
	if _, err := Verify(bytes.NewReader(repack(t, es)), Limits{}); err != nil {
		t.Fatalf("package whose header has no checksum record refused: %v", err)
	}
	for _, d := range entryDamages() {
		t.Run(d.name, func(t *testing.T) {
			es := d.damage(t, unpack(t, pkg))
			if d.reseal {
				reseal(t, es)
			}
			damaged := repack(t, es)
			m, err := Verify(bytes.NewReader(damaged), Limits{})
			wantRefused(t, "Verify", m, err, d.kind)
			// The streaming reader refuses it too, whether the caller reads the entries or not.
			for _, read := range []bool{true, false} {
				err := streamAll(damaged, read)
				wantRefused(t, "Reader", nil, err, d.kind)
			}
		})
	}
}

// streamAll runs a package through a Reader, reading each entry when read is set.
func streamAll(pkg []byte, read bool) error {
	rd, err := NewReader(bytes.NewReader(pkg), Limits{})
	if err != nil {
		return err
	}
	defer rd.Close()
	var firstErr error
	for {
		e, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return firstErr
		}
		if err != nil {
			return err
		}
		if read {
			if _, err := io.Copy(io.Discard, e); err != nil && firstErr == nil {
				// A row-shape error leaves the stream readable: keep going as a restore would
				// not, but make sure the error is remembered.
				firstErr = err
			}
		}
	}
}

// TestDetectsFlippedBytes flips bits at every position of a package. A flip that changes what
// the package decompresses to must be refused; zstd has bits that do not change the output
// (the frame header's unused bit, slack in entropy tables and bit streams), and a flip there
// leaves the package byte-for-byte the same once decompressed: it is accepted (and counted), but
// only if the decompressed stream really is identical.
func TestDetectsFlippedBytes(t *testing.T) {
	pkg := samplePackage(t, testChunk)
	want := decompress(t, pkg)
	masks := []byte{0x01, 0x10, 0x80, 0xff}
	benign := 0
	for pos := 0; pos < len(pkg); pos++ {
		for _, mask := range masks {
			damaged := bytes.Clone(pkg)
			damaged[pos] ^= mask
			m, err := Verify(bytes.NewReader(damaged), Limits{})
			if err == nil {
				if m == nil {
					t.Errorf("byte %d xor %#02x: no error and no manifest", pos, mask)
				}
				if got := decompress(t, damaged); !bytes.Equal(got, want) {
					t.Errorf("byte %d of %d xor %#02x: changed content accepted", pos, len(pkg), mask)
				}
				benign++
				continue
			}
			wantRefused(t, fmt.Sprintf("byte %d xor %#02x", pos, mask), m, err, finding.Corrupt)
		}
	}
	t.Logf("%d bytes x %d masks: %d flips left the decompressed stream unchanged and were accepted", len(pkg), len(masks), benign)
	if benign > len(pkg)*len(masks)/20 {
		t.Errorf("%d flips accepted: far more than zstd's slack explains", benign)
	}
}

// decompress returns a package's decompressed bytes, or nil when it does not decompress.
func decompress(tb testing.TB, pkg []byte) []byte {
	tb.Helper()
	zr, err := zstd.NewReader(bytes.NewReader(pkg))
	if err != nil {
		tb.Fatal(err)
	}
	defer zr.Close()
	out, err := io.ReadAll(zr)
	if err != nil {
		return nil
	}
	return out
}

func TestDetectsTruncation(t *testing.T) {
	pkg := samplePackage(t, testChunk)
	for n := 0; n < len(pkg); n++ {
		m, err := Verify(bytes.NewReader(pkg[:n]), Limits{})
		wantRefused(t, fmt.Sprintf("truncated to %d of %d bytes", n, len(pkg)), m, err, finding.Corrupt)
	}
	// The tar stream cut, then compressed as a whole frame (a writer that stopped early but
	// finished its zstd frame): refused wherever the cut falls, even inside the padding after the
	// manifest or inside the end-of-archive blocks, where the data itself is whole.
	raw := tarBytes(t, unpack(t, pkg))
	for n := 0; n < len(raw); n++ {
		if n < len(raw)-2048 && n%61 != 0 {
			continue
		}
		m, err := Verify(bytes.NewReader(compress(t, raw[:n])), Limits{})
		wantRefused(t, fmt.Sprintf("tar cut at %d of %d", n, len(raw)), m, err, finding.Corrupt)
	}
}

func TestTrailingBytes(t *testing.T) {
	pkg := samplePackage(t, testChunk)
	raw := tarBytes(t, unpack(t, pkg))
	cases := map[string][]byte{
		"garbage after the frame":          append(bytes.Clone(pkg), "garbage"...),
		"a zero byte after the frame":      append(bytes.Clone(pkg), 0),
		"a second frame with data":         append(bytes.Clone(pkg), compress(t, []byte("more data"))...),
		"a second copy of the package":     append(bytes.Clone(pkg), pkg...),
		"data after the end-of-archive":    compress(t, append(bytes.Clone(raw), "trailing"...)),
		"a third zero block":               compress(t, append(bytes.Clone(raw), make([]byte, 512)...)),
		"one zero block, then a non-zero":  compress(t, append(bytes.Clone(raw[:len(raw)-512]), bytes.Repeat([]byte{1}, 512)...)),
		"a whole tar after the end":        compress(t, append(bytes.Clone(raw), raw...)),
		"a second frame with a zero block": append(bytes.Clone(pkg), compress(t, make([]byte, 512))...),
	}
	for name, damaged := range cases {
		m, err := Verify(bytes.NewReader(damaged), Limits{})
		wantRefused(t, name, m, err, finding.Corrupt)
	}
}

func TestDetectsNonPackages(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	random := func(n int) []byte {
		b := make([]byte, n)
		rng.Read(b)
		return b
	}
	cases := []struct {
		name string
		data []byte
		kind finding.Kind
	}{
		{"empty file", nil, finding.Corrupt},
		{"random bytes", random(4096), finding.Corrupt},
		{"random bytes after the zstd magic", append([]byte{0x28, 0xb5, 0x2f, 0xfd}, random(4096)...), finding.Corrupt},
		{"zstd of random bytes", compress(t, random(4096)), finding.Corrupt},
		{"zstd of nothing", compress(t, nil), finding.Corrupt},
		{"zstd of an empty tar", compress(t, tarBytes(t, nil)), finding.Corrupt},
		{"uncompressed tar", tarBytes(t, unpack(t, samplePackage(t, testChunk))), finding.Corrupt},
		{"age header", []byte("age-encryption.org/v1\n-> X25519 abc\n"), finding.Unsupported},
		{"gzip", []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0}, finding.Unsupported},
		{"django fixture", []byte(`[{"model": "auth.user", "pk": 1, "fields": {}}]`), finding.Unsupported},
		{"zstd magic only", []byte{0x28, 0xb5, 0x2f, 0xfd}, finding.Corrupt},
	}
	for _, c := range cases {
		m, err := Verify(bytes.NewReader(c.data), Limits{})
		wantRefused(t, c.name, m, err, c.kind)
		if m != nil {
			t.Errorf("%s: a manifest came back", c.name)
		}
	}
}

func TestLimits(t *testing.T) {
	pkg := samplePackage(t, testChunk)
	ok := func(l Limits) {
		t.Helper()
		if _, err := Verify(bytes.NewReader(pkg), l); err != nil {
			t.Errorf("limits %+v: %v", l, err)
		}
	}
	es := unpack(t, pkg)
	manifest := int64(len(es[find(t, es, ManifestName)].data))
	header := int64(len(es[0].data))
	var biggest, total int64
	for _, e := range es {
		if _, _, isData := ParseDataName(e.hdr.Name); isData {
			biggest = max(biggest, int64(len(e.data)))
			total += int64(len(e.data))
		}
	}
	ok(Limits{MaxManifestBytes: manifest, MaxHeaderBytes: header, MaxEntryBytes: biggest, MaxTotalBytes: total})
	for name, l := range map[string]Limits{
		"manifest": {MaxManifestBytes: manifest - 1},
		"header":   {MaxHeaderBytes: header - 1},
		"entry":    {MaxEntryBytes: biggest - 1},
		"total":    {MaxTotalBytes: total - 1},
	} {
		m, err := Verify(bytes.NewReader(pkg), l)
		wantRefused(t, "limit "+name, m, err, finding.Corrupt)
	}
}

// bomb returns a package whose one data entry is size bytes of newlines (a one-column table of
// empty strings): valid, and compressing about 10000:1.
func bomb(tb testing.TB, size int64) []byte {
	tb.Helper()
	hdr := []byte(`{"format":1,"tool":"bomb","tables":[{"index":0,"table":"public.t","columns":["v"]}]}`)
	var out bytes.Buffer
	zw, err := zstd.NewWriter(&out, zstd.WithEncoderLevel(zstd.SpeedFastest))
	if err != nil {
		tb.Fatal(err)
	}
	tw := tar.NewWriter(zw)
	write := func(name string, size int64, fill func(io.Writer)) {
		if err := tw.WriteHeader(&tar.Header{Name: name, Size: size, Mode: 0o600, Typeflag: tar.TypeReg}); err != nil {
			tb.Fatal(err)
		}
		fill(tw)
	}
	write(HeaderName, int64(len(hdr)), func(w io.Writer) { w.Write(hdr) })
	block := bytes.Repeat([]byte{'\n'}, 1<<20)
	write(DataName(0, 0), size, func(w io.Writer) {
		for left := size; left > 0; left -= int64(len(block)) {
			if _, err := w.Write(block[:min(left, int64(len(block)))]); err != nil {
				tb.Fatal(err)
			}
		}
	})
	// No manifest: the reader must give up on the ratio before it gets there.
	if err := tw.Close(); err != nil {
		tb.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	return out.Bytes()
}

func TestDecompressionBomb(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 100 MiB entry")
	}
	pkg := bomb(t, 100<<20)
	t.Logf("bomb: %d compressed bytes", len(pkg))
	for name, l := range map[string]Limits{
		"default limits":  {},
		"small max ratio": {MaxRatio: 10},
	} {
		m, err := Verify(bytes.NewReader(pkg), l)
		wantRefused(t, name, m, err, finding.Corrupt)
		// The refusal names the ratio, and comes early: far less was decompressed than declared.
		if err != nil && !bytes.Contains([]byte(err.Error()), []byte("ratio")) {
			t.Errorf("%s: refused for another reason: %v", name, err)
		}
	}
	// An entry declared larger than MaxEntryBytes is refused before any of it is read.
	m, err := Verify(bytes.NewReader(pkg), Limits{MaxEntryBytes: 1 << 20, MaxRatio: 1 << 40})
	wantRefused(t, "max entry bytes", m, err, finding.Corrupt)
}

// TestAppendedEmptyFrames documents the one kind of appended bytes the reader cannot see: a zstd
// frame that decompresses to nothing (an empty frame, or a skippable frame) adds no byte to the
// stream. Such a package must read exactly like the original.
func TestAppendedEmptyFrames(t *testing.T) {
	pkg := samplePackage(t, testChunk)
	want, err := Verify(bytes.NewReader(pkg), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	skippable := []byte{0x50, 0x2a, 0x4d, 0x18, 4, 0, 0, 0, 'e', 'v', 'i', 'l'}
	for name, extra := range map[string][]byte{"empty frame": compress(t, nil), "skippable frame": skippable} {
		m, err := Verify(bytes.NewReader(append(bytes.Clone(pkg), extra...)), Limits{})
		if err != nil {
			wantRefused(t, name, m, err, finding.Corrupt)
			continue
		}
		if !reflect.DeepEqual(m.Tables, want.Tables) || m.Digest.Total != want.Digest.Total {
			t.Errorf("%s: accepted with a different manifest", name)
		}
		t.Logf("%s appended: accepted (no byte of content added)", name)
	}
}
