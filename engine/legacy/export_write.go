package legacy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"github.com/edmsdr/edmsdr/engine/copytext"
	"github.com/edmsdr/edmsdr/engine/keys"
	"github.com/edmsdr/edmsdr/engine/pack"
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
