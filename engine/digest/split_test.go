package digest

import (
	"bytes"
	"errors"
	"sort"
	"testing"
	"time"

	"github.com/edmsdr/edmsdr/engine/keys"
	"github.com/edmsdr/edmsdr/engine/pgquote"
	"github.com/edmsdr/edmsdr/engine/schema"
)

// TestSplitDigestEqualsSQL: rows hashed from their COPY text up to their first reference, then
// completed from the spill with the referenced rows' identities, give the digest SQL computes,
// on references first, last and between hostile values, NULL and dangling references, a tree
// and a cycle; plain tables through NewRowHasher likewise.
func TestSplitDigestEqualsSQL(t *testing.T) {
	conn, ctx := testDB(t, "split", `
CREATE TABLE "Fol ders" (id serial PRIMARY KEY, parent_id int REFERENCES "Fol ders", name text NOT NULL, UNIQUE (parent_id, name));
CREATE TABLE doc (id serial PRIMARY KEY, number text UNIQUE NOT NULL, title text, folder_id int REFERENCES "Fol ders",
  current_version_id int, meta jsonb, raw bytea, zz text);
CREATE TABLE version (id serial PRIMARY KEY, doc_id int NOT NULL REFERENCES doc, num int NOT NULL, a_note text, UNIQUE (doc_id, num));
ALTER TABLE doc ADD FOREIGN KEY (current_version_id) REFERENCES version DEFERRABLE INITIALLY DEFERRED;
CREATE TABLE note (doc_id int, body text);
CREATE TABLE h (a text, b text);
INSERT INTO h VALUES `+hostile+`;
INSERT INTO "Fol ders" (parent_id, name) VALUES (NULL, 'root'), (1, 'a b'), (2, 'c"d'), (1, ''), (NULL, 'other');
INSERT INTO doc (number, title, folder_id, meta, raw, zz)
  SELECT 'D' || a, b, CASE WHEN i % 4 = 0 THEN NULL ELSE 1 + (i % 5) END, jsonb_build_object('k', a), convert_to(a, 'UTF8'), a
  FROM (SELECT row_number() OVER () AS i, a, b FROM h) x;
INSERT INTO version (doc_id, num, a_note) SELECT d.id, v, d.title FROM doc d, generate_series(1, 2) v;
UPDATE doc SET current_version_id = (SELECT max(id) FROM version v WHERE v.doc_id = doc.id) WHERE id % 3 <> 0;
INSERT INTO note SELECT id, title FROM doc;
INSERT INTO note VALUES (NULL, NULL), (99999, 'dangling');
ALTER TABLE note ADD FOREIGN KEY (doc_id) REFERENCES doc NOT VALID;
`, 2*time.Minute)
	tx, sch, plan := snapshot(t, ctx, conn, &keys.File{}, false)
	want, err := newSession(t, tx, sch, plan, Options{Prefix: "_t_sql"}).All(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	d := newSession(t, tx, sch, plan, Options{Prefix: "_t_split"})
	split := 0
	for _, tbl := range schema.BuildGraph(sch).Order {
		cols := tbl.DataColumns()
		var rows bytes.Buffer
		if _, err := tx.Conn().PgConn().CopyTo(ctx, &rows, "COPY (SELECT "+pgquote.Idents(cols)+" FROM "+pgquote.Table(tbl.QName())+") TO STDOUT"); err != nil {
			t.Fatal(err)
		}
		hashed, refs, generic, err := d.HashColumns(tbl.QName())
		if err != nil || generic {
			t.Fatalf("%s: HashColumns: generic %t, %v", tbl.Display(), generic, err)
		}
		var domains []string
		for _, r := range refs {
			if r != "" {
				domains = append(domains, r)
			}
		}
		w := want.Tables[tbl.QName()]
		if len(domains) == 0 {
			h, err := NewRowHasher(cols, hashed)
			if err != nil {
				t.Fatal(err)
			}
			feed(t, h, rows.Bytes())
			if td, err := h.Close(); err != nil || !td.Equal(w) {
				t.Errorf("%s: row digest %+v (%v), SQL digest %+v", tbl.Display(), td, err, w)
			}
			continue
		}
		split++
		var spill bytes.Buffer
		s, err := NewSplitHasher(cols, hashed, refs, &spill)
		if err != nil {
			t.Fatal(err)
		}
		feed(t, s, rows.Bytes())
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		idents := map[string]map[int64][16]byte{}
		for _, dom := range domains {
			if idents[dom] != nil {
				continue
			}
			idents[dom] = map[int64][16]byte{}
			in, err := d.Identities(ctx, tx.Conn().PgConn(), dom, 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			for id := int64(-10); id < 100000; id++ {
				if h, ok := in.Lookup(id); ok {
					idents[dom][id] = h
				}
			}
		}
		td, err := FinishSplit(&spill, refs, s.Rows(), func(i int, id int64) ([16]byte, bool) {
			h, ok := idents[domains[i]][id]
			return h, ok
		})
		if err != nil || !td.Equal(w) || td.Rows == 0 {
			t.Errorf("%s: split digest %+v (%v), SQL digest %+v", tbl.Display(), td, err, w)
		}
	}
	if split < 4 {
		t.Errorf("%d tables with references hashed, want the 4 of the schema", split)
	}
	if _, err := d.Identities(ctx, tx.Conn().PgConn(), "public.doc", 3*16); !errors.Is(err, ErrTooManyIdentities) {
		t.Errorf("Identities over its limit: %v", err)
	}
}

// feed writes data in uneven pieces, cutting rows.
func feed(t *testing.T, w interface{ Write([]byte) (int, error) }, data []byte) {
	t.Helper()
	cuts := []int{0}
	for i := 7; i < len(data); i += 7 + i%13 {
		cuts = append(cuts, i)
	}
	cuts = append(cuts, len(data))
	sort.Ints(cuts)
	for i := 1; i < len(cuts); i++ {
		if _, err := w.Write(data[cuts[i-1]:cuts[i]]); err != nil {
			t.Fatal(err)
		}
	}
}
