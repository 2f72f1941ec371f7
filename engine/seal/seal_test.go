package seal

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/edmsdr/edmsdr/engine/finding"
	"github.com/edmsdr/edmsdr/engine/keys"
	"github.com/edmsdr/edmsdr/engine/pack"
	"github.com/edmsdr/edmsdr/engine/schema"
)

// testWorkFactor keeps passphrase tests fast; the CLI always uses DefaultWorkFactor.
const testWorkFactor = 10

// writeTestPackage writes a small valid package (two tables) to path with opts.
func writeTestPackage(tb testing.TB, path string, opts pack.WriterOptions) {
	tb.Helper()
	w, err := pack.Create(path, opts)
	if err != nil {
		tb.Fatal(err)
	}
	tables := []struct {
		qname string
		rows  []string
	}{
		{"public.auth_user", []string{"1\tadmin", "2\tzoë"}},
		{"public.note", []string{"1\tsecret row content"}},
	}
	var layouts []pack.TableLayout
	var st []*schema.Table
	for i, t := range tables {
		layouts = append(layouts, pack.TableLayout{Index: i, Table: t.qname, Columns: []string{"id", "v"}})
		_, name, _ := strings.Cut(t.qname, ".")
		st = append(st, &schema.Table{Schema: "public", Name: name, PrimaryKey: []string{"id"}, Columns: []schema.Column{
			{Name: "id", Type: "integer", NotNull: true}, {Name: "v", Type: "text"}}})
	}
	if err := w.WriteHeader(pack.Header{Tool: "seal-test", Tables: layouts}); err != nil {
		tb.Fatal(err)
	}
	digests := map[string]pack.TableDigest{}
	for i, t := range tables {
		ts := w.Table(i, t.qname)
		for _, r := range t.rows {
			if _, err := ts.Write([]byte(r + "\n")); err != nil {
				tb.Fatal(err)
			}
		}
		if _, err := ts.Close(); err != nil {
			tb.Fatal(err)
		}
		digests[t.qname] = pack.TableDigest{Rows: int64(len(t.rows)), Sum1: "1", Sum2: "2"}
	}
	s := schema.New(st)
	plan, err := keys.Build(s, nil)
	if err != nil {
		tb.Fatal(err)
	}
	m := &pack.Manifest{Tool: "seal-test", CreatedAt: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), ServerVersion: 150007,
		Database: "edms", Schema: s, Plan: plan, Digest: pack.NewDigest(digests)}
	if err := w.Close(m); err != nil {
		tb.Fatal(err)
	}
}

func kindsOf(err error) []finding.Kind { return finding.FindingsOf(err).Kinds() }

func wantKind(t *testing.T, what string, err error, kind finding.Kind) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: accepted, want a refusal of kind %s", what, kind)
	}
	got := kindsOf(err)
	if len(got) != 1 || got[0] != kind {
		t.Fatalf("%s: finding kinds %v, want [%s] (%v)", what, got, kind, err)
	}
}

func verifyFile(t *testing.T, path string, d *Decrypter, v *Verifier) (*Checked, error) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return VerifyPackage(context.Background(), f, d, v, pack.Limits{})
}

func newIdentity(t *testing.T) *age.X25519Identity {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestEncryptToRecipients(t *testing.T) {
	dir := t.TempDir()
	alice, bob, eve := newIdentity(t), newIdentity(t), newIdentity(t)
	rs, err := ParseRecipients([]string{alice.Recipient().String(), " " + bob.Recipient().String() + "\n"})
	if err != nil {
		t.Fatal(err)
	}
	enc, err := NewEncrypter(rs)
	if err != nil {
		t.Fatal(err)
	}
	if enc.Describe() != "2 recipients" {
		t.Fatalf("Describe = %q", enc.Describe())
	}
	path := filepath.Join(dir, "b.edmsdr")
	writeTestPackage(t, path, pack.WriterOptions{Wrap: enc.Wrap})

	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if pack.Sniff(raw) != "age" {
		t.Fatalf("encrypted package sniffs as %q", pack.Sniff(raw))
	}
	if bytes.Contains(raw, []byte("secret row content")) || bytes.Contains(raw, []byte("auth_user")) {
		t.Fatal("the encrypted file holds plaintext")
	}
	_, err = pack.Verify(bytes.NewReader(raw), pack.Limits{})
	wantKind(t, "pack.Verify of an encrypted package", err, finding.Unsupported)

	for name, id := range map[string]*age.X25519Identity{"alice": alice, "bob": bob} {
		c, err := verifyFile(t, path, NewDecrypter(id), nil)
		if err != nil {
			t.Fatalf("%s cannot open the package: %v", name, err)
		}
		if !c.Encrypted || c.Manifest == nil || len(c.Manifest.Tables) != 2 || c.Signature != nil {
			t.Fatalf("%s: checked %+v", name, c)
		}
	}
	_, err = verifyFile(t, path, NewDecrypter(eve), nil)
	wantKind(t, "wrong identity", err, finding.Privilege)
	_, err = verifyFile(t, path, NewDecrypter(), nil)
	wantKind(t, "no identity", err, finding.Unsupported)
	_, err = verifyFile(t, path, nil, nil)
	wantKind(t, "nil decrypter", err, finding.Unsupported)

	// An identity given for a package that is not encrypted is not needed, and not an error.
	plain := filepath.Join(dir, "plain.edmsdr")
	writeTestPackage(t, plain, pack.WriterOptions{})
	c, err := verifyFile(t, plain, NewDecrypter(alice), nil)
	if err != nil || c.Encrypted {
		t.Fatalf("plain package with an identity: %+v, %v", c, err)
	}
}

func TestEncryptedDamageIsCorrupt(t *testing.T) {
	dir := t.TempDir()
	id := newIdentity(t)
	enc, err := NewEncrypter([]age.Recipient{id.Recipient()})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "b.edmsdr")
	writeTestPackage(t, path, pack.WriterOptions{Wrap: enc.Wrap})
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	hdrEnd := bytes.Index(raw, []byte("\n--- ")) + 1
	if hdrEnd <= 0 {
		t.Fatal("no age header end in the encrypted file")
	}
	cases := map[string][]byte{
		"payload bit flipped":  flip(raw, hdrEnd+(len(raw)-hdrEnd)/2),
		"last byte flipped":    flip(raw, len(raw)-1),
		"truncated":            raw[:len(raw)-20],
		"header MAC changed":   flip(raw, hdrEnd+6),
		"stanza body damaged":  flip(raw, bytes.Index(raw, []byte("X25519 "))+60),
		"payload cut at start": raw[:hdrEnd+60],
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(dir, strings.ReplaceAll(name, " ", "_"))
			if err := os.WriteFile(p, data, 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := verifyFile(t, p, NewDecrypter(id), nil)
			if err == nil {
				t.Fatal("damaged encrypted package accepted")
			}
			for _, k := range kindsOf(err) {
				if k != finding.Corrupt && k != finding.Privilege {
					t.Fatalf("kinds %v, want corrupt (or privilege for a damaged key stanza): %v", kindsOf(err), err)
				}
			}
			if len(kindsOf(err)) == 0 {
				t.Fatalf("error without findings: %v", err)
			}
		})
	}
}

func flip(b []byte, i int) []byte {
	out := append([]byte(nil), b...)
	out[i] ^= 0x5a
	return out
}

func TestPassphrase(t *testing.T) {
	dir := t.TempDir()
	enc, err := NewPassphraseEncrypter("correct horse battery staple", testWorkFactor)
	if err != nil {
		t.Fatal(err)
	}
	if enc.Describe() != "a passphrase" {
		t.Fatalf("Describe = %q", enc.Describe())
	}
	path := filepath.Join(dir, "b.edmsdr")
	writeTestPackage(t, path, pack.WriterOptions{Wrap: enc.Wrap})

	right, err := PassphraseIdentity("correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := verifyFile(t, path, NewDecrypter(right), nil); err != nil {
		t.Fatalf("right passphrase: %v", err)
	}
	wrong, err := PassphraseIdentity("Correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	_, err = verifyFile(t, path, NewDecrypter(wrong), nil)
	wantKind(t, "wrong passphrase", err, finding.Privilege)
	// A passphrase among identities is tried like any other identity.
	if _, err := verifyFile(t, path, NewDecrypter(newIdentity(t), right), nil); err != nil {
		t.Fatalf("identity then right passphrase: %v", err)
	}
	if _, err := NewPassphraseEncrypter("", 0); err == nil {
		t.Fatal("empty passphrase accepted")
	}
	if _, err := NewPassphraseEncrypter("x", MaxWorkFactor+1); err == nil {
		t.Fatal("work factor above the maximum accepted")
	}
}

func TestPassphraseWorkFactorBound(t *testing.T) {
	// A file asking for more scrypt work than MaxWorkFactor is refused without running scrypt.
	// The file is encrypted cheaply, then its stanza is edited to ask for more (the header MAC
	// is checked only after the stanza, so the refusal must come from the bound).
	enc, err := NewPassphraseEncrypter("pw", testWorkFactor)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w, err := enc.Wrap(&buf)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("x"))
	w.Close()
	hostile := bytes.Replace(buf.Bytes(), []byte(fmt.Sprintf(" %d\n", testWorkFactor)), []byte(fmt.Sprintf(" %d\n", MaxWorkFactor+2)), 1)
	if bytes.Equal(hostile, buf.Bytes()) {
		t.Fatal("no scrypt stanza to edit")
	}
	id, err := PassphraseIdentity("pw")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, _, err = NewDecrypter(id).Open(bytes.NewReader(hostile))
	wantKind(t, "work factor too large", err, finding.Unsupported)
	if time.Since(start) > 5*time.Second {
		t.Fatalf("refusal took %s: scrypt ran", time.Since(start))
	}
}

func TestPassphraseFile(t *testing.T) {
	dir := t.TempDir()
	for content, want := range map[string]string{
		"s3cret\n":           "s3cret",
		"s3cret\r\n":         "s3cret",
		"s3cret":             "s3cret",
		"two words \nnext\n": "two words ",
	} {
		p := filepath.Join(dir, "pw")
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := ReadPassphraseFile(p)
		if err != nil || got != want {
			t.Fatalf("ReadPassphraseFile(%q) = %q, %v; want %q", content, got, err, want)
		}
	}
	p := filepath.Join(dir, "empty")
	if err := os.WriteFile(p, []byte("\nx\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadPassphraseFile(p); err == nil {
		t.Fatal("empty first line accepted")
	}
}

func TestKeyFiles(t *testing.T) {
	dir := t.TempDir()
	prefix := filepath.Join(dir, "release")
	id, err := WriteSigningKeys(prefix)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(prefix + ".key")
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("private key mode %v, want 0600", st.Mode().Perm())
	}
	if _, err := WriteSigningKeys(prefix); err == nil {
		t.Fatal("WriteSigningKeys replaced existing key files")
	}
	s, err := LoadSigner(prefix + ".key")
	if err != nil {
		t.Fatal(err)
	}
	v, err := LoadVerifier(prefix + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	if s.KeyID() != id || v.KeyID() != id || len(id) != 64 {
		t.Fatalf("key ids: written %s, signer %s, verifier %s", id, s.KeyID(), v.KeyID())
	}
	// The files are swapped by mistake: a clear error, no key material in it.
	if _, err := LoadSigner(prefix + ".pub"); err == nil {
		t.Fatal("public key accepted as a signing key")
	}
	if _, err := LoadVerifier(prefix + ".key"); err == nil || strings.Contains(err.Error(), "MC4CAQ") {
		t.Fatalf("private key accepted as a public key, or quoted: %v", err)
	}

	agePrefix := filepath.Join(dir, "backup")
	rcpt, err := WriteAgeIdentity(agePrefix)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := LoadIdentities(agePrefix + ".key")
	if err != nil || len(ids) != 1 {
		t.Fatalf("LoadIdentities: %v", err)
	}
	rs, err := LoadRecipients(agePrefix + ".pub")
	if err != nil || len(rs) != 1 || !strings.HasPrefix(rcpt, "age1") {
		t.Fatalf("LoadRecipients: %v (%s)", err, rcpt)
	}
	if _, err := LoadRecipients(agePrefix + ".key"); err == nil || strings.Contains(err.Error(), "AGE-SECRET-KEY") {
		t.Fatalf("identity file accepted as recipients, or quoted: %v", err)
	}
	if _, err := ParseRecipients([]string{"age1notakey"}); err == nil {
		t.Fatal("malformed recipient accepted")
	}
}

func TestSignatures(t *testing.T) {
	dir := t.TempDir()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	otherPub, _, _ := ed25519.GenerateKey(rand.Reader)
	s, err := NewSigner(priv)
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewVerifier(priv.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	other, err := NewVerifier(otherPub)
	if err != nil {
		t.Fatal(err)
	}
	signed := filepath.Join(dir, "signed.edmsdr")
	writeTestPackage(t, signed, pack.WriterOptions{Sign: s.Sign})
	unsigned := filepath.Join(dir, "unsigned.edmsdr")
	writeTestPackage(t, unsigned, pack.WriterOptions{})

	c, err := verifyFile(t, signed, nil, v)
	if err != nil {
		t.Fatalf("valid signature refused: %v", err)
	}
	if !c.SignatureChecked || c.Signature == nil || c.Signature.KeyID != s.KeyID() || c.Signature.Alg != AlgEd25519 {
		t.Fatalf("checked %+v", c)
	}
	// Without a trusted key the signature is reported, not checked.
	c, err = verifyFile(t, signed, nil, nil)
	if err != nil || c.SignatureChecked || c.Signature == nil {
		t.Fatalf("signed package without a key: %+v, %v", c, err)
	}
	_, err = verifyFile(t, signed, nil, other)
	wantKind(t, "signed by another key", err, finding.Corrupt)
	_, err = verifyFile(t, unsigned, nil, v)
	wantKind(t, "unsigned", err, finding.Corrupt)

	// Signed and encrypted together.
	id := newIdentity(t)
	enc, _ := NewEncrypter([]age.Recipient{id.Recipient()})
	both := filepath.Join(dir, "both.edmsdr")
	writeTestPackage(t, both, pack.WriterOptions{Wrap: enc.Wrap, Sign: s.Sign})
	if c, err := verifyFile(t, both, NewDecrypter(id), v); err != nil || !c.Encrypted || !c.SignatureChecked {
		t.Fatalf("signed and encrypted: %+v, %v", c, err)
	}
}

func TestCheckRefusesTampering(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	s, _ := NewSigner(priv)
	v, _ := NewVerifier(priv.Public().(ed25519.PublicKey))
	manifest := []byte(`{"format":1,"tables":[{"table":"public.auth_user","rows":2}]}`)
	sig, err := s.Sign(manifest)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Check(manifest, sig); err != nil {
		t.Fatalf("valid signature refused: %v", err)
	}
	var entry Signature
	if err := json.Unmarshal(sig, &entry); err != nil {
		t.Fatal(err)
	}
	raw, _ := base64.StdEncoding.DecodeString(entry.Sig)
	mutate := func(f func(*Signature)) []byte {
		e := entry
		f(&e)
		b, _ := json.Marshal(e)
		return b
	}
	for name, c := range map[string]struct{ manifest, sig []byte }{
		"manifest changed":  {bytes.Replace(manifest, []byte(`"rows":2`), []byte(`"rows":3`), 1), sig},
		"manifest extended": {append(append([]byte(nil), manifest...), ' '), sig},
		"signature bit flipped": {manifest, mutate(func(e *Signature) {
			r := append([]byte(nil), raw...)
			r[3] ^= 1
			e.Sig = base64.StdEncoding.EncodeToString(r)
		})},
		"signature truncated":   {manifest, mutate(func(e *Signature) { e.Sig = base64.StdEncoding.EncodeToString(raw[:60]) })},
		"unknown algorithm":     {manifest, mutate(func(e *Signature) { e.Alg = "rsa" })},
		"key id not hex":        {manifest, mutate(func(e *Signature) { e.KeyID = "zz" + e.KeyID[2:] })},
		"unknown field":         {manifest, []byte(strings.Replace(string(sig), `{`, `{"extra":1,`, 1))},
		"trailing data":         {manifest, append(append([]byte(nil), sig...), []byte(`{}`)...)},
		"not json":              {manifest, []byte("garbage")},
		"empty":                 {manifest, []byte{}},
		"unsigned":              {manifest, nil},
		"signed without prefix": {manifest, mutate(func(e *Signature) { e.Sig = base64.StdEncoding.EncodeToString(ed25519.Sign(priv, manifest)) })},
	} {
		err := v.Check(c.manifest, c.sig)
		if err == nil {
			t.Fatalf("%s: accepted", name)
		}
		if k := kindsOf(err); len(k) != 1 || k[0] != finding.Corrupt {
			t.Fatalf("%s: kinds %v, want [corrupt]", name, k)
		}
	}
}

func TestOpenPassesPlainInputThrough(t *testing.T) {
	for _, in := range []string{"", "[{\"model\": \"auth.user\"}]", "x"} {
		r, enc, err := NewDecrypter().Open(strings.NewReader(in))
		if err != nil || enc {
			t.Fatalf("Open(%q): %v, encrypted %v", in, err, enc)
		}
		got, err := io.ReadAll(r)
		if err != nil || string(got) != in {
			t.Fatalf("Open(%q) read %q, %v", in, got, err)
		}
	}
}

// FuzzParseSignature feeds arbitrary manifest.sig entries to the parser and the checker: no
// panic, and nothing but a signature by the trusted key over the manifest is accepted.
func FuzzParseSignature(f *testing.F) {
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))
	s, _ := NewSigner(priv)
	v, _ := NewVerifier(priv.Public().(ed25519.PublicKey))
	manifest := []byte(`{"format":1}`)
	sig, _ := s.Sign(manifest)
	f.Add(sig)
	f.Add([]byte(`{"alg":"ed25519","key_id":"","sig":""}`))
	f.Add([]byte(`{}`))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = ParseSignature(data)
		err := v.Check(manifest, data)
		if err == nil {
			var e Signature
			if json.Unmarshal(data, &e) != nil || e.KeyID != v.KeyID() {
				t.Fatalf("accepted a signature entry not by the trusted key: %q", data)
			}
			return
		}
		if k := kindsOf(err); len(k) != 1 || k[0] != finding.Corrupt {
			t.Fatalf("kinds %v for %q", k, data)
		}
	})
}

// FuzzOpen feeds arbitrary files to Decrypter.Open and reads the plaintext: no panic, and every
// refusal is a finding.
func FuzzOpen(f *testing.F) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		f.Fatal(err)
	}
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, id.Recipient())
	if err != nil {
		f.Fatal(err)
	}
	fmt.Fprint(w, strings.Repeat("plaintext ", 100))
	w.Close()
	f.Add(buf.Bytes())
	f.Add([]byte("age-encryption.org/v1\n-> X25519 abc\n--- def\n"))
	f.Add([]byte("age-encryption.org/v1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, _, err := NewDecrypter(id).Open(bytes.NewReader(data))
		if err != nil {
			if finding.FindingsOf(err) == nil {
				t.Fatalf("refusal without findings: %v", err)
			}
			return
		}
		// Damage past the header surfaces as a read error, never as a panic; the package
		// reader turns it into a Corrupt finding.
		_, _ = io.Copy(io.Discard, io.LimitReader(r, 1<<20))
	})
}
