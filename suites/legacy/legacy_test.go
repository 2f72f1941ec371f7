package legacy_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"

	"github.com/edmsdr/edmsdr/engine/finding"
	"github.com/edmsdr/edmsdr/engine/pack"
	"github.com/edmsdr/edmsdr/fixtures/edms"
	"github.com/edmsdr/edmsdr/suites/label"
	"github.com/edmsdr/edmsdr/suites/suitekit"
)

// run runs the edmsdr binary and waits for it.
func run(args ...string) *gexec.Session {
	GinkgoHelper()
	return suitekit.Run(command(args...), 5*time.Minute)
}

// command is the edmsdr binary with args, in the test's environment.
func command(args ...string) *exec.Cmd {
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "PGCONNECT_TIMEOUT=10")
	return cmd
}

var findingLine = regexp.MustCompile(`(?m)^\s+error ([a-z-]+)`)

// kinds lists the finding kinds a refused command printed on stderr.
func kinds(s *gexec.Session) []finding.Kind {
	var out []finding.Kind
	for _, m := range findingLine.FindAllStringSubmatch(string(s.Err.Contents()), -1) {
		out = append(out, finding.Kind(m[1]))
	}
	return out
}

// source installs and fills an EDMS database. Django fixtures cannot tell JSON null from SQL NULL
// in a nullable JSON column (Django writes and reads both as None): the generator's JSON nulls in
// audit_auditentry.changes become SQL NULLs first, so that digests can be compared exactly.
func source(ctx context.Context, seed int64) string {
	GinkgoHelper()
	url := suitekit.EDMSSource(ctx, srv, seed)
	suitekit.Exec(ctx, url, `UPDATE audit_auditentry SET changes = NULL WHERE changes = 'null'::jsonb`)
	return url
}

// expectSameData compares two digests table by table, leaving out the tables named.
func expectSameData(got, want pack.Digest, except ...string) {
	GinkgoHelper()
	for q, w := range want.Tables {
		if contains(except, q) {
			continue
		}
		g, ok := got.Tables[q]
		Expect(ok).To(BeTrue(), "table %s is digested", q)
		Expect(g.Equal(w)).To(BeTrue(), "table %s: %d rows %s, want %d rows %s", q, g.Rows, g.Hex(q)[:16], w.Rows, w.Hex(q)[:16])
	}
	if len(except) == 0 {
		Expect(got.Total).To(Equal(want.Total))
	}
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s || "public."+x == s {
			return true
		}
	}
	return false
}

var _ = Describe("Django fixtures restore into a re-initialised install", Ordered, Label(label.Legacy), func() {
	var (
		seed   int64
		src    string
		want   pack.Digest
		dir    string
		pkg    string // a backup of the source
		dumped = map[string]string{}
	)
	dumps := map[string]dumpOptions{
		"id.json":           {Format: "json"},
		"nf.jsonl":          {NaturalForeign: true, Format: "jsonl"},
		"nf-noct.json.gz":   {NaturalForeign: true, Exclude: []string{"contenttypes", "auth.permission"}, Format: "json.gz"},
		"nfnp-noaudit.json": {NaturalForeign: true, NaturalPrimary: true, Exclude: []string{"contenttypes", "auth.permission", "audit"}, Format: "json"},
	}

	BeforeAll(func(ctx SpecContext) {
		seed = knobs.Seeds[0]
		src = source(ctx, seed)
		want = suitekit.Digest(ctx, src)
		dir = GinkgoT().TempDir()
		for name, o := range dumps {
			dumped[name] = filepath.Join(dir, name)
			Expect(dumpFixture(ctx, src, dumped[name], o)).To(Succeed(), "dump %s", name)
		}
		pkg, _ = suitekit.Backup(ctx, src, nil)
	}, NodeTimeout(3*time.Minute))

	for _, name := range []string{"id.json", "nf.jsonl", "nf-noct.json.gz"} {
		It("restores "+name+" to the source's digest", func(ctx SpecContext) {
			tgt := suitekit.EDMSTarget(ctx, srv)
			s := run("restore", "--dsn", tgt, "--in", dumped[name])
			Expect(s.ExitCode()).To(Equal(0), "seed %d: %s", seed, s.Err.Contents())
			expectSameData(suitekit.Digest(ctx, tgt), want)
			// What the re-initialised install has is matched, not inserted again.
			Expect(suitekit.Count(ctx, tgt, `SELECT count(*) FROM auth_user WHERE username = 'admin'`)).To(BeEquivalentTo(1))
			Expect(suitekit.Count(ctx, tgt, `SELECT count(*) FROM django_content_type`)).To(BeEquivalentTo(len(edms.ContentTypes())))
		}, SpecTimeout(3*time.Minute))
	}

	It("restores a --natural-primary fixture (objects without pk) to the source's data", func(ctx SpecContext) {
		tgt := suitekit.EDMSTarget(ctx, srv)
		s := run("restore", "--dsn", tgt, "--in", dumped["nfnp-noaudit.json"])
		Expect(s.ExitCode()).To(Equal(0), "seed %d: %s", seed, s.Err.Contents())
		expectSameData(suitekit.Digest(ctx, tgt), want, "audit_auditentry")
		Expect(suitekit.Count(ctx, tgt, `SELECT count(*) FROM audit_auditentry`)).To(BeZero())
	}, SpecTimeout(3*time.Minute))

	It("converts a fixture into a package that restores to the same data", func(ctx SpecContext) {
		tgt := suitekit.EDMSTarget(ctx, srv)
		out := filepath.Join(GinkgoT().TempDir(), "converted.edmsdr")
		s := run("convert", "--dsn", tgt, "--in", dumped["nf-noct.json.gz"], "--out", out)
		Expect(s.ExitCode()).To(Equal(0), "%s", s.Err.Contents())
		m, err := suitekit.Verify(out)
		Expect(err).NotTo(HaveOccurred())
		Expect(m.Origin).To(Equal(pack.OriginDjangoFixture))
		var refs int64
		for _, te := range m.Tables {
			refs += te.RefRows
		}
		Expect(refs).To(BeNumerically(">", 0), "content types and permissions the fixture refers to are reference rows")
		// convert only read the target.
		Expect(suitekit.Count(ctx, tgt, `SELECT count(*) FROM documents_document`)).To(BeZero())
		s = run("restore", "--dsn", tgt, "--in", out)
		Expect(s.ExitCode()).To(Equal(0), "%s", s.Err.Contents())
		expectSameData(suitekit.Digest(ctx, tgt), want)
		// Restoring it again finds everything there.
		s = run("restore", "--dsn", tgt, "--in", out)
		Expect(s.ExitCode()).To(Equal(0), "%s", s.Err.Contents())
		Expect(string(s.Out.Contents())).To(ContainSubstring("already restored"))
	}, SpecTimeout(3*time.Minute))

	It("writes a package as a fixture that restores to the same data", func(ctx SpecContext) {
		fx := filepath.Join(GinkgoT().TempDir(), "export.json")
		s := run("fixture", "--in", pkg, "--out", fx)
		Expect(s.ExitCode()).To(Equal(0), "%s", s.Err.Contents())
		Expect(string(s.Err.Contents())).To(ContainSubstring("warning"), "objects kept their pk for generic foreign keys")
		objs := readFixture(fx)
		// Natural foreign keys and natural primary keys where the model has one.
		ct := objs.first("contenttypes.contenttype")
		Expect(ct).NotTo(HaveKey("pk"))
		perm := objs.first("auth.permission")
		Expect(perm["fields"].(map[string]any)["content_type"]).To(HaveLen(2))
		for _, t := range objs.all("workflows.transition") {
			Expect(t).To(HaveKey("pk"), "keyless models keep their pk")
		}
		tgt := suitekit.EDMSTarget(ctx, srv)
		s = run("restore", "--dsn", tgt, "--in", fx)
		Expect(s.ExitCode()).To(Equal(0), "%s", s.Err.Contents())
		expectSameData(suitekit.Digest(ctx, tgt), want)
	}, SpecTimeout(3*time.Minute))

	It("names generic foreign key targets by the target database's pks with --dsn", func(ctx SpecContext) {
		tgt := suitekit.EDMSTarget(ctx, srv)
		fx := filepath.Join(GinkgoT().TempDir(), "export.json")
		s := run("fixture", "--in", pkg, "--out", fx, "--dsn", tgt)
		Expect(s.ExitCode()).To(Equal(0), "%s", s.Err.Contents())
		objs := readFixture(fx)
		adminID := suitekit.Count(ctx, tgt, `SELECT id FROM auth_user WHERE username = 'admin'`)
		for _, u := range objs.all("auth.user") {
			if u["fields"].(map[string]any)["username"] == "admin" {
				Expect(u["pk"]).To(Equal(json.Number(strconv.FormatInt(adminID, 10))), "the audit trail names the admin: by the target's pk")
			}
		}
		s = run("restore", "--dsn", tgt, "--in", fx)
		Expect(s.ExitCode()).To(Equal(0), "%s", s.Err.Contents())
		expectSameData(suitekit.Digest(ctx, tgt), want)
	}, SpecTimeout(3*time.Minute))

	It("leaves out the objects of tables the keys file excludes", func(ctx SpecContext) {
		tgt := suitekit.EDMSTarget(ctx, srv)
		kf := filepath.Join(GinkgoT().TempDir(), "keys.yaml")
		Expect(os.WriteFile(kf, []byte("exclude: [audit_auditentry]\n"), 0o600)).To(Succeed())
		s := run("restore", "--dsn", tgt, "--in", dumped["id.json"], "--keys", kf)
		Expect(s.ExitCode()).To(Equal(0), "%s", s.Err.Contents())
		Expect(string(s.Out.Contents())).To(ContainSubstring("audit.auditentry"), "the skipped objects are reported")
		expectSameData(suitekit.Digest(ctx, tgt), want, "audit_auditentry")
		Expect(suitekit.Count(ctx, tgt, `SELECT count(*) FROM audit_auditentry`)).To(BeZero())
	}, SpecTimeout(3*time.Minute))

	It("refuses bad usage and an unreachable schema database", func(ctx SpecContext) {
		Expect(run("convert", "--out", "x.edmsdr").ExitCode()).To(Equal(2))
		Expect(run("fixture", "--in", pkg).ExitCode()).To(Equal(2))
		out := filepath.Join(GinkgoT().TempDir(), "x.edmsdr")
		s := run("convert", "--dsn", "postgres://nobody@127.0.0.1:1/none?connect_timeout=5", "--in", dumped["id.json"], "--out", out)
		Expect(s.ExitCode()).To(Equal(1))
		Expect(string(s.Err.Contents())).To(ContainSubstring("schema"))
		Expect(out).NotTo(BeAnExistingFile())
	}, SpecTimeout(time.Minute))
})

// fixture is a decoded fixture.
type fixture []map[string]any

func readFixture(path string) fixture {
	GinkgoHelper()
	data, err := os.ReadFile(path)
	Expect(err).NotTo(HaveOccurred())
	var out fixture
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	Expect(dec.Decode(&out)).To(Succeed(), "the fixture is a JSON array")
	return out
}

func (f fixture) all(model string) []map[string]any {
	var out []map[string]any
	for _, o := range f {
		if o["model"] == model {
			out = append(out, o)
		}
	}
	return out
}

func (f fixture) first(model string) map[string]any {
	GinkgoHelper()
	all := f.all(model)
	Expect(all).NotTo(BeEmpty(), "the fixture has %s objects", model)
	return all[0]
}

// lines reads a JSON Lines fixture.
func lines(path string) []map[string]any {
	GinkgoHelper()
	f, err := os.Open(path)
	Expect(err).NotTo(HaveOccurred())
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.UseNumber()
		var o map[string]any
		Expect(dec.Decode(&o)).To(Succeed())
		out = append(out, o)
	}
	Expect(sc.Err()).NotTo(HaveOccurred())
	return out
}

func writeLines(path string, objs []map[string]any) {
	GinkgoHelper()
	var b bytes.Buffer
	for _, o := range objs {
		data, err := json.Marshal(o)
		Expect(err).NotTo(HaveOccurred())
		b.Write(data)
		b.WriteByte('\n')
	}
	Expect(os.WriteFile(path, b.Bytes(), 0o600)).To(Succeed())
}

// firstOf returns the first object of model.
func firstOf(objs []map[string]any, model string) map[string]any {
	GinkgoHelper()
	for _, o := range objs {
		if o["model"] == model {
			return o
		}
	}
	Fail("no " + model + " object")
	return nil
}

func fieldsOf(o map[string]any) map[string]any { return o["fields"].(map[string]any) }

func clone(o map[string]any) map[string]any {
	data, _ := json.Marshal(o)
	var out map[string]any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	_ = dec.Decode(&out)
	return out
}

// damage is one way to break a fixture, and what the refusal must say.
type damage struct {
	base string // the dump it starts from: "id" or "nf"
	// apply changes the objects (nil when raw does the work).
	apply func(objs []map[string]any) []map[string]any
	// raw changes the file's bytes instead.
	raw  func(data []byte) []byte
	kind finding.Kind
	// restoreOnly: the fixture converts; the restore refuses it (a natural key the target lacks).
	restoreOnly bool
}

var damages = map[string]damage{
	"malformed JSON (cut in a line)": {base: "id", raw: func(d []byte) []byte {
		i := bytes.IndexByte(d[len(d)/2:], '\n') + len(d)/2
		return append(d[:i-7:i-7], "\n"...)
	}, kind: finding.Corrupt},
	"unknown model": {base: "id", apply: func(o []map[string]any) []map[string]any {
		firstOf(o, "documents.tag")["model"] = "documents.gadget"
		return o
	}, kind: finding.SchemaMismatch},
	"unknown field": {base: "id", apply: func(o []map[string]any) []map[string]any {
		fieldsOf(firstOf(o, "documents.tag"))["colour"] = "red"
		return o
	}, kind: finding.SchemaMismatch},
	"string for an integer": {base: "id", apply: func(o []map[string]any) []map[string]any {
		fieldsOf(firstOf(o, "documents.documentversion"))["version_number"] = "1"
		return o
	}, kind: finding.Constraint},
	"malformed timestamp": {base: "id", apply: func(o []map[string]any) []map[string]any {
		fieldsOf(firstOf(o, "documents.document"))["created_at"] = "2021-13-45T00:00:00Z"
		return o
	}, kind: finding.Constraint},
	"text too long for its column": {base: "id", apply: func(o []map[string]any) []map[string]any {
		fieldsOf(firstOf(o, "documents.tag"))["color"] = "#1234567890"
		return o
	}, kind: finding.Constraint},
	"NOT NULL field missing": {base: "id", apply: func(o []map[string]any) []map[string]any {
		delete(fieldsOf(firstOf(o, "documents.document")), "title")
		return o
	}, kind: finding.Constraint},
	"id of an object the fixture lacks": {base: "id", apply: func(o []map[string]any) []map[string]any {
		fieldsOf(firstOf(o, "documents.documentversion"))["document"] = json.Number("999999")
		return o
	}, kind: finding.Orphaned},
	"content types missing (id-based)": {base: "id", apply: func(o []map[string]any) []map[string]any {
		var out []map[string]any
		for _, x := range o {
			if x["model"] != "contenttypes.contenttype" {
				out = append(out, x)
			}
		}
		return out
	}, kind: finding.Orphaned},
	"duplicate pk": {base: "id", apply: func(o []map[string]any) []map[string]any {
		dup := clone(firstOf(o, "documents.tag"))
		fieldsOf(dup)["name"] = "another tag"
		return append(o, dup)
	}, kind: finding.Duplicated},
	"duplicate natural key": {base: "id", apply: func(o []map[string]any) []map[string]any {
		dup := clone(firstOf(o, "documents.tag"))
		dup["pk"] = json.Number("987654")
		return append(o, dup)
	}, kind: finding.Duplicated},
	"natural key of the wrong length": {base: "nf", apply: func(o []map[string]any) []map[string]any {
		fieldsOf(firstOf(o, "documents.document"))["owner"] = []any{"a", "b"}
		return o
	}, kind: finding.KeyPlan},
	"natural key neither fixture nor target has": {base: "nf", apply: func(o []map[string]any) []map[string]any {
		g := fieldsOf(firstOf(o, "auth.group"))
		g["permissions"] = append(g["permissions"].([]any), []any{"no_such_permission", "documents", "document"})
		return o
	}, kind: finding.Orphaned, restoreOnly: true},
	"generic foreign key to an object without pk": {base: "nfnp", kind: finding.Orphaned},
}

var _ = Describe("Bad Django fixtures are refused and the target is unchanged", Ordered, Label(label.Legacy), func() {
	var (
		tgt    string
		before pack.Digest
		base   = map[string]string{}
	)
	BeforeAll(func(ctx SpecContext) {
		src := source(ctx, knobs.Seeds[0])
		dir := GinkgoT().TempDir()
		for name, o := range map[string]dumpOptions{
			"id":   {Format: "jsonl"},
			"nf":   {NaturalForeign: true, Format: "jsonl"},
			"nfnp": {NaturalForeign: true, NaturalPrimary: true, Exclude: []string{"contenttypes", "auth.permission"}, Format: "jsonl"},
		} {
			base[name] = filepath.Join(dir, name+".jsonl")
			Expect(dumpFixture(ctx, src, base[name], o)).To(Succeed())
		}
		tgt = suitekit.EDMSTarget(ctx, srv)
		before = suitekit.Digest(ctx, tgt)
	}, NodeTimeout(3*time.Minute))

	for name, d := range damages {
		It("refuses "+name+" ("+string(d.kind)+")", func(ctx SpecContext) {
			dir := GinkgoT().TempDir()
			bad := filepath.Join(dir, "bad.jsonl")
			switch {
			case d.raw != nil:
				data, err := os.ReadFile(base[d.base])
				Expect(err).NotTo(HaveOccurred())
				Expect(os.WriteFile(bad, d.raw(data), 0o600)).To(Succeed())
			case d.apply != nil:
				writeLines(bad, d.apply(lines(base[d.base])))
			default:
				bad = base[d.base]
			}
			out := filepath.Join(dir, "bad.edmsdr")
			s := run("convert", "--dsn", tgt, "--in", bad, "--out", out)
			if d.restoreOnly {
				Expect(s.ExitCode()).To(Equal(0), "%s", s.Err.Contents())
			} else {
				Expect(s.ExitCode()).To(Equal(1), "%s", s.Out.Contents())
				Expect(kinds(s)).To(ContainElement(d.kind), "%s", s.Err.Contents())
				Expect(out).NotTo(BeAnExistingFile())
				Expect(out + ".partial").NotTo(BeAnExistingFile())
			}
			s = run("restore", "--dsn", tgt, "--in", bad)
			Expect(s.ExitCode()).To(Equal(1), "%s", s.Out.Contents())
			Expect(kinds(s)).To(ContainElement(d.kind), "%s", s.Err.Contents())
			Expect(suitekit.Digest(ctx, tgt).Total).To(Equal(before.Total), "the target is unchanged")
		}, SpecTimeout(2*time.Minute))
	}
})

var _ = Describe("A large fixture", Label(label.Legacy, label.Memory), func() {
	It("restores with memory that does not grow with the fixture", func(ctx SpecContext) {
		// Peak memory rises while the fixed-size buffers fill (COPY chunks, zstd windows, the
		// entry the restore reads ahead and the chunk the package writer compresses in the
		// background: 8 MiB each once a table's rows pass a chunk), then stays flat: a fixture
		// four times larger must not need noticeably more. The smaller fixture is large enough
		// that its biggest tables fill those buffers too (at 3000 documents they did not, and
		// the two read-ahead buffers alone made up most of the allowed difference).
		dir := GinkgoT().TempDir()
		const mediumDocs, largeDocs = 6000, 24000
		measure := func(docs int) (int64, int64, time.Duration) {
			path := filepath.Join(dir, fmt.Sprintf("f%d.jsonl", docs))
			Expect(writeSyntheticFixture(path, 1, docs)).To(Succeed())
			st, err := os.Stat(path)
			Expect(err).NotTo(HaveOccurred())
			tgt := suitekit.EDMSTarget(ctx, srv)
			start := time.Now()
			s, peak := suitekit.RunPeak(command("restore", "--dsn", tgt, "--in", path), 5*time.Minute)
			Expect(s.ExitCode()).To(Equal(0), "%s", s.Err.Contents())
			took := time.Since(start)
			Expect(suitekit.Count(ctx, tgt, `SELECT count(*) FROM documents_document WHERE document_number LIKE 'BIG-%'`)).To(BeEquivalentTo(docs))
			Expect(suitekit.Count(ctx, tgt, `SELECT count(*) FROM audit_auditentry`)).To(BeEquivalentTo(6 * docs))
			return st.Size(), peak, took
		}
		mSize, mRSS, mTook := measure(mediumDocs)
		lSize, lRSS, lTook := measure(largeDocs)
		note := fmt.Sprintf("restore --in FIXTURE: %d MiB fixture in %s, peak RSS %d MiB; %d MiB fixture in %s, peak RSS %d MiB",
			mSize>>20, mTook.Round(time.Millisecond), mRSS>>20, lSize>>20, lTook.Round(time.Millisecond), lRSS>>20)
		AddReportEntry("large fixture", note)
		fmt.Fprintln(GinkgoWriter, note)
		Expect(lRSS).To(BeNumerically("<", mRSS+24<<20), note)
		Expect(lRSS).To(BeNumerically("<", 192<<20), note)
	}, SpecTimeout(8*time.Minute))
})

// writeSyntheticFixture writes a JSON Lines fixture for the EDMS schema with docs documents, each
// with a version (a 2 KiB blob, the document/version cycle through current_version) and six audit
// entries, plus users; references to the seeded rows (document types, groups, content types) are
// natural keys. Deterministic by seed.
func writeSyntheticFixture(path string, seed int64, docs int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	rng := newRand(seed)
	blob := make([]byte, 2048)
	const users = 200
	for u := 1; u <= users; u++ {
		fmt.Fprintf(w, `{"model": "auth.user", "pk": %d, "fields": {"password": "x", "last_login": null, "is_superuser": false, "username": "big%05d", "first_name": "Bïg", "last_name": "Üser", "email": "", "is_staff": false, "is_active": true, "date_joined": "2021-01-01T00:00:00Z", "groups": [["editors"]], "user_permissions": []}}`+"\n", u, u)
	}
	audit := 0
	for d := 1; d <= docs; d++ {
		fmt.Fprintf(w, `{"model": "documents.document", "pk": %d, "fields": {"document_number": "BIG-%07d", "title": "Document %d \t «ü»", "description": null, "document_type": ["contract"], "folder": null, "owner": ["big%05d"], "metadata": {"n": %d}, "created_at": "2021-02-03T04:05:06.789Z", "updated_at": "2021-02-03T04:05:06.789+02:00", "current_version": %d, "tags": []}}`+"\n",
			d, d, d, 1+d%users, d, d)
		rng.Read(blob)
		fmt.Fprintf(w, `{"model": "documents.documentversion", "pk": %d, "fields": {"document": %d, "version_number": 1, "content": %q, "sha256": "%064x", "mime_type": "application/octet-stream", "size": %d, "comment": "", "created_by": null, "created_at": "2021-02-03T04:05:06Z"}}`+"\n",
			d, d, encodeBase64(blob), d, len(blob))
		for range 6 {
			audit++
			fmt.Fprintf(w, `{"model": "audit.auditentry", "pk": %d, "fields": {"content_type": ["documents", "document"], "object_id": %d, "action": "view", "actor": ["big%05d"], "timestamp": "2022-01-01T00:00:%02dZ", "changes": {"seen": true}, "remote_addr": "10.0.%d.%d"}}`+"\n",
				audit, d, 1+audit%users, audit%60, audit%256, d%256)
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return f.Close()
}

func newRand(seed int64) *rand.Rand { return rand.New(rand.NewSource(seed)) }

func encodeBase64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
