package legacy

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/edmsdr/edmsdr/engine/finding"
	"github.com/edmsdr/edmsdr/engine/introspect"
	"github.com/edmsdr/edmsdr/engine/keys"
	"github.com/edmsdr/edmsdr/fixtures/localpg/localpgtest"
)

func TestMain(m *testing.M) { os.Exit(localpgtest.RunShared(m)) }

// layoutSchema is a Django-shaped library: a section tree, shelves numbered per section, volumes
// coded per shelf, loans of volumes, and pairs of two text parts.
const layoutSchema = `
CREATE TABLE django_content_type (id serial PRIMARY KEY, app_label varchar(100) NOT NULL, model varchar(100) NOT NULL, UNIQUE (app_label, model));
CREATE TABLE lib_section (id serial PRIMARY KEY, parent_id int REFERENCES lib_section, name varchar(50) NOT NULL, UNIQUE (parent_id, name));
CREATE UNIQUE INDEX lib_section_root ON lib_section (name) WHERE parent_id IS NULL;
CREATE TABLE lib_shelf (id serial PRIMARY KEY, section_id int NOT NULL REFERENCES lib_section, number int NOT NULL, UNIQUE (section_id, number));
CREATE TABLE lib_volume (id serial PRIMARY KEY, shelf_id int NOT NULL REFERENCES lib_shelf, code varchar(20) NOT NULL, UNIQUE (shelf_id, code));
CREATE TABLE lib_loan (id serial PRIMARY KEY, volume_id int NOT NULL REFERENCES lib_volume, who text NOT NULL);
CREATE TABLE lib_pair (id serial PRIMARY KEY, a text NOT NULL, b text NOT NULL, UNIQUE (a, b));
CREATE TABLE lib_pairref (id serial PRIMARY KEY, pair_id int NOT NULL REFERENCES lib_pair);
CREATE TABLE lib_note (id serial PRIMARY KEY, pair_id int NOT NULL REFERENCES lib_pair, n int NOT NULL, UNIQUE (pair_id, n));
CREATE TABLE lib_noteref (id serial PRIMARY KEY, note_id int NOT NULL REFERENCES lib_note);
`

// layoutFixture is a dumpdata --natural-foreign --natural-primary fixture of models whose
// natural_key() is (name, parent.natural_key() or None), (number, section.natural_key()) and
// (code,) + shelf.natural_key(): nested, spliced, never in the unique constraint's order.
const layoutFixture = `[
{"model": "contenttypes.contenttype", "fields": {"app_label": "lib", "model": "section"}},
{"model": "contenttypes.contenttype", "fields": {"app_label": "lib", "model": "shelf"}},
{"model": "contenttypes.contenttype", "fields": {"app_label": "lib", "model": "volume"}},
{"model": "contenttypes.contenttype", "fields": {"app_label": "lib", "model": "loan"}},
{"model": "lib.section", "fields": {"parent": null, "name": "A"}},
{"model": "lib.section", "fields": {"parent": null, "name": "B"}},
{"model": "lib.section", "fields": {"parent": ["A", null], "name": "B"}},
{"model": "lib.section", "fields": {"parent": ["B", ["A", null]], "name": "C"}},
{"model": "lib.shelf", "fields": {"section": ["B", ["A", null]], "number": 3}},
{"model": "lib.shelf", "fields": {"section": ["B", null], "number": 3}},
{"model": "lib.shelf", "fields": {"section": ["C", ["B", ["A", null]]], "number": 1}},
{"model": "lib.volume", "fields": {"shelf": [3, ["B", ["A", null]]], "code": "V1"}},
{"model": "lib.volume", "fields": {"shelf": [3, ["B", null]], "code": "V1"}},
{"model": "lib.volume", "fields": {"shelf": [1, ["C", ["B", ["A", null]]]], "code": "V1"}},
{"model": "lib.loan", "pk": 1, "fields": {"volume": ["V1", 3, ["B", ["A", null]]], "who": "ann"}},
{"model": "lib.loan", "pk": 2, "fields": {"volume": ["V1", 3, ["B", null]], "who": "bob"}},
{"model": "lib.loan", "pk": 3, "fields": {"volume": ["V1", 1, ["C", ["B", ["A", null]]]], "who": "cy"}}
]`

func layoutDB(t *testing.T) (context.Context, *localpgtest.Cluster, string) {
	t.Helper()
	tc := localpgtest.Shared(t)
	dsn := tc.NewDatabase(t, "layout")
	ctx := localpgtest.Context(t, 2*time.Minute)
	if _, err := tc.Connect(t, dsn).Exec(ctx, layoutSchema); err != nil {
		t.Fatal(err)
	}
	return ctx, tc, dsn
}

func convertString(t *testing.T, ctx context.Context, tc *localpgtest.Cluster, dsn, fixture string, kf *keys.File) (string, *ConvertResult, error) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "p.edmsdr")
	res, err := Convert(ctx, tc.Connect(t, dsn), strings.NewReader(fixture), out, ConvertOptions{Keys: kf, Tool: "test"})
	return out, res, err
}

// TestConvertLearnsNaturalKeyLayouts: the layouts are read from the fixture (every reference
// resolves to the fixture's own object, none becomes a reference row), reported as the keys-file
// lines that declare them, and an export with those lines writes the fixture's own keys back.
func TestConvertLearnsNaturalKeyLayouts(t *testing.T) {
	ctx, tc, dsn := layoutDB(t)
	pkg, res, err := convertString(t, ctx, tc, dsn, layoutFixture, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.RefRows != 0 {
		t.Errorf("%d reference rows: some natural keys were read in the wrong layout", res.RefRows)
	}
	got := map[string]string{}
	for _, l := range res.Learned {
		got[l.Model] = l.Layout
	}
	want := map[string]string{"lib.section": "[name, [parent]]", "lib.shelf": "[number, [section]]", "lib.volume": "[code, shelf]"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("learned %v, want %v", got, want)
	}

	var lines bytes.Buffer
	lines.WriteString("django:\n  models:\n")
	for m, l := range want {
		lines.WriteString("    " + m + ": {natural_key: " + l + "}\n")
	}
	kf, err := keys.ParseFile(lines.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "back.json")
	if _, err := Export(ctx, out, ExportOptions{Keys: kf, TempDir: t.TempDir(), Open: func() (io.ReadCloser, error) { return os.Open(pkg) }}); err != nil {
		t.Fatal(err)
	}
	refs := func(data []byte) map[string]string { // object -> its references, as written
		var objs []map[string]any
		if err := json.Unmarshal(data, &objs); err != nil {
			t.Fatal(err)
		}
		m := map[string]string{}
		for _, o := range objs {
			f := o["fields"].(map[string]any)
			for _, field := range []string{"parent", "section", "shelf", "volume"} {
				if v, ok := f[field]; ok {
					b, _ := json.Marshal(v)
					id, _ := json.Marshal([]any{o["model"], f["name"], f["number"], f["code"], f["who"]})
					m[string(id)] = string(b)
				}
			}
		}
		return m
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if g, w := refs(data), refs([]byte(layoutFixture)); !reflect.DeepEqual(g, w) {
		t.Errorf("the exported fixture's natural foreign keys differ from the fixture's:\ngot  %v\nwant %v", g, w)
	}

	// Declared in the keys file, the layouts are taken as they are and nothing is learned.
	_, res, err = convertString(t, ctx, tc, dsn, layoutFixture, kf)
	if err != nil || len(res.Learned) != 0 || res.RefRows != 0 {
		t.Errorf("with the layouts declared: learned %v, %d reference rows, %v", res.Learned, res.RefRows, err)
	}
}

func TestConvertNaturalKeyLayoutAmbiguity(t *testing.T) {
	ctx, tc, dsn := layoutDB(t)
	t.Run("the fixture's own objects decide", func(t *testing.T) {
		_, res, err := convertString(t, ctx, tc, dsn, `[
{"model": "lib.pair", "fields": {"a": "x", "b": "y"}},
{"model": "lib.pairref", "pk": 1, "fields": {"pair": ["y", "x"]}}]`, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Learned) != 1 || res.Learned[0].Layout != "[b, a]" || res.RefRows != 0 {
			t.Errorf("learned %+v, %d reference rows", res.Learned, res.RefRows)
		}
	})
	t.Run("nothing decides: refused, naming the keys-file entry", func(t *testing.T) {
		out, _, err := convertString(t, ctx, tc, dsn, `[{"model": "lib.pairref", "pk": 1, "fields": {"pair": ["y", "x"]}}]`, nil)
		fl := finding.FindingsOf(err)
		if len(fl) != 1 || fl[0].Kind != finding.KeyPlan || !strings.Contains(fl[0].Message, "django: models: lib.pair: natural_key: [a, b]") {
			t.Fatalf("got %v, want one key-plan finding naming the keys-file entry", err)
		}
		if _, err := os.Stat(out); !os.IsNotExist(err) {
			t.Error("a refused conversion wrote its package")
		}
	})
	t.Run("value kinds decide without objects", func(t *testing.T) {
		_, res, err := convertString(t, ctx, tc, dsn, `[
{"model": "lib.section", "fields": {"parent": null, "name": "A"}},
{"model": "lib.volume", "fields": {"shelf": [7, ["A", null]], "code": "V9"}}]`, nil)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, l := range res.Learned {
			got[l.Model] = l.Layout
		}
		if got["lib.shelf"] != "[number, [section]]" || res.RefRows != 1 {
			t.Errorf("learned %v, %d reference rows (want the shelf as one reference row)", got, res.RefRows)
		}
	})
}

// TestConvertKeepsTheDefaultLayoutWhenObjectsConfirmIt: references to tree roots read the same in
// the spliced path layout and in (name, parent): the default stays, nothing is refused.
func TestConvertKeepsTheDefaultLayoutWhenObjectsConfirmIt(t *testing.T) {
	ctx, tc, dsn := layoutDB(t)
	_, res, err := convertString(t, ctx, tc, dsn, `[
{"model": "lib.section", "fields": {"parent": null, "name": "A"}},
{"model": "lib.shelf", "fields": {"section": ["A"], "number": 1}}]`, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Learned) != 0 || res.RefRows != 0 {
		t.Errorf("learned %+v, %d reference rows", res.Learned, res.RefRows)
	}
}

// TestTargetResolverNestedLayouts: the database a fixture is meant for computes its rows' natural
// keys in the declared layouts (a nested tree key, a nested key in the model's own order, a spliced
// one after a plain part), so that they compare with the keys an export writes.
func TestTargetResolverNestedLayouts(t *testing.T) {
	ctx, tc, dsn := layoutDB(t)
	conn := tc.Connect(t, dsn)
	if _, err := conn.Exec(ctx, `
INSERT INTO lib_section (id, parent_id, name) VALUES (10, NULL, 'A'), (11, 10, 'B'), (12, NULL, 'B');
INSERT INTO lib_shelf (id, section_id, number) VALUES (20, 11, 3), (21, 12, 3);
INSERT INTO lib_volume (id, shelf_id, code) VALUES (30, 20, 'V1'), (31, 21, 'V1');`); err != nil {
		t.Fatal(err)
	}
	s, err := introspect.Read(ctx, conn, introspect.Options{})
	if err != nil {
		t.Fatal(err)
	}
	kf, err := keys.ParseFile([]byte(`
django:
  models:
    lib.section: {natural_key: [name, [parent]]}
    lib.shelf: {natural_key: [number, [section]]}
    lib.volume: {natural_key: [code, shelf]}
`))
	if err != nil {
		t.Fatal(err)
	}
	plan, err := keys.Build(s, kf)
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewMapping(s, plan, kf)
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewTargetResolver(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(ctx)
	for _, c := range []struct {
		model, key string
		want       int64
	}{
		{"lib.section", `["B", ["A", null]]`, 11},
		{"lib.section", `["B", null]`, 12},
		{"lib.shelf", `[3, ["B", ["A", null]]]`, 20},
		{"lib.shelf", `[3, ["B", null]]`, 21},
		{"lib.volume", `["V1", 3, ["B", null]]`, 31},
		{"lib.volume", `["V1", 3, ["B", ["A", null]]]`, 30},
	} {
		got, found, _, err := r.Resolve(ctx, m.Model(c.model), json.RawMessage(c.key), 999)
		if err != nil || !found || got != c.want {
			t.Errorf("%s %s: got %d (found %v, %v), want %d", c.model, c.key, got, found, err, c.want)
		}
	}
}

// TestConvertRefusesKeysThatDoNotFitTheDeclaredLayout: a declared layout is not second-guessed; keys
// that do not fit it are refused, naming the layout and where it came from.
func TestConvertRefusesKeysThatDoNotFitTheDeclaredLayout(t *testing.T) {
	ctx, tc, dsn := layoutDB(t)
	kf, err := keys.ParseFile([]byte("django:\n  models:\n    lib.section: {natural_key: [name, [parent]]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = convertString(t, ctx, tc, dsn, `[
{"model": "lib.section", "fields": {"parent": null, "name": "A"}},
{"model": "lib.shelf", "fields": {"section": ["A"], "number": 1}}]`, kf)
	fl := finding.FindingsOf(err)
	if len(fl) != 1 || fl[0].Kind != finding.KeyPlan || !strings.Contains(fl[0].Message, "[name, [parent]] (as the keys file declares)") {
		t.Fatalf("got %v, want one key-plan finding naming the declared layout", err)
	}
}

// TestConvertSettlesEmbeddedLayouts: pairs are referred to only inside the natural keys of notes;
// their layout is learned from those sub-lists (the fixture's own pairs decide between [a, b] and
// [b, a]) and every reference resolves to the fixture's own rows.
func TestConvertSettlesEmbeddedLayouts(t *testing.T) {
	ctx, tc, dsn := layoutDB(t)
	_, res, err := convertString(t, ctx, tc, dsn, `[
{"model": "lib.pair", "pk": 5, "fields": {"a": "x", "b": "y"}},
{"model": "lib.pair", "pk": 6, "fields": {"a": "y", "b": "x"}},
{"model": "lib.pair", "pk": 7, "fields": {"a": "x", "b": "z"}},
{"model": "lib.note", "pk": 1, "fields": {"pair": 5, "n": 1}},
{"model": "lib.note", "pk": 2, "fields": {"pair": 7, "n": 1}},
{"model": "lib.noteref", "pk": 1, "fields": {"note": [1, ["y", "x"]]}},
{"model": "lib.noteref", "pk": 2, "fields": {"note": [1, ["z", "x"]]}}]`, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, l := range res.Learned {
		got[l.Model] = l.Layout
	}
	if want := map[string]string{"lib.note": "[n, [pair]]", "lib.pair": "[b, a]"}; !reflect.DeepEqual(got, want) || res.RefRows != 0 {
		t.Errorf("learned %v, %d reference rows; want %v and none", got, res.RefRows, want)
	}
	// The same, but the fixture's pairs confirm the default layout: it stays, and the pairs'
	// registry (emptied while the candidates were compared) is built again.
	_, res, err = convertString(t, ctx, tc, dsn, `[
{"model": "lib.pair", "pk": 5, "fields": {"a": "x", "b": "y"}},
{"model": "lib.pair", "pk": 6, "fields": {"a": "y", "b": "x"}},
{"model": "lib.pair", "pk": 7, "fields": {"a": "x", "b": "z"}},
{"model": "lib.note", "pk": 1, "fields": {"pair": 5, "n": 1}},
{"model": "lib.note", "pk": 2, "fields": {"pair": 7, "n": 1}},
{"model": "lib.noteref", "pk": 1, "fields": {"note": [1, ["x", "y"]]}},
{"model": "lib.noteref", "pk": 2, "fields": {"note": [1, ["x", "z"]]}}]`, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Learned) != 1 || res.Learned[0].Layout != "[n, [pair]]" || res.RefRows != 0 {
		t.Errorf("learned %+v, %d reference rows; want the note's layout only and none", res.Learned, res.RefRows)
	}
}
