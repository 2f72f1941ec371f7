package cycle_test

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/edmsdr/edmsdr/engine/pack"
	"github.com/edmsdr/edmsdr/suites/label"
	"github.com/edmsdr/edmsdr/suites/suitekit"
)

// changedTables lists the tables whose digest lines differ.
func changedTables(a, b pack.Digest) []string {
	var out []string
	for q, t := range a.Tables {
		if o, ok := b.Tables[q]; !ok || !o.Equal(t) {
			out = append(out, q)
		}
	}
	return out
}

var _ = Describe("The logical digest", Label(label.Cycle, label.Digest), func() {
	var src string
	var base pack.Digest
	// clone copies the source database (CREATE DATABASE … TEMPLATE) and changes it.
	clone := func(ctx context.Context, sql ...string) pack.Digest {
		GinkgoHelper()
		db := suitekit.NewDatabase(ctx, srv, "clone")
		Expect(srv.DropDatabase(ctx, db)).To(Succeed())
		suitekit.Exec(ctx, srv.DSN("postgres"), `CREATE DATABASE "`+db+`" TEMPLATE "`+dbName(src)+`"`)
		suitekit.Exec(ctx, srv.DSN(db), sql...)
		return suitekit.Digest(ctx, srv.DSN(db))
	}
	BeforeEach(func(ctx SpecContext) {
		src = suitekit.EDMSSource(ctx, srv, 21)
		base = suitekit.Digest(ctx, src)
	}, NodeTimeout(time.Minute))

	It("does not depend on ids: renumbering every document leaves it equal", func(ctx SpecContext) {
		got := clone(ctx, `BEGIN`, `SET CONSTRAINTS ALL DEFERRED`,
			`UPDATE documents_document SET id = id + 500000`,
			`UPDATE documents_documentversion SET document_id = document_id + 500000`,
			`UPDATE workflows_workflow SET document_id = document_id + 500000`,
			`UPDATE documents_document_tags SET document_id = document_id + 500000`,
			`UPDATE audit_auditentry a SET object_id = object_id + 500000 FROM django_content_type c
			   WHERE c.id = a.content_type_id AND c.app_label = 'documents' AND c.model = 'document'`, `COMMIT`)
		Expect(got.Total).To(Equal(base.Total))
	}, SpecTimeout(time.Minute))

	It("differs when one value of one row changes, in that table only", func(ctx SpecContext) {
		got := clone(ctx, `UPDATE documents_document SET title = title || '.' WHERE id = (SELECT min(id) FROM documents_document)`)
		Expect(got.Total).NotTo(Equal(base.Total))
		Expect(changedTables(base, got)).To(ConsistOf("public.documents_document"))
	}, SpecTimeout(time.Minute))

	It("differs when a reference points at another row", func(ctx SpecContext) {
		got := clone(ctx, `UPDATE documents_document SET owner_id = (SELECT id FROM auth_user WHERE username = 'admin')
			WHERE id = (SELECT min(id) FROM documents_document WHERE owner_id <> (SELECT id FROM auth_user WHERE username = 'admin'))`)
		Expect(changedTables(base, got)).To(ConsistOf("public.documents_document"))
	}, SpecTimeout(time.Minute))

	It("differs when a generic reference points at another object", func(ctx SpecContext) {
		got := clone(ctx, `UPDATE audit_auditentry SET object_id = (SELECT max(id) FROM documents_document)
			WHERE id = (SELECT min(a.id) FROM audit_auditentry a JOIN django_content_type c ON c.id = a.content_type_id
			            WHERE c.model = 'document' AND a.object_id <> (SELECT max(id) FROM documents_document))`)
		Expect(changedTables(base, got)).To(ConsistOf("public.audit_auditentry"))
	}, SpecTimeout(time.Minute))

	It("counts duplicate keyless rows: removing one of two equal rows changes it", func(ctx SpecContext) {
		n := suitekit.Count(ctx, src, `SELECT count(*) FROM (SELECT 1 FROM workflows_transition
			GROUP BY workflow_id, from_state, to_state, actor_id, comment, created_at HAVING count(*) > 1) d`)
		Expect(n).To(BeNumerically(">", 0), "the generator makes duplicate keyless rows")
		got := clone(ctx, `DELETE FROM workflows_transition WHERE id = (SELECT max(t.id) FROM workflows_transition t
			JOIN (SELECT workflow_id, from_state, to_state, created_at FROM workflows_transition
			      GROUP BY workflow_id, from_state, to_state, actor_id, comment, created_at HAVING count(*) > 1 LIMIT 1) d
			USING (workflow_id, from_state, to_state, created_at))`)
		Expect(changedTables(base, got)).To(ConsistOf("public.workflows_transition"))
		Expect(got.Tables["public.workflows_transition"].Rows).To(Equal(base.Tables["public.workflows_transition"].Rows - 1))
	}, SpecTimeout(time.Minute))

	It("differs when a folder moves to another parent (the identity of a tree node is its path)", func(ctx SpecContext) {
		got := clone(ctx, `UPDATE documents_folder f SET parent_id = (SELECT min(id) FROM documents_folder WHERE parent_id IS NULL AND id <> f.parent_id)
			WHERE f.id = (SELECT max(id) FROM documents_folder WHERE parent_id IS NOT NULL
			              AND name NOT IN (SELECT name FROM documents_folder WHERE parent_id = (SELECT min(id) FROM documents_folder WHERE parent_id IS NULL)))`)
		Expect(got.Total).NotTo(Equal(base.Total))
		Expect(changedTables(base, got)).To(ContainElement("public.documents_folder"))
	}, SpecTimeout(time.Minute))
})

// dbName extracts the database name from a URL DSN.
func dbName(url string) string {
	i := len(url)
	for j := len(url) - 1; j >= 0; j-- {
		if url[j] == '?' {
			i = j
		}
		if url[j] == '/' {
			return url[j+1 : i]
		}
	}
	return url
}
