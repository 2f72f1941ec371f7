package oracle

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
)

// table is one logical table: an ordinary table, or a partitioned table with all its leaf
// partitions. Its rows come from its leaves; a foreign key declared on the root, on any
// partition or only on some applies to every row (the column holds the same kind of value in
// every partition).
type table struct {
	name   string // schema.table
	cols   []column
	colIdx map[string]int
	leaves []uint32
	refs   []reference
	// nk are the indexes of the natural key's columns; nil when keyless.
	nk []int
	// rows of every leaf, in read order.
	rows []*row
	// index by referenced column list, built on demand: "a,b" -> values -> rows.
	index map[string]map[string][]*row
}

type column struct {
	name    string
	notNull bool
	// surrogate: an integer that is the single-column primary key or filled from a sequence or
	// identity; its values differ between databases, so renderings leave it out.
	surrogate bool
}

// reference is a foreign key (declared on the table or one of its partitions) or an undeclared
// reference from Options; columns are indexes into the table's columns.
type reference struct {
	name       string
	cols       []int
	refTable   string
	refColumns []string
}

type row struct {
	leaf uint32
	vals []*string
}

// readCatalog reads the logical tables of the database q is connected to: every ordinary and
// partitioned table outside the system schemas and not owned by an extension, partitions folded
// into their root.
func readCatalog(ctx context.Context, q pgx.Tx, opts Options) (map[string]*table, error) {
	excluded := map[string]bool{}
	for _, e := range opts.Exclude {
		excluded[qualify(e)] = true
	}
	rows, err := q.Query(ctx, `
SELECT c.oid, n.nspname, c.relname,
       ARRAY(SELECT relid::oid FROM pg_partition_tree(c.oid) WHERE isleaf ORDER BY relid::oid)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_%'
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
ORDER BY 2, 3`)
	if err != nil {
		return nil, fmt.Errorf("read tables: %w", err)
	}
	type rel struct {
		oid    uint32
		name   string
		leaves []uint32
	}
	var rels []rel
	for rows.Next() {
		var r rel
		var ns, name string
		if err := rows.Scan(&r.oid, &ns, &name, &r.leaves); err != nil {
			return nil, fmt.Errorf("read tables: %w", err)
		}
		r.name = ns + "." + name
		if len(r.leaves) == 0 {
			r.leaves = []uint32{r.oid} // not partitioned: pg_partition_tree answers nothing
		}
		if !excluded[r.name] {
			rels = append(rels, r)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read tables: %w", err)
	}
	tables := map[string]*table{}
	for _, r := range rels {
		t := &table{name: r.name, colIdx: map[string]int{}, leaves: r.leaves}
		if err := readColumns(ctx, q, r.oid, t); err != nil {
			return nil, err
		}
		if err := readForeignKeys(ctx, q, t); err != nil {
			return nil, err
		}
		nk, err := readNaturalKey(ctx, q, r.oid, t, opts)
		if err != nil {
			return nil, err
		}
		t.nk = nk
		tables[t.name] = t
	}
	if err := addReferences(tables, opts.References); err != nil {
		return nil, err
	}
	return tables, nil
}

func readColumns(ctx context.Context, q pgx.Tx, oid uint32, t *table) error {
	rows, err := q.Query(ctx, `
SELECT a.attname, a.attnotnull,
       a.atttypid IN ('int2'::regtype, 'int4'::regtype, 'int8'::regtype)
       AND (a.attidentity <> '' OR coalesce(pg_get_expr(d.adbin, d.adrelid), '') LIKE 'nextval(%'
            OR EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = a.attrelid AND i.indisprimary
                       AND i.indnkeyatts = 1 AND i.indkey[0] = a.attnum))
FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum`, oid)
	if err != nil {
		return fmt.Errorf("read columns of %s: %w", t.name, err)
	}
	for rows.Next() {
		var c column
		if err := rows.Scan(&c.name, &c.notNull, &c.surrogate); err != nil {
			return fmt.Errorf("read columns of %s: %w", t.name, err)
		}
		t.colIdx[c.name] = len(t.cols)
		t.cols = append(t.cols, c)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read columns of %s: %w", t.name, err)
	}
	return nil
}

// readForeignKeys reads the foreign keys of every leaf: those declared on the root (PostgreSQL
// clones them onto each partition), on an intermediate partitioned table, or on the leaf alone;
// the same reference declared on several partitions counts once.
// A referenced partition stands for its root. (pg_partition_root and pg_partition_ancestors
// answer NULL and nothing for a table outside any partition tree.)
func readForeignKeys(ctx context.Context, q pgx.Tx, t *table) error {
	rows, err := q.Query(ctx, `
SELECT DISTINCT leaf.relid::oid,
       ARRAY(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY k(n, o)
             JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n ORDER BY k.o),
       rn.nspname || '.' || rc.relname,
       ARRAY(SELECT a.attname::text FROM unnest(c.confkey) WITH ORDINALITY k(n, o)
             JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n ORDER BY k.o),
       c.conname
FROM unnest($1::oid[]) leaf(relid)
JOIN pg_constraint c ON c.contype = 'f'
     AND (c.conrelid = leaf.relid OR c.conrelid IN (SELECT relid FROM pg_partition_ancestors(leaf.relid)))
JOIN pg_class rc ON rc.oid = coalesce(pg_partition_root(c.confrelid), c.confrelid)
JOIN pg_namespace rn ON rn.oid = rc.relnamespace
ORDER BY 1, 5`, t.leaves)
	if err != nil {
		return fmt.Errorf("read foreign keys of %s: %w", t.name, err)
	}
	seen := map[string]bool{}
	for rows.Next() {
		var leaf uint32
		var cols, refCols []string
		var refTable, name string
		if err := rows.Scan(&leaf, &cols, &refTable, &refCols, &name); err != nil {
			return fmt.Errorf("read foreign keys of %s: %w", t.name, err)
		}
		key := fmt.Sprintf("%s|%s|%s", strings.Join(cols, ","), refTable, strings.Join(refCols, ","))
		if seen[key] {
			continue // the same reference cloned onto a partition
		}
		seen[key] = true
		ref, err := t.reference(name, cols, refTable, refCols)
		if err != nil {
			return err
		}
		t.refs = append(t.refs, ref)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read foreign keys of %s: %w", t.name, err)
	}
	return nil
}

func (t *table) reference(name string, cols []string, refTable string, refCols []string) (reference, error) {
	ref := reference{name: name, refTable: refTable, refColumns: refCols}
	if len(cols) == 0 || len(cols) != len(refCols) {
		return ref, fmt.Errorf("reference %s of %s: %d columns refer to %d", name, t.name, len(cols), len(refCols))
	}
	for _, c := range cols {
		i, ok := t.colIdx[c]
		if !ok {
			return ref, fmt.Errorf("reference %s: table %s has no column %q", name, t.name, c)
		}
		ref.cols = append(ref.cols, i)
	}
	return ref, nil
}

// readNaturalKey returns the columns that identify a row across databases: Options' choice;
// else a primary key without surrogate column; else the unique constraint or plain unique index
// (no predicate, no expression) with the fewest columns, none a surrogate, that cannot hold two
// equal keys (every column NOT NULL, or NULLS NOT DISTINCT); else none.
func readNaturalKey(ctx context.Context, q pgx.Tx, oid uint32, t *table, opts Options) ([]int, error) {
	if nk, ok := lookup(opts.NaturalKeys, t.name); ok {
		if len(nk) == 0 {
			return nil, nil
		}
		var idx []int
		for _, c := range nk {
			i, ok := t.colIdx[c]
			if !ok {
				return nil, fmt.Errorf("natural key of %s: no column %q", t.name, c)
			}
			idx = append(idx, i)
		}
		return idx, nil
	}
	rows, err := q.Query(ctx, `
SELECT i.indisprimary, i.indnullsnotdistinct,
       ARRAY(SELECT a.attname::text FROM unnest(i.indkey) WITH ORDINALITY k(n, o)
             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.n
             WHERE k.o <= i.indnkeyatts ORDER BY k.o)
FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
WHERE i.indrelid = $1 AND i.indisunique AND i.indpred IS NULL AND i.indexprs IS NULL
ORDER BY NOT i.indisprimary, i.indnatts, ic.relname`, oid)
	if err != nil {
		return nil, fmt.Errorf("read unique keys of %s: %w", t.name, err)
	}
	defer rows.Close()
	for rows.Next() {
		var primary, nnd bool
		var cols []string
		if err := rows.Scan(&primary, &nnd, &cols); err != nil {
			return nil, fmt.Errorf("read unique keys of %s: %w", t.name, err)
		}
		idx, ok := make([]int, 0, len(cols)), true
		for _, c := range cols {
			i, found := t.colIdx[c]
			if !found || t.cols[i].surrogate || (!nnd && !t.cols[i].notNull) {
				ok = false
				break
			}
			idx = append(idx, i)
		}
		if ok && len(idx) > 0 {
			return idx, nil
		}
	}
	return nil, rows.Err()
}

// addReferences adds the undeclared references of Options to their tables.
func addReferences(tables map[string]*table, refs []Reference) error {
	for _, r := range refs {
		t, ok := tables[qualify(r.Table)]
		if !ok {
			return fmt.Errorf("reference %s: no table %s", r, r.Table)
		}
		if _, ok := tables[qualify(r.RefTable)]; !ok {
			return fmt.Errorf("reference %s: no table %s", r, r.RefTable)
		}
		ref, err := t.reference(r.String(), r.Columns, qualify(r.RefTable), r.RefColumns)
		if err != nil {
			return err
		}
		t.refs = append(t.refs, ref)
	}
	return nil
}

// readRows reads every row of every leaf of t, each value in its text form.
func readRows(ctx context.Context, q pgx.Tx, t *table) error {
	exprs := make([]string, len(t.cols))
	for i, c := range t.cols {
		exprs[i] = pgx.Identifier{c.name}.Sanitize() + "::text"
	}
	for _, leaf := range t.leaves {
		var leafName string
		if err := q.QueryRow(ctx, `SELECT $1::oid::regclass::text`, leaf).Scan(&leafName); err != nil {
			return fmt.Errorf("read rows of %s: %w", t.name, err)
		}
		rows, err := q.Query(ctx, fmt.Sprintf("SELECT %s FROM ONLY %s", strings.Join(exprs, ", "), leafName))
		if err != nil {
			return fmt.Errorf("read rows of %s (%s): %w", t.name, leafName, err)
		}
		for rows.Next() {
			r := &row{leaf: leaf, vals: make([]*string, len(t.cols))}
			dest := make([]any, len(t.cols))
			for i := range dest {
				dest[i] = &r.vals[i]
			}
			if err := rows.Scan(dest...); err != nil {
				return fmt.Errorf("read rows of %s (%s): %w", t.name, leafName, err)
			}
			t.rows = append(t.rows, r)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read rows of %s (%s): %w", t.name, leafName, err)
		}
	}
	return nil
}

// lookupRows returns the rows of t whose columns cols hold vals (every value non-NULL).
func (t *table) lookupRows(cols []string, vals []string) ([]*row, error) {
	key := strings.Join(cols, ",")
	idx, ok := t.index[key]
	if !ok {
		ci := make([]int, len(cols))
		for i, c := range cols {
			j, found := t.colIdx[c]
			if !found {
				return nil, fmt.Errorf("table %s has no column %q", t.name, c)
			}
			ci[i] = j
		}
		idx = map[string][]*row{}
		for _, r := range t.rows {
			parts := make([]string, len(ci))
			complete := true
			for i, j := range ci {
				if r.vals[j] == nil {
					complete = false
					break
				}
				parts[i] = *r.vals[j]
			}
			if complete {
				k := strings.Join(quoteAll(parts), ",")
				idx[k] = append(idx[k], r)
			}
		}
		if t.index == nil {
			t.index = map[string]map[string][]*row{}
		}
		t.index[key] = idx
	}
	return idx[strings.Join(quoteAll(vals), ",")], nil
}

func quoteAll(vals []string) []string {
	out := make([]string, len(vals))
	for i, v := range vals {
		out[i] = fmt.Sprintf("%q", v)
	}
	return out
}

// lookup finds a table's entry in m by qualified or bare (public) name.
func lookup[V any](m map[string]V, qname string) (V, bool) {
	for k, v := range m {
		if qualify(k) == qname {
			return v, true
		}
	}
	var zero V
	return zero, false
}

// qualify returns name with schema public when it has none.
func qualify(name string) string {
	if strings.Contains(name, ".") {
		return name
	}
	return "public." + name
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
