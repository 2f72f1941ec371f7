package restore_test

import (
	"bytes"
	"errors"
	"path/filepath"
	"testing"

	"github.com/edmsdr/edmsdr/corrupt"
	"github.com/edmsdr/edmsdr/engine/finding"
	"github.com/edmsdr/edmsdr/engine/restore"
	"github.com/edmsdr/edmsdr/fixtures/localpg/localpgtest"
)

// hasCheck reports whether res has a check name on table with verdict v.
func hasCheck(res *restore.Result, name, table string, v finding.Verdict) bool {
	for _, c := range res.Checks {
		if c.Name == name && c.Table == table && c.Verdict == v {
			return true
		}
	}
	return false
}

// Attacks on the generic foreign keys' identities (issue 11: one join per content type to its
// table's identities instead of a copy of them all — a union view of them at first —, identity
// tables without their own primary key in the restore's validation). A generic reference hashes
// as the identity of the object it names: were the joins to resolve nothing, every reference
// would hash as its raw object id, and a restore that kept the ids but not the objects they name
// would PASS.

// genericObjects prints, per audit entry, what its generic reference names (checked on both
// servers independently of any digest).
const genericObjects = `(SELECT a.id, a.action, ct.model, coalesce(d.title, f.name, '?' || a.object_id) AS object
  FROM audit_entry a LEFT JOIN django_content_type ct ON ct.id = a.content_type_id
  LEFT JOIN docs_doc d ON ct.model = 'doc' AND d.id = a.object_id
  LEFT JOIN docs_folder f ON ct.model = 'folder' AND f.id = a.object_id)`

func TestAttackGenericReferencesNameTheirObjects(t *testing.T) {
	// An object in a tree rides along: it must hash the same on both sides, and not hide the swap.
	src := gfkDDL + gfkRows + `
INSERT INTO audit_entry (content_type_id, object_id, action) VALUES (2, 2, 'move');`
	for name, tgt := range map[string]string{
		"empty": ddl + gfkDDL,
		// Other content type ids, a document and a folder already there: every id moves.
		"seeded": ddl + gfkDDL + `
SELECT setval('django_content_type_id_seq', 40); SELECT setval('docs_doc_id_seq', 70); SELECT setval('docs_folder_id_seq', 80);
INSERT INTO django_content_type (app_label, model) VALUES ('docs', 'folder'), ('docs', 'doc'), ('other', 'thing');
INSERT INTO docs_doc (title) VALUES ('zero');
INSERT INTO docs_folder (parent_id, name) VALUES (NULL, 'root');`,
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, src, tgt, "")

			t.Run("documents swapped", func(t *testing.T) {
				// The package's two documents trade titles: every table's rows still hash as the
				// package's (documents are keyless: a multiset of titles), only the audit entries'
				// generic references now name other documents. The restore must refuse.
				bad := filepath.Join(t.TempDir(), "swapped.edmsdr")
				err := corrupt.Rewrite(e.pkg, bad, func(table string, cols []string, rows [][]byte) ([][]byte, error) {
					if table != "public.docs_doc" {
						return rows, nil
					}
					ti := corrupt.Column(cols, "title")
					var one, two int = -1, -1
					for i, r := range rows {
						switch string(corrupt.Field(r, ti)) {
						case "one":
							one = i
						case "two":
							two = i
						}
					}
					if one < 0 || two < 0 {
						return nil, errors.New("documents one and two not found")
					}
					rows[one], rows[two] = corrupt.SetField(rows[one], ti, []byte("two")), corrupt.SetField(rows[two], ti, []byte("one"))
					return rows, nil
				})
				if err != nil {
					t.Fatal(err)
				}
				good := e.pkg
				e.pkg = bad
				defer func() { e.pkg = good }()
				before := rowsText(e, e.tgt, genericObjects)
				res, err := e.restore(restore.Options{})
				var refused *finding.Refused
				if !errors.As(err, &refused) || res.Committed {
					t.Fatalf("restore of swapped documents: %v (committed %t, verdict %s, findings %v): want a refusal", err, res.Committed, res.Verdict, res.Findings)
				}
				if !hasCheck(res, "digest", "audit_entry", finding.Fail) {
					t.Errorf("refused, but not by audit_entry's digest: %+v", res.Checks)
				}
				if after := rowsText(e, e.tgt, genericObjects); after != before {
					t.Errorf("refused, but the target changed:\n before %q\n after %q", before, after)
				}
			})

			t.Run("as backed up", func(t *testing.T) {
				res, err := e.restore(restore.Options{})
				if err != nil || !res.Committed || res.Verdict != finding.Pass {
					t.Fatalf("restore: %v (committed %t, verdict %s, findings %v)", err, res.Committed, res.Verdict, res.Findings)
				}
				if res.RestoredDigest != res.PackageDigest {
					t.Errorf("restored digest %s, package %s", res.RestoredDigest, res.PackageDigest)
				}
				// The package's digest (the backup streams it, the generic identities a view over
				// identity tables without keys) is the SQL digest of the source (and of the target,
				// when that held nothing before).
				if src := e.digestOf(e.src); res.PackageDigest != src {
					t.Errorf("package digest %s, source's SQL digest %s", res.PackageDigest, src)
				}
				if src, tgt := e.digestOf(e.src), e.digestOf(e.tgt); name == "empty" && tgt != src {
					t.Errorf("target's SQL digest %s, source's %s", tgt, src)
				}
				// What each restored entry names, against the source's (the entries are numbered
				// alike: audit_entry is keyless, loaded in the package's order).
				q := `(SELECT action, model, object FROM ` + genericObjects + ` o WHERE object NOT LIKE '?%' ORDER BY action, model, object)`
				got := rowsTextOrdered(e, e.tgt, q)
				want := rowsTextOrdered(e, e.src, q)
				if got != want {
					t.Errorf("PASS, but the audit entries name other objects:\n target %q\n source %q", got, want)
				}
			})
		})
	}
}

func TestAttackGenericObjectIDWithoutContentType(t *testing.T) {
	// A row whose content type is NULL but whose object id is not names nothing: the digest hashes
	// its object id as it is, so the restore must write it as it is (it wrote NULL, then refused
	// its own rows as a digest mismatch of a package that was fine).
	src := gfkDDL + gfkRows + `
INSERT INTO audit_entry (content_type_id, object_id, action) VALUES (NULL, 1, 'odd'), (NULL, 99, 'odder'), (2, 2, 'move');`
	for name, tgt := range map[string]string{
		"empty": ddl + gfkDDL,
		"seeded": ddl + gfkDDL + `
SELECT setval('django_content_type_id_seq', 40); SELECT setval('docs_doc_id_seq', 70);
INSERT INTO django_content_type (app_label, model) VALUES ('docs', 'folder'), ('docs', 'doc');
INSERT INTO docs_doc (title) VALUES ('zero');`,
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, src, tgt, "")
			res, err := e.restore(restore.Options{})
			if err != nil || !res.Committed || res.Verdict != finding.Pass {
				t.Fatalf("restore: %v (committed %t, verdict %s, findings %v)", err, res.Committed, res.Verdict, res.Findings)
			}
			q := `(SELECT action, content_type_id, object_id FROM audit_entry WHERE content_type_id IS NULL ORDER BY action)`
			if got, want := rowsTextOrdered(e, e.tgt, q), rowsTextOrdered(e, e.src, q); got != want {
				t.Errorf("entries without a content type:\n target %q\n source %q", got, want)
			}
			q = `(SELECT action, model, object FROM ` + genericObjects + ` o ORDER BY action, model, object)`
			if got, want := rowsTextOrdered(e, e.tgt, q), rowsTextOrdered(e, e.src, q); name == "empty" && got != want {
				t.Errorf("audit entries:\n target %q\n source %q", got, want)
			}
		})
	}
}

// rowsTextOrdered prints the rows of relation (already ordered) in the database dsn names.
func rowsTextOrdered(e *env, dsn, relation string) string {
	e.t.Helper()
	var s string
	conn := localpgtest.Shared(e.t).Connect(e.t, dsn)
	q := `SELECT coalesce(string_agg(t::text, E'\n'), '') FROM ` + relation + ` t`
	if err := conn.QueryRow(e.ctx, q).Scan(&s); err != nil {
		e.t.Fatalf("%s: %v", q, err)
	}
	return s
}

func TestAttackReferenceLeftToTheLoadMetByATrigger(t *testing.T) {
	// The package's last item names kind 99, which it lacks; the preflight leaves that reference
	// check to the load's validation of the foreign key (proven.go), and a trigger on another
	// table the restore writes creates kind 99 during the load: the foreign key validates. The
	// restore must still refuse (nothing committed), as the preflight did: an orphaned reference.
	e := newLandingEnv(t, lonerDDL+lonerRows+landingDDL+landingRows, lonerDDL+landingDDL+`
CREATE FUNCTION ghost_kind() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO kind (id, name) VALUES (99, 'ghost'); RETURN NULL; END $$;
CREATE TRIGGER aloner_ghost AFTER INSERT ON aloner FOR EACH STATEMENT EXECUTE FUNCTION ghost_kind();`)
	danglingKind(t, e)
	// The trigger does not hide the orphan from the preflight: the check is not left to the load.
	expectRefusedLeavingNothing(t, e, finding.Orphaned, "item")
}

func TestAttackReferenceLeftToTheLoadMetByAnIndex(t *testing.T) {
	// As above, the missing kind created while the load builds an expression index of another
	// table again (the index is dropped for the load: the catalog must be read before).
	e := newLandingEnv(t, lonerDDL+lonerRows+landingDDL+landingRows, lonerDDL+landingDDL+`
CREATE FUNCTION ghost_kind() RETURNS text LANGUAGE plpgsql VOLATILE AS $$
BEGIN INSERT INTO kind (id, name) SELECT 99, 'ghost' WHERE NOT EXISTS (SELECT 1 FROM kind WHERE id = 99); RETURN 'x'; END $$;
CREATE FUNCTION folded(text) RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$ BEGIN PERFORM ghost_kind(); RETURN lower($1); END $$;
CREATE INDEX aloner_folded ON aloner (folded(val));`)
	danglingKind(t, e)
	expectRefusedLeavingNothing(t, e, finding.Orphaned, "item")
}

// danglingKind rewrites e's package so that its last item refers to kind 99, which it lacks.
func danglingKind(t *testing.T, e *env) {
	t.Helper()
	e.setField("public.item", -1, "kind_id", []byte("99"))
}

func TestAttackUniquenessLeftToTheIndexMetByATrigger(t *testing.T) {
	// The package's seventh plain row (nothing refers to it) repeats the second one's id; the
	// staged-row check leaves that to the build of plain's primary key after the load
	// (proven.go), and a trigger on another table the restore writes deletes the duplicate before
	// the build. The restore must refuse (nothing committed), as the staged-row check did: a
	// duplicated id.
	e := newLandingEnv(t, lonerDDL+lonerRows+landingDDL+landingRows, lonerDDL+landingDDL+`
CREATE FUNCTION undup_kind() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN DELETE FROM plain a USING plain b WHERE a.id = b.id AND a.ctid > b.ctid; RETURN NULL; END $$;
CREATE TRIGGER aloner_undup AFTER INSERT ON aloner FOR EACH STATEMENT EXECUTE FUNCTION undup_kind();`)
	bad := filepath.Join(t.TempDir(), "duplicate.edmsdr")
	err := corrupt.Rewrite(e.pkg, bad, func(table string, cols []string, rows [][]byte) ([][]byte, error) {
		if table == "public.plain" {
			id := corrupt.Column(cols, "id")
			if len(rows) != 8 || string(corrupt.Field(rows[6], id)) != "7" {
				return nil, errors.New("plain: not the 8 rows expected")
			}
			rows[6] = corrupt.SetField(rows[6], id, corrupt.Field(rows[1], id))
		}
		return rows, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	e.pkg = bad
	expectRefusedLeavingNothing(t, e, finding.Duplicated, "plain")
}

// expectRefusedLeavingNothing restores e's package and requires a refusal with a finding of kind
// on table, and none of the loner/landing tables holding a row afterwards.
func expectRefusedLeavingNothing(t *testing.T, e *env, kind finding.Kind, table string) {
	t.Helper()
	var log bytes.Buffer
	res, err := e.restore(restore.Options{Log: debugLog(&log)})
	var refused *finding.Refused
	if !errors.As(err, &refused) || res.Committed {
		t.Fatalf("restore: %v (committed %t, verdict %s, findings %v), want a refusal\n%s", err, res.Committed, res.Verdict, res.Findings, log.String())
	}
	if !hasKind(res.Findings, kind, table) {
		t.Errorf("findings %v, want %s on %s\n%s", res.Findings, kind, table, log.String())
	}
	for _, tbl := range []string{"aloner", "kind", "plain", "item"} {
		if n := e.text(`SELECT count(*)::text FROM ` + tbl); n != "0" {
			t.Errorf("%s: %s rows committed", tbl, n)
		}
	}
}
