package digest

import (
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/edmsdr/edmsdr/engine/keys"
	"github.com/edmsdr/edmsdr/engine/schema"
)

// TestHarvestAttacks: shapes the harvest must get right or leave to the server, each streamed in
// StreamOrder with identities harvested (room for all, for a few, for none; with tables left to
// another stream), every table's digest compared with SQL's and every harvested set, id for id,
// with the server's identity table.
func TestHarvestAttacks(t *testing.T) {
	for _, c := range []struct {
		name string
		ddl  string
		kf   *keys.File
		skip []string
		want string // a table whose identities must be harvested when they fit
	}{
		{name: "natural key out of column order, smallint ids, hostile values", ddl: `
CREATE TABLE k (id smallint PRIMARY KEY, z text NOT NULL, a text, m int, UNIQUE (z, a));
CREATE TABLE r (id serial PRIMARY KEY, k_id smallint REFERENCES k, k2_id bigint REFERENCES k, note text);
CREATE TABLE h (a text, b text);
INSERT INTO h VALUES ` + hostile + `;
INSERT INTO k SELECT (row_number() OVER () - 9)::smallint, coalesce(b, 'nb'), a, 1 FROM h;
INSERT INTO k VALUES (32767, 'max', NULL, 2), (-32768, 'min', NULL, 3), (100, 'max', '', 4);
INSERT INTO r (k_id, k2_id, note) SELECT id, id, z FROM k WHERE id % 2 = 0;
INSERT INTO r (k_id, k2_id, note) SELECT id, id, a FROM k;
SET session_replication_role = replica;
INSERT INTO r (k_id, k2_id, note) VALUES (1000, 9223372036854775807, 'dangling'), (NULL, -9223372036854775808, NULL);
RESET session_replication_role;`, want: "public.k"},
		{name: "keys-file natural key reversed through a reference, keyless chain", ddl: `
CREATE TABLE p (id int PRIMARY KEY, name text);
CREATE TABLE c (id int PRIMARY KEY, p_id int REFERENCES p, code text, extra text);
CREATE TABLE kl (id bigint PRIMARY KEY, c_id int REFERENCES c, p_id int REFERENCES p, v text);
CREATE TABLE u (id serial PRIMARY KEY, kl_id bigint REFERENCES kl, c_id int REFERENCES c);
INSERT INTO p VALUES (1, 'one'), (2, 'two'), (3, 'one'), (-4, NULL), (5, E'back\\slash');
INSERT INTO c VALUES (10, 1, 'x', 'e1'), (11, 2, 'x', 'e2'), (12, 3, 'x', 'e3'), (13, NULL, 'y', NULL), (14, -4, NULL, 'e5'), (15, 1, 'x', 'dup key');
INSERT INTO kl SELECT c.id * 1000, c.id, c.p_id, c.extra FROM c;
INSERT INTO kl VALUES (1, NULL, NULL, NULL), (2, NULL, NULL, NULL), (3, 10, 1, 'e1');
INSERT INTO u (kl_id, c_id) SELECT id, c_id FROM kl;
SET session_replication_role = replica;
INSERT INTO kl VALUES (4, 999, -999, 'dangling');
INSERT INTO u (kl_id, c_id) VALUES (4, 999), (77, NULL);
RESET session_replication_role;`,
			kf: &keys.File{Tables: map[string]keys.TableSpec{"public.c": {NaturalKey: &[]string{"code", "p_id"}}, "public.p": {NaturalKey: &[]string{"name"}}}}},
		{name: "a cycle keyed and keyless, a generic foreign key into both", ddl: `
CREATE TABLE django_content_type (id serial PRIMARY KEY, app_label text NOT NULL, model text NOT NULL, UNIQUE (app_label, model));
CREATE TABLE app_a (id int PRIMARY KEY, b_id int, name text NOT NULL, UNIQUE (b_id, name));
CREATE TABLE app_b (id int PRIMARY KEY, a_id int REFERENCES app_a DEFERRABLE INITIALLY DEFERRED, v text);
ALTER TABLE app_a ADD FOREIGN KEY (b_id) REFERENCES app_b DEFERRABLE INITIALLY DEFERRED;
CREATE TABLE app_log (id serial PRIMARY KEY, content_type_id int REFERENCES django_content_type, object_id bigint, a_id int REFERENCES app_a, what text);
INSERT INTO django_content_type (app_label, model) VALUES ('app', 'a'), ('app', 'b'), ('app', 'log');
BEGIN;
INSERT INTO app_b SELECT i, i, 'b' || (i % 3) FROM generate_series(1, 40) i;
INSERT INTO app_a SELECT i, CASE WHEN i % 5 = 0 THEN NULL ELSE 41 - i END, 'a' || (i % 4) FROM generate_series(1, 40) i;
COMMIT;
INSERT INTO app_b VALUES (-1, NULL, NULL), (0, 3, 'b0');
INSERT INTO app_log (content_type_id, object_id, a_id, what) SELECT 1, id, id, name FROM app_a;
INSERT INTO app_log (content_type_id, object_id, a_id, what) SELECT 2, id, NULL, v FROM app_b;
INSERT INTO app_log (content_type_id, object_id, a_id, what) VALUES (3, 1, NULL, 'itself'), (2, -1, 1, 'neg'), (1, 99, NULL, 'none'), (NULL, 1, NULL, NULL);`,
			kf: &keys.File{GenericForeignKeys: []keys.GenericFKSpec{{Table: "public.app_log", ContentType: "content_type_id", ObjectID: "object_id"}}}, want: "public.app_b"},
		{name: "harvested tables and users left to another stream", ddl: `
CREATE TABLE p (id int PRIMARY KEY, name text UNIQUE);
CREATE TABLE q (id int PRIMARY KEY, p_id int REFERENCES p, v text);
CREATE TABLE side (id int PRIMARY KEY, q_id int REFERENCES q, p_id int REFERENCES p);
CREATE TABLE last (id int PRIMARY KEY, side_id int REFERENCES side, q_id int REFERENCES q, p_id int REFERENCES p);
INSERT INTO p SELECT i, 'p' || i FROM generate_series(-5, 30) i;
INSERT INTO q SELECT i, i % 7, 'v' || (i % 3) FROM generate_series(1, 50) i;
INSERT INTO side SELECT i, i, i % 30 FROM generate_series(1, 50) i;
INSERT INTO last SELECT i, i, 51 - i, -(i % 6) FROM generate_series(1, 50) i;`,
			skip: []string{"public.side"}},
		{name: "a partitioned table harvested through its root, referenced plainly and generically", ddl: `
CREATE TABLE django_content_type (id serial PRIMARY KEY, app_label text NOT NULL, model text NOT NULL, UNIQUE (app_label, model));
CREATE TABLE app_ev (id bigint PRIMARY KEY, name text NOT NULL, at int) PARTITION BY RANGE (id);
CREATE TABLE app_ev_lo PARTITION OF app_ev FOR VALUES FROM (MINVALUE) TO (0);
CREATE TABLE app_ev_hi PARTITION OF app_ev FOR VALUES FROM (0) TO (MAXVALUE);
CREATE TABLE app_ref (id serial PRIMARY KEY, ev_id bigint REFERENCES app_ev, content_type_id int REFERENCES django_content_type, object_id bigint);
INSERT INTO django_content_type (app_label, model) VALUES ('app', 'ev');
INSERT INTO app_ev SELECT i * 1000, 'e' || (i % 5), i FROM generate_series(-20, 20) i;
INSERT INTO app_ref (ev_id, content_type_id, object_id) SELECT id, 1, -id FROM app_ev;
INSERT INTO app_ref (ev_id, content_type_id, object_id) VALUES (NULL, 1, 7), (NULL, NULL, 0);`,
			kf: &keys.File{GenericForeignKeys: []keys.GenericFKSpec{{Table: "public.app_ref", ContentType: "content_type_id", ObjectID: "object_id"}}}, want: "public.app_ev"},
	} {
		t.Run(c.name, func(t *testing.T) {
			conn, ctx := testDB(t, "harvest", c.ddl, 2*time.Minute)
			tx, sch, plan := snapshot(t, ctx, conn, c.kf, false)
			sqlSession := newSession(t, tx, sch, plan, Options{Prefix: "_t_sql"})
			want, err := sqlSession.All(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			skip := map[string]bool{}
			for _, q := range c.skip {
				skip[q] = true
			}
			for k, hold := range []int64{1 << 20, 600, 200, 0} {
				d := newSession(t, tx, sch, plan, Options{Prefix: fmt.Sprintf("_t_h%d", k), ScanJoins: true})
				d.HoldGenericIdentities(tx.Conn().PgConn(), hold)
				sizes := map[string]float64{}
				for i, tbl := range sch.Tables {
					sizes[tbl.QName()] = float64(i % 3)
				}
				order, err := d.StreamOrder(ctx, sizes)
				if err != nil {
					t.Fatal(err)
				}
				if err := d.HarvestIdentities(ctx, order, skip); err != nil {
					t.Fatal(err)
				}
				harvested := map[string]*IdentitySet{}
				d.hold.onHarvest = func(q string, set *IdentitySet) { harvested[q] = set }
				side := newSession(t, tx, sch, plan, Options{Prefix: fmt.Sprintf("_t_s%d", k), ScanJoins: true})
				for _, tbl := range order {
					s := d
					if skip[tbl.QName()] {
						s = side
					}
					streamAndCompare(t, ctx, tx, s, tbl, want, fmt.Sprintf("held %d", hold))
				}
				if _, ok := harvested[c.want]; hold >= 1<<20 && c.want != "" && !ok {
					t.Errorf("held %d: %s not harvested (planned %v)", hold, c.want, d.Harvested())
				}
				if hold >= 1<<20 && len(harvested) == 0 {
					t.Errorf("held %d: nothing harvested (planned %v)", hold, d.Harvested())
				}
				for q, set := range harvested {
					if skip[q] {
						t.Errorf("%s harvested, though another stream reads it", q)
					}
					w, err := sqlSession.Identities(ctx, tx.Conn().PgConn(), q, 1<<30)
					if err != nil {
						t.Fatal(err)
					}
					if got, w := identityMap(set), identityMap(w); !maps.Equal(got, w) || len(w) == 0 {
						t.Errorf("%s (held %d): harvested identities differ from the server's:\n%v\nwant\n%v", q, hold, got, w)
					}
				}
			}
		})
	}
}

// TestStreamCheckTablesOnlyItsOwn: a table with inheritance children turns streaming off for the
// whole database (StreamCheck), and for a schema holding it, not for one that leaves it out.
func TestStreamCheckTablesOnlyItsOwn(t *testing.T) {
	conn, ctx := testDB(t, "inherit", `CREATE SCHEMA legacy; CREATE TABLE legacy.parent (id int); CREATE TABLE legacy.child () INHERITS (legacy.parent);
CREATE TABLE app (id int PRIMARY KEY)`, time.Minute)
	tx, sch, _ := snapshot(t, ctx, conn, nil, false)
	whole, err := StreamCheck(ctx, tx)
	if err != nil || whole == "" {
		t.Errorf("StreamCheck = %q, %v; want inheritance reported", whole, err)
	}
	if why, err := StreamCheckTables(ctx, tx, sch); err != nil || why != whole {
		t.Errorf("StreamCheckTables(every table) = %q, %v; want %q", why, err, whole)
	}
	sch.Tables = slices.DeleteFunc(sch.Tables, func(tb *schema.Table) bool { return tb.Schema == "legacy" })
	sch.Index()
	if why, err := StreamCheckTables(ctx, tx, sch); err != nil || why != "" {
		t.Errorf("StreamCheckTables(without the parent) = %q, %v; want streaming", why, err)
	}
}
