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
	}
	inFlagWords(fl)
	inFlagWords(fl) // idempotent: findings reach the printer along more than one path
	for i, want := range []string{
		"the target's row was kept (--on-existing reuse)",
		"restoring would duplicate them (a partial earlier restore? --append-keyless inserts them anyway)",
		"checksum mismatch",
	} {
		if fl[i].Message != want {
			t.Errorf("message %d = %q, want %q", i, fl[i].Message, want)
		}
	}
}
