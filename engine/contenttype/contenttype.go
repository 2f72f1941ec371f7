// Package contenttype reads Django content types from the database: the rows of the content type
// table (id, app label, model) that the generic foreign keys of a table use. The digest, restore
// and the fixture converter each resolve generic foreign keys through them; the key plan
// (keys.ContentTypes) says which table and columns hold them and which table each one names.
package contenttype

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/edmsdr/edmsdr/engine/keys"
	"github.com/edmsdr/edmsdr/engine/pgquote"
)

// Querier runs a query: a *pgx.Conn or a pgx.Tx.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// Type is one content type: its id and the (app label, model) pair that names it.
type Type struct {
	ID       int64
	AppLabel string
	Model    string
}

// Table says where the content types are read from.
type Table struct {
	// From is the FROM item holding the content type rows: a quoted table name, or a staging table.
	From string
	// ID is the column of their ids (unquoted).
	ID string
	// Plan names the app label and model columns.
	Plan *keys.ContentTypes
}

// Refs are the rows whose generic foreign key uses the content types.
type Refs struct {
	// From is the FROM item holding them (a quoted table name, or a staging table), aliased s.
	From string
	// Column is their content type column (unquoted).
	Column string
	// Where, if not empty, is a condition on them (alias s) that leaves the others out.
	Where string
}

// Used returns the content types of ct that the rows of refs point at, each once, in no
// particular order.
func Used(ctx context.Context, q Querier, ct Table, refs Refs) ([]Type, error) {
	where := ""
	if refs.Where != "" {
		where = " WHERE " + refs.Where
	}
	id := pgquote.Ident(ct.ID)
	sql := fmt.Sprintf("SELECT c.%s, c.%s::text, c.%s::text FROM %s c WHERE c.%s IN (SELECT DISTINCT s.%s FROM %s s%s)",
		id, pgquote.Ident(ct.Plan.AppLabelColumn), pgquote.Ident(ct.Plan.ModelColumn), ct.From,
		id, pgquote.Ident(refs.Column), refs.From, where)
	rows, err := q.Query(ctx, sql)
	if err != nil {
		return nil, fmt.Errorf("read content types: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Type, error) {
		var t Type
		err := row.Scan(&t.ID, &t.AppLabel, &t.Model)
		return t, err
	})
	if err != nil {
		return nil, fmt.Errorf("read content types: %w", err)
	}
	return out, nil
}
