package restore_test

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edmsdr/edmsdr/corrupt"
	"github.com/edmsdr/edmsdr/engine/finding"
	"github.com/edmsdr/edmsdr/engine/keys"
	"github.com/edmsdr/edmsdr/engine/restore"
)

// digestCheck returns the evidence of table's digest check.
func digestCheck(t *testing.T, res *restore.Result, table string) string {
	t.Helper()
	for _, c := range res.Checks {
		if c.Table == table && strings.Contains(c.Name, "digest") {
			return c.Evidence
		}
	}
	t.Fatalf("no digest check for %s among %+v", table, res.Checks)
	return ""
}

// Into a seeded target (kind 'a' and the root node already there, under other ids) the tables
// empty before the restore whose references point at the seeded kind and node go straight in,
// their references rewritten in the stream through the held maps of kind and node; the result,
// the digest and the id map are those of the staging path.
func TestDirectLoadThroughHeldMaps(t *testing.T) {
	e := newEnv(t, docDDL+sourceRows+docRows, ddl+docDDL, targetSeed)
	var log, ids bytes.Buffer
	res, err := e.restore(restore.Options{Log: debugLog(&log), IDMap: &ids})
	if err != nil || !res.Committed || res.Verdict != finding.Pass {
		t.Fatalf("restore: %v (committed %t, %s)\n%s", err, res.Committed, res.Verdict, log.String())
	}
	for name, want := range map[string]bool{"kind": false, "node": false, "doc": true, "ver": true, "note": true} {
		if tr := table(t, res, name); tr.Direct != want || tr.Inserted+tr.Matched != tr.Staged {
			t.Errorf("%s: direct %t (want %t), staged %d, matched %d, inserted %d", name, tr.Direct, want, tr.Staged, tr.Matched, tr.Inserted)
		}
	}
	if strings.Contains(log.String(), "direct load given up") {
		t.Errorf("a direct load was given up:\n%s", log.String())
	}
	for _, name := range []string{"kind", "node"} {
		if !strings.Contains(log.String(), `msg="id map held" table=`+name) {
			t.Errorf("the id map of %s was not held:\n%s", name, log.String())
		}
	}
	if got, want := e.digestOf(e.tgt), e.digestOf(e.src); got != want {
		t.Errorf("target digest %s, source %s", got, want)
	}
	if res.RestoredDigest != res.PackageDigest {
		t.Errorf("restored digest %s, package %s", res.RestoredDigest, res.PackageDigest)
	}
	// ver's and note's digests rest on the landing proof, their references rewritten.
	for table, through := range map[string]string{"ver": "kind_id through the id map of kind", "note": "node_id through the id map of node"} {
		if ev := digestCheck(t, res, table); !strings.Contains(ev, "landing proof") || !strings.Contains(ev, through) {
			t.Errorf("%s's digest check: %s", table, ev)
		}
	}
	// The rows point at the target's kind 'a' (id 101) and at kind 'b', inserted past it.
	if got := e.text(`SELECT string_agg(v.body || ':' || coalesce(k.name, '-'), ',' ORDER BY v.id) FROM ver v LEFT JOIN kind k ON k.id = v.kind_id`); got != "a:a,b:-,c:b,d:a" {
		t.Errorf("ver's kinds: %s", got)
	}
	if got := e.text(`SELECT min(kind_id)::text FROM ver`); got != "101" {
		t.Errorf("ver's lowest kind id %s, want the seeded kind's 101", got)
	}
	// The same restore through staging gives the same id map.
	e2 := newEnv(t, docDDL+sourceRows+docRows, ddl+docDDL, targetSeed)
	var ids2 bytes.Buffer
	res2, err := e2.restore(restore.Options{StageAll: true, IDMap: &ids2})
	if err != nil || !res2.Committed {
		t.Fatalf("restore through staging: %v", err)
	}
	if ids.String() != ids2.String() {
		t.Errorf("id map:\n%s\nthrough staging:\n%s", ids.String(), ids2.String())
	}
	if res.RestoredDigest != res2.RestoredDigest {
		t.Errorf("restored digest %s, through staging %s", res.RestoredDigest, res2.RestoredDigest)
	}
}

// outcome is what a restore says, everything but times: for comparing two paths.
func outcome(res *restore.Result, err error) string {
	var b strings.Builder
	b.WriteString(render(finding.FindingsOf(err)))
	b.WriteString(render(res.Findings))
	for _, tr := range res.Tables {
		tr.Direct = false
		b.WriteString(strings.ReplaceAll(strings.TrimSpace(strings.Join([]string{tr.Table, string(tr.Verdict)}, " ")), "\n", " "))
		b.WriteString("\n")
	}
	b.WriteString(string(res.Verdict) + " " + res.RestoredDigest + "\n")
	return b.String()
}

func TestDirectLoadThroughHeldMapsFindingsEqualTheStagingPaths(t *testing.T) {
	cases := []struct {
		name, src, seed string
		kf              *keys.File // at backup
		edit            corrupt.EditFunc
		opts            restore.Options
		budget          int64
		committed       bool
		kind            finding.Kind // a finding both paths must report
		direct          bool         // ver stays loaded straight in
		log             string       // what the debug log must say
	}{
		{name: "a reference to a seeded row the map does not hold", kind: finding.Orphaned,
			src: docRows + `ALTER TABLE ver DROP CONSTRAINT ver_kind_id_fkey; INSERT INTO ver (doc_id, kind_id, body) VALUES (1, 99, 'dangling');
				ALTER TABLE ver ADD CONSTRAINT ver_kind_id_fkey FOREIGN KEY (kind_id) REFERENCES kind (id) NOT VALID;`,
			log: `"direct load given up" table=ver why="entry `},
		{name: "a reference that is no integer", kind: finding.Constraint,
			src: docRows,
			edit: func(table string, _ []string, rows [][]byte) ([][]byte, error) {
				if table == "public.ver" {
					rows[0] = bytes.Replace(rows[0], []byte("\t1\ta"), []byte("\tone\ta"), 1)
				}
				return rows, nil
			},
			log: `"direct load given up" table=ver why="entry `},
		{name: "a matched seeded row that diverged (reuse)", committed: true, direct: true, kind: finding.Diverged,
			src: docRows, seed: strings.Replace(targetSeed, "'Kind A'", "'Another A'", 1),
			log: `msg="id map held" table=kind`},
		{name: "a matched seeded row that diverged (fail)", kind: finding.Diverged, direct: true,
			src: docRows, seed: strings.Replace(targetSeed, "'Kind A'", "'Another A'", 1), opts: restore.Options{OnExisting: restore.Fail},
			log: `msg="id map held" table=kind`},
		{name: "two seeded rows of one natural key: a map that is not injective", kind: finding.Duplicated,
			src: docRows, edit: appendRow("public.kind", "9\ta\tKind A"),
			log: `"direct load given up" table=ver why="the id map of kind cannot be held: two of its source ids map to one target id"`},
		{name: "a seeded table's id twice: refused as through staging", kind: finding.Duplicated,
			src: docRows, edit: appendRow("public.kind", "1\tc\tKind C"),
			log: `msg="id map held" table=kind`},
		{name: "a seeded row without id: its map's build fails, rolled back",
			src: docRows, edit: appendRow("public.kind", "\\N\tc\tKind C"),
			log: `"direct load given up" table=ver why="the id map of kind cannot be held: its id map could not be built while staging`},
		{name: "source ids kept where they collide with none", committed: true, direct: true,
			src: docRows, opts: restore.Options{KeepIDs: []string{"*"}}, log: `msg="id map held" table=kind`},
		{name: "maps over the budget", committed: true, budget: 1,
			src: docRows, log: `"direct load given up" table=ver why="the id map of kind cannot be held: 2 ids, beyond the 1 held in memory"`},
		{name: "the package's plan keys kind otherwise than the target's", committed: true,
			src: docRows, seed: strings.ReplaceAll(targetSeed, "'a'", "'z'"), kind: finding.Diverged,
			kf:  &keys.File{Tables: map[string]keys.TableSpec{"kind": {NaturalKey: &[]string{"label"}}}},
			log: `msg="id map built while staging dropped" table=kind`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			seed := c.seed
			if seed == "" {
				seed = targetSeed
			}
			e := newEnv(t, docDDL+sourceRows+c.src, ddl+docDDL, seed)
			if c.kf != nil {
				e.backupChunked(0, c.kf)
			}
			if c.edit != nil {
				edited := filepath.Join(t.TempDir(), "edited.edmsdr")
				if err := corrupt.Rewrite(e.pkg, edited, c.edit); err != nil {
					t.Fatal(err)
				}
				e.pkg = edited
			}
			if c.budget > 0 {
				defer restore.SetMaxHeldMapEntries(c.budget)()
			}
			before := e.digestOf(e.tgt)
			run := func(opts restore.Options) (*restore.Result, string) {
				t.Helper()
				var ids bytes.Buffer
				opts.IDMap = &ids
				res, err := e.restore(opts)
				if res.Committed != c.committed {
					t.Fatalf("committed %t, want %t (err %v)", res.Committed, c.committed, err)
				}
				if c.kind != "" && !finding.FindingsOf(err).Has(c.kind) && !res.Findings.Has(c.kind) {
					t.Fatalf("findings %v, want %s", res.Findings, c.kind)
				}
				out := outcome(res, err) + ids.String()
				if res.Committed {
					out += e.digestOf(e.tgt)
					if _, err := e.conn.Exec(e.ctx, "TRUNCATE kind, node, note, doc, ver RESTART IDENTITY CASCADE;"+seed); err != nil {
						t.Fatal(err)
					}
				} else if e.digestOf(e.tgt) != before {
					t.Fatal("a refused restore changed the target")
				}
				return res, out
			}
			opts := c.opts
			opts.StageAll = true
			_, staged := run(opts)
			var log bytes.Buffer
			opts.StageAll, opts.Log = false, debugLog(&log)
			res, direct := run(opts)
			if direct != staged {
				t.Errorf("with held maps:\n%s\nthrough staging:\n%s", direct, staged)
			}
			if !chosenDirect(log.String())["ver"] {
				t.Errorf("ver was not chosen to load straight in:\n%s", log.String())
			}
			if !strings.Contains(log.String(), c.log) {
				t.Errorf("the log does not say %s:\n%s", c.log, log.String())
			}
			if res.Committed || c.direct {
				for _, tr := range res.Tables {
					if tr.Table == "ver" && tr.Direct != c.direct {
						t.Errorf("ver: direct %t, want %t", tr.Direct, c.direct)
					}
				}
			}
		})
	}
}

func TestDirectLoadThroughHeldMapsGivenUpAfterSeveralEntries(t *testing.T) {
	// ver in several entries, its last row referring to a kind the package lacks: the rows of the
	// earlier entries, loaded with their references rewritten, go back to staging in source terms
	// (read back through the map), and the findings are the staging path's.
	src := docDDL + manyDocs + `ALTER TABLE ver DROP CONSTRAINT ver_kind_id_fkey; UPDATE ver SET kind_id = 99 WHERE id = 3000;
		ALTER TABLE ver ADD CONSTRAINT ver_kind_id_fkey FOREIGN KEY (kind_id) REFERENCES kind (id) NOT VALID;`
	e := newEnv(t, sourceRows+src, ddl+docDDL, targetSeed)
	e.backupChunked(8<<10, nil)
	before := e.digestOf(e.tgt)
	_, err := e.restore(restore.Options{StageAll: true})
	staged := finding.FindingsOf(err)
	var log bytes.Buffer
	res, err := e.restore(restore.Options{Log: debugLog(&log)})
	direct := finding.FindingsOf(err)
	if err == nil || res.Committed || !direct.Has(finding.Orphaned) {
		t.Fatalf("restore: %v (committed %t), want an orphaned reference", err, res.Committed)
	}
	if got, want := render(direct), render(staged); got != want {
		t.Errorf("findings with held maps:\n%s\nthrough staging:\n%s", got, want)
	}
	if !strings.Contains(log.String(), `"direct load given up" table=ver why="entry data/`) || strings.Contains(log.String(), "000000.copy: column kind_id") {
		t.Errorf("the direct load of ver was not given up at a later entry:\n%s", log.String())
	}
	if e.digestOf(e.tgt) != before {
		t.Error("a refused restore changed the target")
	}
	// The same package with that row's reference repaired through the map: committed, ver direct.
	fixed := docDDL + manyDocs
	e = newEnv(t, sourceRows+fixed, ddl+docDDL, targetSeed)
	e.backupChunked(8<<10, nil)
	res, err = e.restore(restore.Options{})
	if err != nil || !res.Committed || res.Verdict != finding.Pass {
		t.Fatalf("restore: %v (committed %t, %s)", err, res.Committed, res.Verdict)
	}
	if tr := table(t, res, "ver"); !tr.Direct || tr.Inserted != 3000 {
		t.Errorf("ver: direct %t, inserted %d, want direct, 3000", tr.Direct, tr.Inserted)
	}
	if got, want := e.digestOf(e.tgt), e.digestOf(e.src); got != want {
		t.Errorf("target digest %s, source %s", got, want)
	}
}

// appendRow appends a row (COPY text) to table's data in the package.
func appendRow(table, row string) corrupt.EditFunc {
	return func(t string, _ []string, rows [][]byte) ([][]byte, error) {
		if t == table {
			rows = append(rows, []byte(row))
		}
		return rows, nil
	}
}
