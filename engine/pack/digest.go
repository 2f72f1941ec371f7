package pack

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/big"
	"sort"
	"strings"
)

// TableDigest is the digest of one table's rows: the row count and two 64-bit lanes of every row's
// hash, summed exactly. Sums make it a multiset digest: row order does not matter, duplicates
// count. engine/digest computes it in SQL; the format owns its representation (the manifest's
// digest), so that reading a package needs no database driver.
type TableDigest struct {
	Rows int64  `json:"rows"`
	Sum1 string `json:"sum1"` // decimal
	Sum2 string `json:"sum2"` // decimal
}

// Digest is the logical digest of a database (or of a package's data): per table and in total.
// The manifest carries the digest of the data at backup time.
type Digest struct {
	Tables map[string]TableDigest `json:"tables"` // by qualified table name
	Total  string                 `json:"total"`
}

func parse(s string) *big.Int {
	n, ok := new(big.Int).SetString(strings.TrimSpace(s), 10)
	if !ok {
		return new(big.Int)
	}
	return n
}

// Hex is the table's digest as hex: sha256 over the table name, count and lane sums.
func (t TableDigest) Hex(qname string) string {
	h := sha256.Sum256([]byte(fmt.Sprintf("%s\n%d\n%s\n%s\n", qname, t.Rows, parse(t.Sum1), parse(t.Sum2))))
	return hex.EncodeToString(h[:])
}

// Add returns t + o (multiset union).
func (t TableDigest) Add(o TableDigest) TableDigest {
	return TableDigest{Rows: t.Rows + o.Rows, Sum1: new(big.Int).Add(parse(t.Sum1), parse(o.Sum1)).String(), Sum2: new(big.Int).Add(parse(t.Sum2), parse(o.Sum2)).String()}
}

// Sub returns t - o (multiset difference, assuming o is contained in t).
func (t TableDigest) Sub(o TableDigest) TableDigest {
	return TableDigest{Rows: t.Rows - o.Rows, Sum1: new(big.Int).Sub(parse(t.Sum1), parse(o.Sum1)).String(), Sum2: new(big.Int).Sub(parse(t.Sum2), parse(o.Sum2)).String()}
}

// Equal compares two table digests by value.
func (t TableDigest) Equal(o TableDigest) bool {
	return t.Rows == o.Rows && parse(t.Sum1).Cmp(parse(o.Sum1)) == 0 && parse(t.Sum2).Cmp(parse(o.Sum2)) == 0
}

// NewDigest computes the total over per-table digests.
func NewDigest(tables map[string]TableDigest) Digest {
	names := make([]string, 0, len(tables))
	for q := range tables {
		names = append(names, q)
	}
	sort.Strings(names)
	h := sha256.New()
	for _, q := range names {
		fmt.Fprintf(h, "%s %s\n", q, tables[q].Hex(q))
	}
	return Digest{Tables: tables, Total: hex.EncodeToString(h.Sum(nil))}
}

// Lines renders the summary as `edmsdr digest` prints it: one line per table (name, rows, hex),
// sorted, then "total <hex>".
func (s Digest) Lines() []string {
	names := make([]string, 0, len(s.Tables))
	for q := range s.Tables {
		names = append(names, q)
	}
	sort.Strings(names)
	out := make([]string, 0, len(names)+1)
	for _, q := range names {
		t := s.Tables[q]
		out = append(out, fmt.Sprintf("%s %d %s", displayName(q), t.Rows, t.Hex(q)))
	}
	return append(out, "total "+s.Total)
}

func displayName(q string) string { return strings.TrimPrefix(q, "public.") }
