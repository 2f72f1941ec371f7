package drill

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/edmsdr/edmsdr/engine/dsn"
	"github.com/edmsdr/edmsdr/engine/finding"
	"github.com/edmsdr/edmsdr/engine/legacy"
	"github.com/edmsdr/edmsdr/engine/pack"
	"github.com/edmsdr/edmsdr/engine/pgquote"
	"github.com/edmsdr/edmsdr/reports"
)

// ScenarioLegacy is the Django fixture round trip.
const ScenarioLegacy = "legacy"

// legacyScenario writes the cycle's package as a Django dumpdata fixture (what `edmsdr fixture`
// writes and loaddata reads), converts it back against a re-initialised scratch database (what
// `edmsdr restore --in X.json` does), restores that, and checks that every table the fixture
// carries holds exactly the package's rows: the path of a site whose only backup is a fixture.
func (r *runner) legacyScenario(ctx context.Context, pkgPath string, reinit func(context.Context) error) reports.Scenario {
	var s reports.Scenario
	dir, err := os.MkdirTemp("", "edmsdr-drill-legacy-")
	if err != nil {
		s.Error = err.Error()
		return s
	}
	defer os.RemoveAll(dir)
	_, err = verifyManifest(pkgPath)
	if err != nil {
		s.Error = err.Error()
		return s
	}
	fixture := filepath.Join(dir, "dumpdata.json")
	exp, err := legacy.Export(ctx, fixture, legacy.ExportOptions{Open: func() (io.ReadCloser, error) { return os.Open(pkgPath) }, TempDir: dir, Log: r.log})
	if err != nil {
		s.Checks = append(s.Checks, finding.Check{Name: "fixture written", Verdict: finding.Fail, Evidence: dsn.Redact(err.Error())})
		return s
	}
	var skipped []string
	for _, t := range exp.Skipped {
		skipped = append(skipped, fmt.Sprintf("%s (%d rows)", t.Table, t.Rows))
	}
	ev := fmt.Sprintf("%d objects of %d models", exp.Objects, len(exp.Models))
	if len(skipped) > 0 {
		ev += "; left out as no Django model, as dumpdata would: " + strings.Join(skipped, ", ")
	}
	s.Checks = append(s.Checks, finding.Check{Name: "fixture written", Verdict: finding.Pass, Evidence: ev})

	url, _, err := r.scratch(ctx, reinit)
	if err != nil {
		s.Error = "the scratch database could not be prepared: " + dsn.Redact(err.Error())
		return s
	}
	conn, err := dsn.Connect(ctx, url)
	if err != nil {
		s.Error = dsn.Redact(err.Error())
		return s
	}
	f, err := os.Open(fixture)
	if err != nil {
		conn.Close(context.WithoutCancel(ctx))
		s.Error = err.Error()
		return s
	}
	conv := filepath.Join(dir, "fixture.edmsdr")
	_, cerr := legacy.Convert(ctx, conn, f, conv, legacy.ConvertOptions{Tool: r.cfg.Tool, Name: "dumpdata.json", Log: r.log})
	f.Close()
	conn.Close(context.WithoutCancel(ctx))
	if cerr != nil {
		s.Checks = append(s.Checks, finding.Check{Name: "fixture converted", Verdict: finding.Fail, Evidence: dsn.Redact(cerr.Error())})
		return s
	}
	data, err := os.ReadFile(conv)
	if err != nil {
		s.Error = err.Error()
		return s
	}
	res, rerr := r.restoreInto(ctx, url, data, nil)
	c := finding.Check{Name: "fixture restored", Verdict: finding.Pass, Evidence: "restore verdict PASS"}
	switch {
	case rerr != nil:
		c.Verdict, c.Evidence = finding.Fail, dsn.Redact(rerr.Error())
	case res.Verdict != finding.Pass:
		c.Verdict, c.Evidence = res.Verdict, "restore verdict "+string(res.Verdict)
	}
	s.Checks = append(s.Checks, c)
	if c.Verdict != finding.Pass {
		return s
	}
	after, err := digestOf(ctx, url)
	if err != nil {
		s.Error = "the target could not be digested: " + dsn.Redact(err.Error())
		return s
	}
	// The baseline: the package itself restored into a fresh scratch database, with what a
	// fixture cannot carry made equal — JSON null in a nullable JSON column reads back as SQL NULL
	// (docs/legacy.md) — so that everything else must match exactly.
	want, nulled, err := r.legacyBaseline(ctx, pkgPath, reinit)
	if err != nil {
		s.Error = "the baseline restore failed: " + dsn.Redact(err.Error())
		return s
	}
	var tables []string
	for _, t := range exp.Models {
		if !slices.Contains(tables, t.Table) {
			tables = append(tables, t.Table)
		}
	}
	slices.Sort(tables)
	var differ []string
	for _, t := range tables {
		q := t
		if !strings.Contains(q, ".") {
			q = "public." + q
		}
		w, ok := want.Tables[q]
		if got := after.Tables[q]; !ok || !got.Equal(w) {
			differ = append(differ, fmt.Sprintf("%s (%d rows in the package, %d restored)", t, w.Rows, got.Rows))
		}
	}
	ev = fmt.Sprintf("the %d tables of the fixture hold exactly the package's rows", len(tables))
	if len(nulled) > 0 {
		ev += " (JSON null read as SQL NULL in " + strings.Join(nulled, ", ") + ", as a fixture cannot tell them apart)"
	}
	d := finding.Check{Name: "fixture round trip digest", Verdict: finding.Pass, Evidence: ev}
	if len(differ) > 0 {
		d.Verdict, d.Evidence = finding.Fail, "tables differ after the fixture round trip: "+strings.Join(differ, ", ")
	}
	s.Checks = append(s.Checks, d)
	return s
}

// legacyBaseline restores the package into a fresh scratch database, sets JSON nulls in nullable
// json/jsonb columns to SQL NULL, and returns its digest and the columns it changed.
func (r *runner) legacyBaseline(ctx context.Context, pkgPath string, reinit func(context.Context) error) (pack.Digest, []string, error) {
	url, _, err := r.scratch(ctx, reinit)
	if err != nil {
		return pack.Digest{}, nil, err
	}
	data, err := os.ReadFile(pkgPath)
	if err != nil {
		return pack.Digest{}, nil, err
	}
	if _, err := r.restoreInto(ctx, url, data, nil); err != nil {
		return pack.Digest{}, nil, err
	}
	conn, err := dsn.Connect(ctx, url)
	if err != nil {
		return pack.Digest{}, nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	rows, err := conn.Query(ctx, `SELECT table_schema, table_name, column_name FROM information_schema.columns
		WHERE data_type IN ('json', 'jsonb') AND is_nullable = 'YES' AND table_schema NOT IN ('pg_catalog', 'information_schema')
		ORDER BY 1, 2, 3`)
	if err != nil {
		return pack.Digest{}, nil, err
	}
	type col struct{ schema, table, column string }
	var cols []col
	for rows.Next() {
		var c col
		if err := rows.Scan(&c.schema, &c.table, &c.column); err != nil {
			rows.Close()
			return pack.Digest{}, nil, err
		}
		cols = append(cols, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return pack.Digest{}, nil, err
	}
	var nulled []string
	for _, c := range cols {
		t, k := pgquote.Ident(c.schema)+"."+pgquote.Ident(c.table), pgquote.Ident(c.column)
		tag, err := conn.Exec(ctx, fmt.Sprintf(`UPDATE %s SET %s = NULL WHERE %s::text = 'null'`, t, k, k))
		if err != nil {
			return pack.Digest{}, nil, fmt.Errorf("%s.%s: %w", c.table, c.column, err)
		}
		if tag.RowsAffected() > 0 {
			nulled = append(nulled, fmt.Sprintf("%s.%s (%d rows)", c.table, c.column, tag.RowsAffected()))
		}
	}
	d, err := digestOf(ctx, url)
	return d, nulled, err
}

func verifyManifest(path string) (*pack.Manifest, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return pack.Verify(f, pack.Limits{})
}
