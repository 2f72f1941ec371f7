package legacy

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/edmsdr/edmsdr/engine/finding"
	"github.com/edmsdr/edmsdr/engine/pgerr"
	"github.com/edmsdr/edmsdr/engine/pgquote"
	"github.com/edmsdr/edmsdr/engine/schema"
)

// keyed is a table whose rows are referred to by natural key (directly, or inside another
// table's natural key): it gets a registry of natural key → id.
type keyed struct {
	ct    *ctab
	md    *Model
	shape KeyShape
	deps  []string // tables spliced into its key (self excluded)
}

// resolve replaces every natural-key reference by an id, in SQL:
//
//  1. a registry per referenced table holds the natural key of each of its fixture rows, built
//     from the fixture's own JSON (a foreign key in the key given as an id takes the referenced
//     row's key; trees are built from the roots down), in key dependency order;
//  2. every natural key the fixture refers to that no fixture row has becomes a reference row
//     (a synthetic negative id; its parts, split by the key's shape, may in turn refer to other
//     tables' keys), in reverse dependency order;
//  3. reference columns are rewritten to the registry's ids and the reference rows are staged.
func (c *conv) resolve(ctx context.Context) error {
	used := map[*ctab][]string{} // table -> columns with natural key lists
	need := map[string]bool{}
	for _, ct := range c.tables {
		if ct.rows == 0 || len(ct.nk) == 0 {
			continue
		}
		cols := make([]string, 0, len(ct.nk))
		for col := range ct.nk {
			cols = append(cols, col)
		}
		sort.Strings(cols)
		counts := make([]string, len(cols))
		ns := make([]int64, len(cols))
		dst := make([]any, len(cols))
		for i, col := range cols {
			counts[i] = fmt.Sprintf("count(%s)", ct.nk[col])
			dst[i] = &ns[i]
		}
		if err := c.tx.QueryRow(ctx, fmt.Sprintf("SELECT %s FROM %s", strings.Join(counts, ", "), ct.stg)).Scan(dst...); err != nil {
			return fmt.Errorf("convert %s: %w", ct.display, err)
		}
		for i, col := range cols {
			if ns[i] == 0 {
				continue
			}
			ref := c.refTable(ct.t, col)
			rm := c.m.ModelForTable(ref)
			if rm == nil || rm.Key == nil {
				name := schema.DisplayName(ref)
				if rm != nil {
					name = rm.Name
				}
				f := finding.Finding{Kind: finding.KeyPlan, Table: ct.display, Column: col,
					Message: fmt.Sprintf("gives natural keys of %s, which has no natural key (declare django: models: %s: natural_key: [...] in the keys file)", name, name)}
				if _, err := c.sample(ctx, f, stgLocator+" || ': ' || s."+ct.nk[col]+"::text", fmt.Sprintf("%s s WHERE s.%s IS NOT NULL ORDER BY s._lg_obj", ct.stg, ct.nk[col])); err != nil {
					return err
				}
				continue
			}
			used[ct] = append(used[ct], col)
			need[ref] = true
		}
	}
	if c.findings.HasErrors() || len(need) == 0 {
		return nil
	}
	// The closure: tables spliced into a needed table's key are needed to build and split it.
	reg := map[string]*keyed{}
	var order []*keyed
	var visit func(q string, path []string) error
	visit = func(q string, path []string) error {
		if reg[q] != nil {
			return nil
		}
		for _, p := range path {
			if p == q {
				return fmt.Errorf("natural keys refer to each other in a cycle: %s", strings.Join(append(path, q), " -> "))
			}
		}
		md := c.m.ModelForTable(q)
		if md == nil || md.Key == nil {
			return fmt.Errorf("natural key of %s runs through %s, which has no natural key", path[len(path)-1], schema.DisplayName(q))
		}
		k := &keyed{ct: c.byQ[q], md: md}
		for _, p := range md.Key.Parts {
			if p.Ref != "" && !p.Self {
				if err := visit(p.Ref, append(path, q)); err != nil {
					return err
				}
				k.deps = append(k.deps, p.Ref)
			}
		}
		sh, err := c.m.Shape(md)
		if err != nil {
			return err
		}
		k.shape = sh
		reg[q] = k
		order = append(order, k) // dependencies first
		return nil
	}
	names := make([]string, 0, len(need))
	for q := range need {
		names = append(names, q)
	}
	sort.Strings(names)
	for _, q := range names {
		if err := visit(q, nil); err != nil {
			c.add(finding.Finding{Kind: finding.KeyPlan, Table: schema.DisplayName(q), Message: err.Error()})
		}
	}
	if c.findings.HasErrors() {
		return nil
	}
	for _, k := range order {
		k.ct.keyed = true
		if _, err := c.exec(ctx, fmt.Sprintf("CREATE TEMP TABLE %s (key jsonb NOT NULL, id bigint NOT NULL, fixture boolean NOT NULL, round int NOT NULL DEFAULT 0)", k.ct.reg)); err != nil {
			return err
		}
		if _, err := c.exec(ctx, fmt.Sprintf("CREATE TEMP TABLE %s (key jsonb NOT NULL)", k.ct.want)); err != nil {
			return err
		}
	}
	for _, k := range order {
		if err := c.registerFixtureKeys(ctx, k, reg); err != nil {
			return err
		}
	}
	if c.findings.HasErrors() {
		return nil
	}
	for ct, cols := range used {
		for _, col := range cols {
			p := reg[c.refTable(ct.t, col)]
			if _, err := c.exec(ctx, fmt.Sprintf("INSERT INTO %s (key) SELECT DISTINCT %s FROM %s WHERE %s IS NOT NULL", p.ct.want, ct.nk[col], ct.stg, ct.nk[col])); err != nil {
				return err
			}
		}
	}
	for i := len(order) - 1; i >= 0; i-- {
		if err := c.registerWanted(ctx, order[i], reg); err != nil {
			return err
		}
	}
	if c.findings.HasErrors() {
		return nil
	}
	for ct, cols := range used {
		for _, col := range cols {
			p := reg[c.refTable(ct.t, col)]
			sql := fmt.Sprintf("UPDATE %s s SET %s = k.id FROM %s k WHERE s.%s = k.key", ct.stg, pgquote.Ident(col), p.ct.reg, ct.nk[col])
			if _, err := c.exec(ctx, sql); err != nil {
				return err
			}
			f := finding.Finding{Kind: finding.KeyPlan, Table: ct.display, Column: col, Message: "natural key could not be resolved"}
			if _, err := c.sample(ctx, f, stgLocator+" || ': ' || s."+ct.nk[col]+"::text",
				fmt.Sprintf("%s s WHERE s.%s IS NOT NULL AND s.%s IS NULL ORDER BY s._lg_obj", ct.stg, ct.nk[col], pgquote.Ident(col))); err != nil {
				return err
			}
		}
	}
	for _, k := range order {
		if err := c.stageReferenceRows(ctx, k, reg); err != nil {
			return err
		}
	}
	return nil
}

// keyExpr renders the natural key of a staged fixture row (alias s, its object o) as the fixture
// writes it: plain parts as their JSON values, a foreign key as the list given for it or the key
// of the row its id points at (a registry join), nothing for NULL. self is the expression of the
// self-reference's key (a tree's parent), or "" for none.
func (c *conv) keyExpr(k *keyed, self string) (expr string, joins []string) {
	parts := make([]string, 0, len(k.md.Key.Parts))
	for i, p := range k.md.Key.Parts {
		col := "s." + pgquote.Ident(p.Column)
		switch {
		case p.Ref == "":
			v := "o.pk"
			if p.Column != k.md.PK {
				v = fieldValue("o", k.md.FieldOfColumn(p.Column))
			}
			parts = append(parts, fmt.Sprintf("jsonb_build_array(%s)", v))
		case p.Self:
			parts = append(parts, self)
		default:
			q := c.byQ[p.Ref]
			alias := fmt.Sprintf("q%d", i)
			joins = append(joins, fmt.Sprintf("LEFT JOIN %s %s ON %s.id = %s AND %s.fixture", q.reg, alias, alias, col, alias))
			parts = append(parts, fmt.Sprintf("(CASE WHEN s.%s IS NOT NULL THEN s.%s WHEN %s IS NULL THEN '[]'::jsonb ELSE %s.key END)",
				k.ct.nk[p.Column], k.ct.nk[p.Column], col, alias))
		}
	}
	return strings.Join(parts, " || "), joins
}

func (k *keyed) selfPart() *KeyPart {
	for i := range k.md.Key.Parts {
		if k.md.Key.Parts[i].Self {
			return &k.md.Key.Parts[i]
		}
	}
	return nil
}

// registerFixtureKeys fills k's registry with the natural keys of its fixture rows and refuses
// keys that several objects share.
func (c *conv) registerFixtureKeys(ctx context.Context, k *keyed, reg map[string]*keyed) error {
	ct := k.ct
	sid := "s." + pgquote.Ident(ct.sid)
	from := fmt.Sprintf("%s s JOIN %s o ON o.idx = s._lg_obj", ct.stg, ct.part)
	var sql string
	if sp := k.selfPart(); sp != nil {
		self := "s." + pgquote.Ident(sp.Column)
		nk := "s." + ct.nk[sp.Column]
		rootKey, rootJoins := c.keyExpr(k, fmt.Sprintf("coalesce(%s, '[]'::jsonb)", nk))
		recKey, recJoins := c.keyExpr(k, "r.key")
		sql = fmt.Sprintf(`INSERT INTO %[1]s (key, id, fixture)
WITH RECURSIVE r(id, key) AS (
  SELECT %[2]s, %[3]s FROM %[4]s %[5]s WHERE NOT s._lg_ref AND %[6]s IS NULL
  UNION ALL
  SELECT %[2]s, %[7]s FROM %[4]s JOIN r ON r.id = %[6]s %[8]s WHERE NOT s._lg_ref AND r.key IS NOT NULL
) SELECT key, id, true FROM r WHERE key IS NOT NULL`,
			ct.reg, sid, rootKey, from, strings.Join(rootJoins, " "), self, recKey, strings.Join(recJoins, " "))
	} else {
		key, joins := c.keyExpr(k, "")
		sql = fmt.Sprintf(`INSERT INTO %s (key, id, fixture) SELECT x.key, x.id, true FROM (
  SELECT %s AS key, %s AS id FROM %s %s WHERE NOT s._lg_ref) x WHERE x.key IS NOT NULL`,
			ct.reg, key, sid, from, strings.Join(joins, " "))
	}
	if _, err := c.exec(ctx, sql); err != nil {
		return err
	}
	if _, err := c.exec(ctx, "ANALYZE "+ct.reg); err != nil {
		return err
	}
	f := finding.Finding{Kind: finding.Duplicated, Table: ct.display,
		Message: fmt.Sprintf("model %s: several objects have the same natural key (%s)", k.md.Name, strings.Join(k.md.Key.Columns(), ", "))}
	_, err := c.sample(ctx, f, stgLocator+" || ': ' || k.key::text", fmt.Sprintf(
		"%[1]s s JOIN %[2]s k ON k.id = s.%[3]s AND k.fixture WHERE k.key IN (SELECT key FROM %[2]s WHERE fixture GROUP BY key HAVING count(*) > 1) ORDER BY k.key::text, s._lg_obj",
		ct.stg, ct.reg, pgquote.Ident(ct.sid)))
	return err
}

// slice is where one part of a natural key list sits: its first position (0-based) and length,
// as SQL expressions over the list.
type slice struct {
	part       KeyPart
	start, len string
}

// slices splits a natural key list (the SQL expression list) of k into its parts; at most one
// part may vary in length (Mapping.Decodable).
func (c *conv) slices(k *keyed, list string) ([]slice, error) {
	if err := c.m.Decodable(k.md); err != nil {
		return nil, err
	}
	varLen := fmt.Sprintf("(jsonb_array_length(%s) - %d)", list, k.shape.Fixed)
	out := make([]slice, 0, len(k.md.Key.Parts))
	start := "0"
	for _, p := range k.md.Key.Parts {
		n := "1"
		if p.Ref != "" {
			if p.Self || p.Nullable {
				n = varLen
			} else {
				sh, err := c.m.Shape(c.m.ModelForTable(p.Ref))
				if err != nil {
					return nil, err
				}
				n = fmt.Sprint(sh.Fixed)
				if sh.Variable {
					n = varLen
				}
			}
		}
		out = append(out, slice{part: p, start: start, len: n})
		start = fmt.Sprintf("%s + %s", start, n)
	}
	return out, nil
}

// sub renders the sub-list of list a slice covers.
func (s slice) sub(list string) string {
	return fmt.Sprintf("(SELECT coalesce(jsonb_agg(x.e ORDER BY x.n), '[]'::jsonb) FROM jsonb_array_elements(%s) WITH ORDINALITY x(e, n) WHERE x.n > (%s) AND x.n <= (%s) + (%s))",
		list, s.start, s.start, s.len)
}

// leaf renders the single value a plain part's slice covers.
func (s slice) leaf(list string) string { return fmt.Sprintf("(%s -> (%s))", list, s.start) }

// registerWanted gives every natural key of k's table that the fixture refers to but does not
// contain an id of its own (a reference row), and passes the keys spliced into it on to the tables
// they belong to. Lists of the wrong length are refused.
func (c *conv) registerWanted(ctx context.Context, k *keyed, reg map[string]*keyed) error {
	ct := k.ct
	notKnown := fmt.Sprintf("NOT EXISTS (SELECT 1 FROM %s r WHERE r.key = w.key)", ct.reg)
	badLen := fmt.Sprintf("jsonb_array_length(w.key) <> %d", k.shape.Fixed)
	if k.shape.Variable {
		badLen = fmt.Sprintf("jsonb_array_length(w.key) < %d", k.shape.Fixed)
	}
	var sl []slice
	for round := 1; ; round++ {
		want := fmt.Sprint(k.shape.Fixed)
		if k.shape.Variable {
			want = fmt.Sprintf("at least %d", k.shape.Fixed)
		}
		f := finding.Finding{Kind: finding.KeyPlan, Table: ct.display,
			Message: fmt.Sprintf("natural keys of model %s must have %s values (%s), these do not", k.md.Name, want, strings.Join(k.md.Key.Columns(), ", "))}
		n, err := c.sample(ctx, f, "x.key::text", fmt.Sprintf("(SELECT DISTINCT w.key FROM %s w WHERE %s AND %s) x ORDER BY 1", ct.want, notKnown, badLen))
		if err != nil {
			return err
		}
		if n > 0 {
			if _, err := c.exec(ctx, fmt.Sprintf("DELETE FROM %s w WHERE %s", ct.want, badLen)); err != nil {
				return err
			}
		}
		base := fmt.Sprintf("(SELECT least(0, (SELECT min(%s) FROM %s), (SELECT min(id) FROM %s)))", pgquote.Ident(ct.sid), ct.stg, ct.reg)
		tag, err := c.exec(ctx, fmt.Sprintf(`INSERT INTO %[1]s (key, id, fixture, round)
SELECT x.key, %[2]s - row_number() OVER (ORDER BY x.key::text), false, %[3]d FROM (SELECT DISTINCT w.key FROM %[4]s w WHERE %[5]s) x`,
			ct.reg, base, round, ct.want, notKnown))
		if err != nil {
			return err
		}
		if _, err := c.exec(ctx, "TRUNCATE "+ct.want); err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			break
		}
		ct.refs += tag.RowsAffected()
		if sl == nil {
			if sl, err = c.slices(k, "k.key"); err != nil {
				c.add(finding.Finding{Kind: finding.KeyPlan, Table: ct.display, Count: tag.RowsAffected(),
					Message: fmt.Sprintf("the fixture refers to %d natural keys of model %s that it does not contain, and they cannot be matched: %v", tag.RowsAffected(), k.md.Name, err)})
				return nil
			}
		}
		again := false
		for _, s := range sl {
			if s.part.Ref == "" {
				continue
			}
			dst := reg[s.part.Ref]
			if dst == nil {
				continue
			}
			sql := fmt.Sprintf("INSERT INTO %s (key) SELECT x.sub FROM (SELECT %s AS sub FROM %s k WHERE k.round = %d) x WHERE jsonb_array_length(x.sub) > 0",
				dst.ct.want, s.sub("k.key"), ct.reg, round)
			if _, err := c.exec(ctx, sql); err != nil {
				return err
			}
			again = again || s.part.Self
		}
		if _, err := c.exec(ctx, "ANALYZE "+ct.reg); err != nil {
			return err
		}
		if !again {
			break
		}
	}
	return nil
}

// stageReferenceRows adds k's reference rows to its staging table: the synthetic id, every part
// of the natural key (plain values cast to the column types, foreign keys as the ids of the rows
// their sub-keys name), NULL elsewhere.
func (c *conv) stageReferenceRows(ctx context.Context, k *keyed, reg map[string]*keyed) error {
	ct := k.ct
	if ct.refs == 0 {
		return nil
	}
	// The restore matches reference rows by the key plan's natural key: every column of it must
	// be filled from the Django key.
	have := map[string]bool{}
	for _, p := range k.md.Key.Parts {
		have[p.Column] = true
	}
	planKey := c.plan.NaturalKey(ct.qname)
	var missing []string
	for _, col := range planKey {
		if !have[col] {
			missing = append(missing, col)
		}
	}
	if len(planKey) == 0 || len(missing) > 0 {
		c.add(finding.Finding{Kind: finding.KeyPlan, Table: ct.display, Count: ct.refs,
			Message: fmt.Sprintf("the fixture refers to %d rows of %s by natural key (%s) that it does not contain; the restore would match them by (%s), which that key does not give",
				ct.refs, k.md.Name, strings.Join(k.md.Key.Columns(), ", "), strings.Join(planKey, ", "))})
		return nil
	}
	sl, err := c.slices(k, "k.key")
	if err != nil {
		c.add(finding.Finding{Kind: finding.KeyPlan, Table: ct.display, Count: ct.refs, Message: err.Error()})
		return nil
	}
	cols := []string{pgquote.Ident(ct.sid), "_lg_ref"}
	exprs := []string{"k.id", "true"}
	tries := map[string]string{}
	for i, s := range sl {
		typ := ct.t.Column(s.part.Column).Type
		notNull := ct.t.Column(s.part.Column).NotNull
		cols = append(cols, pgquote.Ident(s.part.Column))
		if s.part.Ref == "" {
			exprs = append(exprs, CastSQL(s.leaf("k.key"), typ, notNull))
			if cat := CategoryOf(typ); cat != CatString && cat != CatJSON {
				tries[s.part.Column] = CastSQL("$1", typ, notNull)
			}
			continue
		}
		dst := reg[s.part.Ref]
		exprs = append(exprs, fmt.Sprintf("(SELECT r%d.id FROM %s r%d WHERE r%d.key = %s)", i, dst.ct.reg, i, i, s.sub("k.key")))
	}
	sql := fmt.Sprintf("INSERT INTO %s (%s) SELECT %s FROM %s k WHERE NOT k.fixture ORDER BY k.id DESC",
		ct.stg, strings.Join(cols, ", "), strings.Join(exprs, ", "), ct.reg)
	if _, err := c.exec(ctx, "SAVEPOINT lg_ref"); err != nil {
		return err
	}
	if _, ierr := c.tx.Exec(ctx, sql); ierr != nil {
		if _, err := c.exec(ctx, "ROLLBACK TO SAVEPOINT lg_ref"); err != nil {
			return err
		}
		before := len(c.findings)
		for _, s := range sl {
			try, ok := tries[s.part.Column]
			if !ok {
				continue
			}
			f := finding.Finding{Kind: finding.Constraint, Table: ct.display, Column: s.part.Column,
				Message: fmt.Sprintf("model %s: natural keys that the fixture refers to hold values that are not a valid %s", k.md.Name, ct.t.Column(s.part.Column).Type)}
			from := fmt.Sprintf("(SELECT k.key, pg_temp._lg_try($1, %s) AS err FROM %s k WHERE NOT k.fixture) x WHERE x.err IS NOT NULL", s.leaf("k.key"), ct.reg)
			if _, err := c.sample(ctx, f, "x.key::text || ': ' || x.err", from, try); err != nil {
				return err
			}
		}
		if len(c.findings) == before {
			f, ok := pgerr.Finding(ierr, ct.display)
			if !ok {
				return fmt.Errorf("convert %s: reference rows: %w", ct.display, ierr)
			}
			f.Message = fmt.Sprintf("model %s: natural keys the fixture refers to: %s", k.md.Name, f.Message)
			c.add(f)
		}
		return nil
	}
	if _, err := c.exec(ctx, "RELEASE SAVEPOINT lg_ref"); err != nil {
		return err
	}
	_, err = c.exec(ctx, "ANALYZE "+ct.stg)
	return err
}
