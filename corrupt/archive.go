package corrupt

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/edmsdr/edmsdr/engine/pack"
)

// Entry is one tar entry of a package, as stored: its tar header and its bytes.
type Entry struct {
	Header tar.Header
	Data   []byte
}

// Unpack decompresses a package and splits it into its tar entries (in archive order). It reads
// whatever the archive holds, without checking it: damaged input gives an error.
func Unpack(pkg []byte) ([]Entry, error) {
	raw, err := Decompress(pkg)
	if err != nil {
		return nil, err
	}
	tr := tar.NewReader(bytes.NewReader(raw))
	var out []Entry
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("unpack package: %w", err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			return nil, fmt.Errorf("unpack package: entry %s: %w", h.Name, err)
		}
		out = append(out, Entry{Header: *h, Data: data})
	}
}

// Decompress returns the decompressed bytes of a package (its tar stream).
func Decompress(pkg []byte) ([]byte, error) {
	zr, err := zstd.NewReader(bytes.NewReader(pkg), zstd.WithDecoderConcurrency(1))
	if err != nil {
		return nil, fmt.Errorf("decompress package: %w", err)
	}
	defer zr.Close()
	raw, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("decompress package: %w", err)
	}
	return raw, nil
}

// Tar writes entries as a tar stream, with its end-of-archive blocks. The size of a regular
// entry is taken from its data.
func Tar(entries []Entry) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := e.Header
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(e.Data))
		}
		if err := tw.WriteHeader(&h); err != nil {
			return nil, fmt.Errorf("tar entry %s: %w", h.Name, err)
		}
		if _, err := tw.Write(e.Data); err != nil {
			return nil, fmt.Errorf("tar entry %s: %w", h.Name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("tar: %w", err)
	}
	return buf.Bytes(), nil
}

var (
	encoderOnce sync.Once
	encoder     *zstd.Encoder
	encoderErr  error
)

// Compress zstd-compresses data as one frame, with its checksum, as the package writer does.
func Compress(data []byte) ([]byte, error) {
	encoderOnce.Do(func() { encoder, encoderErr = zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1)) })
	if encoderErr != nil {
		return nil, fmt.Errorf("compress: %w", encoderErr)
	}
	return encoder.EncodeAll(data, nil), nil
}

// Repack builds a package from entries: a tar stream, compressed.
func Repack(entries []Entry) ([]byte, error) {
	raw, err := Tar(entries)
	if err != nil {
		return nil, err
	}
	return Compress(raw)
}

// File returns a regular-file entry holding data.
func File(name string, data []byte) Entry {
	return Entry{Header: tar.Header{Name: name, Mode: 0o600, Typeflag: tar.TypeReg, ModTime: time.Unix(0, 0), Format: tar.FormatPAX}, Data: data}
}

// find returns the index of the entry called name, or -1.
func find(entries []Entry, name string) int {
	for i, e := range entries {
		if e.Header.Name == name {
			return i
		}
	}
	return -1
}

// entry returns the index of the entry called name, or ErrNotApplicable.
func entry(entries []Entry, name string) (int, error) {
	if i := find(entries, name); i >= 0 {
		return i, nil
	}
	return -1, fmt.Errorf("package has no %s entry: %w", name, ErrNotApplicable)
}

// dataEntries returns the indexes of the data entries (refs too when withRefs).
func dataEntries(entries []Entry, withRefs bool) []int {
	var out []int
	for i, e := range entries {
		if _, _, ok := pack.ParseDataName(e.Header.Name); ok && (withRefs || strings.HasPrefix(e.Header.Name, "data/")) {
			out = append(out, i)
		}
	}
	return out
}

// readHeader decodes the header entry.
func readHeader(entries []Entry) (*pack.Header, error) {
	i := find(entries, pack.HeaderName)
	if i < 0 {
		return nil, errors.New("package has no header entry")
	}
	h := &pack.Header{}
	if err := json.Unmarshal(entries[i].Data, h); err != nil {
		return nil, fmt.Errorf("decode header: %w", err)
	}
	return h, nil
}

// readManifest decodes the manifest entry.
func readManifest(entries []Entry) (*pack.Manifest, error) {
	i := find(entries, pack.ManifestName)
	if i < 0 {
		return nil, errors.New("package has no manifest entry")
	}
	m := &pack.Manifest{}
	if err := json.Unmarshal(entries[i].Data, m); err != nil {
		return nil, fmt.Errorf("decode manifest: %w", err)
	}
	if m.Schema != nil {
		m.Schema.Index()
	}
	return m, nil
}

// editJSON decodes entry name into v, lets edit change it, and encodes it back.
func editJSON[T any](entries []Entry, name string, edit func(v *T) error) error {
	i := find(entries, name)
	if i < 0 {
		return fmt.Errorf("package has no %s entry", name)
	}
	var v T
	if err := json.Unmarshal(entries[i].Data, &v); err != nil {
		return fmt.Errorf("decode %s: %w", name, err)
	}
	if err := edit(&v); err != nil {
		return err
	}
	data, err := json.Marshal(&v)
	if err != nil {
		return fmt.Errorf("encode %s: %w", name, err)
	}
	entries[i].Data = data
	return nil
}

// editManifest lets edit change the manifest.
func editManifest(entries []Entry, edit func(m *pack.Manifest) error) error {
	return editJSON(entries, pack.ManifestName, func(m *pack.Manifest) error {
		if m.Schema != nil {
			m.Schema.Index()
		}
		return edit(m)
	})
}

// editHeader lets edit change the header.
func editHeader(entries []Entry, edit func(h *pack.Header) error) error {
	return editJSON(entries, pack.HeaderName, edit)
}

func sha(data []byte) string {
	s := sha256.Sum256(data)
	return hex.EncodeToString(s[:])
}

// Reseal recomputes everything the manifest says about the entries as they now are: the header's
// checksum, every chunk's checksum, size and row count, the table totals, and the digest's row
// counts and total (its per-table sums are kept: they still describe the original data). After
// Reseal only the damage made on purpose remains for a reader to find.
func Reseal(entries []Entry) error {
	byName := map[string][]byte{}
	for i, e := range entries {
		byName[e.Header.Name] = e.Data
		// The checksum an entry's own header announces (pack.EntrySHA256Record) too.
		if _, ok := e.Header.PAXRecords[pack.EntrySHA256Record]; ok {
			recs := maps.Clone(e.Header.PAXRecords)
			recs[pack.EntrySHA256Record] = sha(e.Data)
			entries[i].Header.PAXRecords = recs
		}
	}
	return editManifest(entries, func(m *pack.Manifest) error {
		m.HeaderSHA256 = sha(byName[pack.HeaderName])
		for ti := range m.Tables {
			te := &m.Tables[ti]
			te.Rows, te.Bytes, te.RefRows = 0, 0, 0
			for ci := range te.Chunks {
				c := &te.Chunks[ci]
				data := byName[c.Name]
				c.SHA256, c.Bytes, c.Rows = sha(data), int64(len(data)), int64(bytes.Count(data, []byte{'\n'}))
				te.Rows += c.Rows
				te.Bytes += c.Bytes
			}
			for ci := range te.Refs {
				c := &te.Refs[ci]
				data := byName[c.Name]
				c.SHA256, c.Bytes, c.Rows = sha(data), int64(len(data)), int64(bytes.Count(data, []byte{'\n'}))
				te.RefRows += c.Rows
			}
			if d, ok := m.Digest.Tables[te.Table]; ok {
				d.Rows = te.Rows
				m.Digest.Tables[te.Table] = d
			}
		}
		m.Digest.Total = pack.NewDigest(m.Digest.Tables).Total
		return nil
	})
}

// TableRows is one table's rows in a package: its layout and its COPY text rows (no newline),
// every data chunk of the table concatenated.
type TableRows struct {
	Layout pack.TableLayout
	Rows   [][]byte
}

// Col returns the index of column name, or -1.
func (t *TableRows) Col(name string) int { return Column(t.Layout.Columns, name) }

// readRows returns the data rows of table index.
func readRows(entries []Entry, lay pack.TableLayout) *TableRows {
	out := &TableRows{Layout: lay}
	for _, e := range entries {
		ti, _, ok := pack.ParseDataName(e.Header.Name)
		if !ok || ti != lay.Index || !strings.HasPrefix(e.Header.Name, "data/") {
			continue
		}
		for _, line := range bytes.Split(bytes.TrimSuffix(e.Data, []byte{'\n'}), []byte{'\n'}) {
			if len(e.Data) > 0 {
				out.Rows = append(out.Rows, append([]byte(nil), line...))
			}
		}
	}
	return out
}

// writeRows replaces the data entries of t's table with one entry holding t.Rows (none when
// there are no rows), and lists it in the manifest. Call Reseal afterwards.
func writeRows(entries []Entry, t *TableRows) ([]Entry, error) {
	var text []byte
	for _, r := range t.Rows {
		text = append(append(text, r...), '\n')
	}
	// The table's entry goes where its data was: before the first entry that follows it in the
	// reader's order (a later table's, its own reference rows, or the manifest).
	var out []Entry
	placed := false
	for _, e := range entries {
		ti, _, ok := pack.ParseDataName(e.Header.Name)
		ref := ok && strings.HasPrefix(e.Header.Name, "refs/")
		if ok && ti == t.Layout.Index && !ref {
			continue
		}
		if !placed && (e.Header.Name == pack.ManifestName || (ok && (ti > t.Layout.Index || ref && ti == t.Layout.Index))) {
			if len(text) > 0 {
				out = append(out, File(pack.DataName(t.Layout.Index, 0), text))
			}
			placed = true
		}
		out = append(out, e)
	}
	err := editManifest(out, func(m *pack.Manifest) error {
		for i := range m.Tables {
			if m.Tables[i].Index == t.Layout.Index {
				m.Tables[i].Chunks = []pack.Chunk{}
				if len(text) > 0 {
					m.Tables[i].Chunks = []pack.Chunk{{Name: pack.DataName(t.Layout.Index, 0)}}
				}
				return nil
			}
		}
		return fmt.Errorf("manifest does not list table %s", t.Layout.Table)
	})
	return out, err
}
