package restore_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/edmsdr/edmsdr/corrupt"
	"github.com/edmsdr/edmsdr/engine/backup"
	"github.com/edmsdr/edmsdr/engine/finding"
	"github.com/edmsdr/edmsdr/engine/keys"
	"github.com/edmsdr/edmsdr/engine/pack"
	"github.com/edmsdr/edmsdr/engine/restore"
)

// docDDL adds, beside ddl, two keyless tables with surrogate ids: documents and their versions.
// Restored into an empty target their id maps are the identity and nothing they reference is
// rewritten, so their rows go straight into them (and so do kind's; node's, a tree whose map
// keeps every id there, and note's, which references node).
const docDDL = `
CREATE TABLE doc (id serial PRIMARY KEY, title text NOT NULL, n int NOT NULL DEFAULT 0);
CREATE TABLE ver (id serial PRIMARY KEY, doc_id int NOT NULL REFERENCES doc (id), kind_id int REFERENCES kind (id), body text);`

const docRows = `
INSERT INTO doc (title, n) VALUES ('one', 1), ('two', 2), ('three', 3);
INSERT INTO ver (doc_id, kind_id, body) VALUES (1, 1, 'a'), (1, NULL, 'b'), (2, 2, 'c'), (3, 1, 'd');`

// debugLog returns a logger writing debug lines into buf.
func debugLog(buf *bytes.Buffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func TestDirectLoadIntoEmptyTables(t *testing.T) {
	e := newEnv(t, docDDL+sourceRows+docRows, ddl+docDDL, "")
	var log, ids bytes.Buffer
	res, err := e.restore(restore.Options{Log: debugLog(&log), IDMap: &ids})
	if err != nil || !res.Committed || res.Verdict != finding.Pass {
		t.Fatalf("restore: %v (committed %t, %s)", err, res.Committed, res.Verdict)
	}
	for name, want := range map[string]bool{"kind": true, "doc": true, "ver": true, "node": true, "note": true} {
		tr := table(t, res, name)
		if tr.Direct != want {
			t.Errorf("%s: direct %t, want %t", name, tr.Direct, want)
		}
		if tr.Inserted != tr.Staged || tr.Staged == 0 {
			t.Errorf("%s: staged %d, inserted %d", name, tr.Staged, tr.Inserted)
		}
	}
	if got, want := e.digestOf(e.tgt), e.digestOf(e.src); got != want {
		t.Errorf("target digest %s, source %s", got, want)
	}
	if res.RestoredDigest != res.PackageDigest {
		t.Errorf("restored digest %s, package %s", res.RestoredDigest, res.PackageDigest)
	}
	// The phase line says which tables took the direct path.
	if !strings.Contains(log.String(), `msg="phase done" phase=insert`) || !strings.Contains(log.String(), "direct=doc,kind,node,note,ver") {
		t.Errorf("no insert phase line naming doc, kind, node, note and ver as direct:\n%s", log.String())
	}
	// The id map file names their ids as every other table's.
	if !strings.Contains(ids.String(), "doc\t3\t3\tinserted\n") || !strings.Contains(ids.String(), "ver\t4\t4\tinserted\n") {
		t.Errorf("id map lacks the direct tables' ids:\n%s", ids.String())
	}
	// Indexes and foreign keys are back.
	if got := e.text(`SELECT string_agg(conname, ',' ORDER BY conname) FROM pg_constraint WHERE conrelid = 'ver'::regclass`); got != "ver_doc_id_fkey,ver_kind_id_fkey,ver_pkey" {
		t.Errorf("constraints of ver after the restore: %s", got)
	}
	// The sequences moved past the ids.
	if got := e.text(`SELECT nextval('doc_id_seq')::text`); got != "4" {
		t.Errorf("doc's sequence hands out %s, want 4", got)
	}
	// A second restore of the same package finds everything there (the tables have rows now).
	res, err = e.restore(restore.Options{})
	if err != nil || !res.AlreadyRestored {
		t.Fatalf("second restore: %v (already restored %t)", err, res.AlreadyRestored)
	}
}

func TestDirectLoadFindingsEqualTheStagingPaths(t *testing.T) {
	cases := []struct {
		name, src, tgt string
		kind           finding.Kind
		table          string
		givenUp        bool             // the server refuses the rows: the table goes back to staging
		edit           corrupt.EditFunc // applied to the package
	}{
		{name: "NULL in a NOT NULL column", kind: finding.Constraint, table: "doc", givenUp: true,
			src: strings.Replace(docDDL, "title text NOT NULL", "title text", 1) + docRows + `INSERT INTO doc (title) VALUES (NULL);`},
		{name: "CHECK violated", kind: finding.Constraint, table: "doc", givenUp: true,
			src: docDDL + docRows + `INSERT INTO doc (title, n) VALUES ('neg', -1);`,
			tgt: strings.Replace(docDDL, "n int NOT NULL DEFAULT 0", "n int NOT NULL DEFAULT 0 CHECK (n >= 0)", 1)},
		{name: "duplicate id", kind: finding.Duplicated, table: "ver", src: docDDL + docRows,
			edit: func(table string, _ []string, rows [][]byte) ([][]byte, error) {
				if table == "public.ver" {
					rows = append(rows, rows[1])
				}
				return rows, nil
			}},
		{name: "dangling reference", kind: finding.Orphaned, table: "ver",
			src: docDDL + docRows + `ALTER TABLE ver DROP CONSTRAINT ver_doc_id_fkey; INSERT INTO ver (doc_id, body) VALUES (99, 'dangling');
				ALTER TABLE ver ADD CONSTRAINT ver_doc_id_fkey FOREIGN KEY (doc_id) REFERENCES doc (id) NOT VALID;`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tgt := c.tgt
			if tgt == "" {
				tgt = docDDL
			}
			e := newEnv(t, sourceRows+c.src, ddl+tgt, "")
			if c.edit != nil {
				edited := filepath.Join(t.TempDir(), "edited.edmsdr")
				if err := corrupt.Rewrite(e.pkg, edited, c.edit); err != nil {
					t.Fatal(err)
				}
				e.pkg = edited
			}
			before := e.digestOf(e.tgt)
			run := func(opts restore.Options) finding.List {
				t.Helper()
				res, err := e.restore(opts)
				if err == nil || res.Committed {
					t.Fatalf("restored (err %v, committed %t)", err, res.Committed)
				}
				fl := finding.FindingsOf(err)
				if !fl.Has(c.kind) {
					t.Fatalf("findings %v, want %s", fl, c.kind)
				}
				if after := e.digestOf(e.tgt); after != before {
					t.Fatal("a refused restore changed the target")
				}
				return fl
			}
			staged := run(restore.Options{StageAll: true})
			var log bytes.Buffer
			direct := run(restore.Options{Log: debugLog(&log)})
			if got, want := render(direct), render(staged); got != want {
				t.Errorf("findings with the direct load:\n%s\nthrough staging:\n%s", got, want)
			}
			if chosen := chosenDirect(log.String()); !chosen["doc"] || !chosen["kind"] || !chosen["ver"] {
				t.Errorf("%s was not loaded directly:\n%s", c.table, log.String())
			}
			// The dangling reference is left to the load's validation of the foreign key (proven.go),
			// whose refusal is diagnosed by the reference checks: the findings are the same.
			if leftToLoad := strings.Contains(log.String(), "reference checks left to it find orphaned rows"); leftToLoad != (c.kind == finding.Orphaned) {
				t.Errorf("refusal diagnosed after the load: %t, want %t:\n%s", leftToLoad, c.kind == finding.Orphaned, log.String())
			}
			// The duplicated id is left to the build of the primary key after the load, whose
			// refusal is diagnosed by the staged-row checks: the findings are the same.
			if leftToIndexes := strings.Contains(log.String(), "staged-row checks left to the index builds find duplicated rows"); leftToIndexes != (c.kind == finding.Duplicated) {
				t.Errorf("refusal diagnosed after the index builds: %t, want %t:\n%s", leftToIndexes, c.kind == finding.Duplicated, log.String())
			}
			if gaveUp := strings.Contains(log.String(), `"direct load given up" table=`+c.table); gaveUp != c.givenUp {
				t.Errorf("direct load of %s given up: %t, want %t:\n%s", c.table, gaveUp, c.givenUp, log.String())
			}
			for _, f := range direct {
				if f.Kind == c.kind && f.Table != c.table {
					t.Errorf("finding %+v, want it about %s", f, c.table)
				}
			}
			// Nothing is left behind: the constraints and indexes dropped for the load are there.
			if got := e.text(`SELECT count(*)::text FROM pg_constraint WHERE contype IN ('p', 'f') AND conrelid IN ('doc'::regclass, 'ver'::regclass)`); got != "4" {
				t.Errorf("%s constraints on doc and ver after the refusal, want 4", got)
			}
		})
	}
}

// render lists findings one a line, everything they say.
func render(fl finding.List) string {
	var b strings.Builder
	for _, f := range fl {
		fmt.Fprintf(&b, "%s %s %s %s %s %d %v %s\n", f.Kind, f.Severity, f.Table, f.Column, f.Constraint, f.Count, f.Keys, f.Message)
	}
	return b.String()
}

// backupChunked backs the source up again in entries of about chunk bytes.
func (e *env) backupChunked(chunk int, kf *keys.File) {
	e.t.Helper()
	cfg, err := pgx.ParseConfig(e.src)
	if err != nil {
		e.t.Fatal(err)
	}
	e.pkg = filepath.Join(e.t.TempDir(), "chunked.edmsdr")
	if _, err := backup.Run(e.ctx, cfg, e.pkg, backup.Options{Keys: kf, Tool: "restore test", Writer: pack.WriterOptions{ChunkBytes: chunk}}); err != nil {
		e.t.Fatalf("backup: %v", err)
	}
}

// manyDocs fills doc with 3000 rows (about 100 KiB) and ver with one per document.
const manyDocs = `
INSERT INTO doc (title, n) SELECT 'document number ' || i || repeat('.', 10), i FROM generate_series(1, 3000) i;
INSERT INTO ver (doc_id, kind_id, body) SELECT i, 1 + i % 2, 'v' || i FROM generate_series(1, 3000) i;`

func TestDirectLoadOfATableInSeveralEntries(t *testing.T) {
	t.Run("every entry goes straight in", func(t *testing.T) {
		e := newEnv(t, sourceRows+docDDL+manyDocs, ddl+docDDL, "")
		e.backupChunked(8<<10, nil)
		res, err := e.restore(restore.Options{})
		if err != nil || !res.Committed || res.Verdict != finding.Pass {
			t.Fatalf("restore: %v (committed %t, %s)", err, res.Committed, res.Verdict)
		}
		if tr := table(t, res, "doc"); !tr.Direct || tr.Inserted != 3000 {
			t.Errorf("doc: direct %t, inserted %d, want direct, 3000", tr.Direct, tr.Inserted)
		}
		if got, want := e.digestOf(e.tgt), e.digestOf(e.src); got != want {
			t.Errorf("target digest %s, source %s", got, want)
		}
	})
	t.Run("the last entry refused: the rows of the earlier ones go back to staging", func(t *testing.T) {
		src := strings.Replace(docDDL, "title text NOT NULL", "title text", 1) + manyDocs + `UPDATE doc SET title = NULL WHERE id = 2999;`
		e := newEnv(t, sourceRows+src, ddl+docDDL, "")
		e.backupChunked(8<<10, nil)
		before := e.digestOf(e.tgt)
		_, err := e.restore(restore.Options{StageAll: true})
		staged := finding.FindingsOf(err)
		var log bytes.Buffer
		res, err := e.restore(restore.Options{Log: debugLog(&log)})
		direct := finding.FindingsOf(err)
		if err == nil || res.Committed || !direct.Has(finding.Constraint) {
			t.Fatalf("restore: %v (committed %t), want a NOT NULL refusal", err, res.Committed)
		}
		if got, want := render(direct), render(staged); got != want {
			t.Errorf("findings with the direct load:\n%s\nthrough staging:\n%s", got, want)
		}
		if !strings.Contains(log.String(), `"direct load given up" table=doc why="the server refused entry`) {
			t.Errorf("the direct load of doc was not given up at an entry:\n%s", log.String())
		}
		if e.digestOf(e.tgt) != before {
			t.Error("a refused restore changed the target")
		}
	})
}

// chosenDirect lists the tables a restore's debug log says it chose to load straight in.
func chosenDirect(log string) map[string]bool {
	out := map[string]bool{}
	for _, l := range strings.Split(log, "\n") {
		if !strings.Contains(l, `msg="loading straight into the tables"`) {
			continue
		}
		_, names, _ := strings.Cut(l, " direct=")
		for _, n := range strings.Split(strings.Trim(names, `"`), ",") {
			out[n] = true
		}
	}
	return out
}

func TestDirectLoadOfATreeOnlyThePackagesPlanHas(t *testing.T) {
	// The target's own plan gives doc no natural key; the package's (a keys file at backup) makes
	// doc a tree keyed by (parent_id, title). Into an empty table its map keeps every id all the
	// same (built over the rows loaded straight in), so doc stays loaded straight in, and so does
	// ver, which references doc.
	tree := strings.Replace(docDDL, "n int NOT NULL DEFAULT 0);", "n int NOT NULL DEFAULT 0, parent_id int REFERENCES doc (id));", 1)
	e := newEnv(t, sourceRows+tree+docRows+`UPDATE doc SET parent_id = 1 WHERE id > 1;`, ddl+tree, "")
	e.backupChunked(0, &keys.File{Tables: map[string]keys.TableSpec{"doc": {NaturalKey: &[]string{"parent_id", "title"}}}})
	var log bytes.Buffer
	res, err := e.restore(restore.Options{Log: debugLog(&log)})
	if err != nil || !res.Committed || res.Verdict != finding.Pass {
		t.Fatalf("restore: %v (committed %t, %s)", err, res.Committed, res.Verdict)
	}
	if chosen := chosenDirect(log.String()); !chosen["doc"] || !chosen["kind"] || !chosen["ver"] {
		t.Errorf("doc and ver were not chosen for the direct load:\n%s", log.String())
	}
	if strings.Contains(log.String(), "direct load given up") {
		t.Errorf("the direct load was given up:\n%s", log.String())
	}
	for name, want := range map[string]bool{"kind": true, "doc": true, "ver": true} {
		if tr := table(t, res, name); tr.Direct != want || tr.Inserted != tr.Staged {
			t.Errorf("%s: direct %t (want %t), staged %d, inserted %d", name, tr.Direct, want, tr.Staged, tr.Inserted)
		}
	}
	if got, want := e.digestOf(e.tgt), e.digestOf(e.src); got != want {
		t.Errorf("target digest %s, source %s", got, want)
	}
	if got := e.text(`SELECT count(*)::text FROM doc`); got != "3" {
		t.Errorf("doc holds %s rows, want 3", got)
	}
}

// gfkDDL has Django's content types and an audit trail whose generic foreign key points at
// documents (empty before the restore: their ids are kept) or at folders (a tree: mapped level by
// level).
const gfkDDL = `
CREATE TABLE django_content_type (id serial PRIMARY KEY, app_label text NOT NULL, model text NOT NULL, UNIQUE (app_label, model));
CREATE TABLE docs_doc (id serial PRIMARY KEY, title text NOT NULL);
CREATE TABLE docs_folder (id serial PRIMARY KEY, parent_id int REFERENCES docs_folder (id), name text NOT NULL, UNIQUE (parent_id, name));
CREATE UNIQUE INDEX docs_folder_root ON docs_folder (name) WHERE parent_id IS NULL;
CREATE TABLE audit_entry (id serial PRIMARY KEY, content_type_id int REFERENCES django_content_type (id), object_id int, action text NOT NULL);`

const gfkRows = `
INSERT INTO django_content_type (app_label, model) VALUES ('docs', 'doc'), ('docs', 'folder');
INSERT INTO docs_doc (title) VALUES ('one'), ('two');
INSERT INTO docs_folder (parent_id, name) VALUES (NULL, 'root'), (1, 'sub');
INSERT INTO audit_entry (content_type_id, object_id, action) VALUES (1, 1, 'create'), (1, 2, 'create'), (1, 2, 'edit'), (NULL, NULL, 'login');`

func TestDirectLoadOfGenericForeignKeys(t *testing.T) {
	cases := []struct {
		name   string
		extra  string
		direct bool
	}{
		{name: "every object an identity-mapped table's", direct: true},
		{name: "an object in a tree", extra: `INSERT INTO audit_entry (content_type_id, object_id, action) VALUES (2, 2, 'move');`},
		{name: "an object id without a content type", extra: `INSERT INTO audit_entry (content_type_id, object_id, action) VALUES (NULL, 7, 'odd');`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, gfkDDL+gfkRows+c.extra, ddl+gfkDDL, "")
			// Dry runs, through staging and with the direct load: the same outcome.
			staged, serr := e.restore(restore.Options{DryRun: true, StageAll: true})
			var log bytes.Buffer
			direct, derr := e.restore(restore.Options{DryRun: true, Log: debugLog(&log)})
			if (serr == nil) != (derr == nil) || staged.Verdict != direct.Verdict || render(staged.Findings) != render(direct.Findings) ||
				staged.RestoredDigest != direct.RestoredDigest {
				t.Fatalf("through staging: %v %s %s\n%s\nwith the direct load: %v %s %s\n%s", serr, staged.Verdict, staged.RestoredDigest, render(staged.Findings),
					derr, direct.Verdict, direct.RestoredDigest, render(direct.Findings))
			}
			if !strings.Contains(log.String(), "audit_entry") {
				t.Errorf("audit_entry was not chosen for the direct load:\n%s", log.String())
			}
			if got := table(t, direct, "audit_entry").Direct; got != c.direct {
				t.Errorf("audit_entry direct %t, want %t:\n%s", got, c.direct, log.String())
			}
			if derr != nil {
				return
			}
			res, err := e.restore(restore.Options{})
			if err != nil || !res.Committed {
				t.Fatalf("restore: %v", err)
			}
			if got, want := e.digestOf(e.tgt), e.digestOf(e.src); got != want {
				t.Errorf("target digest %s, source %s", got, want)
			}
		})
	}
}

// TestDirectLoadOfATreeFindingsEqualTheStagingPaths: a tree restored into an empty table keeps
// its ids, so it and the tables referring to it go straight in (ddl: node, and note); whatever
// is wrong with the tree is found as through staging. A cycle or a row that is its own parent
// passes the foreign key added back after the load (every row they name exists): only the map,
// which cannot reach them from a root, refuses them.
func TestDirectLoadOfATreeFindingsEqualTheStagingPaths(t *testing.T) {
	// copyOf appends to node's rows a copy of the row with id from, under id to.
	copyOf := func(from, to string) corrupt.EditFunc {
		return func(table string, _ []string, rows [][]byte) ([][]byte, error) {
			if table != "public.node" {
				return rows, nil
			}
			for _, r := range rows {
				if id, rest, ok := bytes.Cut(r, []byte("\t")); ok && string(id) == from {
					return append(rows, append([]byte(to+"\t"), rest...)), nil
				}
			}
			return nil, fmt.Errorf("node has no row %s", from)
		}
	}
	// add appends node rows (id, parent_id, name, kind_id) to the package, resealed.
	add := func(added ...string) corrupt.EditFunc {
		return func(table string, _ []string, rows [][]byte) ([][]byte, error) {
			if table != "public.node" {
				return rows, nil
			}
			for _, a := range added {
				rows = append(rows, []byte(a))
			}
			return rows, nil
		}
	}
	noFK := `ALTER TABLE node DROP CONSTRAINT node_parent_id_fkey;`
	notValid := `ALTER TABLE node ADD CONSTRAINT node_parent_id_fkey FOREIGN KEY (parent_id) REFERENCES node (id) NOT VALID;`
	cases := []struct {
		name string
		src  string
		edit corrupt.EditFunc
		kind finding.Kind
	}{
		{name: "a cycle", kind: finding.Orphaned, src: `UPDATE node SET parent_id = 5 WHERE id = 3;`},
		{name: "a row that is its own parent", kind: finding.Orphaned, src: `UPDATE node SET parent_id = id WHERE id = 5;`},
		{name: "a parent missing", kind: finding.Orphaned, src: noFK + `UPDATE node SET parent_id = 99 WHERE id = 4;` + notValid},
		{name: "two roots with one name", kind: finding.Duplicated, edit: copyOf("1", "6")},
		{name: "two children of one parent with one name", kind: finding.Duplicated, edit: copyOf("3", "6")},
		{name: "a duplicated id", kind: finding.Duplicated, edit: copyOf("3", "3")},
		// The tree's map walks ids: a duplicated id (its check left to the primary key's build)
		// reaches a cycle through the copy, so the map has every row and the cycle is no orphan.
		{name: "a duplicated id bridging into a cycle", kind: finding.Duplicated, edit: add("3\t6\tz\t1", "6\t3\tw\t1")},
		{name: "a duplicated id whose parent is missing", kind: finding.Duplicated, edit: add("3\t99\tz\t1")},
		{name: "a duplicated root id under a cycle", kind: finding.Duplicated, edit: add("1\t7\tz\t1", "7\t1\tw\t1")},
		{name: "a cycle of four beside the tree", kind: finding.Orphaned, edit: add("6\t9\tc6\t1", "7\t6\tc7\t1", "8\t7\tc8\t1", "9\t8\tc9\t1")},
	}
	// The cases that edit the package share one source and its package.
	sources := map[string]*env{}
	for _, c := range cases {
		if sources[c.src] == nil {
			sources[c.src] = newSourceEnv(t, ddl+sourceRows+c.src)
		}
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := sources[c.src].forTest(t)
			e.newTarget(ddl)
			if c.edit != nil {
				edited := filepath.Join(t.TempDir(), "edited.edmsdr")
				if err := corrupt.Rewrite(e.pkg, edited, c.edit); err != nil {
					t.Fatal(err)
				}
				e.pkg = edited
			}
			staged := refusal(t, e, restore.Options{StageAll: true}, c.kind, "node")
			var log bytes.Buffer
			direct := refusal(t, e, restore.Options{Log: debugLog(&log)}, c.kind, "node")
			if got, want := render(direct), render(staged); got != want {
				t.Errorf("findings with the direct load:\n%s\nthrough staging:\n%s", got, want)
			}
			if chosen := chosenDirect(log.String()); !chosen["node"] || !chosen["note"] {
				t.Errorf("node and note were not loaded straight in:\n%s", log.String())
			}
			if strings.Contains(log.String(), "direct load given up") {
				t.Errorf("the direct load was given up:\n%s", log.String())
			}
			if got := e.text(`SELECT count(*)::text FROM pg_constraint WHERE contype IN ('p', 'f', 'u') AND conrelid IN ('node'::regclass, 'note'::regclass)`); got != "6" {
				t.Errorf("%s constraints on node and note after the refusal, want 6", got)
			}
		})
	}
}
