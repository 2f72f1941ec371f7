package legacy

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/edmsdr/edmsdr/engine/contenttype"
	"github.com/edmsdr/edmsdr/engine/digest"
	"github.com/edmsdr/edmsdr/engine/finding"
	"github.com/edmsdr/edmsdr/engine/introspect"
	"github.com/edmsdr/edmsdr/engine/pack"
	"github.com/edmsdr/edmsdr/engine/pgquote"
	"github.com/edmsdr/edmsdr/engine/schema"
)

// checkReferences refuses what the restore could only guess at: foreign keys and generic foreign
// keys to objects the fixture does not contain, NULLs in NOT NULL columns, and natural keys (of
// the key plan) that several objects share.
func (c *conv) checkReferences(ctx context.Context) error {
	// References given as natural keys were rewritten to ids since the last statistics.
	for _, ct := range c.tables {
		if ct.rows > 0 || ct.refs > 0 {
			if _, err := c.exec(ctx, "ANALYZE "+ct.stg); err != nil {
				return err
			}
		}
	}
	for _, ct := range c.tables {
		if ct.rows == 0 {
			continue
		}
		for _, fk := range ct.t.ForeignKeys {
			p := c.byQ[fk.RefQName()]
			if p == nil {
				continue
			}
			var notNull, match, shown []string
			for i, col := range fk.Columns {
				q := pgquote.Ident(col)
				notNull = append(notNull, fmt.Sprintf("s.%s IS NOT NULL", q))
				match = append(match, fmt.Sprintf("p.%s = s.%s", pgquote.Ident(fk.RefColumns[i]), q))
				shown = append(shown, fmt.Sprintf("'%s=' || s.%s", strings.ReplaceAll(col, "'", "''"), q))
			}
			f := finding.Finding{Kind: finding.Orphaned, Table: ct.display, Column: strings.Join(fk.Columns, ", "), Constraint: fk.Name,
				Message: fmt.Sprintf("points at rows of %s that the fixture does not contain", p.display)}
			from := fmt.Sprintf("%s s WHERE NOT s._lg_ref AND %s AND NOT EXISTS (SELECT 1 FROM %s p WHERE %s) ORDER BY s._lg_obj",
				ct.stg, strings.Join(notNull, " AND "), p.stg, strings.Join(match, " AND "))
			if _, err := c.sample(ctx, f, stgLocator+" || ': ' || "+strings.Join(shown, " || ', ' || "), from); err != nil {
				return err
			}
		}
		if err := c.checkGeneric(ctx, ct); err != nil {
			return err
		}
		if err := c.checkNotNull(ctx, ct); err != nil {
			return err
		}
		if nk := c.plan.NaturalKey(ct.qname); len(nk) > 0 {
			cols := make([]string, len(nk))
			for i, col := range nk {
				cols[i] = pgquote.Ident(col)
			}
			f := finding.Finding{Kind: finding.Duplicated, Table: ct.display,
				Message: fmt.Sprintf("natural key (%s) is not unique in the fixture", strings.Join(nk, ", "))}
			from := fmt.Sprintf("(SELECT s.*, count(*) OVER (PARTITION BY %s) AS _lg_dups FROM %s s WHERE NOT s._lg_ref) s WHERE s._lg_dups > 1 ORDER BY %s, s._lg_obj",
				strings.Join(cols, ", "), ct.stg, strings.Join(cols, ", "))
			if _, err := c.sample(ctx, f, stgLocator, from); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkNotNull refuses objects that leave a NOT NULL column empty: one pass counts them for
// every such column, the columns with any are sampled.
func (c *conv) checkNotNull(ctx context.Context, ct *ctab) error {
	var cols, counts []string
	for _, col := range ct.cols {
		if cl := ct.t.Column(col); cl.NotNull && col != ct.sid {
			cols = append(cols, col)
			counts = append(counts, fmt.Sprintf("count(*) FILTER (WHERE s.%s IS NULL)", pgquote.Ident(col)))
		}
	}
	if len(cols) == 0 {
		return nil
	}
	ns := make([]int64, len(cols))
	dst := make([]any, len(cols))
	for i := range ns {
		dst[i] = &ns[i]
	}
	if err := c.tx.QueryRow(ctx, fmt.Sprintf("SELECT %s FROM %s s WHERE NOT s._lg_ref", strings.Join(counts, ", "), ct.stg)).Scan(dst...); err != nil {
		return fmt.Errorf("convert %s: %w", ct.display, err)
	}
	for i, col := range cols {
		if ns[i] == 0 {
			continue
		}
		f := finding.Finding{Kind: finding.Constraint, Table: ct.display, Column: col,
			Message: fmt.Sprintf("column %s is NOT NULL, but these objects give no value for it", col)}
		if md := c.m.ModelOfTable(ct.qname); md != nil {
			if fl := md.FieldOfColumn(col); fl != nil {
				f.Message = fmt.Sprintf("model %s: field %s is missing or null, but column %s is NOT NULL", md.Name, fl.Name, col)
			}
		}
		if _, err := c.sample(ctx, f, stgLocator, fmt.Sprintf("%s s WHERE NOT s._lg_ref AND s.%s IS NULL ORDER BY s._lg_obj", ct.stg, pgquote.Ident(col))); err != nil {
			return err
		}
	}
	return nil
}

// checkGeneric refuses generic foreign keys (content type + object id) that name an object the
// fixture does not contain: an object_id is a plain integer, so an object given without pk
// (dumpdata --natural-primary) cannot be named by one.
func (c *conv) checkGeneric(ctx context.Context, ct *ctab) error {
	ctPlan := c.plan.ContentTypes
	if ctPlan == nil {
		return nil
	}
	cts := c.byQ[ctPlan.Table]
	for _, g := range c.plan.GenericFKsOf(ct.qname) {
		if cts == nil || cts.sid == "" {
			continue
		}
		ctc, obj := pgquote.Ident(g.ContentTypeColumn), pgquote.Ident(g.ObjectIDColumn)
		list, err := contenttype.Used(ctx, c.tx, contenttype.Table{From: cts.stg, ID: cts.sid, Plan: ctPlan},
			contenttype.Refs{From: ct.stg, Column: g.ContentTypeColumn, Where: fmt.Sprintf("NOT s._lg_ref AND s.%s IS NOT NULL", obj)})
		if err != nil {
			return fmt.Errorf("convert %s: %w", ct.display, err)
		}
		for _, r := range list {
			name := r.AppLabel + "." + r.Model
			f := finding.Finding{Kind: finding.Orphaned, Table: ct.display, Column: g.ObjectIDColumn}
			target := c.byQ[ctPlan.TableForContentType(c.s, r.AppLabel, r.Model)]
			var from string
			if target == nil || target.sid == "" {
				f.Message = fmt.Sprintf("generic foreign key to %s objects, but content type %s names no table of the target with an integer id", name, name)
				from = fmt.Sprintf("%s s WHERE NOT s._lg_ref AND s.%s = $1 AND s.%s IS NOT NULL ORDER BY s._lg_obj", ct.stg, ctc, obj)
			} else {
				f.Message = fmt.Sprintf("generic foreign key to %s objects that the fixture does not contain (an object_id names an object by its pk: objects written without pk cannot be named)", name)
				from = fmt.Sprintf("%s s WHERE NOT s._lg_ref AND s.%s = $1 AND s.%s IS NOT NULL AND NOT EXISTS (SELECT 1 FROM %s x WHERE x.%s = s.%s AND NOT x._lg_ref) ORDER BY s._lg_obj",
					ct.stg, ctc, obj, target.stg, pgquote.Ident(target.sid), obj)
			}
			if _, err := c.sample(ctx, f, stgLocator+" || ': ' || "+pgquote.Literal(name+" id ")+" || s."+obj, from, r.ID); err != nil {
				return err
			}
		}
	}
	return nil
}

// write streams the staged rows into the package: data rows, then reference rows, table by table
// in foreign-key order, then the manifest with the digest of the data rows.
func (c *conv) write(ctx context.Context, out string) (res *ConvertResult, err error) {
	w, err := pack.Create(out, c.opts.Writer)
	if err != nil {
		return nil, fmt.Errorf("convert: %w", err)
	}
	defer func() {
		if err != nil {
			w.Abort()
		}
	}()
	hdr := pack.Header{Tool: c.opts.Tool}
	for _, ct := range c.tables {
		hdr.Tables = append(hdr.Tables, pack.TableLayout{Index: ct.idx, Table: ct.qname, Columns: ct.cols})
	}
	if err := w.WriteHeader(hdr); err != nil {
		return nil, fmt.Errorf("convert: %w", err)
	}
	res = &ConvertResult{Path: out, Objects: c.objects, Skipped: c.skipped, Learned: c.learned}
	for _, ct := range c.tables {
		cols := make([]string, len(ct.cols))
		for i, col := range ct.cols {
			cols[i] = pgquote.Ident(col)
		}
		order := "_lg_n"
		if ct.sid != "" {
			order = pgquote.Ident(ct.sid)
		}
		ts := w.Table(ct.idx, ct.qname)
		sql := fmt.Sprintf("COPY (SELECT %s FROM %s WHERE NOT _lg_ref ORDER BY %s) TO STDOUT", strings.Join(cols, ", "), ct.stg, order)
		if _, err := c.tx.Conn().PgConn().CopyTo(ctx, ts, sql); err != nil {
			return nil, fmt.Errorf("convert %s: write rows: %w", ct.display, err)
		}
		te, err := ts.Close()
		if err != nil {
			return nil, fmt.Errorf("convert %s: %w", ct.display, err)
		}
		res.Rows += te.Rows
		if ct.refs > 0 {
			rs := w.Refs(ct.idx, ct.qname)
			sql := fmt.Sprintf("COPY (SELECT %s FROM %s WHERE _lg_ref ORDER BY %s DESC) TO STDOUT", strings.Join(cols, ", "), ct.stg, order)
			if _, err := c.tx.Conn().PgConn().CopyTo(ctx, rs, sql); err != nil {
				return nil, fmt.Errorf("convert %s: write reference rows: %w", ct.display, err)
			}
			re, err := rs.Close()
			if err != nil {
				return nil, fmt.Errorf("convert %s: %w", ct.display, err)
			}
			res.RefRows += re.RefRows
		}
		if te.Rows > 0 || ct.refs > 0 {
			res.Tables = append(res.Tables, ConvertedTable{Table: ct.display, Objects: ct.objects, Rows: te.Rows, Refs: ct.refs})
		}
	}
	sum, err := c.digest(ctx)
	if err != nil {
		return nil, err
	}
	version, err := introspect.ServerVersion(ctx, c.tx)
	if err != nil {
		return nil, fmt.Errorf("convert: %w", err)
	}
	m := &pack.Manifest{Origin: pack.OriginDjangoFixture, Tool: c.opts.Tool, CreatedAt: time.Now().UTC(), ServerVersion: version,
		Database: c.opts.Name, Schema: c.s, Plan: c.plan, Digest: sum}
	if err := w.Close(m); err != nil {
		return nil, fmt.Errorf("convert: %w", err)
	}
	res.Manifest = m
	return res, nil
}

// digest computes the logical digest of the staged data rows; identities come from the staged
// rows, reference rows included (data rows point at them by id).
func (c *conv) digest(ctx context.Context) (pack.Digest, error) {
	ds, err := digest.NewSession(c.tx, c.s, c.plan, digest.Options{Prefix: "_lg_dg", Source: func(q string) string {
		if ct := c.byQ[q]; ct != nil {
			return ct.stg
		}
		return ""
	}})
	if err != nil {
		return pack.Digest{}, fmt.Errorf("convert: %w", err)
	}
	defer ds.Close(ctx)
	tables := map[string]pack.TableDigest{}
	for _, ct := range c.tables {
		td, err := ds.Table(ctx, ct.qname, fmt.Sprintf("(SELECT * FROM %s WHERE NOT _lg_ref)", ct.stg))
		if err != nil {
			return pack.Digest{}, fmt.Errorf("convert: digest %s: %w", schema.DisplayName(ct.qname), err)
		}
		tables[ct.qname] = td
	}
	return pack.NewDigest(tables), nil
}
