package corrupt

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/edmsdr/edmsdr/engine/pack"
)

// EditFunc receives a table's qualified name, its COPY columns and its rows (COPY text lines
// without the newline) and returns the rows to write instead.
type EditFunc func(table string, columns []string, rows [][]byte) ([][]byte, error)

// Rewrite reads the package at in (which must verify) and writes a copy to out with every table's
// rows passed through edit, checksums and counts recomputed. The manifest's schema, key plan and
// per-table digest sums are kept as they were (they still describe the original data); the
// digest's row counts and its total follow the edit, so that the package verifies and only the
// engine's reconciliation can catch what changed.
func Rewrite(in, out string, edit EditFunc) error {
	f, err := os.Open(in)
	if err != nil {
		return fmt.Errorf("rewrite: %w", err)
	}
	defer f.Close()
	rd, err := pack.NewReader(f, pack.Limits{})
	if err != nil {
		return fmt.Errorf("rewrite %s: %w", in, err)
	}
	defer rd.Close()
	hdr := rd.Header()
	rows := map[int][][]byte{}
	for {
		e, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("rewrite %s: %w", in, err)
		}
		if e.Large {
			return fmt.Errorf("rewrite %s: large value entries are not rewritten", in)
		}
		data, err := io.ReadAll(e)
		if err != nil {
			return fmt.Errorf("rewrite %s: %w", in, err)
		}
		for _, line := range bytes.Split(bytes.TrimSuffix(data, []byte{'\n'}), []byte{'\n'}) {
			if len(data) > 0 {
				rows[e.Layout.Index] = append(rows[e.Layout.Index], append([]byte(nil), line...))
			}
		}
	}
	m := rd.Manifest()
	nm := *m
	nm.Digest.Tables = map[string]pack.TableDigest{}
	for q, t := range m.Digest.Tables {
		nm.Digest.Tables[q] = t
	}
	w, err := pack.Create(out, pack.WriterOptions{Overwrite: true})
	if err != nil {
		return fmt.Errorf("rewrite: %w", err)
	}
	if err := w.WriteHeader(hdr); err != nil {
		w.Abort()
		return err
	}
	for _, lay := range hdr.Tables {
		got, err := edit(lay.Table, lay.Columns, rows[lay.Index])
		if err != nil {
			w.Abort()
			return fmt.Errorf("rewrite %s: %w", lay.Table, err)
		}
		if d, ok := nm.Digest.Tables[lay.Table]; ok {
			d.Rows = int64(len(got))
			nm.Digest.Tables[lay.Table] = d
		}
		ts := w.Table(lay.Index, lay.Table)
		for _, row := range got {
			if _, err := ts.Write(append(append([]byte(nil), row...), '\n')); err != nil {
				w.Abort()
				return err
			}
		}
		if _, err := ts.Close(); err != nil {
			w.Abort()
			return err
		}
	}
	nm.Digest.Total = pack.NewDigest(nm.Digest.Tables).Total
	return w.Close(&nm)
}

// Field returns field i of a COPY text row.
func Field(row []byte, i int) []byte {
	f := bytes.Split(row, []byte{'\t'})
	if i < 0 || i >= len(f) {
		return nil
	}
	return f[i]
}

// SetField returns row with field i replaced by v (COPY text; `\N` is NULL).
func SetField(row []byte, i int, v []byte) []byte {
	f := bytes.Split(row, []byte{'\t'})
	if i < 0 || i >= len(f) {
		return row
	}
	f[i] = v
	return bytes.Join(f, []byte{'\t'})
}

// Column returns the index of name in columns, or -1.
func Column(columns []string, name string) int {
	for i, c := range columns {
		if c == name {
			return i
		}
	}
	return -1
}
