package restore

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/edmsdr/edmsdr/engine/pgquote"
)

// Held maps (issue 11, c/a): a table empty before the restore whose references point at a seeded
// table — one the target already had rows in (a reinit'd install's users, groups, types) — still
// loads straight in (direct.go), its COPY text rewritten in the stream: each reference to the
// seeded table gets the target id that table's id map gives it.
//
// The map is the restore's own: the seeded table's entries come before the referring table's
// (the reader refuses entries out of table order), so when the referring table's first entry
// arrives, buildMap runs for the seeded table — the same statements, under the key plan the
// package most likely brings (predictedPlan) — and the map table it writes is the one every later
// step uses (buildMaps does not build it again). Its pairs are then read into the client, sorted
// (heldMap: 16 bytes a pair, at most maxHeldMapEntries for all held maps together). A map is held
// only when it is injective (no two source ids map to one target id, so that the rows loaded can
// be read back in source terms, see below); a map over the budget, not injective, or whose build
// failed (rolled back to a savepoint, its findings dropped: the staging path's checks report
// them) sends the referring table back to staging before its first row is written.
//
// What stays proven:
//
//   - A reference value the held map lacks (a dangling reference, a row of the seeded table left
//     unmapped, text that is no integer) is never guessed: the entry's COPY is stopped, rolled
//     back to its savepoint, and the table demoted to staging (demoteDirect), the entry staged
//     again from its spool as it was sent, so the preflight reports it as the staging path does.
//     NULL (\N) stays NULL.
//   - The table's staging name is a view over the table that maps the rewritten columns back to
//     source ids through the same map (a LEFT JOIN on its target ids, unique since the map is
//     injective): the preflight, the id map and the findings read the rows as they were sent,
//     and demoting a table moves its rows into a staging table through that same projection.
//   - The reference check of a rewritten column (checkReferences) is what the rewrite did: every
//     non-NULL value was found in the map, whose source ids are staged rows of the seeded table.
//   - The manifest has the last word (confirmDirect): when its key plan gives the seeded table
//     another natural key, or a key column another domain, than the plan the map was built
//     under, every table rewritten through it is demoted (through the view, while the map is
//     there), the map dropped and built again by buildMaps as on the staging path.
//   - The digest: the landing proof hashes the rows as they were sent to the server — rewritten —
//     and completes each reference with the identity of the restored row at the id sent (the
//     target's row: what a read-back of the table hashes), so a map that pointed a row at
//     another target row than its source's natural key gives another digest, and the table's
//     digest check says its references were rewritten through the map. A table that does not
//     take the landing proof is read back (the full digest), as before.
//
// Fresh ids the early map gives to unmatched seeded rows are those buildMap gives on the staging
// path (past the target's highest id, its sequence and every kept id, read under the restore's
// lock): nothing the restore writes before the insert changes them. Replace mode, rollbacks,
// safety backups and --keep-constraints never load straight in (chooseDirect).

// maxHeldMapEntries bounds the pairs of every held map together (16 bytes each: 16 MiB).
var maxHeldMapEntries int64 = 1 << 20 // a variable for tests

// heldMapHook, set by tests only, sees (and may change) each map held, as read: a map damaged
// in the client must refuse the restore (held_attack_test.go).
var heldMapHook func(table string, src, tgt []int64)

// heldMap is one seeded table's id map in the client: source ids sorted, with their target ids.
type heldMap struct {
	src, tgt []int64
}

// lookup returns the target id of source id id.
func (h *heldMap) lookup(id int64) (int64, bool) {
	i := sort.Search(len(h.src), func(i int) bool { return h.src[i] >= id })
	if i < len(h.src) && h.src[i] == id {
		return h.tgt[i], true
	}
	return 0, false
}

// earlyPlan is what a map built while staging was built under: the natural key and its columns'
// domains (confirmDirect compares them with the manifest's).
type earlyPlan struct {
	nk, domains []string
}

// holdable reports whether a reference of st to p may be rewritten in the stream through p's
// held map: p had rows (its map is not the identity), has a surrogate id, and its entries come
// before st's; st has no generic foreign keys (their object ids may name p).
func (r *run) holdable(st, p *tableState) bool {
	return r.predicted != nil && p.sid != "" && p.targetHasRows && p.layout.Index < st.layout.Index &&
		len(r.predicted.GenericFKsOf(st.qname)) == 0
}

// holdMaps holds the maps st's rewritten columns need, and makes st's staging view read through
// them. It returns why they cannot be held ("" when they are).
func (r *run) holdMaps(ctx context.Context, st *tableState) (string, error) {
	var ps []*tableState
	for _, p := range st.heldCols {
		if !slices.Contains(ps, p) {
			ps = append(ps, p)
		}
	}
	slices.SortFunc(ps, func(a, b *tableState) int { return a.layout.Index - b.layout.Index })
	for _, p := range ps {
		if p.held != nil {
			continue
		}
		if p.holdWhy == "" {
			why, err := r.holdMap(ctx, p, st.layout.Index)
			if err != nil {
				return "", err
			}
			p.holdWhy = why
		}
		if p.holdWhy != "" {
			return fmt.Sprintf("the id map of %s cannot be held: %s", p.display, p.holdWhy), nil
		}
	}
	st.rewriting = true
	if _, err := r.exec(ctx, st.display, "DROP VIEW "+st.stg); err != nil {
		return "", err
	}
	return "", r.directView(ctx, st)
}

// holdMap builds p's map (earlyMap) and reads it into the client; why it cannot, else "".
func (r *run) holdMap(ctx context.Context, p *tableState, before int) (string, error) {
	if why, err := r.earlyMap(ctx, p, before); err != nil || why != "" {
		return why, err
	}
	var n, distinct int64
	if err := r.tx.QueryRow(ctx, fmt.Sprintf("SELECT count(*), count(DISTINCT tgt) FROM %s", p.mapT)).Scan(&n, &distinct); err != nil {
		return "", r.sqlError(p.display, err)
	}
	if n != distinct {
		return "two of its source ids map to one target id", nil
	}
	if r.heldEntries+n > maxHeldMapEntries {
		return fmt.Sprintf("%d ids, beyond the %d held in memory", n, maxHeldMapEntries-r.heldEntries), nil
	}
	h := &heldMap{src: make([]int64, 0, n), tgt: make([]int64, 0, n)}
	rows, err := r.tx.Query(ctx, fmt.Sprintf("SELECT src, tgt FROM %s ORDER BY src", p.mapT))
	if err != nil {
		return "", r.sqlError(p.display, err)
	}
	for rows.Next() {
		var s, t int64
		if err := rows.Scan(&s, &t); err != nil {
			rows.Close()
			return "", r.sqlError(p.display, err)
		}
		h.src, h.tgt = append(h.src, s), append(h.tgt, t)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return "", r.sqlError(p.display, err)
	}
	if int64(len(h.src)) != n {
		return fmt.Sprintf("read %d of its %d ids", len(h.src), n), nil
	}
	if heldMapHook != nil {
		heldMapHook(p.display, h.src, h.tgt)
	}
	p.held = h
	r.heldEntries += n
	r.log.Debug("id map held", "table", p.display, "ids", n, "matched", p.matched)
	return "", nil
}

// earlyMap builds p's map while staging (buildMap, under the predicted plan), first the maps its
// natural key compares through; why it cannot, else "". Only tables that had rows, streamed
// before the entry being staged (before, a table index): their entries are all staged. A build
// that fails is rolled back to a savepoint and its findings dropped: the staging path reports
// them.
func (r *run) earlyMap(ctx context.Context, p *tableState, before int) (string, error) {
	if p.early != nil {
		return "", nil
	}
	if p.earlyWhy != "" {
		return p.earlyWhy, nil
	}
	why, err := r.earlyMap1(ctx, p, before)
	p.earlyWhy = why
	return why, err
}

func (r *run) earlyMap1(ctx context.Context, p *tableState, before int) (string, error) {
	switch {
	case p.layout.Index >= before:
		return "its entries come after the table referring to it", nil
	case p.sid == "" || !p.targetHasRows:
		return "it has no surrogate id or had no rows", nil
	case r.predicted == nil:
		return "no key plan could be predicted", nil
	}
	nk := r.predicted.NaturalKey(p.qname)
	domains := make([]string, len(nk))
	for i, c := range nk {
		if !p.colSet[c] {
			return "the package lacks its natural key column " + c, nil
		}
		d := r.domains.Of(p.qname, c)
		domains[i] = d
		if d == "" || d == p.qname {
			continue
		}
		q := r.byName[d]
		if q == nil {
			return "its natural key refers to " + d + ", outside the package", nil
		}
		if why, err := r.earlyMap(ctx, q, before); err != nil || why != "" {
			if why != "" {
				why = fmt.Sprintf("its natural key refers to %s: %s", q.display, why)
			}
			return why, err
		}
	}
	if _, err := r.tx.Exec(ctx, "SAVEPOINT edmsdr_hold"); err != nil {
		return "", fmt.Errorf("restore %s: %w", p.display, err)
	}
	base := len(r.findings)
	p.nk = nk
	if err := r.buildMap(ctx, p); err != nil {
		if ctx.Err() != nil {
			return "", err
		}
		if _, rerr := r.tx.Exec(ctx, "ROLLBACK TO SAVEPOINT edmsdr_hold"); rerr != nil {
			return "", fmt.Errorf("restore %s: build its id map while staging: %w (then: %w)", p.display, err, rerr)
		}
		if _, rerr := r.tx.Exec(ctx, "RELEASE SAVEPOINT edmsdr_hold"); rerr != nil {
			return "", fmt.Errorf("restore %s: %w", p.display, rerr)
		}
		r.findings = r.findings[:base]
		p.nk, p.matched, p.refsMatched, p.treeKept = nil, 0, 0, false
		return "its id map could not be built while staging: " + err.Error(), nil
	}
	if _, err := r.tx.Exec(ctx, "RELEASE SAVEPOINT edmsdr_hold"); err != nil {
		return "", fmt.Errorf("restore %s: %w", p.display, err)
	}
	p.mapBuilt = true
	p.early = &earlyPlan{nk: slices.Clone(nk), domains: domains}
	r.log.Debug("id map built while staging", "table", p.display, "matched", p.matched)
	return "", nil
}

// confirmEarlyMaps drops every map built while staging under a plan the manifest's contradicts
// (another natural key, or a key column of another domain), and every map whose natural key
// compares a reference through a map it drops (that map is built again, and may map otherwise),
// demoting first the tables rewritten through any of them; buildMaps then builds them again, as
// on the staging path.
func (r *run) confirmEarlyMaps(ctx context.Context) error {
	drop := map[*tableState]string{}
	for changed := true; changed; {
		changed = false
		for _, p := range r.tables {
			if p.early == nil || drop[p] != "" {
				continue
			}
			why := r.earlyContradicted(p)
			for i, d := range p.early.domains {
				if q := r.byName[d]; why == "" && q != nil && q != p && drop[q] != "" {
					why = fmt.Sprintf("%s's key column %s is compared through the id map of %s, built again", p.display, p.early.nk[i], q.display)
				}
			}
			if why != "" {
				drop[p], changed = why, true
			}
		}
	}
	if len(drop) == 0 {
		return nil
	}
	// The views of the tables rewritten through them read every map they were rewritten through:
	// all are demoted before any map goes.
	for _, st := range r.tables {
		if !st.direct || !st.rewriting {
			continue
		}
		for _, p := range r.tables {
			if why := drop[p]; why != "" && slices.Contains(mapsValues(st.heldCols), p) {
				if err := r.demoteDirect(ctx, st, "its references were rewritten through an id map built under another key plan: "+why); err != nil {
					return err
				}
				break
			}
		}
	}
	for _, p := range r.tables {
		why := drop[p]
		if why == "" {
			continue
		}
		for _, sql := range []string{"DROP TABLE " + p.mapT, fmt.Sprintf("DROP TABLE IF EXISTS _edmsdr_l%d", p.layout.Index)} {
			if _, err := r.exec(ctx, p.display, sql); err != nil {
				return err
			}
		}
		if p.held != nil {
			r.heldEntries -= int64(len(p.held.src))
		}
		p.early, p.held, p.mapBuilt = nil, nil, false
		p.matched, p.refsMatched, p.treeKept = 0, 0, false
		r.log.Debug("id map built while staging dropped", "table", p.display, "why", why)
	}
	return nil
}

// earlyContradicted says how the manifest's plan contradicts the one p's map was built under
// while staging: another natural key, or a key column of another domain ("" when it does not).
func (r *run) earlyContradicted(p *tableState) string {
	if !slices.Equal(p.early.nk, p.nk) {
		return fmt.Sprintf("the package's key plan gives %s the natural key (%s), not (%s)", p.display, strings.Join(p.nk, ", "), strings.Join(p.early.nk, ", "))
	}
	for i, c := range p.nk {
		if d := r.domains.Of(p.qname, c); d != p.early.domains[i] {
			return fmt.Sprintf("the package's key plan gives %s's key column %s another domain", p.display, c)
		}
	}
	return ""
}

func mapsValues(m map[string]*tableState) []*tableState {
	out := make([]*tableState, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// directSelect renders the rows of st's table in staging terms (alias t): every column as it is,
// but a rewritten reference (st.rewriting) read back as its source id through the held table's
// map (injective: one source id per target id).
func (r *run) directSelect(st *tableState) (cols []string, from string) {
	from = pgquote.Table(st.qname) + " t"
	for i, c := range st.cols {
		p := st.heldCols[c]
		if !st.rewriting || p == nil {
			cols = append(cols, "t."+pgquote.Ident(c))
			continue
		}
		alias := fmt.Sprintf("h%d", i)
		cols = append(cols, fmt.Sprintf("%s.src::%s AS %s", alias, st.t.Column(c).Type, pgquote.Ident(c)))
		from += fmt.Sprintf(" LEFT JOIN %s %s ON %s.tgt = t.%s", p.mapT, alias, alias, pgquote.Ident(c))
	}
	return cols, from
}

// unmappedError stops the COPY of a rewritten entry at a reference value its held map lacks.
type unmappedError struct {
	column, value string
}

func (e *unmappedError) Error() string {
	return fmt.Sprintf("column %s: %q is no id the held map has", e.column, e.value)
}

// rewriter passes COPY text through, each rewritten column's value replaced by its target id
// (\N kept); a value the map lacks, or that is no integer, ends the read with an *unmappedError.
// Memory: one chunk of input and its output.
type rewriter struct {
	src   io.Reader
	maps  []*heldMap // per field (nil: passed as it is)
	names []string
	last  int // highest field rewritten
	in    []byte
	out   []byte
	pos   int // read position in out
	field int // field of the current line the next input byte belongs to
	// esc: the next input byte is escaped (the last read ended in a backslash that escapes it).
	esc bool
	num []byte
	err error
}

// rewrite returns data with st's rewritten columns mapped (see rewriter).
func (r *run) rewrite(st *tableState, data io.Reader) io.Reader {
	w := &rewriter{src: data, maps: make([]*heldMap, len(st.cols)), names: st.cols, in: make([]byte, 64<<10)}
	for i, c := range st.cols {
		if p := st.heldCols[c]; p != nil {
			w.maps[i], w.last = p.held, i
		}
	}
	return w
}

func (w *rewriter) Read(p []byte) (int, error) {
	for w.pos == len(w.out) {
		if w.err != nil {
			return 0, w.err
		}
		w.out, w.pos = w.out[:0], 0
		n, err := w.src.Read(w.in)
		if n > 0 {
			if perr := w.process(w.in[:n]); perr != nil {
				w.err = perr
				return 0, perr
			}
		}
		if err != nil {
			if err == io.EOF && len(w.num) > 0 {
				// The last field of data without a final newline.
				if perr := w.emit(); perr != nil {
					w.err = perr
					return 0, perr
				}
			}
			w.err = err
		}
	}
	n := copy(p, w.out[w.pos:])
	w.pos += n
	return n, nil
}

// process rewrites one chunk of input into out. Fields and lines end where COPY text's do: at a
// tab or newline no backslash escapes (the server reads a backslash before a raw tab or newline
// as that byte of data, so a field may hold them: a rewrite that took them for delimiters would
// rewrite the wrong field).
func (w *rewriter) process(in []byte) error {
	i, nl := 0, -1 // nl: the next unescaped newline at or after i, when known
	for i < len(in) {
		if nl < i {
			nl = delimiter(in, i, len(in), '\n', w.esc)
		}
		if w.field < len(w.maps) && w.maps[w.field] != nil {
			// A few digits: read byte by byte, unless a backslash asks for delimiter's care.
			j := i
			if !w.esc {
				for j < nl && in[j] != '\t' && in[j] != '\\' {
					j++
				}
			}
			if w.esc || (j < nl && in[j] == '\\') {
				j = delimiter(in, i, nl, '\t', w.esc)
			}
			w.num = append(w.num, in[i:j]...)
			if len(w.num) > 24 {
				return &unmappedError{column: w.names[w.field], value: string(w.num)}
			}
			if j == len(in) {
				w.esc = escaped(in, i, j, w.esc)
				return nil
			}
			w.esc = false
			if err := w.emit(); err != nil {
				return err
			}
			w.out = append(w.out, in[j])
			w.next(in[j])
			i = j + 1
			continue
		}
		if w.field > w.last {
			// Nothing more to rewrite on this line.
			end := min(nl+1, len(in))
			w.out = append(w.out, in[i:end]...)
			if nl < len(in) {
				w.field, w.esc = 0, false
			} else {
				w.esc = escaped(in, i, len(in), w.esc)
			}
			i = end
			continue
		}
		// A field passed as it is, before the last rewritten one: to its end.
		end := delimiter(in, i, nl, '\t', w.esc)
		if end == len(in) {
			w.out = append(w.out, in[i:]...)
			w.esc = escaped(in, i, len(in), w.esc)
			return nil
		}
		w.out = append(w.out, in[i:end+1]...)
		w.esc = false
		w.next(in[end])
		i = end + 1
	}
	return nil
}

// delimiter returns the index of the first byte c in in[from:lim] that no backslash escapes, or
// lim; esc says whether in[from] is escaped.
func delimiter(in []byte, from, lim int, c byte, esc bool) int {
	for i := from; i < lim; {
		k := bytes.IndexByte(in[i:lim], c)
		if k < 0 {
			return lim
		}
		if p := i + k; !escaped(in, from, p, esc) {
			return p
		}
		i += k + 1
	}
	return lim
}

// escaped reports whether a backslash escapes in[p] (p may be len(in): the byte after in): the
// run of backslashes right before it, counted from from on (plus the escaped in[from] when esc),
// is odd. A byte other than a backslash ends any escape, escaped or not.
func escaped(in []byte, from, p int, esc bool) bool {
	n := 0
	for q := p - 1; q >= from && in[q] == '\\'; q-- {
		n++
	}
	if p-n == from && esc {
		n++
	}
	return n%2 == 1
}

// next moves to the next field after delimiter d.
func (w *rewriter) next(d byte) {
	if d == '\n' {
		w.field = 0
	} else {
		w.field++
	}
}

// emit writes the rewritten value of the field gathered in num.
func (w *rewriter) emit() error {
	v := w.num
	w.num = w.num[:0]
	if string(v) == `\N` {
		w.out = append(w.out, v...)
		return nil
	}
	id, err := strconv.ParseInt(string(v), 10, 64)
	if err == nil {
		if t, ok := w.maps[w.field].lookup(id); ok {
			w.out = strconv.AppendInt(w.out, t, 10)
			return nil
		}
	}
	return &unmappedError{column: w.names[w.field], value: string(v)}
}
