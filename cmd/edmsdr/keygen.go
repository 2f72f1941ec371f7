package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/edmsdr/edmsdr/engine/seal"
)

func newKeygenCmd(g *globals) *cobra.Command {
	var out, kind string
	cmd := &cobra.Command{
		Use:   "keygen --out PREFIX [--kind sign|encrypt]",
		Short: "Generate a signing key pair (ed25519) or an encryption identity (age)",
		Long: `Generate keys for sealing packages. Existing files are never replaced.

--kind sign (default) writes PREFIX.key, the ed25519 private key (PEM, PKCS #8, mode 0600) that
backup --sign-key takes, and PREFIX.pub, its public key (PEM, PKIX) that verify and restore
--pubkey take. Both files start with a comment naming the key id (hex SHA-256 of the raw public
key), which signatures carry.

--kind encrypt writes PREFIX.key, an age X25519 identity (age-keygen's format, mode 0600) that
restore and verify --identity take, and PREFIX.pub, its public key (age1…) for backup
--encrypt-to-file. Keys made by age-keygen work as well.

Keep the private files offline or in a secret store; see docs/security.md.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return usagef("--out is required")
			}
			switch kind {
			case "sign":
				id, err := seal.WriteSigningKeys(out)
				if err != nil {
					return fmt.Errorf("keygen: %w", err)
				}
				fmt.Fprintf(g.stdout, "signing key written: %s.key (private, 0600), %s.pub (public)\nkey id %s\n", out, out, id)
			case "encrypt":
				rcpt, err := seal.WriteAgeIdentity(out)
				if err != nil {
					return fmt.Errorf("keygen: %w", err)
				}
				fmt.Fprintf(g.stdout, "encryption identity written: %s.key (private, 0600), %s.pub (public)\npublic key %s\n", out, out, rcpt)
			default:
				return usagef("--kind must be sign or encrypt, not %q", kind)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "prefix of the files to write: PREFIX.key and PREFIX.pub (required)")
	cmd.Flags().StringVar(&kind, "kind", "sign", "sign (ed25519 signing key) or encrypt (age identity)")
	return cmd
}
