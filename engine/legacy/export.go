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
	"strconv"
	"strings"
	"time"

	"github.com/edmsdr/edmsdr/engine/copytext"
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
	if err := e.checkStrict(); err != nil {
		return nil, err
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
		if en.Large {
			return nil, fmt.Errorf("export: table %s holds a value too large for a fixture (entry %s, %d bytes): packages with large values cannot be exported", schema.DisplayName(en.Layout.Table), en.Name, en.Size)
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
		v, null, err := copytext.Unescape(fields[i])
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
		fields = copytext.SplitRow(buf[:len(buf)-1], fields)
		if err := fn(fields); err != nil {
			return err
		}
	}
}
