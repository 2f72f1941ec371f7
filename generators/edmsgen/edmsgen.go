// Package edmsgen generates synthetic EDMS data, deterministic by seed, and loads it with COPY
// into a database that holds the EDMS schema and the seeded rows of a fresh install
// (fixtures/edms). It references the seeded rows (content types, admin, document types, groups,
// permissions) and never changes them. Every profile, however small, carries the edge cases a
// real EDMS has: Unicode everywhere, NULL foreign keys, empty strings next to NULLs, a deep folder
// chain, the documents/versions FK cycle, generic foreign keys, odd JSONB, empty and large bytea,
// timestamps from several time zones, COPY-hostile text and duplicate keyless rows.
package edmsgen

import (
	"context"
	"fmt"
	"time"

	"github.com/brianvoe/gofakeit/v7"
	"github.com/edmsdr/edmsdr/fixtures/edms"
	"github.com/edmsdr/edmsdr/generators/gen"
	"github.com/jackc/pgx/v5"
)

// Stats counts the generated rows per table.
type Stats = gen.Stats

// rowProbe, set by tests only (export_test.go), is called between steps and every `every` rows
// written: where a test measures what the generator holds.
var rowProbe struct {
	every int
	f     func()
}

// MinDocuments is the smallest document count a profile may have: the edge-case documents need it.
const MinDocuments = 16

// Tables lists the tables Generate writes to, in load order.
func Tables() []string {
	return []string{
		"auth_user", "auth_group", "auth_user_groups", "auth_user_user_permissions",
		"documents_tag", "documents_folder", "documents_document", "documents_documentversion",
		"documents_document_tags", "workflows_workflow", "workflows_transition",
		"signatures_signature", "audit_auditentry",
	}
}

// Generate creates the data set of profile p from seed and loads it through conn in one
// transaction. The database must hold the EDMS schema and edms.Seed's rows. The same seed and
// profile on the same seeded database always produce the same rows, ids included.
func Generate(ctx context.Context, conn *pgx.Conn, seed int64, p Profile) (Stats, error) {
	if err := p.validate(); err != nil {
		return Stats{}, fmt.Errorf("generate edms data: %w", err)
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		return Stats{}, fmt.Errorf("generate edms data: begin: %w", err)
	}
	defer func() { _ = tx.Rollback(ctx) }()

	// Check each foreign key at the end of each statement: parents are always loaded first, and
	// the trigger queue stays bounded by one table instead of the whole data set.
	if _, err := tx.Exec(ctx, `SET CONSTRAINTS ALL IMMEDIATE`); err != nil {
		return Stats{}, fmt.Errorf("generate edms data: set constraints: %w", err)
	}
	g := &generator{f: gen.NewFaker(seed), p: p, l: gen.NewLoader(tx)}
	if rowProbe.f != nil {
		g.l.Probe(rowProbe.every, rowProbe.f)
	}
	if err := g.lookupSeeded(ctx); err != nil {
		return Stats{}, fmt.Errorf("generate edms data: %w", err)
	}
	steps := []struct {
		name string
		run  func(context.Context) error
	}{
		{"users", g.users},
		{"groups", g.groups},
		{"group memberships", g.userGroups},
		{"user permissions", g.userPermissions},
		{"tags", g.tags},
		{"folders", g.folders},
		{"documents", g.documents},
		{"versions", g.versions},
		{"current versions", g.currentVersions},
		{"document tags", g.documentTags},
		{"workflows", g.workflows},
		{"transitions", g.transitions},
		{"signatures", g.signatures},
		{"audit entries", g.auditEntries},
		{"sequences", g.syncSequences},
	}
	for _, s := range steps {
		if rowProbe.f != nil {
			rowProbe.f()
		}
		if err := s.run(ctx); err != nil {
			return Stats{}, fmt.Errorf("generate edms data (seed %d, profile %s): %s: %w", seed, p.Name, s.name, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return Stats{}, fmt.Errorf("generate edms data (seed %d, profile %s): commit: %w", seed, p.Name, err)
	}
	return g.l.Stats(), nil
}

func (p Profile) validate() error {
	switch {
	case p.Documents < MinDocuments || p.Documents > MaxDocuments:
		return fmt.Errorf("profile %s: documents %d out of range %d..%d", p.Name, p.Documents, MinDocuments, MaxDocuments)
	case p.Users < 1, p.Groups < 0, p.Tags < 1, p.Folders < 0:
		return fmt.Errorf("profile %s: users must be >= 1, tags >= 1, groups and folders >= 0", p.Name)
	case p.MaxVersions < 1 || p.MaxVersions > 1000:
		return fmt.Errorf("profile %s: max versions %d out of range 1..1000", p.Name, p.MaxVersions)
	case p.MaxWorkflows < 1 || p.MaxWorkflows > len(workflowTypes):
		return fmt.Errorf("profile %s: max workflows %d out of range 1..%d", p.Name, p.MaxWorkflows, len(workflowTypes))
	case p.MaxTransitions < 1 || p.MaxTransitions > 1000:
		return fmt.Errorf("profile %s: max transitions %d out of range 1..1000", p.Name, p.MaxTransitions)
	case p.MaxAuditPerDocument < 0 || p.MaxAuditPerDocument > 1000:
		return fmt.Errorf("profile %s: max audit entries per document %d out of range 0..1000", p.Name, p.MaxAuditPerDocument)
	case p.BulkReferences < MinBulkReferences:
		return fmt.Errorf("profile %s: bulk references %d below %d", p.Name, p.BulkReferences, MinBulkReferences)
	case p.LargeBlobs < 1 || p.LargeBlobs > p.Documents-2:
		return fmt.Errorf("profile %s: large blobs %d out of range 1..%d", p.Name, p.LargeBlobs, p.Documents-2)
	case p.MaxContentSize < 1 || p.MaxContentSize > 64<<20:
		return fmt.Errorf("profile %s: max content size %d out of range 1..%d", p.Name, p.MaxContentSize, 64<<20)
	}
	return nil
}

// epoch is the earliest generated timestamp; generated times never depend on the clock.
var epoch = time.Date(2021, time.January, 1, 0, 0, 0, 0, time.UTC)

type folder struct {
	id     int32
	parent int32 // 0: root
}

type version struct {
	doc     int32 // index of the document
	number  int32
	created time.Time
}

type workflow struct {
	doc     int32 // index of the document
	started time.Time
	chain   []uint8 // indexes into states, from the initial state to the current one
}

// The generator holds a few bytes per document and nothing per version, workflow, transition,
// signature or audit entry: what a later table needs of an earlier one's rows (a version's
// creation time, a workflow's path) is drawn again from a clone of the faker as it was when those
// rows were drawn (versionCursor, workflowCursor), and rows are planned while they are written
// (Loader.CopyStream). Memory then grows by about 20 bytes a document instead of several hundred,
// and the rows are the same, draw for draw.
type generator struct {
	f *gofakeit.Faker
	p Profile
	l *gen.Loader

	// seeded rows
	contentType     map[string]int32 // "app_label.model" -> id
	adminID         int32
	systemID        int32
	docTypeIDs      []int32 // by name
	docTypeNames    []string
	defaultDocType  int32
	seededGroups    map[string]int32
	seededGroupIDs  []int32 // by name
	permissionIDs   []int32 // by (app_label, model, codename)
	contentTypeKeys []string

	// generated rows
	bulkID     int32
	userIDs    []int32 // generated users, bulk excluded
	groupIDs   []int32 // seeded and generated
	tagIDs     []int32
	folderList []folder
	deepest    int32
	docStart   int32
	docCreated []int64 // each document's created_at in microseconds since the Unix epoch (created)
	docOwner   []int32
	verStart   int32
	docFirstV  []int32         // index of each document's first version; the last entry is the version count
	versPlan   *gofakeit.Faker // the faker as the versions' plan began: versionCursorFrom replays it
	wfStart    int32
	docFirstW  []int32         // index of each document's first workflow; the last entry is the workflow count
	wfPlan     *gofakeit.Faker // the faker as the workflows' plan began
	wfRows     *gofakeit.Faker // the faker as the workflows' rows began: workflowCursorFrom redraws them
	vocabulary []string
}

// lookupSeeded reads the ids of the rows edms.Seed created, by their natural keys.
func (g *generator) lookupSeeded(ctx context.Context) error {
	tx := g.l.Tx()
	g.contentType = map[string]int32{}
	rows, err := tx.Query(ctx, `SELECT app_label || '.' || model, id FROM django_content_type ORDER BY app_label, model`)
	if err != nil {
		return fmt.Errorf("read seeded content types: %w", err)
	}
	for rows.Next() {
		var key string
		var id int32
		if err := rows.Scan(&key, &id); err != nil {
			return fmt.Errorf("read seeded content types: %w", err)
		}
		g.contentType[key] = id
		g.contentTypeKeys = append(g.contentTypeKeys, key)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read seeded content types: %w", err)
	}
	for _, ct := range edms.ContentTypes() {
		if _, ok := g.contentType[ct.AppLabel+"."+ct.Model]; !ok {
			return fmt.Errorf("seeded content type %s.%s missing: seed the database with edms.Seed first", ct.AppLabel, ct.Model)
		}
	}
	for _, u := range []struct {
		name string
		id   *int32
	}{{edms.AdminUsername, &g.adminID}, {edms.SystemUsername, &g.systemID}} {
		if err := tx.QueryRow(ctx, `SELECT id FROM auth_user WHERE username = $1`, u.name).Scan(u.id); err != nil {
			return fmt.Errorf("read seeded user %s: %w", u.name, err)
		}
	}
	rows, err = tx.Query(ctx, `SELECT id, name, is_default FROM documents_documenttype ORDER BY name`)
	if err != nil {
		return fmt.Errorf("read seeded document types: %w", err)
	}
	for rows.Next() {
		var id int32
		var name string
		var def bool
		if err := rows.Scan(&id, &name, &def); err != nil {
			return fmt.Errorf("read seeded document types: %w", err)
		}
		g.docTypeIDs = append(g.docTypeIDs, id)
		g.docTypeNames = append(g.docTypeNames, name)
		if def {
			g.defaultDocType = id
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read seeded document types: %w", err)
	}
	if len(g.docTypeIDs) == 0 || g.defaultDocType == 0 {
		return fmt.Errorf("seeded document types missing (or none is the default): seed the database with edms.Seed first")
	}
	g.seededGroups = map[string]int32{}
	rows, err = tx.Query(ctx, `SELECT id, name FROM auth_group ORDER BY name`)
	if err != nil {
		return fmt.Errorf("read seeded groups: %w", err)
	}
	for rows.Next() {
		var id int32
		var name string
		if err := rows.Scan(&id, &name); err != nil {
			return fmt.Errorf("read seeded groups: %w", err)
		}
		g.seededGroups[name] = id
		g.seededGroupIDs = append(g.seededGroupIDs, id)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read seeded groups: %w", err)
	}
	for _, grp := range edms.Groups() {
		if _, ok := g.seededGroups[grp.Name]; !ok {
			return fmt.Errorf("seeded group %s missing: seed the database with edms.Seed first", grp.Name)
		}
	}
	rows, err = tx.Query(ctx, `SELECT p.id FROM auth_permission p JOIN django_content_type c ON c.id = p.content_type_id
		ORDER BY c.app_label, c.model, p.codename`)
	if err != nil {
		return fmt.Errorf("read seeded permissions: %w", err)
	}
	for rows.Next() {
		var id int32
		if err := rows.Scan(&id); err != nil {
			return fmt.Errorf("read seeded permissions: %w", err)
		}
		g.permissionIDs = append(g.permissionIDs, id)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read seeded permissions: %w", err)
	}
	if len(g.permissionIDs) == 0 {
		return fmt.Errorf("seeded permissions missing: seed the database with edms.Seed first")
	}
	return nil
}

func (g *generator) syncSequences(ctx context.Context) error {
	for _, t := range []string{
		"auth_user", "auth_group", "documents_tag", "documents_folder", "documents_document",
		"documents_documentversion", "workflows_workflow",
	} {
		if err := g.l.SyncSequence(ctx, t, "id"); err != nil {
			return err
		}
	}
	return nil
}
