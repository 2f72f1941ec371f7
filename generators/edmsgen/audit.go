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

// auditPlanCursor walks the audit trail's plan: the duplicates, then each document's entries,
// then the users', then the bulk user's. It holds one document's or one user's plans at a time.
type auditPlanCursor struct {
	g       *generator
	plans   []auditPlan // planned, not yet returned
	stage   int         // 0: the duplicates, 1: documents, 2: users, 3: bulk, 4: done
	d, u, b int         // next document, user index and bulk entry to plan
}

func (c *auditPlanCursor) next() (auditPlan, bool) {
	g := c.g
	for len(c.plans) == 0 {
		switch c.stage {
		case 0:
			// The duplicates come first so that every profile has them at the same place.
			c.plans = append(c.plans,
				auditPlan{kind: auditNothing}, auditPlan{kind: auditRepeat}, auditPlan{kind: auditRepeat}, auditPlan{kind: auditRepeat},
				auditPlan{kind: auditDocumentView}, auditPlan{kind: auditRepeat}, auditPlan{kind: auditRepeat},
				auditPlan{kind: auditPassword, ref: g.adminID},
				auditPlan{kind: auditMembership, ref: g.seededGroups["editors"]},
				auditPlan{kind: auditLogin, ref: g.adminID}, auditPlan{kind: auditLogin, ref: g.adminID},
			)
			c.stage++
		case 1:
			if c.d >= g.p.Documents {
				c.stage++
				continue
			}
			d := int32(c.d)
			c.d++
			c.plans = append(c.plans, auditPlan{kind: auditCreate, ref: d})
			for v := g.docFirstV[d]; v < g.docFirstV[d+1]; v++ {
				c.plans = append(c.plans, auditPlan{kind: auditUpload, ref: v})
			}
			for w := g.docFirstW[d]; w < g.docFirstW[d+1]; w++ {
				c.plans = append(c.plans, auditPlan{kind: auditStart, ref: w})
			}
			for range g.f.IntN(g.p.MaxAuditPerDocument/2 + 1) {
				c.plans = append(c.plans, auditPlan{kind: auditOther, ref: d})
			}
		case 2:
			if c.u >= len(g.userIDs) {
				c.stage++
				continue
			}
			i, u := c.u, g.userIDs[c.u]
			c.u++
			for range g.f.IntN(3) {
				c.plans = append(c.plans, auditPlan{kind: auditLogin, ref: u})
			}
			if i%10 == 0 {
				c.plans = append(c.plans, auditPlan{kind: auditPassword, ref: u})
			}
		case 3:
			if c.b >= g.p.BulkReferences-g.bulkTransitions() {
				c.stage++
				continue
			}
			c.b++
			c.plans = append(c.plans, auditPlan{kind: auditBulk, ref: int32(g.f.IntN(g.p.Documents))})
		default:
			return auditPlan{}, false
		}
	}
	p := c.plans[0]
	c.plans = c.plans[1:]
	return p, true
}

// auditEntries writes the audit trail: creation, upload and start entries, random actions on
// documents, versions and workflows, logins (no object), user and group changes (generic FKs to
// seeded rows), byte-identical duplicates, and the bulk user's imports. The plan is drawn once to
// move the faker past it, then again from a clone as the rows are written; the versions and
// workflows the entries describe are replayed alongside, each once, in order.
func (g *generator) auditEntries(ctx context.Context) error {
	replay, err := g.replaying(g.f)
	if err != nil {
		return err
	}
	skip := &auditPlanCursor{g: g}
	for _, ok := skip.next(); ok; _, ok = skip.next() {
	}
	plans := &auditPlanCursor{g: replay}
	vers, err := g.versionCursorFrom()
	if err != nil {
		return err
	}
	wfs, err := g.workflowCursorFrom()
	if err != nil {
		return err
	}

	ctDoc := g.contentType["documents.document"]
	ctVer := g.contentType["documents.documentversion"]
	ctFlow := g.contentType["workflows.workflow"]
	ctUser := g.contentType["auth.user"]
	ctGroup := g.contentType["auth.group"]
	var prev []any
	cols := []string{"content_type_id", "object_id", "action", "actor_id", "timestamp", "changes", "remote_addr"}
	return g.l.CopyStream(ctx, "audit_auditentry", cols, func() ([]any, error) {
		p, ok := plans.next()
		if !ok {
			return nil, nil
		}
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
			row = []any{ctDoc, g.docStart + p.ref, "create", g.docOwner[p.ref], g.created(p.ref), g.changes(), g.addr()}
		case auditUpload:
			v, i, ok := vers.next()
			if !ok || i != p.ref {
				return nil, fmt.Errorf("replay versions: version %d asked for, plan gave %d (ok=%t)", p.ref, i, ok)
			}
			row = []any{ctVer, g.verStart + p.ref, "upload", g.actor(10), v.created, g.changes(), g.addr()}
		case auditStart:
			wf, err := wfs.next(p.ref)
			if err != nil {
				return nil, err
			}
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
		first, k := g.docFirstV[d], g.docFirstV[d+1]-g.docFirstV[d]
		return g.contentType["documents.documentversion"], g.verStart + first + int32(g.f.IntN(int(k)))
	default:
		lo, k := g.docFirstW[d], g.docFirstW[d+1]-g.docFirstW[d]
		return g.contentType["workflows.workflow"], g.wfStart + lo + int32(g.f.IntN(int(k)))
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
