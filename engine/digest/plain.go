package digest

import (
	"fmt"
	"io"
	"slices"
)

// Hashing rows as they are sent (restore): the digest of a table whose digest columns are all
// plain values — no reference replaced by the identity of its target, no generic foreign key —
// is a function of the table's COPY text alone, so a restore can hash a package's rows as it
// sends them and compare them with the package's digest without reading them back.

// PlainColumns returns the columns the digest of qname hashes, in the digest's order, and whether
// every one of them is a plain value (no reference, no generic foreign key under the session's
// plan): then a Hasher from NewRowHasher over the table's COPY text computes the table's digest,
// the same as Table.
func (d *Session) PlainColumns(qname string) ([]string, bool, error) {
	t, err := d.table(qname)
	if err != nil {
		return nil, false, err
	}
	cols := d.contentColumns(t)
	for _, c := range cols {
		if d.gfkFor(t, c) != nil || d.domains.Of(qname, c) != "" {
			return cols, false, nil
		}
	}
	return cols, true, nil
}

// NewRowHasher returns a Hasher of COPY text rows whose columns are cols, in that order, hashing
// each row over the columns hashed (as PlainColumns returns them) as Table hashes a row whose
// digest columns are all plain values. It passes nothing on.
func NewRowHasher(cols, hashed []string) (*Hasher, error) {
	h := &Hasher{dst: io.Discard, ncols: len(cols), nfields: len(cols)}
	for _, c := range hashed {
		p := slices.Index(cols, c)
		if p < 0 {
			return nil, fmt.Errorf("digest: column %s is not among the rows' columns", c)
		}
		h.order = append(h.order, p)
	}
	return h, nil
}
