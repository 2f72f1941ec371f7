package corrupt

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/edmsdr/edmsdr/engine/finding"
)

// fixtureObject is one object of a Django dumpdata fixture.
type fixtureObject struct {
	Model  string         `json:"model"`
	PK     any            `json:"pk,omitempty"`
	Fields map[string]any `json:"fields"`
}

// onFixture is an injector that edits a fixture's objects and writes the fixture back as JSON.
func onFixture(name string, damage func(objs []fixtureObject, r *rand.Rand) ([]fixtureObject, error)) func([]byte, int64) ([]byte, error) {
	return func(src []byte, seed int64) ([]byte, error) {
		dec := json.NewDecoder(bytes.NewReader(src))
		dec.UseNumber()
		var objs []fixtureObject
		if err := dec.Decode(&objs); err != nil {
			return nil, fmt.Errorf("decode fixture: %w", err)
		}
		objs, err := damage(objs, rng(seed, name))
		if err != nil {
			return nil, err
		}
		return json.MarshalIndent(objs, "", "  ")
	}
}

// objectOf picks an object of one of models (any model when none is given) for which ok holds.
func objectOf(objs []fixtureObject, r *rand.Rand, ok func(o fixtureObject) bool, models ...string) (int, error) {
	var idx []int
	for i, o := range objs {
		if (len(models) == 0 || slices.Contains(models, o.Model)) && (ok == nil || ok(o)) {
			idx = append(idx, i)
		}
	}
	if len(idx) == 0 {
		return 0, ErrNotApplicable
	}
	return idx[r.IntN(len(idx))], nil
}

// copyObject returns a deep copy of o.
func copyObject(o fixtureObject) fixtureObject {
	c := o
	c.Fields = map[string]any{}
	for k, v := range o.Fields {
		c.Fields[k] = v
	}
	return c
}

// maxPK returns the highest integer pk of model.
func maxPK(objs []fixtureObject, model string) int64 {
	var out int64
	for _, o := range objs {
		if n, ok := o.PK.(json.Number); ok && o.Model == model {
			if v, err := n.Int64(); err == nil && v > out {
				out = v
			}
		}
	}
	return out
}

// fixtureKeys are the models whose natural key is one plain field, and that field.
var fixtureKeys = map[string]string{
	"auth.user":              "username",
	"documents.document":     "document_number",
	"documents.documenttype": "name",
	"documents.tag":          "name",
}

// fixtureFKs are foreign-key fields of the EDMS models, for dangling references.
var fixtureFKs = map[string][]string{
	"documents.document":        {"owner", "document_type"},
	"documents.documentversion": {"document", "created_by"},
	"workflows.workflow":        {"document", "started_by"},
	"workflows.transition":      {"workflow", "actor"},
}

func fixtureInjectors() []Injector {
	fix := func(name string, seeded bool, kinds []finding.Kind, inject func([]byte, int64) ([]byte, error)) Injector {
		return Injector{Name: name, AppliesTo: Fixture, Seeded: seeded, Inject: inject,
			Detection: Detection{Verify: NotRun, Restore: Refuse, Kinds: kinds}}
	}
	return []Injector{
		fix("fixture-truncated", true, corruptOnly, func(src []byte, seed int64) ([]byte, error) {
			end := bytes.LastIndexByte(src, ']')
			if end < 2 {
				return nil, ErrNotApplicable
			}
			return bytes.Clone(src[:1+rng(seed, "fixture-truncated").IntN(end-1)]), nil
		}),
		fix("fixture-broken-token", true, corruptOnly, func(src []byte, seed int64) ([]byte, error) {
			// A key's colon becomes '=': `"name"= "x"` is not JSON.
			var at []int
			for i := 0; i+2 < len(src); i++ {
				if src[i] == '"' && src[i+1] == ':' && src[i+2] == ' ' {
					at = append(at, i+1)
				}
			}
			if len(at) == 0 {
				return nil, ErrNotApplicable
			}
			out := bytes.Clone(src)
			out[at[rng(seed, "fixture-broken-token").IntN(len(at))]] = '='
			if json.Valid(out) {
				return nil, errors.New("fixture-broken-token: still valid JSON")
			}
			return out, nil
		}),
		fix("fixture-unknown-model", true, []finding.Kind{finding.SchemaMismatch}, onFixture("fixture-unknown-model", func(objs []fixtureObject, r *rand.Rand) ([]fixtureObject, error) {
			i, err := objectOf(objs, r, nil)
			if err == nil {
				objs[i].Model = "documents.nosuchmodel"
			}
			return objs, err
		})),
		fix("fixture-unknown-field", true, []finding.Kind{finding.SchemaMismatch}, onFixture("fixture-unknown-field", func(objs []fixtureObject, r *rand.Rand) ([]fixtureObject, error) {
			i, err := objectOf(objs, r, nil)
			if err == nil {
				objs[i].Fields["no_such_field"] = "x"
			}
			return objs, err
		})),
		fix("fixture-wrong-type", true, []finding.Kind{finding.Constraint, finding.Corrupt}, onFixture("fixture-wrong-type", func(objs []fixtureObject, r *rand.Rand) ([]fixtureObject, error) {
			type field struct {
				obj  int
				name string
			}
			var cands []field
			for i, o := range objs {
				for k, v := range o.Fields {
					if _, ok := v.(bool); ok {
						cands = append(cands, field{i, k})
					}
				}
			}
			if len(cands) == 0 {
				return nil, ErrNotApplicable
			}
			slices.SortFunc(cands, func(a, b field) int { return cmp.Or(a.obj-b.obj, strings.Compare(a.name, b.name)) })
			c := cands[r.IntN(len(cands))]
			objs[c.obj].Fields[c.name] = "not-a-boolean"
			return objs, nil
		})),
		fix("fixture-dangling-fk", true, []finding.Kind{finding.Orphaned}, onFixture("fixture-dangling-fk", func(objs []fixtureObject, r *rand.Rand) ([]fixtureObject, error) {
			i, err := objectOf(objs, r, func(o fixtureObject) bool {
				return slices.ContainsFunc(fixtureFKs[o.Model], func(f string) bool { _, ok := o.Fields[f].(json.Number); return ok })
			})
			if err != nil {
				return nil, err
			}
			var fks []string
			for _, f := range fixtureFKs[objs[i].Model] {
				if _, ok := objs[i].Fields[f].(json.Number); ok {
					fks = append(fks, f)
				}
			}
			objs[i].Fields[fks[r.IntN(len(fks))]] = json.Number("987654")
			return objs, nil
		})),
		fix("fixture-duplicate-natural-key", true, []finding.Kind{finding.Duplicated, finding.KeyPlan}, onFixture("fixture-duplicate-natural-key", func(objs []fixtureObject, r *rand.Rand) ([]fixtureObject, error) {
			i, err := objectOf(objs, r, func(o fixtureObject) bool { return fixtureKeys[o.Model] != "" })
			if err != nil {
				return nil, err
			}
			dup := copyObject(objs[i])
			dup.PK = json.Number(fmt.Sprint(maxPK(objs, dup.Model) + 1))
			return append(objs, dup), nil
		})),
		fix("fixture-duplicate-pk", true, []finding.Kind{finding.Duplicated, finding.Corrupt}, onFixture("fixture-duplicate-pk", func(objs []fixtureObject, r *rand.Rand) ([]fixtureObject, error) {
			i, err := objectOf(objs, r, func(o fixtureObject) bool { _, ok := o.Fields[fixtureKeys[o.Model]].(string); return ok })
			if err != nil {
				return nil, err
			}
			dup := copyObject(objs[i])
			key := fixtureKeys[dup.Model]
			dup.Fields[key] = dup.Fields[key].(string) + "-dup"
			return append(objs, dup), nil
		})),
	}
}
