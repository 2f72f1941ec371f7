package zoo_test

import (
	"context"
	"fmt"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/jackc/pgx/v5"

	"github.com/edmsdr/edmsdr/engine/finding"
	"github.com/edmsdr/edmsdr/engine/keys"
	"github.com/edmsdr/edmsdr/engine/restore"
	"github.com/edmsdr/edmsdr/fixtures/zoo"
	"github.com/edmsdr/edmsdr/oracle"
	"github.com/edmsdr/edmsdr/suites/label"
	"github.com/edmsdr/edmsdr/suites/suitekit"
)

// install creates a database holding pattern p: seeded as a fresh install (re-initialised with
// reinit), the source's own rows with source, or the schema alone with empty.
func install(ctx context.Context, p zoo.Pattern, hint string, reinit, source, empty bool) string {
	GinkgoHelper()
	url := srv.DSN(suitekit.NewDatabase(ctx, srv, p.Name+"_"+hint))
	if empty {
		conn := suitekit.Connect(ctx, url)
		Expect(p.Apply(ctx, conn)).To(Succeed())
		return url
	}
	Expect(p.InstallInto(ctx, url, zoo.SeedOptions{Reinit: reinit}, source)).To(Succeed())
	return url
}

func snapshot(ctx context.Context, p zoo.Pattern, url string) *oracle.Snapshot {
	GinkgoHelper()
	conn := suitekit.Connect(ctx, url)
	opts, err := p.OracleOptions()
	Expect(err).NotTo(HaveOccurred())
	s, err := oracle.Read(ctx, conn, opts)
	Expect(err).NotTo(HaveOccurred(), "oracle")
	return s
}

func keysOf(p zoo.Pattern) *keys.File {
	GinkgoHelper()
	kf, err := p.KeysFile()
	Expect(err).NotTo(HaveOccurred())
	return kf
}

func describe(res *restore.Result) string {
	if res == nil {
		return "no result"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "verdict %s, committed %t, already restored %t\n", res.Verdict, res.Committed, res.AlreadyRestored)
	for _, t := range res.Tables {
		fmt.Fprintf(&b, "  %s: staged %d, inserted %d, matched %d\n", t.Table, t.Staged, t.Inserted, t.Matched)
	}
	for _, f := range res.Findings {
		fmt.Fprintf(&b, "  finding %s %s: %s\n", f.Kind, f.Table, f.Message)
	}
	return b.String()
}

var _ = Describe("The schema zoo", Label(label.Zoo), func() {
	for _, p := range zoo.Patterns() {
		for _, target := range []string{"reinit", "empty"} {
			It(fmt.Sprintf("%s into a %s target: %s", p.Name, target, p.Doc), func(ctx SpecContext) {
				kf := keysOf(p)
				src := install(ctx, p, "src", false, true, false)
				path, _ := suitekit.Backup(ctx, src, kf)
				tgt := install(ctx, p, "tgt", true, false, target == "empty")
				before := snapshot(ctx, p, tgt)
				digestBefore := suitekit.Digest(ctx, tgt)

				res, err := suitekit.Restore(ctx, tgt, path, restore.Options{Keys: kf})
				AddReportEntry("restore", describe(res))
				if len(p.Refused) > 0 && (target == "reinit" || !p.SeededOnly) {
					Expect(err).To(HaveOccurred(), "%s must be refused:\n%s", p.Name, describe(res))
					Expect(res.Committed).To(BeFalse())
					Expect(hasAny(finding.FindingsOf(err), p.Refused)).To(BeTrue(),
						"refused with %v, want one of %v:\n%s", err, p.Refused, describe(res))
					Expect(oracle.Compare(before, snapshot(ctx, p, tgt))).To(BeEmpty(), "a refusal leaves the target unchanged")
					Expect(suitekit.Digest(ctx, tgt).Total).To(Equal(digestBefore.Total))
					return
				}
				Expect(err).NotTo(HaveOccurred(), describe(res))
				Expect(res.Committed).To(BeTrue(), describe(res))
				Expect(res.Verdict).To(Equal(finding.Pass), describe(res))
				diffs := oracle.Compare(snapshot(ctx, p, src), snapshot(ctx, p, tgt))
				Expect(diffs).To(BeEmpty(), "the oracle sees another database than the source after a PASS:\n%s\n%s", diffs, describe(res))
				if target == "empty" {
					// Into empty tables every row keeps its source id (gaps, 0 and all).
					Expect(ids(ctx, tgt)).To(Equal(ids(ctx, src)), "ids after a restore into empty tables")
				}

				// The same package again changes nothing.
				again, err := suitekit.Restore(ctx, tgt, path, restore.Options{Keys: kf})
				Expect(err).NotTo(HaveOccurred(), "second restore:\n%s", describe(again))
				diffs = oracle.Compare(snapshot(ctx, p, src), snapshot(ctx, p, tgt))
				Expect(diffs).To(BeEmpty(), "after the second restore:\n%s\n%s", diffs, describe(again))
			}, SpecTimeout(2*time.Minute))
		}
	}
})

// ids returns, per table with an id column, its ids in order.
func ids(ctx context.Context, url string) map[string]string {
	GinkgoHelper()
	conn := suitekit.Connect(ctx, url)
	rows, err := conn.Query(ctx, `SELECT format('%I.%I', n.nspname, c.relname)
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_attribute a ON a.attrelid = c.oid
		WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND a.attname = 'id' AND NOT a.attisdropped
		  AND n.nspname NOT IN ('pg_catalog', 'information_schema')`)
	Expect(err).NotTo(HaveOccurred())
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	Expect(err).NotTo(HaveOccurred())
	out := map[string]string{}
	for _, t := range tables {
		var list string
		Expect(conn.QueryRow(ctx, "SELECT coalesce(string_agg(id::text, ',' ORDER BY id), '') FROM "+t).Scan(&list)).To(Succeed())
		out[t] = list
	}
	return out
}

func hasAny(l finding.List, kinds []finding.Kind) bool {
	for _, k := range kinds {
		if l.Has(k) {
			return true
		}
	}
	return false
}
