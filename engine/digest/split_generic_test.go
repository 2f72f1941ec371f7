package digest

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/edmsdr/edmsdr/engine/keys"
	"github.com/edmsdr/edmsdr/engine/pack"
	"github.com/edmsdr/edmsdr/engine/pgquote"
	"github.com/edmsdr/edmsdr/fixtures/localpg/localpgtest"
)

// genericDDL has content types naming tables with natural keys, a keyless table (the audit
// trail itself), a model without a table; an audit trail (Django's pattern, detected) and a
// table whose generic key the keys file declares, its object id before its content type and
// first of its split columns. Their rows cover every generic case the digest distinguishes.
const genericDDL = `
CREATE TABLE django_content_type (id serial PRIMARY KEY, app_label text NOT NULL, model text NOT NULL, UNIQUE (app_label, model));
CREATE TABLE app_doc (id serial PRIMARY KEY, number text NOT NULL UNIQUE);
CREATE TABLE app_ver (id serial PRIMARY KEY, doc_id int NOT NULL REFERENCES app_doc, num int NOT NULL, UNIQUE (doc_id, num));
CREATE TABLE app_auditentry (id serial PRIMARY KEY, action text, content_type_id int, object_id int,
  actor_id int REFERENCES app_doc, z text);
CREATE TABLE app_tag (id serial PRIMARY KEY, a_obj bigint, label text, z_type int REFERENCES django_content_type);
INSERT INTO django_content_type (app_label, model) VALUES ('app', 'doc'), ('app', 'ver'), ('app', 'ghost'), ('app', 'auditentry'), ('other', 'unused');
INSERT INTO app_doc (number) SELECT 'D' || i FROM generate_series(1, 40) i;
DELETE FROM app_doc WHERE id IN (7, 8, 30);
INSERT INTO app_ver (doc_id, num) SELECT d.id, v FROM app_doc d, generate_series(1, 2) v;
INSERT INTO app_auditentry (action, content_type_id, object_id, actor_id, z) VALUES
  ('neither', NULL, NULL, NULL, 'a'),
  ('object id without a content type', NULL, 5, 1, 'b'),
  ('content type without an object id', 1, NULL, 2, 'c, (d)'),
  ('a document', 1, 5, NULL, NULL),
  ('a document again', 1, 5, NULL, NULL),
  ('a deleted document', 1, 7, 3, 'e'),
  ('past the documents', 1, 1000, 3, 'f'),
  ('a negative id', 1, -3, 3, 'g'),
  ('a version', 2, 10, 4, 'h "quoted"'),
  ('a model without a table', 3, 1, 5, 'i'),
  ('an audit entry', 4, 1, 6, 'j'),
  ('a content type that does not exist', 99, 5, 6, 'k'),
  ('a content type that does not exist, no object', 99, NULL, 6, 'l');
INSERT INTO app_auditentry (action, content_type_id, object_id, actor_id)
  SELECT 'bulk ' || i, 1 + i % 2, 1 + i % 45, 1 + i % 6 FROM generate_series(1, 300) i;
INSERT INTO app_tag (a_obj, label, z_type) VALUES (1, 'a', 1), (2, 'b', 2), (NULL, 'c', 1), (5, 'd', NULL), (NULL, NULL, NULL), (9999999999, 'e', 2), (3, 'f', 3);
-- A generic object id that a foreign key also declares a reference: hashed as a generic one.
CREATE TABLE app_pin (id serial PRIMARY KEY, obj_id int REFERENCES app_doc, kind_id int REFERENCES django_content_type);
INSERT INTO app_pin (obj_id, kind_id) VALUES (1, 1), (2, 2), (5, NULL), (1, 3), (NULL, 1), (4, 1);
-- NOT VALID: a content type that does not exist, as a damaged source may hold.
ALTER TABLE app_auditentry ADD FOREIGN KEY (content_type_id) REFERENCES django_content_type NOT VALID;`

// TestSplitDigestEqualsSQLForGenericKeys: rows with generic foreign keys, hashed from their COPY
// text up to their first split column, then completed with the identities of the rows their
// content types name, give the digest SQL computes: for a NULL content type or object id, a
// content type naming a model without a table or none that exists, an object id matching no
// row, a row naming its own table; the object id before or after its content type, or also a
// reference by a foreign key; with the
// content types joined one by one and past maxGenericJoins through one table.
func TestSplitDigestEqualsSQLForGenericKeys(t *testing.T) {
	conn, ctx := testDB(t, "splitgen", genericDDL, 2*time.Minute)
	defer func(n int) { maxGenericJoins = n }(maxGenericJoins)
	for _, joins := range []int{8, 1} {
		t.Run(fmt.Sprintf("joins %d", joins), func(t *testing.T) {
			maxGenericJoins = joins
			tx, sch, plan := snapshot(t, ctx, conn, &keys.File{GenericForeignKeys: []keys.GenericFKSpec{
				{Table: "app_tag", ContentType: "z_type", ObjectID: "a_obj"}, {Table: "app_pin", ContentType: "kind_id", ObjectID: "obj_id"}}}, false)
			if len(plan.GenericFKs) != 3 {
				t.Fatalf("generic foreign keys %+v, want the audit trail's, the tags' and the pins'", plan.GenericFKs)
			}
			want, err := newSession(t, tx, sch, plan, Options{Prefix: "_t_sql"}).All(ctx, []string{"public.app_auditentry", "public.app_tag", "public.app_pin"})
			if err != nil {
				t.Fatal(err)
			}
			d := newSession(t, tx, sch, plan, Options{Prefix: "_t_split", ScanJoins: true})
			for _, qname := range []string{"public.app_auditentry", "public.app_tag", "public.app_pin"} {
				td, err := splitDigest(t, tx, d, qname)
				if err != nil {
					t.Fatalf("%s: %v", qname, err)
				}
				if w := want.Tables[qname]; !td.Equal(w) || td.Rows == 0 {
					t.Errorf("%s: split digest %+v, SQL digest %+v", qname, td, w)
				}
			}
		})
	}
}

// splitDigest digests qname as the restore's landing proof does: its COPY text through a
// generic SplitHasher, completed with the identities Identities reads and the content types
// GenericTargets names.
func splitDigest(t *testing.T, tx pgx.Tx, d *Session, qname string) (pack.TableDigest, error) {
	t.Helper()
	ctx := localpgtest.Context(t, time.Minute)
	tbl := d.s.Table(qname)
	cols := tbl.DataColumns()
	var rows bytes.Buffer
	if _, err := tx.Conn().PgConn().CopyTo(ctx, &rows, "COPY (SELECT "+pgquote.Idents(cols)+" FROM "+pgquote.Table(qname)+") TO STDOUT"); err != nil {
		return pack.TableDigest{}, err
	}
	hashed, refs, generic, err := d.HashColumns(qname)
	if err != nil || !generic {
		return pack.TableDigest{}, fmt.Errorf("HashColumns: generic %t, %v", generic, err)
	}
	cts, err := d.GenericColumns(qname)
	if err != nil {
		return pack.TableDigest{}, err
	}
	var spill bytes.Buffer
	s, err := NewGenericSplitHasher(cols, hashed, refs, cts, &spill)
	if err != nil {
		return pack.TableDigest{}, err
	}
	feed(t, s, rows.Bytes())
	if err := s.Close(); err != nil {
		return pack.TableDigest{}, err
	}
	held := map[string]*IdentitySet{}
	hold := func(table string) error {
		if held[table] == nil {
			in, err := d.Identities(ctx, tx.Conn().PgConn(), table, 1<<20)
			if err != nil {
				return err
			}
			held[table] = in
		}
		return nil
	}
	var domains []string
	var targets []map[int64]string
	for k := range hashed {
		switch {
		case cts[k] != "":
			m, err := d.GenericTargets(ctx, qname, cts[k])
			if err != nil {
				return pack.TableDigest{}, err
			}
			for _, table := range m {
				if err := hold(table); err != nil {
					return pack.TableDigest{}, err
				}
			}
			domains, targets = append(domains, ""), append(targets, m)
		case refs[k] != "":
			if err := hold(refs[k]); err != nil {
				return pack.TableDigest{}, err
			}
			domains, targets = append(domains, refs[k]), append(targets, nil)
		}
	}
	return FinishGenericSplit(&spill, refs, cts, s.Rows(), func(i int, id int64) ([16]byte, bool) {
		return held[domains[i]].Lookup(id)
	}, func(i int, ct, id int64) ([16]byte, bool) {
		table, ok := targets[i][ct]
		if !ok {
			return [16]byte{}, false
		}
		return held[table].Lookup(id)
	})
}
