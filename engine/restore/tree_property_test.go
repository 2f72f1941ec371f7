package restore_test

import (
	"bytes"
	"fmt"
	"math/rand"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/edmsdr/edmsdr/engine/finding"
	"github.com/edmsdr/edmsdr/engine/restore"
)

// randomNodes renders the INSERTs of n nodes of kind 'a' with ids from base+1, each under an
// earlier node or a root, named from a three-letter alphabet so that a source and a seeded target
// share many paths at every depth; every twelfth node deepens a chain.
func randomNodes(rng *rand.Rand, n, base int) string {
	var b strings.Builder
	used := map[string]bool{}
	for i := 1; i <= n; i++ {
		for {
			parent := "NULL"
			if i > 1 && rng.Intn(4) != 0 {
				parent = fmt.Sprint(base + 1 + rng.Intn(i-1))
			}
			if i > 1 && i%12 == 0 {
				parent = fmt.Sprint(base + i - 1)
			}
			name := string(rune('a' + rng.Intn(3)))
			if used[parent+"/"+name] {
				if i%12 == 0 {
					name = fmt.Sprintf("chain%d", i)
				} else {
					continue
				}
			}
			used[parent+"/"+name] = true
			fmt.Fprintf(&b, "INSERT INTO node (id, parent_id, name, kind_id) VALUES (%d, %s, '%s', (SELECT id FROM kind WHERE name = 'a'));\n", base+i, parent, name)
			break
		}
	}
	return b.String()
}

// nodePaths maps every node of the database conn reaches to its path of names from its root.
func nodePaths(t *testing.T, e *env, conn *pgx.Conn) map[string]string {
	t.Helper()
	rows, err := conn.Query(e.ctx, `WITH RECURSIVE p(id, path) AS (SELECT id, name FROM node WHERE parent_id IS NULL
		UNION ALL SELECT n.id, p.path || '/' || n.name FROM p JOIN node n ON n.parent_id = p.id) SELECT id::text, path FROM p`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var id, path string
		if err := rows.Scan(&id, &path); err != nil {
			t.Fatal(err)
		}
		out[id] = path
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// A seeded target's tree map (level by level, each level reading its depth's rows: byDepth)
// against what it must be, on random trees that share many paths with the seed at every depth:
// each source id maps to the target row of its path, matched exactly when the seed had that
// path, and the tree afterwards holds the seed's paths and the package's, each once.
func TestSeededTreeMapFollowsThePaths(t *testing.T) {
	for seed := int64(1); seed <= 6; seed++ {
		// One source and package per seed, restored into a target of its own by each run.
		t.Run(fmt.Sprintf("seed %d", seed), func(t *testing.T) {
			rng := rand.New(rand.NewSource(seed))
			src := "INSERT INTO kind (name, label) VALUES ('a', 'Kind A');\n" + randomNodes(rng, 60, 0) +
				"SELECT setval('node_id_seq', 100); INSERT INTO note (node_id, body) SELECT id, 'n' || id FROM node;\n"
			// The seed's ids overlap the package's (kept where free under KeepIDs).
			tgt := "INSERT INTO kind (name, label) VALUES ('a', 'Kind A');\n" + randomNodes(rng, 40, int(seed)*7) +
				"SELECT setval('node_id_seq', 500);\n"
			shared := newEnv(t, src, ddl, tgt)
			sconn, err := pgx.Connect(shared.ctx, shared.src)
			if err != nil {
				t.Fatal(err)
			}
			defer sconn.Close(shared.ctx)
			srcPaths, seedPaths := nodePaths(t, shared, sconn), nodePaths(t, shared, shared.conn)
			seeded := map[string]bool{}
			for _, p := range seedPaths {
				seeded[p] = true
			}
			for _, keep := range []bool{false, true} {
				t.Run(fmt.Sprintf("keep ids %v", keep), func(t *testing.T) {
					e := shared.forTest(t)
					if keep { // the first run's target is restored into: a new one
						e.newTarget(ddl + tgt)
					}
					opts := restore.Options{}
					if keep {
						opts.KeepIDs = []string{"*"}
					}
					var buf bytes.Buffer
					opts.IDMap = &buf
					res, err := e.restore(opts)
					if err != nil || !res.Committed || res.Verdict != finding.Pass {
						t.Fatalf("restore: %v (findings %v)", err, res.Findings)
					}
					after := nodePaths(t, e, e.conn)
					mapped, deepMatched, keptIDs := 0, 0, 0
					for _, line := range strings.Split(buf.String(), "\n") {
						f := strings.Split(line, "\t")
						if len(f) != 4 || f[0] != "node" {
							continue
						}
						mapped++
						if after[f[2]] != srcPaths[f[1]] {
							t.Errorf("node %s (%s) mapped to %s (%s)", f[1], srcPaths[f[1]], f[2], after[f[2]])
						}
						if f[3] == "matched" && strings.Count(srcPaths[f[1]], "/") >= 2 {
							deepMatched++
						}
						if f[3] == "kept" || (f[3] == "inserted" && f[1] == f[2]) {
							keptIDs++
						}
						if (f[3] == "matched") != seeded[srcPaths[f[1]]] {
							t.Errorf("node %s (%s) %s, the seed has the path: %v", f[1], srcPaths[f[1]], f[3], seeded[srcPaths[f[1]]])
						}
					}
					t.Logf("mapped %d, matched below depth 1: %d, ids kept: %d", mapped, deepMatched, keptIDs)
					if mapped != len(srcPaths) {
						t.Errorf("%d nodes mapped, the package has %d", mapped, len(srcPaths))
					}
					want := map[string]bool{}
					for _, p := range srcPaths {
						want[p] = true
					}
					for p := range seeded {
						want[p] = true
					}
					paths := map[string]int{}
					for _, p := range after {
						paths[p]++
					}
					for p := range want {
						if paths[p] != 1 {
							t.Errorf("path %s %d times in the target, want once", p, paths[p])
						}
					}
					if len(after) != len(want) {
						t.Errorf("%d nodes in the target, want %d", len(after), len(want))
					}
					if got := e.text(`SELECT count(*)::text FROM node`); got != fmt.Sprint(len(want)) {
						t.Errorf("%s nodes in the target, %d reachable from a root", got, len(want))
					}
				})
			}
		})
	}
}
