package digest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/big"
	"sort"
	"strings"
)

// Table is the digest of one table's rows: the row count and two 64-bit lanes of every row's hash,
// summed exactly. Sums make it a multiset digest: row order does not matter, duplicates count.
type Table struct {
	Rows int64  `json:"rows"`
	Sum1 string `json:"sum1"` // decimal
	Sum2 string `json:"sum2"` // decimal
}

// Summary is the digest of a database (or of a package's data): per table and in total.
type Summary struct {
	Tables map[string]Table `json:"tables"` // by qualified table name
	Total  string           `json:"total"`
}

func parse(s string) *big.Int {
	n, ok := new(big.Int).SetString(strings.TrimSpace(s), 10)
	if !ok {
		return new(big.Int)
	}
	return n
}

// Hex is the table's digest as hex: sha256 over the table name, count and lane sums.
func (t Table) Hex(qname string) string {
	h := sha256.Sum256([]byte(fmt.Sprintf("%s\n%d\n%s\n%s\n", qname, t.Rows, parse(t.Sum1), parse(t.Sum2))))
	return hex.EncodeToString(h[:])
}

// Add returns t + o (multiset union).
func (t Table) Add(o Table) Table {
	return Table{Rows: t.Rows + o.Rows, Sum1: new(big.Int).Add(parse(t.Sum1), parse(o.Sum1)).String(), Sum2: new(big.Int).Add(parse(t.Sum2), parse(o.Sum2)).String()}
}

// Sub returns t - o (multiset difference, assuming o is contained in t).
func (t Table) Sub(o Table) Table {
	return Table{Rows: t.Rows - o.Rows, Sum1: new(big.Int).Sub(parse(t.Sum1), parse(o.Sum1)).String(), Sum2: new(big.Int).Sub(parse(t.Sum2), parse(o.Sum2)).String()}
}

// Equal compares two table digests by value.
func (t Table) Equal(o Table) bool {
	return t.Rows == o.Rows && parse(t.Sum1).Cmp(parse(o.Sum1)) == 0 && parse(t.Sum2).Cmp(parse(o.Sum2)) == 0
}

// NewSummary computes the total over per-table digests.
func NewSummary(tables map[string]Table) Summary {
	names := make([]string, 0, len(tables))
	for q := range tables {
		names = append(names, q)
	}
	sort.Strings(names)
	h := sha256.New()
	for _, q := range names {
		fmt.Fprintf(h, "%s %s\n", q, tables[q].Hex(q))
	}
	return Summary{Tables: tables, Total: hex.EncodeToString(h.Sum(nil))}
}

// Lines renders the summary as `edmsdr digest` prints it: one line per table (name, rows, hex),
// sorted, then "total <hex>".
func (s Summary) Lines() []string {
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
