package legacy

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/edmsdr/edmsdr/engine/copytext"
	"github.com/edmsdr/edmsdr/engine/keys"
	"github.com/edmsdr/edmsdr/engine/pack"
	"github.com/edmsdr/edmsdr/engine/schema"
)

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
	put := func(obj []byte) {
		if !first {
			w.WriteByte(',')
		}
		first = false
		w.WriteString("\n")
		w.Write(obj)
	}
	ord := newFixtureOrder(e, put)
	defer ord.close()
	counts := map[string]*ExportedModel{}
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
		}
		ow := &objectWriter{e: e, md: md, pos: layoutIndex(en.Layout.Columns), cols: en.Layout.Columns}
		dst, err := ord.entry(en.Layout.Table)
		if err != nil {
			return err
		}
		var obj []byte
		err = eachRow(en, func(fields [][]byte) error {
			var withPK bool
			var err error
			obj, withPK, err = ow.object(obj[:0], fields)
			if err != nil {
				return err
			}
			if err := dst(obj); err != nil {
				return err
			}
			cm.Objects++
			e.res.Objects++
			if withPK {
				cm.WithPK++
			}
			return nil
		})
		if err != nil {
			return err
		}
		return ord.done(en.Layout.Table)
	})
	if err != nil {
		return nil, err
	}
	if err := ord.finish(); err != nil {
		return nil, err
	}
	var order []string
	for _, q := range ord.want {
		if md := e.models[q]; md != nil && counts[md.Name] != nil && !slices.Contains(order, md.Name) {
			order = append(order, md.Name)
		}
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
		v, null, err := copytext.Unescape(fields[w.pos[md.PK]])
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
		v, null, err := copytext.Unescape(fields[j])
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
	ctv, null, err := copytext.Unescape(fields[j])
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

// fixtureOrder writes the objects of a fixture's models in the order of the package schema's
// foreign keys (schema.BuildGraph, cycles by table name), whatever order the package's entries
// come in: Django's loaddata builds an object whose natural key runs through a foreign key (a
// document version's, through its document) by reading that key, so the object it points at
// must come first. A backup streams the tables in an order of its own (the larger table of a
// cycle first, generic foreign keys' targets before the tables pointing at them): the objects of
// a table read before its turn wait in a temporary file (length-prefixed) until then.
type fixtureOrder struct {
	e         *exporter
	put       func(obj []byte)
	want      []string       // tables with data to write, in their order
	remaining map[string]int // data entries not yet read, by table
	next      int            // want[next] is the table written straight through
	spools    map[string]*fixtureSpool
}

type fixtureSpool struct {
	f *os.File
	w *bufio.Writer
}

func newFixtureOrder(e *exporter, put func([]byte)) *fixtureOrder {
	o := &fixtureOrder{e: e, put: put, remaining: map[string]int{}, spools: map[string]*fixtureSpool{}}
	for _, te := range e.manifest.Tables {
		if e.models[te.Table] != nil && len(te.Chunks) > 0 {
			o.remaining[te.Table] = len(te.Chunks)
		}
	}
	for _, t := range schema.BuildGraph(e.s).Order {
		if o.remaining[t.QName()] > 0 {
			o.want = append(o.want, t.QName())
		}
	}
	return o
}

// entry returns where the objects of an entry of table q go: the fixture, when it is q's turn,
// else q's temporary file.
func (o *fixtureOrder) entry(q string) (func(obj []byte) error, error) {
	if o.next < len(o.want) && o.want[o.next] == q {
		return func(obj []byte) error { o.put(obj); return nil }, nil
	}
	if o.remaining[q] <= 0 {
		return nil, fmt.Errorf("export: the package has more entries of table %s than its manifest lists", schema.DisplayName(q))
	}
	sp := o.spools[q]
	if sp == nil {
		f, err := os.CreateTemp(o.e.dir, "fixture-*.objects")
		if err != nil {
			return nil, fmt.Errorf("export: %w", err)
		}
		_ = os.Remove(f.Name()) // unlinked: nothing left behind
		sp = &fixtureSpool{f: f, w: bufio.NewWriterSize(f, 1<<20)}
		o.spools[q] = sp
	}
	return func(obj []byte) error {
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(obj)))
		if _, err := sp.w.Write(n[:]); err != nil {
			return fmt.Errorf("export: %w", err)
		}
		if _, err := sp.w.Write(obj); err != nil {
			return fmt.Errorf("export: %w", err)
		}
		return nil
	}, nil
}

// done counts an entry of table q as read, and writes the tables whose turn has come.
func (o *fixtureOrder) done(q string) error {
	o.remaining[q]--
	for o.next < len(o.want) && o.remaining[o.want[o.next]] <= 0 {
		o.next++
		if o.next < len(o.want) {
			if err := o.flush(o.want[o.next]); err != nil {
				return err
			}
		}
	}
	return nil
}

// flush writes the objects table q's temporary file holds into the fixture.
func (o *fixtureOrder) flush(q string) error {
	sp := o.spools[q]
	if sp == nil {
		return nil
	}
	delete(o.spools, q)
	defer sp.f.Close()
	if err := sp.w.Flush(); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	if _, err := sp.f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	r := bufio.NewReaderSize(sp.f, 1<<20)
	var obj []byte
	for {
		var n [4]byte
		if _, err := io.ReadFull(r, n[:]); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return fmt.Errorf("export: read back %s: %w", schema.DisplayName(q), err)
		}
		obj = slices.Grow(obj[:0], int(binary.BigEndian.Uint32(n[:])))[:binary.BigEndian.Uint32(n[:])]
		if _, err := io.ReadFull(r, obj); err != nil {
			return fmt.Errorf("export: read back %s: %w", schema.DisplayName(q), err)
		}
		o.put(obj)
	}
}

// finish checks every table was read whole and written.
func (o *fixtureOrder) finish() error {
	if o.next < len(o.want) {
		return fmt.Errorf("export: the package lacks entries of table %s its manifest lists", schema.DisplayName(o.want[o.next]))
	}
	return nil
}

func (o *fixtureOrder) close() {
	for _, sp := range o.spools {
		sp.f.Close()
	}
}
