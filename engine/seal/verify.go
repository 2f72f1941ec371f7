package seal

import (
	"context"
	"io"

	"github.com/edmsdr/edmsdr/engine/pack"
)

// Checked is what VerifyPackage found.
type Checked struct {
	// Manifest is the package's manifest (nil when the package was refused before it).
	Manifest *pack.Manifest
	// Encrypted says whether the file was encrypted.
	Encrypted bool
	// Signature is the parsed manifest.sig entry, nil when the package is not signed or the
	// entry is malformed.
	Signature *Signature
	// SignatureChecked says whether the signature was verified against a trusted key.
	SignatureChecked bool
}

// VerifyPackage reads a whole package from src, decrypting it with d when it is encrypted (d may
// be nil), verifies every checksum, count and size, and, when v is not nil, requires a valid
// signature of the manifest by v's key. Refusals are *finding.Refused: damage is Corrupt, an
// unsigned or badly signed package Corrupt, an encrypted one without the key Unsupported or
// Privilege (see Decrypter.Open). Once ctx is done it stops with ctx's error.
func VerifyPackage(ctx context.Context, src io.Reader, d *Decrypter, v *Verifier, limits pack.Limits) (*Checked, error) {
	out := &Checked{}
	plain, encrypted, err := d.Open(src)
	out.Encrypted = encrypted
	if err != nil {
		return out, err
	}
	rd, err := pack.NewReaderContext(ctx, plain, limits)
	if err != nil {
		return out, err
	}
	defer rd.Close()
	m, err := rd.Verify()
	out.Manifest = m
	if err != nil {
		return out, err
	}
	if sig := rd.Signature(); sig != nil {
		if s, perr := ParseSignature(sig); perr == nil {
			out.Signature = &s
		}
	}
	if v != nil {
		if err := v.Check(rd.ManifestBytes(), rd.Signature()); err != nil {
			return out, err
		}
		out.SignatureChecked = true
	}
	return out, nil
}
