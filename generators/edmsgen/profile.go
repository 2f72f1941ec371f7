package edmsgen

import (
	"fmt"
	"strconv"
	"strings"
)

// MaxDocuments bounds the numeric profile form.
const MaxDocuments = 20_000_000

// MinBulkReferences is the number of rows that reference the bulk user in every profile.
const MinBulkReferences = 2400

// LargeBlobSize is the size of the large document version contents (just over 1 MiB).
const LargeBlobSize = 1<<20 + 4099

// Profile sizes a generated data set. Every count is derived from Documents by ForDocuments;
// the edge cases are present whatever the sizes.
type Profile struct {
	// Name is "tiny", "small", "medium" or the document count in decimal.
	Name string
	// Documents is the number of documents.
	Documents int
	// Users is the number of generated users, besides the seeded ones and the bulk user.
	Users int
	// Groups is the number of generated groups, besides the seeded ones.
	Groups int
	// Tags is the number of tags.
	Tags int
	// Folders is the number of randomly placed folders, besides the deep chain and the named edge cases.
	Folders int
	// MaxVersions is the most versions a document gets (at least one).
	MaxVersions int
	// MaxWorkflows is the most workflows a document gets (at least one).
	MaxWorkflows int
	// MaxTransitions is the most transitions a workflow gets.
	MaxTransitions int
	// MaxAuditPerDocument is the most extra audit entries a document gets.
	MaxAuditPerDocument int
	// BulkReferences is the number of transitions and audit entries whose actor is the bulk user.
	BulkReferences int
	// LargeBlobs is the number of versions whose content is LargeBlobSize bytes.
	LargeBlobs int
	// MaxContentSize bounds the size of the other version contents.
	MaxContentSize int
}

// Named profile document counts.
const (
	tinyDocuments   = 40
	smallDocuments  = 9_000
	mediumDocuments = 90_000
)

// ForDocuments returns the profile for n documents, deriving every other count from n.
func ForDocuments(n int) (Profile, error) {
	if n < 1 || n > MaxDocuments {
		return Profile{}, fmt.Errorf("edms profile: document count %d out of range 1..%d", n, MaxDocuments)
	}
	return Profile{
		Name:                strconv.Itoa(n),
		Documents:           n,
		Users:               12 + n/40,
		Groups:              3 + n/3000,
		Tags:                24 + n/80,
		Folders:             40 + n/10,
		MaxVersions:         4,
		MaxWorkflows:        3,
		MaxTransitions:      6,
		MaxAuditPerDocument: 6,
		BulkReferences:      max(MinBulkReferences, n/20),
		LargeBlobs:          1 + n/50_000,
		MaxContentSize:      2048,
	}, nil
}

// ProfileByName returns a named profile: "tiny" (seconds, every edge case), "small" (~200k rows),
// "medium" (~2M rows), or a positive decimal document count.
func ProfileByName(name string) (Profile, error) {
	var docs int
	switch s := strings.TrimSpace(name); s {
	case "tiny":
		docs = tinyDocuments
	case "small":
		docs = smallDocuments
	case "medium":
		docs = mediumDocuments
	case "":
		return Profile{}, fmt.Errorf("edms profile: empty name (want tiny, small, medium or a document count)")
	default:
		n, err := strconv.Atoi(s)
		if err != nil {
			return Profile{}, fmt.Errorf("edms profile %q: want tiny, small, medium or a document count", name)
		}
		return ForDocuments(n)
	}
	p, err := ForDocuments(docs)
	if err != nil {
		return Profile{}, err
	}
	p.Name = strings.TrimSpace(name)
	return p, nil
}
