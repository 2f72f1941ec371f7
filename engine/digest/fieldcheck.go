package digest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/edmsdr/edmsdr/engine/copytext"
)

// Text the target reads otherwise. A digest taken from rows as they are sent (restore) holds for
// the rows that land only where the target's column types read each field's text back to the
// same text. A type with a modifier may not: varchar(3) cuts 'ab   ' to 'ab ', character(3) pads
// 'ab' to 'ab ', numeric(10,2) rounds 1.005 to 1.01, timestamp(0) rounds the seconds. Nor may
// some types without one: a float with more digits than it holds, a time with more than six
// fractional digits (rounded to microseconds), a timestamp with a zone (dropped), a date with a
// time (dropped), a jsonb object with a key twice (the last kept).
// The package says which type printed its rows, but a resealed package may say anything: a
// FieldCheck looks at the text itself. TypeCheck decides, from the target's catalog, which check a
// column needs, or that its type makes the shortcut unsafe whatever the text.

// FieldCheck checks one field's COPY text (escaped, never NULL's \N): "" when the target's type
// reads it back to the same text, else why it may not.
type FieldCheck func(f []byte) string

// TypeCheck returns the check a column of the target needs before a digest of its text as sent
// stands for what landed, or why no check can establish it (then check is nil). typname is the
// column's pg_catalog type name (its element's for an array, elem true), typmod its atttypmod (-1
// without a modifier), utf8Server whether the server encoding is UTF8 (characters are then counted as
// UTF-8; else only text of single bytes below 0x80 is counted). A nil check and "" mean no check
// is needed. The type must be a built-in that reads its own output back (restore's roundTrips);
// those outside pg_catalog are refused there.
func TypeCheck(typname string, typmod int32, elem, utf8Server bool) (check FieldCheck, why string) {
	if elem {
		// An array's elements are quoted inside its text: no check reads them there.
		switch {
		case typmod >= 0:
			return nil, "an array of a type with a modifier, which may change its elements"
		case needsCheck(typname):
			return nil, "an array of " + typname + ", whose elements' text is not checked"
		}
		return nil, ""
	}
	switch typname {
	case "varchar", "bpchar":
		if typmod < 0 {
			return nil, "" // unbounded: no padding, no cut
		}
		return charsCheck(int(typmod)-4, typname == "bpchar", utf8Server), ""
	}
	switch typname {
	case "timestamp", "timestamptz", "time":
		// The modifier is the fractional digits kept (at most 6, which the server keeps anyway).
		if typmod > 6 || typmod < 0 {
			typmod = 6
		}
		return printedTimeCheck(typname, int(typmod)), ""
	case "date":
		return printedTimeCheck(typname, 0), ""
	}
	if typmod >= 0 {
		return nil, "a type with a modifier, which may round or cut its values"
	}
	switch typname {
	case "float8":
		return floatCheck(64), ""
	case "float4":
		return floatCheck(32), ""
	case "interval":
		return fractionCheck(6), ""
	case "jsonb":
		return jsonbCheck, ""
	}
	return nil, ""
}

// needsCheck reports the types whose text a FieldCheck checks even without a modifier.
func needsCheck(typname string) bool {
	switch typname {
	case "float4", "float8", "date", "timestamp", "timestamptz", "time", "interval", "jsonb":
		return true
	}
	return false
}

// copyEscapes counts the escapes in COPY text (each two bytes for one).
func copyEscapes(f []byte) int {
	n := 0
	for i := 0; i < len(f); i++ {
		if f[i] == '\\' {
			n++
			i++
		}
	}
	return n
}

// charsCheck checks the character count of the value of a varchar(n) (at most n: the server cuts
// trailing spaces beyond n silently) or of a character(n) (exactly n, as it prints them: fewer
// are padded, more cut). The bytes bound the count; only text above n bytes (or with bytes
// above 0x80, for character(n)) is counted.
func charsCheck(n int, exact, utf8Server bool) FieldCheck {
	return func(f []byte) string {
		if !exact && len(f) <= n {
			return ""
		}
		chars := len(f)
		if bytes.IndexByte(f, '\\') >= 0 {
			chars -= copyEscapes(f)
		}
		if !exact && chars <= n {
			return ""
		}
		if multi := utf8.RuneCount(f) != len(f); multi {
			if !utf8Server {
				return "text of bytes above 0x80 in a server encoding other than UTF8: its characters are not counted"
			}
			chars -= len(f) - utf8.RuneCount(f)
		}
		switch {
		case exact && chars != n:
			return fmt.Sprintf("%d characters for character(%d), which pads or cuts them", chars, n)
		case !exact && chars > n:
			return fmt.Sprintf("%d characters for varchar(%d), which cuts trailing spaces beyond %d", chars, n, n)
		}
		return ""
	}
}

// floatCheck checks float text: NaN or an infinity as printed, or the decimal that the server
// prints for the value it reads (the shortest that reads back as that value, as float8out and
// float4out print since PostgreSQL 12, as strconv prints it), however it is written (1.50 for
// 1.5 is the same number). Text with more digits than the type holds (0.1000000000000000055 reads
// as 0.1) or of a subnormal value that holds fewer fails: the value that lands is not that text.
func floatCheck(bitSize int) FieldCheck {
	return func(f []byte) string {
		s := string(f)
		switch s {
		case "NaN", "Infinity", "-Infinity":
			return ""
		}
		v, err := strconv.ParseFloat(s, bitSize)
		if err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
			return fmt.Sprintf("float text %.40q is not one the client reads as a finite value", s)
		}
		neg, digits, exp, ok := decimalOf(s)
		pneg, pdigits, pexp, _ := decimalOf(strconv.FormatFloat(v, 'e', -1, bitSize))
		if !ok || neg != pneg || digits != pdigits || exp != pexp {
			return fmt.Sprintf("float text %.40q is not the decimal of the value it reads as, printed %s", s, strconv.FormatFloat(v, 'g', -1, bitSize))
		}
		return ""
	}
}

// decimalOf reads decimal text ([+-]digits[.digits][e[+-]digits]) as a sign, its significant
// digits (no leading or trailing zeros; "" for zero) and the exponent of the value
// 0.digits × 10^exp; ok is false for other text.
func decimalOf(s string) (neg bool, digits string, exp int, ok bool) {
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg, s = s[0] == '-', s[1:]
	}
	mant := s
	if e := strings.IndexAny(s, "eE"); e >= 0 {
		n, err := strconv.Atoi(s[e+1:])
		if err != nil || n > 1<<20 || n < -1<<20 {
			return false, "", 0, false
		}
		mant, exp = s[:e], n
	}
	intPart, frac, _ := strings.Cut(mant, ".")
	if intPart == "" && frac == "" {
		return false, "", 0, false
	}
	for _, c := range []byte(intPart + frac) {
		if !isDigit(c) {
			return false, "", 0, false
		}
	}
	all := intPart + frac
	exp += len(intPart)
	trimmed := strings.TrimLeft(all, "0")
	exp -= len(all) - len(trimmed)
	digits = strings.TrimRight(trimmed, "0")
	if digits == "" {
		return neg, "", 0, true // zero, of either sign
	}
	return neg, digits, exp, true
}

// printedTimeCheck checks the text of a date, timestamp, timestamptz or time: the shape they print
// under SessionSettings (DateStyle ISO), "2024-02-29", "2024-02-29 18:29:59.5", the same with a
// zone "+00" (timestamptz only), "18:29:59.5", " BC" after a date, infinity and -infinity but for
// a time. The server reads other text it takes to another value: a zone a timestamp or time
// drops, a time a date drops, more fractional digits than it keeps (max), "J2451187.5".
func printedTimeCheck(typname string, max int) FieldCheck {
	hasDate, hasTime := typname != "time", typname != "date"
	return func(f []byte) string {
		if hasDate && (string(f) == "infinity" || string(f) == "-infinity") {
			return ""
		}
		b := f
		// digits reads n or more digits (exactly n when exact).
		digits := func(n int, exact bool) bool {
			k := 0
			for k < len(b) && isDigit(b[k]) {
				k++
			}
			if k < n || (exact && k != n) {
				return false
			}
			b = b[k:]
			return true
		}
		lit := func(c byte) bool {
			if len(b) == 0 || b[0] != c {
				return false
			}
			b = b[1:]
			return true
		}
		ok := true
		if hasDate {
			ok = digits(4, false) && lit('-') && digits(2, true) && lit('-') && digits(2, true)
			if ok && hasTime {
				ok = lit(' ')
			}
		}
		if ok && hasTime {
			ok = digits(2, true) && lit(':') && digits(2, true) && lit(':') && digits(2, true)
			if ok && len(b) > 0 && b[0] == '.' {
				b = b[1:]
				n := len(b)
				ok = digits(1, false) && n-len(b) <= max
			}
			if ok && typname == "timestamptz" {
				ok = (lit('+') || lit('-')) && digits(2, true)
				for i := 0; ok && i < 2 && len(b) > 0 && b[0] == ':'; i++ {
					ok = lit(':') && digits(2, true)
				}
			}
		}
		if ok && hasDate && len(b) > 0 {
			ok = string(b) == " BC"
			b = nil
		}
		if !ok || len(b) > 0 {
			return fmt.Sprintf("%s text %.40q is not as the server prints it (it may read it as another value)", typname, f)
		}
		return ""
	}
}

// fractionCheck checks the text of an interval: a fraction only of the seconds of a clock
// (":05.123", as it is printed; "1.5 days" or "1.0000005 ms" may be rounded), of at most max
// digits (the server rounds to microseconds), and no escape.
func fractionCheck(max int) FieldCheck {
	return func(f []byte) string {
		for i, c := range f {
			switch c {
			case '\\':
				return fmt.Sprintf("interval text %.40q holds an escape", f)
			case '.':
			default:
				continue
			}
			if i < 3 || f[i-3] != ':' || !isDigit(f[i-2]) || !isDigit(f[i-1]) {
				return fmt.Sprintf("interval text %.40q holds a fraction other than of a clock's seconds", f)
			}
			n := 0
			for i+1+n < len(f) && isDigit(f[i+1+n]) {
				n++
			}
			if n > max {
				return fmt.Sprintf("interval text %.40q has %d fractional digits, rounded to %d", f, n, max)
			}
		}
		return ""
	}
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// jsonbCheck checks jsonb text for an object with a key twice, of which the server keeps the
// last. jsonb prints each object's keys in its own order (shorter first, then bytewise), so the
// keys of printed text strictly increase in it: text whose keys do not (a duplicate, or text not
// printed by jsonb) fails. Keys with an escape are compared decoded (json.Decoder).
func jsonbCheck(f []byte) string {
	if bytes.IndexByte(f, '{') < 0 {
		return "" // no object, no key
	}
	var text []byte
	if bytes.IndexByte(f, '\\') >= 0 {
		text = make([]byte, 0, len(f))
		for i := 0; i < len(f); i++ {
			c := f[i]
			if c == '\\' && i+1 < len(f) {
				i++
				c = copytext.Byte(f[i])
			}
			text = append(text, c)
		}
	} else {
		text = f
	}
	ordered, escaped := jsonKeysOrdered(text)
	if escaped {
		ordered = jsonKeysOrderedDecoded(text)
	}
	if !ordered {
		return "jsonb text with an object whose keys are not in jsonb's order (a key twice: the server keeps the last)"
	}
	return ""
}

// jsonKeyLess is jsonb's order of keys: shorter first, then bytewise.
func jsonKeyLess(a, b []byte) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return bytes.Compare(a, b) < 0
}

// jsonKeysOrdered walks JSON text (valid: the server refuses any other) and reports whether each
// object's keys strictly increase in jsonb's order; escaped when a key holds an escape (its raw
// text is then not its value: see jsonKeysOrderedDecoded).
func jsonKeysOrdered(b []byte) (ordered, escaped bool) {
	type frame struct {
		object, wantKey bool
		prev            []byte
		hasPrev         bool
	}
	stack := make([]frame, 0, 8)
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '{':
			stack = append(stack, frame{object: true, wantKey: true})
		case '[':
			stack = append(stack, frame{})
		case '}', ']':
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
		case ',':
			if n := len(stack); n > 0 && stack[n-1].object {
				stack[n-1].wantKey = true
			}
		case '"':
			j := i + 1
			esc := false
			for j < len(b) && b[j] != '"' {
				if b[j] == '\\' {
					esc = true
					j++
				}
				j++
			}
			if j > len(b) {
				j = len(b)
			}
			if n := len(stack); n > 0 && stack[n-1].object && stack[n-1].wantKey {
				if esc {
					return false, true
				}
				top := &stack[n-1]
				key := b[i+1 : j]
				if top.hasPrev && !jsonKeyLess(top.prev, key) {
					return false, false
				}
				top.prev, top.hasPrev, top.wantKey = key, true, false
			}
			i = j
		}
	}
	return true, false
}

// jsonKeysOrderedDecoded is jsonKeysOrdered over decoded keys, with encoding/json's tokens (text
// it cannot read is reported not ordered: the shortcut is dropped, never guessed).
func jsonKeysOrderedDecoded(b []byte) bool {
	type frame struct {
		object, wantKey bool
		prev            []byte
		hasPrev         bool
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var stack []frame
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return true
		}
		if err != nil {
			return false
		}
		top := len(stack) - 1
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{':
				if top >= 0 && stack[top].object {
					stack[top].wantKey = true // the object is its key's value
				}
				stack = append(stack, frame{object: true, wantKey: true})
				continue
			case '[':
				if top >= 0 && stack[top].object {
					stack[top].wantKey = true
				}
				stack = append(stack, frame{})
				continue
			default:
				stack = stack[:top]
				continue
			}
		case string:
			if top >= 0 && stack[top].object && stack[top].wantKey {
				key := []byte(v)
				if stack[top].hasPrev && !jsonKeyLess(stack[top].prev, key) {
					return false
				}
				stack[top].prev, stack[top].hasPrev, stack[top].wantKey = key, true, false
				continue
			}
		}
		if top >= 0 && stack[top].object {
			stack[top].wantKey = true // a value: the next string is a key
		}
	}
}

// ChangedFieldError is a hasher's error for a field whose check (CheckFields) found that the
// target may read it otherwise: the rows' hash no longer stands for what lands.
type ChangedFieldError struct {
	Field int // 0-based, among the row's fields
	Why   string
}

func (e *ChangedFieldError) Error() string {
	return fmt.Sprintf("digest: field %d: %s", e.Field+1, e.Why)
}

// checkFields runs checks (per field, nil for none) over a row's fields, NULLs left out.
func checkFields(checks []FieldCheck, fields [][]byte) error {
	for i, c := range checks {
		if c == nil || i >= len(fields) {
			continue
		}
		f := fields[i]
		if len(f) == 2 && f[0] == '\\' && f[1] == 'N' {
			continue
		}
		if why := c(f); why != "" {
			return &ChangedFieldError{Field: i, Why: why}
		}
	}
	return nil
}

// CheckFields has h check each row's fields before hashing it: checks[i] (nil for none) checks
// field i. The first that fails ends the hashing with a *ChangedFieldError.
func (h *Hasher) CheckFields(checks []FieldCheck) { h.checks = checks }

// CheckFields has s check each row's fields before hashing it: see Hasher.CheckFields.
func (s *SplitHasher) CheckFields(checks []FieldCheck) { s.checks = checks }
