package pack

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/edmsdr/edmsdr/engine/finding"
)

// fuzzLimits keep a fuzzed package from asking for much memory.
var fuzzLimits = Limits{MaxHeaderBytes: 64 << 10, MaxManifestBytes: 256 << 10, MaxEntryBytes: 1 << 20, MaxTotalBytes: 4 << 20, MaxRatio: 100}

// FuzzVerify feeds mutated packages to Verify and to the streaming Reader: neither may panic,
// and each must either accept the package (with a manifest) or refuse it with findings of kind
// Corrupt or Unsupported.
func FuzzVerify(f *testing.F) {
	small := []testTable{{qname: "public.t", cols: []string{"id", "v"}, rows: []string{"1\ta", "2\t\\N", "3\tb\\tc"}}, {qname: "public.e", cols: []string{"x"}}}
	for _, c := range []struct {
		tables []testTable
		chunk  int
	}{{small, 0}, {small, 4}, {nil, 0}, {sampleTables()[:3], 512}} {
		path := filepath.Join(f.TempDir(), "seed.edmsdr")
		writePackage(f, path, c.tables, WriterOptions{ChunkBytes: c.chunk})
		pkg, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(pkg)
		f.Add(pkg[:len(pkg)/2])
	}
	f.Add([]byte{})
	f.Add([]byte("age-encryption.org/v1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Verify(bytes.NewReader(data), fuzzLimits)
		checkOutcome(t, "Verify", m, err)
		m, err = streamPartially(data)
		checkOutcome(t, "Reader", m, err)
	})
}

func checkOutcome(t *testing.T, what string, m *Manifest, err error) {
	t.Helper()
	if err == nil {
		if m == nil {
			t.Fatalf("%s: no error and no manifest", what)
		}
		return
	}
	l := finding.FindingsOf(err)
	if len(l) == 0 {
		t.Fatalf("%s: error without findings: %v", what, err)
	}
	for _, f := range l {
		if f.Kind != finding.Corrupt && f.Kind != finding.Unsupported {
			t.Fatalf("%s: finding of kind %s: %v", what, f.Kind, err)
		}
	}
}

// streamPartially reads a package through a Reader, reading a few bytes of every other entry and
// leaving the rest to Next, as a consumer that stops early would.
func streamPartially(data []byte) (*Manifest, error) {
	rd, err := NewReader(bytes.NewReader(data), fuzzLimits)
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	for i := 0; ; i++ {
		e, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return rd.Manifest(), nil
		}
		if err != nil {
			return nil, err
		}
		if i%2 == 0 {
			if _, err := e.Read(make([]byte, 7)); err != nil && !errors.Is(err, io.EOF) && len(finding.FindingsOf(err)) == 0 {
				return nil, err
			}
		}
	}
}

// FuzzVerifyArchive mutates the tar stream inside a package and compresses the result, so that
// mutations reach the archive, header, manifest and row checks instead of dying on the zstd
// checksum. The same outcomes as FuzzVerify are required.
func FuzzVerifyArchive(f *testing.F) {
	small := []testTable{{qname: "public.t", cols: []string{"id", "v"}, rows: []string{"1\ta", "2\t\\N"}}, {qname: "public.e", cols: []string{"x"}}}
	for _, tables := range [][]testTable{small, nil, sampleTables()[:1]} {
		path := filepath.Join(f.TempDir(), "seed.edmsdr")
		writePackage(f, path, tables, WriterOptions{ChunkBytes: 8})
		pkg, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(tarBytes(f, unpack(f, pkg)))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		pkg := compress(t, raw)
		m, err := Verify(bytes.NewReader(pkg), fuzzLimits)
		checkOutcome(t, "Verify", m, err)
		m, err = streamPartially(pkg)
		checkOutcome(t, "Reader", m, err)
	})
}
