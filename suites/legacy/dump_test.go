package legacy_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/edmsdr/edmsdr/engine/digest"
	"github.com/edmsdr/edmsdr/engine/dsn"
	"github.com/edmsdr/edmsdr/engine/introspect"
	"github.com/edmsdr/edmsdr/engine/pgquote"
	"github.com/edmsdr/edmsdr/engine/schema"
)

// dumpOptions say what the dumper writes, as dumpdata's flags would.
type dumpOptions struct {
	// NaturalForeign writes references to models with a natural key as natural key lists.
	NaturalForeign bool
	// NaturalPrimary leaves out the pk of objects whose model has a natural key.
	NaturalPrimary bool
	// Exclude leaves models out ("contenttypes", "auth.permission": an app or a model).
	Exclude []string
	// Format is "json" (an indented array), "jsonl" or "json.gz".
	Format string
}

// djangoKeys is the dumper's own statement of the EDMS models' natural_key(), in order, by table
// (a foreign key stands for the referenced row's natural key, spliced; the folder tree's key is
// its path from the root). It is written independently of the engine's defaults on purpose.
var djangoKeys = map[string][]string{
	"django_content_type":       {"app_label", "model"},
	"auth_permission":           {"codename", "content_type_id"},
	"auth_user":                 {"username"},
	"auth_group":                {"name"},
	"documents_documenttype":    {"name"},
	"documents_tag":             {"name"},
	"documents_document":        {"document_number"},
	"documents_folder":          {"parent_id", "name"},
	"documents_documentversion": {"document_id", "version_number"},
	"workflows_workflow":        {"document_id", "workflow_type"},
	"signatures_signature":      {"version_id", "signer_id", "meaning"},
}

// dumper writes dumpdata-shaped fixtures of an EDMS database.
type dumper struct {
	s      *schema.Schema
	opts   dumpOptions
	models map[string]string // table -> "app_label.model"
}

// dumpFixture writes a fixture of the database at url to path.
func dumpFixture(ctx context.Context, url, path string, opts dumpOptions) error {
	conn, err := dsn.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // read only
	if err := digest.ApplySettings(ctx, tx, true); err != nil {
		return err
	}
	s, err := introspect.Read(ctx, tx, introspect.Options{})
	if err != nil {
		return err
	}
	d := &dumper{s: s, opts: opts, models: map[string]string{}}
	rows, err := tx.Query(ctx, "SELECT app_label, model FROM django_content_type")
	if err != nil {
		return err
	}
	for rows.Next() {
		var app, model string
		if err := rows.Scan(&app, &model); err != nil {
			return err
		}
		table := app + "_" + model
		if app+"."+model == "contenttypes.contenttype" {
			table = "django_content_type"
		}
		d.models[table] = app + "." + model
	}
	if err := rows.Err(); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	var w io.Writer = f
	var zw *gzip.Writer
	if opts.Format == "json.gz" {
		zw = gzip.NewWriter(f)
		w = zw
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	if err := d.write(ctx, tx, bw); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if zw != nil {
		if err := zw.Close(); err != nil {
			return err
		}
	}
	return f.Close()
}

func (d *dumper) excluded(model string) bool {
	app := strings.SplitN(model, ".", 2)[0]
	return slices.Contains(d.opts.Exclude, model) || slices.Contains(d.opts.Exclude, app)
}

func (d *dumper) write(ctx context.Context, tx pgx.Tx, w *bufio.Writer) error {
	jsonl := d.opts.Format == "jsonl"
	if !jsonl {
		w.WriteString("[\n")
	}
	first := true
	for _, t := range schema.BuildGraph(d.s).Order {
		model, ok := d.models[t.Name]
		if !ok || d.excluded(model) {
			continue
		}
		rows, err := tx.Query(ctx, d.query(t, model))
		if err != nil {
			return fmt.Errorf("dump %s: %w", t.Name, err)
		}
		for rows.Next() {
			var obj []byte
			if err := rows.Scan(&obj); err != nil {
				rows.Close()
				return fmt.Errorf("dump %s: %w", t.Name, err)
			}
			if !first && !jsonl {
				w.WriteString(",\n")
			}
			first = false
			if jsonl {
				w.Write(obj)
				w.WriteByte('\n')
				continue
			}
			var ind bytes.Buffer
			if err := json.Indent(&ind, obj, "  ", "  "); err != nil {
				rows.Close()
				return err
			}
			w.WriteString("  ")
			w.Write(ind.Bytes())
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("dump %s: %w", t.Name, err)
		}
	}
	if !jsonl {
		w.WriteString("\n]\n")
	}
	return nil
}

// query selects one JSON object per row of t, in id order.
func (d *dumper) query(t *schema.Table, model string) string {
	var fields []string
	for _, c := range t.Columns {
		if c.Name == "id" {
			continue
		}
		name, expr := d.field(t, c, "t")
		fields = append(fields, fmt.Sprintf("'%s', %s", name, expr))
	}
	// Many-to-many: through tables named table_field, folded as lists.
	for _, tt := range d.s.Tables {
		if !strings.HasPrefix(tt.Name, t.Name+"_") || len(tt.ForeignKeys) != 2 {
			continue
		}
		if _, isModel := d.models[tt.Name]; isModel {
			continue
		}
		var owner, target schema.ForeignKey
		for _, fk := range tt.ForeignKeys {
			if fk.RefTable == t.Name {
				owner = fk
			} else {
				target = fk
			}
		}
		if owner.Name == "" || target.Name == "" {
			continue
		}
		field := strings.TrimPrefix(tt.Name, t.Name+"_")
		ref := d.ref(target.RefTable, "x."+target.Columns[0])
		fields = append(fields, fmt.Sprintf("'%s', (SELECT coalesce(jsonb_agg(%s ORDER BY x.id), '[]'::jsonb) FROM %s x WHERE x.%s = t.id)",
			field, ref, tt.Name, owner.Columns[0]))
	}
	obj := fmt.Sprintf("'model', '%s'", model)
	if _, keyed := djangoKeys[t.Name]; !(d.opts.NaturalPrimary && keyed) {
		obj += ", 'pk', t.id"
	}
	return fmt.Sprintf("SELECT jsonb_build_object(%s, 'fields', jsonb_build_object(%s)) FROM %s t ORDER BY t.id",
		obj, strings.Join(fields, ", "), t.Name)
}

// field renders a column as Django's serializer writes it.
func (d *dumper) field(t *schema.Table, c schema.Column, alias string) (string, string) {
	col := alias + "." + pgquote.Ident(c.Name)
	for _, fk := range t.ForeignKeys {
		if len(fk.Columns) == 1 && fk.Columns[0] == c.Name {
			return strings.TrimSuffix(c.Name, "_id"), d.ref(fk.RefTable, col)
		}
	}
	switch c.Type {
	case "bytea":
		return c.Name, fmt.Sprintf("to_jsonb(replace(encode(%s, 'base64'), E'\\n', ''))", col)
	case "jsonb":
		return c.Name, col
	}
	return c.Name, fmt.Sprintf("to_jsonb(%s)", col)
}

// ref renders a reference to a row of table: its id, or its natural key with --natural-foreign.
func (d *dumper) ref(table, id string) string {
	if _, keyed := djangoKeys[table]; !keyed || !d.opts.NaturalForeign {
		return fmt.Sprintf("to_jsonb(%s)", id)
	}
	return fmt.Sprintf("(SELECT %s)", d.naturalKey(table, id, 0))
}

// naturalKey renders the natural key (a jsonb list) of the row of table with id id, or NULL.
func (d *dumper) naturalKey(table, id string, depth int) string {
	r := fmt.Sprintf("r%d", depth)
	if table == "documents_folder" {
		return fmt.Sprintf(`(WITH RECURSIVE p(id, parent, k) AS (
  SELECT f.id, f.parent_id, jsonb_build_array(f.name) FROM documents_folder f WHERE f.id = %s
  UNION ALL
  SELECT f.id, f.parent_id, jsonb_build_array(f.name) || p.k FROM documents_folder f JOIN p ON f.id = p.parent
) SELECT k FROM p WHERE parent IS NULL)`, id)
	}
	t := d.s.Table(table)
	var parts []string
	for _, col := range djangoKeys[table] {
		part := fmt.Sprintf("jsonb_build_array(to_jsonb(%s.%s))", r, col)
		for _, fk := range t.ForeignKeys {
			if fk.Columns[0] == col {
				part = fmt.Sprintf("coalesce(%s, '[]'::jsonb)", d.naturalKey(fk.RefTable, r+"."+col, depth+1))
			}
		}
		parts = append(parts, part)
	}
	return fmt.Sprintf("(SELECT %s FROM %s %s WHERE %s.id = %s)", strings.Join(parts, " || "), table, r, r, id)
}
