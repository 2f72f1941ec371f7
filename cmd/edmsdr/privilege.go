package main

import (
	"fmt"
	"io"

	"github.com/edmsdr/edmsdr/engine/dsn"
	"github.com/edmsdr/edmsdr/engine/finding"
	"github.com/edmsdr/edmsdr/engine/pgerr"
)

// privilegeHint explains a failure caused by a missing grant that did not come as a refusal
// (backup, digest: restore reports it as a finding of its own): it is printed as a finding of
// kind privilege, with a pointer to the grants each command needs.
func privilegeHint(w io.Writer, err error) {
	if finding.FindingsOf(err) != nil {
		return
	}
	f, ok := pgerr.Finding(err, "")
	if !ok || f.Kind != finding.Privilege {
		return
	}
	fmt.Fprintf(w, "  %s\n", dsn.Redact(f.String()))
	fmt.Fprintln(w, "The role lacks a grant this command needs; docs/security.md lists the minimal grants of backup and restore.")
}
