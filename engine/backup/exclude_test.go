package backup_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/edmsdr/edmsdr/engine/backup"
	"github.com/edmsdr/edmsdr/engine/finding"
	"github.com/edmsdr/edmsdr/engine/keys"
)

// TestBackupRefusesToLeaveOutAReferencedTable: a table the backup leaves out (the keys file's
// exclude, or a schema --schema does not name) that a table it keeps references by a foreign
// key would make a package whose schema snapshot names a table it lacks, which verify and every
// restore refuse as corrupt: the backup refuses before writing, naming both.
func TestBackupRefusesToLeaveOutAReferencedTable(t *testing.T) {
	cfg, conn, ctx := newSource(t)
	if _, err := conn.Exec(ctx, `CREATE SCHEMA elsewhere; CREATE TABLE elsewhere.owner (id int PRIMARY KEY);
CREATE TABLE public.owned (id int PRIMARY KEY, owner_id int REFERENCES elsewhere.owner)`); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		opts        backup.Options
		table, refd string
	}{
		{backup.Options{Keys: &keys.File{Exclude: []string{"kind", "elsewhere.owner"}}}, "node", "kind"},
		{backup.Options{Schemas: []string{"public"}}, "owned", "elsewhere.owner"},
	} {
		out := filepath.Join(t.TempDir(), "b.edmsdr")
		_, err := backup.Run(ctx, cfg, out, c.opts)
		fl := finding.FindingsOf(err)
		if err == nil || len(fl) == 0 || fl[0].Kind != finding.KeyPlan || fl[0].Table != c.table {
			t.Errorf("leaving out %s: error %v (findings %v), want a key-plan finding on %s", c.refd, err, fl, c.table)
		}
		if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("leaving out %s: a refused backup left %s: %v", c.refd, out, err)
		}
	}
	// Left out with every table that references it: a package restore accepts.
	out := filepath.Join(t.TempDir(), "b.edmsdr")
	if _, err := backup.Run(ctx, cfg, out, backup.Options{Keys: &keys.File{Exclude: []string{"kind", "node", "note", "elsewhere.owner", "owned"}}}); err != nil {
		t.Fatal(err)
	}
	verify(t, out)
}
