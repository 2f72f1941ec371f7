package backup_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/edmsdr/edmsdr/engine/backup"
	"github.com/edmsdr/edmsdr/engine/digest"
	"github.com/edmsdr/edmsdr/engine/finding"
	"github.com/edmsdr/edmsdr/engine/keys"
	"github.com/edmsdr/edmsdr/engine/pack"
	"github.com/edmsdr/edmsdr/fixtures/localpg/localpgtest"
)

func TestMain(m *testing.M) { os.Exit(localpgtest.RunShared(m)) }

const source = `
CREATE TABLE kind (id serial PRIMARY KEY, name text NOT NULL UNIQUE, label text NOT NULL);
CREATE TABLE node (id serial PRIMARY KEY, parent_id int REFERENCES node (id), name text NOT NULL,
                   kind_id int NOT NULL REFERENCES kind (id), CONSTRAINT node_parent_name UNIQUE (parent_id, name));
CREATE UNIQUE INDEX node_root_name ON node (name) WHERE parent_id IS NULL; -- with it, (parent_id, name) is a key
CREATE TABLE note (id serial PRIMARY KEY, node_id int NOT NULL REFERENCES node (id), body text);
CREATE TABLE "Odd ""Name""" (code text PRIMARY KEY, n int);
CREATE TABLE session_cache (k text PRIMARY KEY, v bytea);
INSERT INTO kind (name, label) VALUES ('a', 'A'), ('b', 'A');
INSERT INTO node (parent_id, name, kind_id) VALUES (NULL, 'root', 1), (1, 'x', 2);
INSERT INTO note (node_id, body) VALUES (1, 'one'), (2, NULL), (2, NULL);
INSERT INTO "Odd ""Name""" VALUES ('tab	and "quote"', 1);
INSERT INTO session_cache VALUES ('s', '\x00ff');`

// newSource creates a database holding source and returns its config and a connection.
func newSource(t *testing.T) (*pgx.ConnConfig, *pgx.Conn, context.Context) {
	t.Helper()
	return sourceDB(t, "bsrc", source, 2*time.Minute)
}

// sourceDB creates a database named after prefix holding what sql creates, and returns its
// config, a connection and a context for the test's database work, ending after d.
func sourceDB(t *testing.T, prefix, sql string, d time.Duration) (*pgx.ConnConfig, *pgx.Conn, context.Context) {
	t.Helper()
	tc := localpgtest.Shared(t)
	dsn := tc.NewDatabase(t, prefix)
	conn := tc.Connect(t, dsn)
	ctx := localpgtest.Context(t, d)
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatal(err)
	}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	return cfg, conn, ctx
}

func verify(t *testing.T, path string) *pack.Manifest {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := pack.Verify(f, pack.Limits{})
	if err != nil {
		t.Fatalf("verify %s: %v", path, err)
	}
	return m
}

func TestBackupWritesAPackageThatVerifiesWithEveryRowAndTheDigest(t *testing.T) {
	cfg, conn, ctx := newSource(t)
	out := filepath.Join(t.TempDir(), "b.edmsdr")
	res, err := backup.Run(ctx, cfg, out, backup.Options{Tool: "backup test"})
	if err != nil {
		t.Fatal(err)
	}
	m := verify(t, out)
	if m.Tool != "backup test" || res.Bytes <= 0 || res.Path != out {
		t.Errorf("tool %q, bytes %d, path %q", m.Tool, res.Bytes, res.Path)
	}
	rows := map[string]int64{}
	for _, te := range m.Tables {
		rows[te.Table] = te.Rows
	}
	for table, want := range map[string]int64{"public.kind": 2, "public.node": 2, "public.note": 3, `public.Odd "Name"`: 1, "public.session_cache": 1} {
		if rows[table] != want {
			t.Errorf("%s: %d rows in the package, want %d (tables %v)", table, rows[table], want, rows)
		}
	}
	db, err := digest.OfDatabase(ctx, conn, digest.DatabaseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if m.Digest.Total != db.Summary.Total || res.Manifest.Digest.Total != m.Digest.Total {
		t.Errorf("package digest %s, database %s", m.Digest.Total, db.Summary.Total)
	}
	plan := map[string][]string{}
	for q, tp := range m.Plan.Tables {
		plan[q] = tp.NaturalKey
	}
	for table, want := range map[string][]string{"public.kind": {"name"}, "public.node": {"parent_id", "name"}, "public.note": nil} {
		if !slices.Equal(plan[table], want) {
			t.Errorf("%s natural key %v, want %v", table, plan[table], want)
		}
	}
	if _, err := os.Stat(out + ".partial"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a partial file is left: %v", err)
	}
}

func TestBackupKeysFileExcludesAndDeclares(t *testing.T) {
	cfg, _, ctx := newSource(t)
	out := filepath.Join(t.TempDir(), "b.edmsdr")
	kf := &keys.File{Exclude: []string{"session_cache"}, Tables: map[string]keys.TableSpec{"note": {NaturalKey: &[]string{"node_id", "body"}}}}
	// note has two equal rows (2, NULL): a declared key must be unique in the source.
	_, err := backup.Run(ctx, cfg, out, backup.Options{Keys: kf})
	fl := finding.FindingsOf(err)
	if err == nil || len(fl) != 1 || fl[0].Kind != finding.Duplicated || fl[0].Table != "note" {
		t.Fatalf("error %v (findings %v), want one duplicated finding on note", err, fl)
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused backup left %s: %v", out, err)
	}
	kf.Tables = map[string]keys.TableSpec{"kind": {NaturalKey: &[]string{"name", "label"}}}
	if _, err := backup.Run(ctx, cfg, out, backup.Options{Keys: kf}); err != nil {
		t.Fatal(err)
	}
	m := verify(t, out)
	for _, te := range m.Tables {
		if te.Table == "public.session_cache" {
			t.Error("the excluded table is in the package")
		}
	}
	if got := m.Plan.Tables["public.kind"]; got == nil || !slices.Equal(got.NaturalKey, []string{"name", "label"}) || got.Source != "keys file" {
		t.Errorf("kind plan %+v, want the declared key from the keys file", got)
	}
}

func TestBackupRefusesToOverwriteUnlessAsked(t *testing.T) {
	cfg, _, ctx := newSource(t)
	out := filepath.Join(t.TempDir(), "b.edmsdr")
	if err := os.WriteFile(out, []byte("precious"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := backup.Run(ctx, cfg, out, backup.Options{}); err == nil {
		t.Fatal("backup over an existing file succeeded")
	}
	if data, _ := os.ReadFile(out); string(data) != "precious" {
		t.Error("the existing file was changed")
	}
	if _, err := backup.Run(ctx, cfg, out, backup.Options{Writer: pack.WriterOptions{Overwrite: true}}); err != nil {
		t.Fatal(err)
	}
	verify(t, out)
}

func TestBackupCancelledLeavesNothing(t *testing.T) {
	cfg, _, ctx := newSource(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "b.edmsdr")
	stop := errors.New("stop")
	ctx, cancel := context.WithCancelCause(ctx)
	_, err := backup.Run(ctx, cfg, out, backup.Options{Snapshot: func(context.Context, string) error {
		cancel(stop)
		return nil
	}})
	if err == nil {
		t.Fatal("a cancelled backup succeeded")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 0 {
		t.Errorf("a cancelled backup left %v", entries)
	}
}

func TestBackupOfAnUnreachableServerSaysSo(t *testing.T) {
	cfg, err := pgx.ParseConfig("postgres://nobody@127.0.0.1:1/none?connect_timeout=2")
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "b.edmsdr")
	if _, err := backup.Run(context.Background(), cfg, out, backup.Options{}); err == nil {
		t.Fatal("backup of an unreachable server succeeded")
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Error("a failed backup left a package")
	}
}

// TestStreamsGiveTheSameRowsAndDigest: tables read by a second connection (through temporary
// files) reach the package with the same rows, in the same order, and the same digest as with
// one connection.
func TestStreamsGiveTheSameRowsAndDigest(t *testing.T) {
	cfg, conn, ctx := newSource(t)
	// Two large tables, the later one (in package order) worth reading on the side.
	if _, err := conn.Exec(ctx, `INSERT INTO note (node_id, body) SELECT 1 + g % 2, md5(g::text) || md5((-g)::text) || md5((g * 7)::text) FROM generate_series(1, 30000) g;
INSERT INTO session_cache SELECT 'k' || g, decode(md5(g::text) || md5((-g)::text) || md5((g * 3)::text), 'hex') FROM generate_series(1, 30000) g`); err != nil {
		t.Fatal(err)
	}
	rows := map[int]map[string][]byte{}
	var sums []string
	for _, streams := range []int{1, 2} {
		out := filepath.Join(t.TempDir(), "b.edmsdr")
		var logged bytes.Buffer
		log := slog.New(slog.NewTextHandler(&logged, &slog.HandlerOptions{Level: slog.LevelDebug}))
		res, err := backup.Run(ctx, cfg, out, backup.Options{Streams: streams, TempDir: t.TempDir(), Log: log, Writer: pack.WriterOptions{ChunkBytes: 64 << 10}})
		if err != nil {
			t.Fatalf("streams %d: %v", streams, err)
		}
		if second := strings.Contains(logged.String(), "table=session_cache rows=30001 bytes=3198904 stream=2"); second != (streams == 2) {
			t.Errorf("streams %d: session_cache read by a second stream: %v\n%s", streams, second, logged.String())
		}
		verify(t, out)
		sums = append(sums, res.Manifest.Digest.Total)
		rows[streams] = tableBytes(t, out)
	}
	if sums[0] != sums[1] {
		t.Errorf("digest %s with one stream, %s with two", sums[0], sums[1])
	}
	if len(rows[1]) == 0 || len(rows[1]) != len(rows[2]) {
		t.Fatalf("tables: %d with one stream, %d with two", len(rows[1]), len(rows[2]))
	}
	for table, b := range rows[1] {
		if string(b) != string(rows[2][table]) {
			t.Errorf("table %s: rows differ between one and two streams (%d and %d bytes)", table, len(b), len(rows[2][table]))
		}
	}
}

// tableBytes returns every table's COPY text in a package, its chunks joined.
func tableBytes(t *testing.T, path string) map[string][]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rd, err := pack.NewReader(f, pack.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	out := map[string][]byte{}
	for {
		e, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(e)
		if err != nil {
			t.Fatal(err)
		}
		out[e.Layout.Table] = append(out[e.Layout.Table], b...)
	}
}
