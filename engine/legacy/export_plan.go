package legacy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/edmsdr/edmsdr/engine/copytext"
	"github.com/edmsdr/edmsdr/engine/finding"
	"github.com/edmsdr/edmsdr/engine/pack"
	"github.com/edmsdr/edmsdr/engine/schema"
)

// checkStrict refuses, with ExportOptions.Strict and no Resolver, a package whose generic foreign
// keys name objects of models with a natural key by their pk.
func (e *exporter) checkStrict() error {
	if !e.opts.Strict || e.opts.Resolver != nil {
		return nil
	}
	var fl finding.List
	for q, k := range e.keep {
		if k.n > 0 {
			fl.Add(finding.Finding{Kind: finding.Unsupported, Table: schema.DisplayName(q), Count: k.n,
				Message: fmt.Sprintf("generic foreign keys name %d objects of %s, which has a natural key, by their pk: without the target database it cannot be checked that loaddata keeps them right", k.n, e.models[q].Name)})
		}
	}
	if len(fl) > 0 {
		return &finding.Refused{Op: "export fixture", Findings: fl}
	}
	return nil
}

// plan settles which table is which model, which tables fold into which, and which need an index.
func (e *exporter) plan() error {
	var err error
	e.m, err = NewMapping(e.s, e.manifest.Plan, e.opts.Keys)
	if err != nil {
		return &finding.Refused{Op: "export fixture", Findings: finding.List{{Kind: finding.KeyPlan, Severity: finding.Error, Message: err.Error()}}}
	}
	ids := make([]int64, 0, len(e.cts))
	for id := range e.cts {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for _, id := range ids {
		ct := e.cts[id]
		e.m.Register(ct[0] + "." + ct[1])
	}
	if e.opts.Keys != nil && e.opts.Keys.Django != nil {
		names := make([]string, 0, len(e.opts.Keys.Django.Models))
		for n := range e.opts.Keys.Django.Models {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			e.m.Register(n)
		}
	}
	e.models = map[string]*Model{}
	e.through = map[string]*ManyToMany{}
	rows := map[string]int64{}
	for _, te := range e.manifest.Tables {
		rows[te.Table] = te.Rows
	}
	for _, t := range e.s.Tables {
		if md := e.m.ModelOfTable(t.QName()); md != nil {
			e.models[t.QName()] = md
			for _, mm := range md.ManyToMany {
				e.through[mm.Through.QName()] = mm
			}
		}
	}
	if err := e.skipNonModels(); err != nil {
		return err
	}
	// Tables whose natural keys the fixture writes: referenced by an exported column or list, and
	// every table spliced into such a key.
	need := map[string]bool{}
	var add func(q string)
	add = func(q string) {
		md := e.m.ModelForTable(q)
		if need[q] || md == nil || md.Key == nil {
			return
		}
		need[q] = true
		for _, p := range md.Key.Parts {
			if p.Ref != "" {
				add(p.Ref)
			}
		}
	}
	for q, md := range e.models {
		if rows[q] == 0 {
			continue
		}
		for _, f := range md.Fields {
			if f.Ref != "" {
				add(f.Ref)
			}
		}
		for _, mm := range md.ManyToMany {
			add(mm.TargetTable)
		}
	}
	for q := range need {
		x, err := newDiskIndex(e.dir, rows[q]+e.refRows(q))
		if err != nil {
			return fmt.Errorf("export: %w", err)
		}
		e.idx[q] = x
	}
	for q := range e.through {
		if rows[q] == 0 {
			continue
		}
		x, err := newDiskIndex(e.dir, rows[q])
		if err != nil {
			return fmt.Errorf("export: %w", err)
		}
		e.m2m[q] = x
	}
	var generic int64 // rows holding generic foreign keys: at most that many distinct targets
	for _, g := range e.manifest.Plan.GenericFKs {
		generic += rows[g.Table]
	}
	for _, g := range e.manifest.Plan.GenericFKs {
		if rows[g.Table] == 0 {
			continue
		}
		for _, ct := range e.cts {
			q := e.manifest.Plan.ContentTypes.TableForContentType(e.s, ct[0], ct[1])
			md := e.models[q]
			if md == nil || md.Key == nil || e.keep[q] != nil {
				continue
			}
			x, err := newDiskIndex(e.dir, generic) // sparse: slots cost disk only once written
			if err != nil {
				return fmt.Errorf("export: %w", err)
			}
			e.keep[q] = x
		}
	}
	return nil
}

// skipNonModels leaves out, as dumpdata does, the tables with rows that are no model: no content
// type names them and they are no many-to-many table of a model (django_migrations, tables of
// raw SQL). It refuses instead when that cannot be told (the package has no content types) or when
// leaving a table out would break the fixture (an exported model refers to it).
func (e *exporter) skipNonModels() error {
	referrers := map[string][]string{} // table -> exported tables with a foreign key to it
	for _, t := range e.s.Tables {
		if e.models[t.QName()] == nil && e.through[t.QName()] == nil {
			continue
		}
		for _, fk := range t.ForeignKeys {
			if q := fk.RefQName(); q != t.QName() {
				referrers[q] = append(referrers[q], t.Display())
			}
		}
	}
	var fl finding.List
	for _, te := range e.manifest.Tables {
		if e.models[te.Table] != nil || e.through[te.Table] != nil || te.Rows == 0 {
			continue
		}
		switch refs := referrers[te.Table]; {
		case len(e.cts) == 0:
			fl.Add(finding.Finding{Kind: finding.SchemaMismatch, Table: schema.DisplayName(te.Table), Count: te.Rows,
				Message: "the package has no content types, so nothing says which tables are Django models: give this table a django: models: entry in the keys file (or exclude it)"})
		case len(refs) > 0:
			sort.Strings(refs)
			fl.Add(finding.Finding{Kind: finding.SchemaMismatch, Table: schema.DisplayName(te.Table), Count: te.Rows,
				Message: fmt.Sprintf("no content type names this table's model and it is no many-to-many table of one, but %s refers to it: give it a django: models: entry in the keys file", strings.Join(refs, ", "))})
		default:
			e.skipped = append(e.skipped, SkippedTable{Table: schema.DisplayName(te.Table), Rows: te.Rows})
		}
	}
	if len(fl) > 0 {
		return &finding.Refused{Op: "export fixture", Findings: fl}
	}
	return nil
}

func (e *exporter) refRows(q string) int64 {
	for _, te := range e.manifest.Tables {
		if te.Table == q {
			return te.RefRows
		}
	}
	return 0
}

// layoutIndex maps a layout's columns to their positions.
func layoutIndex(cols []string) map[string]int {
	out := make(map[string]int, len(cols))
	for i, c := range cols {
		out[c] = i
	}
	return out
}

// index reads the package a second time: natural key parts of every row a fixture refers to by
// natural key, many-to-many pairs, and the rows generic foreign keys point at.
func (e *exporter) index(ctx context.Context) error {
	type gfk struct {
		ct, obj int
	}
	_, err := e.entries(func(en *pack.Entry) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		q := en.Layout.Table
		pos := layoutIndex(en.Layout.Columns)
		x, pairs, thr, md := e.idx[q], e.m2m[q], e.through[q], e.m.ModelForTable(q)
		var gfks []gfk
		if !en.Ref {
			for _, g := range e.manifest.Plan.GenericFKsOf(q) {
				ci, ok1 := pos[g.ContentTypeColumn]
				oi, ok2 := pos[g.ObjectIDColumn]
				if ok1 && ok2 {
					gfks = append(gfks, gfk{ci, oi})
				}
			}
		}
		if (x == nil || md == nil) && (pairs == nil || en.Ref) && len(gfks) == 0 {
			_, err := io.Copy(io.Discard, en)
			return err
		}
		t := e.s.Table(q)
		sid := pos[t.SurrogateID()]
		var rec []byte
		return eachRow(en, func(fields [][]byte) error {
			if x != nil && md != nil {
				id, err := intField(fields[sid])
				if err != nil {
					return fmt.Errorf("export %s: id: %w", t.Display(), err)
				}
				rec, err = e.keyRecord(rec[:0], md, pos, fields)
				if err != nil {
					return fmt.Errorf("export %s id %d: %w", t.Display(), id, err)
				}
				if err := x.Put(id, rec); err != nil {
					return err
				}
			}
			if pairs != nil && !en.Ref {
				owner, err := intField(fields[pos[thr.Owner]])
				if err != nil {
					return fmt.Errorf("export %s: %s: %w", t.Display(), thr.Owner, err)
				}
				target, err := intField(fields[pos[thr.Target]])
				if err != nil {
					return fmt.Errorf("export %s: %s: %w", t.Display(), thr.Target, err)
				}
				if err := pairs.Add(owner, target); err != nil {
					return err
				}
			}
			for _, g := range gfks {
				ctv, null, _ := copytext.Unescape(fields[g.ct])
				objv, onull, _ := copytext.Unescape(fields[g.obj])
				if null || onull {
					continue
				}
				ctID, err1 := strconv.ParseInt(string(ctv), 10, 64)
				obj, err2 := strconv.ParseInt(string(objv), 10, 64)
				if err1 != nil || err2 != nil {
					continue
				}
				ct, ok := e.cts[ctID]
				if !ok {
					return fmt.Errorf("export %s: generic foreign key to content type %d, which the package does not contain", t.Display(), ctID)
				}
				if k := e.keep[e.manifest.Plan.ContentTypes.TableForContentType(e.s, ct[0], ct[1])]; k != nil {
					if err := k.Put(obj, nil); err != nil {
						return err
					}
				}
			}
			return nil
		})
	})
	if err != nil {
		return err
	}
	for _, m := range []map[string]*diskIndex{e.idx, e.keep, e.m2m} {
		for _, x := range m {
			if err := x.Done(); err != nil {
				return err
			}
		}
	}
	return nil
}

func intField(raw []byte) (int64, error) {
	v, null, err := copytext.Unescape(raw)
	if err != nil {
		return 0, err
	}
	if null {
		return 0, errors.New("NULL where an id is needed")
	}
	return strconv.ParseInt(string(v), 10, 64)
}

// keyRecord renders the natural key parts of one row as a JSON list: plain parts as their
// fixture values, foreign keys as the referenced id (or null), expanded when written.
func (e *exporter) keyRecord(dst []byte, md *Model, pos map[string]int, fields [][]byte) ([]byte, error) {
	dst = append(dst, '[')
	for i, p := range md.Key.Parts {
		if i > 0 {
			dst = append(dst, ',')
		}
		j, ok := pos[p.Column]
		if !ok {
			return nil, fmt.Errorf("natural key column %s is not in the package", p.Column)
		}
		v, null, err := copytext.Unescape(fields[j])
		if err != nil {
			return nil, err
		}
		switch {
		case null:
			dst = append(dst, "null"...)
		case p.Ref != "":
			dst = append(dst, v...)
		default:
			jv, err := FixtureValue(md.FieldOfColumn(p.Column).Type, v)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", p.Column, err)
			}
			dst = append(dst, jv...)
		}
	}
	return append(dst, ']'), nil
}

// cacheSize bounds the expanded natural keys kept per table.
const cacheSize = 4096

// naturalKey expands the natural key of row id of table q: foreign keys in it replaced by the
// keys of the rows they point at, spliced or nested as the layout says.
func (e *exporter) naturalKey(q string, id int64, depth int) (json.RawMessage, error) {
	if c := e.cache[q]; c != nil {
		if k, ok := c[id]; ok {
			return k, nil
		}
	}
	if depth > 10000 {
		return nil, fmt.Errorf("natural key of %s id %d runs in a circle", schema.DisplayName(q), id)
	}
	x := e.idx[q]
	md := e.m.ModelForTable(q)
	if x == nil || md == nil || md.Key == nil {
		return nil, fmt.Errorf("no natural key for %s", schema.DisplayName(q))
	}
	rec, ok, err := x.Get(id, nil)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%s id %d is not in the package", schema.DisplayName(q), id)
	}
	var parts []json.RawMessage
	if err := json.Unmarshal(rec, &parts); err != nil || len(parts) != len(md.Key.Parts) {
		return nil, fmt.Errorf("index of %s: damaged record", schema.DisplayName(q))
	}
	out := []byte{'['}
	n := 0
	for i, p := range md.Key.Parts {
		if p.Ref == "" {
			if n > 0 {
				out = append(out, ',')
			}
			out = append(out, parts[i]...)
			n++
			continue
		}
		if string(parts[i]) == "null" {
			if p.Nested {
				if n > 0 {
					out = append(out, ',')
				}
				out = append(out, "null"...)
				n++
			}
			continue
		}
		sub, err := strconv.ParseInt(string(parts[i]), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("natural key of %s id %d: %s is not an id", schema.DisplayName(q), id, parts[i])
		}
		k, err := e.naturalKey(p.Ref, sub, depth+1)
		if err != nil {
			return nil, err
		}
		if p.Nested {
			if n > 0 {
				out = append(out, ',')
			}
			out = append(out, k...)
			n++
			continue
		}
		if inner := k[1 : len(k)-1]; len(inner) > 0 {
			if n > 0 {
				out = append(out, ',')
			}
			out = append(out, inner...)
			n++
		}
	}
	out = append(out, ']')
	c := e.cache[q]
	if c == nil || len(c) >= cacheSize {
		c = map[int64]json.RawMessage{}
		e.cache[q] = c
	}
	c[id] = out
	return out, nil
}

// resolveGeneric asks the resolver, for every row a generic foreign key points at, whether the
// target database holds it already (its id there is written instead) or holds another row under
// its pk (refused: loaddata would overwrite that row).
func (e *exporter) resolveGeneric(ctx context.Context) error {
	e.remap = map[string]map[int64]int64{}
	if e.opts.Resolver == nil || len(e.keep) == 0 {
		return nil
	}
	var fl finding.List
	for q, k := range e.keep {
		md := e.models[q]
		_, err := e.entries(func(en *pack.Entry) error {
			if en.Ref || en.Layout.Table != q {
				_, err := io.Copy(io.Discard, en)
				return err
			}
			sid := layoutIndex(en.Layout.Columns)[e.s.Table(q).SurrogateID()]
			return eachRow(en, func(fields [][]byte) error {
				id, err := intField(fields[sid])
				if err != nil {
					return err
				}
				if ok, err := k.Has(id); err != nil || !ok {
					return err
				}
				key, err := e.naturalKey(q, id, 0)
				if err != nil {
					return err
				}
				tgt, found, taken, err := e.opts.Resolver.Resolve(ctx, md, key, id)
				if err != nil {
					return err
				}
				switch {
				case found:
					if e.remap[q] == nil {
						e.remap[q] = map[int64]int64{}
					}
					e.remap[q][id] = tgt
				case taken:
					fl.Add(finding.Finding{Kind: finding.Conflict, Table: schema.DisplayName(q), Keys: []string{fmt.Sprintf("pk %d %s", id, key)},
						Message: fmt.Sprintf("a generic foreign key names this %s by its pk, which the target database gives to another row: loaddata would overwrite that row", md.Name)})
				}
				return nil
			})
		})
		if err != nil {
			return err
		}
	}
	if len(fl) > 0 {
		return &finding.Refused{Op: "export fixture", Findings: fl}
	}
	return nil
}
