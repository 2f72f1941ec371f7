package backup_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edmsdr/edmsdr/engine/backup"
	"github.com/edmsdr/edmsdr/engine/digest"
	"github.com/edmsdr/edmsdr/engine/keys"
	"github.com/edmsdr/edmsdr/fixtures/localpg/localpgtest"
)

// harvestSource: tables whose identities the backup harvests from its own stream, referenced
// from tables read on the second stream, with large values, through generic foreign keys, a
// keys-file reference, a cycle, and across schemas.
const harvestSource = `
CREATE SCHEMA app; CREATE SCHEMA other;
CREATE TABLE app.django_content_type (id serial PRIMARY KEY, app_label text NOT NULL, model text NOT NULL, UNIQUE (app_label, model));
CREATE TABLE app.folder (id int PRIMARY KEY, name text NOT NULL UNIQUE);
CREATE TABLE app.doc (id bigint PRIMARY KEY, folder_id int REFERENCES app.folder, number text NOT NULL, cur_id bigint, UNIQUE (number, folder_id));
CREATE TABLE app.version (id bigint PRIMARY KEY, doc_id bigint NOT NULL REFERENCES app.doc, num int NOT NULL, UNIQUE (doc_id, num));
ALTER TABLE app.doc ADD FOREIGN KEY (cur_id) REFERENCES app.version DEFERRABLE INITIALLY DEFERRED;
CREATE TABLE app.blob (id int PRIMARY KEY, version_id bigint REFERENCES app.version, data bytea);
CREATE TABLE app.tag (id smallint PRIMARY KEY, label text);
CREATE TABLE app.doc_tag (doc_id bigint REFERENCES app.doc, tag_id smallint REFERENCES app.tag, loose_doc bigint);
CREATE TABLE app.audit (id serial PRIMARY KEY, content_type_id int REFERENCES app.django_content_type, object_id int, blob_id int REFERENCES app.blob, what text);
CREATE TABLE app.hidden (id int PRIMARY KEY, folder_id int REFERENCES app.folder);
CREATE TABLE other.ext (id int PRIMARY KEY, name text);
CREATE TABLE app.uses_ext (id int PRIMARY KEY, ext_id int REFERENCES other.ext, doc_id bigint REFERENCES app.doc);
INSERT INTO app.django_content_type (app_label, model) VALUES ('app', 'doc'), ('app', 'version'), ('app', 'blob'), ('app', 'tag'), ('app', 'folder'), ('app', 'gone');
INSERT INTO app.folder SELECT i, 'f' || i FROM generate_series(-3, 20) i;
BEGIN;
INSERT INTO app.doc SELECT i::bigint * 1000000007, (i % 24) - 3, 'D' || (i % 500), NULL FROM generate_series(1, 3000) i;
INSERT INTO app.version SELECT d.id + v, d.id, v FROM app.doc d, generate_series(1, 2) v;
UPDATE app.doc SET cur_id = id + 2 WHERE id % 3 <> 0;
COMMIT;
INSERT INTO app.blob SELECT i, (i % 3000 + 1)::bigint * 1000000007 + 1, CASE WHEN i % 7 = 0 THEN decode(repeat('ab', 600), 'hex') ELSE decode(md5(i::text), 'hex') END FROM generate_series(1, 400) i;
INSERT INTO app.tag SELECT i, CASE WHEN i % 2 = 0 THEN 'same' ELSE E'odd\\tag' END FROM generate_series(-5, 40) i;
INSERT INTO app.doc_tag SELECT d.id, (d.id % 46) - 5, d.id FROM app.doc d;
INSERT INTO app.doc_tag VALUES (NULL, NULL, NULL), (NULL, 7, -1);
INSERT INTO app.audit (content_type_id, object_id, blob_id, what) SELECT 3, id, id, 'blob' FROM app.blob;
INSERT INTO app.audit (content_type_id, object_id, blob_id, what) SELECT 4, id, NULL, label FROM app.tag;
INSERT INTO app.audit (content_type_id, object_id, blob_id, what) SELECT 5, id, NULL, name FROM app.folder;
INSERT INTO app.audit (content_type_id, object_id, blob_id, what) VALUES (1, 1, NULL, 'doc id past int'), (6, 1, NULL, 'gone'), (4, 99, NULL, 'no tag'), (NULL, 3, NULL, NULL);
INSERT INTO app.hidden SELECT i, i FROM generate_series(1, 5) i;
INSERT INTO other.ext SELECT i, 'e' || i FROM generate_series(1, 5) i;
INSERT INTO app.uses_ext SELECT i, i, i::bigint * 1000000007 FROM generate_series(1, 5) i;`

// TestBackupHarvestDigestIsSQLs: whatever the backup harvests, with one stream or two, large
// values apart or not, its package's digest is the digest SQL computes of the same data, table by
// table.
func TestBackupHarvestDigestIsSQLs(t *testing.T) {
	cfg, conn, ctx := sourceDB(t, "bharvest", harvestSource, 4*time.Minute)
	kf := &keys.File{
		Exclude: []string{"app.hidden"},
		ContentTypes: &keys.ContentTypeSpec{Table: "app.django_content_type", Models: map[string]string{"app.doc": "app.doc", "app.version": "app.version",
			"app.blob": "app.blob", "app.tag": "app.tag", "app.folder": "app.folder"}},
		GenericForeignKeys: []keys.GenericFKSpec{{Table: "app.audit", ContentType: "content_type_id", ObjectID: "object_id"}},
		References:         map[string]string{"app.doc_tag.loose_doc": "app.doc(id)"},
	}
	db, err := digest.OfDatabase(ctx, conn, digest.DatabaseOptions{Keys: kf})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		streams int
		large   int64
	}{{1, 0}, {2, 0}, {1, 100}, {2, 100}} {
		out := filepath.Join(t.TempDir(), "b.edmsdr")
		var logged bytes.Buffer
		log := slog.New(slog.NewTextHandler(&logged, &slog.HandlerOptions{Level: slog.LevelDebug}))
		res, err := backup.Run(ctx, cfg, out, backup.Options{Keys: kf, Streams: c.streams, LargeValue: c.large, TempDir: t.TempDir(), Log: log})
		if err != nil {
			t.Fatalf("%+v: %v", c, err)
		}
		name := fmt.Sprintf("streams %d, large above %d", c.streams, c.large)
		harvested := ""
		for _, l := range strings.Split(logged.String(), "\n") {
			if strings.Contains(l, "identities harvested") {
				harvested = l
			}
		}
		if !strings.Contains(harvested, "app.") {
			t.Errorf("%s: nothing harvested: %q", name, harvested)
		}
		t.Logf("%s: %s", name, harvested)
		m := verify(t, out)
		for q, want := range db.Summary.Tables {
			if got, ok := m.Digest.Tables[q]; !ok || !got.Equal(want) {
				t.Errorf("%s: %s: package digest %+v, SQL %+v (%s)", name, q, got, want, harvested)
			}
		}
		if m.Digest.Total != db.Summary.Total || res.Manifest.Digest.Total != db.Summary.Total || len(m.Digest.Tables) != len(db.Summary.Tables) {
			t.Errorf("%s: package digest %s (%d tables), SQL %s (%d tables)", name, m.Digest.Total, len(m.Digest.Tables), db.Summary.Total, len(db.Summary.Tables))
		}
	}
}

// TestBackupTouchesNoTableOutsideIt: a table the backup leaves out (excluded by the keys file, or
// in a schema it does not read) held ACCESS EXCLUSIVE by another session (a migration, VACUUM
// FULL, a restore's direct load) does not stop the backup: it reads the sizes of its own tables
// only (the stream order's and the second stream's costs), never locking the others.
func TestBackupTouchesNoTableOutsideIt(t *testing.T) {
	cfg, conn, ctx := newSource(t)
	if _, err := conn.Exec(ctx, `CREATE SCHEMA elsewhere; CREATE TABLE elsewhere.busy (id int PRIMARY KEY); CREATE TABLE public.busy (id int PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	tc := localpgtest.Shared(t)
	locker := tc.Connect(t, cfg.ConnString())
	tx, err := locker.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // the lock only
	if _, err := tx.Exec(ctx, `LOCK TABLE elsewhere.busy, public.busy IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	for _, streams := range []int{1, 2} {
		bctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		_, err := backup.Run(bctx, cfg, filepath.Join(t.TempDir(), "b.edmsdr"), backup.Options{Streams: streams, Schemas: []string{"public"}, Keys: &keys.File{Exclude: []string{"busy"}}})
		cancel()
		if err != nil {
			t.Errorf("streams %d: a table outside the backup, locked by another session: %v", streams, err)
		}
	}
}

// TestInheritanceOutsideTheBackupKeepsTheStreamedDigest: a parent with an inheritance child in a
// schema the backup leaves out does not turn the streamed digest (and with it the harvest and the
// large values' own entries) off: only the tables digested can read otherwise in COPY and SQL.
func TestInheritanceOutsideTheBackupKeepsTheStreamedDigest(t *testing.T) {
	cfg, conn, ctx := newSource(t)
	if _, err := conn.Exec(ctx, `CREATE SCHEMA legacy; CREATE TABLE legacy.parent (id int); CREATE TABLE legacy.child () INHERITS (legacy.parent)`); err != nil {
		t.Fatal(err)
	}
	var logged bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logged, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if _, err := backup.Run(ctx, cfg, filepath.Join(t.TempDir(), "b.edmsdr"), backup.Options{Schemas: []string{"public"}, Log: log}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(logged.String(), "second scan") || !strings.Contains(logged.String(), "identities harvested") {
		t.Errorf("inheritance in a schema the backup leaves out turned the streamed digest off:\n%s", logged.String())
	}
	// In the backup, it must (COPY reads a parent alone, SQL with its children).
	logged.Reset()
	if _, err := backup.Run(ctx, cfg, filepath.Join(t.TempDir(), "b.edmsdr"), backup.Options{Log: log}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logged.String(), "second scan") {
		t.Errorf("inheritance in the backup left the streamed digest on:\n%s", logged.String())
	}
}
