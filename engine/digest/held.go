package digest

import (
	"context"
	"fmt"
	"sort"

	"github.com/jackc/pgx/v5/pgconn"
)

// Generic foreign keys resolved by the client (backup). The SQL digest joins a generic foreign
// key's rows to one identity table per content type; the server then probes every one of those
// hash tables with every row, and past work_mem (the document versions' identities at 1M
// documents) it spills the whole row stream to disk once per join: the audit trail cost 30 times
// its bytes' worth at 1M documents. A streaming digest (StreamTable) can instead read the
// identities of the content types once, hold them in the client, and resolve each row's
// (content type, object id) itself as the row streams past, rendering exactly what the SQL
// expression renders:
//
//	coalesce((CASE ct WHEN k THEN <identity of obj in k's table> ... END)::text, '?' || obj::text)
//
// that is: nothing (NULL) when the object id is NULL; the identity's text when the content type
// is one of the joined ones and its table has a row with that id; otherwise '?' and the object
// id. Only where the client's arithmetic equals the server's: integer content type and object id
// columns (an integer's COPY text is its ::text), the per-content-type joins (not the one table
// past maxGenericJoins), and identities within a memory budget; every content type whose
// identities do not fit stays joined on the server, as before. A plain reference to a table with
// many rows (the workflows a million documents' transitions point at) is resolved the same way:
// coalesce(<identity of the id>::text, '?' || id::text).

// HoldGenericIdentities lets StreamTable resolve generic foreign keys in the client, holding at
// most limit bytes of identities: those read over pc (the connection of the session's
// transaction) for one table's stream, and those harvested from the streams of earlier tables
// (HarvestIdentities) and kept for the tables to come. Content types beyond the budget are joined
// on the server. The same digest either way.
//
// Plain references are resolved by the client only where their target's identities are many
// (plainAbove): where the server's hash table of them would come near its hash memory and spill
// the rows to disk. Below, the server's join is cheap, and keeping it keeps the plan, and with it
// the order of the rows in the package, as it was.
func (d *Session) HoldGenericIdentities(pc *pgconn.PgConn, limit int64) {
	d.hold = &holdState{pc: pc, limit: limit, plainAbove: -1, counts: map[string]identityCount{}}
}

// hashRowBytes is about what one identity (bigint, uuid) takes in a server hash table (tuple,
// its header, the bucket pointer).
const hashRowBytes = 64

// plainHoldAbove is the number of identities above which a plain reference is resolved by the
// client: half of what the server's hash memory (work_mem × hash_mem_multiplier) holds.
func (d *Session) plainHoldAbove(ctx context.Context) (int64, error) {
	if d.hold.plainAbove < 0 {
		var mem float64
		if err := d.q.QueryRow(ctx, "SELECT pg_size_bytes(current_setting('work_mem')) * current_setting('hash_mem_multiplier')::float8").Scan(&mem); err != nil {
			return 0, fmt.Errorf("digest: read the server's hash memory: %w", err)
		}
		d.hold.plainAbove = int64(mem / hashRowBytes / 2)
	}
	return d.hold.plainAbove, nil
}

// holdState is the budget of HoldGenericIdentities and, while one table's expressions are
// rendered (streamTable), the generic foreign key columns resolved by the client.
type holdState struct {
	pc    *pgconn.PgConn
	limit int64
	// plainAbove: see plainHoldAbove; -1 until read.
	plainAbove int64
	// counts are the identity tables' counts, read once (they do not change once built).
	counts map[string]identityCount
	// active is set while streamTable renders a table's expressions; cols then collects, by
	// position among the table's content columns, the columns the client resolves, and used the
	// bytes of identities they hold.
	active bool
	cols   map[int]*heldColumn
	used   int64
	// plan, harvested and live: identities harvested from the stream (harvest.go), the sets
	// complete and still needed by a table to come, and the bytes they hold.
	plan      *harvestPlan
	harvested map[string]*IdentitySet
	live      int64
	onHarvest func(qname string, set *IdentitySet) // tests: each set as it is complete
}

// free is what the budget has left: harvested sets kept for tables to come, and the identities
// read for the table being streamed, count against it.
func (hs *holdState) free() int64 { return hs.limit - hs.used - hs.live }

// heldColumn is a reference resolved by the client. For a generic foreign key: the identities
// it holds by content type, and whether the server still renders the content types left to it
// (the column's expression is then their CASE, NULL for every other row). For a plain reference
// (ctCol ""): its target's identities, at content type 0.
type heldColumn struct {
	ctCol, objCol string
	sets          map[int64]*IdentitySet
	server        bool
}

// holdTypes reads the identities of the content types whose tables' identities fit the
// remaining budget, the largest first (they are the ones whose hash tables outgrow work_mem on the
// server), and returns the content types left to the server, in their order.
func (d *Session) holdTypes(ctx context.Context, col *heldColumn, types []genericType) ([]genericType, error) {
	counts := make([]identityCount, len(types))
	for k, gt := range types {
		c, err := d.holdCount(ctx, gt.ident, fmt.Sprintf("content type %d", gt.ct))
		if err != nil {
			return nil, err
		}
		counts[k] = c
	}
	bySize := make([]int, len(types))
	for k := range bySize {
		bySize[k] = k
	}
	sort.SliceStable(bySize, func(a, b int) bool { return counts[bySize[a]].size() > counts[bySize[b]].size() })
	held := make([]bool, len(types))
	for _, k := range bySize {
		gt := types[k]
		if counts[k].size() > d.hold.free() {
			continue
		}
		set, err := d.readIdentities(ctx, d.hold.pc, gt.ident, fmt.Sprintf("content type %d", gt.ct), counts[k], d.hold.free())
		if err != nil {
			return nil, err
		}
		d.hold.used += set.Bytes()
		col.sets[gt.ct] = set
		held[k] = true
	}
	var rest []genericType
	for k, gt := range types {
		if !held[k] {
			rest = append(rest, gt)
		}
	}
	return rest, nil
}

// holdIdentities reads the identities of identity table name (of table qname), the target of a
// plain reference, when they are many enough (plainHoldAbove) and fit the remaining budget; nil
// when not.
func (d *Session) holdIdentities(ctx context.Context, name, qname string) (*IdentitySet, error) {
	above, err := d.plainHoldAbove(ctx)
	if err != nil {
		return nil, err
	}
	c, err := d.holdCount(ctx, name, qname)
	if err != nil || c.n <= above || c.size() > d.hold.free() {
		return nil, err
	}
	set, err := d.readIdentities(ctx, d.hold.pc, name, qname, c, d.hold.free())
	if err != nil {
		return nil, err
	}
	d.hold.used += set.Bytes()
	return set, nil
}

// holdCount is countIdentities, once per identity table.
func (d *Session) holdCount(ctx context.Context, name, qname string) (identityCount, error) {
	if c, ok := d.hold.counts[name]; ok {
		return c, nil
	}
	c, err := d.countIdentities(ctx, name, qname)
	if err == nil {
		d.hold.counts[name] = c
	}
	return c, err
}

// heldField is a reference the Hasher renders itself: the positions of the row's content type
// (-1: a plain reference, its target's identities at content type 0) and object id fields, and
// of the server's rendering for the content types left to it (-1: none).
type heldField struct {
	ct, obj, server int
	sets            map[int64]*IdentitySet
}

// renderHeld renders a held generic foreign key as the SQL expression would (see above).
func (h *Hasher) renderHeld(g *heldField) error {
	if g.server >= 0 {
		if f := h.fields[g.server]; !isNull(f) {
			h.renderField(f)
			return nil
		}
	}
	obj := h.fields[g.obj]
	if isNull(obj) {
		return nil
	}
	id, ok := printedInt(obj)
	if !ok {
		return fmt.Errorf("digest: object id %q is not an integer's COPY text", obj)
	}
	if g.ct < 0 {
		// A plain reference: coalesce(<identity of obj>::text, '?' || obj::text).
		if ident, found := g.sets[0].Lookup(id); found {
			h.emit(uuidText(h.uuid[:0], ident))
			return nil
		}
	} else if ctf := h.fields[g.ct]; !isNull(ctf) {
		ct, ok := printedInt(ctf)
		if !ok {
			return fmt.Errorf("digest: content type %q is not an integer's COPY text", ctf)
		}
		if set := g.sets[ct]; set != nil {
			if ident, found := set.Lookup(id); found {
				h.emit(uuidText(h.uuid[:0], ident))
				return nil
			}
		}
	}
	// '?' || obj::text: an integer's text needs no quoting in a record.
	h.emitByte('?')
	h.emit(obj)
	return nil
}

// printedInt parses an integer column's COPY text as the server prints it: an optional '-' and decimal digits (int8out,
// int4out and int2out print nothing else), refusing anything else rather than guessing.
func printedInt(f []byte) (int64, bool) {
	neg := len(f) > 0 && f[0] == '-'
	if neg {
		f = f[1:]
	}
	if len(f) == 0 || len(f) > 19 {
		return 0, false
	}
	var v uint64
	for _, c := range f {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
	}
	switch {
	case neg && v <= 1<<63:
		return int64(-v), true // -(1<<63) wraps to itself: math.MinInt64
	case !neg && v < 1<<63:
		return int64(v), true
	}
	return 0, false
}

// uuidText appends the text form of a uuid (uuid_out: lower-case hex, 8-4-4-4-12).
func uuidText(b []byte, u [16]byte) []byte {
	const digits = "0123456789abcdef"
	for i, c := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b = append(b, '-')
		}
		b = append(b, digits[c>>4], digits[c&15])
	}
	return b
}
