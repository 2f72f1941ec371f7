package restore_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/edmsdr/edmsdr/corrupt"
	"github.com/edmsdr/edmsdr/engine/backup"
	"github.com/edmsdr/edmsdr/engine/digest"
	"github.com/edmsdr/edmsdr/engine/finding"
	"github.com/edmsdr/edmsdr/engine/keys"
	"github.com/edmsdr/edmsdr/engine/restore"
	"github.com/edmsdr/edmsdr/fixtures/localpg/localpgtest"
)

func TestMain(m *testing.M) { os.Exit(localpgtest.RunShared(m)) }

// ddl is a small schema with what restore reconciles: a lookup table keyed by name, a tree keyed
// through its parent, and a keyless table referring to the tree.
const ddl = `
CREATE TABLE kind (id serial PRIMARY KEY, name text NOT NULL UNIQUE, label text NOT NULL);
CREATE TABLE node (id serial PRIMARY KEY, parent_id int REFERENCES node (id), name text NOT NULL,
                   kind_id int NOT NULL REFERENCES kind (id), CONSTRAINT node_parent_name UNIQUE (parent_id, name));
CREATE UNIQUE INDEX node_root_name ON node (name) WHERE parent_id IS NULL;
CREATE TABLE note (id serial PRIMARY KEY, node_id int NOT NULL REFERENCES node (id), body text NOT NULL);`

// sourceRows fill the source: two kinds, a tree with one name under two parents, notes.
const sourceRows = `
INSERT INTO kind (name, label) VALUES ('a', 'Kind A'), ('b', 'Kind B');
INSERT INTO node (parent_id, name, kind_id) VALUES (NULL, 'root', 1), (NULL, 'other', 2);
INSERT INTO node (parent_id, name, kind_id) VALUES (1, 'x', 1), (2, 'x', 2);
INSERT INTO node (parent_id, name, kind_id) VALUES (3, 'leaf', 2);
INSERT INTO note (node_id, body) VALUES (3, 'one'), (4, 'two'), (5, 'three'), (5, 'three');`

// targetSeed is what a re-initialised target holds: kind 'a' and the root under other ids.
const targetSeed = `
SELECT setval('kind_id_seq', 100); SELECT setval('node_id_seq', 200);
INSERT INTO kind (name, label) VALUES ('a', 'Kind A');
INSERT INTO node (parent_id, name, kind_id) VALUES (NULL, 'root', (SELECT id FROM kind WHERE name = 'a'));`

type env struct {
	t        *testing.T
	ctx      context.Context
	src, tgt string
	conn     *pgx.Conn // to the target
	pkg      string
}

// newEnv creates a source (ddl + srcSQL) backed up into a package, and a target (tgtDDL +
// tgtSQL) with a connection to it.
func newEnv(t *testing.T, srcSQL, tgtDDL, tgtSQL string) *env {
	t.Helper()
	e := newSourceEnv(t, ddl+srcSQL)
	e.newTarget(tgtDDL + tgtSQL)
	return e
}

// newSourceEnv creates a source holding what srcSQL creates, backed up into a package, and no
// target (newTarget makes one). Subtests restoring one source share it through forTest.
func newSourceEnv(t *testing.T, srcSQL string) *env {
	t.Helper()
	tc := localpgtest.Shared(t)
	e := &env{t: t, ctx: localpgtest.Context(t, 2*time.Minute)}
	e.src = tc.NewDatabase(t, "rsrc")
	if _, err := tc.Connect(t, e.src).Exec(e.ctx, srcSQL); err != nil {
		t.Fatalf("source: %v", err)
	}
	e.pkg = e.backup(nil)
	return e
}

// newTarget gives e a new target database holding what sql creates, and a connection to it.
func (e *env) newTarget(sql string) {
	e.t.Helper()
	tc := localpgtest.Shared(e.t)
	e.tgt = tc.NewDatabase(e.t, "rtgt")
	e.conn = tc.Connect(e.t, e.tgt)
	if _, err := e.conn.Exec(e.ctx, sql); err != nil {
		e.t.Fatalf("target: %v", err)
	}
}

// forTest is e for subtest t (e's databases and package, t failing, a context of its own): a
// source and its package made once for several restores, each into a target of its own
// (newTarget).
func (e *env) forTest(t *testing.T) *env {
	c := *e
	c.t, c.ctx = t, localpgtest.Context(t, 2*time.Minute)
	return &c
}

func (e *env) backup(kf *keys.File) string {
	e.t.Helper()
	cfg, err := pgx.ParseConfig(e.src)
	if err != nil {
		e.t.Fatal(err)
	}
	path := filepath.Join(e.t.TempDir(), "p.edmsdr")
	if _, err := backup.Run(e.ctx, cfg, path, backup.Options{Keys: kf, Tool: "restore test"}); err != nil {
		e.t.Fatalf("backup: %v", err)
	}
	return path
}

func (e *env) restore(opts restore.Options) (*restore.Result, error) {
	e.t.Helper()
	f, err := os.Open(e.pkg)
	if err != nil {
		e.t.Fatal(err)
	}
	defer f.Close()
	res, err := restore.Run(e.ctx, e.conn, f, opts)
	if res == nil {
		e.t.Fatalf("restore returned no result (err %v)", err)
	}
	return res, err
}

// digestOf is the logical digest of the database dsn names.
func (e *env) digestOf(dsn string) string {
	e.t.Helper()
	conn, err := pgx.Connect(e.ctx, dsn)
	if err != nil {
		e.t.Fatal(err)
	}
	defer conn.Close(e.ctx)
	d, err := digest.OfDatabase(e.ctx, conn, digest.DatabaseOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	return d.Summary.Total
}

func (e *env) text(sql string, args ...any) string {
	e.t.Helper()
	var s string
	if err := e.conn.QueryRow(e.ctx, sql, args...).Scan(&s); err != nil {
		e.t.Fatalf("%s: %v", sql, err)
	}
	return s
}

// setField points e at a copy of its package, resealed (it verifies), in which the field of column
// in row row of table (counting from 0; negative, from the end: -1 is the last row) is value
// instead. A table, row or column the package lacks, or a field that already holds value, fails
// the test: the edit must change the package.
func (e *env) setField(table string, row int, column string, value []byte) {
	e.t.Helper()
	changed := filepath.Join(e.t.TempDir(), "changed.edmsdr")
	edited := false
	err := corrupt.Rewrite(e.pkg, changed, func(tbl string, cols []string, rows [][]byte) ([][]byte, error) {
		if tbl != table {
			return rows, nil
		}
		i, c := row, corrupt.Column(cols, column)
		if i < 0 {
			i += len(rows)
		}
		switch {
		case i < 0 || i >= len(rows):
			return nil, fmt.Errorf("%s: no row %d of %d", table, row, len(rows))
		case c < 0:
			return nil, fmt.Errorf("%s: no column %s in %v", table, column, cols)
		case bytes.Equal(corrupt.Field(rows[i], c), value):
			return nil, fmt.Errorf("%s: row %d's %s is %q already", table, row, column, value)
		}
		rows[i] = corrupt.SetField(rows[i], c, value)
		edited = true
		return rows, nil
	})
	if err != nil {
		e.t.Fatal(err)
	}
	if !edited {
		e.t.Fatalf("the package holds no table %s", table)
	}
	e.pkg = changed
}

func table(t *testing.T, res *restore.Result, name string) restore.TableResult {
	t.Helper()
	for _, tr := range res.Tables {
		if tr.Table == name {
			return tr
		}
	}
	t.Fatalf("no table %s in %+v", name, res.Tables)
	return restore.TableResult{}
}

func kindsOf(l finding.List, sev finding.Severity) []finding.Kind {
	var out []finding.Kind
	for _, f := range l {
		if f.Severity == sev {
			out = append(out, f.Kind)
		}
	}
	return out
}

func TestRestoreMatchesSeededRowsAndInsertsTheRest(t *testing.T) {
	e := newEnv(t, sourceRows, ddl, targetSeed)
	res, err := e.restore(restore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Committed || res.Verdict != finding.Pass {
		t.Fatalf("committed %t verdict %s", res.Committed, res.Verdict)
	}
	for name, want := range map[string][2]int64{"kind": {1, 1}, "node": {1, 4}, "note": {0, 4}} {
		tr := table(t, res, name)
		if tr.Matched != want[0] || tr.Inserted != want[1] {
			t.Errorf("%s: matched %d inserted %d, want %d and %d", name, tr.Matched, tr.Inserted, want[0], want[1])
		}
	}
	if got, want := e.digestOf(e.tgt), e.digestOf(e.src); got != want {
		t.Errorf("target digest %s, source %s", got, want)
	}
	if res.RestoredDigest != res.PackageDigest {
		t.Errorf("restored digest %s, package %s", res.RestoredDigest, res.PackageDigest)
	}
	// The leaf hangs under root/x, not other/x: matched through the parent.
	if got := e.text(`SELECT p.name || '/' || pp.name FROM node n JOIN node p ON p.id = n.parent_id JOIN node pp ON pp.id = p.parent_id WHERE n.name = 'leaf'`); got != "x/root" {
		t.Errorf("leaf under %s, want x/root", got)
	}
}

func TestHooksRunInStepOrder(t *testing.T) {
	e := newEnv(t, sourceRows, ddl, targetSeed)
	var steps []string
	res, err := e.restore(restore.Options{Hook: func(_ context.Context, step string) error {
		steps = append(steps, step)
		return nil
	}})
	if err != nil || !res.Committed {
		t.Fatalf("restore: %v (committed %t)", err, res.Committed)
	}
	want := []string{restore.HookStaging, restore.HookStagedEntry, restore.HookMapped, restore.HookPreflight,
		restore.HookInsertedTable, restore.HookValidated, restore.HookCommit, restore.HookCommitted}
	if got := slices.Compact(slices.Clone(steps)); !slices.Equal(got, want) {
		t.Errorf("steps %v, want in order %v", got, want)
	}
	count := func(step string) (n int) {
		for _, s := range steps {
			if s == step {
				n++
			}
		}
		return n
	}
	if n := count(restore.HookStagedEntry); n != 3 {
		t.Errorf("%d staged entries, want one per table (3)", n)
	}
	if n := count(restore.HookInsertedTable); n < 2 || n > 3 {
		t.Errorf("%d inserted-table steps, want one per table with new rows", n)
	}
}

func TestHookErrorAbortsAndLeavesTheTargetUnchanged(t *testing.T) {
	for _, at := range []string{restore.HookMapped, restore.HookInsertedTable, restore.HookValidated, restore.HookCommit} {
		t.Run(at, func(t *testing.T) {
			e := newEnv(t, sourceRows, ddl, targetSeed)
			before := e.digestOf(e.tgt)
			stop := errors.New("stop here")
			res, err := e.restore(restore.Options{Hook: func(_ context.Context, step string) error {
				if step == at {
					return stop
				}
				return nil
			}})
			if !errors.Is(err, stop) {
				t.Fatalf("error %v, want the hook's", err)
			}
			if res.Committed || errors.Is(err, restore.ErrCommitUnknown) {
				t.Errorf("committed %t, commit unknown %t", res.Committed, errors.Is(err, restore.ErrCommitUnknown))
			}
			if after := e.digestOf(e.tgt); after != before {
				t.Error("the target changed")
			}
		})
	}
}

func TestLostCommitReplyIsErrCommitUnknownAndARetryCompletes(t *testing.T) {
	e := newEnv(t, sourceRows, ddl, targetSeed)
	before := e.digestOf(e.tgt)
	res, err := e.restore(restore.Options{Hook: func(ctx context.Context, step string) error {
		if step != restore.HookCommit {
			return nil
		}
		// The connection drops: COMMIT's reply can never come back.
		return e.conn.PgConn().Conn().Close()
	}})
	if !errors.Is(err, restore.ErrCommitUnknown) {
		t.Fatalf("error %v, want ErrCommitUnknown", err)
	}
	if res.Committed {
		t.Error("reported committed")
	}
	// The session died before COMMIT reached it: nothing was committed.
	if after := e.digestOf(e.tgt); after != before {
		t.Fatal("the target changed although the transaction never committed")
	}
	conn, err := pgx.Connect(e.ctx, e.tgt)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(e.ctx)
	e.conn = conn
	again, err := e.restore(restore.Options{})
	if err != nil || !again.Committed {
		t.Fatalf("retry: %v (committed %t)", err, again.Committed)
	}
	if e.digestOf(e.tgt) != e.digestOf(e.src) {
		t.Error("the retry did not restore the source's data")
	}
}

func TestOnExistingPolicies(t *testing.T) {
	// The target's kind 'a' has another label than the package's.
	diverged := strings.Replace(targetSeed, "'Kind A'", "'Kind A (local)'", 1)
	for _, c := range []struct {
		policy    restore.OnExisting
		ok        bool
		severity  finding.Severity
		label     string
		updated   int64
		sameAsSrc bool
	}{
		{restore.Reuse, true, finding.Warning, "Kind A (local)", 0, false},
		{restore.Update, true, finding.Info, "Kind A", 1, true},
		{restore.Fail, false, finding.Error, "Kind A (local)", 0, false},
		{"", true, finding.Warning, "Kind A (local)", 0, false}, // the default is reuse
	} {
		t.Run(string(c.policy), func(t *testing.T) {
			e := newEnv(t, sourceRows, ddl, diverged)
			before := e.digestOf(e.tgt)
			res, err := e.restore(restore.Options{OnExisting: c.policy})
			if (err == nil) != c.ok {
				t.Fatalf("error %v, want ok=%t", err, c.ok)
			}
			var div []finding.Finding
			for _, f := range res.Findings {
				if f.Kind == finding.Diverged {
					div = append(div, f)
				}
			}
			if len(div) != 1 || div[0].Table != "kind" || div[0].Count != 1 || div[0].Severity != c.severity {
				t.Fatalf("diverged findings %+v, want one on kind, severity %s", div, c.severity)
			}
			if len(div[0].Keys) != 1 || !strings.Contains(div[0].Keys[0], "a") {
				t.Errorf("diverged keys %q, want the natural key a", div[0].Keys)
			}
			if c.ok {
				tr := table(t, res, "kind")
				if tr.Diverged != 1 || tr.Updated != c.updated {
					t.Errorf("kind: diverged %d updated %d, want 1 and %d", tr.Diverged, tr.Updated, c.updated)
				}
			}
			if got := e.text(`SELECT label FROM kind WHERE name = 'a'`); got != c.label {
				t.Errorf("label %q, want %q", got, c.label)
			}
			after := e.digestOf(e.tgt)
			switch {
			case !c.ok:
				if res.Committed || after != before {
					t.Error("a refused restore changed the target")
				}
			case c.sameAsSrc:
				if after != e.digestOf(e.src) || res.RestoredDigest != res.PackageDigest {
					t.Error("after update the target differs from the source")
				}
			default:
				if res.RestoredDigest == res.PackageDigest || res.RestoredDigest != after {
					t.Errorf("kept row: restored digest %s, package %s, target %s", res.RestoredDigest, res.PackageDigest, after)
				}
			}
		})
	}
	if _, err := restore.ParseOnExisting("overwrite"); err == nil {
		t.Error("ParseOnExisting accepted an unknown policy")
	}
}

// Into empty tables every id maps to itself (kind and note through a view over staging, node,
// a tree, through a map table): the id map file and the restored rows say so.
func TestIdentityMapsIntoEmptyTables(t *testing.T) {
	e := newEnv(t, sourceRows, ddl, "")
	var buf bytes.Buffer
	res, err := e.restore(restore.Options{IDMap: &buf})
	if err != nil || !res.Committed || res.Verdict != finding.Pass {
		t.Fatalf("restore: %v (%s)", err, res.Verdict)
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 1+2+5+4 {
		t.Fatalf("id map has %d lines, want a header and 11 ids:\n%s", len(lines), buf.String())
	}
	for _, l := range lines[1:] {
		f := strings.Split(l, "\t")
		if len(f) != 4 || f[1] != f[2] || f[3] != "inserted" {
			t.Errorf("id map line %q: want the source id kept, inserted", l)
		}
	}
	if got := e.text(`SELECT string_agg(n.id || ':' || n.node_id || ':' || n.body, ',' ORDER BY n.id) FROM note n`); got != "1:3:one,2:4:two,3:5:three,4:5:three" {
		t.Errorf("notes %s", got)
	}
	if got := e.text(`SELECT string_agg(n.id || ':' || coalesce(n.parent_id::text, '-') || ':' || k.name, ',' ORDER BY n.id) FROM node n JOIN kind k ON k.id = n.kind_id`); got != "1:-:a,2:-:b,3:1:a,4:2:b,5:3:b" {
		t.Errorf("nodes %s", got)
	}
}

func TestIDMapNamesEverySourceIDAndItsTarget(t *testing.T) {
	e := newEnv(t, sourceRows, ddl, targetSeed)
	var buf bytes.Buffer
	res, err := e.restore(restore.Options{IDMap: &buf})
	if err != nil || !res.Committed {
		t.Fatalf("restore: %v", err)
	}
	sc := bufio.NewScanner(&buf)
	if !sc.Scan() || sc.Text() != "table\tsource_id\ttarget_id\tstatus" {
		t.Fatalf("header %q", sc.Text())
	}
	type entry struct{ tgt, status string }
	got := map[string]entry{} // "table source_id"
	for sc.Scan() {
		f := strings.Split(sc.Text(), "\t")
		if len(f) != 4 {
			t.Fatalf("line %q: want 4 fields", sc.Text())
		}
		got[f[0]+" "+f[1]] = entry{f[2], f[3]}
	}
	for _, table := range []string{"kind", "node", "note"} {
		var n int
		if err := e.conn.QueryRow(e.ctx, "SELECT count(*) FROM "+table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		var mapped int
		for k := range got {
			if strings.HasPrefix(k, table+" ") {
				mapped++
			}
		}
		if mapped != n {
			t.Errorf("%s: %d ids mapped, %d rows in the target", table, mapped, n)
		}
	}
	want := map[string]entry{
		"kind 1": {e.text(`SELECT id::text FROM kind WHERE name = 'a'`), "matched"},
		"kind 2": {e.text(`SELECT id::text FROM kind WHERE name = 'b'`), "inserted"},
		"node 1": {e.text(`SELECT id::text FROM node WHERE name = 'root'`), "matched"},
		"node 4": {e.text(`SELECT n.id::text FROM node n JOIN node p ON p.id = n.parent_id WHERE n.name = 'x' AND p.name = 'other'`), "inserted"},
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s maps to %+v, want %+v", k, got[k], w)
		}
	}
	if id, err := strconv.Atoi(got["kind 2"].tgt); err != nil || id <= 100 {
		t.Errorf("inserted kind got id %s, want one past the target's sequence (100)", got["kind 2"].tgt)
	}
}

func TestRestoringTheSamePackageTwiceIsANoOp(t *testing.T) {
	e := newEnv(t, sourceRows, ddl, targetSeed)
	if _, err := e.restore(restore.Options{}); err != nil {
		t.Fatal(err)
	}
	after := e.digestOf(e.tgt)
	res, err := e.restore(restore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !res.AlreadyRestored || res.Committed || !res.Findings.Has(finding.AlreadyRestored) {
		t.Errorf("already restored %t committed %t findings %v", res.AlreadyRestored, res.Committed, res.Findings)
	}
	if e.digestOf(e.tgt) != after || res.RestoredDigest != after {
		t.Error("the second restore changed the target or reported another digest")
	}
}

func TestDryRunWritesNothingAndMovesNoSequence(t *testing.T) {
	e := newEnv(t, sourceRows, ddl, targetSeed)
	before := e.digestOf(e.tgt)
	seq := e.text(`SELECT last_value::text FROM kind_id_seq`)
	res, err := e.restore(restore.Options{DryRun: true})
	if err != nil || res.Committed || !res.DryRun || res.Verdict != finding.Pass {
		t.Fatalf("dry run: %v, committed %t verdict %s", err, res.Committed, res.Verdict)
	}
	if e.digestOf(e.tgt) != before || e.text(`SELECT last_value::text FROM kind_id_seq`) != seq {
		t.Error("a dry run changed the target")
	}
	if res.RestoredDigest != res.PackageDigest {
		t.Errorf("dry run restored digest %s, package %s", res.RestoredDigest, res.PackageDigest)
	}
}

// refusal restores e's package, expects a refusal with a finding of kind on table ("" for any),
// and an unchanged target; it returns the findings.
func refusal(t *testing.T, e *env, opts restore.Options, kind finding.Kind, table string) finding.List {
	t.Helper()
	before := e.digestOf(e.tgt)
	res, err := e.restore(opts)
	if err == nil {
		t.Fatalf("restore succeeded, want a %s refusal", kind)
	}
	fl := finding.FindingsOf(err)
	var hit bool
	for _, f := range fl {
		if f.Kind == kind && f.Severity == finding.Error && (f.Table == table || table == "") {
			hit = true
		}
	}
	if !hit {
		t.Errorf("findings %v, want an error of kind %s on %s", fl, kind, table)
	}
	if res.Committed || res.Verdict == finding.Pass {
		t.Errorf("committed %t verdict %s", res.Committed, res.Verdict)
	}
	if e.digestOf(e.tgt) != before {
		t.Error("a refused restore changed the target")
	}
	return fl
}

func TestRefusals(t *testing.T) {
	t.Run("schema mismatch: plain values where the target holds references", func(t *testing.T) {
		e := newEnv(t, sourceRows+`ALTER TABLE note DROP CONSTRAINT note_node_id_fkey;`, ddl, targetSeed)
		refusal(t, e, restore.Options{}, finding.SchemaMismatch, "note")
	})
	t.Run("orphaned: a reference to no row", func(t *testing.T) {
		// The source's foreign key was not validated: a note points at a node that does not exist.
		e := newEnv(t, sourceRows+`ALTER TABLE note DROP CONSTRAINT note_node_id_fkey; INSERT INTO note (node_id, body) VALUES (999, 'dangling');
			ALTER TABLE note ADD CONSTRAINT note_node_id_fkey FOREIGN KEY (node_id) REFERENCES node (id) NOT VALID;`,
			ddl, targetSeed)
		fl := refusal(t, e, restore.Options{}, finding.Orphaned, "note")
		for _, f := range fl {
			if f.Kind == finding.Orphaned && (f.Column != "node_id" || f.Count != 1) {
				t.Errorf("orphaned finding %+v, want column node_id, count 1", f)
			}
		}
	})
	t.Run("schema mismatch: a column the target lacks", func(t *testing.T) {
		e := newEnv(t, sourceRows, strings.Replace(ddl, "label text NOT NULL", "title text", 1), strings.ReplaceAll(targetSeed, "(name, label)", "(name, title)"))
		refusal(t, e, restore.Options{}, finding.SchemaMismatch, "kind")
	})
	t.Run("schema mismatch: a table the target lacks", func(t *testing.T) {
		tgtDDL := strings.Replace(ddl, "CREATE TABLE note (id serial PRIMARY KEY, node_id int NOT NULL REFERENCES node (id), body text NOT NULL);", "", 1)
		e := newEnv(t, sourceRows, tgtDDL, targetSeed)
		refusal(t, e, restore.Options{}, finding.SchemaMismatch, "note")
	})
	t.Run("duplicated: a declared natural key two rows share", func(t *testing.T) {
		e := newEnv(t, sourceRows+`INSERT INTO kind (name, label) VALUES ('c', 'Kind A');`, ddl, "")
		kf := &keys.File{Tables: map[string]keys.TableSpec{"kind": {NaturalKey: &[]string{"label"}}}}
		refusal(t, e, restore.Options{Keys: kf}, finding.Duplicated, "kind")
	})
	t.Run("conflict: another unique constraint of the target", func(t *testing.T) {
		e := newEnv(t, sourceRows, ddl+`ALTER TABLE kind ADD CONSTRAINT kind_label_uniq UNIQUE (label);`,
			targetSeed+`INSERT INTO kind (name, label) VALUES ('local', 'Kind B');`)
		fl := refusal(t, e, restore.Options{}, finding.Conflict, "kind")
		for _, f := range fl {
			if f.Kind == finding.Conflict && f.Constraint != "kind_label_uniq" {
				t.Errorf("conflict finding %+v, want constraint kind_label_uniq", f)
			}
		}
	})
	t.Run("constraint: NULL where the target wants a value", func(t *testing.T) {
		e := newEnv(t, sourceRows+`ALTER TABLE note ALTER body DROP NOT NULL; UPDATE note SET body = NULL WHERE body = 'one';`, ddl, targetSeed)
		refusal(t, e, restore.Options{}, finding.Constraint, "note")
	})
	t.Run("keyless rows already present", func(t *testing.T) {
		e := newEnv(t, sourceRows, ddl, "")
		if _, err := e.restore(restore.Options{}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.conn.Exec(e.ctx, `DELETE FROM note WHERE body = 'one'`); err != nil {
			t.Fatal(err)
		}
		refusal(t, e, restore.Options{}, finding.Duplicated, "note")
	})
}

func TestRefusalsOfThePackageAndTheKeyPlan(t *testing.T) {
	t.Run("corrupt: a flipped byte in the package", func(t *testing.T) {
		e := newEnv(t, sourceRows, ddl, targetSeed)
		data, err := os.ReadFile(e.pkg)
		if err != nil {
			t.Fatal(err)
		}
		data[len(data)/2] ^= 0x40
		e.pkg = filepath.Join(t.TempDir(), "flipped.edmsdr")
		if err := os.WriteFile(e.pkg, data, 0o600); err != nil {
			t.Fatal(err)
		}
		before := e.digestOf(e.tgt)
		res, err := e.restore(restore.Options{})
		if err == nil || res.Committed {
			t.Fatalf("a damaged package restored (err %v)", err)
		}
		if fl := finding.FindingsOf(err); !fl.Has(finding.Corrupt) {
			t.Errorf("findings %v (error %v), want corrupt", fl, err)
		}
		if e.digestOf(e.tgt) != before {
			t.Error("a refused restore changed the target")
		}
	})
	t.Run("key plan: a keys file naming a column the table lacks", func(t *testing.T) {
		e := newEnv(t, sourceRows, ddl, targetSeed)
		kf := &keys.File{Tables: map[string]keys.TableSpec{"kind": {NaturalKey: &[]string{"no_such_column"}}}}
		fl := refusal(t, e, restore.Options{Keys: kf}, finding.KeyPlan, "kind")
		if len(fl) != 1 || fl[0].Column != "no_such_column" {
			t.Errorf("findings %v, want one locating column no_such_column", fl)
		}
	})
	t.Run("key plan: two target rows share a natural key", func(t *testing.T) {
		// The target lacks the unique constraint and holds 'a' twice: a match would be ambiguous.
		tgtDDL := strings.Replace(ddl, "name text NOT NULL UNIQUE, label", "name text NOT NULL, label", 1)
		e := newEnv(t, sourceRows, tgtDDL, targetSeed+`INSERT INTO kind (name, label) VALUES ('a', 'Kind A');`)
		refusal(t, e, restore.Options{}, finding.KeyPlan, "kind")
	})
}

// TestSeededTreeMappedLevelByLevel: into a target whose tree has rows, the tree's map is built a
// level at a time, each level reading the rows of its depth only: rows are matched by natural key
// at every depth (root, then x under it), the rest inserted under them however deep, and rows
// whose ancestors are circular or missing are refused, named.
func TestSeededTreeMappedLevelByLevel(t *testing.T) {
	deeper := `INSERT INTO node (parent_id, name, kind_id) VALUES (5, 'deep', 1), (6, 'deeper', 1), (7, 'deepest', 1);`
	seed := targetSeed + `INSERT INTO node (parent_id, name, kind_id) VALUES (201, 'x', 101), (201, 'y', 101);`
	t.Run("matched and inserted at every depth", func(t *testing.T) {
		e := newEnv(t, sourceRows+deeper, ddl, seed)
		var buf bytes.Buffer
		res, err := e.restore(restore.Options{IDMap: &buf})
		if err != nil || !res.Committed || res.Verdict != finding.Pass {
			t.Fatalf("restore: %v (findings %v)", err, res.Findings)
		}
		if tr := table(t, res, "node"); tr.Matched != 2 || tr.Inserted != 6 {
			t.Errorf("node: matched %d, inserted %d, want 2 and 6", tr.Matched, tr.Inserted)
		}
		if !strings.Contains(buf.String(), "node\t1\t201\tmatched\n") || !strings.Contains(buf.String(), "node\t3\t202\tmatched\n") {
			t.Errorf("id map lacks root and x matched:\n%s", buf.String())
		}
		got := e.text(`WITH RECURSIVE p(id, path) AS (SELECT id, name FROM node WHERE parent_id IS NULL
			UNION ALL SELECT n.id, p.path || '/' || n.name FROM p JOIN node n ON n.parent_id = p.id) SELECT string_agg(path, ',' ORDER BY path) FROM p`)
		if want := "other,other/x,root,root/x,root/x/leaf,root/x/leaf/deep,root/x/leaf/deep/deeper,root/x/leaf/deep/deeper/deepest,root/y"; got != want {
			t.Errorf("tree after the restore:\n%s\nwant\n%s", got, want)
		}
	})
	t.Run("a cycle below matched rows", func(t *testing.T) {
		e := newEnv(t, sourceRows+deeper+`UPDATE node SET parent_id = 8 WHERE id = 6;`, ddl, seed)
		fl := refusal(t, e, restore.Options{}, finding.Orphaned, "node")
		for _, f := range fl {
			if f.Kind == finding.Orphaned && (f.Column != "parent_id" || f.Count != 3) {
				t.Errorf("finding %+v, want 3 rows of node (deep, deeper, deepest) by parent_id", f)
			}
		}
	})
	t.Run("a parent missing", func(t *testing.T) {
		e := newEnv(t, sourceRows+deeper+`ALTER TABLE node DROP CONSTRAINT node_parent_id_fkey; UPDATE node SET parent_id = 99 WHERE id = 7;
			ALTER TABLE node ADD CONSTRAINT node_parent_id_fkey FOREIGN KEY (parent_id) REFERENCES node (id) NOT VALID;`, ddl, seed)
		fl := refusal(t, e, restore.Options{}, finding.Orphaned, "node")
		var unmapped bool
		for _, f := range fl {
			if f.Kind == finding.Orphaned && f.Column == "parent_id" && f.Count == 2 && strings.Contains(f.Message, "could not be mapped") {
				unmapped = true
			}
		}
		if !unmapped {
			t.Errorf("findings %v, want deeper and deepest unmapped", fl)
		}
	})
}
