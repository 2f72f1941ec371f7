package legacy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/edmsdr/edmsdr/engine/copytext"
	"github.com/edmsdr/edmsdr/engine/digest"
	"github.com/edmsdr/edmsdr/engine/finding"
	"github.com/edmsdr/edmsdr/engine/introspect"
	"github.com/edmsdr/edmsdr/engine/keys"
	"github.com/edmsdr/edmsdr/engine/pack"
	"github.com/edmsdr/edmsdr/engine/pgcopy"
	"github.com/edmsdr/edmsdr/engine/pgquote"
	"github.com/edmsdr/edmsdr/engine/schema"
)

// ConvertOptions tune a conversion.
type ConvertOptions struct {
	// Keys is the keys file: natural keys, exclusions and the django: section; nil infers all.
	Keys *keys.File
	// Tool is recorded in the package ("edmsdr 1.2.3").
	Tool string
	// Name is recorded as the package's database name (the fixture's file name, say).
	Name string
	// Writer tunes the package writer.
	Writer pack.WriterOptions
	// Log receives progress; nil discards.
	Log *slog.Logger
}

// ConvertResult describes a finished conversion.
type ConvertResult struct {
	Path     string
	Manifest *pack.Manifest
	// Objects is the number of fixture objects read.
	Objects int64
	// Rows and RefRows are the data rows and reference rows written (many-to-many rows included).
	Rows, RefRows int64
	// Tables lists, per table with rows, what the fixture held.
	Tables []ConvertedTable
	// Skipped counts, per model, the objects left out because the keys file excludes their table.
	Skipped map[string]int64
	// Learned lists the models whose natural key layout was learned from the fixture (not the
	// key plan's order with foreign keys spliced).
	Learned []LearnedKey
	Elapsed time.Duration
}

// LearnedKey is a natural key layout read from a fixture: what the keys file would declare.
type LearnedKey struct {
	Model string `json:"model"`
	Table string `json:"table"`
	// Layout is as django: models: MODEL: natural_key writes it ([[document], workflow_type]);
	// Default the layout the key plan gave.
	Layout  string `json:"layout"`
	Default string `json:"default"`
}

// ConvertedTable is one table's share of a conversion.
type ConvertedTable struct {
	Table   string `json:"table"`
	Objects int64  `json:"objects"`
	Rows    int64  `json:"rows"`
	Refs    int64  `json:"refs"`
}

// sampleKeys is how many locators a finding carries.
const sampleKeys = 5

// Convert reads a Django dumpdata fixture from src and writes it as the package out, using the
// schema (and key plan) of the database conn is connected to: a fixture carries no types and no
// foreign-key declarations. Everything happens in one transaction on temporary tables that is
// rolled back: the database is never changed. A bad fixture is refused with a *finding.Refused
// naming every problem found (kinds corrupt, schema-mismatch, constraint, key-plan, orphaned,
// duplicated), and no file is left behind.
func Convert(ctx context.Context, conn *pgx.Conn, src io.Reader, out string, opts ConvertOptions) (*ConvertResult, error) {
	start := time.Now()
	c := &conv{conn: conn, opts: opts, log: opts.Log}
	if c.log == nil {
		c.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	res, err := c.run(ctx, src, out)
	if err != nil {
		return nil, err
	}
	res.Elapsed = time.Since(start)
	return res, nil
}

type conv struct {
	conn     *pgx.Conn
	tx       pgx.Tx
	opts     ConvertOptions
	log      *slog.Logger
	findings finding.List

	s       *schema.Schema
	plan    *keys.Plan
	m       *Mapping
	graph   *schema.Graph
	domains schema.Domains
	tables  []*ctab
	byQ     map[string]*ctab
	objects int64
	// excluded are the tables the keys file excludes; skipped counts their objects per model.
	excluded map[string]bool
	skipped  map[string]int64
	learned  []LearnedKey
	// keyedByQ are the tables referred to by natural key, while they are resolved.
	keyedByQ map[string]*keyed
}

// isExcluded reports whether model name is the model of a table the keys file excludes.
func (c *conv) isExcluded(name string) bool {
	if sp, ok := c.m.spec[name]; ok && sp.Table != "" {
		q := sp.Table
		if !strings.Contains(q, ".") {
			q = "public." + q
		}
		return c.excluded[q]
	}
	conv := ConventionTable(name)
	if b, ok := builtinTables[name]; ok {
		conv = b
	}
	for q := range c.excluded {
		if strings.SplitN(q, ".", 2)[1] == conv {
			return true
		}
	}
	return false
}

// ctab is one target table on its way into the package.
type ctab struct {
	idx     int
	t       *schema.Table
	qname   string
	display string
	part    string // partition of _lg_obj with this table's objects
	stg     string // typed staging
	reg     string // natural key registry (key, id, fixture)
	want    string // wanted natural keys (key)
	cols    []string
	sid     string
	models  []*Model
	// nk maps a column that holds ids of another table to the staging column with the natural
	// key lists given for it.
	nk      map[string]string
	keyed   bool // has a registry
	objects int64
	rows    int64
	refs    int64
}

func (c *conv) refuse() error {
	return &finding.Refused{Op: "convert fixture", Findings: c.findings}
}

func (c *conv) add(f finding.Finding) {
	if f.Severity == "" {
		f.Severity = finding.Error
	}
	c.findings = append(c.findings, f)
}

func (c *conv) exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	tag, err := c.tx.Exec(ctx, sql, args...)
	if err != nil {
		return tag, fmt.Errorf("convert: %w (in %s)", err, firstLine(sql))
	}
	return tag, nil
}

func firstLine(sql string) string {
	if i := strings.IndexByte(sql, '\n'); i >= 0 {
		sql = sql[:i]
	}
	if len(sql) > 120 {
		sql = sql[:120] + "…"
	}
	return sql
}

func (c *conv) run(ctx context.Context, src io.Reader, out string) (*ConvertResult, error) {
	var err error
	c.tx, err = c.conn.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("convert: begin: %w", err)
	}
	// Temporary tables only, and even those go: the database is never changed.
	defer c.tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // nothing to keep
	if err := digest.ApplySettings(ctx, c.tx, true); err != nil {
		return nil, fmt.Errorf("convert: %w", err)
	}
	kf := c.opts.Keys
	if kf == nil {
		kf = &keys.File{}
	}
	c.s, err = introspect.Read(ctx, c.tx, introspect.Options{Exclude: kf.Excluded()})
	if err != nil {
		return nil, fmt.Errorf("convert: %w", err)
	}
	if len(c.s.Tables) == 0 {
		return nil, errors.New("convert: the database has no tables: give the database that holds the schema the fixture belongs to (a migrated, re-initialised target)")
	}
	if fl := c.s.LeftOutReferences(); len(fl) > 0 {
		return nil, &finding.Refused{Op: "convert fixture", Findings: fl}
	}
	c.plan, err = keys.Build(c.s, kf)
	if err != nil {
		return nil, &finding.Refused{Op: "convert fixture", Findings: keys.Findings(err)}
	}
	c.m, err = NewMapping(c.s, c.plan, kf)
	if err != nil {
		return nil, &finding.Refused{Op: "convert fixture", Findings: finding.List{{Kind: finding.KeyPlan, Severity: finding.Error, Message: err.Error()}}}
	}
	// A model the keys file maps to a table is that table's content type too: generic foreign
	// keys through it resolve, here and in the restore (which reads the package's plan).
	if ct := c.plan.ContentTypes; ct != nil && kf.Django != nil {
		for name, sp := range kf.Django.Models {
			if t := c.s.Table(sp.Table); t != nil && sp.Table != "" {
				if ct.Models == nil {
					ct.Models = map[string]string{}
				}
				if _, set := ct.Models[strings.ToLower(name)]; !set {
					ct.Models[strings.ToLower(name)] = t.QName()
				}
			}
		}
	}
	c.excluded = map[string]bool{}
	for _, q := range kf.Excluded() {
		c.excluded[q] = true
	}
	c.skipped = map[string]int64{}
	c.domains, _ = schema.ComputeDomains(c.s)
	c.graph = schema.BuildGraph(c.s)
	c.byQ = map[string]*ctab{}
	for i, t := range c.graph.Order {
		ct := &ctab{idx: i, t: t, qname: t.QName(), display: t.Display(), part: fmt.Sprintf("_lg_o%d", i),
			stg: fmt.Sprintf("_lg_t%d", i), reg: fmt.Sprintf("_lg_k%d", i), want: fmt.Sprintf("_lg_w%d", i),
			cols: t.DataColumns(), sid: t.SurrogateID(), nk: map[string]string{}}
		c.tables = append(c.tables, ct)
		c.byQ[ct.qname] = ct
	}
	// Each step runs only when the ones before found nothing (a later step would trip over what
	// they found), except that unknown models and bad fields are reported together.
	steps := []struct {
		run  func(context.Context) error
		gate bool
	}{
		{func(ctx context.Context) error { return c.load(ctx, src) }, true},
		{c.checkModels, false},
		{c.checkFields, true},
		{c.stage, true},
		{c.checkIDs, true},
		{c.resolve, true},
		{c.checkReferences, true},
	}
	names := []string{"load", "models", "fields", "stage", "ids", "resolve", "references"}
	for i, step := range steps {
		t0 := time.Now()
		if err := step.run(ctx); err != nil {
			return nil, err
		}
		c.log.Debug("convert step done", "step", names[i], "elapsed", time.Since(t0).Round(time.Millisecond))
		if step.gate && c.findings.HasErrors() {
			return nil, c.refuse()
		}
	}
	return c.write(ctx, out)
}

// load streams the fixture into _lg_obj, partitioned by target table (unknown models apart).
func (c *conv) load(ctx context.Context, src io.Reader) error {
	if _, err := c.exec(ctx, `CREATE TEMP TABLE _lg_obj (idx bigint NOT NULL, line bigint NOT NULL, model text NOT NULL,
  tbl int NOT NULL, pk jsonb, fields jsonb NOT NULL) PARTITION BY LIST (tbl)`); err != nil {
		return err
	}
	for _, ct := range c.tables {
		if _, err := c.exec(ctx, fmt.Sprintf("CREATE TEMP TABLE %s PARTITION OF _lg_obj FOR VALUES IN (%d)", ct.part, ct.idx)); err != nil {
			return err
		}
	}
	if _, err := c.exec(ctx, "CREATE TEMP TABLE _lg_ox PARTITION OF _lg_obj DEFAULT"); err != nil {
		return err
	}
	dec, err := NewDecoderContext(ctx, src, DecodeLimits{})
	if err != nil {
		return c.syntaxFinding(err)
	}
	osrc := &objectSource{dec: dec, c: c}
	_, err = pgcopy.From(ctx, c.tx.Conn().PgConn(), osrc, "COPY _lg_obj (idx, line, model, tbl, pk, fields) FROM STDIN")
	if osrc.err != nil {
		return c.syntaxFinding(osrc.err)
	}
	if err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) {
			msg := pe.Message
			if m := copyLine.FindStringSubmatch(pe.Where); m != nil {
				msg = fmt.Sprintf("object #%s: %s", m[1], msg)
			}
			c.add(finding.Finding{Kind: finding.Corrupt, Message: "the fixture holds a value PostgreSQL cannot store: " + msg})
			return c.refuse()
		}
		return fmt.Errorf("convert: load fixture: %w", err)
	}
	c.objects = dec.Objects()
	for _, ct := range c.tables {
		if err := c.tx.QueryRow(ctx, "SELECT count(*) FROM "+ct.part).Scan(&ct.objects); err != nil {
			return fmt.Errorf("convert: %w", err)
		}
		if ct.objects > 0 {
			if _, err := c.exec(ctx, "ANALYZE "+ct.part); err != nil {
				return err
			}
		}
	}
	c.log.Debug("fixture loaded", "objects", c.objects)
	return nil
}

var copyLine = regexp.MustCompile(`COPY _lg_obj, line (\d+)`)

func (c *conv) syntaxFinding(err error) error {
	var se *SyntaxError
	if errors.As(err, &se) {
		c.add(finding.Finding{Kind: finding.Corrupt, Message: se.Error()})
		return c.refuse()
	}
	return fmt.Errorf("convert: read fixture: %w", err)
}

// objectSource renders fixture objects as COPY rows of _lg_obj, one object at a time.
type objectSource struct {
	dec *Decoder
	c   *conv
	buf []byte
	pos int
	err error
	eof bool
}

func (o *objectSource) Read(p []byte) (int, error) {
	for o.pos >= len(o.buf) {
		if o.eof {
			return 0, io.EOF
		}
		obj, err := o.dec.Next()
		if errors.Is(err, io.EOF) {
			o.eof = true
			continue
		}
		if err != nil {
			o.err = err
			return 0, err
		}
		o.buf = o.c.objectRow(o.buf[:0], obj)
		o.pos = 0 // an excluded object leaves the buffer empty: read on
	}
	n := copy(p, o.buf[o.pos:])
	o.pos += n
	return n, nil
}

// objectRow renders an object as a row of _lg_obj; objects of tables the keys file excludes are
// left out (nil).
func (c *conv) objectRow(b []byte, obj *Object) []byte {
	name := strings.ToLower(obj.Model)
	tbl := -1
	if md := c.m.Model(name); md != nil {
		if ct := c.byQ[md.Table.QName()]; ct != nil {
			tbl = ct.idx
		}
	} else if c.isExcluded(name) {
		c.skipped[name]++
		return b
	}
	b = strconv.AppendInt(b, obj.Index, 10)
	b = append(b, '\t')
	b = strconv.AppendInt(b, obj.Line, 10)
	b = append(b, '\t')
	b = copytext.Append(b, []byte(name))
	b = append(b, '\t')
	b = strconv.AppendInt(b, int64(tbl), 10)
	b = append(b, '\t')
	if obj.PK == nil {
		b = append(b, copytext.Null...)
	} else {
		b = copytext.Append(b, obj.PK)
	}
	b = append(b, '\t')
	b = copytext.Append(b, obj.Fields)
	return append(b, '\n')
}

// objLocator describes a fixture object (alias o of _lg_obj) for people.
const objLocator = `('object #' || o.idx || ' (line ' || o.line || coalesce(', pk ' || (o.pk #>> '{}'), '') || ')')`

// stgLocator describes a staged row (alias s) for people.
const stgLocator = `(CASE WHEN s._lg_ref THEN 'reference' ELSE 'object #' || s._lg_obj || ' (line ' || s._lg_line || coalesce(', pk ' || s._lg_pk, '') || ')' END)`

// sample runs SELECT count(*) OVER (), locator FROM from and adds a finding when rows match.
func (c *conv) sample(ctx context.Context, f finding.Finding, locator, from string, args ...any) (int64, error) {
	rows, err := c.tx.Query(ctx, fmt.Sprintf("SELECT count(*) OVER (), %s FROM %s LIMIT %d", locator, from, sampleKeys), args...)
	if err != nil {
		return 0, fmt.Errorf("convert %s: %w", f.Table, err)
	}
	var n int64
	for rows.Next() {
		var k string
		if err := rows.Scan(&n, &k); err != nil {
			rows.Close()
			return 0, fmt.Errorf("convert %s: %w", f.Table, err)
		}
		f.Keys = append(f.Keys, k)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("convert %s: %w", f.Table, err)
	}
	if n > 0 {
		f.Count = n
		c.add(f)
	}
	return n, nil
}

// checkModels reports objects of models that no table of the target is.
func (c *conv) checkModels(ctx context.Context) error {
	rows, err := c.tx.Query(ctx, `SELECT model, count(*), (array_agg('object #' || idx || ' (line ' || line || ')' ORDER BY idx))[1:5]
FROM _lg_ox GROUP BY model ORDER BY min(idx) LIMIT 100`)
	if err != nil {
		return fmt.Errorf("convert: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var model string
		var n int64
		var locs []string
		if err := rows.Scan(&model, &n, &locs); err != nil {
			return fmt.Errorf("convert: %w", err)
		}
		c.add(finding.Finding{Kind: finding.SchemaMismatch, Table: ConventionTable(model), Count: n, Keys: locs,
			Message: fmt.Sprintf("model %s has no table in the target (expected %s, or a django: models: entry in the keys file)", model, ConventionTable(model))})
	}
	return rows.Err()
}

// checkFields reports, per model, fields the table lacks, values of the wrong JSON type, text too
// long for its column, and malformed many-to-many lists.
func (c *conv) checkFields(ctx context.Context) error {
	for _, ct := range c.tables {
		if ct.objects == 0 {
			continue
		}
		rows, err := c.tx.Query(ctx, fmt.Sprintf("SELECT DISTINCT model FROM %s ORDER BY 1", ct.part))
		if err != nil {
			return fmt.Errorf("convert: %w", err)
		}
		var names []string
		for rows.Next() {
			var n string
			if err := rows.Scan(&n); err != nil {
				rows.Close()
				return fmt.Errorf("convert: %w", err)
			}
			names = append(names, n)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("convert: %w", err)
		}
		for _, n := range names {
			md := c.m.Model(n)
			ct.models = append(ct.models, md)
			if err := c.checkModelFields(ctx, ct, md); err != nil {
				return err
			}
		}
	}
	return nil
}

type check struct {
	cond   string
	column string
	msg    string
}

func (c *conv) checkModelFields(ctx context.Context, ct *ctab, md *Model) error {
	// The fields a model may give: its fields (under their names and, for foreign keys, their
	// attnames) and many-to-many fields. Objects with others are looked at in detail only when
	// there are any.
	var known []string
	for _, f := range md.Fields {
		if f.Column != md.PK {
			known = append(known, f.Name, f.Column)
		}
	}
	for _, mm := range md.ManyToMany {
		known = append(known, mm.Name)
	}
	var unknown int64
	if err := c.tx.QueryRow(ctx, fmt.Sprintf("SELECT count(*) FROM %s o WHERE o.model = $1 AND (o.fields - $2::text[]) <> '{}'::jsonb", ct.part),
		md.Name, known).Scan(&unknown); err != nil {
		return fmt.Errorf("convert %s: %w", ct.display, err)
	}
	if unknown > 0 {
		if err := c.unknownFields(ctx, ct, md, known); err != nil {
			return err
		}
	}
	return c.checkValues(ctx, ct, md)
}

// unknownFields reports the fields of md's objects that the model does not have.
func (c *conv) unknownFields(ctx context.Context, ct *ctab, md *Model, known []string) error {
	rows, err := c.tx.Query(ctx, fmt.Sprintf(`SELECT k, count(*), (array_agg('object #' || o.idx || ' (line ' || o.line || ')' ORDER BY o.idx))[1:5]
FROM %s o, jsonb_object_keys(o.fields - $2::text[]) k WHERE o.model = $1 GROUP BY k ORDER BY k LIMIT 100`, ct.part), md.Name, known)
	if err != nil {
		return fmt.Errorf("convert: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k string
		var n int64
		var locs []string
		if err := rows.Scan(&k, &n, &locs); err != nil {
			return fmt.Errorf("convert: %w", err)
		}
		if f := md.FieldByName(k); f != nil && f.Column == md.PK {
			c.add(finding.Finding{Kind: finding.SchemaMismatch, Table: ct.display, Column: f.Column, Count: n, Keys: locs,
				Message: fmt.Sprintf("model %s: field %s is the primary key, which a fixture gives as \"pk\"", md.Name, k)})
			continue
		}
		c.add(finding.Finding{Kind: finding.SchemaMismatch, Table: ct.display, Column: k, Count: n, Keys: locs,
			Message: fmt.Sprintf("model %s: field %s has no column in table %s (nor a many-to-many table %s_%s)", md.Name, k, ct.display, ct.t.Name, k)})
	}
	return rows.Err()
}

// checkValues reports values of the wrong JSON type, text too long for its column and malformed
// many-to-many lists of md's objects.
func (c *conv) checkValues(ctx context.Context, ct *ctab, md *Model) error {
	var checks []check
	if md.PK != "" {
		col := ct.t.Column(md.PK)
		if cond := CheckSQL("o.pk", col.Type, false); cond != "" {
			checks = append(checks, check{cond, md.PK, fmt.Sprintf("model %s: pk must be a JSON %s", md.Name, describeTypes(jsonTypes(CategoryOf(col.Type), false)))})
		}
	} else {
		checks = append(checks, check{"o.pk IS NOT NULL", "", fmt.Sprintf("model %s: table %s has no single-column primary key, the objects must not give a pk", md.Name, ct.display)})
	}
	for _, f := range md.Fields {
		if f.Column == md.PK {
			continue
		}
		v := fieldValue("o", f)
		if cond := CheckSQL(v, f.Type, f.Ref != ""); cond != "" {
			checks = append(checks, check{cond, f.Column, fmt.Sprintf("model %s: field %s must be a JSON %s", md.Name, f.Name, describeTypes(jsonTypes(CategoryOf(f.Type), f.Ref != "")))})
		}
		if n := CharLimit(f.Type); n > 0 {
			checks = append(checks, check{fmt.Sprintf("char_length(%s #>> '{}') > %d", v, n), f.Column,
				fmt.Sprintf("model %s: field %s is longer than the %d characters of column %s (%s)", md.Name, f.Name, n, f.Column, f.Type)})
		}
		if f.Ref != "" {
			checks = append(checks, check{fmt.Sprintf("jsonb_typeof(%[1]s) = 'array' AND jsonb_array_length(%[1]s) = 0", v), f.Column,
				fmt.Sprintf("model %s: field %s holds an empty natural key", md.Name, f.Name)})
		}
	}
	for _, mm := range md.ManyToMany {
		v := fmt.Sprintf("o.fields -> %s", pgquote.Literal(mm.Name))
		checks = append(checks, check{fmt.Sprintf("jsonb_typeof(%[1]s) NOT IN ('array', 'null') OR (jsonb_typeof(%[1]s) = 'array' AND EXISTS (SELECT 1 FROM jsonb_array_elements(%[1]s) e WHERE jsonb_typeof(e) NOT IN ('number', 'array') OR (jsonb_typeof(e) = 'number' AND (e #>> '{}') !~ '^-?[0-9]+$') OR (jsonb_typeof(e) = 'array' AND jsonb_array_length(e) = 0)))", v),
			mm.Name, fmt.Sprintf("model %s: many-to-many field %s must be a list of ids or natural keys", md.Name, mm.Name)})
	}
	if len(checks) == 0 {
		return nil
	}
	counts := make([]string, len(checks))
	for i, ch := range checks {
		counts[i] = fmt.Sprintf("count(*) FILTER (WHERE %s)", ch.cond)
	}
	ns := make([]int64, len(checks))
	dst := make([]any, len(checks))
	for i := range ns {
		dst[i] = &ns[i]
	}
	if err := c.tx.QueryRow(ctx, fmt.Sprintf("SELECT %s FROM %s o WHERE o.model = $1", strings.Join(counts, ", "), ct.part), md.Name).Scan(dst...); err != nil {
		return fmt.Errorf("convert %s: check values: %w", ct.display, err)
	}
	for i, ch := range checks {
		if ns[i] == 0 {
			continue
		}
		f := finding.Finding{Kind: finding.Constraint, Table: ct.display, Column: ch.column, Message: ch.msg}
		if _, err := c.sample(ctx, f, objLocator, fmt.Sprintf("%s o WHERE o.model = $1 AND (%s) ORDER BY o.idx", ct.part, ch.cond), md.Name); err != nil {
			return err
		}
	}
	return nil
}

// fieldValue is the JSON value of field f in object alias o: under its name, or under its column
// (Django accepts "owner_id" for "owner"); SQL NULL when absent.
func fieldValue(o string, f *Field) string {
	v := fmt.Sprintf("%s.fields -> %s", o, pgquote.Literal(f.Name))
	if f.Name != f.Column {
		v = fmt.Sprintf("coalesce(%s, %s.fields -> %s)", v, o, pgquote.Literal(f.Column))
	}
	return v
}
