package edmsgen

import (
	"fmt"
	"time"

	"github.com/brianvoe/gofakeit/v7"
	"github.com/edmsdr/edmsdr/generators/gen"
)

// replaying returns a copy of g that draws from a clone of f, leaving f and g's faker where they
// are: what the copy draws is what f would draw next. The copy shares g's slices and maps and
// must only read them.
func (g *generator) replaying(f *gofakeit.Faker) (*generator, error) {
	c, err := gen.CloneFaker(f)
	if err != nil {
		return nil, err
	}
	r := *g
	r.f = c
	return &r, nil
}

// created returns document d's created_at, in the zone it was generated in.
func (g *generator) created(d int32) time.Time {
	t := time.UnixMicro(g.docCreated[d])
	if int(d) < len(edgeZones) {
		return t.In(edgeZones[d])
	}
	return t.UTC()
}

// versionCursor walks the versions' plan, each document's versions in order with their numbers
// and creation times. Driven by the generator's own faker it draws the plan (versions); driven by
// a replaying copy made as the plan began (g.versPlan) it yields the same versions again.
type versionCursor struct {
	g      *generator
	i      int32 // index of the version next returns
	doc    int32 // document of the last version returned; -1 before the first
	count  int32 // versions of doc
	number int32 // number of the last version returned
	t      time.Time
}

func newVersionCursor(g *generator) *versionCursor { return &versionCursor{g: g, doc: -1} }

// next returns the next version and its index; ok is false after the last document's.
func (c *versionCursor) next() (v version, i int32, ok bool) {
	g := c.g
	for c.number == c.count {
		if int(c.doc)+1 >= g.p.Documents {
			return version{}, 0, false
		}
		c.doc++
		n := 1 + g.f.IntN(g.p.MaxVersions)
		if c.doc == 0 && g.p.MaxVersions > 1 {
			n = 2
		}
		c.count, c.number, c.t = int32(n), 0, g.created(c.doc)
	}
	c.number++
	if c.number > 1 {
		c.t = g.after(c.t, 30*24*3600)
	}
	i = c.i
	c.i++
	return version{doc: c.doc, number: c.number, created: c.t}, i, true
}

// versionCursorFrom returns a cursor replaying the versions' plan from its start.
func (g *generator) versionCursorFrom() (*versionCursor, error) {
	r, err := g.replaying(g.versPlan)
	if err != nil {
		return nil, err
	}
	return newVersionCursor(r), nil
}

// workflowPlan is one workflow before its row is drawn: its document and type.
type workflowPlan struct {
	doc int32
	typ uint8
}

// workflowPlanCursor walks the workflows' plan: 1..MaxWorkflows workflows of distinct types per
// document, in document order.
type workflowPlanCursor struct {
	g     *generator
	doc   int32 // document of the last plan returned; -1 before the first
	types []int
	k     int // plans of doc returned
}

func newWorkflowPlanCursor(g *generator) *workflowPlanCursor {
	return &workflowPlanCursor{g: g, doc: -1}
}

func (c *workflowPlanCursor) next() (workflowPlan, bool) {
	g := c.g
	for c.k == len(c.types) {
		if int(c.doc)+1 >= g.p.Documents {
			return workflowPlan{}, false
		}
		c.doc++
		c.types, c.k = g.distinct(len(workflowTypes), 1+g.f.IntN(g.p.MaxWorkflows)), 0
	}
	t := c.types[c.k]
	c.k++
	return workflowPlan{doc: c.doc, typ: uint8(t)}, true
}

// workflowCursor yields the workflows again, in order, with their start times and paths: the
// plan replayed from g.wfPlan, each row redrawn from g.wfRows.
type workflowCursor struct {
	plans *workflowPlanCursor
	rows  *generator
	i     int32 // index of the workflow next returns
}

func (g *generator) workflowCursorFrom() (*workflowCursor, error) {
	p, err := g.replaying(g.wfPlan)
	if err != nil {
		return nil, err
	}
	r, err := g.replaying(g.wfRows)
	if err != nil {
		return nil, err
	}
	return &workflowCursor{plans: newWorkflowPlanCursor(p), rows: r}, nil
}

// next returns workflow want; the cursor only moves forward, one workflow a call.
func (c *workflowCursor) next(want int32) (workflow, error) {
	if want != c.i {
		return workflow{}, fmt.Errorf("replay workflows: workflow %d asked for, %d is next", want, c.i)
	}
	p, ok := c.plans.next()
	if !ok {
		return workflow{}, fmt.Errorf("replay workflows: plan ended before workflow %d", want)
	}
	wf, _ := c.rows.workflowRow(c.i, p)
	c.i++
	return wf, nil
}
