package seal

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"

	"filippo.io/age"

	"github.com/edmsdr/edmsdr/engine/finding"
)

// AlgEd25519 is the only signature algorithm this build writes and reads.
const AlgEd25519 = "ed25519"

// SignedPrefix starts the message that is signed: the prefix, then the manifest's bytes exactly as
// stored in the package. It keeps a manifest signature from being valid for anything else.
const SignedPrefix = "edmsdr package manifest signature v1\n"

// maxSignatureBytes bounds the manifest.sig entry this package parses.
const maxSignatureBytes = 4 << 10

// Signature is the content of a package's manifest.sig entry (JSON).
type Signature struct {
	// Alg is the algorithm: AlgEd25519.
	Alg string `json:"alg"`
	// KeyID is the hex SHA-256 of the signer's raw 32-byte public key.
	KeyID string `json:"key_id"`
	// Sig is the signature over SignedPrefix + manifest, base64 (standard, padded).
	Sig string `json:"sig"`
}

// ParseSignature decodes a manifest.sig entry. It refuses unknown fields, unknown algorithms and
// malformed values.
func ParseSignature(data []byte) (Signature, error) {
	var s Signature
	if len(data) > maxSignatureBytes {
		return s, fmt.Errorf("signature entry is %d bytes, more than %d", len(data), maxSignatureBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return s, fmt.Errorf("signature entry is not valid: %v", err)
	}
	if dec.More() {
		return s, errors.New("signature entry has trailing data")
	}
	if s.Alg != AlgEd25519 {
		return s, fmt.Errorf("signature algorithm %q is not supported (this build reads %s)", s.Alg, AlgEd25519)
	}
	if id, err := hex.DecodeString(s.KeyID); err != nil || len(id) != sha256.Size {
		return s, errors.New("signature entry: key_id is not a hex SHA-256")
	}
	if sig, err := base64.StdEncoding.DecodeString(s.Sig); err != nil || len(sig) != ed25519.SignatureSize {
		return s, errors.New("signature entry: sig is not a base64 ed25519 signature")
	}
	return s, nil
}

// KeyID identifies a public key: the hex SHA-256 of its raw 32 bytes.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:])
}

func signedMessage(manifest []byte) []byte {
	msg := make([]byte, 0, len(SignedPrefix)+len(manifest))
	return append(append(msg, SignedPrefix...), manifest...)
}

// Signer signs manifests with an ed25519 private key.
type Signer struct {
	key ed25519.PrivateKey
	id  string
}

// NewSigner returns a Signer for key.
func NewSigner(key ed25519.PrivateKey) (*Signer, error) {
	if len(key) != ed25519.PrivateKeySize {
		return nil, errors.New("signing key: not an ed25519 private key")
	}
	return &Signer{key: key, id: KeyID(key.Public().(ed25519.PublicKey))}, nil
}

// LoadSigner reads a private key file written by WriteSigningKeys (PEM, PKCS #8).
func LoadSigner(path string) (*Signer, error) {
	data, err := readSmall(path)
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %w", path, err)
	}
	key, err := ParsePrivateKey(data)
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %w", path, err)
	}
	return NewSigner(key)
}

// KeyID is the signer's key id.
func (s *Signer) KeyID() string { return s.id }

// Sign returns the manifest.sig entry for manifest; it has the signature of
// pack.WriterOptions.Sign.
func (s *Signer) Sign(manifest []byte) ([]byte, error) {
	sig := ed25519.Sign(s.key, signedMessage(manifest))
	return json.Marshal(Signature{Alg: AlgEd25519, KeyID: s.id, Sig: base64.StdEncoding.EncodeToString(sig)})
}

// Verifier checks manifest signatures against one trusted public key.
type Verifier struct {
	key ed25519.PublicKey
	id  string
}

// NewVerifier returns a Verifier trusting key.
func NewVerifier(key ed25519.PublicKey) (*Verifier, error) {
	if len(key) != ed25519.PublicKeySize {
		return nil, errors.New("public key: not an ed25519 public key")
	}
	return &Verifier{key: key, id: KeyID(key)}, nil
}

// LoadVerifier reads a public key file written by WriteSigningKeys (PEM, PKIX).
func LoadVerifier(path string) (*Verifier, error) {
	data, err := readSmall(path)
	if err != nil {
		return nil, fmt.Errorf("public key %s: %w", path, err)
	}
	key, err := ParsePublicKey(data)
	if err != nil {
		return nil, fmt.Errorf("public key %s: %w", path, err)
	}
	return NewVerifier(key)
}

// KeyID is the trusted key's id.
func (v *Verifier) KeyID() string { return v.id }

// Check verifies that sig (a manifest.sig entry; nil when the package has none) is a valid
// signature of manifest (its bytes exactly as stored) by the trusted key. Every failure is a
// *finding.Refused with one finding of kind Corrupt: unsigned, signed by another key, malformed,
// or not matching the manifest (the package was changed after it was signed).
func (v *Verifier) Check(manifest, sig []byte) error {
	bad := func(format string, args ...any) error {
		return refused("check signature", finding.Corrupt, format, args...)
	}
	if sig == nil {
		return bad("package is not signed; a signature by key %s is required", v.id)
	}
	s, err := ParseSignature(sig)
	if err != nil {
		return bad("%v", err)
	}
	if s.KeyID != v.id {
		return bad("package is signed by key %s, not by the trusted key %s", s.KeyID, v.id)
	}
	raw, _ := base64.StdEncoding.DecodeString(s.Sig)
	if !ed25519.Verify(v.key, signedMessage(manifest), raw) {
		return bad("signature by key %s does not match the manifest: the package was changed after it was signed", v.id)
	}
	return nil
}

// ParsePrivateKey parses a PEM "PRIVATE KEY" block (PKCS #8) holding an ed25519 key.
func ParsePrivateKey(data []byte) (ed25519.PrivateKey, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, errors.New("not a PEM PRIVATE KEY block")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, errors.New("PRIVATE KEY block is not a valid PKCS #8 key")
	}
	key, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("private key is %T, not ed25519", k)
	}
	return key, nil
}

// ParsePublicKey parses a PEM "PUBLIC KEY" block (PKIX) holding an ed25519 key.
func ParsePublicKey(data []byte) (ed25519.PublicKey, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PUBLIC KEY" {
		return nil, errors.New("not a PEM PUBLIC KEY block")
	}
	k, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("PUBLIC KEY block: %v", err)
	}
	key, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("public key is %T, not ed25519", k)
	}
	return key, nil
}

// WriteSigningKeys generates an ed25519 key pair and writes prefix.key (PEM PKCS #8, mode 0600)
// and prefix.pub (PEM PKIX, mode 0644). It refuses to replace existing files. It returns the key id.
func WriteSigningKeys(prefix string) (string, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", fmt.Errorf("generate signing key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return "", fmt.Errorf("encode signing key: %w", err)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("encode public key: %w", err)
	}
	id := KeyID(pub)
	comment := []byte(fmt.Sprintf("# edmsdr ed25519 signing key, key id %s\n", id))
	if err := writeNew(prefix+".key", append(comment, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})...), 0o600); err != nil {
		return "", err
	}
	if err := writeNew(prefix+".pub", append(comment, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})...), 0o644); err != nil {
		os.Remove(prefix + ".key")
		return "", err
	}
	return id, nil
}

// WriteAgeIdentity generates an age X25519 identity and writes prefix.key (the identity in
// age-keygen's format, mode 0600) and prefix.pub (its recipient, "age1…"). It refuses to replace
// existing files. It returns the recipient.
func WriteAgeIdentity(prefix string) (string, error) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		return "", fmt.Errorf("generate age identity: %w", err)
	}
	rcpt := id.Recipient().String()
	key := fmt.Sprintf("# edmsdr encryption identity (age X25519)\n# public key: %s\n%s\n", rcpt, id.String())
	if err := writeNew(prefix+".key", []byte(key), 0o600); err != nil {
		return "", err
	}
	if err := writeNew(prefix+".pub", []byte(rcpt+"\n"), 0o644); err != nil {
		os.Remove(prefix + ".key")
		return "", err
	}
	return rcpt, nil
}

// writeNew writes a file that must not exist yet, with mode perm, and syncs it.
func writeNew(path string, data []byte, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return fmt.Errorf("write key file: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("write key file %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("write key file %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return fmt.Errorf("write key file %s: %w", path, err)
	}
	return nil
}
