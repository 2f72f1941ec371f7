// Package finding is the vocabulary every check reports in: a Finding has a Kind from a fixed list,
// a locator (table, column, constraint, natural key) and counts; a Verdict is PASS, FAIL or UNKNOWN.
// Callers branch on kinds, never on message text.
package finding

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Kind classifies a finding.
type Kind string

// Row findings: what happened to rows.
const (
	// Lost: in the backup, not in the target.
	Lost Kind = "lost"
	// Duplicated: a natural key (or a keyless row) that would exist twice.
	Duplicated Kind = "duplicated"
	// Diverged: matched by natural key, different content.
	Diverged Kind = "diverged"
	// Orphaned: a reference to a row that does not exist.
	Orphaned Kind = "orphaned"
	// Unexpected: in the target, not in the backup.
	Unexpected Kind = "unexpected"
	// ChangedSince: rows written or removed after the restore a rollback would undo (the rollback
	// would lose those changes).
	ChangedSince Kind = "changed-since"
)

// Structural and integrity findings.
const (
	// SchemaMismatch: a table, column or foreign key of the package that the target lacks or differs on.
	SchemaMismatch Kind = "schema-mismatch"
	// KeyPlan: a natural key that is not unique, not resolvable or ambiguous.
	KeyPlan Kind = "key-plan"
	// Conflict: a row that would violate a unique constraint other than its natural key.
	Conflict Kind = "conflict"
	// Constraint: a constraint the server refused (NOT NULL, CHECK, foreign key, type).
	Constraint Kind = "constraint"
	// Corrupt: the package is damaged (checksum, size, count, format).
	Corrupt Kind = "corrupt"
	// Unsupported: a format version or feature this build does not handle.
	Unsupported Kind = "unsupported"
	// DigestMismatch: the logical digest differs.
	DigestMismatch Kind = "digest-mismatch"
	// CountMismatch: rows staged != rows inserted + rows matched, or a manifest count differs.
	CountMismatch Kind = "count-mismatch"
	// Sequence: a sequence stands at or below an id in use.
	Sequence Kind = "sequence"
	// AlreadyRestored: every row of the package is already in the target.
	AlreadyRestored Kind = "already-restored"
	// Probe: an application invariant checked after restore failed.
	Probe Kind = "probe"
	// Privilege: the role lacks a grant the operation needs.
	Privilege Kind = "privilege"
)

// Severity says whether a finding blocks.
type Severity string

// Severities.
const (
	Error   Severity = "error"
	Warning Severity = "warning"
	Info    Severity = "info"
)

// Finding is one thing a check found.
type Finding struct {
	Kind       Kind     `json:"kind"`
	Severity   Severity `json:"severity"`
	Table      string   `json:"table,omitempty"`
	Column     string   `json:"column,omitempty"`
	Constraint string   `json:"constraint,omitempty"`
	// Keys are natural keys (or other locators) of sample rows, at most a handful.
	Keys []string `json:"keys,omitempty"`
	// Count is how many rows the finding covers (0 when not about rows).
	Count   int64  `json:"count,omitempty"`
	Message string `json:"message"`
	// Detail is the server's own account of a refused row: its DETAIL line ("Key (code)=(a)
	// already exists.") and, for a data error, its message with the values the Message masks.
	// It is row content, left out with Keys by Redacted.
	Detail string `json:"detail,omitempty"`
}

// String renders a finding on one line.
func (f Finding) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", f.Severity, f.Kind)
	if f.Table != "" {
		fmt.Fprintf(&b, " table %s", Printable(f.Table, maxName))
	}
	if f.Column != "" {
		fmt.Fprintf(&b, " column %s", Printable(f.Column, maxName))
	}
	if f.Constraint != "" {
		fmt.Fprintf(&b, " constraint %s", Printable(f.Constraint, maxName))
	}
	if f.Count > 0 {
		fmt.Fprintf(&b, " rows %d", f.Count)
	}
	fmt.Fprintf(&b, ": %s", Printable(f.Message, maxMessage))
	if f.Detail != "" {
		fmt.Fprintf(&b, " (detail: %s)", Printable(f.Detail, maxMessage))
	}
	if len(f.Keys) > 0 {
		keys := make([]string, 0, min(len(f.Keys), maxKeys))
		for _, k := range f.Keys[:min(len(f.Keys), maxKeys)] {
			keys = append(keys, Printable(k, maxName))
		}
		if len(f.Keys) > maxKeys {
			keys = append(keys, fmt.Sprintf("… %d more", len(f.Keys)-maxKeys))
		}
		fmt.Fprintf(&b, " [%s]", strings.Join(keys, "; "))
	}
	return b.String()
}

// Bounds of the text form of a finding: names and keys come from packages and fixtures, which
// may hold anything.
const (
	maxName    = 256
	maxMessage = 4096
	maxKeys    = 20
)

// Printable makes s, text that may come from a package, a fixture or a database, safe to print
// on a terminal: control characters (ESC, CR, BEL, C1 controls, DEL; newline and tab too) and
// invalid UTF-8 are written as Go escapes (\x1b, \r, \n…), and text longer than max bytes is cut,
// saying how much was left out.
func Printable(s string, max int) string {
	cut := 0
	if len(s) > max {
		cut = len(s) - max
		s = strings.ToValidUTF8(s[:max], "")
	}
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == utf8.RuneError && !strings.HasPrefix(s[i:], "\xef\xbf\xbd"):
			fmt.Fprintf(&b, "\\x%02x", s[i])
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == 0x2028 || r == 0x2029 || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069):
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteRune(r)
		}
	}
	if cut > 0 {
		fmt.Fprintf(&b, "… (%d more bytes)", cut)
	}
	return b.String()
}

// Redacted returns a copy without row content (natural keys, the server's detail), for reports
// that must not carry data.
func (f Finding) Redacted() Finding {
	f.Keys = nil
	f.Detail = ""
	return f
}

// List is a set of findings.
type List []Finding

// Add appends a finding.
func (l *List) Add(f Finding) {
	if f.Severity == "" {
		f.Severity = Error
	}
	*l = append(*l, f)
}

// Errorf appends an error finding.
func (l *List) Errorf(kind Kind, table string, format string, args ...any) {
	l.Add(Finding{Kind: kind, Severity: Error, Table: table, Message: fmt.Sprintf(format, args...)})
}

// HasErrors reports whether any finding blocks.
func (l List) HasErrors() bool {
	for _, f := range l {
		if f.Severity == Error {
			return true
		}
	}
	return false
}

// Errors returns the blocking findings.
func (l List) Errors() List {
	var out List
	for _, f := range l {
		if f.Severity == Error {
			out = append(out, f)
		}
	}
	return out
}

// Kinds returns the distinct kinds present, sorted.
func (l List) Kinds() []Kind {
	seen := map[Kind]bool{}
	var out []Kind
	for _, f := range l {
		if !seen[f.Kind] {
			seen[f.Kind] = true
			out = append(out, f.Kind)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// Has reports whether a finding of kind k is present.
func (l List) Has(k Kind) bool {
	for _, f := range l {
		if f.Kind == k {
			return true
		}
	}
	return false
}

// Redacted returns the list without row content.
func (l List) Redacted() List {
	out := make(List, len(l))
	for i, f := range l {
		out[i] = f.Redacted()
	}
	return out
}

// Refused is an error made of findings: what a refused operation returns. Callers get the findings
// with errors.As.
type Refused struct {
	Op       string
	Findings List
}

func (e *Refused) Error() string {
	errs := e.Findings.Errors()
	if len(errs) == 0 {
		errs = e.Findings
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s refused: %d finding(s)", e.Op, len(errs))
	for i, f := range errs {
		if i == 20 {
			fmt.Fprintf(&b, "\n  ... and %d more", len(errs)-20)
			break
		}
		fmt.Fprintf(&b, "\n  %s", f)
	}
	return b.String()
}

// FindingsOf extracts the findings from err (nil if err carries none).
func FindingsOf(err error) List {
	var fe *Refused
	if errors.As(err, &fe) {
		return fe.Findings
	}
	return nil
}

// Verdict is the outcome of a check.
type Verdict string

// Verdicts. PASS needs positive evidence; missing evidence is UNKNOWN, which counts as failure.
const (
	Pass    Verdict = "PASS"
	Fail    Verdict = "FAIL"
	Unknown Verdict = "UNKNOWN"
)

// OK reports whether v is PASS.
func (v Verdict) OK() bool { return v == Pass }

// Combine folds verdicts: any FAIL fails, else any UNKNOWN is unknown, else PASS (no verdicts: UNKNOWN).
func Combine(vs ...Verdict) Verdict {
	if len(vs) == 0 {
		return Unknown
	}
	out := Pass
	for _, v := range vs {
		switch v {
		case Fail:
			return Fail
		case Pass:
		default:
			out = Unknown
		}
	}
	return out
}

// Check is one named check with its verdict and evidence.
type Check struct {
	Name     string  `json:"name"`
	Table    string  `json:"table,omitempty"`
	Verdict  Verdict `json:"verdict"`
	Evidence string  `json:"evidence"`
}
