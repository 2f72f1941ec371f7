// Package pack owns the package format: a tar stream, zstd-compressed, holding a header entry,
// one or more COPY-text entries per table and a manifest written last (counts, sizes, SHA-256 of
// every entry, schema snapshot, key plan, logical digest). Writers produce NAME.partial, fsync it
// and rename it, so a package exists whole or not at all. Readers verify every checksum while
// streaming, bound every size, accept only their own entry names and refuse unknown versions.
// The zstd stream is written by compressor: frames of the fastest level, and frames of
// Huffman-coded literals only (litFrame) where the data is hex text.
package pack

import (
	"fmt"
	"regexp"
	"strconv"
	"time"

	"github.com/edmsdr/edmsdr/engine/keys"
	"github.com/edmsdr/edmsdr/engine/schema"
)

// FormatVersion is the package format this build writes. Readers dispatch on the version found;
// every version ever written stays readable.
const FormatVersion = 1

// FormatLargeValues is the format of a package holding large values (TableEntry.Large): version
// 1 plus large/ entries. Only such packages carry it, so that every other package stays
// readable by builds that know version 1 only (they refuse this one as a newer format).
const FormatLargeValues = 2

// Entry names.
const (
	HeaderName    = "header.json"
	ManifestName  = "manifest.json"
	SignatureName = "manifest.sig"
)

var (
	dataName  = regexp.MustCompile(`^(data|refs)/([0-9]{6})\.([0-9]{6})\.copy$`)
	largeName = regexp.MustCompile(`^large/([0-9]{6})\.([0-9]{6})\.bin$`)
)

// PAX records of a large value entry: the row (0-based, in the order of the table's data
// entries) and the column the value belongs to; in that row the column reads NULL.
const (
	LargeRowRecord    = "EDMSDR.row"
	LargeColumnRecord = "EDMSDR.column"
)

// LargeName is the entry name of large value n of table index table.
func LargeName(table, n int) string { return fmt.Sprintf("large/%06d.%06d.bin", table, n) }

func parseLargeName(name string) (table, n int, ok bool) {
	m := largeName.FindStringSubmatch(name)
	if m == nil {
		return 0, 0, false
	}
	t, _ := strconv.Atoi(m[1])
	n, _ = strconv.Atoi(m[2])
	return t, n, true
}

// EntrySHA256Record is the PAX record of a data entry's tar header that carries the SHA-256 of its
// content (hex), ahead of the content: readers verify an entry before acting on it. Packages
// written before it existed lack it; their checksums are in the manifest only.
const EntrySHA256Record = "EDMSDR.sha256"

// DataName is the entry name of chunk chunk of table index table.
func DataName(table, chunk int) string { return fmt.Sprintf("data/%06d.%06d.copy", table, chunk) }

// RefName is the entry name of chunk chunk of the reference rows of table index table.
func RefName(table, chunk int) string { return fmt.Sprintf("refs/%06d.%06d.copy", table, chunk) }

// ParseDataName parses a data or reference entry name.
func ParseDataName(name string) (table, chunk int, ok bool) {
	table, chunk, _, ok = parseEntryName(name)
	return table, chunk, ok
}

func parseEntryName(name string) (table, chunk int, ref, ok bool) {
	m := dataName.FindStringSubmatch(name)
	if m == nil {
		return 0, 0, false, false
	}
	t, _ := strconv.Atoi(m[2])
	c, _ := strconv.Atoi(m[3])
	return t, c, m[1] == "refs", true
}

// Header is the first entry: enough to stage the data before the manifest arrives.
type Header struct {
	Format int           `json:"format"`
	Tool   string        `json:"tool"`
	Tables []TableLayout `json:"tables"`
}

// TableLayout says which table an entry index holds and the order of its COPY columns.
type TableLayout struct {
	Index   int      `json:"index"`
	Table   string   `json:"table"` // qualified name
	Columns []string `json:"columns"`
}

// Origins of a package.
const (
	// OriginDatabase is a backup of a database (the default).
	OriginDatabase = ""
	// OriginDjangoFixture is a package converted from a Django dumpdata fixture.
	OriginDjangoFixture = "django-fixture"
	// OriginSafety is a safety backup: the content a restore was about to change, written by the
	// restore itself (Manifest.Safety says which restore).
	OriginSafety = "safety-backup"
)

// Manifest is the last entry: everything needed to verify the package and reconcile it.
type Manifest struct {
	Format int `json:"format"`
	// Origin says what the package was made from (OriginDatabase or OriginDjangoFixture).
	Origin        string         `json:"origin,omitempty"`
	Tool          string         `json:"tool"`
	CreatedAt     time.Time      `json:"created_at"`
	ServerVersion int            `json:"server_version"` // server_version_num of the source
	Database      string         `json:"database"`
	HeaderSHA256  string         `json:"header_sha256"`
	Schema        *schema.Schema `json:"schema"`
	Plan          *keys.Plan     `json:"plan"`
	Tables        []TableEntry   `json:"tables"`
	Digest        Digest         `json:"digest"`
	// Safety describes the restore a safety backup was taken for (OriginSafety only).
	Safety *Safety `json:"safety,omitempty"`
}

// Safety is what a rollback needs beyond a safety backup's rows: where the sequences stood before
// the restore, and what the restore left behind, to tell whether the target changed since.
type Safety struct {
	// Package is the digest total of the package the restore restored; Mode its mode.
	Package string `json:"package"`
	Mode    string `json:"mode"`
	// Sequences are the sequences of the tables' columns, as they stood before the restore.
	Sequences []SequenceState `json:"sequences"`
	// After is the digest of the same tables once the restore had written them (computed inside
	// its transaction, just before COMMIT).
	After Digest `json:"after"`
	// XID is the restore's transaction id (xid8, decimal): rows written since carry a newer xmin.
	XID string `json:"xid"`
}

// SequenceState is where one sequence stood: the value nextval would have returned.
type SequenceState struct {
	Table    string `json:"table"`
	Column   string `json:"column"`
	Sequence string `json:"sequence"`
	Next     int64  `json:"next"`
}

// TableEntry lists one table's chunks.
type TableEntry struct {
	Index  int     `json:"index"`
	Table  string  `json:"table"`
	Rows   int64   `json:"rows"`
	Bytes  int64   `json:"bytes"`
	Chunks []Chunk `json:"chunks"`
	// Refs are reference rows: rows the package's data points at but does not carry (a Django
	// fixture's natural-key reference to a row it does not contain). A restore must match each
	// to an existing target row by natural key; they are never inserted. Only the natural-key
	// columns are filled.
	Refs    []Chunk `json:"refs,omitempty"`
	RefRows int64   `json:"ref_rows,omitempty"`
	// Large are values too large to travel in COPY text (a bytea of hundreds of MiB): each is an
	// entry of its own (raw bytes), after the table's other entries, and its row's column reads
	// NULL in the data entries. Format FormatLargeValues only.
	Large []LargeValue `json:"large,omitempty"`
}

// LargeValue is one large value entry: the value of Column in data row Row (0-based over the
// table's data entries, in order).
type LargeValue struct {
	Name   string `json:"name"`
	Row    int64  `json:"row"`
	Column string `json:"column"`
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"`
}

// Chunk is one data entry.
type Chunk struct {
	Name   string `json:"name"`
	Rows   int64  `json:"rows"`
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"`
}

// Limits bound what a reader accepts, so that a hostile package cannot exhaust memory or disk.
type Limits struct {
	MaxHeaderBytes   int64 // default 16 MiB
	MaxManifestBytes int64 // default 64 MiB
	MaxEntryBytes    int64 // one data entry, default 1 GiB
	MaxTotalBytes    int64 // all entries, default 1 TiB
	// MaxRatio bounds the bytes decompressed (all of them: entries read or skipped, tar headers)
	// over the compressed bytes consumed, once past 64 MiB decompressed; default DefaultMaxRatio.
	// The writer pads its output so that every package it writes stays within DefaultMaxRatio.
	MaxRatio int64
}

func (l Limits) withDefaults() Limits {
	if l.MaxHeaderBytes <= 0 {
		l.MaxHeaderBytes = 16 << 20
	}
	if l.MaxManifestBytes <= 0 {
		l.MaxManifestBytes = 64 << 20
	}
	if l.MaxEntryBytes <= 0 {
		l.MaxEntryBytes = 1 << 30
	}
	if l.MaxTotalBytes <= 0 {
		l.MaxTotalBytes = 1 << 40
	}
	if l.MaxRatio <= 0 {
		l.MaxRatio = DefaultMaxRatio
	}
	return l
}

// DefaultMaxRatio is the decompression ratio a reader accepts by default. Writers keep every
// package they write at half of it (see Writer), so that a package that was written is read.
const DefaultMaxRatio = 1000
