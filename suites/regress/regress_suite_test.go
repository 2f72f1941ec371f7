// Package regress_test holds regression specs for shapes of schema the EDMS fixture never has
// (keyless parents, partitioned tables, undeclared references, ambiguous target keys...): each
// spec builds a small synthetic schema in a source and a target database on real PostgreSQL,
// backs up, restores, and checks the outcome is correct or a clear refusal with the target
// unchanged — never a PASS over wrong data.
package regress_test

import (
	"context"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/edmsdr/edmsdr/engine/finding"
	"github.com/edmsdr/edmsdr/engine/restore"
	"github.com/edmsdr/edmsdr/fixtures/provider"
	"github.com/edmsdr/edmsdr/suites/suitekit"
)

var (
	knobs = suitekit.LoadKnobs()
	srv   provider.Server
)

func TestRegress(t *testing.T) { suitekit.RunSuite(t, "Regression suite") }

var _ = suitekit.ServerSuite(knobs, &srv, 5*time.Minute)

// pair creates a source and a target database, both with the schema ddl, and runs the extra
// statements in each; it returns their DSNs.
func pair(ctx context.Context, ddl string, source, target []string) (src, tgt string) {
	GinkgoHelper()
	src = srv.DSN(suitekit.NewDatabase(ctx, srv, "src"))
	tgt = srv.DSN(suitekit.NewDatabase(ctx, srv, "tgt"))
	suitekit.Exec(ctx, src, append([]string{ddl}, source...)...)
	suitekit.Exec(ctx, tgt, append([]string{ddl}, target...)...)
	return src, tgt
}

// kinds lists the kinds of a result's error findings.
func kinds(res *restore.Result) []finding.Kind {
	var out []finding.Kind
	for _, f := range res.Findings {
		if f.Severity == finding.Error || f.Severity == "" {
			out = append(out, f.Kind)
		}
	}
	return out
}

// query returns the single text value of sql on url.
func query(ctx context.Context, url, sql string) (s string) {
	GinkgoHelper()
	conn := suitekit.Connect(ctx, url)
	Expect(conn.QueryRow(ctx, sql).Scan(&s)).To(Succeed(), sql)
	return s
}
