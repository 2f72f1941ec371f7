// Package introspect reads a database's structure from pg_catalog into a schema.Schema: tables,
// columns and their types, primary keys, foreign keys, unique constraints and unique indexes
// (partial ones and NULLS NOT DISTINCT included) and the sequences behind serial and identity columns.
package introspect

import (
	"context"
	"fmt"
	"sort"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/edmsdr/edmsdr/engine/schema"
)

// Querier runs a query: *pgx.Conn and pgx.Tx both are one.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Options narrows what is read.
type Options struct {
	// Schemas limits the tables to these schemas; empty means every schema but the system ones.
	Schemas []string
	// Exclude lists qualified table names ("public.django_session") left out.
	Exclude []string
	// UsableOnly leaves out the schemas the connected role lacks USAGE on (a restore: it can
	// write nowhere else, and reading their columns would fail with "permission denied"). A
	// backup never sets it: a schema it cannot read must fail it, not be skipped.
	UsableOnly bool
}

// ServerVersion returns server_version_num (150004 for 15.4).
func ServerVersion(ctx context.Context, q Querier) (int, error) {
	var s string
	if err := q.QueryRow(ctx, "SHOW server_version_num").Scan(&s); err != nil {
		return 0, fmt.Errorf("read server version: %w", err)
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("read server version: unexpected %q", s)
	}
	return v, nil
}

type colInfo struct {
	table  *schema.Table
	byNum  map[int16]string
	tblOID uint32
}

// Read introspects the database q is connected to.
func Read(ctx context.Context, q Querier, opts Options) (*schema.Schema, error) {
	version, err := ServerVersion(ctx, q)
	if err != nil {
		return nil, err
	}
	excluded := map[string]bool{}
	for _, e := range opts.Exclude {
		excluded[e] = true
	}
	rows, err := q.Query(ctx, `
SELECT c.oid, n.nspname, c.relname, c.relkind = 'p'
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp\_%'
  AND (coalesce(cardinality($1::text[]), 0) = 0 OR n.nspname = ANY($1::text[]))
  AND (NOT $2 OR has_schema_privilege(n.oid, 'USAGE'))
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
ORDER BY n.nspname, c.relname`, opts.Schemas, opts.UsableOnly)
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	byOID := map[uint32]*colInfo{}
	var oids []uint32
	var tables []*schema.Table
	for rows.Next() {
		var oid uint32
		var ns, name string
		var partitioned bool
		if err := rows.Scan(&oid, &ns, &name, &partitioned); err != nil {
			rows.Close()
			return nil, fmt.Errorf("list tables: %w", err)
		}
		t := &schema.Table{Schema: ns, Name: name, Partitioned: partitioned}
		if excluded[t.QName()] {
			continue
		}
		byOID[oid] = &colInfo{table: t, byNum: map[int16]string{}, tblOID: oid}
		oids = append(oids, oid)
		tables = append(tables, t)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	if err := readColumns(ctx, q, oids, byOID); err != nil {
		return nil, err
	}
	parts, err := readPartitions(ctx, q, oids, byOID)
	if err != nil {
		return nil, err
	}
	if err := readConstraints(ctx, q, oids, byOID, parts); err != nil {
		return nil, err
	}
	if err := readUniques(ctx, q, oids, byOID, version); err != nil {
		return nil, err
	}
	return schema.New(tables), nil
}

func readColumns(ctx context.Context, q Querier, oids []uint32, byOID map[uint32]*colInfo) error {
	rows, err := q.Query(ctx, `
SELECT a.attrelid, a.attnum, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
       a.atthasdef, a.attidentity::text, a.attgenerated::text,
       coalesce(pg_get_serial_sequence(format('%I.%I', n.nspname, c.relname), a.attname),
                substring(pg_get_expr(d.adbin, d.adrelid) from '^nextval\(''(.*)''::regclass\)$'), '')
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE a.attrelid = ANY($1::oid[]) AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attrelid, a.attnum`, oids)
	if err != nil {
		return fmt.Errorf("read columns: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			oid                 uint32
			num                 int16
			name, typ, idn, gen string
			notNull, hasDef     bool
			seq                 string
		)
		if err := rows.Scan(&oid, &num, &name, &typ, &notNull, &hasDef, &idn, &gen, &seq); err != nil {
			return fmt.Errorf("read columns: %w", err)
		}
		ci := byOID[oid]
		if ci == nil {
			continue
		}
		ci.byNum[num] = name
		ci.table.Columns = append(ci.table.Columns, schema.Column{
			Name: name, Type: typ, NotNull: notNull, HasDefault: hasDef || idn != "",
			Identity: idn, Generated: gen != "", Sequence: seq,
		})
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read columns: %w", err)
	}
	return nil
}

func names(ci *colInfo, nums []int16) ([]string, bool) {
	out := make([]string, 0, len(nums))
	for _, n := range nums {
		name, ok := ci.byNum[n]
		if !ok {
			return nil, false
		}
		out = append(out, name)
	}
	return out, true
}

// partition is one partition of an introspected partitioned table: its own column numbers (a
// partition attached after the fact may number its columns differently) and its root's table.
type partition struct {
	root  *colInfo
	byNum map[int16]string
}

// readPartitions finds every partition (at any depth) of the partitioned tables among oids, so
// that what is declared on a partition alone (a foreign key added to one partition, say) counts
// for the one logical table its root is.
func readPartitions(ctx context.Context, q Querier, oids []uint32, byOID map[uint32]*colInfo) (map[uint32]*partition, error) {
	parts := map[uint32]*partition{}
	var roots []uint32
	for _, oid := range oids {
		if byOID[oid].table.Partitioned {
			roots = append(roots, oid)
		}
	}
	if len(roots) == 0 {
		return parts, nil
	}
	rows, err := q.Query(ctx, `
SELECT t.root, a.attrelid, a.attnum, a.attname
FROM (SELECT r.root, p.relid FROM unnest($1::oid[]) AS r(root), pg_partition_tree(r.root) p WHERE p.relid <> r.root) t
JOIN pg_attribute a ON a.attrelid = t.relid AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY 1, 2, 3`, roots)
	if err != nil {
		return nil, fmt.Errorf("read partitions: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var root, rel uint32
		var num int16
		var name string
		if err := rows.Scan(&root, &rel, &num, &name); err != nil {
			return nil, fmt.Errorf("read partitions: %w", err)
		}
		p := parts[rel]
		if p == nil {
			p = &partition{root: byOID[root], byNum: map[int16]string{}}
			parts[rel] = p
		}
		p.byNum[num] = name
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read partitions: %w", err)
	}
	return parts, nil
}

func readConstraints(ctx context.Context, q Querier, oids []uint32, byOID map[uint32]*colInfo, parts map[uint32]*partition) error {
	rels := append([]uint32{}, oids...)
	for oid := range parts {
		rels = append(rels, oid)
	}
	// conparentid <> 0 marks a constraint a partition inherited from its parent's (or one of the
	// copies PostgreSQL makes for each partition of a referenced partitioned table): the parent's
	// own declaration stands for it.
	rows, err := q.Query(ctx, `
SELECT con.conrelid, con.conname, con.contype::text, con.conkey, con.confrelid,
       coalesce(con.confkey, '{}'), con.condeferrable, con.condeferred,
       coalesce(rn.nspname, ''), coalesce(rc.relname, '')
FROM pg_constraint con
LEFT JOIN pg_class rc ON rc.oid = con.confrelid
LEFT JOIN pg_namespace rn ON rn.oid = rc.relnamespace
WHERE con.conrelid = ANY($1::oid[]) AND con.contype IN ('p', 'f') AND con.conparentid = 0
ORDER BY con.conrelid, con.contype, con.conname`, rels)
	if err != nil {
		return fmt.Errorf("read constraints: %w", err)
	}
	defer rows.Close()
	type pendingFK struct {
		ci      *colInfo
		fk      schema.ForeignKey
		refOID  uint32
		refNums []int16
	}
	var pending []pendingFK
	for rows.Next() {
		var (
			oid, refOID        uint32
			name, typ          string
			key, refKey        []int16
			deferrable, defer_ bool
			refNS, refName     string
		)
		if err := rows.Scan(&oid, &name, &typ, &key, &refOID, &refKey, &deferrable, &defer_, &refNS, &refName); err != nil {
			return fmt.Errorf("read constraints: %w", err)
		}
		ci := byOID[oid]
		if p := parts[oid]; p != nil {
			// Declared on a partition: a foreign key counts for the logical table (a primary key
			// of a partition alone identifies nothing across the table).
			if typ != "f" {
				continue
			}
			cols, ok := names(&colInfo{byNum: p.byNum}, key)
			if !ok {
				return fmt.Errorf("read constraints: partition of %s: constraint %s names an unknown column", p.root.table.Display(), name)
			}
			pending = append(pending, pendingFK{ci: p.root, refOID: refOID, refNums: refKey, fk: schema.ForeignKey{
				Name: name, Columns: cols, RefSchema: refNS, RefTable: refName,
				Deferrable: deferrable, InitiallyDeferred: defer_, Partition: true,
			}})
			continue
		}
		if ci == nil {
			continue
		}
		cols, ok := names(ci, key)
		if !ok {
			return fmt.Errorf("read constraints: %s: constraint %s names an unknown column", ci.table.Display(), name)
		}
		switch typ {
		case "p":
			ci.table.PrimaryKey = cols
		case "f":
			pending = append(pending, pendingFK{ci: ci, refOID: refOID, refNums: refKey, fk: schema.ForeignKey{
				Name: name, Columns: cols, RefSchema: refNS, RefTable: refName,
				Deferrable: deferrable, InitiallyDeferred: defer_,
			}})
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read constraints: %w", err)
	}
	rows.Close()
	// The table's own declaration first: it names a reference also declared on a partition.
	sort.SliceStable(pending, func(i, j int) bool { return !pending[i].fk.Partition && pending[j].fk.Partition })
	seen := map[string]bool{}
	for _, p := range pending {
		ref := byOID[p.refOID]
		var refPart map[int16]string
		if rp := parts[p.refOID]; rp != nil {
			// A reference to one partition of a table refers to rows of the logical table.
			ref, refPart = rp.root, rp.byNum
			p.fk.RefSchema, p.fk.RefTable = rp.root.table.Schema, rp.root.table.Name
		}
		switch {
		case refPart != nil:
			cols, ok := names(&colInfo{byNum: refPart}, p.refNums)
			if !ok {
				return fmt.Errorf("read foreign key %s of %s: unknown referenced column", p.fk.Name, p.ci.table.Display())
			}
			p.fk.RefColumns = cols
		case ref == nil:
			// A reference to a table outside the introspected set: resolve column names directly.
			var err error
			p.fk.RefColumns, err = attNames(ctx, q, p.refOID, p.refNums)
			if err != nil {
				return fmt.Errorf("read foreign key %s of %s: %w", p.fk.Name, p.ci.table.Display(), err)
			}
		default:
			cols, ok := names(ref, p.refNums)
			if !ok {
				return fmt.Errorf("read foreign key %s of %s: unknown referenced column", p.fk.Name, p.ci.table.Display())
			}
			p.fk.RefColumns = cols
		}
		// The same reference declared on several partitions (or on the table and a partition)
		// is one reference of the logical table.
		sig := fmt.Sprintf("%s|%q|%s|%q", p.ci.table.QName(), p.fk.Columns, p.fk.RefQName(), p.fk.RefColumns)
		if seen[sig] {
			continue
		}
		seen[sig] = true
		p.ci.table.ForeignKeys = append(p.ci.table.ForeignKeys, p.fk)
	}
	return nil
}

func attNames(ctx context.Context, q Querier, rel uint32, nums []int16) ([]string, error) {
	out := make([]string, 0, len(nums))
	for _, n := range nums {
		var name string
		if err := q.QueryRow(ctx, `SELECT attname FROM pg_attribute WHERE attrelid = $1 AND attnum = $2`, rel, n).Scan(&name); err != nil {
			return nil, err
		}
		out = append(out, name)
	}
	return out, nil
}

func readUniques(ctx context.Context, q Querier, oids []uint32, byOID map[uint32]*colInfo, version int) error {
	nnd := "false"
	if version >= 150000 {
		nnd = "i.indnullsnotdistinct"
	}
	rows, err := q.Query(ctx, `
SELECT i.indrelid, coalesce(con.conname, ic.relname), (con.conname IS NOT NULL), i.indisprimary,
       (i.indkey::int2[])[0:i.indnkeyatts - 1], i.indexprs IS NOT NULL,
       coalesce(pg_get_expr(i.indpred, i.indrelid), ''), `+nnd+`
FROM pg_index i
JOIN pg_class ic ON ic.oid = i.indexrelid
LEFT JOIN pg_constraint con ON con.conindid = i.indexrelid AND con.conrelid = i.indrelid AND con.contype IN ('u', 'p')
WHERE i.indrelid = ANY($1::oid[]) AND i.indisunique AND i.indisvalid
ORDER BY i.indrelid, 2`, oids)
	if err != nil {
		return fmt.Errorf("read unique indexes: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			oid                    uint32
			name, pred             string
			isCon, isPrimary, expr bool
			key                    []int16
			nullsNotDistinct       bool
		)
		if err := rows.Scan(&oid, &name, &isCon, &isPrimary, &key, &expr, &pred, &nullsNotDistinct); err != nil {
			return fmt.Errorf("read unique indexes: %w", err)
		}
		ci := byOID[oid]
		if ci == nil || expr {
			continue // expression indexes cannot serve as natural keys
		}
		cols, ok := names(ci, key)
		if !ok {
			continue
		}
		ci.table.Uniques = append(ci.table.Uniques, schema.Unique{
			Name: name, Columns: cols, Constraint: isCon, Predicate: pred,
			NullsNotDistinct: nullsNotDistinct, Primary: isPrimary,
		})
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read unique indexes: %w", err)
	}
	for _, ci := range byOID {
		sort.SliceStable(ci.table.Uniques, func(i, j int) bool { return ci.table.Uniques[i].Name < ci.table.Uniques[j].Name })
	}
	return nil
}
