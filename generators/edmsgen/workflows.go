package edmsgen

import (
	"context"
	"slices"
	"time"
)

var stateIndex = func() map[string]uint8 {
	m := make(map[string]uint8, len(states))
	for i, s := range states {
		m[s] = uint8(i)
	}
	return m
}()

// terminal states complete a workflow.
var terminal = map[string]bool{"published": true, "archived": true, "rejected": true}

// distinct returns k distinct indexes below n, in random order.
func (g *generator) distinct(n, k int) []int {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	for i := 0; i < k; i++ {
		j := i + g.f.IntN(n-i)
		idx[i], idx[j] = idx[j], idx[i]
	}
	return idx[:k]
}

// workflows writes 1..MaxWorkflows workflows of distinct types per document; each walks a random
// path through the state machine, which transitions replays.
func (g *generator) workflows(ctx context.Context) error {
	start, err := g.l.NextID(ctx, "workflows_workflow", "id")
	if err != nil {
		return err
	}
	g.wfStart = int32(start)
	type plan struct {
		doc int32
		typ uint8
	}
	var plans []plan
	for d := range g.docs {
		for _, t := range g.distinct(len(workflowTypes), 1+g.f.IntN(g.p.MaxWorkflows)) {
			plans = append(plans, plan{doc: int32(d), typ: uint8(t)})
		}
	}
	g.flows = make([]workflow, len(plans))
	cols := []string{"id", "document_id", "workflow_type", "state", "started_by_id", "started_at", "completed_at"}
	return g.l.Copy(ctx, "workflows_workflow", cols, len(plans), func(i int) ([]any, error) {
		p := plans[i]
		chain := []uint8{stateIndex["draft"]}
		if i == 0 {
			for _, s := range []string{"in_review", "approved", "published"} {
				chain = append(chain, stateIndex[s])
			}
		} else {
			for range g.f.IntN(g.p.MaxTransitions + 1) {
				next := stateNext[states[chain[len(chain)-1]]]
				if len(next) == 0 {
					break
				}
				chain = append(chain, stateIndex[pick(g, next)])
			}
		}
		started := g.docTime(p.doc)
		g.flows[i] = workflow{doc: p.doc, started: started, chain: chain}
		startedBy := g.actor(10)
		if i == 0 {
			startedBy = g.adminID
		}
		state := states[chain[len(chain)-1]]
		var completed any
		if terminal[state] {
			completed = g.after(started, 90*24*3600)
		}
		return []any{g.wfStart + int32(i), g.docStart + p.doc, workflowTypes[p.typ], state, startedBy, started, completed}, nil
	})
}

// Transition plan kinds.
const (
	stepNormal    uint8 = iota
	stepRepeat          // byte-identical copy of the previous row
	stepNullActor       // actor NULL, comment \N
	stepBulk            // the bulk user's re-import
)

type transitionPlan struct {
	wf   int32
	step uint8 // index into the workflow's chain of the to-state
	kind uint8
}

// transitions replays each workflow's path, adds byte-identical duplicates and an actor-less
// row to workflow 0, then the bulk user's transitions.
func (g *generator) transitions(ctx context.Context) error {
	var plans []transitionPlan
	for w, wf := range g.flows {
		for s := 1; s < len(wf.chain); s++ {
			plans = append(plans, transitionPlan{wf: int32(w), step: uint8(s)})
			if w == 0 && s == 1 {
				plans = append(plans, transitionPlan{wf: 0, step: 1, kind: stepRepeat}, transitionPlan{wf: 0, step: 1, kind: stepRepeat})
			}
			if w == 0 && s == 2 {
				plans = append(plans, transitionPlan{wf: 0, step: 2, kind: stepNullActor})
			}
		}
	}
	for range g.bulkTransitions() {
		plans = append(plans, transitionPlan{wf: int32(g.f.IntN(len(g.flows))), kind: stepBulk})
	}
	var prev []any
	var t time.Time
	cols := []string{"workflow_id", "from_state", "to_state", "actor_id", "comment", "created_at"}
	return g.l.Copy(ctx, "workflows_transition", cols, len(plans), func(i int) ([]any, error) {
		p := plans[i]
		wfID := g.wfStart + p.wf
		wf := g.flows[p.wf]
		var row []any
		switch p.kind {
		case stepRepeat:
			row = slices.Clone(prev)
		case stepBulk:
			from := pick(g, states[:4])
			to := pick(g, stateNext[from])
			row = []any{wfID, from, to, g.bulkID, "bulk re-import\tbatch 7\\n", g.after(wf.started, 365*24*3600)}
		default:
			if p.step == 1 {
				t = wf.started
			}
			t = g.after(t, 20*24*3600)
			var actor any = g.actor(10)
			comment := ""
			switch r := g.f.IntN(100); {
			case r < 30:
				comment = g.f.HipsterSentence()
			case r < 33:
				comment = pick(g, escapeSamples)
			case r < 35:
				comment = pick(g, unicodeSamples)
			}
			if p.kind == stepNullActor {
				actor, comment = nil, literalBackslashN
			}
			row = []any{wfID, states[wf.chain[p.step-1]], states[wf.chain[p.step]], actor, comment, t}
		}
		prev = row
		return row, nil
	})
}

// bulkTransitions is how many of the bulk references are transitions (the rest are audit entries).
func (g *generator) bulkTransitions() int { return g.p.BulkReferences * 2 / 5 }

// signatures signs each version zero to two times with distinct meanings; the empty first
// version of document 0 gets an empty signature from the admin.
func (g *generator) signatures(ctx context.Context) error {
	type plan struct {
		ver     int32
		meaning uint8
	}
	var plans []plan
	for v := range g.vers {
		k := g.f.IntN(3)
		if v == 0 {
			k = max(k, 1)
		}
		for _, m := range g.distinct(len(signatureMeanings), k) {
			plans = append(plans, plan{ver: int32(v), meaning: uint8(m)})
		}
	}
	cols := []string{"version_id", "signer_id", "meaning", "signed_at", "signature"}
	return g.l.Copy(ctx, "signatures_signature", cols, len(plans), func(i int) ([]any, error) {
		p := plans[i]
		v := g.vers[p.ver]
		signer := g.user()
		if g.pct(10) {
			signer = g.adminID
		}
		sig := g.bytes(64)
		if i == 0 {
			signer, sig = g.adminID, []byte{}
		}
		return []any{g.verStart + p.ver, signer, signatureMeanings[p.meaning], g.after(v.created, 10*24*3600), sig}, nil
	})
}
