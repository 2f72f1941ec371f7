package legacy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/edmsdr/edmsdr/engine/digest"
	"github.com/edmsdr/edmsdr/engine/pgquote"
	"github.com/edmsdr/edmsdr/engine/schema"
)

// TargetResolver is a GenericResolver over the database a fixture is meant for: it computes the
// natural keys of that database's rows in SQL (one temporary table per model, built on first
// use, in a transaction it rolls back on Close) and looks the package's rows up in them.
type TargetResolver struct {
	tx     pgx.Tx
	tables map[string]string // qualified table -> temp table (key jsonb, id bigint)
	n      int
}

// NewTargetResolver starts a resolver on conn. It only reads; Close rolls back.
func NewTargetResolver(ctx context.Context, conn *pgx.Conn) (*TargetResolver, error) {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("resolve against the target: %w", err)
	}
	if err := digest.ApplySettings(ctx, tx, true); err != nil {
		_ = tx.Rollback(ctx)
		return nil, fmt.Errorf("resolve against the target: %w", err)
	}
	return &TargetResolver{tx: tx, tables: map[string]string{}}, nil
}

// Close ends the resolver's transaction.
func (r *TargetResolver) Close(ctx context.Context) { _ = r.tx.Rollback(context.WithoutCancel(ctx)) }

// Resolve implements GenericResolver.
func (r *TargetResolver) Resolve(ctx context.Context, md *Model, key json.RawMessage, id int64) (int64, bool, bool, error) {
	m := md.mapping
	if m == nil {
		return 0, false, false, errors.New("resolve: model without mapping")
	}
	tmp, err := r.keys(ctx, m, md.Table.QName(), nil)
	if err != nil {
		return 0, false, false, err
	}
	var tgt int64
	err = r.tx.QueryRow(ctx, fmt.Sprintf("SELECT id FROM %s WHERE key = $1::jsonb", tmp), string(key)).Scan(&tgt)
	switch {
	case err == nil:
		return tgt, true, false, nil
	case !errors.Is(err, pgx.ErrNoRows):
		return 0, false, false, fmt.Errorf("resolve %s in the target: %w", md.Name, err)
	}
	var taken bool
	sid := md.Table.SurrogateID()
	if err := r.tx.QueryRow(ctx, fmt.Sprintf("SELECT EXISTS (SELECT 1 FROM %s WHERE %s = $1)", pgquote.Table(md.Table.QName()), pgquote.Ident(sid)), id).Scan(&taken); err != nil {
		return 0, false, false, fmt.Errorf("resolve %s in the target: %w", md.Name, err)
	}
	return 0, false, taken, nil
}

// selfMark stands for the key of a tree row's parent while its key expression is built.
const selfMark = "\x00self\x00"

// keys builds (once) the temporary table of natural keys of table q's rows in the target.
func (r *TargetResolver) keys(ctx context.Context, m *Mapping, q string, path []string) (string, error) {
	if tmp, ok := r.tables[q]; ok {
		return tmp, nil
	}
	for _, p := range path {
		if p == q {
			return "", fmt.Errorf("natural keys of %s refer to each other in a cycle", schema.DisplayName(q))
		}
	}
	md := m.ModelForTable(q)
	if md == nil || md.Key == nil {
		return "", fmt.Errorf("%s has no natural key", schema.DisplayName(q))
	}
	t := md.Table
	var parts, joins []string
	selfCol, selfNested := "", false
	for i, p := range md.Key.Parts {
		col := "t." + pgquote.Ident(p.Column)
		switch {
		case p.Ref == "":
			parts = append(parts, fmt.Sprintf("jsonb_build_array(%s)", FixtureSQL(col, t.Column(p.Column).Type)))
		case p.Self:
			selfCol, selfNested = p.Column, p.Nested
			parts = append(parts, selfMark)
		default:
			sub, err := r.keys(ctx, m, p.Ref, append(path, q))
			if err != nil {
				return "", err
			}
			alias := fmt.Sprintf("k%d", i)
			joins = append(joins, fmt.Sprintf("LEFT JOIN %s %s ON %s.id = %s", sub, alias, alias, col))
			if p.Nested {
				parts = append(parts, fmt.Sprintf("(CASE WHEN %s IS NULL THEN '[null]'::jsonb ELSE jsonb_build_array(%s.key) END)", col, alias))
			} else {
				parts = append(parts, fmt.Sprintf("(CASE WHEN %s IS NULL THEN '[]'::jsonb ELSE %s.key END)", col, alias))
			}
		}
	}
	r.n++
	tmp := fmt.Sprintf("_edmsdr_fx%d", r.n)
	if _, err := r.tx.Exec(ctx, fmt.Sprintf("CREATE TEMP TABLE %s (key jsonb NOT NULL, id bigint NOT NULL)", tmp)); err != nil {
		return "", fmt.Errorf("resolve %s: %w", md.Name, err)
	}
	expr := strings.Join(parts, " || ")
	sid := "t." + pgquote.Ident(t.SurrogateID())
	from := pgquote.Table(q) + " t " + strings.Join(joins, " ")
	var sql string
	if selfCol == "" {
		sql = fmt.Sprintf("INSERT INTO %s SELECT %s, %s FROM %s", tmp, expr, sid, from)
	} else {
		self := "t." + pgquote.Ident(selfCol)
		root, rec := "'[]'::jsonb", "r.key"
		if selfNested {
			root, rec = "'[null]'::jsonb", "jsonb_build_array(r.key)"
		}
		sql = fmt.Sprintf(`INSERT INTO %[1]s WITH RECURSIVE r(id, key) AS (
  SELECT %[2]s, %[3]s FROM %[4]s WHERE %[5]s IS NULL
  UNION ALL
  SELECT %[2]s, %[6]s FROM %[4]s JOIN r ON r.id = %[5]s
) SELECT key, id FROM r`, tmp, sid, strings.ReplaceAll(expr, selfMark, root), from, self, strings.ReplaceAll(expr, selfMark, rec))
	}
	if _, err := r.tx.Exec(ctx, sql); err != nil {
		return "", fmt.Errorf("resolve %s: natural keys: %w", md.Name, err)
	}
	if _, err := r.tx.Exec(ctx, fmt.Sprintf("CREATE INDEX ON %s USING hash (key)", tmp)); err != nil {
		return "", fmt.Errorf("resolve %s: %w", md.Name, err)
	}
	if _, err := r.tx.Exec(ctx, "ANALYZE "+tmp); err != nil {
		return "", fmt.Errorf("resolve %s: %w", md.Name, err)
	}
	r.tables[q] = tmp
	return tmp, nil
}
