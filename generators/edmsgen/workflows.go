package edmsgen

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/edmsdr/edmsdr/generators/gen"
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
// path through the state machine, which transitions replays. The plan is drawn first and kept
// as each document's first workflow only; the rows replay it from g.wfPlan, and later tables
// redraw the rows themselves from g.wfRows (workflowCursor).
func (g *generator) workflows(ctx context.Context) error {
	start, err := g.l.NextID(ctx, "workflows_workflow", "id")
	if err != nil {
		return err
	}
	g.wfStart = int32(start)
	if g.wfPlan, err = gen.CloneFaker(g.f); err != nil {
		return err
	}
	g.docFirstW = make([]int32, g.p.Documents+1)
	plan := newWorkflowPlanCursor(g)
	total := int32(0)
	last := int32(-1)
	for p, ok := plan.next(); ok; p, ok = plan.next() {
		if p.doc != last {
			g.docFirstW[p.doc], last = total, p.doc
		}
		total++
	}
	g.docFirstW[g.p.Documents] = total
	if g.wfRows, err = gen.CloneFaker(g.f); err != nil {
		return err
	}
	replay, err := g.replaying(g.wfPlan)
	if err != nil {
		return err
	}
	plans := newWorkflowPlanCursor(replay)
	cols := []string{"id", "document_id", "workflow_type", "state", "started_by_id", "started_at", "completed_at"}
	return g.l.Copy(ctx, "workflows_workflow", cols, int(total), func(i int) ([]any, error) {
		p, ok := plans.next()
		if !ok {
			return nil, fmt.Errorf("replay workflows: plan ended before workflow %d", i)
		}
		_, row := g.workflowRow(int32(i), p)
		return row, nil
	})
}

// workflowRow draws workflow i of plan p: its path, start and row.
func (g *generator) workflowRow(i int32, p workflowPlan) (workflow, []any) {
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
	wf := workflow{doc: p.doc, started: started, chain: chain}
	startedBy := g.actor(10)
	if i == 0 {
		startedBy = g.adminID
	}
	state := states[chain[len(chain)-1]]
	var completed any
	if terminal[state] {
		completed = g.after(started, 90*24*3600)
	}
	return wf, []any{g.wfStart + i, g.docStart + p.doc, workflowTypes[p.typ], state, startedBy, started, completed}
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
// row to workflow 0, then the bulk user's transitions. The paths are redrawn one workflow at a
// time (workflowCursor); only the bulk transitions' workflows are kept, with their start times.
func (g *generator) transitions(ctx context.Context) error {
	flows := g.docFirstW[g.p.Documents]
	bulk := make([]int32, g.bulkTransitions())
	bulkStarted := make(map[int32]time.Time, len(bulk))
	for b := range bulk {
		bulk[b] = int32(g.f.IntN(int(flows)))
		bulkStarted[bulk[b]] = time.Time{}
	}
	wfs, err := g.workflowCursorFrom()
	if err != nil {
		return err
	}
	var (
		plans []transitionPlan // the current workflow's plans not yet written
		wf    workflow         // the current workflow
		w     = int32(-1)      // its index
		b     = 0              // bulk transitions planned
		prev  []any
		t     time.Time
	)
	cols := []string{"workflow_id", "from_state", "to_state", "actor_id", "comment", "created_at"}
	return g.l.CopyStream(ctx, "workflows_transition", cols, func() ([]any, error) {
		for len(plans) == 0 {
			switch {
			case w+1 < flows:
				w++
				if wf, err = wfs.next(w); err != nil {
					return nil, err
				}
				if _, ok := bulkStarted[w]; ok {
					bulkStarted[w] = wf.started
				}
				for s := 1; s < len(wf.chain); s++ {
					plans = append(plans, transitionPlan{wf: w, step: uint8(s)})
					if w == 0 && s == 1 {
						plans = append(plans, transitionPlan{wf: 0, step: 1, kind: stepRepeat}, transitionPlan{wf: 0, step: 1, kind: stepRepeat})
					}
					if w == 0 && s == 2 {
						plans = append(plans, transitionPlan{wf: 0, step: 2, kind: stepNullActor})
					}
				}
			case b < len(bulk):
				plans = append(plans, transitionPlan{wf: bulk[b], kind: stepBulk})
				b++
			default:
				return nil, nil
			}
		}
		p := plans[0]
		plans = plans[1:]
		wfID := g.wfStart + p.wf
		var row []any
		switch p.kind {
		case stepRepeat:
			row = slices.Clone(prev)
		case stepBulk:
			from := pick(g, states[:4])
			to := pick(g, stateNext[from])
			row = []any{wfID, from, to, g.bulkID, "bulk re-import\tbatch 7\\n", g.after(bulkStarted[p.wf], 365*24*3600)}
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
// version of document 0 gets an empty signature from the admin. The plan is drawn once to move
// the faker past it, then again from a clone as the rows are written; the versions' creation
// times are replayed alongside (versionCursor).
func (g *generator) signatures(ctx context.Context) error {
	replay, err := g.replaying(g.f)
	if err != nil {
		return err
	}
	versions := int(g.docFirstV[g.p.Documents])
	planOf := func(g *generator, v int) []int {
		k := g.f.IntN(3)
		if v == 0 {
			k = max(k, 1)
		}
		return g.distinct(len(signatureMeanings), k)
	}
	for v := range versions {
		planOf(g, v)
	}
	vers, err := g.versionCursorFrom()
	if err != nil {
		return err
	}
	var (
		meanings []int // the current version's meanings not yet written
		v        version
		vi       = int32(-1)
		i        = 0 // rows written
	)
	cols := []string{"version_id", "signer_id", "meaning", "signed_at", "signature"}
	return g.l.CopyStream(ctx, "signatures_signature", cols, func() ([]any, error) {
		for len(meanings) == 0 {
			if int(vi)+1 >= versions {
				return nil, nil
			}
			var ok bool
			if v, vi, ok = vers.next(); !ok {
				return nil, fmt.Errorf("replay versions: plan ended before version %d of %d", vi+1, versions)
			}
			meanings = planOf(replay, int(vi))
		}
		m := meanings[0]
		meanings = meanings[1:]
		signer := g.user()
		if g.pct(10) {
			signer = g.adminID
		}
		sig := g.bytes(64)
		if i == 0 {
			signer, sig = g.adminID, []byte{}
		}
		i++
		return []any{g.verStart + vi, signer, signatureMeanings[m], g.after(v.created, 10*24*3600), sig}, nil
	})
}
