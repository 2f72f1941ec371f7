package pgerr

import (
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/edmsdr/edmsdr/engine/finding"
)

func TestFindingKeepsRowContentOutOfTheMessage(t *testing.T) {
	for _, c := range []struct {
		pe   pgconn.PgError
		kind finding.Kind
		data string // row content that must not be in the message, but in Detail
	}{
		{pgconn.PgError{Code: "23505", Message: `duplicate key value violates unique constraint "auth_user_username_key"`,
			Detail: "Key (username)=(alice.secret) already exists.", ConstraintName: "auth_user_username_key"}, finding.Conflict, "alice.secret"},
		{pgconn.PgError{Code: "23514", Message: `new row for relation "doc" violates check constraint "doc_title_check"`,
			Detail: "Failing row contains (7, Quarterly salaries, null)."}, finding.Constraint, "Quarterly salaries"},
		{pgconn.PgError{Code: "23503", Message: `insert or update on table "doc" violates foreign key constraint "doc_owner_fk"`,
			Detail: `Key (owner_id)=(4711) is not present in table "auth_user".`}, finding.Orphaned, "4711"},
		{pgconn.PgError{Code: "22P02", Message: `invalid input syntax for type integer: "card 4111-1111"`}, finding.Constraint, "4111-1111"},
	} {
		f, ok := Finding(fmt.Errorf("restore doc: %w", &c.pe), "doc")
		if !ok || f.Kind != c.kind {
			t.Fatalf("%s: ok %v kind %s, want %s", c.pe.Code, ok, f.Kind, c.kind)
		}
		if strings.Contains(f.Message, c.data) {
			t.Errorf("%s: message carries row content: %q", c.pe.Code, f.Message)
		}
		if !strings.Contains(f.Detail, c.data) {
			t.Errorf("%s: detail %q lacks the row content %q", c.pe.Code, f.Detail, c.data)
		}
		if len(f.Keys) != 0 {
			t.Errorf("%s: the server's text is in Keys (natural keys only): %q", c.pe.Code, f.Keys)
		}
		if r := f.Redacted(); strings.Contains(r.String(), c.data) {
			t.Errorf("%s: redacted finding still carries row content: %s", c.pe.Code, r)
		}
		if !strings.Contains(f.String(), c.data) || !strings.Contains(f.String(), "SQLSTATE "+c.pe.Code) {
			t.Errorf("%s: the finding printed for operators lacks the row or the SQLSTATE: %s", c.pe.Code, f)
		}
	}
}

func TestFindingPrivilege(t *testing.T) {
	f, ok := Finding(&pgconn.PgError{Code: "42501", Message: "permission denied for table auth_user"}, "auth_user")
	if !ok || f.Kind != finding.Privilege || f.Table != "auth_user" {
		t.Fatalf("42501: %+v, %v", f, ok)
	}
	if _, ok := Finding(&pgconn.PgError{Code: "57P01", Message: "terminating connection"}, ""); ok {
		t.Fatal("a connection error became a finding")
	}
}
