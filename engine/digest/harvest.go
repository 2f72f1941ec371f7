package digest

import (
	"context"
	"crypto/md5"
	"fmt"
	"hash"
	"sort"

	"github.com/edmsdr/edmsdr/engine/pgquote"
	"github.com/edmsdr/edmsdr/engine/schema"
)

// Identities harvested from the stream (backup). The identity of a row is md5 of the record text
// of some of the very fields its row hash renders (ident): its natural key's fields in the key's
// order, or, for a keyless row, its content columns but generic object ids and references inside
// its own cycle. A Hasher that streams table T can therefore compute every row's identity as the
// row passes (the same rendering of the same fields, another md5) and keep them by id, in an
// IdentitySet, for the tables streamed after T that reference it: their references to T are then
// resolved by the client (held.go) and the server builds no identity table of T (a scan of T, an
// md5 of every row, an INSERT, an ANALYZE) and joins none. Only where that is provably the
// identity SQL computes:
//
//   - T has an integer surrogate id among the streamed columns (the identity table's id);
//   - T is no tree (its natural key holds no reference to itself: such identities need their
//     parent's first) and its natural key holds no generic foreign key;
//   - the stream is StreamTable's (not StreamTableLarge's, whose large values are hashed apart);
//   - the same session streams T and the tables that use its identities, in one snapshot, each
//     table's own rows (ScanJoins, no Source), under StreamCheck's conditions;
//   - no id is seen twice (a reference would hash as whichever identity came last): the set is
//     then dropped, and T's identities built by the server as before, as they are past the
//     memory budget.
//
// Harvested sets share HoldGenericIdentities's budget with the identities read from the server,
// and are let go once the last table that uses them has streamed.

// harvestPlan says which tables' identities are harvested, and which tables use them.
type harvestPlan struct {
	users   map[string]int      // harvested table -> users not yet streamed
	usedBy  map[string][]string // user -> the harvested tables it uses
	planned map[string]bool
}

// HarvestIdentities makes StreamTable harvest the identities of the tables of order (the order
// they will be streamed in) that a later table of order references by integer columns (a plain
// reference, or a generic foreign key one of whose content types names the table), where
// possible (see above). Tables in skip are neither harvested nor counted as users: they are
// streamed otherwise (by another session, or with StreamTableLarge). HoldGenericIdentities must be
// called first: harvested identities count against its budget.
func (d *Session) HarvestIdentities(ctx context.Context, order []*schema.Table, skip map[string]bool) error {
	if d.hold == nil {
		return fmt.Errorf("digest: harvesting identities needs HoldGenericIdentities first")
	}
	if !d.scan || d.source != nil {
		return fmt.Errorf("digest: identities are harvested only by a session reading each table's own rows (ScanJoins)")
	}
	p := &harvestPlan{users: map[string]int{}, usedBy: map[string][]string{}, planned: map[string]bool{}}
	pos := map[string]int{}
	for i, t := range order {
		pos[t.QName()] = i
	}
	for i, u := range order {
		if skip[u.QName()] {
			continue
		}
		refs, err := d.heldRefs(ctx, u)
		if err != nil {
			return err
		}
		for _, q := range refs {
			j, ok := pos[q]
			if !ok || j >= i || skip[q] {
				continue
			}
			if why := d.harvestable(d.s.Table(q)); why != "" {
				continue
			}
			p.planned[q] = true
			p.users[q]++
			p.usedBy[u.QName()] = append(p.usedBy[u.QName()], q)
		}
	}
	d.hold.plan = p
	d.hold.harvested = map[string]*IdentitySet{}
	return nil
}

// Harvested reports the tables whose identities are harvested (planned by HarvestIdentities).
func (d *Session) Harvested() []string {
	if d.hold == nil || d.hold.plan == nil {
		return nil
	}
	var out []string
	for q := range d.hold.plan.planned {
		out = append(out, q)
	}
	sort.Strings(out)
	return out
}

// heldRefs are the tables whose identities the client may resolve for table u's rows: the
// targets of its plain references held in integer columns, and the tables the content types of
// its generic foreign keys name when both their columns are integers. Each once, u itself never.
func (d *Session) heldRefs(ctx context.Context, u *schema.Table) ([]string, error) {
	seen := map[string]bool{u.QName(): true}
	var out []string
	add := func(q string) {
		if q != "" && !seen[q] {
			seen[q] = true
			out = append(out, q)
		}
	}
	for _, c := range d.contentColumns(u) {
		col := u.Column(c)
		if col == nil || !schema.IsInteger(col.Type) {
			continue
		}
		if g := d.gfkFor(u, c); g != nil {
			ctCol := u.Column(g.ContentTypeColumn)
			ct := d.plan.ContentTypes
			if ctCol == nil || !schema.IsInteger(ctCol.Type) || ct == nil || d.s.Table(ct.Table) == nil || d.s.Table(ct.Table).SurrogateID() == "" {
				continue
			}
			types, err := d.usedTypes(ctx, u, g)
			if err != nil {
				return nil, err
			}
			for _, r := range types {
				add(ct.TableForContentType(d.s, r.AppLabel, r.Model))
			}
			continue
		}
		add(d.domains.Of(u.QName(), c))
	}
	return out, nil
}

// IdentityRefs are the tables whose identities the digest of table qname's rows uses (through
// plain references or the content types its generic foreign keys use), itself excluded: a
// backup streams them first where foreign keys allow (StreamOrder).
func (d *Session) IdentityRefs(ctx context.Context, qname string) ([]string, error) {
	t, err := d.table(qname)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{qname: true}
	var out []string
	for _, c := range d.contentColumns(t) {
		if g := d.gfkFor(t, c); g != nil {
			ct := d.plan.ContentTypes
			if ct == nil || d.s.Table(ct.Table) == nil || d.s.Table(ct.Table).SurrogateID() == "" {
				continue
			}
			types, err := d.usedTypes(ctx, t, g)
			if err != nil {
				return nil, err
			}
			for _, r := range types {
				if q := ct.TableForContentType(d.s, r.AppLabel, r.Model); q != "" && !seen[q] {
					seen[q] = true
					out = append(out, q)
				}
			}
			continue
		}
		if q := d.domains.Of(qname, c); q != "" && !seen[q] {
			seen[q] = true
			out = append(out, q)
		}
	}
	sort.Strings(out)
	return out, nil
}

// harvestable says why table t's identities cannot be harvested from its stream ("" when they
// can).
func (d *Session) harvestable(t *schema.Table) string {
	_, _, why := d.harvestFields(t, t.DataColumns())
	return why
}

// harvestFields returns, for table t streamed with columns cols, the position of its surrogate
// id among cols and the positions among its content columns (contentColumns, the Hasher's order)
// of the fields of its identity, in the identity's order (ident); or why there are none.
func (d *Session) harvestFields(t *schema.Table, cols []string) (int, []int, string) {
	q := t.QName()
	sid := t.SurrogateID()
	if sid == "" {
		return 0, nil, "no integer surrogate id"
	}
	idPos := -1
	for i, c := range cols {
		if c == sid {
			idPos = i
		}
	}
	if idPos < 0 {
		return 0, nil, "its id is not streamed"
	}
	content := d.contentColumns(t)
	at := make(map[string]int, len(content))
	for k, c := range content {
		at[c] = k
	}
	fields := []int{}
	if nk := d.plan.NaturalKey(q); len(nk) > 0 {
		for _, c := range nk {
			if d.domains.Of(q, c) == q {
				return 0, nil, "a tree (its natural key refers to itself)"
			}
			if d.gfkFor(t, c) != nil {
				return 0, nil, "its natural key holds a generic foreign key"
			}
			k, ok := at[c]
			if !ok {
				return 0, nil, fmt.Sprintf("natural key column %s is not streamed", c)
			}
			fields = append(fields, k)
		}
		return idPos, fields, ""
	}
	for k, c := range content {
		if d.gfkFor(t, c) != nil {
			continue
		}
		if dom := d.domains.Of(q, c); dom != "" && d.graph.SameComponent(dom, q) {
			continue
		}
		fields = append(fields, k)
	}
	return idPos, fields, ""
}

// startHarvest, called by streamTable once the table's expressions are rendered, makes h
// harvest the identities of table t when they are planned and fit the budget.
func (d *Session) startHarvest(ctx context.Context, t *schema.Table, cols []string, h *Hasher) error {
	hs := d.hold
	if hs == nil || hs.plan == nil || !hs.plan.planned[t.QName()] {
		return nil
	}
	idPos, fields, why := d.harvestFields(t, cols)
	if why != "" {
		return nil
	}
	var lo, hi *int64
	sid := pgquote.Ident(t.SurrogateID())
	if err := d.q.QueryRow(ctx, fmt.Sprintf("SELECT min(%s)::bigint, max(%s)::bigint FROM %s", sid, sid, pgquote.Table(t.QName()))).Scan(&lo, &hi); err != nil {
		return fmt.Errorf("digest %s: range of ids: %w", t.Display(), err)
	}
	avail := hs.limit - hs.used - hs.live
	order := make([]int, len(fields))
	for k, i := range fields {
		order[k] = h.order[i]
	}
	hv := &harvester{idPos: idPos, order: order, md: md5.New(), set: &IdentitySet{}, limit: avail}
	if lo != nil && hi != nil && *hi >= *lo {
		if span := uint64(*hi) - uint64(*lo); span < maxDenseSpan {
			n := int64(span) + 1
			if bytes := n*16 + (n+63)/64*8; bytes <= avail {
				hv.dense, hv.lo, hv.hi = true, *lo, *hi
				hv.set.min = *lo
				hv.set.hs, hv.set.present = make([][16]byte, n), make([]uint64, (n+63)/64)
			}
		}
	}
	hv.done = func(set *IdentitySet) {
		hs.harvested[t.QName()] = set
		hs.live += set.capBytes()
		if hs.onHarvest != nil {
			hs.onHarvest(t.QName(), set)
		}
	}
	h.harvest = hv
	return nil
}

// releaseHarvested, called by streamTable before a table's expressions are rendered: the sets whose
// users have all streamed are let go.
func (d *Session) releaseHarvested() {
	hs := d.hold
	if hs == nil || hs.plan == nil {
		return
	}
	for q, set := range hs.harvested {
		if hs.plan.users[q] <= 0 {
			hs.live -= set.capBytes()
			delete(hs.harvested, q)
		}
	}
}

// usingHarvested counts table qname as streamed for the sets it uses.
func (d *Session) usingHarvested(qname string) {
	hs := d.hold
	if hs == nil || hs.plan == nil {
		return
	}
	for _, q := range hs.plan.usedBy[qname] {
		hs.plan.users[q]--
	}
}

// harvester computes the identities of a table's rows as its Hasher renders them.
type harvester struct {
	idPos  int   // the surrogate id's field
	order  []int // the identity's fields, as entries of the Hasher's order (renderRecord)
	md     hash.Hash
	sum    [md5.Size]byte
	set    *IdentitySet
	dense  bool
	lo, hi int64 // dense: the range of ids (the snapshot's min and max)
	limit  int64 // sparse: the most bytes the set may take
	failed string
	done   func(*IdentitySet)
}

// harvestRow computes the identity of the row h has just hashed (its fields still in h.fields)
// and keeps it. A row the harvest cannot take (an id that is no integer's text, twice, or out of
// range, or past the budget) ends the harvest, not the stream: the table's identities are then
// left to the server.
func (h *Hasher) harvestRow() error {
	hv := h.harvest
	id, ok := printedInt(h.fields[hv.idPos])
	if !ok {
		hv.fail(fmt.Sprintf("id %q is not an integer's COPY text", h.fields[hv.idPos]))
		return nil
	}
	saved := h.md
	h.md = hv.md
	h.md.Reset()
	h.out = h.out[:0]
	if err := h.renderRecord(hv.order); err != nil {
		h.md = saved
		return err
	}
	h.md.Write(h.out)
	h.out = h.out[:0]
	sum := h.md.Sum(hv.sum[:0])
	h.md = saved
	hv.add(id, [md5.Size]byte(sum))
	return nil
}

func (hv *harvester) fail(why string) {
	hv.failed = why
	hv.set = nil
}

// add keeps id's identity.
func (hv *harvester) add(id int64, sum [16]byte) {
	if hv.failed != "" {
		return
	}
	s := hv.set
	if hv.dense {
		if id < hv.lo || id > hv.hi {
			hv.fail(fmt.Sprintf("id %d outside %d to %d", id, hv.lo, hv.hi))
			return
		}
		off := uint64(id - hv.lo)
		if s.present[off/64]&(1<<(off%64)) != 0 {
			hv.fail(fmt.Sprintf("id %d twice", id))
			return
		}
		s.present[off/64] |= 1 << (off % 64)
		s.hs[off] = sum
		s.n++
		return
	}
	if len(s.ids) == cap(s.ids) {
		// While the set is copied into its new slices both live: together within the budget.
		c := max(1024, 2*cap(s.ids))
		if int64(cap(s.ids)+c)*24 > hv.limit {
			c = int(hv.limit/24) - cap(s.ids)
		}
		if c <= len(s.ids) {
			hv.fail("past the memory budget")
			return
		}
		ids, hs := make([]int64, len(s.ids), c), make([][16]byte, len(s.hs), c)
		copy(ids, s.ids)
		copy(hs, s.hs)
		s.ids, s.hs = ids, hs
	}
	s.ids, s.hs = append(s.ids, id), append(s.hs, sum)
	s.n++
}

// finish hands the set over, once the table's stream has ended whole.
func (hv *harvester) finish() {
	if hv.failed != "" {
		return
	}
	s := hv.set
	if !hv.dense {
		sort.Sort(byID{s.ids, s.hs})
		for i := 1; i < len(s.ids); i++ {
			if s.ids[i] == s.ids[i-1] {
				hv.fail(fmt.Sprintf("id %d twice", s.ids[i]))
				return
			}
		}
	}
	hv.done(s)
}

// StreamOrder returns the tables of the schema in the order a backup streams them so that the
// identities it harvests serve the tables after them: the foreign-key order between strongly
// connected components (every table after the tables it references, cycles apart), and besides,
// every table after the tables its generic foreign keys' content types name (IdentityRefs)
// where that makes no cycle between components; otherwise the foreign-key order (Graph.Order).
// Inside a cycle the tables go largest first (size, bytes): the first one's references into the
// cycle need identities the server builds, the later ones' are harvested.
func (d *Session) StreamOrder(ctx context.Context, size map[string]float64) ([]*schema.Table, error) {
	comps := d.graph.Components
	deps := make([]map[int]bool, len(comps))
	for ci, comp := range comps {
		deps[ci] = map[int]bool{}
		for _, t := range comp {
			for _, fk := range t.ForeignKeys {
				if cj := d.graph.Component(fk.RefQName()); cj >= 0 && cj != ci {
					deps[ci][cj] = true
				}
			}
		}
	}
	// reaches says whether component a depends on b, directly or not.
	reaches := func(a, b int) bool {
		seen := map[int]bool{a: true}
		stack := []int{a}
		for len(stack) > 0 {
			c := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if c == b {
				return true
			}
			for n := range deps[c] {
				if !seen[n] {
					seen[n] = true
					stack = append(stack, n)
				}
			}
		}
		return false
	}
	for ci, comp := range comps {
		for _, t := range comp {
			refs, err := d.IdentityRefs(ctx, t.QName())
			if err != nil {
				return nil, err
			}
			for _, q := range refs {
				cj := d.graph.Component(q)
				if cj < 0 || cj == ci || deps[ci][cj] || reaches(cj, ci) {
					continue
				}
				deps[ci][cj] = true
			}
		}
	}
	placed := make([]bool, len(comps))
	out := make([]*schema.Table, 0, len(d.graph.Order))
	for range comps {
		next := -1
		for ci := range comps {
			if placed[ci] {
				continue
			}
			ready := true
			for cj := range deps[ci] {
				if !placed[cj] {
					ready = false
					break
				}
			}
			if ready {
				next = ci
				break
			}
		}
		if next < 0 {
			return nil, fmt.Errorf("digest: no order of the tables follows their references")
		}
		placed[next] = true
		comp := append([]*schema.Table(nil), comps[next]...)
		sort.SliceStable(comp, func(i, j int) bool {
			si, sj := size[comp[i].QName()], size[comp[j].QName()]
			if si != sj {
				return si > sj
			}
			return comp[i].QName() < comp[j].QName()
		})
		out = append(out, comp...)
	}
	return out, nil
}
