package contenttype

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/edmsdr/edmsdr/engine/keys"
	"github.com/edmsdr/edmsdr/fixtures/localpg/localpgtest"
)

func TestMain(m *testing.M) { os.Exit(localpgtest.RunShared(m)) }

func TestUsedReadsTheContentTypesTheRowsPointAt(t *testing.T) {
	tc := localpgtest.Shared(t)
	conn := tc.Connect(t, tc.NewDatabase(t, "contenttype"))
	ctx := localpgtest.Context(t, time.Minute)
	// Names that need quoting, so that a missed quote fails the query.
	if _, err := conn.Exec(ctx, `
CREATE TABLE "Content Types" ("ct id" int PRIMARY KEY, "App" varchar(100), "Model ""x""" varchar(100));
INSERT INTO "Content Types" VALUES (1, 'docs', 'document'), (2, 'auth', 'user'), (3, 'auth', 'group'), (4, 'wf', 'state');
CREATE TABLE audit (id int PRIMARY KEY, "type of" int, object_id int, hidden boolean);
INSERT INTO audit VALUES (1, 1, 10, false), (2, 1, 11, false), (3, 2, 5, false), (4, 3, NULL, false), (5, 4, 7, true);
CREATE TABLE "Indexed audit" (id int PRIMARY KEY, "type of" int, object_id int, hidden boolean);
INSERT INTO "Indexed audit" SELECT * FROM audit WHERE "type of" <> 2;
INSERT INTO "Indexed audit" VALUES (6, NULL, 3, false), (7, 4, 8, false), (8, NULL, NULL, true);
CREATE INDEX ON "Indexed audit" ("type of", object_id);
`); err != nil {
		t.Fatal(err)
	}
	table := Table{From: `"Content Types"`, ID: "ct id", Plan: &keys.ContentTypes{AppLabelColumn: "App", ModelColumn: `Model "x"`}}
	names := func(types []Type) []string {
		var out []string
		for _, ct := range types {
			out = append(out, fmt.Sprintf("%d %s %s", ct.ID, ct.AppLabel, ct.Model))
		}
		slices.Sort(out)
		return out
	}
	for _, c := range []struct {
		name string
		refs Refs
		want []string
	}{
		{"every row", Refs{From: "audit", Column: "type of"}, []string{"1 docs document", "2 auth user", "3 auth group", "4 wf state"}},
		{"rows the condition keeps", Refs{From: "audit", Column: "type of", Where: "NOT s.hidden AND s.object_id IS NOT NULL"}, []string{"1 docs document", "2 auth user"}},
		{"no rows", Refs{From: "audit", Column: "type of", Where: "false"}, nil},
		// A loose index scan (NULLs left out), and where there is no index to probe, the scan.
		{"probing an index", Refs{From: `"Indexed audit"`, Column: "type of", Table: true}, []string{"1 docs document", "3 auth group", "4 wf state"}},
		{"probing an index, under a condition", Refs{From: `"Indexed audit"`, Column: "type of", Table: true, Where: "NOT s.hidden AND s.object_id IS NOT NULL"}, []string{"1 docs document", "4 wf state"}},
		{"a table without an index", Refs{From: "audit", Column: "type of", Table: true}, []string{"1 docs document", "2 auth user", "3 auth group", "4 wf state"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := Used(ctx, conn, table, c.refs)
			if err != nil {
				t.Fatal(err)
			}
			if g := names(got); !slices.Equal(g, c.want) {
				t.Errorf("Used = %q, want %q", g, c.want)
			}
		})
	}
}

func TestUsedSaysWhatItFailedToRead(t *testing.T) {
	tc := localpgtest.Shared(t)
	conn := tc.Connect(t, tc.NewDatabase(t, "contenttype"))
	ctx := localpgtest.Context(t, time.Minute)
	_, err := Used(ctx, conn, Table{From: "missing_table", ID: "id", Plan: &keys.ContentTypes{AppLabelColumn: "app_label", ModelColumn: "model"}},
		Refs{From: "also_missing", Column: "content_type_id"})
	if err == nil || !strings.HasPrefix(err.Error(), "read content types: ") {
		t.Fatalf("Used on a missing table: err = %v, want one starting with %q", err, "read content types: ")
	}
}
