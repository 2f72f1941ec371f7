package security_test

import (
	"fmt"
	"maps"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/edmsdr/edmsdr/engine/finding"
	"github.com/edmsdr/edmsdr/engine/keys"
	"github.com/edmsdr/edmsdr/engine/pack"
	"github.com/edmsdr/edmsdr/engine/restore"
	"github.com/edmsdr/edmsdr/suites/label"
	"github.com/edmsdr/edmsdr/suites/suitekit"
)

// hostile is a name shaped to break out of an identifier or a literal if it were ever spliced
// into SQL unquoted.
const hostile = `"; DROP TABLE auth_user; --`

// mutation damages a package's header and manifest the way a hostile package would.
type mutation struct {
	header   func(*pack.Header)
	manifest func(*pack.Manifest)
}

// ownMaps gives m its own copies of the maps a mutation edits (the digest and plan tables).
func ownMaps(m *pack.Manifest) {
	m.Digest.Tables = maps.Clone(m.Digest.Tables)
	plan := *m.Plan
	plan.Tables = maps.Clone(plan.Tables)
	m.Plan = &plan
}

// renameTable renames table from to to in the header, and in the manifest's digest, key plan and
// schema snapshot, so that the package stays self-consistent and only the target can refuse it.
func renameTable(from, to string) mutation {
	return mutation{
		header: func(h *pack.Header) {
			for i := range h.Tables {
				if h.Tables[i].Table == from {
					h.Tables[i].Table = to
				}
			}
		},
		manifest: func(m *pack.Manifest) {
			ownMaps(m)
			m.Digest.Tables[to] = m.Digest.Tables[from]
			delete(m.Digest.Tables, from)
			m.Digest = pack.NewDigest(m.Digest.Tables)
			m.Plan.Tables[to] = m.Plan.Tables[from]
			delete(m.Plan.Tables, from)
			for _, t := range m.Schema.Tables {
				if t.QName() == from {
					t.Schema, t.Name, _ = strings.Cut(to, ".")
				}
			}
		},
	}
}

// renameColumn renames a column of table in the header and the schema snapshot.
func renameColumn(table, from, to string) mutation {
	return mutation{
		header: func(h *pack.Header) {
			for i := range h.Tables {
				if h.Tables[i].Table == table {
					h.Tables[i].Columns = append([]string(nil), h.Tables[i].Columns...)
					for j, c := range h.Tables[i].Columns {
						if c == from {
							h.Tables[i].Columns[j] = to
						}
					}
				}
			}
		},
		manifest: func(m *pack.Manifest) {
			for _, t := range m.Schema.Tables {
				if t.QName() == table {
					for j := range t.Columns {
						if t.Columns[j].Name == from {
							t.Columns[j].Name = to
						}
					}
				}
			}
		},
	}
}

// hostileEntry is one hostile package and the finding kinds its refusal may carry.
func hostileEntry(desc string, mut mutation, allowed ...finding.Kind) TableEntry {
	return Entry(desc, SpecTimeout(2*time.Minute), mut, allowed)
}

// editPlan edits the manifest's key plan only.
func editPlan(edit func(*keys.Plan)) mutation {
	return mutation{manifest: func(m *pack.Manifest) {
		ownMaps(m)
		edit(m.Plan)
	}}
}

var _ = Describe("names from a package", Label(label.Security, label.Injection), Ordered, func() {
	var pkg, tgt, before string
	var dir string

	BeforeAll(func(ctx SpecContext) {
		src := miniSource(ctx)
		tgt = miniTarget(ctx)
		// A table the package must never reach: in another schema, under a name a hostile
		// package could aim at.
		suitekit.Exec(ctx, tgt, `CREATE SCHEMA vault`, `CREATE TABLE vault.secret (id serial PRIMARY KEY, body text)`,
			`INSERT INTO vault.secret (body) VALUES ('do not touch')`)
		dir = GinkgoT().TempDir()
		pkg, _ = suitekit.Backup(ctx, src, nil)
		before = digestOf(tgt)
	}, NodeTimeout(2*time.Minute))

	// intact asserts that the target is exactly as it was: digest, the user table, the other
	// schema's table.
	intact := func(ctx SpecContext, what string) {
		GinkgoHelper()
		Expect(digestOf(tgt)).To(Equal(before), "%s: the target changed", what)
		Expect(suitekit.Count(ctx, tgt, `SELECT count(*) FROM auth_user`)).To(Equal(int64(1)), what)
		Expect(suitekit.Count(ctx, tgt, `SELECT count(*) FROM vault.secret WHERE body = 'do not touch'`)).To(Equal(int64(1)), what)
		Expect(suitekit.Count(ctx, tgt, `SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')`)).To(Equal(int64(3)), what)
	}

	DescribeTable("are matched against the target's catalog and quoted: a hostile package is refused and nothing runs",
		func(ctx SpecContext, mut mutation, allowed []finding.Kind) {
			path := filepath.Join(dir, fmt.Sprintf("hostile-%d.edmsdr", roleCounter.Add(1)))
			rewritePackage(pkg, path, pack.WriterOptions{}, mut.header, mut.manifest)
			res, err := suitekit.Restore(ctx, tgt, path, restore.Options{})
			Expect(err).To(HaveOccurred(), "hostile package accepted")
			Expect(res.Committed).To(BeFalse())
			kinds := finding.FindingsOf(err).Kinds()
			Expect(kinds).NotTo(BeEmpty(), "refused without findings: %v", err)
			Expect(kinds).To(HaveEach(BeElementOf(allowed)), "%v", err)
			GinkgoWriter.Printf("refused with %v\n", kinds)
			intact(ctx, CurrentSpecReport().LeafNodeText)
		},
		hostileEntry("table name with SQL in it", renameTable("public.note", "public.note"+hostile), finding.SchemaMismatch),
		hostileEntry("unqualified table name with SQL in it", renameTable("public.note", "note; DROP TABLE auth_user"), finding.SchemaMismatch, finding.Corrupt),
		hostileEntry("column name with SQL in it", renameColumn("public.note", "body", "body"+hostile), finding.SchemaMismatch),
		hostileEntry("a 1 MiB table name", renameTable("public.note", "public."+strings.Repeat("n", 1<<20)), finding.SchemaMismatch),
		hostileEntry("a 1 MiB column name", renameColumn("public.note", "body", strings.Repeat("b", 1<<20)), finding.SchemaMismatch),
		hostileEntry("NUL byte in a table name", renameTable("public.note", "public.note\x00"+hostile), finding.SchemaMismatch),
		hostileEntry("NUL byte in a column name", renameColumn("public.note", "body", "body\x00"+hostile), finding.SchemaMismatch),
		hostileEntry("a table that exists only in another schema", renameTable("public.note", "public.secret"), finding.SchemaMismatch),
		hostileEntry("the bare name of a table in another schema", renameTable("public.note", "secret"), finding.SchemaMismatch, finding.Corrupt),
		hostileEntry("a table of another schema with other columns", renameTable("public.note", "vault.secret"), finding.SchemaMismatch),
		hostileEntry("a schema name with SQL in it", renameTable("public.note", `public"; DROP TABLE auth_user; --.note`), finding.SchemaMismatch),
		hostileEntry("natural key column with SQL in it", editPlan(func(p *keys.Plan) {
			p.Tables["public.auth_user"] = &keys.TablePlan{NaturalKey: []string{"username" + hostile}, Source: "keys file"}
		}), finding.KeyPlan),
		hostileEntry("generic foreign key columns with SQL in them", editPlan(func(p *keys.Plan) {
			p.ContentTypes = &keys.ContentTypes{Table: "public.auth_user", AppLabelColumn: "username", ModelColumn: "username"}
			p.GenericFKs = []keys.GenericFK{{Table: "public.note", ContentTypeColumn: "author_id" + hostile, ObjectIDColumn: "id" + hostile}}
		}), finding.KeyPlan),
		hostileEntry("content type table with SQL in it", editPlan(func(p *keys.Plan) {
			p.ContentTypes = &keys.ContentTypes{Table: "public.auth_user" + hostile, AppLabelColumn: "username", ModelColumn: "username"}
			p.GenericFKs = []keys.GenericFK{{Table: "public.note", ContentTypeColumn: "author_id", ObjectIDColumn: "id"}}
		}), finding.KeyPlan),
		hostileEntry("content type columns with SQL in them (they reach the server, quoted)", editPlan(func(p *keys.Plan) {
			p.ContentTypes = &keys.ContentTypes{Table: "public.auth_user", AppLabelColumn: `username" FROM auth_user; DROP TABLE auth_user; --`, ModelColumn: "username" + hostile}
			p.GenericFKs = []keys.GenericFK{{Table: "public.note", ContentTypeColumn: "author_id", ObjectIDColumn: "id"}}
		}), finding.SchemaMismatch, finding.KeyPlan, finding.Orphaned),
	)

	It("refuses a hostile table name through the CLI too, exit 1, before any statement on the target", func(ctx SpecContext) {
		path := filepath.Join(dir, "hostile-cli.edmsdr")
		m := renameTable("public.note", "public.note"+hostile)
		rewritePackage(pkg, path, pack.WriterOptions{}, m.header, m.manifest)
		Expect(edmsdr(nil, "verify", "--in", path).ExitCode()).To(Equal(0), "the package itself is well-formed")
		s := edmsdr(nil, "restore", "--dsn", tgt, "--in", path)
		Expect(s.ExitCode()).To(Equal(1), output(s))
		Expect(string(s.Err.Contents())).To(ContainSubstring("schema-mismatch"))
		intact(ctx, "CLI")
	}, SpecTimeout(2*time.Minute))

	It("never sends the package's column types to the server, and restores values shaped like SQL as data", func(ctx SpecContext) {
		path := filepath.Join(dir, "types.edmsdr")
		rewritePackage(pkg, path, pack.WriterOptions{}, nil, func(m *pack.Manifest) {
			for _, t := range m.Schema.Tables {
				for j := range t.Columns {
					if t.Columns[j].Name == "body" {
						t.Columns[j].Type = "text); DROP TABLE auth_user; --"
					}
				}
			}
		})
		res, err := suitekit.Restore(ctx, tgt, path, restore.Options{DryRun: true})
		Expect(err).NotTo(HaveOccurred())
		Expect(res.Verdict).To(Equal(finding.Pass))
		Expect(res.Findings.Has(finding.SchemaMismatch)).To(BeTrue(), "the type difference is reported")
		intact(ctx, "types")

		// The real package restores, its SQL-shaped values land as plain data.
		res, err = suitekit.Restore(ctx, tgt, pkg, restore.Options{})
		Expect(err).NotTo(HaveOccurred())
		Expect(res.Committed).To(BeTrue())
		Expect(suitekit.Count(ctx, tgt, `SELECT count(*) FROM auth_user WHERE username = 'bob"; DROP TABLE auth_user; --'`)).To(Equal(int64(1)))
		Expect(suitekit.Count(ctx, tgt, `SELECT count(*) FROM note WHERE body LIKE $1`, `%'); DROP TABLE auth_user; --`)).To(Equal(int64(3)))
		Expect(suitekit.Count(ctx, tgt, `SELECT count(*) FROM vault.secret WHERE body = 'do not touch'`)).To(Equal(int64(1)))
	}, SpecTimeout(2*time.Minute))
})
