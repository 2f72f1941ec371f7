package chaos_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/edmsdr/edmsdr/engine/backup"
	"github.com/edmsdr/edmsdr/engine/digest"
	"github.com/edmsdr/edmsdr/engine/dsn"
	"github.com/edmsdr/edmsdr/engine/finding"
	"github.com/edmsdr/edmsdr/engine/introspect"
	"github.com/edmsdr/edmsdr/engine/keys"
	"github.com/edmsdr/edmsdr/engine/restore"
	"github.com/edmsdr/edmsdr/fixtures/edms"
	"github.com/edmsdr/edmsdr/suites/label"
	"github.com/edmsdr/edmsdr/suites/suitekit"
)

// writers change an EDMS database from several goroutines, each in transactions of its own that
// leave the database consistent: new documents with a version, a workflow, a transition, a tag
// and an audit entry; edits (title, workflow state, a transition, an audit entry); deletions of
// documents a writer created, with everything that points at them.
type writers struct {
	commits atomic.Int64
	stop    chan struct{}
	wg      sync.WaitGroup
	mu      sync.Mutex
	errs    []error
}

// writerIDs are rows the writers pick from, read once.
type writerIDs struct {
	docCT  int32   // django_content_type of documents.document
	users  []int32 // auth_user
	types  []int32 // documents_documenttype
	tags   []int32 // documents_tag
	shared []int32 // documents the generator made: edited, never deleted
}

func startWriters(ctx context.Context, u string, seed int64, n int) *writers {
	GinkgoHelper()
	var ids writerIDs
	conn := suitekit.Connect(ctx, u)
	Expect(conn.QueryRow(ctx, `SELECT id FROM django_content_type WHERE app_label = 'documents' AND model = 'document'`).Scan(&ids.docCT)).To(Succeed())
	for _, q := range []struct {
		sql string
		dst *[]int32
	}{
		{`SELECT id FROM auth_user ORDER BY id`, &ids.users},
		{`SELECT id FROM documents_documenttype ORDER BY id`, &ids.types},
		{`SELECT id FROM documents_tag ORDER BY id`, &ids.tags},
		{`SELECT id FROM documents_document ORDER BY id`, &ids.shared},
	} {
		rows, err := conn.Query(ctx, q.sql)
		Expect(err).NotTo(HaveOccurred())
		*q.dst, err = pgx.CollectRows(rows, pgx.RowTo[int32])
		Expect(err).NotTo(HaveOccurred())
		Expect(*q.dst).NotTo(BeEmpty(), q.sql)
	}
	Expect(conn.Close(ctx)).To(Succeed())

	w := &writers{stop: make(chan struct{})}
	for i := range n {
		conn, err := dsn.Connect(ctx, u)
		Expect(err).NotTo(HaveOccurred())
		w.wg.Add(1)
		go func() {
			defer GinkgoRecover()
			defer w.wg.Done()
			defer conn.Close(context.WithoutCancel(ctx))
			w.run(ctx, conn, ids, i, rand.New(rand.NewPCG(uint64(seed), uint64(i))))
		}()
	}
	return w
}

// Stop stops the writers and returns what went wrong for them.
func (w *writers) Stop() []error {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	w.wg.Wait()
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.errs
}

func (w *writers) run(ctx context.Context, conn *pgx.Conn, ids writerIDs, id int, rng *rand.Rand) {
	var mine []int32
	for n := 0; ; n++ {
		select {
		case <-w.stop:
			return
		case <-ctx.Done():
			return
		default:
		}
		op := rng.IntN(10)
		var created, deleted int32
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			switch {
			case op < 5 || len(mine) < 3:
				d, err := writeDocument(ctx, tx, ids, fmt.Sprintf("W%d-%d", id, n), rng)
				created = d
				return err
			case op < 8:
				doc := ids.shared[rng.IntN(len(ids.shared))]
				if rng.IntN(2) == 0 {
					doc = mine[rng.IntN(len(mine))]
				}
				return editDocument(ctx, tx, ids, doc, rng)
			default:
				deleted = mine[rng.IntN(len(mine))]
				return deleteDocument(ctx, tx, ids, deleted)
			}
		})
		var pgErr *pgconn.PgError
		switch {
		case err == nil:
			w.commits.Add(1)
			if created != 0 {
				mine = append(mine, created)
			}
			if deleted != 0 {
				mine = removeID(mine, deleted)
			}
		case errors.As(err, &pgErr) && (pgErr.Code == "40P01" || pgErr.Code == "40001"):
			// A deadlock or serialization failure between writers: that transaction is gone
			// whole; the next one goes on.
		case ctx.Err() != nil:
			return
		default:
			w.mu.Lock()
			w.errs = append(w.errs, fmt.Errorf("writer %d, transaction %d: %w", id, n, err))
			w.mu.Unlock()
			return
		}
	}
}

func removeID(ids []int32, id int32) []int32 {
	out := ids[:0]
	for _, x := range ids {
		if x != id {
			out = append(out, x)
		}
	}
	return out
}

func writeDocument(ctx context.Context, tx pgx.Tx, ids writerIDs, number string, rng *rand.Rand) (int32, error) {
	user := ids.users[rng.IntN(len(ids.users))]
	var doc, version, workflow int32
	if err := tx.QueryRow(ctx, `INSERT INTO documents_document (document_number, title, document_type_id, owner_id, metadata, created_at, updated_at)
		VALUES ($1, $2, $3, $4, '{"writer": true}', now(), now()) RETURNING id`,
		number, "written during the backup "+number, ids.types[rng.IntN(len(ids.types))], user).Scan(&doc); err != nil {
		return 0, err
	}
	content := []byte(strings.Repeat(number+" ", 1+rng.IntN(50)))
	if err := tx.QueryRow(ctx, `INSERT INTO documents_documentversion (document_id, version_number, content, sha256, mime_type, size, created_by_id, created_at)
		VALUES ($1, 1, $2, encode(sha256($2), 'hex'), 'text/plain', length($2), $3, now()) RETURNING id`, doc, content, user).Scan(&version); err != nil {
		return 0, err
	}
	if _, err := tx.Exec(ctx, `UPDATE documents_document SET current_version_id = $1 WHERE id = $2`, version, doc); err != nil {
		return 0, err
	}
	if err := tx.QueryRow(ctx, `INSERT INTO workflows_workflow (document_id, workflow_type, state, started_by_id, started_at)
		VALUES ($1, 'review', 'draft', $2, now()) RETURNING id`, doc, user).Scan(&workflow); err != nil {
		return 0, err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO workflows_transition (workflow_id, from_state, to_state, actor_id, created_at)
		VALUES ($1, 'new', 'draft', $2, now())`, workflow, user); err != nil {
		return 0, err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO documents_document_tags (document_id, tag_id) VALUES ($1, $2)`, doc, ids.tags[rng.IntN(len(ids.tags))]); err != nil {
		return 0, err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO audit_auditentry (content_type_id, object_id, action, actor_id, "timestamp")
		VALUES ($1, $2, 'create', $3, now())`, ids.docCT, doc, user); err != nil {
		return 0, err
	}
	return doc, nil
}

func editDocument(ctx context.Context, tx pgx.Tx, ids writerIDs, doc int32, rng *rand.Rand) error {
	user := ids.users[rng.IntN(len(ids.users))]
	state := []string{"draft", "review", "approved", "archived"}[rng.IntN(4)]
	if _, err := tx.Exec(ctx, `UPDATE documents_document SET title = left(title, 200) || ' *', updated_at = now() WHERE id = $1`, doc); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO workflows_transition (workflow_id, from_state, to_state, actor_id, comment, created_at)
		SELECT id, state, $2, $3, 'edited during the backup', now() FROM workflows_workflow WHERE document_id = $1`, doc, state, user); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `UPDATE workflows_workflow SET state = $2 WHERE document_id = $1`, doc, state); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `INSERT INTO audit_auditentry (content_type_id, object_id, action, actor_id, "timestamp")
		VALUES ($1, $2, 'update', $3, now())`, ids.docCT, doc, user)
	return err
}

func deleteDocument(ctx context.Context, tx pgx.Tx, ids writerIDs, doc int32) error {
	for _, sql := range []string{
		`DELETE FROM audit_auditentry WHERE content_type_id = $2 AND object_id = $1`,
		`DELETE FROM workflows_transition WHERE workflow_id IN (SELECT id FROM workflows_workflow WHERE document_id = $1)`,
		`DELETE FROM workflows_workflow WHERE document_id = $1`,
		`DELETE FROM documents_document_tags WHERE document_id = $1`,
		`UPDATE documents_document SET current_version_id = NULL WHERE id = $1`,
		`DELETE FROM signatures_signature WHERE version_id IN (SELECT id FROM documents_documentversion WHERE document_id = $1)`,
		`DELETE FROM documents_documentversion WHERE document_id = $1`,
		`DELETE FROM documents_document WHERE id = $1`,
	} {
		args := []any{doc}
		if strings.Contains(sql, "$2") {
			args = append(args, ids.docCT)
		}
		if _, err := tx.Exec(ctx, sql, args...); err != nil {
			return err
		}
	}
	return nil
}

// digestOfSnapshot computes, in tx (which imported a snapshot), the digest of what it sees.
func digestOfSnapshot(ctx context.Context, tx pgx.Tx) string {
	GinkgoHelper()
	Expect(digest.ApplySettings(ctx, tx, true)).To(Succeed())
	sch, err := introspect.Read(ctx, tx, introspect.Options{})
	Expect(err).NotTo(HaveOccurred())
	plan, err := keys.Build(sch, &keys.File{})
	Expect(err).NotTo(HaveOccurred())
	ds, err := digest.NewSession(tx, sch, plan, digest.Options{})
	Expect(err).NotTo(HaveOccurred())
	sum, err := ds.All(ctx, nil)
	Expect(err).NotTo(HaveOccurred())
	return sum.Total
}

var _ = Describe("Writers changing the source during a backup", Label(label.Chaos), func() {
	It("back up one consistent snapshot: the package restores into an empty schema and equals the source at the snapshot", func(ctx SpecContext) {
		const seed = 21
		s := newSource(ctx, srv, seed)
		w := startWriters(ctx, s.url, seed, 3)
		DeferCleanup(func() { w.Stop() })
		Eventually(w.commits.Load).WithTimeout(30*time.Second).Should(BeNumerically(">=", 10), "writers are running")

		// At the snapshot, import it into a transaction of our own, then let the writers commit
		// more before a single row is copied: the package must not see what they did.
		snapConn := suitekit.Connect(ctx, s.url)
		var snapTx pgx.Tx
		var atSnapshot int64
		out := filepath.Join(GinkgoT().TempDir(), "busy.edmsdr")
		cfg, err := dsn.Config(s.url)
		Expect(err).NotTo(HaveOccurred())
		res, err := backup.Run(ctx, cfg, out, backup.Options{Tool: "edmsdr chaos", Snapshot: func(ctx context.Context, id string) error {
			tx, err := snapConn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead})
			if err != nil {
				return err
			}
			snapTx = tx
			if _, err := tx.Exec(ctx, "SET TRANSACTION SNAPSHOT '"+id+"'"); err != nil {
				return err
			}
			atSnapshot = w.commits.Load()
			deadline := time.Now().Add(30 * time.Second)
			for w.commits.Load() < atSnapshot+20 && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			return nil
		}})
		during := w.commits.Load() - atSnapshot
		Expect(w.Stop()).To(BeEmpty(), "writers failed (seed %d)", seed)
		Expect(err).NotTo(HaveOccurred(), "backup under writers (seed %d)", seed)
		Expect(during).To(BeNumerically(">=", 20), "writers committed while the backup ran")
		AddReportEntry("writers", fmt.Sprintf("%d transactions committed while the backup ran (%s)", during, res.Elapsed.Round(time.Millisecond)))

		// The package is the source at the snapshot, not the source now.
		Expect(snapTx).NotTo(BeNil())
		atSnap := digestOfSnapshot(ctx, snapTx)
		Expect(snapTx.Rollback(ctx)).To(Succeed())
		Expect(res.Manifest.Digest.Total).To(Equal(atSnap), "package digest vs the source at the backup's snapshot (seed %d)", seed)
		Expect(suitekit.Digest(ctx, s.url).Total).NotTo(Equal(atSnap), "the writers changed the source after the snapshot")
		_, err = suitekit.Verify(out)
		Expect(err).NotTo(HaveOccurred())

		// The package is consistent on its own: every reference resolves in an empty schema, and
		// the restored data has the package's digest.
		tgt := srv.DSN(suitekit.NewDatabase(ctx, srv, "empty"))
		conn := suitekit.Connect(ctx, tgt)
		Expect(edms.Apply(ctx, conn)).To(Succeed())
		Expect(conn.Close(ctx)).To(Succeed())
		rres, err := suitekit.Restore(ctx, tgt, out, restore.Options{})
		Expect(err).NotTo(HaveOccurred(), "restore of the package taken under writers (seed %d): %v", seed, finding.FindingsOf(err))
		Expect(rres.Committed).To(BeTrue())
		Expect(rres.Verdict).To(Equal(finding.Pass))
		Expect(rres.RestoredDigest).To(Equal(rres.PackageDigest))
		for _, t := range rres.Tables {
			Expect(t.Inserted).To(Equal(t.Staged), t.Table)
		}
		Expect(suitekit.Digest(ctx, tgt).Total).To(Equal(res.Manifest.Digest.Total))
	}, SpecTimeout(3*time.Minute))
})
