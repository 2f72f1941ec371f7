package legacy

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/edmsdr/edmsdr/engine/finding"
	"github.com/edmsdr/edmsdr/engine/keys"
	"github.com/edmsdr/edmsdr/engine/pack"
	"github.com/edmsdr/edmsdr/engine/schema"
)

// djangoRows are the rows of a hand-built package of djangoSchema, as COPY text.
func djangoRows() map[string][]string {
	return map[string][]string{
		"django_content_type": {
			"1\tcontenttypes\tcontenttype", "2\tauth\tpermission", "3\tauth\tgroup", "4\tauth\tuser",
			"5\tdocuments\tfolder", "6\tdocuments\tdocument", "7\taudit\tauditentry",
		},
		"auth_permission":        {"10\tCan add document\t6\tadd_document", "11\tCan view folder\t5\tview_folder"},
		"auth_group":             {"20\teditors"},
		"auth_group_permissions": {"1\t20\t10", "2\t20\t11"},
		"auth_user":              {"30\tadmin\t\\N", "31\tzoë\t2021-03-04 05:06:07.123+00"},
		"auth_user_groups":       {"1\t31\t20"},
		"documents_folder":       {"40\t\\N\troot", "41\t40\tchild\\twith tab", "42\t41\tleaf"},
		"documents_document": {
			"50\tDOC-1\t42\t31\t\\\\x0102\t{\"a\": [1, null]}\t12.50",
			"51\tDOC-2\t\\N\t30\t\\\\x\t\\N\t\\N",
		},
		"documents_document_related": {"1\t50\t51"},
		"audit_auditentry":           {"1\t6\t51\tview", "2\t\\N\t\\N\tlogin", "3\t4\t31\tpassword"},
	}
}

// writePackage writes a package of s with rows (by table name) at path.
func writePackage(tb testing.TB, path string, s *schema.Schema, rows map[string][]string) {
	tb.Helper()
	writePackageIn(tb, path, s, rows, schema.BuildGraph(s).Order)
}

// writePackageIn writes a package of s with rows (by table name) at path, its tables in order.
func writePackageIn(tb testing.TB, path string, s *schema.Schema, rows map[string][]string, order []*schema.Table) {
	tb.Helper()
	plan, err := keys.Build(s, nil)
	if err != nil {
		tb.Fatal(err)
	}
	w, err := pack.Create(path, pack.WriterOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	hdr := pack.Header{Tool: "test"}
	for i, t := range order {
		hdr.Tables = append(hdr.Tables, pack.TableLayout{Index: i, Table: t.QName(), Columns: t.DataColumns()})
	}
	if err := w.WriteHeader(hdr); err != nil {
		tb.Fatal(err)
	}
	tables := map[string]pack.TableDigest{}
	for i, t := range order {
		ts := w.Table(i, t.QName())
		for _, r := range rows[t.Name] {
			if _, err := io.WriteString(ts, r+"\n"); err != nil {
				tb.Fatal(err)
			}
		}
		te, err := ts.Close()
		if err != nil {
			tb.Fatal(err)
		}
		tables[t.QName()] = pack.TableDigest{Rows: te.Rows, Sum1: "0", Sum2: "0"}
	}
	m := &pack.Manifest{Tool: "test", CreatedAt: time.Unix(0, 0).UTC(), ServerVersion: 150000, Schema: s, Plan: plan, Digest: pack.NewDigest(tables)}
	if err := w.Close(m); err != nil {
		tb.Fatal(err)
	}
}

func exportFile(tb testing.TB, path string, opts ExportOptions) (string, *ExportResult, error) {
	tb.Helper()
	out := filepath.Join(tb.TempDir(), "fixture.json")
	opts.Open = func() (io.ReadCloser, error) { return os.Open(path) }
	opts.TempDir = tb.TempDir()
	res, err := Export(context.Background(), out, opts)
	return out, res, err
}

// exportObjects exports the package at path (exportFile), failing tb on an error, and returns
// the objects of the fixture written (a JSON array), its path and the result.
func exportObjects(tb testing.TB, path string, opts ExportOptions) ([]map[string]any, string, *ExportResult) {
	tb.Helper()
	out, res, err := exportFile(tb, path, opts)
	if err != nil {
		tb.Fatal(err)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		tb.Fatal(err)
	}
	var objs []map[string]any
	if err := json.Unmarshal(data, &objs); err != nil {
		tb.Fatalf("not a JSON array: %v\n%s", err, data)
	}
	return objs, out, res
}

// TestExportHandBuiltPackage checks the fixture written for a hand-built package object by object:
// natural foreign keys (spliced through content types, a tree path), natural primary keys except
// where a generic foreign key needs the pk, folded many-to-many lists, and values as Django's
// serializer writes them.
func TestExportHandBuiltPackage(t *testing.T) {
	pkg := filepath.Join(t.TempDir(), "p.edmsdr")
	writePackage(t, pkg, djangoSchema(), djangoRows())
	got, out, res := exportObjects(t, pkg, ExportOptions{})
	want := `[
{"model": "contenttypes.contenttype", "fields": {"app_label": "contenttypes", "model": "contenttype"}},
{"model": "contenttypes.contenttype", "fields": {"app_label": "auth", "model": "permission"}},
{"model": "contenttypes.contenttype", "fields": {"app_label": "auth", "model": "group"}},
{"model": "contenttypes.contenttype", "fields": {"app_label": "auth", "model": "user"}},
{"model": "contenttypes.contenttype", "fields": {"app_label": "documents", "model": "folder"}},
{"model": "contenttypes.contenttype", "fields": {"app_label": "documents", "model": "document"}},
{"model": "contenttypes.contenttype", "fields": {"app_label": "audit", "model": "auditentry"}},
{"model": "audit.auditentry", "pk": 1, "fields": {"content_type": ["documents", "document"], "object_id": 51, "action": "view"}},
{"model": "audit.auditentry", "pk": 2, "fields": {"content_type": null, "object_id": null, "action": "login"}},
{"model": "audit.auditentry", "pk": 3, "fields": {"content_type": ["auth", "user"], "object_id": 31, "action": "password"}},
{"model": "auth.group", "fields": {"name": "editors", "permissions": [["add_document", "documents", "document"], ["view_folder", "documents", "folder"]]}},
{"model": "auth.permission", "fields": {"name": "Can add document", "content_type": ["documents", "document"], "codename": "add_document"}},
{"model": "auth.permission", "fields": {"name": "Can view folder", "content_type": ["documents", "folder"], "codename": "view_folder"}},
{"model": "auth.user", "fields": {"username": "admin", "last_login": null, "groups": []}},
{"model": "auth.user", "pk": 31, "fields": {"username": "zoë", "last_login": "2021-03-04T05:06:07.123Z", "groups": [["editors"]]}},
{"model": "documents.folder", "fields": {"parent": null, "name": "root"}},
{"model": "documents.folder", "fields": {"parent": ["root"], "name": "child\twith tab"}},
{"model": "documents.folder", "fields": {"parent": ["root", "child\twith tab"], "name": "leaf"}},
{"model": "documents.document", "fields": {"document_number": "DOC-1", "folder": ["root", "child\twith tab", "leaf"], "owner": ["zoë"], "content": "AQI=", "metadata": {"a": [1, null]}, "price": "12.50", "related": [["DOC-2"]]}},
{"model": "documents.document", "pk": 51, "fields": {"document_number": "DOC-2", "folder": null, "owner": ["admin"], "content": "", "metadata": null, "price": null, "related": []}}
]`
	var exp []map[string]any
	if err := json.Unmarshal([]byte(want), &exp); err != nil {
		t.Fatal(err)
	}
	byModel := func(l []map[string]any) map[string][]map[string]any {
		out := map[string][]map[string]any{}
		for _, o := range l {
			out[o["model"].(string)] = append(out[o["model"].(string)], o)
		}
		return out
	}
	g, e := byModel(got), byModel(exp)
	for model, objs := range e {
		if !reflect.DeepEqual(g[model], objs) {
			gj, _ := json.MarshalIndent(g[model], "", " ")
			ej, _ := json.MarshalIndent(objs, "", " ")
			t.Errorf("model %s:\ngot  %s\nwant %s", model, gj, ej)
		}
	}
	if len(got) != len(exp) {
		t.Errorf("%d objects, want %d", len(got), len(exp))
	}
	if res.Objects != int64(len(exp)) || res.GenericTargets != 2 || len(res.Warnings) != 1 {
		t.Errorf("result %+v", res)
	}
	// Referenced models come before the models that refer to them (loaddata needs no forward
	// references but reads better that way); content types first of all.
	if got[0]["model"] != "contenttypes.contenttype" {
		t.Errorf("first object is %v", got[0]["model"])
	}
	if _, err := os.Stat(out + ".partial"); !os.IsNotExist(err) {
		t.Errorf("the partial file is left behind: %v", err)
	}
}

// TestExportOrderIsTheSchemasNotThePackages: a package whose tables come in another order (a
// backup streams the larger table of a cycle first, and generic foreign keys' targets before the
// tables that point at them) gives the same fixture, byte for byte: Django's loaddata needs the
// objects a natural key runs through (a document for its versions) before the objects using it.
func TestExportOrderIsTheSchemasNotThePackages(t *testing.T) {
	s := djangoSchema()
	inOrder := filepath.Join(t.TempDir(), "p.edmsdr")
	writePackage(t, inOrder, s, djangoRows())
	reversed := slices.Clone(schema.BuildGraph(s).Order)
	slices.Reverse(reversed)
	backwards := filepath.Join(t.TempDir(), "r.edmsdr")
	writePackageIn(t, backwards, s, djangoRows(), reversed)
	var fixtures [2][]byte
	for i, pkg := range []string{inOrder, backwards} {
		out, _, err := exportFile(t, pkg, ExportOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if fixtures[i], err = os.ReadFile(out); err != nil {
			t.Fatal(err)
		}
	}
	if string(fixtures[0]) != string(fixtures[1]) {
		t.Errorf("the fixture depends on the package's table order:\n%s\nwant\n%s", fixtures[1], fixtures[0])
	}
}

func TestExportRefusals(t *testing.T) {
	s := djangoSchema()
	t.Run("a table without a model that a model refers to", func(t *testing.T) {
		rows := djangoRows()
		rows["django_content_type"] = append(rows["django_content_type"][:4:4], rows["django_content_type"][5:]...) // no documents.folder
		pkg := filepath.Join(t.TempDir(), "p.edmsdr")
		writePackage(t, pkg, s, rows)
		out, _, err := exportFile(t, pkg, ExportOptions{})
		fl := finding.FindingsOf(err)
		if len(fl) != 1 || !fl.Has(finding.SchemaMismatch) || fl[0].Table != "documents_folder" || !strings.Contains(fl[0].Message, "documents_document refers to it") {
			t.Fatalf("got %v, want a schema-mismatch finding naming documents_folder and its referrer", err)
		}
		if _, err := os.Stat(out); !os.IsNotExist(err) {
			t.Error("a refused export wrote its fixture")
		}
	})
	t.Run("tables without a model in a package without content types", func(t *testing.T) {
		rows := djangoRows()
		delete(rows, "django_content_type")
		delete(rows, "auth_permission")
		delete(rows, "auth_group_permissions")
		pkg := filepath.Join(t.TempDir(), "p.edmsdr")
		writePackage(t, pkg, s, rows)
		_, _, err := exportFile(t, pkg, ExportOptions{})
		fl := finding.FindingsOf(err)
		if !fl.Has(finding.SchemaMismatch) || !strings.Contains(fl[0].Message, "no content types") {
			t.Fatalf("got %v, want a schema-mismatch finding saying the package has no content types", err)
		}
	})
	t.Run("strict generic targets", func(t *testing.T) {
		pkg := filepath.Join(t.TempDir(), "p.edmsdr")
		writePackage(t, pkg, s, djangoRows())
		_, _, err := exportFile(t, pkg, ExportOptions{Strict: true})
		if !finding.FindingsOf(err).Has(finding.Unsupported) {
			t.Fatalf("got %v, want an unsupported finding", err)
		}
	})
	t.Run("damaged package", func(t *testing.T) {
		pkg := filepath.Join(t.TempDir(), "p.edmsdr")
		writePackage(t, pkg, s, djangoRows())
		data, err := os.ReadFile(pkg)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(pkg, data[:len(data)/2], 0o600); err != nil {
			t.Fatal(err)
		}
		out, _, err := exportFile(t, pkg, ExportOptions{})
		if !finding.FindingsOf(err).Has(finding.Corrupt) {
			t.Fatalf("got %v, want a corrupt finding", err)
		}
		if _, err := os.Stat(out); !os.IsNotExist(err) {
			t.Error("an export of a damaged package wrote its fixture")
		}
	})
	t.Run("existing output", func(t *testing.T) {
		pkg := filepath.Join(t.TempDir(), "p.edmsdr")
		writePackage(t, pkg, s, djangoRows())
		out := filepath.Join(t.TempDir(), "f.json")
		if err := os.WriteFile(out, []byte("keep"), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Export(context.Background(), out, ExportOptions{Open: func() (io.ReadCloser, error) { return os.Open(pkg) }})
		if err == nil || !strings.Contains(err.Error(), "exists") {
			t.Fatalf("got %v, want a refusal to overwrite", err)
		}
	})
}

// TestExportSkipsTablesThatAreNoModel: tables no content type names and no model refers to
// (django_migrations, an audit table whose app has no content type) are left out as dumpdata leaves
// them out, and the result lists them.
func TestExportSkipsTablesThatAreNoModel(t *testing.T) {
	s := djangoSchema()
	mig := idTable("django_migrations", col("app", "character varying(255)"), col("name", "character varying(255)"), col("applied", "timestamp with time zone"))
	s = schema.New(append(s.Tables, mig))
	rows := djangoRows()
	rows["django_content_type"] = rows["django_content_type"][:6] // no audit.auditentry
	rows["django_migrations"] = []string{"1\tcontenttypes\t0001_initial\t2024-01-01 00:00:00+00", "2\tauth\t0001_initial\t2024-01-01 00:00:01+00"}
	pkg := filepath.Join(t.TempDir(), "p.edmsdr")
	writePackage(t, pkg, s, rows)
	objs, _, res := exportObjects(t, pkg, ExportOptions{})
	want := []SkippedTable{{Table: "audit_auditentry", Rows: 3}, {Table: "django_migrations", Rows: 2}}
	got := append([]SkippedTable(nil), res.Skipped...)
	sort.Slice(got, func(i, j int) bool { return got[i].Table < got[j].Table })
	if !reflect.DeepEqual(got, want) {
		t.Errorf("skipped %+v, want %+v", got, want)
	}
	for _, o := range objs {
		if m := o["model"]; m == "audit.auditentry" || strings.Contains(m.(string), "migration") {
			t.Errorf("the fixture holds %v", o)
		}
	}
	if len(objs) != 16 {
		t.Errorf("%d objects, want 16 (the hand-built package's 20 less 3 audit entries and their content type)", len(objs))
	}
}

// TestExportNestedLayouts: a keys file's natural_key layout, nested and in the model's own order,
// is the layout the fixture's natural foreign keys are written in.
func TestExportNestedLayouts(t *testing.T) {
	pkg := filepath.Join(t.TempDir(), "p.edmsdr")
	writePackage(t, pkg, djangoSchema(), djangoRows())
	kf, err := keys.ParseFile([]byte(`
django:
  models:
    documents.folder: {natural_key: [name, [parent]]}
    documents.document: {natural_key: [[folder], document_number]}
`))
	if err != nil {
		t.Fatal(err)
	}
	got, _, _ := exportObjects(t, pkg, ExportOptions{Keys: kf})
	var folders, related []string
	for _, o := range got {
		f := o["fields"].(map[string]any)
		switch o["model"] {
		case "documents.folder":
			b, _ := json.Marshal(f["parent"])
			folders = append(folders, string(b))
		case "documents.document":
			if f["document_number"] == "DOC-1" {
				b, _ := json.Marshal(f["folder"])
				folders = append(folders, string(b))
				b, _ = json.Marshal(f["related"])
				related = append(related, string(b))
			}
		}
	}
	want := []string{`null`, `["root",null]`, `["child\twith tab",["root",null]]`, `["leaf",["child\twith tab",["root",null]]]`}
	if !reflect.DeepEqual(folders, want) {
		t.Errorf("folder keys written %q, want %q", folders, want)
	}
	if want := []string{`[[null,"DOC-2"]]`}; !reflect.DeepEqual(related, want) {
		t.Errorf("document keys written %q, want %q", related, want)
	}
}
