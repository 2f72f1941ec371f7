package digest

import (
	"errors"
	"testing"
	"time"

	"github.com/edmsdr/edmsdr/engine/keys"
)

// TestIdentitiesDenseAndSparse: identities are held by offset where ids fill most of their range
// (about 16 bytes an id: more of them fit the same budget than at 24 bytes a row), else sorted;
// either way every id finds its identity as the identity table holds it, and no other id finds
// one (gaps, below the smallest, past the largest, the extremes of int64).
func TestIdentitiesDenseAndSparse(t *testing.T) {
	conn, ctx := testDB(t, "idents", `
CREATE TABLE dense (id bigint PRIMARY KEY, name text NOT NULL UNIQUE);
INSERT INTO dense SELECT i, 'n' || i FROM generate_series(-5, 994) i WHERE i % 10 <> 3;
CREATE TABLE sparse (id bigint PRIMARY KEY, name text NOT NULL UNIQUE);
INSERT INTO sparse VALUES (-9223372036854775808, 'min'), (-1, 'a'), (0, 'zero'), (7, 'b'), (1000000, 'c'), (9223372036854775807, 'max');
CREATE TABLE empty (id bigint PRIMARY KEY, name text NOT NULL UNIQUE);`, 2*time.Minute)
	tx, sch, plan := snapshot(t, ctx, conn, &keys.File{}, false)
	d := newSession(t, tx, sch, plan, Options{Prefix: "_t_id"})
	for _, c := range []struct {
		table      string
		rows       int64
		dense      bool
		probes     []int64
		fits, over int64 // a budget it fits, one it does not
	}{
		// 900 ids over a range of 1000: 16000 + 128 bytes dense, 21600 sparse.
		{"public.dense", 900, true, []int64{-9223372036854775808, -7, -6, -5, -4, -1, 0, 3, 13, 500, 993, 994, 995, 1000, 9223372036854775807}, 16128, 16127},
		{"public.sparse", 6, false, []int64{-9223372036854775808, -9223372036854775807, -2, -1, 0, 1, 7, 8, 999999, 1000000, 9223372036854775806, 9223372036854775807}, 144, 143},
		{"public.empty", 0, false, []int64{0, 1, -1}, 0, -1},
	} {
		if _, err := d.Identities(ctx, tx.Conn().PgConn(), c.table, c.over); !errors.Is(err, ErrTooManyIdentities) {
			t.Errorf("%s: identities within %d bytes: %v, want ErrTooManyIdentities", c.table, c.over, err)
		}
		in, err := d.Identities(ctx, tx.Conn().PgConn(), c.table, c.fits)
		if err != nil {
			t.Fatalf("%s: %v", c.table, err)
		}
		if in.Len() != c.rows || in.Dense() != c.dense || in.Bytes() > c.fits {
			t.Errorf("%s: %d identities, dense %t, %d bytes; want %d, %t, at most %d", c.table, in.Len(), in.Dense(), in.Bytes(), c.rows, c.dense, c.fits)
		}
		want := map[int64][16]byte{}
		rows, err := tx.Query(ctx, "SELECT id, h FROM "+d.idents[c.table])
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var id int64
			var h [16]byte
			if err := rows.Scan(&id, &h); err != nil {
				t.Fatal(err)
			}
			want[id] = h
		}
		if rows.Err() != nil {
			t.Fatal(rows.Err())
		}
		if int64(len(want)) != c.rows {
			t.Fatalf("%s: %d identities in SQL, want %d", c.table, len(want), c.rows)
		}
		probes := c.probes
		for id := range want {
			probes = append(probes, id)
		}
		found := 0
		for _, id := range probes {
			h, ok := in.Lookup(id)
			w, wok := want[id]
			if ok != wok || h != w {
				t.Errorf("%s: id %d: %x %t, want %x %t", c.table, id, h, ok, w, wok)
			}
			if ok {
				found++
			}
		}
		if found < len(want) {
			t.Errorf("%s: %d ids found, want at least %d", c.table, found, len(want))
		}
	}
}
