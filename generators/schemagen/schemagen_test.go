package schemagen_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/edmsdr/edmsdr/engine/keys"
	"github.com/edmsdr/edmsdr/generators/schemagen"
)

func TestGenerateIsDeterministic(t *testing.T) {
	for seed := range int64(20) {
		a, b := schemagen.Generate(seed), schemagen.Generate(seed)
		if !reflect.DeepEqual([]any{a.Schema, a.Source, a.Target, a.Keys, a.Shapes}, []any{b.Schema, b.Source, b.Target, b.Keys, b.Shapes}) {
			t.Fatalf("seed %d: two cases differ", seed)
		}
	}
	if schemagen.Generate(1).Schema == schemagen.Generate(2).Schema {
		t.Error("seeds 1 and 2 give the same schema")
	}
}

// TestGenerateCoversTheShapes checks that the default seeds of the zoo suite (1-24) meet every
// shape the generator promises, and that every keys file parses.
func TestGenerateCoversTheShapes(t *testing.T) {
	seen := map[string]int{}
	for seed := int64(1); seed <= 24; seed++ {
		c := schemagen.Generate(seed)
		for _, s := range c.Shapes {
			seen[s]++
		}
		if _, err := keys.ParseFile([]byte(c.Keys)); err != nil {
			t.Errorf("seed %d: keys file: %v\n%s", seed, err, c.Keys)
		}
		if len(c.Source) == 0 || len(c.Target) == 0 || !strings.Contains(c.Schema, "CREATE TABLE") {
			t.Errorf("seed %d: empty case", seed)
		}
		if !strings.Contains(c.Replay(), "EDMSDR_ZOO_SEEDS=") {
			t.Errorf("seed %d: replay %q names no seed", seed, c.Replay())
		}
	}
	for _, s := range []string{"keyless", "natural-key-through-parent", "self-reference", "cycle", "cycle-deferrable",
		"partition-fk-on-parent", "partition-fk-on-each", "partition-fk-on-some", "target-shares-a-natural-key", "composite-fk", "target-holds-a-source-keyless-row", "generated-column", "undeclared-reference"} {
		if seen[s] == 0 {
			t.Errorf("no case of seeds 1-24 has %s", s)
		}
	}
	t.Logf("shapes over seeds 1-24: %v", seen)
}
