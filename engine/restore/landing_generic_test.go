package restore_test

import (
	"bytes"
	"errors"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/edmsdr/edmsdr/corrupt"
	"github.com/edmsdr/edmsdr/engine/finding"
	"github.com/edmsdr/edmsdr/engine/restore"
)

// auditDDL is an EDMS-like audit trail: keyless, Django's generic foreign key (detected) naming
// documents, their versions or users, and an actor.
const auditDDL = `
CREATE TABLE django_content_type (id serial PRIMARY KEY, app_label text NOT NULL, model text NOT NULL, UNIQUE (app_label, model));
CREATE TABLE auth_user (id serial PRIMARY KEY, username text NOT NULL UNIQUE);
CREATE TABLE docs_doc (id serial PRIMARY KEY, number text NOT NULL UNIQUE, title text);
CREATE TABLE docs_version (id serial PRIMARY KEY, doc_id int NOT NULL REFERENCES docs_doc, num int NOT NULL, UNIQUE (doc_id, num));
CREATE TABLE audit_auditentry (id bigserial PRIMARY KEY, content_type_id int REFERENCES django_content_type (id) DEFERRABLE INITIALLY DEFERRED,
  object_id int CHECK (object_id >= 0), action varchar(32) NOT NULL, actor_id int REFERENCES auth_user (id), changes jsonb);`

const auditRows = `
INSERT INTO django_content_type (app_label, model) VALUES ('docs', 'doc'), ('docs', 'version'), ('auth', 'user'), ('docs', 'ghost');
INSERT INTO auth_user (username) VALUES ('ann'), ('bob');
INSERT INTO docs_doc (number, title) VALUES ('D1', 'one'), ('D2', 'two'), ('D3', NULL);
INSERT INTO docs_version (doc_id, num) VALUES (1, 1), (2, 1), (2, 2), (3, 1);
INSERT INTO audit_auditentry (content_type_id, object_id, action, actor_id, changes) VALUES
  (1, 1, 'create', 1, '{"title": "one"}'), (1, 2, 'create', 1, NULL), (1, 2, 'edit', 2, '{"a": [1, "b,c"]}'),
  (2, 2, 'upload', 2, NULL), (2, 3, 'upload', NULL, NULL), (3, 2, 'login as', 1, NULL),
  (NULL, NULL, 'login', 1, NULL), (1, NULL, 'list', 2, NULL), (2, 1, 'upload', 1, NULL);`

func TestLandingProofForGenericForeignKeys(t *testing.T) {
	e := newLandingEnv(t, auditDDL+auditRows, auditDDL)
	res, err := e.restore(restore.Options{})
	if err != nil || !res.Committed || res.Verdict != finding.Pass {
		t.Fatalf("restore: %v (committed %t, verdict %s, findings %v)", err, res.Committed, res.Verdict, res.Findings)
	}
	for _, tbl := range []string{"django_content_type", "auth_user", "docs_doc", "docs_version", "audit_auditentry"} {
		wantEvidence(t, res, tbl, "landing proof")
	}
	if got, want := e.digestOf(e.tgt), e.digestOf(e.src); got != want || res.RestoredDigest != want || res.PackageDigest != want {
		t.Errorf("target's SQL digest %s, restored %s, package %s; source's %s", got, res.RestoredDigest, res.PackageDigest, want)
	}

	// A document already in the target takes id 1: the package's documents are mapped, the
	// audit trail goes through staging, its object ids rewritten through the generic map: the
	// full digest, and a PASS.
	e = newLandingEnv(t, auditDDL+auditRows, auditDDL+`
INSERT INTO docs_doc (number, title) VALUES ('D9', 'nine');`)
	res, err = e.restore(restore.Options{})
	if err != nil || !res.Committed || res.Verdict != finding.Pass {
		t.Fatalf("restore into a target with a document: %v (committed %t, verdict %s, findings %v)", err, res.Committed, res.Verdict, res.Findings)
	}
	if ev := digestEvidence(t, res, "audit_auditentry"); !strings.HasPrefix(ev, "full digest: ") {
		t.Errorf("audit_auditentry through the generic map: digest evidence %q, want the full digest", ev)
	}
	if got := e.text(`SELECT count(*) FROM audit_auditentry a JOIN docs_doc d ON a.content_type_id = 1 AND d.id = a.object_id WHERE d.number = 'D9'`); got != "0" {
		t.Errorf("%s audit entries name the target's own document", got)
	}

	// An object id without a content type sends the table through staging (genericIdentity): the
	// full digest, and a PASS.
	e = newLandingEnv(t, auditDDL+auditRows+`
INSERT INTO audit_auditentry (content_type_id, object_id, action) VALUES (NULL, 7, 'odd');`, auditDDL)
	res, err = e.restore(restore.Options{})
	if err != nil || !res.Committed || res.Verdict != finding.Pass {
		t.Fatalf("restore with an object id without a content type: %v (committed %t, verdict %s, findings %v)", err, res.Committed, res.Verdict, res.Findings)
	}
	if ev := digestEvidence(t, res, "audit_auditentry"); !strings.HasPrefix(ev, "full digest: ") {
		t.Errorf("audit_auditentry with an object id without a content type: digest evidence %q, want the full digest", ev)
	}
	if got, want := e.digestOf(e.tgt), e.digestOf(e.src); got != want {
		t.Errorf("target digest %s, source %s", got, want)
	}
}

func TestLandingProofRefusesRewiredGenericReferences(t *testing.T) {
	// A generic reference moved to another existing object and the package resealed (it
	// verifies, every reference resolves): the identities its rows are completed with no longer
	// give the package's digest. Refused by the full digest, as a digest mismatch.
	e := newLandingEnv(t, auditDDL+auditRows, auditDDL)
	good := e.pkg
	for _, c := range []struct {
		name   string
		rewire func(cols []string, row []byte) []byte
	}{
		// 'create' of document 1 now names document 2.
		{"object id", func(cols []string, row []byte) []byte {
			return corrupt.SetField(row, corrupt.Column(cols, "object_id"), []byte("2"))
		}},
		// The same object id, of another content type: version 1 instead of document 1.
		{"content type", func(cols []string, row []byte) []byte {
			return corrupt.SetField(row, corrupt.Column(cols, "content_type_id"), []byte("2"))
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			changed := filepath.Join(t.TempDir(), "rewired.edmsdr")
			err := corrupt.Rewrite(good, changed, func(table string, cols []string, rows [][]byte) ([][]byte, error) {
				if table != "public.audit_auditentry" {
					return rows, nil
				}
				for i, r := range rows {
					if string(corrupt.Field(r, corrupt.Column(cols, "action"))) == "create" && string(corrupt.Field(r, corrupt.Column(cols, "object_id"))) == "1" {
						rows[i] = c.rewire(cols, r)
						return rows, nil
					}
				}
				return nil, errors.New("the creation of document 1 is not in the package")
			})
			if err != nil {
				t.Fatal(err)
			}
			e.pkg = changed
			before := e.text(`SELECT count(*) FROM audit_auditentry`)
			res, err := e.restore(restore.Options{})
			expectRefused(t, res, err, finding.DigestMismatch, "audit_auditentry")
			wantEvidence(t, res, "audit_auditentry", "full digest")
			if ev := digestEvidence(t, res, "docs_doc"); !strings.HasPrefix(ev, "landing proof: ") {
				t.Errorf("docs_doc: digest evidence %q, want the landing proof (its rows are intact)", ev)
			}
			if after := e.text(`SELECT count(*) FROM audit_auditentry`); after != before || before != "0" {
				t.Errorf("refused, but the audit trail holds %s rows (before: %s)", after, before)
			}
		})
	}
}

func TestLandingProofGenericKeyWhoseContentTypeThePackageLacks(t *testing.T) {
	// The target's audit trail has Django's generic foreign key, the source's no content type
	// column: staging foresees a generic object id whose content type no row sent carries. The
	// table takes the full digest (the target fills the column), and the restore passes.
	src := strings.Replace(auditDDL, "content_type_id int REFERENCES django_content_type (id) DEFERRABLE INITIALLY DEFERRED,", "", 1) + `
INSERT INTO django_content_type (app_label, model) VALUES ('docs', 'doc');
INSERT INTO audit_auditentry (object_id, action) VALUES (1, 'create'), (NULL, 'login');`
	e := newLandingEnv(t, src, auditDDL)
	res, err := e.restore(restore.Options{})
	if err != nil || !res.Committed || res.Verdict != finding.Pass {
		t.Fatalf("restore: %v (committed %t, verdict %s, findings %v)", err, res.Committed, res.Verdict, res.Findings)
	}
	wantEvidence(t, res, "audit_auditentry", "full digest")
}

// identitiesRead counts, per table, the reads of its identities a restore's debug log shows, and
// sums the bytes read for table for.
func identitiesRead(log, forTable string) (map[string]int, int64) {
	reads := map[string]int{}
	var bytes int64
	re := regexp.MustCompile(`msg="identities held" table=(\S+) for=(\S+) rows=\d+ dense=\w+ bytes=(\d+)`)
	for _, m := range re.FindAllStringSubmatch(log, -1) {
		reads[m[1]]++
		if m[2] == forTable {
			n, _ := strconv.ParseInt(m[3], 10, 64)
			bytes += n
		}
	}
	return reads, bytes
}

func TestLandingProofHoldsIdentitiesWithinItsBudget(t *testing.T) {
	// Tables referring to the same ones in turn: the identities read for one stay for the next
	// while they fit the budget, so each is read once. Under a budget that the tags' identities
	// fill, read first, they are let go for the audit trail's, and every table still takes the
	// proof; under a budget one byte short of the audit trail's, the audit trail takes the full
	// digest. Every restore passes.
	more := `
CREATE TABLE aa_tag (id serial PRIMARY KEY, name text NOT NULL UNIQUE);
CREATE TABLE ab_tagging (id serial PRIMARY KEY, tag_id int NOT NULL REFERENCES aa_tag, what text);
CREATE TABLE docs_note (id serial PRIMARY KEY, doc_id int NOT NULL REFERENCES docs_doc, author_id int REFERENCES auth_user, body text);
CREATE TABLE docs_pin (id serial PRIMARY KEY, version_id int NOT NULL REFERENCES docs_version, note text);`
	rows := `
INSERT INTO docs_note (doc_id, author_id, body) VALUES (1, 1, 'a'), (2, NULL, 'b'), (3, 2, 'c');
INSERT INTO docs_pin (version_id, note) VALUES (1, 'x'), (4, 'y');
INSERT INTO aa_tag (name) SELECT 't' || i FROM generate_series(1, 50) i;
INSERT INTO ab_tagging (tag_id, what) SELECT 1 + i % 50, 'w' FROM generate_series(1, 100) i;`
	restoreLogged := func(budget int64) (*restore.Result, string) {
		t.Helper()
		defer restore.SetMaxHeldIdentityBytes(budget)()
		e := newLandingEnv(t, auditDDL+more+auditRows+rows, auditDDL+more)
		var log bytes.Buffer
		res, err := e.restore(restore.Options{Log: debugLog(&log)})
		if err != nil || !res.Committed || res.Verdict != finding.Pass {
			t.Fatalf("restore within %d bytes: %v (committed %t, verdict %s, findings %v)", budget, err, res.Committed, res.Verdict, res.Findings)
		}
		return res, log.String()
	}
	proven := func(res *restore.Result, tables ...string) {
		t.Helper()
		for _, tbl := range tables {
			wantEvidence(t, res, tbl, "landing proof")
		}
	}
	all := []string{"django_content_type", "auth_user", "docs_doc", "docs_version", "audit_auditentry", "docs_note", "docs_pin", "aa_tag", "ab_tagging"}

	res, log := restoreLogged(24 << 20)
	proven(res, all...)
	reads, need := identitiesRead(log, "audit_auditentry")
	for tbl, n := range reads {
		if n != 1 {
			t.Errorf("identities of %s read %d times, want once", tbl, n)
		}
	}
	if len(reads) < 4 || need == 0 {
		t.Fatalf("identities read %v, %d bytes for the audit trail: want the four tables it refers to", reads, need)
	}

	_, tags := identitiesRead(log, "ab_tagging")
	if tags <= need || strings.Index(log, "for=ab_tagging") > strings.Index(log, "for=audit_auditentry") {
		t.Fatalf("the tags' identities (%d bytes) are read after the audit trail's (%d bytes), or take less:\n%s", tags, need, log)
	}
	res, log = restoreLogged(tags)
	proven(res, all...)
	if reads, _ := identitiesRead(log, ""); len(reads) != 5 {
		t.Errorf("identities read %v within %d bytes: want five tables' once", reads, tags)
	}

	res, _ = restoreLogged(need - 1)
	proven(res, "docs_doc", "docs_version", "docs_note", "docs_pin")
	if ev := digestEvidence(t, res, "audit_auditentry"); !strings.HasPrefix(ev, "full digest: ") {
		t.Errorf("audit_auditentry within %d bytes: digest evidence %q, want the full digest", need-1, ev)
	}
}
