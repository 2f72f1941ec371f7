package digest

import (
	"fmt"
	"io"
	"slices"
)

// NewRowHasher returns a Hasher of COPY text rows whose columns are cols, in that order, hashing
// each row over the columns hashed (as HashColumns returns them, none a reference) as Table
// hashes a row whose digest columns are all plain values: the digest of such a table is a
// function of its COPY text alone. It passes nothing on.
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
