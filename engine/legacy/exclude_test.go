package legacy

import (
	"testing"

	"github.com/edmsdr/edmsdr/engine/finding"
	"github.com/edmsdr/edmsdr/engine/keys"
)

// TestConvertRefusesToLeaveOutAReferencedTable: excluding a table that a table converted
// references would write a package whose schema names a table it lacks (verify and every restore
// refuse it as corrupt): the conversion refuses first, naming the referencing table.
func TestConvertRefusesToLeaveOutAReferencedTable(t *testing.T) {
	ctx, tc, dsn := layoutDB(t)
	_, _, err := convertString(t, ctx, tc, dsn, layoutFixture, &keys.File{Exclude: []string{"lib_pair"}})
	fl := finding.FindingsOf(err)
	if err == nil || len(fl) != 2 || fl[0].Kind != finding.KeyPlan || fl[0].Table != "lib_note" || fl[1].Table != "lib_pairref" {
		t.Fatalf("error %v (findings %v), want key-plan findings on lib_note and lib_pairref", err, fl)
	}
	if _, _, err := convertString(t, ctx, tc, dsn, layoutFixture, &keys.File{Exclude: []string{"lib_pair", "lib_pairref", "lib_note", "lib_noteref"}}); err != nil {
		t.Fatalf("leaving out the referencing tables too: %v", err)
	}
}
