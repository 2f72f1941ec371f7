package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

func TestRedactCommandKeepsNoSecret(t *testing.T) {
	got := redactCommand([]string{"restore", "--dsn", "postgres://alice:s3cret@db.example:5433/edms", "--in", "pkg.edmsdr",
		"--dsn=host=db password='s 3cret' user=bob dbname=edms", "--journal-table"})
	if strings.Contains(got, "s3cret") || strings.Contains(got, "3cret") {
		t.Fatalf("command keeps a password: %s", got)
	}
	for _, want := range []string{"edmsdr restore", "alice@db.example:5433/edms", "bob@db:5432/edms", "--in pkg.edmsdr", "--journal-table"} {
		if !strings.Contains(got, want) {
			t.Errorf("command %q lacks %q", got, want)
		}
	}
}

func TestErrorClassQuotesNoValue(t *testing.T) {
	pe := &pgconn.PgError{Code: "22P02", Message: `invalid input syntax for type integer: "Jane Doe"`, TableName: "auth_user"}
	got := errorClass(fmt.Errorf("restore auth_user: %w", pe))
	if strings.Contains(got, "Jane") || !strings.Contains(got, "22P02") || !strings.Contains(got, "auth_user") {
		t.Fatalf("error class %q: want SQLSTATE and table, no value", got)
	}
}

func TestSafetyLocation(t *testing.T) {
	now := time.Date(2026, 12, 5, 1, 2, 3, 4e6, time.UTC)
	for in, want := range map[string]string{
		"/backups/safety.edmsdr":              "/backups/safety.edmsdr",
		"/backups/":                           "/backups/safety-20261205T010203.004Z.edmsdr",
		"s3://b/safety/?region=eu-west-1":     "s3://b/safety/safety-20261205T010203.004Z.edmsdr?region=eu-west-1",
		"s3://b/safety/one.edmsdr?region=x-1": "s3://b/safety/one.edmsdr?region=x-1",
	} {
		if got := safetyLocation(in, now); got != want {
			t.Errorf("safetyLocation(%q) = %q, want %q", in, got, want)
		}
	}
}
