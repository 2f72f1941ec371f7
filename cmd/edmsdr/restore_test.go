package main

import (
	"testing"

	"github.com/edmsdr/edmsdr/engine/finding"
)

func TestInFlagWordsNamesTheFlags(t *testing.T) {
	fl := finding.List{
		{Kind: finding.Diverged, Message: "the target's row was kept (Options.OnExisting reuse)"},
		{Kind: finding.Duplicated, Message: "restoring would duplicate them (a partial earlier restore? Options.AppendKeyless inserts them anyway)"},
		{Kind: finding.Corrupt, Message: "checksum mismatch"},
		{Kind: finding.ChangedSince, Message: "updated since; a rollback would lose them: roll back with RollbackOptions.Force"},
		{Kind: finding.Unsupported, Message: "the package is not a safety backup (one a restore writes under Options.Safety)"},
	}
	inFlagWords(fl)
	inFlagWords(fl) // idempotent: findings reach the printer along more than one path
	for i, want := range []string{
		"the target's row was kept (--on-existing reuse)",
		"restoring would duplicate them (a partial earlier restore? --append-keyless inserts them anyway)",
		"checksum mismatch",
		"updated since; a rollback would lose them: roll back with --force",
		"the package is not a safety backup (one a restore writes under --safety-backup)",
	} {
		if fl[i].Message != want {
			t.Errorf("message %d = %q, want %q", i, fl[i].Message, want)
		}
	}
}
