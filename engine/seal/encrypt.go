// Package seal owns the encryption and signing of packages: age encryption at rest (to X25519
// public keys, or to one scrypt passphrase) wrapped around the whole package file, and ed25519
// signatures over the manifest, stored as the package's manifest.sig entry. It knows keys, key
// files and bytes; it never touches a database.
//
// Encryption keeps a package's content secret and detects any change to the ciphertext, but
// anyone holding a recipient's public key can write an encrypted package: only a signature
// proves who wrote it. The manifest lists the SHA-256 of every entry and of the header, so a
// valid signature over the manifest covers the whole content.
package seal

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"filippo.io/age"

	"github.com/edmsdr/edmsdr/engine/finding"
	"github.com/edmsdr/edmsdr/engine/pack"
)

// DefaultWorkFactor is the scrypt work factor (log2 of N) of passphrase encryption: about one
// second and 256 MiB of memory.
const DefaultWorkFactor = 18

// MaxWorkFactor is the highest scrypt work factor accepted when opening a passphrase-encrypted
// package (1 GiB of memory), so that a hostile file cannot make decryption exhaust memory or run
// for minutes.
const MaxWorkFactor = 20

// maxKeyFileBytes bounds key, recipient and passphrase files.
const maxKeyFileBytes = 1 << 20

// Encrypter encrypts packages to a fixed set of recipients.
type Encrypter struct {
	recipients []age.Recipient
	passphrase bool
}

// NewEncrypter returns an Encrypter to recipients (see ParseRecipients and LoadRecipients).
func NewEncrypter(recipients []age.Recipient) (*Encrypter, error) {
	if len(recipients) == 0 {
		return nil, errors.New("encrypt: no recipients")
	}
	return &Encrypter{recipients: recipients}, nil
}

// NewPassphraseEncrypter returns an Encrypter to a passphrase (scrypt with work factor logN; 0
// means DefaultWorkFactor). A passphrase is the only recipient of a file.
func NewPassphraseEncrypter(passphrase string, logN int) (*Encrypter, error) {
	if logN == 0 {
		logN = DefaultWorkFactor
	}
	if logN < 1 || logN > MaxWorkFactor {
		return nil, fmt.Errorf("encrypt: scrypt work factor %d is outside 1..%d", logN, MaxWorkFactor)
	}
	r, err := age.NewScryptRecipient(passphrase)
	if err != nil {
		return nil, fmt.Errorf("encrypt: %w", err)
	}
	r.SetWorkFactor(logN)
	return &Encrypter{recipients: []age.Recipient{r}, passphrase: true}, nil
}

// Wrap starts an encrypted stream on w; it has the signature of pack.WriterOptions.Wrap. Closing
// the stream flushes its last chunk without closing w.
func (e *Encrypter) Wrap(w io.Writer) (io.WriteCloser, error) {
	wc, err := age.Encrypt(w, e.recipients...)
	if err != nil {
		return nil, fmt.Errorf("encrypt: %w", err)
	}
	return wc, nil
}

// Describe says whom packages are encrypted to, for messages.
func (e *Encrypter) Describe() string {
	if e.passphrase {
		return "a passphrase"
	}
	if len(e.recipients) == 1 {
		return "1 recipient"
	}
	return fmt.Sprintf("%d recipients", len(e.recipients))
}

// ParseRecipients parses age public keys: X25519 ("age1…") or post-quantum hybrid ("age1pq1…").
func ParseRecipients(keys []string) ([]age.Recipient, error) {
	out := make([]age.Recipient, 0, len(keys))
	for _, k := range keys {
		rs, err := age.ParseRecipients(strings.NewReader(strings.TrimSpace(k)))
		if err != nil || len(rs) != 1 {
			return nil, fmt.Errorf("recipient %q is not an age public key (age1…)", k)
		}
		out = append(out, rs[0])
	}
	return out, nil
}

// LoadRecipients reads a recipients file: one age public key per line, blank lines and lines
// starting with # ignored (the format of age -R).
func LoadRecipients(path string) ([]age.Recipient, error) {
	data, err := readSmall(path)
	if err != nil {
		return nil, fmt.Errorf("recipients file %s: %w", path, err)
	}
	rs, err := age.ParseRecipients(strings.NewReader(string(data)))
	if err != nil {
		return nil, fmt.Errorf("recipients file %s: %w", path, err)
	}
	return rs, nil
}

// LoadIdentities reads an identity file in age-keygen's format: AGE-SECRET-KEY-1… lines, blank
// lines and # comments ignored. Error messages never quote key material.
func LoadIdentities(path string) ([]age.Identity, error) {
	data, err := readSmall(path)
	if err != nil {
		return nil, fmt.Errorf("identity file %s: %w", path, err)
	}
	ids, err := age.ParseIdentities(strings.NewReader(string(data)))
	if err != nil {
		return nil, fmt.Errorf("identity file %s: %w", path, err)
	}
	return ids, nil
}

// PassphraseIdentity returns the identity that opens packages encrypted to passphrase, accepting
// scrypt work factors up to MaxWorkFactor.
func PassphraseIdentity(passphrase string) (age.Identity, error) {
	id, err := age.NewScryptIdentity(passphrase)
	if err != nil {
		return nil, fmt.Errorf("passphrase: %w", err)
	}
	id.SetMaxWorkFactor(MaxWorkFactor)
	return id, nil
}

// ReadPassphraseFile reads a passphrase from the first line of a file (its line ending dropped).
// An empty passphrase is refused.
func ReadPassphraseFile(path string) (string, error) {
	data, err := readSmall(path)
	if err != nil {
		return "", fmt.Errorf("passphrase file %s: %w", path, err)
	}
	line, _, _ := strings.Cut(string(data), "\n")
	line = strings.TrimSuffix(line, "\r")
	if line == "" {
		return "", fmt.Errorf("passphrase file %s: the first line is empty", path)
	}
	return line, nil
}

func readSmall(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFileBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxKeyFileBytes {
		return nil, fmt.Errorf("larger than %d bytes", maxKeyFileBytes)
	}
	return data, nil
}

// Decrypter opens encrypted packages with the identities it holds.
type Decrypter struct {
	identities []age.Identity
}

// NewDecrypter returns a Decrypter that tries identities in order (X25519 keys and passphrases
// alike). A Decrypter without identities passes unencrypted packages through and refuses
// encrypted ones.
func NewDecrypter(identities ...age.Identity) *Decrypter {
	return &Decrypter{identities: identities}
}

// Add adds identities.
func (d *Decrypter) Add(identities ...age.Identity) {
	d.identities = append(d.identities, identities...)
}

// Len is the number of identities held.
func (d *Decrypter) Len() int {
	if d == nil {
		return 0
	}
	return len(d.identities)
}

func refused(op string, kind finding.Kind, format string, args ...any) error {
	return &finding.Refused{Op: op, Findings: finding.List{{Kind: kind, Severity: finding.Error, Message: fmt.Sprintf(format, args...)}}}
}

// Open returns the plaintext of src: decrypted when src is an age-encrypted file (encrypted is
// then true), src itself otherwise. A package that no identity opens is refused with a finding of
// kind Privilege; no identity at all, kind Unsupported; a damaged encryption header, kind Corrupt.
// Damage further in the ciphertext surfaces as a read error while the plaintext is read (the
// package reader reports it as Corrupt): every 64 KiB chunk is authenticated before it is
// returned, and truncation is detected at the end.
func (d *Decrypter) Open(src io.Reader) (plain io.Reader, encrypted bool, err error) {
	br := bufio.NewReaderSize(src, 64<<10)
	head, _ := br.Peek(32)
	if pack.Sniff(head) != "age" {
		return br, false, nil
	}
	if d.Len() == 0 {
		return nil, true, refused("decrypt package", finding.Unsupported,
			"package is encrypted: give the identity file or the passphrase that opens it")
	}
	r, err := age.Decrypt(br, d.identities...)
	if err != nil {
		var nomatch *age.NoIdentityMatchError
		switch {
		case errors.As(err, &nomatch):
			return nil, true, refused("decrypt package", finding.Privilege,
				"no identity or passphrase given opens this package (it is encrypted to other keys or another passphrase)")
		case strings.Contains(err.Error(), "work factor"):
			return nil, true, refused("decrypt package", finding.Unsupported,
				"passphrase encryption asks for more work than allowed (%v; at most %d)", err, MaxWorkFactor)
		default:
			return nil, true, refused("decrypt package", finding.Corrupt, "encryption header damaged: %v", err)
		}
	}
	return r, true, nil
}
