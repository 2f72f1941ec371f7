package digest

import (
	"bytes"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/edmsdr/edmsdr/engine/introspect"
	"github.com/edmsdr/edmsdr/engine/keys"
	"github.com/edmsdr/edmsdr/engine/pgquote"
	"github.com/edmsdr/edmsdr/engine/schema"
	"github.com/edmsdr/edmsdr/fixtures/localpg/localpgtest"
)

func TestMain(m *testing.M) { os.Exit(localpgtest.RunShared(m)) }

// hostile are values whose record text needs quoting or escaping, or looks like it does not.
const hostile = `('', ' '), ('a b', 'x'), ('q"uote', 'y'), ('back\slash', 'z'), ('(paren)', 'w'), ('com,ma', 'v'),
 (E'tab\there', 'u'), (E'new\nline', 't'), (E'cr\rhere', 's'), (E'\\N', 'r'), ('NULL', 'q'), ('é中🙂', 'p'),
 (E'nb\u00a0sp', 'o'), (E'nel\u0085x', 'n'), (E'ff\fvt\x0bbs\b', 'm'), ('plain', NULL), ('"', '\')`

// TestStreamedDigestEqualsSQL: the digest hashed from the COPY stream equals the digest SQL
// computes, table by table, on references (plain, cyclic, a tree, generic), keyless rows and
// values that need quoting; the rows passed on are exactly what a plain COPY of the table gives.
func TestStreamedDigestEqualsSQL(t *testing.T) {
	tc := localpgtest.Shared(t)
	conn := tc.Connect(t, tc.NewDatabase(t, "stream"))
	ctx := localpgtest.Context(t, 2*time.Minute)
	if _, err := conn.Exec(ctx, `
CREATE TABLE django_content_type (id serial PRIMARY KEY, app_label text NOT NULL, model text NOT NULL, UNIQUE (app_label, model));
CREATE TABLE "Fol ders" (id serial PRIMARY KEY, parent_id int REFERENCES "Fol ders", name text NOT NULL, UNIQUE (parent_id, name));
CREATE TABLE doc (id serial PRIMARY KEY, number text UNIQUE NOT NULL, title text, folder_id int REFERENCES "Fol ders",
  current_version_id int, meta jsonb, tags text[], f float8, n numeric, at timestamptz, ok boolean, raw bytea);
CREATE TABLE version (id serial PRIMARY KEY, doc_id int NOT NULL REFERENCES doc, num int NOT NULL, note text, UNIQUE (doc_id, num));
ALTER TABLE doc ADD FOREIGN KEY (current_version_id) REFERENCES version DEFERRABLE INITIALLY DEFERRED;
CREATE TABLE audit (id serial PRIMARY KEY, content_type_id int REFERENCES django_content_type, object_id text, what text);
CREATE TABLE note (doc_id int REFERENCES doc, body text);
CREATE TABLE part (id int NOT NULL, doc_id int REFERENCES doc, k text, PRIMARY KEY (id, k)) PARTITION BY LIST (k);
CREATE TABLE part_a PARTITION OF part FOR VALUES IN ('a');
CREATE TABLE part_b PARTITION OF part DEFAULT;
CREATE TABLE h (a text, b text);
CREATE TABLE app_item (id serial PRIMARY KEY, name text UNIQUE NOT NULL);
CREATE TABLE app_thing (id serial PRIMARY KEY, code text UNIQUE NOT NULL, item_id int REFERENCES app_item);
CREATE TABLE tracker (id serial PRIMARY KEY, content_type_id int REFERENCES django_content_type, object_id int, what text);
INSERT INTO h VALUES `+hostile+`;
INSERT INTO django_content_type (app_label, model) VALUES ('app', 'doc'), ('app', 'version'), ('app', 'gone');
INSERT INTO "Fol ders" (parent_id, name) VALUES (NULL, 'root'), (1, 'a b'), (2, 'c"d'), (1, ''), (NULL, 'other');
INSERT INTO doc (number, title, folder_id, meta, tags, f, n, at, ok, raw)
  SELECT 'D' || a, b, 1 + (i % 5), jsonb_build_object('k', a, 'n', i), ARRAY[a, b, NULL], i / 3.0, i * 1.5, '2024-01-01'::timestamptz + i * interval '1 hour', i % 2 = 0, convert_to(a, 'UTF8')
  FROM (SELECT row_number() OVER () AS i, a, b FROM h) x;
INSERT INTO version (doc_id, num, note) SELECT d.id, v, d.title FROM doc d, generate_series(1, 2) v;
UPDATE doc SET current_version_id = (SELECT max(id) FROM version v WHERE v.doc_id = doc.id) WHERE id % 3 <> 0;
INSERT INTO audit (content_type_id, object_id, what) SELECT 1, id::text, title FROM doc;
INSERT INTO audit (content_type_id, object_id, what) SELECT 2, id::text, note FROM version;
INSERT INTO audit (content_type_id, object_id, what) VALUES (3, '7', 'gone'), (1, '99999', 'dangling'), (NULL, NULL, NULL), (1, 'x', 'not a number');
INSERT INTO django_content_type (app_label, model) VALUES ('app', 'item'), ('app', 'thing');
INSERT INTO app_item (name) SELECT 'item ' || i FROM generate_series(1, 6) i;
INSERT INTO app_thing (code, item_id) SELECT 'T' || i, 1 + i % 6 FROM generate_series(1, 9) i;
ALTER TABLE tracker ALTER object_id TYPE bigint;
INSERT INTO tracker (content_type_id, object_id, what) SELECT 4, id, name FROM app_item;
INSERT INTO tracker (content_type_id, object_id, what) SELECT 5, id, code FROM app_thing;
INSERT INTO tracker (content_type_id, object_id, what) VALUES (4, 99999, 'dangling'), (3, 1, 'gone'), (NULL, 2, 'no type'), (5, NULL, NULL),
  (4, -5, 'negative'), (NULL, NULL, 'neither'), (1, 1, 'a content type the audit uses'),
  (4, -9223372036854775807, 'far'), (5, 0, 'zero');
INSERT INTO note SELECT id, title FROM doc;
INSERT INTO note SELECT id, title FROM doc WHERE id < 4;
INSERT INTO note VALUES (NULL, NULL);
SET session_replication_role = replica; -- references to no row: hashed as '?' and the id
INSERT INTO note VALUES (99999, 'dangling'), (-3, 'negative');
INSERT INTO version (doc_id, num, note) VALUES (88888, 1, 'dangling');
RESET session_replication_role;
INSERT INTO part SELECT id, id, CASE WHEN id % 2 = 0 THEN 'a' ELSE title END FROM doc WHERE title IS NOT NULL;
-- Harvested identities: a keyless table in a cycle with a generic foreign key (both left out of
-- its identity), ids negative and far apart (held sparse), hostile values; a table referring to
-- it; a tree a generic foreign key names; a negative id in a keyed table.
CREATE TABLE kl (id bigint PRIMARY KEY, label text, doc_id int REFERENCES doc, peer_id bigint, content_type_id int REFERENCES django_content_type, object_id int);
CREATE TABLE kl2 (id bigint PRIMARY KEY, kl_id bigint REFERENCES kl, v text);
ALTER TABLE kl ADD FOREIGN KEY (peer_id) REFERENCES kl2;
CREATE TABLE kref (id serial PRIMARY KEY, kl_id bigint REFERENCES kl, kl2_id bigint REFERENCES kl2, note text);
CREATE TABLE app_node (id serial PRIMARY KEY, parent_id int REFERENCES app_node, name text NOT NULL, UNIQUE (parent_id, name));
CREATE UNIQUE INDEX ON app_node (name) WHERE parent_id IS NULL;
INSERT INTO django_content_type (app_label, model) VALUES ('app', 'node'), ('app', 'kl');
INSERT INTO app_node (parent_id, name) VALUES (NULL, 'r'), (1, 'a'), (2, 'b'), (1, 'c d');
INSERT INTO kl (id, label, doc_id, content_type_id, object_id)
  SELECT CASE WHEN i % 3 = 0 THEN -9000000000000000000 + i WHEN i % 3 = 1 THEN -i ELSE 9000000000000000000 - i END, a, i, 1 + i % 2, i
  FROM (SELECT row_number() OVER () AS i, a FROM h) x;
INSERT INTO kl (id, label) VALUES (0, NULL), (1, 'dup label'), (2, 'dup label');
INSERT INTO kl2 (id, kl_id, v) SELECT id, id, label FROM kl;
INSERT INTO kl2 (id, kl_id, v) VALUES (12345, NULL, 'no kl');
UPDATE kl SET peer_id = id WHERE id % 2 = 0;
INSERT INTO kref (kl_id, kl2_id, note) SELECT id, id, label FROM kl;
INSERT INTO kref (kl_id, kl2_id, note) VALUES (NULL, NULL, 'nothing'), (1, 12345, 'x');
INSERT INTO app_item (id, name) VALUES (-7, 'negative item'), (0, 'zero item');
INSERT INTO app_thing (code, item_id) VALUES ('neg', -7), ('none', NULL), ('zero', 0);
INSERT INTO tracker (content_type_id, object_id, what) SELECT 6, id, name FROM app_node;
INSERT INTO tracker (content_type_id, object_id, what) SELECT 7, id, label FROM kl WHERE id BETWEEN -2147483648 AND 2147483647;
INSERT INTO tracker (content_type_id, object_id, what) VALUES (4, -7, 'negative item'), (6, 99, 'no node'), (2, 1, 'a version'), (7, 3, 'no kl');
SET session_replication_role = replica;
INSERT INTO app_thing (code, item_id) VALUES ('dangling', 4242), ('dangling negative', -4242);
INSERT INTO kref (kl_id, kl2_id, note) VALUES (-1234567, 7777777, 'dangling');
RESET session_replication_role;
`); err != nil {
		t.Fatal(err)
	}
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead})
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // temp tables only
	if why, err := StreamCheck(ctx, tx); err != nil || why != "" {
		t.Fatalf("StreamCheck = %q, %v; want streaming on the test cluster", why, err)
	}
	sch, err := introspect.Read(ctx, tx, introspect.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// A generic foreign key with a text object id (compared as text) whose content types name no
	// table, and one with an integer object id into two tables (app_item, app_thing), declared.
	kf := &keys.File{GenericForeignKeys: []keys.GenericFKSpec{{Table: "public.audit", ContentType: "content_type_id", ObjectID: "object_id"},
		{Table: "public.tracker", ContentType: "content_type_id", ObjectID: "object_id"},
		{Table: "public.kl", ContentType: "content_type_id", ObjectID: "object_id"}}}
	plan, err := keys.Build(sch, kf)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.GenericFKs) == 0 {
		t.Fatal("the test needs a generic foreign key (audit)")
	}
	sqlSession, err := NewSession(tx, sch, plan, Options{Prefix: "_t_sql"})
	if err != nil {
		t.Fatal(err)
	}
	want, err := sqlSession.All(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Identity tables with keys, and without (ScanJoins, the backup's); generic foreign keys
	// joined to each content type's identities, and (joins 0) to one table holding them all;
	// references resolved by the client (HoldGenericIdentities) with room for every table's
	// identities, for the content types' (5 ids, 88 bytes, the tracker's plain reference) and one
	// of app_item's and app_thing's (6 and 9 ids: 104 and 152 bytes; the other joined on the
	// server), for none: the same digests.
	defer func(n int) { maxGenericJoins = n }(maxGenericJoins)
	//
	// With harvest, identities are also harvested from the streams (harvest.go), in the order a
	// backup streams the tables (the document versions first in their cycle): with room for all,
	// for some (the rest built by the server), and with the one table past maxGenericJoins. Every
	// harvested set must hold exactly what the server's identity table holds.
	sqlIdents := map[string]*IdentitySet{}
	for _, v := range []struct {
		scan    bool
		joins   int
		hold    int64 // bytes of identities held; -1: HoldGenericIdentities not called
		harvest bool
	}{{false, 8, -1, false}, {true, 8, -1, false}, {false, 0, -1, false}, {true, 0, -1, false}, {true, 8, 1 << 20, false}, {true, 8, 212, false}, {false, 8, 0, false}, {true, 0, 1 << 20, false},
		{true, 8, 1 << 20, true}, {true, 8, 700, true}, {true, 8, 0, true}, {true, 0, 1 << 20, true}} {
		scan := v.scan
		maxGenericJoins = v.joins
		streamSession, err := NewSession(tx, sch, plan, Options{Prefix: fmt.Sprintf("_t_str%v%d_%d%v", scan, v.joins, v.hold+1, v.harvest), ScanJoins: scan})
		if err != nil {
			t.Fatal(err)
		}
		order := schema.BuildGraph(sch).Order
		harvested := map[string]*IdentitySet{}
		if v.hold >= 0 {
			streamSession.HoldGenericIdentities(tx.Conn().PgConn(), v.hold)
			streamSession.hold.plainAbove = 0 // plain references too, however few their targets
		}
		if v.harvest {
			if order, err = streamSession.StreamOrder(ctx, map[string]float64{"public.version": 2, "public.doc": 1}); err != nil {
				t.Fatal(err)
			}
			if err := streamSession.HarvestIdentities(ctx, order, nil); err != nil {
				t.Fatal(err)
			}
			if got := streamSession.Harvested(); !slices.Contains(got, "public.app_item") || slices.Contains(got, "public.app_node") || slices.Contains(got, "public.note") {
				t.Errorf("harvested %v: want app_item, not the tree app_node, nor note (no id)", got)
			}
			streamSession.hold.onHarvest = func(q string, set *IdentitySet) { harvested[q] = set }
			pos := map[string]int{}
			for i, tbl := range order {
				pos[tbl.QName()] = i
			}
			for _, before := range [][2]string{{"public.version", "public.doc"}, {"public.doc", "public.tracker"}, {"public.app_node", "public.tracker"},
				{"public.app_thing", "public.tracker"}, {"public.kl", "public.tracker"}, {"public.kl", "public.kref"}} {
				if pos[before[0]] >= pos[before[1]] {
					t.Errorf("stream order %v: %s not before %s", order, before[0], before[1])
				}
			}
		}
		for _, tbl := range order {
			got, sql, h := streamAndCompare(t, ctx, tx, streamSession, tbl, want, fmt.Sprintf("scan joins %v, generic joins %d, held %d", scan, v.joins, v.hold))
			var plain bytes.Buffer
			if plainHeld := len(h.held) > 0 && h.held[0].ct < 0; v.hold >= 1<<20 && tbl.QName() == "public.note" && !plainHeld {
				t.Errorf("note (held %d): its reference to doc is not resolved by the client (%s)", v.hold, sql)
			}
			if v.harvest {
				checkHarvest(t, streamSession, v.hold, tbl, sql)
			}
			if tbl.QName() == "public.tracker" && !v.harvest {
				// The client resolves what it was given room for, the server the rest.
				held := false
				for _, f := range h.held {
					held = held || f.ct >= 0 && len(f.sets) > 0
				}
				onServer := strings.Contains(sql, "CASE") || strings.Contains(sql, "_g ")
				wantHeld, wantServer := v.hold > 0 && v.joins > 0, v.hold < 1<<20 || v.joins == 0
				if held != wantHeld || onServer != wantServer {
					t.Errorf("tracker (generic joins %d, held %d): identities held %v, joined on the server %v; want %v, %v (%s)", v.joins, v.hold, held, onServer, wantHeld, wantServer, sql)
				}
			}
			if _, err := tx.Conn().PgConn().CopyTo(ctx, &plain, "COPY (SELECT "+pgquote.Idents(tbl.DataColumns())+" FROM "+pgquote.Table(tbl.QName())+") TO STDOUT"); err != nil {
				t.Fatal(err)
			}
			if v.harvest {
				// TableCopy would build the identity tables the harvest spares.
				if !sameLines(got, plain.Bytes()) {
					t.Errorf("%s: rows passed on differ from a plain COPY:\n%s\nwant\n%s", tbl.Display(), got, plain.String())
				}
				continue
			}
			tc, err := streamSession.TableCopy(ctx, tx.Conn().PgConn(), tbl.QName(), "")
			if err != nil {
				t.Fatal(err)
			}
			if w := want.Tables[tbl.QName()]; !tc.Equal(w) {
				t.Errorf("%s (scan joins %v, generic joins %d): TableCopy digest %+v, SQL digest %+v", tbl.Display(), scan, v.joins, tc, w)
			}
			if !sameLines(got, plain.Bytes()) {
				t.Errorf("%s: rows passed on differ from a plain COPY:\n%s\nwant\n%s", tbl.Display(), got, plain.String())
			}
		}
		if !v.harvest {
			continue
		}
		// Every harvested set holds what the server's identity table holds, id for id.
		if v.hold >= 1<<20 && len(harvested) < 6 {
			t.Errorf("harvest (held %d): only %d tables harvested: %v", v.hold, len(harvested), harvested)
		}
		for q, set := range harvested {
			want := sqlIdents[q]
			if want == nil {
				if want, err = sqlSession.Identities(ctx, tx.Conn().PgConn(), q, 1<<30); err != nil {
					t.Fatal(err)
				}
				sqlIdents[q] = want
			}
			if got, w := identityMap(set), identityMap(want); !maps.Equal(got, w) || len(w) == 0 {
				t.Errorf("%s (held %d): harvested identities differ from the server's:\n%v\nwant\n%v", q, v.hold, got, w)
			}
		}
	}
}

// checkHarvest checks, for one table streamed with identities harvested, that the tables it
// refers to whose identities were harvested and fit the budget got no identity table on the
// server, and that a table whose every reference was harvested streams as a plain COPY.
func checkHarvest(t *testing.T, d *Session, hold int64, tbl *schema.Table, sql string) {
	t.Helper()
	if hold < 1<<20 {
		return
	}
	switch tbl.QName() {
	case "public.app_thing", "public.kref":
		if want := "COPY " + pgquote.Table(tbl.QName()) + " ("; !strings.HasPrefix(sql, want) {
			t.Errorf("%s: its references were harvested, yet it streams as %s", tbl.Display(), sql)
		}
	}
	// Built by the server nonetheless: doc (the versions stream first, in their cycle), version
	// (the audit's text object ids are joined on the server), app_node (a tree).
	for _, q := range []string{"public.app_item", "public.app_thing", "public.kl"} {
		if name, ok := d.idents[q]; ok && maxGenericJoins > 0 {
			t.Errorf("%s streamed: the server built the identities of %s (%s), which were harvested", tbl.Display(), q, name)
		}
	}
}

// identityMap is an IdentitySet as a map.
func identityMap(s *IdentitySet) map[int64][16]byte {
	out := map[int64][16]byte{}
	if s.Dense() {
		for off := range s.hs {
			if s.present[off/64]&(1<<(off%64)) != 0 {
				out[s.min+int64(off)] = s.hs[off]
			}
		}
		return out
	}
	for i, id := range s.ids {
		out[id] = s.hs[i]
	}
	return out
}

// sameLines compares two COPY outputs as multisets of rows.
func sameLines(a, b []byte) bool {
	count := map[string]int{}
	for _, l := range bytes.SplitAfter(a, []byte{'\n'}) {
		count[string(l)]++
	}
	for _, l := range bytes.SplitAfter(b, []byte{'\n'}) {
		count[string(l)]--
	}
	for _, n := range count {
		if n != 0 {
			return false
		}
	}
	return true
}

func TestHasherPiecesAndErrors(t *testing.T) {
	var out bytes.Buffer
	h := &Hasher{dst: &out, ncols: 2, nfields: 3, order: []int{2, 1}}
	for _, p := range []string{"1\tb", "\\tc\tx", "\n2\t\\N\t\n"} {
		if _, err := h.Write([]byte(p)); err != nil {
			t.Fatal(err)
		}
	}
	td, err := h.Close()
	if err != nil || td.Rows != 2 {
		t.Fatalf("Close = %+v, %v", td, err)
	}
	if out.String() != "1\tb\\tc\n2\t\\N\n" {
		t.Errorf("passed on %q", out.String())
	}
	if _, err := h.Write([]byte("1\t2\n")); err == nil {
		t.Error("a row with too few fields is not an error")
	}
	h2 := &Hasher{dst: &out, ncols: 1, nfields: 1}
	_, _ = h2.Write([]byte("partial"))
	if _, err := h2.Close(); err == nil {
		t.Error("a stream ending inside a row is not an error")
	}
	var a acc
	for _, v := range []int64{-1, -1, 1 << 62, 1 << 62, 1 << 62} {
		a.add(v)
	}
	if a.String() != "13835058055282163710" {
		t.Errorf("acc = %s", a.String())
	}
}
