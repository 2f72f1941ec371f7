package drill

import (
	"context"
	"fmt"
	"sort"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/edmsdr/edmsdr/engine/finding"
	"github.com/edmsdr/edmsdr/fixtures/edms"
	"github.com/edmsdr/edmsdr/fixtures/ledger"
	"github.com/edmsdr/edmsdr/generators/edmsgen"
	"github.com/edmsdr/edmsdr/generators/ledgergen"
)

// Dataset is a schema the harness can install, fill and check: the EDMS, or the ledger that
// proves the engine knows no EDMS table.
type Dataset struct {
	Name string
	// Install applies the schema and the seeders of the install opts choose.
	Install func(ctx context.Context, dsn string, opts InstallOptions) error
	// Generate fills an installed database deterministically from seed at scale.
	Generate func(ctx context.Context, conn *pgx.Conn, seed int64, scale string) (map[string]int64, error)
	// Probes check the application's invariants after a restore.
	Probes func(ctx context.Context, conn *pgx.Conn) []finding.Check
	// Trees maps each table whose seeded rows form a tree (a natural key through the parent) to
	// how many rows the seeders put there: a restore into a re-initialised install must match
	// exactly those, each through its parent.
	Trees map[string]int64
	// Diverged maps each table in which InstallOptions.Diverged seeds rows whose content differs
	// from the original install's to how many: a restore must report exactly those, and
	// overwrite them under restore.Update.
	Diverged map[string]int64
}

// InstallOptions chooses the install a dataset plays.
type InstallOptions struct {
	// Reinit plays a re-initialised install: the seeded rows in another order under other ids,
	// every sequence moved well past the ids in use.
	Reinit bool
	// SequencesAtMax, with Reinit, leaves every sequence after seeding at the highest id of the
	// column it feeds, as a real install leaves it: fresh ids of a restore then start right
	// after the seeded rows' ids.
	SequencesAtMax bool
	// Diverged, with Reinit, seeds the rows Dataset.Diverged counts with content that differs
	// from the original install's, as a later release's seeders may leave them.
	Diverged bool
}

// Datasets lists the datasets by name.
func Datasets() map[string]Dataset {
	return map[string]Dataset{
		"edms": {
			Name: "edms",
			Install: func(ctx context.Context, dsn string, opts InstallOptions) error {
				return edms.Install(ctx, dsn, edms.SeedOptions{Reinit: opts.Reinit, SequencesAtMax: opts.SequencesAtMax, Folders: true, Diverged: opts.Diverged})
			},
			Generate: func(ctx context.Context, conn *pgx.Conn, seed int64, scale string) (map[string]int64, error) {
				p, err := edmsgen.ProfileByName(scale)
				if err != nil {
					return nil, err
				}
				st, err := edmsgen.Generate(ctx, conn, seed, p)
				return st.Rows, err
			},
			Probes:   edmsProbes,
			Trees:    map[string]int64{"documents_folder": int64(len(edms.Folders()))},
			Diverged: map[string]int64{"documents_folder": 1},
		},
		"ledger": {
			Name: "ledger",
			Install: func(ctx context.Context, dsn string, opts InstallOptions) error {
				return ledger.Install(ctx, dsn, ledger.SeedOptions{Reinit: opts.Reinit, SequencesAtMax: opts.SequencesAtMax, Diverged: opts.Diverged})
			},
			Generate: func(ctx context.Context, conn *pgx.Conn, seed int64, scale string) (map[string]int64, error) {
				n, err := ledgerMembers(scale)
				if err != nil {
					return nil, err
				}
				st, err := ledgergen.Generate(ctx, conn, seed, n)
				return st.Rows, err
			},
			Probes:   func(context.Context, *pgx.Conn) []finding.Check { return nil },
			Trees:    map[string]int64{"account": int64(len(ledger.Accounts()))},
			Diverged: map[string]int64{"account": 1},
		},
	}
}

// DatasetNames lists the dataset names, sorted.
func DatasetNames() []string {
	var out []string
	for n := range Datasets() {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// LookupDataset returns the named dataset.
func LookupDataset(name string) (Dataset, error) {
	d, ok := Datasets()[name]
	if !ok {
		return Dataset{}, fmt.Errorf("unknown dataset %q (known: %v)", name, DatasetNames())
	}
	return d, nil
}

func ledgerMembers(scale string) (int, error) {
	switch scale {
	case "tiny":
		return 64, nil
	case "small":
		return 5000, nil
	case "medium":
		return 50000, nil
	}
	n, err := strconv.Atoi(scale)
	if err != nil || n < ledgergen.MinMembers || n > ledgergen.MaxMembers {
		return 0, fmt.Errorf("ledger scale must be tiny, small, medium or a member count in %d..%d, not %q", ledgergen.MinMembers, ledgergen.MaxMembers, scale)
	}
	return n, nil
}

// edmsProbes checks the EDMS invariants a restore must keep.
func edmsProbes(ctx context.Context, conn *pgx.Conn) []finding.Check {
	probes := []struct{ name, sql, what string }{
		{"documents have versions", `SELECT count(*) FROM documents_document d WHERE NOT EXISTS (SELECT 1 FROM documents_documentversion v WHERE v.document_id = d.id)`, "documents without a version"},
		{"documents have workflows", `SELECT count(*) FROM documents_document d WHERE NOT EXISTS (SELECT 1 FROM workflows_workflow w WHERE w.document_id = d.id)`, "documents without a workflow"},
		{"current version belongs to its document", `SELECT count(*) FROM documents_document d JOIN documents_documentversion v ON v.id = d.current_version_id WHERE v.document_id <> d.id`, "documents whose current version is another document's"},
		{"audit entries point at existing objects", `SELECT count(*) FROM audit_auditentry a JOIN django_content_type c ON c.id = a.content_type_id
  WHERE a.object_id IS NOT NULL AND NOT CASE c.app_label || '.' || c.model
    WHEN 'documents.document' THEN EXISTS (SELECT 1 FROM documents_document x WHERE x.id = a.object_id)
    WHEN 'documents.documentversion' THEN EXISTS (SELECT 1 FROM documents_documentversion x WHERE x.id = a.object_id)
    WHEN 'workflows.workflow' THEN EXISTS (SELECT 1 FROM workflows_workflow x WHERE x.id = a.object_id)
    WHEN 'auth.user' THEN EXISTS (SELECT 1 FROM auth_user x WHERE x.id = a.object_id)
    WHEN 'auth.group' THEN EXISTS (SELECT 1 FROM auth_group x WHERE x.id = a.object_id)
    ELSE false END`, "audit entries pointing at nothing"},
		{"version content matches its checksum", `SELECT count(*) FROM documents_documentversion WHERE sha256 <> encode(sha256(content), 'hex')`, "versions whose content does not match sha256"},
	}
	var out []finding.Check
	for _, p := range probes {
		var n int64
		c := finding.Check{Name: p.name}
		if err := conn.QueryRow(ctx, p.sql).Scan(&n); err != nil {
			c.Verdict, c.Evidence = finding.Unknown, "probe failed: "+err.Error()
		} else if n > 0 {
			c.Verdict, c.Evidence = finding.Fail, fmt.Sprintf("%d %s", n, p.what)
		} else {
			c.Verdict, c.Evidence = finding.Pass, "0 "+p.what
		}
		out = append(out, c)
	}
	// New work must be possible after a restore: a document with a version, in a transaction
	// that is rolled back.
	c := finding.Check{Name: "new inserts succeed", Verdict: finding.Pass, Evidence: "inserted a folder, a document and a version"}
	if err := probeInsert(ctx, conn); err != nil {
		c.Verdict, c.Evidence = finding.Fail, err.Error()
	}
	return append(out, c)
}

func probeInsert(ctx context.Context, conn *pgx.Conn) error {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx) //nolint:errcheck // probe only
	var folder, doc int64
	if err := tx.QueryRow(ctx, `INSERT INTO documents_folder (name, created_at) VALUES ('edmsdr probe', now()) RETURNING id`).Scan(&folder); err != nil {
		return fmt.Errorf("insert folder: %w", err)
	}
	if err := tx.QueryRow(ctx, `INSERT INTO documents_document (document_number, title, document_type_id, folder_id, owner_id, created_at, updated_at)
		SELECT 'EDMSDR-PROBE', 'probe', (SELECT min(id) FROM documents_documenttype), $1, (SELECT min(id) FROM auth_user), now(), now() RETURNING id`, folder).Scan(&doc); err != nil {
		return fmt.Errorf("insert document: %w", err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO documents_documentversion (document_id, version_number, content, sha256, mime_type, size, created_at)
		VALUES ($1, 1, '', encode(sha256(''::bytea), 'hex'), 'text/plain', 0, now())`, doc); err != nil {
		return fmt.Errorf("insert version: %w", err)
	}
	if _, err := tx.Exec(ctx, `SET CONSTRAINTS ALL IMMEDIATE`); err != nil {
		return fmt.Errorf("constraints: %w", err)
	}
	return nil
}
