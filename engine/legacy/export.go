package legacy

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/edmsdr/edmsdr/engine/finding"
	"github.com/edmsdr/edmsdr/engine/keys"
	"github.com/edmsdr/edmsdr/engine/pack"
	"github.com/edmsdr/edmsdr/engine/schema"
)

// ExportOptions tune Export.
type ExportOptions struct {
	// Open opens the package (its plaintext) from the start; Export calls it three times (verify
	// and read the manifest, index, write).
	Open func() (io.ReadCloser, error)
	// Keys is the keys file: its django: section names models, fields and natural keys.
	Keys *keys.File
	// Limits bound what the package reader accepts.
	Limits pack.Limits
	// TempDir holds the on-disk index while the fixture is written ("" means the system's).
	TempDir string
	// Overwrite allows replacing an existing fixture.
	Overwrite bool
	// Resolver, if set, says for rows that generic foreign keys point at whether the database
	// the fixture is meant for already holds them (see GenericResolver).
	Resolver GenericResolver
	// Strict refuses, without a Resolver, a package in which generic foreign keys name objects of
	// models with a natural key (they keep their pk, which nothing can check).
	Strict bool
	// Log receives progress; nil discards.
	Log *slog.Logger
}

// GenericResolver looks up, in the database a fixture will be loaded into, the rows that generic
// foreign keys point at. A Django object_id is a plain integer (Django serializes it without
// natural keys), so the fixture must name such a row by the pk it will have there.
type GenericResolver interface {
	// Resolve receives the model (its table), the natural key of a row (as the fixture writes
	// it) and its id in the package; it returns the id of the row with that natural key in the
	// database (found), and whether the database holds another row under the package's id
	// (taken).
	Resolve(ctx context.Context, md *Model, key json.RawMessage, id int64) (target int64, found, taken bool, err error)
}

// ExportResult describes a written fixture.
type ExportResult struct {
	Path    string
	Objects int64
	Models  []ExportedModel
	// GenericTargets counts objects of models with a natural key written with their pk because a
	// generic foreign key names them by it.
	GenericTargets int64
	// Skipped are the tables with rows left out because they are no Django model (no content type
	// names them and they are no many-to-many table), as dumpdata leaves them out.
	Skipped []SkippedTable
	// Warnings are things the user must know about the fixture.
	Warnings []string
	Elapsed  time.Duration
}

// SkippedTable is a table left out of a fixture.
type SkippedTable struct {
	Table string `json:"table"`
	Rows  int64  `json:"rows"`
}

// ExportedModel is one model's share of a fixture.
type ExportedModel struct {
	Model   string `json:"model"`
	Table   string `json:"table"`
	Objects int64  `json:"objects"`
	// WithPK counts objects written with a pk.
	WithPK int64 `json:"with_pk"`
}

// Export writes the package that opts.Open reads as a Django fixture at out: a JSON array of
// {"model", "pk", "fields"} objects that Django's loaddata accepts. References to models with a
// natural key are written as natural keys (lists), and so are the primary keys of such models
// (pk left out), except where a generic foreign key names the row by its pk; many-to-many
// through-table rows are folded into their owner's field as lists. The model of a table comes from
// the package's content types (or the keys file); a table with rows that is neither a model nor a
// many-to-many table is refused. The fixture is written to out.partial and renamed.
func Export(ctx context.Context, out string, opts ExportOptions) (*ExportResult, error) {
	start := time.Now()
	if opts.Open == nil {
		return nil, errors.New("export: no package to read")
	}
	e := &exporter{opts: opts, log: opts.Log, idx: map[string]*diskIndex{}, keep: map[string]*diskIndex{},
		m2m: map[string]*diskIndex{}, cache: map[string]map[int64]json.RawMessage{}}
	if e.log == nil {
		e.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	dir, err := os.MkdirTemp(opts.TempDir, "edmsdr-export-")
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	e.dir = dir
	defer os.RemoveAll(dir)
	defer e.close()
	if err := e.readManifest(); err != nil {
		return nil, err
	}
	if err := e.plan(); err != nil {
		return nil, err
	}
	if err := e.index(ctx); err != nil {
		return nil, err
	}
	if opts.Strict && opts.Resolver == nil {
		var fl finding.List
		for q, k := range e.keep {
			if k.n > 0 {
				fl.Add(finding.Finding{Kind: finding.Unsupported, Table: schema.DisplayName(q), Count: k.n,
					Message: fmt.Sprintf("generic foreign keys name %d objects of %s, which has a natural key, by their pk: without the target database it cannot be checked that loaddata keeps them right", k.n, e.models[q].Name)})
			}
		}
		if len(fl) > 0 {
			return nil, &finding.Refused{Op: "export fixture", Findings: fl}
		}
	}
	if err := e.resolveGeneric(ctx); err != nil {
		return nil, err
	}
	res, err := e.write(ctx, out)
	if err != nil {
		return nil, err
	}
	res.Elapsed = time.Since(start)
	return res, nil
}

type exporter struct {
	opts ExportOptions
	log  *slog.Logger
	dir  string

	manifest *pack.Manifest
	s        *schema.Schema
	m        *Mapping
	cts      map[int64][2]string // content type id -> (app_label, model)

	models  map[string]*Model      // exported tables -> model
	through map[string]*ManyToMany // through tables folded into owners
	// idx: id -> natural key parts of tables whose natural key a fixture writes; keep: ids of
	// rows that generic foreign keys point at; m2m: owner id -> target ids per through table.
	idx, keep, m2m map[string]*diskIndex
	// remap: package id -> target id of generic targets the resolver found, per table.
	remap map[string]map[int64]int64
	cache map[string]map[int64]json.RawMessage
	// skipped are the tables with rows that are no model, left out.
	skipped []SkippedTable
	res     ExportResult
}

func (e *exporter) close() {
	for _, m := range []map[string]*diskIndex{e.idx, e.keep, e.m2m} {
		for _, x := range m {
			x.Close()
		}
	}
}

// entries reads the package from the start, calling fn for every data and reference entry.
func (e *exporter) entries(fn func(en *pack.Entry) error) (*pack.Manifest, error) {
	f, err := e.opts.Open()
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	defer f.Close()
	rd, err := pack.NewReader(f, e.opts.Limits)
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	for {
		en, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return rd.Manifest(), nil
		}
		if err != nil {
			return nil, err
		}
		if err := fn(en); err != nil {
			return nil, err
		}
	}
}

// readManifest reads the whole package once: every checksum is verified before anything is
// written, and the schema, key plan and content types become known.
func (e *exporter) readManifest() error {
	e.cts = map[int64][2]string{}
	capture := map[int64][2]string{}
	m, err := e.entries(func(en *pack.Entry) error {
		// The content types are needed before the second pass: keep the rows of any table
		// shaped like Django's (id, app_label, model), a handful.
		if en.Ref || !strings.HasSuffix(en.Layout.Table, "content_type") || len(capture) > 100000 {
			_, err := io.Copy(io.Discard, en)
			return err
		}
		return eachRow(en, func(fields [][]byte) error {
			id, app, model, ok := contentTypeRow(en.Layout.Columns, fields)
			if ok {
				capture[id] = [2]string{app, model}
			}
			return nil
		})
	})
	if err != nil {
		return err
	}
	e.manifest = m
	e.s = m.Schema
	e.s.Index()
	if ct := m.Plan.ContentTypes; ct != nil && strings.HasSuffix(ct.Table, "content_type") {
		e.cts = capture
	}
	return nil
}

// contentTypeRow reads (id, app_label, model) from a content type row.
func contentTypeRow(cols []string, fields [][]byte) (int64, string, string, bool) {
	var id int64
	var app, model string
	var have int
	for i, c := range cols {
		if i >= len(fields) {
			break
		}
		v, null, err := UnescapeCopy(fields[i])
		if err != nil || null {
			continue
		}
		switch c {
		case "id":
			n, err := strconv.ParseInt(string(v), 10, 64)
			if err != nil {
				return 0, "", "", false
			}
			id = n
			have++
		case "app_label":
			app = string(v)
			have++
		case "model":
			model = string(v)
			have++
		}
	}
	return id, app, model, have == 3
}

// eachRow calls fn with the raw fields of every row of an entry.
func eachRow(r io.Reader, fn func(fields [][]byte) error) error {
	br := bufio.NewReaderSize(r, 256<<10)
	var fields [][]byte
	var buf []byte
	for {
		buf = buf[:0]
		for {
			chunk, err := br.ReadSlice('\n')
			buf = append(buf, chunk...)
			if errors.Is(err, bufio.ErrBufferFull) {
				continue
			}
			if errors.Is(err, io.EOF) {
				if len(buf) == 0 {
					return nil
				}
				return errors.New("export: a COPY row ends without a newline")
			}
			if err != nil {
				return err
			}
			break
		}
		fields = SplitCopyRow(buf[:len(buf)-1], fields)
		if err := fn(fields); err != nil {
			return err
		}
	}
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
				ctv, null, _ := UnescapeCopy(fields[g.ct])
				objv, onull, _ := UnescapeCopy(fields[g.obj])
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
	v, null, err := UnescapeCopy(raw)
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
		v, null, err := UnescapeCopy(fields[j])
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

// write reads the package a third time and writes the fixture.
func (e *exporter) write(ctx context.Context, out string) (*ExportResult, error) {
	if !e.opts.Overwrite {
		if _, err := os.Lstat(out); err == nil {
			return nil, fmt.Errorf("export: %s exists (choose another name or remove it)", out)
		}
	}
	partial := out + ".partial"
	f, err := pack.CreatePartial(partial)
	if errors.Is(err, pack.ErrPartialHeld) {
		return nil, fmt.Errorf("export: %s is held by another running export", partial)
	}
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	done := false
	defer func() {
		if !done {
			f.Close()
			os.Remove(partial)
		}
	}()
	w := bufio.NewWriterSize(f, 1<<20)
	w.WriteString("[")
	e.res = ExportResult{Path: out, Skipped: e.skipped}
	first := true
	counts := map[string]*ExportedModel{}
	var order []string
	_, err = e.entries(func(en *pack.Entry) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		md := e.models[en.Layout.Table]
		if en.Ref || md == nil {
			_, err := io.Copy(io.Discard, en)
			return err
		}
		cm := counts[md.Name]
		if cm == nil {
			cm = &ExportedModel{Model: md.Name, Table: md.Table.Display()}
			counts[md.Name] = cm
			order = append(order, md.Name)
		}
		ow := &objectWriter{e: e, md: md, pos: layoutIndex(en.Layout.Columns), cols: en.Layout.Columns}
		var obj []byte
		return eachRow(en, func(fields [][]byte) error {
			var withPK bool
			var err error
			obj, withPK, err = ow.object(obj[:0], fields)
			if err != nil {
				return err
			}
			if !first {
				w.WriteByte(',')
			}
			first = false
			w.WriteString("\n")
			w.Write(obj)
			cm.Objects++
			e.res.Objects++
			if withPK {
				cm.WithPK++
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	w.WriteString("\n]\n")
	if err := w.Flush(); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	if err := f.Sync(); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	if err := os.Rename(partial, out); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	done = true
	f.Close()
	if d, err := os.Open(filepath.Dir(out)); err == nil {
		_ = d.Sync()
		d.Close()
	}
	for _, n := range order {
		e.res.Models = append(e.res.Models, *counts[n])
	}
	if e.res.GenericTargets > 0 {
		msg := fmt.Sprintf("%d objects of models with a natural key keep their pk, because generic foreign keys (object_id) name them by pk", e.res.GenericTargets)
		if e.opts.Resolver == nil {
			msg += "; loaddata writes them under these pks, overwriting any other row a database already holds under one (give the target database to check and resolve them)"
		} else {
			msg += "; the target database was checked: rows it holds are named by their pk there, the others take pks it does not use"
		}
		e.res.Warnings = append(e.res.Warnings, msg)
	}
	return &e.res, nil
}

// objectWriter renders the rows of one table as fixture objects.
type objectWriter struct {
	e    *exporter
	md   *Model
	pos  map[string]int
	cols []string
	ids  []int64
}

func (w *objectWriter) object(dst []byte, fields [][]byte) ([]byte, bool, error) {
	e, md := w.e, w.md
	t := md.Table
	sid := t.SurrogateID()
	var id int64
	if sid != "" {
		var err error
		if id, err = intField(fields[w.pos[sid]]); err != nil {
			return nil, false, fmt.Errorf("export %s: %w", t.Display(), err)
		}
	}
	dst = append(dst, `{"model": `...)
	dst = append(dst, jsonString([]byte(md.Name))...)
	withPK := md.Key == nil || md.PK != sid
	if !withPK {
		if k := e.keep[t.QName()]; k != nil {
			kept, err := k.Has(id)
			if err != nil {
				return nil, false, err
			}
			if kept {
				withPK = true
				e.res.GenericTargets++
			}
		}
	}
	if withPK && md.PK != "" {
		v, null, err := UnescapeCopy(fields[w.pos[md.PK]])
		if err != nil || null {
			return nil, false, fmt.Errorf("export %s: pk: NULL or damaged", t.Display())
		}
		if tgt, ok := e.remap[t.QName()][id]; ok && md.PK == sid {
			v = strconv.AppendInt(nil, tgt, 10)
		}
		jv, err := FixtureValue(t.Column(md.PK).Type, v)
		if err != nil {
			return nil, false, fmt.Errorf("export %s: pk: %w", t.Display(), err)
		}
		dst = append(dst, `, "pk": `...)
		dst = append(dst, jv...)
	}
	dst = append(dst, `, "fields": {`...)
	n := 0
	for _, f := range md.Fields {
		if f.Column == md.PK {
			continue
		}
		j, ok := w.pos[f.Column]
		if !ok {
			continue
		}
		v, null, err := UnescapeCopy(fields[j])
		if err != nil {
			return nil, false, fmt.Errorf("export %s: %s: %w", t.Display(), f.Column, err)
		}
		if n > 0 {
			dst = append(dst, ", "...)
		}
		n++
		dst = append(dst, jsonString([]byte(f.Name))...)
		dst = append(dst, ": "...)
		switch {
		case null:
			dst = append(dst, "null"...)
		case f.Ref != "":
			ref, err := strconv.ParseInt(string(v), 10, 64)
			if err != nil {
				return nil, false, fmt.Errorf("export %s: %s: %q is not an id", t.Display(), f.Column, v)
			}
			dst, err = w.reference(dst, f.Ref, ref)
			if err != nil {
				return nil, false, fmt.Errorf("export %s id %d: %s: %w", t.Display(), id, f.Name, err)
			}
		default:
			if g := w.generic(f.Column); g != nil {
				if tgt, ok := w.genericTarget(g, fields, v); ok {
					v = strconv.AppendInt(nil, tgt, 10)
				}
			}
			jv, err := FixtureValue(f.Type, v)
			if err != nil {
				return nil, false, fmt.Errorf("export %s id %d: %s: %w", t.Display(), id, f.Name, err)
			}
			dst = append(dst, jv...)
		}
	}
	for _, mm := range md.ManyToMany {
		x := e.m2m[mm.Through.QName()]
		if n > 0 {
			dst = append(dst, ", "...)
		}
		n++
		dst = append(dst, jsonString([]byte(mm.Name))...)
		dst = append(dst, ": ["...)
		if x != nil {
			var err error
			if w.ids, err = x.List(id, w.ids); err != nil {
				return nil, false, err
			}
			for i, ref := range w.ids {
				if i > 0 {
					dst = append(dst, ", "...)
				}
				if dst, err = w.reference(dst, mm.TargetTable, ref); err != nil {
					return nil, false, fmt.Errorf("export %s id %d: %s: %w", t.Display(), id, mm.Name, err)
				}
			}
		}
		dst = append(dst, ']')
	}
	dst = append(dst, "}}"...)
	return dst, withPK, nil
}

// reference renders a reference to row id of table q: its natural key, or its id.
func (w *objectWriter) reference(dst []byte, q string, id int64) ([]byte, error) {
	if w.e.idx[q] == nil {
		return strconv.AppendInt(dst, id, 10), nil
	}
	k, err := w.e.naturalKey(q, id, 0)
	if err != nil {
		return nil, err
	}
	return append(dst, k...), nil
}

func (w *objectWriter) generic(col string) *keys.GenericFK {
	for _, g := range w.e.manifest.Plan.GenericFKsOf(w.md.Table.QName()) {
		if g.ObjectIDColumn == col {
			return &g
		}
	}
	return nil
}

// genericTarget returns the target database's id of the row a generic foreign key names, when the
// resolver found it there.
func (w *objectWriter) genericTarget(g *keys.GenericFK, fields [][]byte, obj []byte) (int64, bool) {
	j, ok := w.pos[g.ContentTypeColumn]
	if !ok {
		return 0, false
	}
	ctv, null, err := UnescapeCopy(fields[j])
	if err != nil || null {
		return 0, false
	}
	ctID, err := strconv.ParseInt(string(ctv), 10, 64)
	if err != nil {
		return 0, false
	}
	ct, ok := w.e.cts[ctID]
	if !ok {
		return 0, false
	}
	q := w.e.manifest.Plan.ContentTypes.TableForContentType(w.e.s, ct[0], ct[1])
	id, err := strconv.ParseInt(string(obj), 10, 64)
	if err != nil {
		return 0, false
	}
	tgt, ok := w.e.remap[q][id]
	return tgt, ok
}
