package edmsgen

import (
	"context"
	"fmt"
	"strconv"
)

// specialRoots are root folders with the Unicode and escaping edge cases.
var specialRoots = []string{
	literalBackslashN, "tab\tfolder", "new\nline folder", `C:\Users\docs`, "المستندات", "מסמכים",
	"文書フォルダ", "👩‍👩‍👧 family docs", "Re\u0301sume\u0301s", SharedFolderName, "Projects",
}

// folderRow is one folder before it is written.
type folderRow struct {
	id        int32
	parent    int32 // 0: root
	name      string
	createdBy any
}

// folders builds the deep chain, the special roots, same-name siblings under different parents,
// and a random tree, then writes them parents first.
func (g *generator) folders(ctx context.Context) error {
	start, err := g.l.NextID(ctx, "documents_folder", "id")
	if err != nil {
		return err
	}
	var rows []folderRow
	taken := map[string]bool{} // parent id + "/" + name
	add := func(parent int32, name string) int32 {
		key := strconv.Itoa(int(parent)) + "/" + name
		for n := 2; taken[key]; n++ {
			name = fmt.Sprintf("%s (%d)", name, n)
			key = strconv.Itoa(int(parent)) + "/" + name
		}
		taken[key] = true
		id := int32(start) + int32(len(rows))
		rows = append(rows, folderRow{id: id, parent: parent, name: name, createdBy: g.actor(20)})
		return id
	}

	// The deep chain: DeepChainDepth folders, each the only child of the previous one.
	parent := add(0, DeepChainRoot)
	chain := []int32{parent}
	for level := 1; level < DeepChainDepth; level++ {
		parent = add(parent, fmt.Sprintf("level %02d %s", level, unicodeSamples[level%len(unicodeSamples)]))
		chain = append(chain, parent)
	}
	g.deepest = parent

	roots := map[string]int32{}
	for _, name := range specialRoots {
		roots[name] = add(0, name)
	}
	// Siblings with the same name under different parents (and a root of that name too).
	for _, p := range []int32{roots["Projects"], roots["المستندات"], chain[3], chain[DeepChainDepth-1]} {
		add(p, SharedFolderName)
		add(p, "Entwürfe")
	}

	// The random tree: roots now and then, otherwise under any earlier folder.
	for range g.p.Folders {
		var p int32
		if !g.pct(8) {
			p = rows[g.f.IntN(len(rows))].id
		}
		name := g.f.NounConcrete()
		if g.pct(10) {
			name = pick(g, unicodeSamples)
		} else if g.pct(2) {
			name = pick(g, escapeSamples)
		}
		add(p, name)
	}
	g.folderList = make([]folder, len(rows))
	for i, r := range rows {
		g.folderList[i] = folder{id: r.id, parent: r.parent}
	}

	cols := []string{"id", "parent_id", "name", "created_by_id", "created_at"}
	return g.l.Copy(ctx, "documents_folder", cols, len(rows), func(i int) ([]any, error) {
		r := rows[i]
		var p any
		if r.parent != 0 {
			p = r.parent
		}
		return []any{r.id, p, r.name, r.createdBy, g.someTime()}, nil
	})
}
