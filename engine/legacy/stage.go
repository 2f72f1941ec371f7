package legacy

import (
	"context"
	"fmt"
	"strings"

	"github.com/edmsdr/edmsdr/engine/finding"
	"github.com/edmsdr/edmsdr/engine/pgerr"
	"github.com/edmsdr/edmsdr/engine/pgquote"
	"github.com/edmsdr/edmsdr/engine/schema"
)

// refTable returns the table whose surrogate ids column col of t holds through a single-column
// foreign key ("" when the column holds plain values): such a column may be given as a natural key.
func (c *conv) refTable(t *schema.Table, col string) string {
	fks := t.FKFor(col)
	if len(fks) != 1 || len(fks[0].Columns) != 1 {
		return ""
	}
	d := c.domains.Of(t.QName(), col)
	if d == "" {
		return ""
	}
	if rt := c.s.Table(d); rt == nil || rt.SurrogateID() == "" {
		return ""
	}
	return d
}

// stage creates a typed staging table per target table and fills it from the fixture's objects:
// values cast to the column types, ids as given (package-local ids), natural key lists aside,
// synthetic negative ids for objects without a pk, then many-to-many lists as through-table rows.
func (c *conv) stage(ctx context.Context) error {
	if _, err := c.exec(ctx, `CREATE FUNCTION pg_temp._lg_try(expr text, v jsonb) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE 'SELECT ' || expr USING v;
  RETURN NULL;
EXCEPTION WHEN others THEN
  RETURN SQLERRM;
END $$`); err != nil {
		return err
	}
	for _, ct := range c.tables {
		defs := make([]string, 0, len(ct.cols)+8)
		for _, col := range ct.cols {
			defs = append(defs, pgquote.Ident(col)+" "+ct.t.Column(col).Type)
		}
		defs = append(defs, "_lg_n bigint GENERATED ALWAYS AS IDENTITY", "_lg_obj bigint", "_lg_line bigint", "_lg_pk text",
			"_lg_ref boolean NOT NULL DEFAULT false")
		for i, col := range ct.cols {
			if c.refTable(ct.t, col) != "" {
				ct.nk[col] = fmt.Sprintf("_lg_k%d", i)
				defs = append(defs, ct.nk[col]+" jsonb")
			}
		}
		if _, err := c.exec(ctx, fmt.Sprintf("CREATE TEMP TABLE %s (%s)", ct.stg, strings.Join(defs, ", "))); err != nil {
			return err
		}
	}
	for _, ct := range c.tables {
		for _, md := range ct.models {
			if err := c.stageModel(ctx, ct, md); err != nil {
				return err
			}
		}
	}
	if c.findings.HasErrors() {
		return nil
	}
	for _, ct := range c.tables {
		if err := c.syntheticIDs(ctx, ct); err != nil {
			return err
		}
	}
	var through []*ctab
	for _, ct := range c.tables {
		for _, md := range ct.models {
			for _, mm := range md.ManyToMany {
				tt := c.byQ[mm.Through.QName()]
				if tt == nil {
					continue
				}
				if err := c.stageManyToMany(ctx, ct, md, mm, tt); err != nil {
					return err
				}
				through = append(through, tt)
			}
		}
	}
	for _, tt := range through {
		if err := c.syntheticIDs(ctx, tt); err != nil {
			return err
		}
	}
	for _, ct := range c.tables {
		if err := c.tx.QueryRow(ctx, "SELECT count(*) FROM "+ct.stg).Scan(&ct.rows); err != nil {
			return fmt.Errorf("convert %s: %w", ct.display, err)
		}
		if ct.rows > 0 {
			if _, err := c.exec(ctx, "ANALYZE "+ct.stg); err != nil {
				return err
			}
		}
	}
	return nil
}

// columnExprs renders, for the objects of md (alias o), the value of every column and the natural
// key list of every reference column.
func (c *conv) columnExprs(ct *ctab, md *Model) (cols, exprs []string, tries map[string]string) {
	tries = map[string]string{}
	for _, col := range ct.cols {
		typ := ct.t.Column(col).Type
		notNull := ct.t.Column(col).NotNull
		var v string
		switch f := md.FieldOfColumn(col); {
		case col == md.PK:
			v = "o.pk"
		case f != nil:
			v = fieldValue("o", f)
		default:
			continue
		}
		expr := CastSQL(v, typ, notNull)
		try := CastSQL("$1", typ, notNull)
		if nk := ct.nk[col]; nk != "" && col != md.PK {
			expr = fmt.Sprintf("CASE WHEN jsonb_typeof(%s) = 'number' THEN %s END", v, expr)
			cols = append(cols, nk)
			exprs = append(exprs, fmt.Sprintf("CASE WHEN jsonb_typeof(%[1]s) = 'array' THEN %[1]s END", v))
		}
		cols = append(cols, pgquote.Ident(col))
		exprs = append(exprs, expr)
		if CategoryOf(typ) != CatString && CategoryOf(typ) != CatJSON {
			tries[col] = try
		}
	}
	return cols, exprs, tries
}

// stageModel inserts the objects of md into ct's staging table. A value the column type refuses
// (a malformed date, an integer out of range, bad base64) is found row by row and reported.
func (c *conv) stageModel(ctx context.Context, ct *ctab, md *Model) error {
	cols, exprs, tries := c.columnExprs(ct, md)
	cols = append(cols, "_lg_obj", "_lg_line", "_lg_pk")
	exprs = append(exprs, "o.idx", "o.line", "o.pk #>> '{}'")
	sql := fmt.Sprintf("INSERT INTO %s (%s) SELECT %s FROM %s o WHERE o.model = $1 ORDER BY o.idx",
		ct.stg, strings.Join(cols, ", "), strings.Join(exprs, ", "), ct.part)
	if _, err := c.exec(ctx, "SAVEPOINT lg_stage"); err != nil {
		return err
	}
	_, ierr := c.tx.Exec(ctx, sql, md.Name)
	if ierr == nil {
		_, err := c.exec(ctx, "RELEASE SAVEPOINT lg_stage")
		return err
	}
	if _, err := c.exec(ctx, "ROLLBACK TO SAVEPOINT lg_stage"); err != nil {
		return fmt.Errorf("%w (after %v)", err, ierr)
	}
	before := len(c.findings)
	for _, f := range md.Fields {
		try, ok := tries[f.Column]
		if !ok {
			continue
		}
		v := fieldValue("o", f)
		if f.Column == md.PK {
			v = "o.pk"
		}
		from := fmt.Sprintf(`(SELECT o.*, pg_temp._lg_try($2, %[1]s) AS err FROM %[2]s o WHERE o.model = $1 AND jsonb_typeof(%[1]s) NOT IN ('null', 'array')) o
WHERE o.err IS NOT NULL ORDER BY o.idx`, v, ct.part)
		fnd := finding.Finding{Kind: finding.Constraint, Table: ct.display, Column: f.Column,
			Message: fmt.Sprintf("model %s: field %s holds values that are not a valid %s", md.Name, f.Name, f.Type)}
		if _, err := c.sample(ctx, fnd, objLocator+" || ': ' || o.err", from, md.Name, try); err != nil {
			return err
		}
	}
	if len(c.findings) == before {
		f, ok := pgerr.Finding(ierr, ct.display)
		if !ok {
			return fmt.Errorf("convert %s: stage model %s: %w", ct.display, md.Name, ierr)
		}
		f.Message = fmt.Sprintf("model %s: %s", md.Name, f.Message)
		c.add(f)
	}
	return nil
}

// syntheticIDs gives rows without an id (objects without pk, many-to-many rows) negative ids,
// unique in the table and below every id the fixture uses, in fixture order.
func (c *conv) syntheticIDs(ctx context.Context, ct *ctab) error {
	if ct.sid == "" {
		return nil
	}
	sid := pgquote.Ident(ct.sid)
	sql := fmt.Sprintf(`UPDATE %[1]s s SET %[2]s = x.nid FROM (
  SELECT _lg_n, (SELECT least(0, min(%[2]s)) FROM %[1]s) - count(*) OVER () - 1 + row_number() OVER (ORDER BY _lg_n) AS nid
  FROM %[1]s WHERE %[2]s IS NULL) x
WHERE s._lg_n = x._lg_n`, ct.stg, sid)
	_, err := c.exec(ctx, sql)
	return err
}

// stageManyToMany turns the lists of many-to-many field mm of md's objects into rows of the
// through table's staging: the owner's id, the target's id or natural key.
func (c *conv) stageManyToMany(ctx context.Context, ct *ctab, md *Model, mm *ManyToMany, tt *ctab) error {
	if ct.sid == "" {
		c.add(finding.Finding{Kind: finding.SchemaMismatch, Table: ct.display,
			Message: fmt.Sprintf("model %s: many-to-many field %s needs the table's integer id", md.Name, mm.Name)})
		return nil
	}
	v := fmt.Sprintf("o.fields -> %s", pgquote.Literal(mm.Name))
	typ := tt.t.Column(mm.Target).Type
	cols := []string{pgquote.Ident(mm.Owner), pgquote.Ident(mm.Target)}
	exprs := []string{"own." + pgquote.Ident(ct.sid), fmt.Sprintf("CASE WHEN jsonb_typeof(e.v) = 'number' THEN (e.v #>> '{}')::%s END", typ)}
	if nk := tt.nk[mm.Target]; nk != "" {
		cols = append(cols, nk)
		exprs = append(exprs, "CASE WHEN jsonb_typeof(e.v) = 'array' THEN e.v END")
	}
	cols = append(cols, "_lg_obj", "_lg_line")
	exprs = append(exprs, "o.idx", "o.line")
	sql := fmt.Sprintf(`INSERT INTO %s (%s) SELECT %s
FROM %s o JOIN %s own ON own._lg_obj = o.idx CROSS JOIN LATERAL jsonb_array_elements(%s) WITH ORDINALITY e(v, n)
WHERE o.model = $1 AND jsonb_typeof(%s) = 'array' ORDER BY o.idx, e.n`,
		tt.stg, strings.Join(cols, ", "), strings.Join(exprs, ", "), ct.part, ct.stg, v, v)
	if _, err := c.exec(ctx, "SAVEPOINT lg_m2m"); err != nil {
		return err
	}
	if _, err := c.tx.Exec(ctx, sql, md.Name); err != nil {
		if _, rerr := c.exec(ctx, "ROLLBACK TO SAVEPOINT lg_m2m"); rerr != nil {
			return rerr
		}
		f, ok := pgerr.Finding(err, ct.display)
		if !ok {
			return fmt.Errorf("convert %s: many-to-many %s: %w", ct.display, mm.Name, err)
		}
		f.Column = mm.Name
		f.Message = fmt.Sprintf("model %s: many-to-many field %s: %s", md.Name, mm.Name, f.Message)
		c.add(f)
		return nil
	}
	_, err := c.exec(ctx, "RELEASE SAVEPOINT lg_m2m")
	return err
}

// checkIDs refuses objects of one model that share a pk.
func (c *conv) checkIDs(ctx context.Context) error {
	for _, ct := range c.tables {
		if ct.objects == 0 || len(ct.t.PrimaryKey) != 1 {
			continue
		}
		pk := pgquote.Ident(ct.t.PrimaryKey[0])
		f := finding.Finding{Kind: finding.Duplicated, Table: ct.display, Column: ct.t.PrimaryKey[0],
			Message: "several objects have the same pk"}
		from := fmt.Sprintf("%[1]s s WHERE NOT s._lg_ref AND s.%[2]s IN (SELECT %[2]s FROM %[1]s GROUP BY 1 HAVING count(*) > 1) ORDER BY s.%[2]s, s._lg_obj", ct.stg, pk)
		if _, err := c.sample(ctx, f, stgLocator, from); err != nil {
			return err
		}
	}
	return nil
}
