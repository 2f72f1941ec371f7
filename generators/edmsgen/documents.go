package edmsgen

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/edmsdr/edmsdr/generators/gen"
)

// specialDoc describes an edge-case document; the first len(specialDocs) documents are these.
type specialDoc struct {
	title       string
	description any // nil: NULL
	metadata    string
	folder      string // "", "deep" (deepest chain folder) or "none"
	owner       string // "admin", "system" or "" (random)
}

var specialDocs = []specialDoc{
	{title: unicodeSamples[0], description: nil, metadata: oddMetadata, folder: "none", owner: "admin"},
	{title: unicodeSamples[1] + " " + unicodeSamples[4], description: "", folder: "deep", owner: "admin"},
	{title: literalBackslashN, description: literalBackslashN},
	{title: "tab\ttitle\nnew line \\ back", description: strings.Join(escapeSamples, "|")},
	{title: strings.Join(unicodeSamples, " · "), description: nil, metadata: `{}`, folder: "none", owner: "system"},
	{title: "", description: ""},
	{title: "JSON null metadata", metadata: `null`},
	{title: "JSON array metadata", metadata: `[1, "two", null, {"three": [3.0, 3e0]}, 12345678901234567890.5]`},
	{title: "JSON string metadata", metadata: `"just a string with \\N and \t tab"`},
}

var languages = []string{"de", "en", "fr", "ar", "he", "ja", "zh", "el", "ru", "hi"}

// largeBlobDoc reports whether document i carries one of the large version contents.
func (g *generator) largeBlobDoc(i int) bool {
	first := len(specialDocs)
	step := (g.p.Documents - first) / g.p.LargeBlobs
	if step < 1 {
		step = 1
	}
	return i >= first && (i-first)%step == 0 && (i-first)/step < g.p.LargeBlobs
}

// documents writes the documents with current_version_id NULL; currentVersions sets it once the
// versions exist (the FK cycle).
func (g *generator) documents(ctx context.Context) error {
	start, err := g.l.NextID(ctx, "documents_document", "id")
	if err != nil {
		return err
	}
	g.docStart = int32(start)
	g.docCreated = make([]int64, g.p.Documents)
	g.docOwner = make([]int32, g.p.Documents)
	zones := EdgeZoneTimes()
	cols := []string{"id", "document_number", "title", "description", "document_type_id", "folder_id",
		"owner_id", "metadata", "created_at", "updated_at", "current_version_id"}
	return g.l.Copy(ctx, "documents_document", cols, g.p.Documents, func(i int) ([]any, error) {
		id := g.docStart + int32(i)
		typeIdx := g.f.IntN(len(g.docTypeIDs))
		docType := g.docTypeIDs[typeIdx]
		if g.pct(40) {
			docType = g.defaultDocType
		}
		created := g.someTime()
		if i < len(zones) {
			created = zones[i]
		}
		updated := g.after(created, 200*24*3600)
		number := fmt.Sprintf("%s-%d-%07d", strings.ToUpper(g.docTypeNames[typeIdx]), created.Year(), i+1)

		var folderID any
		if !g.pct(12) {
			folderID = g.folderList[g.f.IntN(len(g.folderList))].id
		}
		owner := g.user()
		switch r := g.f.IntN(100); {
		case r < 5:
			owner = g.adminID
		case r < 7:
			owner = g.bulkID
		}
		title := g.flavour(g.f.BookTitle() + " " + g.f.NounConcrete())
		var description any = g.f.HipsterSentence()
		switch r := g.f.IntN(100); {
		case r < 15:
			description = nil
		case r < 25:
			description = ""
		case r < 28:
			description = pick(g, escapeSamples)
		}
		metadata, err := g.metadata()
		if err != nil {
			return nil, err
		}
		if i < len(specialDocs) {
			s := specialDocs[i]
			title, description = s.title, s.description
			if s.metadata != "" {
				metadata = s.metadata
			}
			switch s.folder {
			case "none":
				folderID = nil
			case "deep":
				folderID = g.deepest
			}
			switch s.owner {
			case "admin":
				owner = g.adminID
			case "system":
				owner = g.systemID
			}
		}
		if created.Nanosecond()%1000 != 0 {
			return nil, fmt.Errorf("document %d: created_at %v finer than the microseconds kept", i, created)
		}
		g.docCreated[i], g.docOwner[i] = created.UnixMicro(), owner
		return []any{id, number, title, description, docType, folderID, owner, metadata, created, updated, nil}, nil
	})
}

// metadata returns an ordinary document's metadata as JSON text.
func (g *generator) metadata() (string, error) {
	if g.pct(5) {
		return `{}`, nil
	}
	m := map[string]any{
		"pages":        1 + g.f.IntN(400),
		"language":     pick(g, languages),
		"confidential": g.pct(20),
	}
	if g.pct(30) {
		m["reviewers"] = []string{g.f.FirstName(), g.f.FirstName()}
	}
	if g.pct(10) {
		m["source"] = pick(g, unicodeSamples)
	}
	if g.pct(5) {
		m["amount"] = json.Number(fmt.Sprintf("%d.%02d", g.f.IntN(1_000_000), g.f.IntN(100)))
	}
	if g.pct(3) {
		m["note"] = pick(g, escapeSamples)
	}
	b, err := json.Marshal(m)
	if err != nil {
		return "", fmt.Errorf("encode metadata: %w", err)
	}
	return string(b), nil
}

// versions writes 1..MaxVersions versions per document: document 0's first version is empty,
// the large-blob documents' first versions are LargeBlobSize bytes. The plan (how many versions
// each document has, when each was created) is drawn first and kept as each document's first
// version only; the rows replay it from g.versPlan.
func (g *generator) versions(ctx context.Context) error {
	start, err := g.l.NextID(ctx, "documents_documentversion", "id")
	if err != nil {
		return err
	}
	g.verStart = int32(start)
	if g.versPlan, err = gen.CloneFaker(g.f); err != nil {
		return err
	}
	g.docFirstV = make([]int32, g.p.Documents+1)
	plan := newVersionCursor(g)
	total := int32(0)
	for v, i, ok := plan.next(); ok; v, i, ok = plan.next() {
		if v.number == 1 {
			g.docFirstV[v.doc] = i
		}
		total = i + 1
	}
	g.docFirstV[g.p.Documents] = total
	replay, err := g.versionCursorFrom()
	if err != nil {
		return err
	}
	cols := []string{"id", "document_id", "version_number", "content", "sha256", "mime_type", "size",
		"comment", "created_by_id", "created_at"}
	return g.l.Copy(ctx, "documents_documentversion", cols, int(total), func(i int) ([]any, error) {
		v, vi, ok := replay.next()
		if !ok || vi != int32(i) {
			return nil, fmt.Errorf("replay versions: version %d asked for, plan gave %d (ok=%t)", i, vi, ok)
		}
		mime := pick(g, mimeTypes)
		size := g.f.IntN(g.p.MaxContentSize)
		if g.pct(60) {
			size /= 8 // most documents are small
		}
		var content []byte
		switch {
		case v.doc == 0 && v.number == 1:
			content = []byte{}
		case v.number == 1 && g.largeBlobDoc(int(v.doc)):
			content = g.bytes(LargeBlobSize)
		default:
			content = g.content(mime, size)
		}
		comment := ""
		switch r := g.f.IntN(100); {
		case r < 35:
			comment = g.f.HipsterSentence()
		case r < 38:
			comment = pick(g, escapeSamples)
		case r < 40:
			comment = pick(g, unicodeSamples)
		}
		createdBy := g.actor(10)
		if v.number == 1 && g.pct(70) {
			createdBy = g.docOwner[v.doc]
		}
		return []any{g.verStart + int32(i), g.docStart + v.doc, v.number, content, sha256Hex(content), mime,
			int64(len(content)), comment, createdBy, v.created}, nil
	})
}

// currentVersions points every generated document at its latest version, closing the cycle.
func (g *generator) currentVersions(ctx context.Context) error {
	tag, err := g.l.Tx().Exec(ctx, `UPDATE documents_document d SET current_version_id = v.id
		FROM (SELECT DISTINCT ON (document_id) document_id, id FROM documents_documentversion
		      WHERE document_id BETWEEN $1 AND $2 ORDER BY document_id, version_number DESC) v
		WHERE d.id = v.document_id AND d.id BETWEEN $1 AND $2`,
		g.docStart, g.docStart+int32(g.p.Documents)-1)
	if err != nil {
		return fmt.Errorf("update documents_document.current_version_id: %w", err)
	}
	if tag.RowsAffected() != int64(g.p.Documents) {
		return fmt.Errorf("update documents_document.current_version_id: %d rows updated, %d expected",
			tag.RowsAffected(), g.p.Documents)
	}
	return nil
}

// documentTags tags document 0 with every special tag and the others with up to four tags. The
// rows draw nothing once planned, so each document's tags are drawn as its rows are written.
func (g *generator) documentTags(ctx context.Context) error {
	d := int32(-1)
	var tags []int32 // tags of document d not yet written
	return g.l.CopyStream(ctx, "documents_document_tags", []string{"document_id", "tag_id"}, func() ([]any, error) {
		for len(tags) == 0 {
			if int(d)+1 >= g.p.Documents {
				return nil, nil
			}
			d++
			if d == 0 {
				for t := range specialTags {
					tags = append(tags, g.tagIDs[t])
				}
				continue
			}
			seen := map[int32]bool{}
			for range g.f.IntN(5) {
				t := pick(g, g.tagIDs)
				if !seen[t] {
					seen[t] = true
					tags = append(tags, t)
				}
			}
		}
		t := tags[0]
		tags = tags[1:]
		return []any{g.docStart + d, t}, nil
	})
}

// docTime returns a time after document d was created.
func (g *generator) docTime(d int32) time.Time { return g.after(g.created(d), 400*24*3600) }
