package corrupt

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"

	"github.com/edmsdr/edmsdr/engine/pack"
	"github.com/edmsdr/edmsdr/engine/schema"
)

// view is a decoded package open for semantic damage: its header and manifest as values and its
// tables' rows. close writes everything back and reseals, so that checksums, sizes and counts
// are all correct again and only the damage itself remains.
type view struct {
	entries []Entry
	header  *pack.Header
	man     *pack.Manifest
	rows    map[int]*TableRows
}

func openView(src []byte) (*view, error) {
	es, err := Unpack(src)
	if err != nil {
		return nil, err
	}
	h, err := readHeader(es)
	if err != nil {
		return nil, err
	}
	m, err := readManifest(es)
	if err != nil {
		return nil, err
	}
	if m.Schema == nil || m.Plan == nil {
		return nil, fmt.Errorf("manifest without schema or key plan: %w", ErrNotApplicable)
	}
	return &view{entries: es, header: h, man: m, rows: map[int]*TableRows{}}, nil
}

// table returns the rows of the table at layout index i (decoded once, then edited in place).
func (v *view) table(i int) *TableRows {
	if t, ok := v.rows[i]; ok {
		return t
	}
	for _, lay := range v.header.Tables {
		if lay.Index == i {
			t := readRows(v.entries, lay)
			v.rows[i] = t
			return t
		}
	}
	return nil
}

// pick returns a table chosen by r among those with at least minRows rows for which ok holds
// (ok may be nil), with its schema snapshot.
func (v *view) pick(r *rand.Rand, minRows int, ok func(t *TableRows, st *schema.Table) bool) (*TableRows, *schema.Table, error) {
	type cand struct {
		t  *TableRows
		st *schema.Table
	}
	var cands []cand
	for _, lay := range v.header.Tables {
		t, st := v.table(lay.Index), v.man.Schema.Table(lay.Table)
		if st == nil || len(t.Rows) < minRows || (ok != nil && !ok(t, st)) {
			continue
		}
		cands = append(cands, cand{t, st})
	}
	if len(cands) == 0 {
		return nil, nil, ErrNotApplicable
	}
	c := cands[r.IntN(len(cands))]
	return c.t, c.st, nil
}

// maxID returns the highest value of column col in t's rows (0 when none is an integer).
func maxID(t *TableRows, col int) int64 {
	var out int64
	for _, row := range t.Rows {
		if n, err := strconv.ParseInt(string(Field(row, col)), 10, 64); err == nil && n > out {
			out = n
		}
	}
	return out
}

// byTable returns the rows of the table called qname.
func (v *view) byTable(qname string) *TableRows {
	for _, lay := range v.header.Tables {
		if lay.Table == qname {
			return v.table(lay.Index)
		}
	}
	return nil
}

// close writes the header, the manifest and every decoded table back, reseals and repacks.
func (v *view) close() ([]byte, error) {
	es := v.entries
	for _, lay := range v.header.Tables {
		if t, ok := v.rows[lay.Index]; ok {
			t.Layout = lay
			var err error
			if es, err = writeRows(es, t); err != nil {
				return nil, err
			}
		}
	}
	hdr, err := json.Marshal(v.header)
	if err != nil {
		return nil, fmt.Errorf("encode header: %w", err)
	}
	es[find(es, pack.HeaderName)].Data = hdr
	// writeRows changed the manifest's chunk lists: keep those, take everything else from v.man.
	cur, err := readManifest(es)
	if err != nil {
		return nil, err
	}
	v.man.Tables = cur.Tables
	man, err := json.Marshal(v.man)
	if err != nil {
		return nil, fmt.Errorf("encode manifest: %w", err)
	}
	es[find(es, pack.ManifestName)].Data = man
	if err := Reseal(es); err != nil {
		return nil, err
	}
	return Repack(es)
}
