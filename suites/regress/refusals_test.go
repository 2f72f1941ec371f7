package regress_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/edmsdr/edmsdr/corrupt"
	"github.com/edmsdr/edmsdr/engine/finding"
	"github.com/edmsdr/edmsdr/engine/restore"
	"github.com/edmsdr/edmsdr/suites/label"
	"github.com/edmsdr/edmsdr/suites/suitekit"
)

var _ = Describe("Clearer refusals", Label(label.Regress), func() {
	It("report a damaged byte inside a COPY entry as a checksum mismatch before the server reads it", func(ctx SpecContext) {
		src, tgt := pair(ctx, `CREATE TABLE stamp (id serial PRIMARY KEY, name text NOT NULL UNIQUE, at timestamptz NOT NULL)`,
			[]string{`INSERT INTO stamp (name, at) SELECT 'n' || g, timestamptz '2024-01-01 00:00:00+00' + g * interval '1 hour' FROM generate_series(1, 50) g`}, nil)
		path, _ := suitekit.Backup(ctx, src, nil)
		raw, err := os.ReadFile(path)
		Expect(err).NotTo(HaveOccurred())
		es, err := corrupt.Unpack(raw)
		Expect(err).NotTo(HaveOccurred())
		damaged := false
		for i := range es {
			if strings.HasPrefix(es[i].Header.Name, "data/") && bytes.Contains(es[i].Data, []byte("+00\n")) {
				// "+00" -> "+99": a value the server refuses ("time zone displacement out of range").
				j := bytes.Index(es[i].Data, []byte("+00\n"))
				es[i].Data[j+1], es[i].Data[j+2] = '9', '9'
				damaged = true
				break
			}
		}
		Expect(damaged).To(BeTrue())
		out, err := corrupt.Repack(es)
		Expect(err).NotTo(HaveOccurred())
		bad := filepath.Join(GinkgoT().TempDir(), "damaged.edmsdr")
		Expect(os.WriteFile(bad, out, 0o600)).To(Succeed())

		res, err := suitekit.Restore(ctx, tgt, bad, restore.Options{})
		Expect(err).To(HaveOccurred())
		Expect(res.Committed).To(BeFalse())
		var msgs []string
		for _, f := range res.Findings {
			msgs = append(msgs, string(f.Kind)+": "+f.Message)
		}
		Expect(msgs).To(ContainElement(ContainSubstring("checksum mismatch")))
		Expect(strings.Join(msgs, "\n")).NotTo(ContainSubstring("time zone"))
		Expect(kinds(res)).To(ConsistOf(finding.Corrupt))
		Expect(suitekit.Count(ctx, tgt, `SELECT count(*) FROM stamp`)).To(BeZero())
	}, SpecTimeout(time.Minute))
})

var _ = Describe("--on-existing update against a BEFORE UPDATE trigger", Label(label.Regress), func() {
	It("fails naming the trigger that stamped the updated rows, and what to do", func(ctx SpecContext) {
		const ddl = `
CREATE TABLE doc (id serial PRIMARY KEY, name text NOT NULL UNIQUE, body text, modified timestamptz NOT NULL DEFAULT '2020-01-01');
CREATE FUNCTION stamp() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.modified := '1999-09-09'; RETURN NEW; END $$;
CREATE TRIGGER doc_modified BEFORE UPDATE ON doc FOR EACH ROW EXECUTE FUNCTION stamp();`
		src, tgt := pair(ctx, ddl,
			[]string{`INSERT INTO doc (name, body) VALUES ('a', 'new'), ('b', 'same')`},
			[]string{`INSERT INTO doc (name, body) VALUES ('a', 'old'), ('b', 'same')`})
		path, _ := suitekit.Backup(ctx, src, nil)
		before := suitekit.Digest(ctx, tgt)
		res, err := suitekit.Restore(ctx, tgt, path, restore.Options{OnExisting: restore.Update})
		Expect(err).To(HaveOccurred())
		Expect(res.Committed).To(BeFalse())
		var msg string
		for _, f := range res.Findings {
			if f.Kind == finding.DigestMismatch {
				msg = f.Message
			}
		}
		Expect(msg).To(ContainSubstring("doc_modified"))
		Expect(msg).To(ContainSubstring("DISABLE TRIGGER"))
		Expect(suitekit.Digest(ctx, tgt).Total).To(Equal(before.Total))
	}, SpecTimeout(time.Minute))
})
