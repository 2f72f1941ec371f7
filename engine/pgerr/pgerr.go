// Package pgerr maps PostgreSQL errors (by SQLSTATE) to findings: the one place that knows which
// server error means a conflict, an orphan, a refused value or a schema mismatch.
package pgerr

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/edmsdr/edmsdr/engine/finding"
)

// quoted matches a double-quoted value in a server message.
var quoted = regexp.MustCompile(`"[^"]*"`)

// Code returns the SQLSTATE of err, or "".
func Code(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// TooLarge reports whether err is the server refusing to build a value or row beyond its 1 GiB
// allocation limit (SQLSTATE 54000, or XX000 "invalid memory alloc request size"): in COPY text a
// bytea takes twice its size, so one over about 512 MiB cannot be written.
func TooLarge(err error) bool {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return false
	}
	return pe.Code == "54000" || pe.Code == "XX000" && strings.HasPrefix(pe.Message, "invalid memory alloc request size")
}

// Finding turns a server error into a finding about table (the table being written, used when the
// server does not name one). ok is false for errors that are not about the data (connection loss,
// cancellation, server shutdown): those stay errors.
func Finding(err error, table string) (f finding.Finding, ok bool) {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return finding.Finding{}, false
	}
	f = finding.Finding{Severity: finding.Error, Table: table, Constraint: pe.ConstraintName, Column: pe.ColumnName}
	if pe.TableName != "" && !strings.HasPrefix(pe.TableName, "_edmsdr") {
		f.Table = pe.TableName
	}
	// Row content stays out of the message: the server's detail (key values, the failing row)
	// and the quoted values of a data error go to Detail, which reports leave out
	// (finding.Redacted) while stderr still shows it. Keys stays for natural keys.
	msg := pe.Message
	var detail []string
	if strings.HasPrefix(pe.Code, "22") {
		if masked := quoted.ReplaceAllString(msg, `"…"`); masked != msg {
			detail = append(detail, msg)
			msg = masked
		}
	}
	if pe.Detail != "" {
		detail = append(detail, pe.Detail)
	}
	f.Detail = strings.Join(detail, " ")
	f.Message = fmt.Sprintf("%s [SQLSTATE %s]", msg, pe.Code)
	switch {
	case pe.Code == "23505", pe.Code == "23P01":
		f.Kind = finding.Conflict
	case pe.Code == "23503":
		f.Kind = finding.Orphaned
	case strings.HasPrefix(pe.Code, "23"), strings.HasPrefix(pe.Code, "22"):
		f.Kind = finding.Constraint
	case pe.Code == "42P01", pe.Code == "42703", pe.Code == "42804", pe.Code == "42846":
		f.Kind = finding.SchemaMismatch
	case pe.Code == "42501":
		f.Kind = finding.Privilege
	default:
		return finding.Finding{}, false
	}
	return f, true
}
