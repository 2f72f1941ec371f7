// Package pgquote writes names and values into SQL text: identifiers, qualified table names,
// column lists and string literals, quoted the way PostgreSQL reads them. The engine builds its
// statements as text (staging tables, set-based rewrites, digests) and quotes every name it did
// not write itself through this package, which sits at the bottom of the engine and imports
// nothing but the standard library.
package pgquote

import "strings"

// Ident quotes one identifier: "name", with embedded double quotes doubled and NUL bytes (which
// PostgreSQL cannot store) dropped. It quotes exactly as pgx.Identifier.Sanitize does.
func Ident(name string) string {
	return `"` + strings.ReplaceAll(strings.ReplaceAll(name, "\x00", ""), `"`, `""`) + `"`
}

// Table quotes a qualified table name "schema.table" as "schema"."table", splitting at the first
// dot (schema names hold no dot in a qualified name the engine writes; table names may). A name
// without a dot is quoted as one identifier.
func Table(qname string) string {
	schema, name, ok := strings.Cut(qname, ".")
	if !ok {
		return Ident(qname)
	}
	return Ident(schema) + "." + Ident(name)
}

// Idents quotes a column list: each name quoted by Ident, joined by ", ".
func Idents(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = Ident(n)
	}
	return strings.Join(q, ", ")
}

// Literal quotes s as a standard SQL string literal: 's', with embedded single quotes doubled.
// It relies on standard_conforming_strings being on (PostgreSQL's default since 9.1), under which
// backslashes are ordinary characters.
func Literal(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
