package security_test

import (
	"bytes"
	"crypto/ed25519"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"

	"github.com/edmsdr/edmsdr/corrupt"
	"github.com/edmsdr/edmsdr/engine/backup"
	"github.com/edmsdr/edmsdr/engine/dsn"
	"github.com/edmsdr/edmsdr/engine/finding"
	"github.com/edmsdr/edmsdr/engine/journal"
	"github.com/edmsdr/edmsdr/engine/keys"
	"github.com/edmsdr/edmsdr/engine/pack"
	"github.com/edmsdr/edmsdr/engine/restore"
	"github.com/edmsdr/edmsdr/engine/seal"
	"github.com/edmsdr/edmsdr/suites/label"
	"github.com/edmsdr/edmsdr/suites/suitekit"
)

// keygen writes a key pair with edmsdr keygen and returns the prefix.
func keygen(dir, name, kind string) string {
	GinkgoHelper()
	prefix := filepath.Join(dir, name)
	mustRun(nil, "keygen", "--kind", kind, "--out", prefix)
	return prefix
}

func perm(path string) os.FileMode {
	GinkgoHelper()
	st, err := os.Stat(path)
	Expect(err).NotTo(HaveOccurred())
	return st.Mode().Perm()
}

func readFile(path string) string {
	GinkgoHelper()
	data, err := os.ReadFile(path)
	Expect(err).NotTo(HaveOccurred())
	return string(data)
}

var keyIDLine = regexp.MustCompile(`key id ([0-9a-f]{64})`)

var _ = Describe("encryption at rest", Label(label.Security, label.Seal, label.EDMS), func() {
	It("encrypts to age recipients; only a matching identity verifies or restores it, and a wrong key writes nothing", func(ctx SpecContext) {
		dir := GinkgoT().TempDir()
		src := suitekit.EDMSSource(ctx, srv, 61)
		alice, bob, eve := keygen(dir, "alice", "encrypt"), keygen(dir, "bob", "encrypt"), keygen(dir, "eve", "encrypt")
		Expect(perm(alice + ".key")).To(Equal(os.FileMode(0o600)))

		pkg := filepath.Join(dir, "b.edmsdr")
		s := mustRun(nil, "backup", "--dsn", src, "--out", pkg,
			"--encrypt-to", strings.TrimSpace(readFile(alice+".pub")), "--encrypt-to-file", bob+".pub")
		Expect(string(s.Out.Contents())).To(ContainSubstring("sealed: encrypted to 2 recipients"))
		raw := []byte(readFile(pkg))
		Expect(pack.Sniff(raw)).To(Equal("age"))
		Expect(bytes.Contains(raw, []byte("documents_document"))).To(BeFalse(), "table names in the clear")

		s = edmsdr(nil, "verify", "--in", pkg)
		Expect(s.ExitCode()).To(Equal(1))
		Expect(string(s.Err.Contents())).To(ContainSubstring("error unsupported"))
		s = edmsdr(nil, "verify", "--in", pkg, "--identity", eve+".key")
		Expect(s.ExitCode()).To(Equal(1))
		Expect(string(s.Err.Contents())).To(ContainSubstring("error privilege"))
		Expect(output(s)).NotTo(ContainSubstring("AGE-SECRET-KEY"))
		s = mustRun(nil, "verify", "--in", pkg, "--identity", bob+".key")
		Expect(string(s.Out.Contents())).To(ContainSubstring("encrypted: yes"))
		Expect(lastLine(s)).To(Equal("OK"))

		tgt := suitekit.EDMSTarget(ctx, srv)
		before := digestOf(tgt)
		report := filepath.Join(dir, "report")
		for _, keys := range [][]string{nil, {"--identity", eve + ".key"}} {
			s = edmsdr(nil, append([]string{"restore", "--dsn", tgt, "--in", pkg, "--report", report}, keys...)...)
			Expect(s.ExitCode()).To(Equal(1), output(s))
			// A refused decryption writes nothing but its journal entry (issue 13: every refused
			// attempt is journaled, by default beside the report), which names no commit.
			names, err := os.ReadDir(report)
			Expect(err).NotTo(HaveOccurred())
			Expect(names).To(HaveLen(1), "a refused decryption writes nothing but the journal")
			Expect(names[0].Name()).To(Equal("journal.jsonl"))
			entries, err := journal.ReadFile(filepath.Join(report, "journal.jsonl"))
			Expect(err).NotTo(HaveOccurred())
			Expect(entries).NotTo(BeEmpty())
			Expect(entries[len(entries)-1].Outcome).NotTo(Equal(journal.Committed))
			Expect(digestOf(tgt)).To(Equal(before))
		}
		s = mustRun(nil, "restore", "--dsn", tgt, "--in", pkg, "--identity", eve+".key", "--identity", alice+".key", "--report", report)
		Expect(string(s.Out.Contents())).To(ContainSubstring("verdict PASS: committed"))
		Expect(digestOf(tgt)).To(Equal(digestOf(src)))
	}, SpecTimeout(4*time.Minute))

	It("encrypts with a passphrase read from a file or EDMSDR_PASSPHRASE, never from the command line", func(ctx SpecContext) {
		dir := GinkgoT().TempDir()
		src := miniSource(ctx)
		pwFile := filepath.Join(dir, "pw")
		Expect(os.WriteFile(pwFile, []byte("correct horse battery staple\n"), 0o600)).To(Succeed())
		env := []string{"EDMSDR_PASSPHRASE=correct horse battery staple"}
		pkg := filepath.Join(dir, "b.edmsdr")

		s := edmsdr(nil, "backup", "--dsn", src, "--out", pkg, "--passphrase", "x")
		Expect(s.ExitCode()).To(Equal(2), "a passphrase flag exists")
		s = edmsdr(nil, "backup", "--dsn", src, "--out", pkg, "--encrypt-passphrase")
		Expect(s.ExitCode()).To(Equal(2), "no passphrase anywhere")
		s = edmsdr(env, "backup", "--dsn", src, "--out", pkg, "--encrypt-passphrase", "--encrypt-to", "age1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq")
		Expect(s.ExitCode()).To(Equal(2), "a passphrase must be the only recipient")
		Expect(pkg).NotTo(BeAnExistingFile())

		s = mustRun(env, "backup", "--dsn", src, "--out", pkg, "--encrypt-passphrase")
		Expect(string(s.Out.Contents())).To(ContainSubstring("sealed: encrypted with a passphrase"))
		Expect(pack.Sniff([]byte(readFile(pkg)))).To(Equal("age"))

		mustRun(nil, "verify", "--in", pkg, "--passphrase-file", pwFile)
		wrong := filepath.Join(dir, "wrong")
		Expect(os.WriteFile(wrong, []byte("Correct horse battery staple\n"), 0o600)).To(Succeed())
		s = edmsdr(env, "verify", "--in", pkg, "--passphrase-file", wrong)
		Expect(s.ExitCode()).To(Equal(1), "--passphrase-file wins over the environment")
		Expect(string(s.Err.Contents())).To(ContainSubstring("error privilege"))
		Expect(output(s)).NotTo(ContainSubstring("orse battery"))

		tgt := miniTarget(ctx)
		mustRun(env, "restore", "--dsn", tgt, "--in", pkg)
		Expect(digestOf(tgt)).To(Equal(digestOf(src)))
	}, SpecTimeout(3*time.Minute))
})

var _ = Describe("signed packages", Label(label.Security, label.Seal, label.EDMS), func() {
	It("verifies the signer, and refuses unsigned, foreign-signed and tampered packages even with every checksum recomputed", func(ctx SpecContext) {
		dir := GinkgoT().TempDir()
		src := suitekit.EDMSSource(ctx, srv, 62)
		release := keygen(dir, "release", "sign")
		other := keygen(dir, "other", "sign")
		Expect(perm(release + ".key")).To(Equal(os.FileMode(0o600)))
		id := keyIDLine.FindStringSubmatch(readFile(release + ".key"))
		Expect(id).NotTo(BeNil())

		signed := filepath.Join(dir, "signed.edmsdr")
		s := mustRun(nil, "backup", "--dsn", src, "--out", signed, "--sign-key", release+".key")
		Expect(string(s.Out.Contents())).To(ContainSubstring("signed by key " + id[1]))
		s = mustRun(nil, "verify", "--in", signed, "--pubkey", release+".pub")
		Expect(string(s.Out.Contents())).To(ContainSubstring("signature: valid, ed25519 key " + id[1]))
		s = mustRun(nil, "verify", "--in", signed)
		Expect(string(s.Out.Contents())).To(ContainSubstring("not checked"))
		s = edmsdr(nil, "verify", "--in", signed, "--pubkey", other+".pub")
		Expect(s.ExitCode()).To(Equal(1))
		Expect(string(s.Err.Contents())).To(ContainSubstring("error corrupt"))

		unsigned := filepath.Join(dir, "unsigned.edmsdr")
		mustRun(nil, "backup", "--dsn", src, "--out", unsigned)
		s = edmsdr(nil, "verify", "--in", unsigned, "--pubkey", release+".pub")
		Expect(s.ExitCode()).To(Equal(1))
		Expect(string(s.Err.Contents())).To(ContainSubstring("not signed"))

		By("tampering: one document's title changed, checksums and counts recomputed, the old signature kept")
		rewritten := filepath.Join(dir, "rewritten.edmsdr")
		Expect(corrupt.Rewrite(signed, rewritten, func(table string, cols []string, rows [][]byte) ([][]byte, error) {
			if table != "public.documents_document" {
				return rows, nil
			}
			i := corrupt.Column(cols, "title")
			rows[0] = corrupt.SetField(rows[0], i, []byte("Forged title"))
			return rows, nil
		})).To(Succeed())
		tampered := filepath.Join(dir, "tampered.edmsdr")
		oldSig := signatureOf(signed)
		rewritePackage(rewritten, tampered, pack.WriterOptions{Sign: func([]byte) ([]byte, error) { return oldSig, nil }}, nil, nil)
		Expect(signatureOf(tampered)).To(Equal(oldSig))
		mustRun(nil, "verify", "--in", tampered) // every checksum holds
		s = edmsdr(nil, "verify", "--in", tampered, "--pubkey", release+".pub")
		Expect(s.ExitCode()).To(Equal(1))
		Expect(string(s.Err.Contents())).To(ContainSubstring("changed after it was signed"))

		By("restore --pubkey refuses before it connects: the target's address does not even answer")
		for _, bad := range []string{tampered, unsigned, rewritten} {
			s = edmsdr(nil, "restore", "--dsn", "postgres://nobody@127.0.0.1:1/none?connect_timeout=3", "--in", bad, "--pubkey", release+".pub")
			Expect(s.ExitCode()).To(Equal(1), output(s))
			Expect(string(s.Err.Contents())).To(ContainSubstring("error corrupt"))
			Expect(string(s.Err.Contents())).NotTo(ContainSubstring("connect"))
		}

		tgt := suitekit.EDMSTarget(ctx, srv)
		before := digestOf(tgt)
		s = edmsdr(nil, "restore", "--dsn", tgt, "--in", tampered, "--pubkey", release+".pub")
		Expect(s.ExitCode()).To(Equal(1))
		Expect(digestOf(tgt)).To(Equal(before))
		s = mustRun(nil, "restore", "--dsn", tgt, "--in", signed, "--pubkey", release+".pub")
		Expect(string(s.Out.Contents())).To(ContainSubstring("verdict PASS: committed"))
		Expect(digestOf(tgt)).To(Equal(digestOf(src)))
	}, SpecTimeout(4*time.Minute))

	It("signs and encrypts together: restore needs both the identity and the trusted key", func(ctx SpecContext) {
		dir := GinkgoT().TempDir()
		src := miniSource(ctx)
		release := keygen(dir, "release", "sign")
		backupKey := keygen(dir, "backup", "encrypt")
		pkg := filepath.Join(dir, "b.edmsdr")
		s := mustRun(nil, "backup", "--dsn", src, "--out", pkg, "--encrypt-to-file", backupKey+".pub", "--sign-key", release+".key")
		Expect(string(s.Out.Contents())).To(MatchRegexp(`sealed: encrypted to 1 recipient, signed by key [0-9a-f]{64}`))
		s = mustRun(nil, "verify", "--in", pkg, "--identity", backupKey+".key", "--pubkey", release+".pub")
		Expect(string(s.Out.Contents())).To(ContainSubstring("signature: valid"))
		tgt := miniTarget(ctx)
		s = edmsdr(nil, "restore", "--dsn", tgt, "--in", pkg, "--pubkey", release+".pub")
		Expect(s.ExitCode()).To(Equal(1), "no identity")
		mustRun(nil, "restore", "--dsn", tgt, "--in", pkg, "--identity", backupKey+".key", "--pubkey", release+".pub")
		Expect(digestOf(tgt)).To(Equal(digestOf(src)))
	}, SpecTimeout(3*time.Minute))
})

var _ = Describe("restore.Options.Authenticate", Label(label.Security, label.Seal), func() {
	It("refuses a badly signed package inside the restore, before anything is checked against the target", func(ctx SpecContext) {
		dir := GinkgoT().TempDir()
		src := miniSource(ctx)
		seed := bytes.Repeat([]byte{42}, ed25519.SeedSize)
		signer, err := seal.NewSigner(ed25519.NewKeyFromSeed(seed))
		Expect(err).NotTo(HaveOccurred())
		verifier, err := seal.NewVerifier(ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey))
		Expect(err).NotTo(HaveOccurred())
		cfg, err := dsn.Config(src)
		Expect(err).NotTo(HaveOccurred())
		signed := filepath.Join(dir, "signed.edmsdr")
		_, err = backup.Run(ctx, cfg, signed, backup.Options{Tool: "security suite", Writer: pack.WriterOptions{Sign: signer.Sign}})
		Expect(err).NotTo(HaveOccurred())
		tampered := filepath.Join(dir, "tampered.edmsdr")
		oldSig := signatureOf(signed)
		// The key plan loses a table: rows would be inserted instead of matched. Every checksum holds.
		rewritePackage(signed, tampered, pack.WriterOptions{Sign: func([]byte) ([]byte, error) { return oldSig, nil }}, nil,
			func(m *pack.Manifest) {
				ownMaps(m)
				m.Plan.Tables["public.auth_user"] = &keys.TablePlan{Source: "none"}
			})

		tgt := miniTarget(ctx)
		before := digestOf(tgt)
		res, err := suitekit.Restore(ctx, tgt, tampered, restore.Options{Authenticate: verifier.Check})
		Expect(err).To(HaveOccurred())
		Expect(finding.FindingsOf(err).Kinds()).To(Equal([]finding.Kind{finding.Corrupt}))
		Expect(res.Committed).To(BeFalse())
		Expect(res.Checks).To(BeEmpty(), "nothing was checked against the target")
		Expect(digestOf(tgt)).To(Equal(before))

		res, err = suitekit.Restore(ctx, tgt, signed, restore.Options{Authenticate: verifier.Check})
		Expect(err).NotTo(HaveOccurred())
		Expect(res.Committed).To(BeTrue())
		Expect(digestOf(tgt)).To(Equal(digestOf(src)))
	}, SpecTimeout(2*time.Minute))
})

func lastLine(s *gexec.Session) string {
	lines := strings.Split(strings.TrimRight(string(s.Out.Contents()), "\n"), "\n")
	return lines[len(lines)-1]
}
