package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/spf13/cobra"

	"github.com/edmsdr/edmsdr/engine/dsn"
	"github.com/edmsdr/edmsdr/engine/finding"
	"github.com/edmsdr/edmsdr/engine/pack"
	"github.com/edmsdr/edmsdr/engine/seal"
	"github.com/edmsdr/edmsdr/store"
)

// passphraseEnv names the environment variable that may hold the passphrase (never a flag: a
// command line is visible to every user of the machine).
const passphraseEnv = "EDMSDR_PASSPHRASE"

// sealFlags are the encryption and signing flags of the commands that write or read packages.
type sealFlags struct {
	// writing
	encryptTo         []string
	encryptToFiles    []string
	encryptPassphrase bool
	signKey           string
	// reading
	identities []string
	pubkey     string
	// both
	passphraseFile string
	// set by writerOptions: what the package is encrypted to and signed by ("" for none)
	encrypted, signedBy string
}

// addWriteFlags registers backup's flags: whom to encrypt to, and the signing key.
func (s *sealFlags) addWriteFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringArrayVar(&s.encryptTo, "encrypt-to", nil, "encrypt the package to this age public key (age1…); repeatable")
	f.StringArrayVar(&s.encryptToFiles, "encrypt-to-file", nil, "encrypt to every age public key in FILE (one per line, # comments); repeatable")
	f.StringVar(&s.passphraseFile, "passphrase-file", "", "encrypt with the passphrase on the first line of FILE (scrypt)")
	f.BoolVar(&s.encryptPassphrase, "encrypt-passphrase", false, "encrypt with the passphrase in $"+passphraseEnv+" (or --passphrase-file)")
	f.StringVar(&s.signKey, "sign-key", "", "sign the manifest with this ed25519 private key (PEM, from edmsdr keygen)")
}

// addReadFlags registers the flags that open encrypted packages and, with pubkey, require a
// signature.
func (s *sealFlags) addReadFlags(cmd *cobra.Command, pubkey bool) {
	f := cmd.Flags()
	f.StringArrayVar(&s.identities, "identity", nil, "age identity file that decrypts the package (age-keygen format); repeatable")
	f.StringVar(&s.passphraseFile, "passphrase-file", "", "decrypt with the passphrase on the first line of FILE (default: $"+passphraseEnv+" when set)")
	if pubkey {
		f.StringVar(&s.pubkey, "pubkey", "", "require a valid manifest signature by this ed25519 public key (PEM, from edmsdr keygen)")
	}
}

// sealHelp is appended to the long help of the commands that take sealFlags.
const sealHelp = `
Encrypted packages (age): --identity FILE (an age identity file) or a passphrase, read from
--passphrase-file FILE or the ` + passphraseEnv + ` variable, never from the command line.
Signed packages: --pubkey FILE requires a valid ed25519 signature of the manifest by that key;
the manifest lists the SHA-256 of every entry, so the signature covers the whole content.
See docs/security.md.`

// backupSealHelp is appended to backup's long help.
const backupSealHelp = `

Encryption (age): --encrypt-to age1… (repeatable) or --encrypt-to-file FILE encrypts to public
keys; --encrypt-passphrase encrypts with the passphrase in ` + passphraseEnv + `, --passphrase-file FILE
with the one in FILE (a passphrase is never read from the command line). --sign-key FILE signs
the manifest (ed25519, from edmsdr keygen). See docs/security.md.`

// sealLine is the summary line of a sealed package ("" when it is neither encrypted nor signed).
func sealLine(desc string) string {
	if desc == "" {
		return ""
	}
	return "sealed: " + desc + "\n"
}

// writerOptions sets Wrap and Sign of opts from the flags; it returns what the package is
// encrypted to and signed with, for the summary line ("" when neither).
func (s *sealFlags) writerOptions(g *globals, opts *pack.WriterOptions) (string, error) {
	passphrase := s.encryptPassphrase || s.passphraseFile != ""
	keyed := len(s.encryptTo) > 0 || len(s.encryptToFiles) > 0
	if passphrase && keyed {
		return "", usagef("a passphrase must be the only recipient: give --encrypt-to/--encrypt-to-file or a passphrase, not both")
	}
	var desc string
	switch {
	case keyed:
		rs, err := seal.ParseRecipients(s.encryptTo)
		if err != nil {
			return "", usageError{err}
		}
		for _, path := range s.encryptToFiles {
			more, err := seal.LoadRecipients(path)
			if err != nil {
				return "", err
			}
			rs = append(rs, more...)
		}
		enc, err := seal.NewEncrypter(rs)
		if err != nil {
			return "", err
		}
		opts.Wrap = enc.Wrap
		desc = "encrypted to " + enc.Describe()
		s.encrypted = "age, " + enc.Describe()
	case passphrase:
		pw, err := s.passphrase()
		if err != nil {
			return "", err
		}
		if pw == "" {
			return "", usagef("--encrypt-passphrase needs a passphrase: set %s or give --passphrase-file", passphraseEnv)
		}
		enc, err := seal.NewPassphraseEncrypter(pw, 0)
		if err != nil {
			return "", err
		}
		opts.Wrap = enc.Wrap
		desc = "encrypted with " + enc.Describe()
		s.encrypted = "age, " + enc.Describe()
	default:
		if os.Getenv(passphraseEnv) != "" {
			g.log.Warn(passphraseEnv + " is set but the package is not encrypted: add --encrypt-passphrase to use it")
		}
	}
	if s.signKey != "" {
		signer, err := seal.LoadSigner(s.signKey)
		if err != nil {
			return "", fmt.Errorf("%w (write one with edmsdr keygen)", err)
		}
		opts.Sign = signer.Sign
		s.signedBy = signer.KeyID()
		if desc != "" {
			desc += ", "
		}
		desc += "signed by key " + signer.KeyID()
	}
	return desc, nil
}

// passphrase returns the passphrase from --passphrase-file, else from the environment, else "".
func (s *sealFlags) passphrase() (string, error) {
	if s.passphraseFile != "" {
		return seal.ReadPassphraseFile(s.passphraseFile)
	}
	return os.Getenv(passphraseEnv), nil
}

// decrypter loads the identities and the passphrase given.
func (s *sealFlags) decrypter() (*seal.Decrypter, error) {
	d := seal.NewDecrypter()
	for _, path := range s.identities {
		ids, err := seal.LoadIdentities(path)
		if err != nil {
			return nil, err
		}
		d.Add(ids...)
	}
	pw, err := s.passphrase()
	if err != nil {
		return nil, err
	}
	if pw != "" {
		id, err := seal.PassphraseIdentity(pw)
		if err != nil {
			return nil, err
		}
		d.Add(id)
	}
	return d, nil
}

// verifier loads the trusted public key, or returns nil when none was given.
func (s *sealFlags) verifier() (*seal.Verifier, error) {
	if s.pubkey == "" {
		return nil, nil
	}
	v, err := seal.LoadVerifier(s.pubkey)
	if err != nil {
		return nil, fmt.Errorf("%w (edmsdr keygen writes one as PREFIX.pub)", err)
	}
	return v, nil
}

// verifyFile reads the whole package at loc, decrypting it and checking its signature as the
// flags say.
func (s *sealFlags) verifyFile(ctx context.Context, loc *store.Location) (*seal.Checked, error) {
	d, err := s.decrypter()
	if err != nil {
		return nil, err
	}
	v, err := s.verifier()
	if err != nil {
		return nil, err
	}
	f, err := loc.Open(ctx)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return seal.VerifyPackage(ctx, f, d, v, pack.Limits{})
}

// openInput opens the package at loc for a command that consumes it (restore, fixture) and
// returns its plaintext, decrypted when it is encrypted. With --pubkey, the whole package is
// first read and its signature checked: an unsigned or badly signed package is refused before the
// caller touches anything (the caller should also pass authenticate() to the restore, which checks
// the signature again on the bytes it actually restores).
func (s *sealFlags) openInput(ctx context.Context, loc *store.Location) (io.ReadCloser, error) {
	d, err := s.decrypter()
	if err != nil {
		return nil, err
	}
	if s.pubkey != "" {
		if _, err := s.verifyFile(ctx, loc); err != nil {
			return nil, err
		}
	}
	f, err := loc.Open(ctx)
	if err != nil {
		return nil, err
	}
	plain, _, err := d.Open(f)
	if err != nil {
		f.Close()
		return nil, err
	}
	return struct {
		io.Reader
		io.Closer
	}{plain, f}, nil
}

// authenticate returns the check a restore runs on the manifest it read (restore.Options'
// Authenticate), or nil without --pubkey.
func (s *sealFlags) authenticate() (func(manifest, signature []byte) error, error) {
	v, err := s.verifier()
	if err != nil || v == nil {
		return nil, err
	}
	return v.Check, nil
}

// describeSeal prints what verify learned about encryption and signature.
func describeSeal(w io.Writer, c *seal.Checked) {
	if c.Encrypted {
		fmt.Fprintln(w, "encrypted: yes (decrypted and authenticated)")
	}
	switch {
	case c.SignatureChecked:
		fmt.Fprintf(w, "signature: valid, ed25519 key %s\n", c.Signature.KeyID)
	case c.Signature != nil:
		fmt.Fprintf(w, "signature: by ed25519 key %s, not checked (give --pubkey FILE)\n", c.Signature.KeyID)
	}
}

// printFindings prints the findings of a refusal, one per line.
func printFindings(w io.Writer, err error) bool {
	fl := finding.FindingsOf(err)
	for _, f := range fl {
		fmt.Fprintf(w, "  %s\n", f)
	}
	return fl != nil
}

// session is what restore and rollback read and write: the package, opened under --timeout, and a
// connection to the target.
type session struct {
	ctx    context.Context
	in     io.ReadCloser
	conn   *pgx.Conn
	cancel context.CancelFunc
}

// close closes the connection and the package, then ends the context.
func (s *session) close() {
	_ = s.conn.Close(s.ctx)
	_ = s.in.Close()
	s.cancel()
}

// openSession applies --timeout to parent, opens the package at loc (decrypted, its signature
// checked) and connects to target; op (the command) prefixes the errors. The caller closes it.
func (s *sealFlags) openSession(parent context.Context, timeout time.Duration, loc *store.Location, target, op string) (*session, error) {
	ctx, cancel, err := withTimeout(parent, timeout)
	if err != nil {
		return nil, err
	}
	in, err := s.openInput(ctx, loc)
	if err != nil {
		err = timeoutError(ctx, fmt.Errorf("%s: %w", op, err))
		cancel()
		return nil, err
	}
	conn, err := dsn.Connect(ctx, target)
	if err != nil {
		err = timeoutError(ctx, fmt.Errorf("%s: %w", op, err))
		_ = in.Close()
		cancel()
		return nil, err
	}
	return &session{ctx: ctx, in: in, conn: conn, cancel: cancel}, nil
}
