package corrupt_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/edmsdr/edmsdr/corrupt"
	"github.com/edmsdr/edmsdr/engine/finding"
	"github.com/edmsdr/edmsdr/engine/keys"
	"github.com/edmsdr/edmsdr/engine/pack"
	"github.com/edmsdr/edmsdr/engine/schema"
)

// sampleSchema is a small schema with the shapes the injectors look for: natural keys without
// foreign-key parts, a foreign key, a keyless table, typed and NOT NULL columns outside any key.
func sampleSchema() *schema.Schema {
	id := func(typ string) schema.Column {
		return schema.Column{Name: "id", Type: typ, NotNull: true, HasDefault: true, Sequence: "seq"}
	}
	return schema.New([]*schema.Table{
		{Schema: "public", Name: "owner", PrimaryKey: []string{"id"},
			Columns: []schema.Column{id("integer"), {Name: "name", Type: "text", NotNull: true}, {Name: "active", Type: "boolean", NotNull: true}, {Name: "note", Type: "text", NotNull: true}},
			Uniques: []schema.Unique{{Name: "owner_name_key", Columns: []string{"name"}, Constraint: true}}},
		{Schema: "public", Name: "doc", PrimaryKey: []string{"id"},
			Columns:     []schema.Column{id("integer"), {Name: "number", Type: "character varying(64)", NotNull: true}, {Name: "owner_id", Type: "integer", NotNull: true}, {Name: "title", Type: "text", NotNull: true}},
			ForeignKeys: []schema.ForeignKey{{Name: "doc_owner_fk", Columns: []string{"owner_id"}, RefSchema: "public", RefTable: "owner", RefColumns: []string{"id"}}},
			Uniques:     []schema.Unique{{Name: "doc_number_key", Columns: []string{"number"}, Constraint: true}}},
		{Schema: "public", Name: "django_content_type", PrimaryKey: []string{"id"},
			Columns: []schema.Column{id("integer"), {Name: "app_label", Type: "character varying(100)", NotNull: true}, {Name: "model", Type: "character varying(100)", NotNull: true}},
			Uniques: []schema.Unique{{Name: "ct_key", Columns: []string{"app_label", "model"}, Constraint: true}}},
		{Schema: "public", Name: "event", PrimaryKey: []string{"id"},
			Columns: []schema.Column{id("bigint"), {Name: "doc_id", Type: "integer"}, {Name: "action", Type: "text", NotNull: true}, {Name: "origin", Type: "text", NotNull: true},
				{Name: "at", Type: "timestamp with time zone", NotNull: true}, {Name: "content_type_id", Type: "integer"}, {Name: "object_id", Type: "integer"}},
			ForeignKeys: []schema.ForeignKey{
				{Name: "event_doc_fk", Columns: []string{"doc_id"}, RefSchema: "public", RefTable: "doc", RefColumns: []string{"id"}},
				{Name: "event_ct_fk", Columns: []string{"content_type_id"}, RefSchema: "public", RefTable: "django_content_type", RefColumns: []string{"id"}},
			}},
		{Schema: "public", Name: "empty", PrimaryKey: []string{"id"}, Columns: []schema.Column{id("integer"), {Name: "x", Type: "text"}}},
		{Schema: "public", Name: "tagline", PrimaryKey: []string{"id"}, Columns: []schema.Column{id("integer"), {Name: "text", Type: "text", NotNull: true}}},
	})
}

func sampleRows() map[string][]string {
	rows := map[string][]string{
		"public.owner":               {"1\talice\tt\tfirst", "2\tbob\tf\t", "3\tzoë\tt\tC:\\\\dir"},
		"public.empty":               nil,
		"public.django_content_type": {"1\tpublic\tdoc", "2\tpublic\towner"},
		"public.tagline":             {"1\tfirst", "2\tsecond", "3\tthird"},
	}
	for i := 1; i <= 40; i++ {
		rows["public.doc"] = append(rows["public.doc"], fmt.Sprintf("%d\tD-%03d\t%d\tTitle %d\\twith tab", i, i, 1+i%3, i))
		rows["public.event"] = append(rows["public.event"], fmt.Sprintf("%d\t%d\tcreated\tweb\t2024-05-06 07:08:%02d+00\t1\t%d", i, i, i%60, i))
	}
	return rows
}

// samplePackage writes a valid package of the sample schema with small chunks.
func samplePackage(tb testing.TB) []byte {
	tb.Helper()
	s := sampleSchema()
	plan, err := keys.Build(s, nil)
	if err != nil {
		tb.Fatal(err)
	}
	path := filepath.Join(tb.TempDir(), "sample.edmsdr")
	w, err := pack.Create(path, pack.WriterOptions{ChunkBytes: 512})
	if err != nil {
		tb.Fatal(err)
	}
	var layouts []pack.TableLayout
	for i, t := range s.Tables {
		layouts = append(layouts, pack.TableLayout{Index: i, Table: t.QName(), Columns: t.DataColumns()})
	}
	if err := w.WriteHeader(pack.Header{Tool: "corrupt-test", Tables: layouts}); err != nil {
		tb.Fatal(err)
	}
	rows := sampleRows()
	sums := map[string]pack.TableDigest{}
	for i, t := range s.Tables {
		ts := w.Table(i, t.QName())
		for _, r := range rows[t.QName()] {
			if _, err := ts.Write([]byte(r + "\n")); err != nil {
				tb.Fatal(err)
			}
		}
		if _, err := ts.Close(); err != nil {
			tb.Fatal(err)
		}
		sums[t.QName()] = pack.TableDigest{Rows: int64(len(rows[t.QName()])), Sum1: fmt.Sprint(100 + i), Sum2: fmt.Sprint(200 + i)}
	}
	m := &pack.Manifest{Tool: "corrupt-test", CreatedAt: time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC), ServerVersion: 150000, Database: "sample", Schema: s, Plan: plan, Digest: pack.NewDigest(sums)}
	if err := w.Close(m); err != nil {
		tb.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

const sampleFixture = `[
  {"model": "auth.user", "pk": 3, "fields": {"username": "alice", "is_active": true, "is_staff": false, "email": "a@example.org"}},
  {"model": "documents.documenttype", "pk": 1, "fields": {"name": "contract", "label": "Contract", "is_default": false}},
  {"model": "documents.document", "pk": 1, "fields": {"document_number": "L-1", "title": "One", "owner": 3, "document_type": 1}},
  {"model": "documents.document", "pk": 2, "fields": {"document_number": "L-2", "title": "Two: \"quoted\"", "owner": 3, "document_type": 1}}
]
`

func verify(pkg []byte) (*pack.Manifest, error) {
	return pack.Verify(bytes.NewReader(pkg), pack.Limits{})
}

var seeds = []int64{1, 2, 3, 4, 5, 6}

func TestRegistryIsWellFormed(t *testing.T) {
	reg := corrupt.Registry()
	if len(reg) < 20 {
		t.Fatalf("registry holds %d injectors, want at least 20", len(reg))
	}
	names := map[string]bool{}
	valid := regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)
	for _, in := range reg {
		if !valid.MatchString(in.Name) || names[in.Name] {
			t.Errorf("injector name %q: not unique or not lowercase words joined by dashes", in.Name)
		}
		names[in.Name] = true
		if got, ok := corrupt.Lookup(in.Name); !ok || got.Name != in.Name {
			t.Errorf("Lookup(%q) does not find it", in.Name)
		}
		d := in.Detection
		switch in.AppliesTo {
		case corrupt.Package:
			if d.Verify != corrupt.Refuse && d.Verify != corrupt.Accept {
				t.Errorf("%s: package injector with verify outcome %q", in.Name, d.Verify)
			}
		case corrupt.Fixture:
			if d.Verify != corrupt.NotRun {
				t.Errorf("%s: fixture injector with verify outcome %q", in.Name, d.Verify)
			}
		default:
			t.Errorf("%s: applies to %q", in.Name, in.AppliesTo)
		}
		if (d.Restore == corrupt.Refuse) == (len(d.Kinds) == 0) || (d.Restore != corrupt.Refuse && d.Restore != corrupt.Exact) {
			t.Errorf("%s: detection %+v: a refusal needs kinds, an exact restore none", in.Name, d)
		}
		if d.Verify == corrupt.Refuse && d.Restore != corrupt.Refuse {
			t.Errorf("%s: verify refuses but restore does not: a restore reads through the same checks", in.Name)
		}
	}
	if _, ok := corrupt.Lookup("no-such-injector"); ok {
		t.Error("Lookup found an injector that does not exist")
	}
}

// TestPackageInjectors checks every package injector on the sample package: deterministic, never
// touching its input, really damaging, seeded where it says so, and pack.Verify doing what its
// detection declares.
func TestPackageInjectors(t *testing.T) {
	src := samplePackage(t)
	if _, err := verify(src); err != nil {
		t.Fatalf("sample package refused: %v", err)
	}
	orig := bytes.Clone(src)
	for _, in := range corrupt.Registry() {
		if in.AppliesTo != corrupt.Package {
			continue
		}
		t.Run(in.Name, func(t *testing.T) {
			distinct := map[string]bool{}
			for _, seed := range seeds {
				got, err := in.Inject(src, seed)
				if err != nil {
					t.Fatalf("seed %d: %v", seed, err)
				}
				if !bytes.Equal(src, orig) {
					t.Fatalf("seed %d: Inject modified its input", seed)
				}
				again, err := in.Inject(src, seed)
				if err != nil || !bytes.Equal(got, again) {
					t.Fatalf("seed %d: not deterministic (err %v)", seed, err)
				}
				if bytes.Equal(got, src) {
					t.Fatalf("seed %d: output equals the input", seed)
				}
				distinct[string(got)] = true
				m, err := verify(got)
				switch in.Detection.Verify {
				case corrupt.Refuse:
					if rerr := in.Detection.Refusal(err); rerr != nil {
						t.Errorf("seed %d: verify: %v", seed, rerr)
					}
					if m != nil && err != nil && m.Digest.Total == "" {
						t.Errorf("seed %d: verify returned an empty manifest", seed)
					}
				case corrupt.Accept:
					if err != nil {
						t.Errorf("seed %d: verify refused, want it accepted: %v", seed, err)
					}
				}
			}
			if in.Seeded && len(distinct) < 2 {
				t.Errorf("seeded injector gave the same bytes for %d seeds", len(seeds))
			}
			if !in.Seeded && len(distinct) != 1 {
				t.Errorf("unseeded injector gave %d different outputs", len(distinct))
			}
		})
	}
}

// TestSemanticDamageIsAllThatChanged checks that resealed damage keeps everything else intact:
// the damaged package's tables and digest match the original's except where the injector acts.
func TestSemanticDamageIsAllThatChanged(t *testing.T) {
	src := samplePackage(t)
	want, err := verify(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"changed-value", "dangling-reference", "wrong-type-value", "duplicate-id"} {
		in, _ := corrupt.Lookup(name)
		got, err := in.Inject(src, 1)
		if err != nil {
			t.Fatal(err)
		}
		m, err := verify(got)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if m.Digest.Total != want.Digest.Total || len(m.Tables) != len(want.Tables) {
			t.Errorf("%s: digest or tables changed", name)
		}
		for i := range m.Tables {
			if m.Tables[i].Rows != want.Tables[i].Rows {
				t.Errorf("%s: table %s has %d rows, want %d", name, m.Tables[i].Table, m.Tables[i].Rows, want.Tables[i].Rows)
			}
		}
	}
	// The removed and duplicated rows change counts, and the digest's counts follow.
	for name, delta := range map[string]int64{"removed-row": -1, "duplicated-row": 1} {
		in, _ := corrupt.Lookup(name)
		got, err := in.Inject(src, 2)
		if err != nil {
			t.Fatal(err)
		}
		m, err := verify(got)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var before, after int64
		for i := range m.Tables {
			before += want.Tables[i].Rows
			after += m.Tables[i].Rows
		}
		if after-before != delta {
			t.Errorf("%s: %d rows, was %d", name, after, before)
		}
	}
}

func TestResealAndRepackKeepAPackageValid(t *testing.T) {
	src := samplePackage(t)
	es, err := corrupt.Unpack(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := corrupt.Reseal(es); err != nil {
		t.Fatal(err)
	}
	pkg, err := corrupt.Repack(es)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := verify(pkg); err != nil {
		t.Fatalf("unpacked, resealed and repacked package refused: %v", err)
	}
	if _, err := corrupt.Unpack([]byte("not a package")); err == nil {
		t.Error("Unpack accepted garbage")
	}
}

func TestFixtureInjectors(t *testing.T) {
	src := []byte(sampleFixture)
	for _, in := range corrupt.Registry() {
		if in.AppliesTo != corrupt.Fixture {
			continue
		}
		t.Run(in.Name, func(t *testing.T) {
			distinct := map[string]bool{}
			for _, seed := range seeds {
				got, err := in.Inject(src, seed)
				if err != nil {
					t.Fatalf("seed %d: %v", seed, err)
				}
				again, _ := in.Inject(src, seed)
				if !bytes.Equal(got, again) {
					t.Fatalf("seed %d: not deterministic", seed)
				}
				if string(got) == string(src) {
					t.Fatalf("seed %d: output equals the input", seed)
				}
				distinct[string(got)] = true
				// Damage to the syntax breaks the JSON; damage to the content keeps it valid.
				syntax := in.Detection.Kinds[0] == finding.Corrupt && len(in.Detection.Kinds) == 1
				if json.Valid(got) == syntax {
					t.Errorf("seed %d: json.Valid = %v, want %v", seed, !syntax, syntax)
				}
			}
			if in.Seeded && len(distinct) < 2 {
				t.Errorf("seeded injector gave the same bytes for %d seeds", len(seeds))
			}
		})
	}
	in, _ := corrupt.Lookup("fixture-unknown-field")
	if _, err := in.Inject([]byte("not json"), 1); err == nil {
		t.Error("a fixture injector accepted a source that is not a fixture")
	}
}

func TestFlip(t *testing.T) {
	src := samplePackage(t)
	raw, err := corrupt.Decompress(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, level := range []corrupt.Level{corrupt.Compressed, corrupt.Uncompressed} {
		a, at, err := corrupt.Flip(src, level, 3, 9)
		if err != nil {
			t.Fatal(err)
		}
		b, _, _ := corrupt.Flip(src, level, 3, 9)
		c, _, _ := corrupt.Flip(src, level, 3, 10)
		if !bytes.Equal(a, b) || bytes.Equal(a, c) || len(at) != 3 {
			t.Errorf("%s: not deterministic by seed, or seeds agree", level)
		}
		before := src
		if level == corrupt.Uncompressed {
			before = raw
			if a, err = corrupt.Decompress(a); err != nil {
				t.Fatal(err)
			}
		}
		diff := 0
		for i := range before {
			if before[i] != a[i] {
				diff++
			}
		}
		if diff == 0 || diff > 3 {
			t.Errorf("%s: %d bytes differ, want 1 to 3", level, diff)
		}
	}
	if _, _, err := corrupt.Flip(nil, corrupt.Compressed, 1, 1); !errors.Is(err, corrupt.ErrNotApplicable) {
		t.Errorf("flip of nothing: %v", err)
	}
}

func TestDetectionRefusal(t *testing.T) {
	d := corrupt.Detection{Verify: corrupt.Refuse, Restore: corrupt.Refuse, Kinds: []finding.Kind{finding.Corrupt, finding.Constraint}}
	refused := func(kinds ...finding.Kind) error {
		var l finding.List
		for _, k := range kinds {
			l.Add(finding.Finding{Kind: k, Message: "x"})
		}
		return fmt.Errorf("wrapped: %w", &finding.Refused{Op: "test", Findings: l})
	}
	for name, c := range map[string]struct {
		err error
		ok  bool
	}{
		"accepted":             {nil, false},
		"plain error":          {errors.New("connection reset"), false},
		"no finding":           {refused(), false},
		"acceptable kind":      {refused(finding.Corrupt), true},
		"acceptable kinds":     {refused(finding.Constraint, finding.Corrupt), true},
		"one unacceptable":     {refused(finding.Corrupt, finding.Orphaned), false},
		"only warnings":        {&finding.Refused{Findings: finding.List{{Kind: finding.Corrupt, Severity: finding.Warning}}}, false},
		"warning of any kind":  {&finding.Refused{Findings: finding.List{{Kind: finding.Corrupt, Severity: finding.Error}, {Kind: finding.Diverged, Severity: finding.Warning}}}, true},
		"error among warnings": {&finding.Refused{Findings: finding.List{{Kind: finding.Lost, Severity: finding.Error}, {Kind: finding.Corrupt, Severity: finding.Warning}}}, false},
	} {
		if got := d.Refusal(c.err); (got == nil) != c.ok {
			t.Errorf("%s: Refusal = %v, want ok %v", name, got, c.ok)
		}
	}
	if s := d.String(); s != "verify+restore: corrupt|constraint" {
		t.Errorf("String = %q", s)
	}
	if s := (corrupt.Detection{Verify: corrupt.Accept, Restore: corrupt.Exact}).String(); s != "harmless: restores exactly" {
		t.Errorf("String = %q", s)
	}
}

// TestInjectorsOnJunk feeds every injector input it cannot damage as intended: it must return
// an error or some bytes, never panic.
func TestInjectorsOnJunk(t *testing.T) {
	emptyTar, err := corrupt.Repack(nil)
	if err != nil {
		t.Fatal(err)
	}
	onlyHeader, err := corrupt.Repack([]corrupt.Entry{corrupt.File(pack.HeaderName, []byte(`{"format":1,"tool":"x","tables":[]}`))})
	if err != nil {
		t.Fatal(err)
	}
	// A package whose manifest lacks its schema snapshot and key plan.
	es, err := corrupt.Unpack(samplePackage(t))
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]any{}
	last := &es[len(es)-1]
	if err := json.Unmarshal(last.Data, &m); err != nil {
		t.Fatal(err)
	}
	delete(m, "schema")
	delete(m, "plan")
	if last.Data, err = json.Marshal(m); err != nil {
		t.Fatal(err)
	}
	bare, err := corrupt.Repack(es)
	if err != nil {
		t.Fatal(err)
	}
	junk := map[string][]byte{
		"no schema or plan": bare,
		"nothing":           nil, "one byte": {0x28}, "text": []byte("hello"), "fixture": []byte(sampleFixture),
		"empty archive": emptyTar, "header only": onlyHeader, "empty JSON array": []byte("[]"),
	}
	for _, in := range corrupt.Registry() {
		for name, src := range junk {
			func() {
				defer func() {
					if p := recover(); p != nil {
						t.Errorf("%s on %s: panic: %v", in.Name, name, p)
					}
				}()
				_, _ = in.Inject(src, 1)
			}()
		}
	}
}
