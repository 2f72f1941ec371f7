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
	// unsettled: its layout could be learned but no list referred to it directly (yet).
	unsettled bool
}

// layoutDepth is how deep the lists embedded in a natural key are checked against the layouts of
// their models while a layout is learned.
const layoutDepth = 1

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
	used, need, err := c.keyColumns(ctx)
	if err != nil || c.findings.HasErrors() || len(need) == 0 {
		return err
	}
	order := c.keyClosure(need)
	if c.findings.HasErrors() {
		return nil
	}
	if err := c.registerFixtures(ctx, order, used); err != nil || c.findings.HasErrors() { // 1
		return err
	}
	for i := len(order) - 1; i >= 0; i-- { // 2
		if err := c.registerWanted(ctx, order[i], c.keyedByQ); err != nil {
			return err
		}
	}
	if c.findings.HasErrors() {
		return nil
	}
	return c.rewriteReferences(ctx, order, used) // 3
}

// keyColumns finds the staged columns that hold natural keys (used, per table) and the tables
// those keys refer to (need). A key referring to a table without a natural key is a finding.
func (c *conv) keyColumns(ctx context.Context) (used map[*ctab][]string, need map[string]bool, err error) {
	used = map[*ctab][]string{}
	need = map[string]bool{}
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
			return nil, nil, fmt.Errorf("convert %s: %w", ct.display, err)
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
					return nil, nil, err
				}
				continue
			}
			used[ct] = append(used[ct], col)
			need[ref] = true
		}
	}
	return used, need, nil
}

// keyClosure returns the needed tables and the tables spliced into their keys (needed to build
// and split them), dependencies first, and sets c.keyedByQ. A cycle of keys, or a key running
// through a table without one, is a finding.
func (c *conv) keyClosure(need map[string]bool) []*keyed {
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
	if !c.findings.HasErrors() {
		c.keyedByQ = reg
	}
	return order
}

// registerFixtures is resolve's step 1: it creates the registries, collects the keys the fixture
// refers to, learns each table's key layout and registers its fixture rows' keys, dependencies
// first.
func (c *conv) registerFixtures(ctx context.Context, order []*keyed, used map[*ctab][]string) error {
	for _, k := range order {
		k.ct.keyed = true
		if _, err := c.exec(ctx, fmt.Sprintf("CREATE TEMP TABLE %s (key jsonb NOT NULL, id bigint NOT NULL, fixture boolean NOT NULL, round int NOT NULL DEFAULT 0)", k.ct.reg)); err != nil {
			return err
		}
		if _, err := c.exec(ctx, fmt.Sprintf("CREATE TEMP TABLE %s (key jsonb NOT NULL)", k.ct.want)); err != nil {
			return err
		}
	}
	for ct, cols := range used {
		for _, col := range cols {
			p := c.keyedByQ[c.refTable(ct.t, col)]
			if _, err := c.exec(ctx, fmt.Sprintf("INSERT INTO %s (key) SELECT DISTINCT %s FROM %s WHERE %s IS NOT NULL", p.ct.want, ct.nk[col], ct.stg, ct.nk[col])); err != nil {
				return err
			}
		}
	}
	// Dependencies first: a layout is learned from the lists that refer to the table, against
	// the keys of its fixture rows, which are built from the keys of its dependencies.
	for _, k := range order {
		if err := c.learnLayout(ctx, k); err != nil {
			return err
		}
		if c.findings.HasErrors() {
			return nil
		}
		if err := c.registerFixtureKeys(ctx, k); err != nil {
			return err
		}
	}
	if c.findings.HasErrors() {
		return nil
	}
	for _, k := range order {
		sh, err := c.m.Shape(k.md) // layouts learned since
		if err != nil {
			c.add(finding.Finding{Kind: finding.KeyPlan, Table: k.ct.display, Message: err.Error()})
			continue
		}
		k.shape = sh
	}
	return nil
}

// rewriteReferences is resolve's step 3: every natural-key column's id is set from the
// registries (a key left unresolved is a finding), then the reference rows are staged.
func (c *conv) rewriteReferences(ctx context.Context, order []*keyed, used map[*ctab][]string) error {
	for ct, cols := range used {
		for _, col := range cols {
			p := c.keyedByQ[c.refTable(ct.t, col)]
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
		if err := c.stageReferenceRows(ctx, k, c.keyedByQ); err != nil {
			return err
		}
	}
	return nil
}

// keyExpr renders the natural key of a staged fixture row (alias s, its object o) as the fixture
// writes it: plain parts as their JSON values, a foreign key as the list given for it or the key
// of the row its id points at (a registry join), nothing for NULL — or, nested, that list as one
// element (null for NULL). self is the expression of the self-reference's part (a tree's parent
// key, spliced or nested), or "" for none.
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
		case p.Nested:
			q := c.byQ[p.Ref]
			alias := fmt.Sprintf("q%d", i)
			joins = append(joins, fmt.Sprintf("LEFT JOIN %s %s ON %s.id = %s AND %s.fixture", q.reg, alias, alias, col, alias))
			parts = append(parts, fmt.Sprintf("(CASE WHEN s.%[1]s IS NOT NULL THEN jsonb_build_array(s.%[1]s) WHEN %[2]s IS NULL THEN '[null]'::jsonb WHEN %[3]s.key IS NOT NULL THEN jsonb_build_array(%[3]s.key) END)",
				k.ct.nk[p.Column], col, alias))
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
func (c *conv) registerFixtureKeys(ctx context.Context, k *keyed) error {
	ct := k.ct
	if _, err := c.exec(ctx, c.fixtureKeysSQL(k)); err != nil {
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

// fixtureKeysSQL inserts the natural keys of k's fixture rows into its registry, in k's current
// layout.
func (c *conv) fixtureKeysSQL(k *keyed) string {
	ct := k.ct
	sid := "s." + pgquote.Ident(ct.sid)
	from := fmt.Sprintf("%s s JOIN %s o ON o.idx = s._lg_obj", ct.stg, ct.part)
	var sql string
	if sp := k.selfPart(); sp != nil {
		self := "s." + pgquote.Ident(sp.Column)
		nk := "s." + ct.nk[sp.Column]
		rootSelf, recSelf := fmt.Sprintf("coalesce(%s, '[]'::jsonb)", nk), "r.key"
		if sp.Nested {
			rootSelf = fmt.Sprintf("(CASE WHEN %[1]s IS NULL THEN '[null]'::jsonb ELSE jsonb_build_array(%[1]s) END)", nk)
			recSelf = "jsonb_build_array(r.key)"
		}
		rootKey, rootJoins := c.keyExpr(k, rootSelf)
		recKey, recJoins := c.keyExpr(k, recSelf)
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
	return sql
}

// learnLayout settles the layout of k's natural key in this fixture when nothing declares it (see
// Mapping.Candidates): the candidates that every list referring to k's table fits (length; a
// nested part a list or null; a plain part a scalar of its column's kind) are compared by how many
// of those lists name one of the fixture's own objects. One candidate must win — or the default
// must be among the winners, confirmed by at least one object; otherwise the conversion is refused
// with the keys-file entry that settles it.
func (c *conv) learnLayout(ctx context.Context, k *keyed) error {
	cands := c.m.Candidates(k.md)
	if cands == nil {
		return nil
	}
	ct := k.ct
	var total int64
	if err := c.tx.QueryRow(ctx, fmt.Sprintf("SELECT count(DISTINCT key) FROM %s", ct.want)).Scan(&total); err != nil {
		return fmt.Errorf("convert %s: %w", ct.display, err)
	}
	if total == 0 {
		k.unsettled = true // no list refers to it directly: the keys that embed it may settle it
		return nil
	}
	k.unsettled = false
	type score struct {
		k          *NaturalKey
		fit, match int64
	}
	var fits []score
	var bestFit int64
	for _, cand := range cands {
		c.m.SetKey(k.md, cand)
		sh, err := c.m.Shape(k.md)
		if err != nil {
			continue
		}
		k.shape = sh
		cond, err := c.shapeCond(k.md, "w.key", true, layoutDepth)
		if err != nil {
			continue
		}
		var fit int64
		if err := c.tx.QueryRow(ctx, fmt.Sprintf("SELECT count(DISTINCT w.key) FROM %s w WHERE %s", ct.want, cond)).Scan(&fit); err != nil {
			return fmt.Errorf("convert %s: layout %s: %w", ct.display, cand.Layout(), err)
		}
		if fit == 0 {
			continue
		}
		bestFit = max(bestFit, fit)
		fits = append(fits, score{k: cand, fit: fit})
	}
	var best []score
	for _, f := range fits {
		if f.fit == bestFit {
			best = append(best, f)
		}
	}
	if len(best) > 1 {
		// Several layouts fit as well: the lists that name the fixture's own objects decide.
		for i := range best {
			c.m.SetKey(k.md, best[i].k)
			sh, _ := c.m.Shape(k.md)
			k.shape = sh
			if _, err := c.exec(ctx, "TRUNCATE "+ct.reg); err != nil {
				return err
			}
			if _, err := c.exec(ctx, c.fixtureKeysSQL(k)); err != nil {
				return err
			}
			if err := c.tx.QueryRow(ctx, fmt.Sprintf("SELECT count(DISTINCT w.key) FROM %s w WHERE EXISTS (SELECT 1 FROM %s r WHERE r.key = w.key)", ct.want, ct.reg)).Scan(&best[i].match); err != nil {
				return fmt.Errorf("convert %s: layout %s: %w", ct.display, best[i].k.Layout(), err)
			}
		}
		if _, err := c.exec(ctx, "TRUNCATE "+ct.reg); err != nil {
			return err
		}
		sort.SliceStable(best, func(i, j int) bool { return best[i].match > best[j].match })
		if best[0].match > 0 && best[1].match == best[0].match {
			// The fixture's own objects confirm the default as well as any other layout (a tree
			// whose referred-to rows are all roots): keep it.
			for _, b := range best {
				if b.match == best[0].match && b.k == cands[0] {
					best = []score{b}
					break
				}
			}
		}
		if len(best) > 1 && best[0].match == best[1].match {
			var alts []string
			for _, b := range best {
				if b.match == best[0].match {
					alts = append(alts, b.k.Layout().String())
				}
			}
			why := "none of them names an object the fixture contains"
			if best[0].match > 0 {
				why = fmt.Sprintf("each names %d objects the fixture contains", best[0].match)
			}
			c.add(finding.Finding{Kind: finding.KeyPlan, Table: ct.display, Count: total,
				Message: fmt.Sprintf("model %s: the fixture's %d natural keys of this model fit several orders of its natural_key() (%s) and %s: add the one its natural_key() returns to the keys file, as django: models: %s: natural_key: %s (a foreign key in brackets when its natural key is nested)",
					k.md.Name, total, strings.Join(alts, ", "), why, k.md.Name, alts[0])})
			c.m.SetKey(k.md, cands[0])
			return nil
		}
	}
	switch {
	case len(best) == 0:
		c.m.SetKey(k.md, cands[0]) // the checks that follow name the lists that fit nothing
	case best[0].k != cands[0]:
		c.m.SetKey(k.md, best[0].k)
		c.learned = append(c.learned, LearnedKey{Model: k.md.Name, Table: ct.display, Layout: best[0].k.Layout().String(), Default: cands[0].Layout().String()})
	default:
		c.m.SetKey(k.md, cands[0])
	}
	sh, err := c.m.Shape(k.md)
	if err != nil {
		return nil
	}
	k.shape = sh
	return c.settleEmbedded(ctx, k)
}

// settleEmbedded learns the layouts of the models embedded in k's natural key that no list
// referred to directly, from the sub-lists of the lists that refer to k, and rebuilds their
// registries.
func (c *conv) settleEmbedded(ctx context.Context, k *keyed) error {
	sl, err := c.slices(k, "w.key")
	if err != nil {
		return nil
	}
	for _, s := range sl {
		r := c.keyedByQ[s.part.Ref]
		if s.part.Ref == "" || s.part.Self || r == nil || !r.unsettled {
			continue
		}
		if _, err := c.exec(ctx, fmt.Sprintf("INSERT INTO %s (key) SELECT DISTINCT x.sub FROM (SELECT %s AS sub FROM %s w) x WHERE jsonb_typeof(x.sub) = 'array' AND jsonb_array_length(x.sub) > 0",
			r.ct.want, s.sub("w.key"), k.ct.want)); err != nil {
			return err
		}
		before := r.md.Key
		if err := c.learnLayout(ctx, r); err != nil {
			return err
		}
		// Learning may have emptied the registry: build it again, in the layout settled on
		// (duplicates were reported already when the layout is the same).
		if _, err := c.exec(ctx, "TRUNCATE "+r.ct.reg); err != nil {
			return err
		}
		if r.md.Key != before {
			if err := c.registerFixtureKeys(ctx, r); err != nil {
				return err
			}
			continue
		}
		if _, err := c.exec(ctx, c.fixtureKeysSQL(r)); err != nil {
			return err
		}
		if _, err := c.exec(ctx, "ANALYZE "+r.ct.reg); err != nil {
			return err
		}
	}
	return nil
}

// shapeCond renders a SQL condition that natural key list list of md has md's current layout:
// its length, nested parts lists (or null when nullable) and, strict, plain parts scalars of their
// column's kind and the natural keys of foreign keys, to depth levels, keys of the referenced model
// in one of its layouts.
func (c *conv) shapeCond(md *Model, list string, strict bool, depth int) (string, error) {
	sh, err := c.m.Shape(md)
	if err != nil {
		return "", err
	}
	conds := []string{fmt.Sprintf("jsonb_typeof(%s) = 'array'", list)}
	if sh.Variable {
		conds = append(conds, fmt.Sprintf("jsonb_array_length(%s) >= %d", list, sh.Fixed))
	} else {
		conds = append(conds, fmt.Sprintf("jsonb_array_length(%s) = %d", list, sh.Fixed))
	}
	sl, err := c.slicesOf(md, sh, list)
	if err != nil {
		return "", err
	}
	for _, s := range sl {
		typ := fmt.Sprintf("jsonb_typeof(%s -> (%s))", list, s.start)
		var ok []string
		switch {
		case s.part.Nested:
			ok = []string{"array"}
		case s.part.Ref == "" && strict:
			switch CategoryOf(md.Table.Column(s.part.Column).Type) {
			case CatInteger:
				ok = []string{"number"}
			case CatDecimal, CatFloat:
				ok = []string{"number", "string"}
			case CatBoolean:
				ok = []string{"boolean"}
			default:
				ok = []string{"string", "number", "boolean"}
			}
		}
		if len(ok) > 0 {
			if s.part.Nullable {
				ok = append(ok, "null")
			}
			conds = append(conds, fmt.Sprintf("%s IN ('%s')", typ, strings.Join(ok, "', '")))
		}
		if s.part.Ref == "" || !strict || depth <= 0 {
			continue
		}
		sub, err := c.refCond(md, s, list, depth-1)
		if err != nil {
			return "", err
		}
		conds = append(conds, sub)
	}
	return strings.Join(conds, " AND "), nil
}

// refCond renders the condition that the natural key a foreign key part's slice holds is a key of
// the referenced model in one of its layouts (a tree's parent in the tree's own layout). A NULL
// foreign key (null nested, nothing spliced) passes when the part is nullable.
func (c *conv) refCond(md *Model, s slice, list string, depth int) (string, error) {
	rm := c.m.ModelForTable(s.part.Ref)
	if rm == nil || rm.Key == nil {
		return "true", nil
	}
	alts := []*NaturalKey{rm.Key}
	if !s.part.Self {
		if cands := c.m.Candidates(rm); cands != nil {
			alts = cands
		}
	}
	sub := fmt.Sprintf("(%s)", s.sub(list))
	keep := rm.Key
	defer c.m.SetKey(rm, keep)
	var ors []string
	for _, alt := range alts {
		c.m.SetKey(rm, alt)
		cond, err := c.shapeCond(rm, sub, true, depth)
		if err != nil {
			continue
		}
		ors = append(ors, "("+cond+")")
	}
	if len(ors) == 0 {
		return "false", nil
	}
	or := strings.Join(ors, " OR ")
	if s.part.Nullable {
		return fmt.Sprintf("(%[1]s IS NULL OR jsonb_array_length(%[1]s) = 0 OR %[2]s)", sub, or), nil
	}
	return fmt.Sprintf("coalesce(%s, false)", or), nil
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
	return c.slicesOf(k.md, k.shape, list)
}

// slicesOf splits a natural key list of md, whose key has shape sh.
func (c *conv) slicesOf(md *Model, sh KeyShape, list string) ([]slice, error) {
	if err := c.m.Decodable(md); err != nil {
		return nil, err
	}
	varLen := fmt.Sprintf("(jsonb_array_length(%s) - %d)", list, sh.Fixed)
	out := make([]slice, 0, len(md.Key.Parts))
	start := "0"
	for _, p := range md.Key.Parts {
		n := "1"
		if p.Ref != "" && !p.Nested {
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

// sub renders the sub-list of list a slice covers: the natural key of the part's row, NULL for a
// nested null.
func (s slice) sub(list string) string {
	if s.part.Nested {
		return fmt.Sprintf("(CASE WHEN jsonb_typeof(%[1]s -> (%[2]s)) = 'array' THEN %[1]s -> (%[2]s) END)", list, s.start)
	}
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
	if cond, err := c.shapeCond(k.md, "w.key", false, 0); err == nil {
		badLen = fmt.Sprintf("NOT coalesce(%s, false)", cond)
	}
	var sl []slice
	for round := 1; ; round++ {
		want := fmt.Sprint(k.shape.Fixed)
		if k.shape.Variable {
			want = fmt.Sprintf("at least %d", k.shape.Fixed)
		}
		f := finding.Finding{Kind: finding.KeyPlan, Table: ct.display,
			Message: fmt.Sprintf("natural keys of model %s must have %s values laid out as %s (%s), these do not; if its natural_key() returns another layout, declare it in the keys file: django: models: %s: natural_key: [...] (a foreign key in brackets when its natural key is nested)",
				k.md.Name, want, k.md.Key.Layout(), layoutSource(k.md.Key.Source), k.md.Name)}
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

// layoutSource says in a message where a natural key layout came from.
func layoutSource(source string) string {
	switch source {
	case KeyFromKeysFile:
		return "as the keys file declares"
	case KeyFromDjango:
		return "Django's own"
	case KeyFromFixture:
		return "learned from the fixture"
	}
	return "the key plan's order, foreign keys spliced"
}
