package restore_test

import (
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/edmsdr/edmsdr/engine/backup"
	"github.com/edmsdr/edmsdr/engine/pack"
	"github.com/edmsdr/edmsdr/engine/restore"
)

// largeDDL adds a table of files (natural key name) and a keyless one to ddl.
const largeDDL = `
CREATE TABLE file (id serial PRIMARY KEY, name text NOT NULL UNIQUE, kind_id int REFERENCES kind (id), data bytea, thumb bytea);
CREATE TABLE chunk (data bytea, n int);`

const largeRows = `
CREATE FUNCTION rnd(n int) RETURNS bytea LANGUAGE sql AS $$ SELECT string_agg(uuid_send(gen_random_uuid()), '') FROM generate_series(1, n / 16) $$;
INSERT INTO file (name, kind_id, data, thumb) VALUES ('a.pdf', 1, rnd(8000), rnd(160)), ('b.pdf', 2, NULL, rnd(4000)),
  ('c.pdf', NULL, rnd(1600), rnd(2400)), ('d.pdf', 1, rnd(160), ''::bytea);
INSERT INTO chunk SELECT v, 1 FROM (SELECT rnd(3200) AS v) x, generate_series(1, 2);
INSERT INTO chunk VALUES (rnd(48), 2);`

// TestLargeValuesRestore: values backed up as entries of their own (threshold forced to 1000
// bytes) are restored into their rows, merged into a target that holds one of the rows with
// other content (updated) or replacing the tables, to the source's digest and bytes.
func TestLargeValuesRestore(t *testing.T) {
	for _, c := range []struct {
		name string
		opts restore.Options
	}{
		{"update", restore.Options{OnExisting: restore.Update}},
		{"replace", restore.Options{Mode: restore.Replace}},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, largeDDL+sourceRows+largeRows, ddl+largeDDL, targetSeed+`
INSERT INTO file (name, data) VALUES ('a.pdf', '\x00'::bytea);`)
			cfg, err := pgx.ParseConfig(e.src)
			if err != nil {
				t.Fatal(err)
			}
			e.pkg = filepath.Join(t.TempDir(), "large.edmsdr")
			res, err := backup.Run(e.ctx, cfg, e.pkg, backup.Options{Tool: "restore test", LargeValue: 1000})
			if err != nil {
				t.Fatal(err)
			}
			var large int
			for _, te := range res.Manifest.Tables {
				large += len(te.Large)
			}
			if res.Manifest.Format != pack.FormatLargeValues || large != 6 {
				t.Fatalf("package format %d with %d large values, want format 2 with 6", res.Manifest.Format, large)
			}
			if _, err := e.restore(c.opts); err != nil {
				t.Fatalf("restore: %v", err)
			}
			if got, want := e.digestOf(e.tgt), e.digestOf(e.src); got != want {
				t.Errorf("target digest %s, source %s", got, want)
			}
			src, err := pgx.Connect(e.ctx, e.src)
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close(e.ctx)
			for _, q := range []string{
				`SELECT string_agg(name || md5(coalesce(data, '')) || md5(coalesce(thumb, '')) || (data IS NULL)::text || (thumb IS NULL)::text, ',' ORDER BY name) FROM file`,
				`SELECT string_agg(md5(data) || n, ',' ORDER BY n, md5(data)) FROM chunk`,
			} {
				var want string
				if err := src.QueryRow(e.ctx, q).Scan(&want); err != nil {
					t.Fatal(err)
				}
				if got := e.text(q); got != want {
					t.Errorf("%s:\n target %s\n source %s", q, got, want)
				}
			}
		})
	}
}
