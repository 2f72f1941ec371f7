package digest

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/jackc/pgx/v5/pgconn"
)

// ErrTooManyIdentities is returned by Identities when a table's identities would take more memory
// than allowed.
var ErrTooManyIdentities = errors.New("digest: more identities than allowed")

// IdentitySet holds the identities of a table's rows by surrogate id (see Identities), in the
// smaller of two forms: dense, when the ids fill most of their range (each identity at its id's
// offset from the smallest, with a presence bit: about 16 bytes an id of the range), or sparse,
// the ids in increasing order beside their identities (24 bytes a row). Tables keyed by a serial
// are dense, so about 1.5 times as many identities fit in the same memory.
type IdentitySet struct {
	n   int64
	min int64
	// dense: hs[id-min] is id's identity when bit id-min of present is set.
	present []uint64
	// sparse: ids in increasing order, hs[i] the identity of ids[i].
	ids []int64
	hs  [][16]byte
}

// Lookup returns the identity of the row with surrogate id id, false when there is none.
func (s *IdentitySet) Lookup(id int64) ([16]byte, bool) {
	if s.present != nil {
		off := uint64(id) - uint64(s.min)
		if id < s.min || off >= uint64(len(s.hs)) || s.present[off/64]&(1<<(off%64)) == 0 {
			return [16]byte{}, false
		}
		return s.hs[off], true
	}
	k := sort.Search(len(s.ids), func(i int) bool { return s.ids[i] >= id })
	if k < len(s.ids) && s.ids[k] == id {
		return s.hs[k], true
	}
	return [16]byte{}, false
}

// Len is the number of identities held.
func (s *IdentitySet) Len() int64 { return s.n }

// Bytes is the memory the identities take.
func (s *IdentitySet) Bytes() int64 {
	return int64(len(s.hs))*16 + int64(len(s.present))*8 + int64(len(s.ids))*8
}

// capBytes is the memory the set's slices hold (a harvested sparse set grows by doubling).
func (s *IdentitySet) capBytes() int64 {
	return int64(cap(s.hs))*16 + int64(cap(s.present))*8 + int64(cap(s.ids))*8
}

// Dense says whether the identities are held by offset from the smallest id.
func (s *IdentitySet) Dense() bool { return s.present != nil }

// maxDenseSpan bounds the range of ids held densely (beyond, the arithmetic of their size could
// overflow; any range that large is over every budget anyway).
const maxDenseSpan = 1 << 40

// identityForm says whether n identities with ids from min to max are held densely, and the
// bytes they then take.
func identityForm(n, min, max int64) (dense bool, size int64) {
	sparse := n * 24
	span := uint64(max) - uint64(min) // max - min, exact for max >= min in two's complement
	if n == 0 || max < min || span >= maxDenseSpan {
		return false, sparse
	}
	span++
	if d := int64(span)*16 + int64((span+63)/64)*8; d < sparse {
		return true, d
	}
	return false, sparse
}

// Identities returns the identity of every row of table qname as a reference to it is hashed
// (COPY over pc, the connection of the session's transaction). It refuses with
// ErrTooManyIdentities, before reading any, a table whose identities would take more than limit
// bytes in the smaller of their two forms (see IdentitySet).
func (d *Session) Identities(ctx context.Context, pc *pgconn.PgConn, qname string, limit int64) (*IdentitySet, error) {
	name, err := d.ident(ctx, qname)
	if err != nil {
		return nil, err
	}
	return d.identitiesIn(ctx, pc, name, qname, limit)
}

// identitiesIn is Identities of the identity table name; qname names its rows in errors.
func (d *Session) identitiesIn(ctx context.Context, pc *pgconn.PgConn, name, qname string, limit int64) (*IdentitySet, error) {
	c, err := d.countIdentities(ctx, name, qname)
	if err != nil {
		return nil, err
	}
	return d.readIdentities(ctx, pc, name, qname, c, limit)
}

// identityCount is the number and range of the ids of an identity table.
type identityCount struct{ n, lo, hi int64 }

// size is the memory the identities take once read (see identityForm).
func (c identityCount) size() int64 {
	_, size := identityForm(c.n, c.lo, c.hi)
	return size
}

func (d *Session) countIdentities(ctx context.Context, name, qname string) (identityCount, error) {
	var c identityCount
	if err := d.q.QueryRow(ctx, "SELECT count(*), coalesce(min(id), 0), coalesce(max(id), 0) FROM "+name).Scan(&c.n, &c.lo, &c.hi); err != nil {
		return c, fmt.Errorf("digest %s: count identities: %w", qname, err)
	}
	return c, nil
}

// readIdentities reads the identities of table name, counted c, refusing past limit bytes.
func (d *Session) readIdentities(ctx context.Context, pc *pgconn.PgConn, name, qname string, c identityCount, limit int64) (*IdentitySet, error) {
	n, lo, hi := c.n, c.lo, c.hi
	dense, size := identityForm(n, lo, hi)
	if size > limit {
		return nil, fmt.Errorf("%w: the identities of %s (%d rows, ids %d to %d) take %d bytes, at most %d are held", ErrTooManyIdentities, qname, n, lo, hi, size, limit)
	}
	s := &IdentitySet{n: n, min: lo}
	var add func(id int64, h [16]byte) error
	var read int64
	if dense {
		span := hi - lo + 1
		s.hs, s.present = make([][16]byte, span), make([]uint64, (span+63)/64)
		add = func(id int64, h [16]byte) error {
			if id < lo || id > hi {
				return fmt.Errorf("id %d outside %d to %d", id, lo, hi)
			}
			off := uint64(id - lo)
			if s.present[off/64]&(1<<(off%64)) != 0 {
				// An id twice would hash a reference as whichever identity came last.
				return fmt.Errorf("id %d twice", id)
			}
			s.present[off/64] |= 1 << (off % 64)
			s.hs[off] = h
			return nil
		}
	} else {
		s.ids, s.hs = make([]int64, 0, n), make([][16]byte, 0, n)
		add = func(id int64, h [16]byte) error {
			s.ids, s.hs = append(s.ids, id), append(s.hs, h)
			return nil
		}
	}
	w := &identityReader{fn: func(id int64, h [16]byte) error {
		if read == n {
			return errors.New("more rows than counted")
		}
		read++
		return add(id, h)
	}}
	// In the table's order, placed or sorted here: an identity table without an index
	// (Options.ScanJoins) would be sorted by the server, on disk beyond work_mem (4 MB: about 60k
	// identities).
	if _, err := pc.CopyTo(ctx, w, fmt.Sprintf("COPY (SELECT id, replace(h::text, '-', '') FROM %s) TO STDOUT", name)); err != nil {
		if w.err != nil {
			return nil, w.err
		}
		return nil, fmt.Errorf("digest %s: read identities: %w", qname, err)
	}
	if len(w.pending) > 0 {
		return nil, fmt.Errorf("digest %s: identities end inside a row", qname)
	}
	if w.err != nil {
		return nil, w.err
	}
	if read != n {
		return nil, fmt.Errorf("digest %s: identities: %d rows read, %d counted", qname, read, n)
	}
	if !dense {
		sort.Sort(byID{s.ids, s.hs})
		for i := 1; i < len(s.ids); i++ {
			if s.ids[i] == s.ids[i-1] {
				// Looked up by binary search: an id twice would hash a reference as whichever
				// identity the search lands on.
				return nil, fmt.Errorf("digest %s: identities: id %d twice", qname, s.ids[i])
			}
		}
	}
	return s, nil
}

// byID sorts identities by id.
type byID struct {
	ids []int64
	hs  [][16]byte
}

func (b byID) Len() int           { return len(b.ids) }
func (b byID) Less(i, j int) bool { return b.ids[i] < b.ids[j] }
func (b byID) Swap(i, j int) {
	b.ids[i], b.ids[j] = b.ids[j], b.ids[i]
	b.hs[i], b.hs[j] = b.hs[j], b.hs[i]
}
