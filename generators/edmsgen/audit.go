package edmsgen

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"time"
)

// Audit plan kinds.
const (
	auditCreate       uint8 = iota // document created (document content type)
	auditUpload                    // version uploaded (version content type)
	auditStart                     // workflow started (workflow content type)
	auditOther                     // a random action on one of a document's objects
	auditLogin                     // no object: content type and object id NULL
	auditPassword                  // on a user (auth.user content type)
	auditMembership                // on a seeded group (auth.group content type)
	auditNothing                   // every nullable column NULL
	auditDocumentView              // fixed view of document 0, repeated byte-identically
	auditRepeat                    // byte-identical copy of the previous row
	auditBulk                      // the bulk user's import of a document or version
)

type auditPlan struct {
	kind uint8
	ref  int32 // document, version or workflow index; user id for logins and password changes
}

// nothingTime is the timestamp of the all-NULL audit entries.
var nothingTime = time.Date(2023, time.June, 30, 23, 59, 59, 999999000, time.UTC)

// auditEntries writes the audit trail: creation, upload and start entries, random actions on
// documents, versions and workflows, logins (no object), user and group changes (generic FKs to
// seeded rows), byte-identical duplicates, and the bulk user's imports.
func (g *generator) auditEntries(ctx context.Context) error {
	var plans []auditPlan
	// The duplicates come first so that every profile has them at the same place.
	plans = append(plans,
		auditPlan{kind: auditNothing}, auditPlan{kind: auditRepeat}, auditPlan{kind: auditRepeat}, auditPlan{kind: auditRepeat},
		auditPlan{kind: auditDocumentView}, auditPlan{kind: auditRepeat}, auditPlan{kind: auditRepeat},
		auditPlan{kind: auditPassword, ref: g.adminID},
		auditPlan{kind: auditMembership, ref: g.seededGroups["editors"]},
		auditPlan{kind: auditLogin, ref: g.adminID}, auditPlan{kind: auditLogin, ref: g.adminID},
	)
	w := 0
	for d := range g.docs {
		plans = append(plans, auditPlan{kind: auditCreate, ref: int32(d)})
		first := int(g.docFirstV[d])
		for v := first; v < len(g.vers) && g.vers[v].doc == int32(d); v++ {
			plans = append(plans, auditPlan{kind: auditUpload, ref: int32(v)})
		}
		for ; w < len(g.flows) && g.flows[w].doc == int32(d); w++ {
			plans = append(plans, auditPlan{kind: auditStart, ref: int32(w)})
		}
		for range g.f.IntN(g.p.MaxAuditPerDocument/2 + 1) {
			plans = append(plans, auditPlan{kind: auditOther, ref: int32(d)})
		}
	}
	for i, u := range g.userIDs {
		for range g.f.IntN(3) {
			plans = append(plans, auditPlan{kind: auditLogin, ref: u})
		}
		if i%10 == 0 {
			plans = append(plans, auditPlan{kind: auditPassword, ref: u})
		}
	}
	for range g.p.BulkReferences - g.bulkTransitions() {
		plans = append(plans, auditPlan{kind: auditBulk, ref: int32(g.f.IntN(len(g.docs)))})
	}

	ctDoc := g.contentType["documents.document"]
	ctVer := g.contentType["documents.documentversion"]
	ctFlow := g.contentType["workflows.workflow"]
	ctUser := g.contentType["auth.user"]
	ctGroup := g.contentType["auth.group"]
	var prev []any
	cols := []string{"content_type_id", "object_id", "action", "actor_id", "timestamp", "changes", "remote_addr"}
	return g.l.Copy(ctx, "audit_auditentry", cols, len(plans), func(i int) ([]any, error) {
		p := plans[i]
		var row []any
		switch p.kind {
		case auditRepeat:
			row = slices.Clone(prev)
		case auditNothing:
			row = []any{nil, nil, "heartbeat", nil, nothingTime, nil, nil}
		case auditDocumentView:
			row = []any{ctDoc, g.docStart, "view", g.adminID, EdgeZoneTimes()[1], oddMetadata,
				netip.MustParsePrefix("192.168.0.1/24")}
		case auditCreate:
			d := g.docs[p.ref]
			row = []any{ctDoc, g.docStart + p.ref, "create", d.owner, d.created, g.changes(), g.addr()}
		case auditUpload:
			v := g.vers[p.ref]
			row = []any{ctVer, g.verStart + p.ref, "upload", g.actor(10), v.created, g.changes(), g.addr()}
		case auditStart:
			wf := g.flows[p.ref]
			row = []any{ctFlow, g.wfStart + p.ref, "start", g.actor(10), wf.started, g.changes(), g.addr()}
		case auditOther:
			ct, obj := g.objectOf(p.ref, true)
			row = []any{ct, obj, pick(g, auditActions), g.actor(8), g.docTime(p.ref), g.changes(), g.addr()}
		case auditLogin:
			row = []any{nil, nil, "login", p.ref, g.someTime(), nil, g.addr()}
		case auditPassword:
			row = []any{ctUser, p.ref, "password_change", p.ref, g.someTime(), `{"password": "********"}`, g.addr()}
		case auditMembership:
			row = []any{ctGroup, p.ref, "membership_change", g.adminID, g.someTime(),
				`{"added": ["` + BulkUsername + `"], "removed": []}`, g.addr()}
		case auditBulk:
			ct, obj := g.objectOf(p.ref, false)
			row = []any{ct, obj, "bulk_import", g.bulkID, g.docTime(p.ref), nil, netip.MustParsePrefix("10.0.0.1/32")}
		default:
			return nil, fmt.Errorf("unknown audit plan kind %d", p.kind)
		}
		prev = row
		return row, nil
	})
}

// objectOf picks document d itself, one of its versions or (withWorkflows) one of its workflows,
// returning the content type id and object id of the generic foreign key.
func (g *generator) objectOf(d int32, withWorkflows bool) (int32, int32) {
	n := 2
	if withWorkflows {
		n = 3
	}
	switch g.f.IntN(n) {
	case 0:
		return g.contentType["documents.document"], g.docStart + d
	case 1:
		first := g.docFirstV[d]
		k := int32(1)
		for int(first+k) < len(g.vers) && g.vers[first+k].doc == d {
			k++
		}
		return g.contentType["documents.documentversion"], g.verStart + first + int32(g.f.IntN(int(k)))
	default:
		// Workflows of document d are contiguous and sorted by document.
		lo, _ := slices.BinarySearchFunc(g.flows, d, func(w workflow, d int32) int { return int(w.doc - d) })
		k := 0
		for lo+k < len(g.flows) && g.flows[lo+k].doc == d {
			k++
		}
		return g.contentType["workflows.workflow"], g.wfStart + int32(lo+g.f.IntN(k))
	}
}

// changes returns an audit entry's changes: SQL NULL, JSON null, or a field diff.
func (g *generator) changes() any {
	switch r := g.f.IntN(100); {
	case r < 40:
		return nil
	case r < 45:
		return "null"
	case r < 47:
		return `{}`
	}
	diff := map[string]map[string]any{
		pick(g, []string{"title", "description", "folder", "state", "tags"}): {
			"old": g.flavour(g.f.NounConcrete()),
			"new": g.flavour(g.f.NounConcrete()),
		},
	}
	b, err := json.Marshal(diff)
	if err != nil {
		return nil
	}
	return string(b)
}
