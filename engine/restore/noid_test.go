package restore_test

import (
	"bytes"
	"log/slog"
	"regexp"
	"strings"
	"testing"

	"github.com/edmsdr/edmsdr/engine/finding"
	"github.com/edmsdr/edmsdr/engine/restore"
)

// TestTableWithoutIDLoadedInASavepoint: the restored rows of a table without an id are told
// from the target's by the transaction that wrote them. When the load runs inside a savepoint
// (reference checks left to it), they carry the savepoint's subtransaction id, not the
// restore's: the digest must count them all the same, into an empty table or beside rows the
// target holds.
func TestTableWithoutIDLoadedInASavepoint(t *testing.T) {
	ddl := `CREATE TABLE kind (id serial PRIMARY KEY, name text NOT NULL UNIQUE);
CREATE TABLE item (id serial PRIMARY KEY, kind_id int NOT NULL REFERENCES kind (id), label text NOT NULL);
CREATE TABLE loose (body text NOT NULL, n int, fee money);`
	rows := `INSERT INTO kind (name) VALUES ('a'), ('b');
INSERT INTO item (kind_id, label) VALUES (1, 'one'), (2, 'two');
INSERT INTO loose VALUES ('x', 1), ('y', 2), ('y', 2);`
	for _, c := range []struct {
		name, seed string
		count      string
	}{
		{"empty", "", "3"},
		{"beside the target's rows", `INSERT INTO loose VALUES ('other', 9);`, "4"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newLandingEnv(t, ddl+rows, ddl+c.seed)
			var log bytes.Buffer
			res, err := e.restore(restore.Options{Log: slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelDebug}))})
			if m := regexp.MustCompile(`phase=preflight .*left_to_load=([0-9]+)`).FindStringSubmatch(log.String()); m == nil || m[1] == "0" {
				t.Fatalf("the load did not run in a savepoint (no reference check left to it):\n%s", log.String())
			}
			if err != nil || !res.Committed || res.Verdict != finding.Pass {
				t.Fatalf("restore: %v (committed %t, verdict %s, findings %v)", err, res.Committed, res.Verdict, res.Findings)
			}
			// money leaves the table to the full digest, which reads the restored rows back.
			if ev := digestEvidence(t, res, "loose"); !strings.HasPrefix(ev, "full digest: 3 rows") {
				t.Errorf("loose: digest evidence %q, want the full digest of 3 rows", ev)
			}
			if n := e.text(`SELECT count(*)::text FROM loose`); n != c.count {
				t.Errorf("loose holds %s rows, want %s", n, c.count)
			}
		})
	}
}
