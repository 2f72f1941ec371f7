package backup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"os"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/edmsdr/edmsdr/engine/pack"
	"github.com/edmsdr/edmsdr/engine/pgquote"
	"github.com/edmsdr/edmsdr/engine/schema"
)

// Large values: a bytea longer than Options.LargeValue is read from the server in slices
// (digest.StreamTableLarge), hashed into its row's digest on the way, and spooled to an
// unlinked temporary file; its row goes into the table's data entries with NULL in its place.
// Once the table's data entries are written, each value becomes an entry of its own
// (pack.Writer.LargeValue). Memory is one slice, whatever the value's size; disk, the table's
// large values.

// largeTables returns the tables (by qualified name) holding a bytea value longer than above
// bytes. octet_length reads the length from the stored value's header, without detoasting it:
// one scan of each table with bytea columns.
func largeTables(ctx context.Context, tx pgx.Tx, tables []*schema.Table, above int64) (map[string]bool, error) {
	out := map[string]bool{}
	for _, t := range tables {
		var conds []string
		for _, c := range t.Columns {
			if c.Type == "bytea" && !c.Generated {
				conds = append(conds, fmt.Sprintf("octet_length(%s) > %d", pgquote.Ident(c.Name), above))
			}
		}
		if len(conds) == 0 {
			continue
		}
		only := "ONLY "
		if t.Partitioned {
			only = ""
		}
		var found bool
		sql := fmt.Sprintf("SELECT EXISTS (SELECT 1 FROM %s%s WHERE %s)", only, pgquote.Table(t.QName()), strings.Join(conds, " OR "))
		if err := tx.QueryRow(ctx, sql).Scan(&found); err != nil {
			return nil, fmt.Errorf("find large values in %s: %w", t.Display(), err)
		}
		if found {
			out[t.QName()] = true
		}
	}
	return out, nil
}

// largeSpool holds one table's large values until its data entries are written.
type largeSpool struct {
	f      *os.File
	size   int64
	values []spooledValue
	h      hash.Hash
}

type spooledValue struct {
	row        int64
	column     string
	off, bytes int64
	sum        string
}

func newLargeSpool(dir string) (*largeSpool, error) {
	f, err := os.CreateTemp(dir, "edmsdr-backup-*.large")
	if err != nil {
		return nil, fmt.Errorf("spool large values: %w", err)
	}
	_ = os.Remove(f.Name()) // unlinked at once: nothing is left behind
	return &largeSpool{f: f, h: sha256.New()}, nil
}

// add is the digest.LargeSink: slices arrive in order, value after value.
func (s *largeSpool) add(row int64, column string, total, off int64, data []byte) error {
	if off == 1 {
		s.values = append(s.values, spooledValue{row: row, column: column, off: s.size})
		s.h.Reset()
	}
	v := &s.values[len(s.values)-1]
	if v.row != row || v.column != column || v.bytes != off-1 {
		return fmt.Errorf("large value of row %d, column %s: a slice at %d after %d bytes", row, column, off, v.bytes)
	}
	if _, err := s.f.Write(data); err != nil {
		return fmt.Errorf("spool large value: %w", err)
	}
	s.h.Write(data)
	s.size += int64(len(data))
	v.bytes += int64(len(data))
	if v.bytes == total {
		v.sum = hex.EncodeToString(s.h.Sum(nil))
	}
	return nil
}

// write writes the spooled values as entries of table index.
func (s *largeSpool) write(ctx context.Context, w *pack.Writer, index int, qname string) error {
	for _, v := range s.values {
		if v.sum == "" {
			return fmt.Errorf("large value of row %d, column %s: incomplete (%d bytes)", v.row, v.column, v.bytes)
		}
		if err := w.LargeValue(ctx, index, qname, v.row, v.column, io.NewSectionReader(s.f, v.off, v.bytes), v.bytes, v.sum); err != nil {
			return err
		}
	}
	return nil
}

func (s *largeSpool) close() {
	if s.f != nil {
		s.f.Close()
		s.f = nil
	}
}
