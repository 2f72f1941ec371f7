package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"strings"
	"time"

	"github.com/edmsdr/edmsdr/engine/pack"
)

// ErrNotFound is returned (wrapped) when a package or metadata object does not exist.
var ErrNotFound = errors.New("not found")

// Object is one entry of a listing.
type Object struct {
	Location *Location
	Name     string // the last path element
	Size     int64
	ModTime  time.Time
}

// backend is what one kind of location (local file system, S3) provides.
type backend interface {
	open(ctx context.Context) (io.ReadCloser, error)
	create(ctx context.Context, overwrite bool) (pack.Sink, error)
	stat(ctx context.Context) (Object, error)
	list(ctx context.Context) ([]Object, error)
	remove(ctx context.Context) error
	putSmall(ctx context.Context, data []byte) error
}

func (l *Location) backend() backend {
	if l.obj != nil {
		return &s3Backend{loc: l}
	}
	return &localBackend{loc: l}
}

// Open opens the package (or any object) at l for one sequential read.
func (l *Location) Open(ctx context.Context) (io.ReadCloser, error) {
	return l.backend().open(ctx)
}

// Stat returns the size and modification time of what is at l.
func (l *Location) Stat(ctx context.Context) (Object, error) {
	return l.backend().stat(ctx)
}

// Remove removes what is at l.
func (l *Location) Remove(ctx context.Context) error {
	return l.backend().remove(ctx)
}

// List lists l as a prefix: a directory, an object key prefix ending in /, or the start of names
// (s3://bucket/backups/prod- lists every name in backups/ starting with prod-). It is not
// recursive: names below a further / are not listed. The result is sorted by name.
func (l *Location) List(ctx context.Context) ([]Object, error) {
	return l.backend().list(ctx)
}

// Upload is a package being written to a location: a pack.Sink that also hashes and counts what
// passes through it.
type Upload struct {
	sink pack.Sink
	h    hash.Hash
	n    int64
}

// Create starts writing a package at l. The package becomes visible at l only when Commit
// succeeds; Abort (or a failed Commit) leaves nothing. Without overwrite an existing package at
// l is refused (for objects also atomically at commit, where the store supports conditional
// writes).
func (l *Location) Create(ctx context.Context, overwrite bool) (*Upload, error) {
	sink, err := l.backend().create(ctx, overwrite)
	if err != nil {
		return nil, err
	}
	return &Upload{sink: sink, h: sha256.New()}, nil
}

// Write writes package bytes.
func (u *Upload) Write(p []byte) (int, error) {
	n, err := u.sink.Write(p)
	u.h.Write(p[:n])
	u.n += int64(n)
	return n, err
}

// Commit makes the package visible.
func (u *Upload) Commit() error { return u.sink.Commit() }

// Abort discards everything written.
func (u *Upload) Abort() { u.sink.Abort() }

// Size is the number of bytes written.
func (u *Upload) Size() int64 { return u.n }

// SHA256 is the hex SHA-256 of the bytes written.
func (u *Upload) SHA256() string { return hex.EncodeToString(u.h.Sum(nil)) }

// Meta is what list and prune need to know of a package without reading it. It is written beside
// the package (NAME.meta.json) once the package is complete; a package without one is read
// whole to learn it. It is informative: verify reads the package itself.
type Meta struct {
	// MetaFormat is the version of this record (1).
	MetaFormat    int       `json:"meta_format"`
	Package       string    `json:"package"` // the package's name
	Size          int64     `json:"size"`    // bytes as stored
	SHA256        string    `json:"sha256"`  // of the bytes as stored (encrypted bytes when encrypted)
	CreatedAt     time.Time `json:"created_at"`
	Origin        string    `json:"origin,omitempty"`
	Database      string    `json:"database"`
	ServerVersion int       `json:"server_version,omitempty"`
	Tool          string    `json:"tool"`
	Tables        int       `json:"tables"`
	Rows          int64     `json:"rows"`
	Digest        string    `json:"digest"`
	// Encrypted describes the encryption ("" when the package is not encrypted).
	Encrypted string `json:"encrypted,omitempty"`
	// SignedBy is the id of the key that signed the manifest ("" when unsigned).
	SignedBy string `json:"signed_by,omitempty"`
}

// maxMetaBytes bounds a metadata object.
const maxMetaBytes = 1 << 20

// WriteMeta writes m beside the package at l, atomically.
func (l *Location) WriteMeta(ctx context.Context, m Meta) error {
	m.MetaFormat = 1
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("encode metadata of %s: %w", l, err)
	}
	return l.Meta().backend().putSmall(ctx, append(data, '\n'))
}

// ReadMeta reads the metadata written beside the package at l (ErrNotFound when there is none).
func (l *Location) ReadMeta(ctx context.Context) (*Meta, error) {
	ml := l.Meta()
	r, err := ml.Open(ctx)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	data, err := io.ReadAll(io.LimitReader(r, maxMetaBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", ml, err)
	}
	if len(data) > maxMetaBytes {
		return nil, fmt.Errorf("read %s: more than %d bytes: not a metadata object of edmsdr", ml, maxMetaBytes)
	}
	var m Meta
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("read %s: %w", ml, err)
	}
	if m.MetaFormat != 1 {
		return nil, fmt.Errorf("read %s: metadata format %d is not supported", ml, m.MetaFormat)
	}
	return &m, nil
}

// IsPackageName reports whether a listed name is a package (ends in .edmsdr).
func IsPackageName(name string) bool {
	return strings.HasSuffix(name, PackageSuffix) && len(name) > len(PackageSuffix)
}

// MetaOf is the metadata of the package name whose manifest is m, stored as size bytes with
// SHA-256 sha; encrypted describes its encryption and signedBy the signing key ("" for none).
func MetaOf(name string, m *pack.Manifest, size int64, sha, encrypted, signedBy string) Meta {
	var rows int64
	for _, t := range m.Tables {
		rows += t.Rows
	}
	return Meta{Package: name, Size: size, SHA256: sha, CreatedAt: m.CreatedAt.UTC(), Origin: m.Origin, Database: m.Database,
		ServerVersion: m.ServerVersion, Tool: m.Tool, Tables: len(m.Tables), Rows: rows, Digest: m.Digest.Total,
		Encrypted: encrypted, SignedBy: signedBy}
}

// PutPackage stores the package file at path (whose manifest is m) at l, atomically, and writes
// its metadata beside it. A metadata failure is returned as metaErr: the package itself is then
// complete.
func (l *Location) PutPackage(ctx context.Context, path string, m *pack.Manifest, overwrite bool) (up *Upload, metaErr, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	up, err = l.Create(ctx, overwrite)
	if err != nil {
		return nil, nil, err
	}
	if _, err := io.Copy(up, f); err != nil {
		up.Abort()
		return up, nil, fmt.Errorf("write %s: %w", l, err)
	}
	if err := up.Commit(); err != nil {
		return up, nil, err
	}
	if m != nil {
		metaErr = l.WriteMeta(ctx, MetaOf(l.Base(), m, up.Size(), up.SHA256(), "", ""))
	}
	return up, metaErr, nil
}
