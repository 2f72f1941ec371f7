package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/edmsdr/edmsdr/engine/finding"
	"github.com/edmsdr/edmsdr/engine/seal"
	"github.com/edmsdr/edmsdr/store"
)

// Where an entry's facts come from.
const (
	fromMeta    = "meta"    // the metadata object written beside the package
	fromPackage = "package" // the package itself, read whole (no metadata)
	fromMtime   = "mtime"   // nothing readable: only the object's time and size are known
)

// entry is one package under a prefix, as list prints it and prune weighs it.
type entry struct {
	Name      string    `json:"name"`
	Location  string    `json:"location"`
	Size      int64     `json:"size"`
	Time      time.Time `json:"time"` // creation time of the package (UTC), else modification time
	Source    string    `json:"source"`
	Database  string    `json:"database,omitempty"`
	Digest    string    `json:"digest,omitempty"`
	Tables    int       `json:"tables,omitempty"`
	Rows      int64     `json:"rows,omitempty"`
	Encrypted string    `json:"encrypted,omitempty"`
	SignedBy  string    `json:"signed_by,omitempty"`
	// Problem says what is wrong with the entry ("" when nothing is known to be).
	Problem string `json:"problem,omitempty"`

	loc  *store.Location
	meta *store.Meta
}

// catalog lists the packages under prefix, newest first. Packages with metadata are described
// from it (checked against the object's size); the others are read whole, through sf's keys.
func catalog(ctx context.Context, prefix *store.Location, sf *sealFlags) ([]*entry, error) {
	objs, err := prefix.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", prefix, err)
	}
	metas := map[string]bool{}
	for _, o := range objs {
		metas[o.Name] = true
	}
	var out []*entry
	for _, o := range objs {
		if !store.IsPackageName(o.Name) {
			continue
		}
		e := &entry{Name: o.Name, Location: o.Location.String(), Size: o.Size, Time: o.ModTime.UTC(), Source: fromMtime, loc: o.Location}
		if metas[o.Name+store.MetaSuffix] {
			m, err := o.Location.ReadMeta(ctx)
			switch {
			case err != nil:
				e.Problem = fmt.Sprintf("metadata unreadable: %v", err)
			case m.Size != o.Size:
				e.Problem = fmt.Sprintf("metadata says %d bytes, the package has %d (replaced or truncated)", m.Size, o.Size)
			default:
				e.meta = m
				e.describe(m)
				e.Source = fromMeta
			}
		}
		if e.Source != fromMeta {
			if _, err := readEntry(ctx, e, sf); err != nil && e.Problem == "" {
				e.Problem = err.Error()
			}
		}
		out = append(out, e)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].Time.Equal(out[j].Time) {
			return out[i].Time.After(out[j].Time)
		}
		return out[i].Name > out[j].Name
	})
	return out, nil
}

func (e *entry) describe(m *store.Meta) {
	e.Time, e.Database, e.Digest, e.Tables, e.Rows = m.CreatedAt.UTC(), m.Database, m.Digest, m.Tables, m.Rows
	e.Encrypted, e.SignedBy = m.Encrypted, m.SignedBy
}

// readEntry reads the package of e whole: its stored bytes are hashed, and it is verified (every
// checksum; the signature when sf has --pubkey) when it is not encrypted or sf can decrypt it.
// It fills in what the package says, and returns how it was verified ("" when it could not be).
func readEntry(ctx context.Context, e *entry, sf *sealFlags) (string, error) {
	d, err := sf.decrypter()
	if err != nil {
		return "", err
	}
	v, err := sf.verifier()
	if err != nil {
		return "", err
	}
	r, err := e.loc.Open(ctx)
	if err != nil {
		return "", err
	}
	defer r.Close()
	h := sha256.New()
	tee := io.TeeReader(r, h)
	c, verr := seal.VerifyPackage(ctx, tee, d, v, packLimits())
	if c != nil && c.Encrypted && e.Encrypted == "" {
		e.Encrypted = "age"
	}
	if verr != nil && c != nil && c.Encrypted && isLockedOut(verr) {
		// Encrypted and no key: only the stored bytes can be checked, against the metadata.
		if _, err := io.Copy(h, r); err != nil {
			return "", fmt.Errorf("read %s: %w", e.loc, err)
		}
		if e.meta == nil || e.meta.SHA256 == "" {
			return "", errors.New("encrypted, without metadata: give --identity or --passphrase-file to read it")
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != e.meta.SHA256 {
			return "", errors.New("the stored bytes do not match the checksum recorded when it was written")
		}
		return "stored bytes match the checksum recorded at backup (encrypted: give --identity to check the content)", nil
	}
	if verr != nil {
		if fl := finding.FindingsOf(verr); len(fl) > 0 {
			return "", fmt.Errorf("refused by verify: %s", fl[0])
		}
		return "", verr
	}
	m := c.Manifest
	if e.meta == nil {
		e.describe(&store.Meta{CreatedAt: m.CreatedAt, Database: m.Database, Digest: m.Digest.Total, Tables: len(m.Tables), Rows: store.MetaOf("", m, 0, "", "", "").Rows})
		e.Source = fromPackage
	} else if e.meta.SHA256 != "" && hex.EncodeToString(h.Sum(nil)) != e.meta.SHA256 {
		return "", errors.New("the stored bytes do not match the checksum recorded when it was written")
	} else if !m.CreatedAt.Equal(e.meta.CreatedAt) || m.Digest.Total != e.meta.Digest {
		return "", errors.New("the metadata does not describe this package (time or digest differ)")
	}
	if c.Signature != nil {
		e.SignedBy = c.Signature.KeyID
	}
	if c.SignatureChecked {
		return "every checksum and the signature verified", nil
	}
	return "every checksum verified", nil
}

// isLockedOut says whether a verification failed only for want of a key.
func isLockedOut(err error) bool {
	for _, f := range finding.FindingsOf(err) {
		if f.Kind != finding.Unsupported && f.Kind != finding.Privilege {
			return false
		}
	}
	return finding.FindingsOf(err) != nil
}
