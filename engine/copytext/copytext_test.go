package copytext

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand"
	"testing"
)

// escapeCase is a raw COPY text field and what Unescape makes of it.
type escapeCase struct {
	in   string
	want string // the value, when err is nil and null false
	null bool
	err  error
}

// escapeCases covers every escape, the forms next to them, and malformed text.
var escapeCases = []escapeCase{
	// No escape: the field as it is.
	{in: ``, want: ``},
	{in: `plain`, want: `plain`},
	{in: "Grüße «zoë» 👩‍💻", want: "Grüße «zoë» 👩‍💻"},
	{in: "\xff\xfe", want: "\xff\xfe"},
	// NULL, and the texts that only look like it.
	{in: `\N`, null: true},
	{in: `\\N`, want: `\N`},
	{in: `N`, want: `N`},
	{in: `\n`, want: "\n"},
	// The escapes of one byte, and \c for any other c.
	{in: `\b\f\n\r\t\v`, want: "\b\f\n\r\t\v"},
	{in: `a\tb\nc\\d`, want: "a\tb\nc\\d"},
	{in: `\\`, want: `\`},
	{in: `\\\\`, want: `\\`},
	{in: `\q\"\ \,`, want: `q" ,`},
	{in: `\\.`, want: `\.`},
	{in: `.`, want: `.`},
	{in: `\B\F\R\T\V`, want: `BFRTV`},
	{in: "\\\t\\\n\\\r", want: "\t\n\r"},
	{in: "\\\xc3\xa9", want: "\xc3\xa9"},
	{in: `\8\9`, want: `89`},
	// Octal: one to three digits, the low eight bits of the value kept.
	{in: `\0`, want: "\x00"},
	{in: `\1\12x`, want: "\x01\nx"},
	{in: `\101`, want: `A`},
	{in: `\1011`, want: `A1`},
	{in: `\08`, want: "\x008"},
	{in: `\377`, want: "\xff"},
	{in: `\400`, want: "\x00"},
	{in: `\777`, want: "\xff"},
	{in: `\501`, want: "A"},
	// Hex: \x and one or two digits, either case; \x without a digit is 'x'.
	{in: `\x41\x4a\x4Z`, want: "AJ\x04Z"},
	{in: `\xfF`, want: "\xff"},
	{in: `\x414`, want: `A4`},
	{in: `\x`, want: `x`},
	{in: `\xg`, want: `xg`},
	{in: `a\x`, want: `ax`},
	{in: `\X41`, want: `X41`},
	{in: `\\x41`, want: `\x41`},
	// Escapes producing bytes that are no UTF-8 (the server refuses them in a UTF8 database).
	{in: `\xff`, want: "\xff"},
	{in: `\303`, want: "\xc3"},
	{in: `\303\251`, want: "é"},
	{in: `\xc3\xa9`, want: "é"},
	{in: `\xed\xa0\x80`, want: "\xed\xa0\x80"},
	{in: `a\x00b`, want: "a\x00b"},
	// Malformed: a trailing backslash, \N inside a value.
	{in: `\`, err: ErrLoneBackslash},
	{in: `abc\`, err: ErrLoneBackslash},
	{in: `\\\`, err: ErrLoneBackslash},
	{in: `x\Ny`, err: ErrNullInValue},
	{in: `\N\N`, err: ErrNullInValue},
	{in: `1\N`, err: ErrNullInValue},
	{in: `\Nx`, err: ErrNullInValue},
	{in: `\.`, err: ErrEndMarker},
	{in: `a\.`, err: ErrEndMarker},
	{in: `\.b`, err: ErrEndMarker},
	{in: `\\\.`, err: ErrEndMarker},
	{in: `\.\`, err: ErrEndMarker},
	{in: `\N\.`, err: ErrNullInValue},
}

func TestUnescape(t *testing.T) {
	for _, c := range escapeCases {
		got, null, err := Unescape([]byte(c.in))
		switch {
		case c.err != nil:
			if !errors.Is(err, c.err) || got != nil || null {
				t.Errorf("%q: got %q null %v err %v, want the error %v", c.in, got, null, err, c.err)
			}
		case err != nil:
			t.Errorf("%q: %v", c.in, err)
		case null != c.null || string(got) != c.want || (c.null && got != nil):
			t.Errorf("%q: got %q null %v, want %q null %v", c.in, got, null, c.want, c.null)
		}
		if ref, refNull, refErr := serverReading([]byte(c.in)); c.err == nil && (refErr != nil || refNull != null || !bytes.Equal(ref, got)) {
			t.Errorf("%q: the reference reads %q null %v (%v), Unescape %q null %v", c.in, ref, refNull, refErr, got, null)
		}
	}
}

// TestUnescapeAliases: a field without a backslash is its own value, not a copy.
func TestUnescapeAliases(t *testing.T) {
	f := []byte("no escape")
	v, _, err := Unescape(f)
	if err != nil || len(v) != len(f) || &v[0] != &f[0] {
		t.Fatalf("got %q (%v), want the field itself", v, err)
	}
}

func TestAppendUnescapeRoundTrip(t *testing.T) {
	cases := [][]byte{
		nil,
		[]byte("plain"),
		[]byte(`\N`),
		[]byte("tab\there\nnewline\r\ncrlf"),
		[]byte(`C:\new\table\file.txt`),
		[]byte(`back\\slash \. end`),
		[]byte("Grüße «zoë» 👩‍💻"),
		{0x01, 0x7f, 0xff, '\\', '\t'},
		{0},
	}
	seed := int64(42)
	rng := rand.New(rand.NewSource(seed))
	for i := 0; i < 200; i++ {
		b := make([]byte, rng.Intn(40))
		for j := range b {
			b[j] = "ab\\\t\n\rN\x00é"[rng.Intn(10)]
		}
		cases = append(cases, b)
	}
	for _, c := range cases {
		checkRoundTrip(t, c)
	}
}

// checkRoundTrip checks that s, written by Append, holds no separator and reads back as s.
func checkRoundTrip(t *testing.T, s []byte) {
	t.Helper()
	esc := Append(nil, s)
	if bytes.ContainsAny(esc, "\t\n\r") {
		t.Fatalf("escaped %q still holds a separator: %q", s, esc)
	}
	if len(SplitRow(esc, nil)) != 1 {
		t.Fatalf("escaped %q splits: %q", s, esc)
	}
	if f := SplitRow(append(append(append([]byte(nil), esc...), '\t'), esc...), nil); len(f) != 2 || !bytes.Equal(f[0], esc) || !bytes.Equal(f[1], esc) {
		t.Fatalf("%q twice in a row splits into %q", esc, f)
	}
	got, null, err := Unescape(esc)
	if err != nil || null || !bytes.Equal(got, s) {
		t.Fatalf("%q -> %q -> %q (null %v, %v)", s, esc, got, null, err)
	}
	if pre := Append([]byte("pre\t"), s); !bytes.Equal(pre[4:], esc) || string(pre[:4]) != "pre\t" {
		t.Fatalf("Append after a prefix: %q, want %q after it", pre, esc)
	}
}

func TestSplitRow(t *testing.T) {
	got := SplitRow([]byte("1\ta\\tb\t\\N\t"), nil)
	want := []string{"1", `a\tb`, `\N`, ""}
	if len(got) != len(want) {
		t.Fatalf("got %q", got)
	}
	for i := range want {
		if string(got[i]) != want[i] {
			t.Errorf("field %d: %q, want %q", i, got[i], want[i])
		}
	}
	if n := len(SplitRow(nil, got)); n != 1 {
		t.Errorf("an empty row has one (empty) field, got %d", n)
	}
	// A raw tab after a backslash is data, as the server reads it (COPY TO never writes one),
	// unless the backslash is itself escaped.
	for row, want := range map[string][]string{
		"a\\\tb":        {"a\\\tb"},
		"a\\\\\tb":      {`a\\`, "b"},
		"a\\\\\\\tb\tc": {"a\\\\\\\tb", "c"},
		"\\\t\t\\\t":    {"\\\t", "\\\t"},
		"\t\\":          {"", `\`},
	} {
		got = SplitRow([]byte(row), got)
		if fmt.Sprintf("%q", got) != fmt.Sprintf("%q", want) {
			t.Errorf("SplitRow(%q) = %q, want %q", row, got, want)
		}
	}
	if v, _, err := Unescape(SplitRow([]byte("a\\\tb\tc"), got)[0]); err != nil || string(v) != "a\tb" {
		t.Errorf("the first field of a row with an escaped raw tab reads %q, %v", v, err)
	}
}

// FuzzUnescape: any bytes, written by Append, read back as themselves; any field, read by
// Unescape, reads as the server's reading of the field (serverReading, written after
// PostgreSQL's CopyReadAttributesText) or is refused with one of Unescape's errors, for the
// reason it gives, without panicking.
func FuzzUnescape(f *testing.F) {
	for _, c := range escapeCases {
		f.Add([]byte(c.in))
	}
	f.Add([]byte("\\\\\\N\\x4\\7777\t\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		checkRoundTrip(t, b)
		got, null, err := Unescape(b)
		ref, refNull, refErr := serverReading(b)
		switch {
		case err == nil:
			if refErr != nil || refNull != null || !bytes.Equal(got, ref) {
				t.Fatalf("%q: Unescape %q null %v, the reference %q null %v (%v)", b, got, null, ref, refNull, refErr)
			}
			if null && (len(b) != 2 || got != nil) {
				t.Fatalf("%q read as NULL (%q)", b, got)
			}
		case errors.Is(err, ErrLoneBackslash):
			if !errors.Is(refErr, ErrLoneBackslash) {
				t.Fatalf("%q: ErrLoneBackslash, the reference reads %q (%v)", b, ref, refErr)
			}
		case errors.Is(err, ErrNullInValue), errors.Is(err, ErrEndMarker):
			// The reference reads \N inside a value as 'N' and \. as '.'.
			marker := map[bool]string{true: `\N`, false: `\.`}[errors.Is(err, ErrNullInValue)]
			if (refErr != nil && !errors.Is(refErr, ErrLoneBackslash)) || !bytes.Contains(b, []byte(marker)) {
				t.Fatalf("%q: %v, the reference %q (%v)", b, err, ref, refErr)
			}
		default:
			t.Fatalf("%q: an error not Unescape's: %v", b, err)
		}
	})
}

// serverReading reads a field the way PostgreSQL's CopyReadAttributesText (copyfromparse.c)
// does, as an independent reference: the whole field compared with the null string first, then
// the escapes, with \N inside a value read as 'N' (which Unescape refuses) and a backslash at
// the end of the data an ErrLoneBackslash. It reads \. as '.', as CopyReadAttributesText would
// (CopyReadLineText, which cuts the lines before it, takes it for the end-of-data marker).
func serverReading(field []byte) (value []byte, null bool, err error) {
	if string(field) == `\N` {
		return nil, true, nil
	}
	out := []byte{}
	cur := 0
	for cur < len(field) {
		c := field[cur]
		cur++
		if c == '\\' {
			if cur >= len(field) {
				return nil, false, ErrLoneBackslash
			}
			c = field[cur]
			cur++
			switch c {
			case '0', '1', '2', '3', '4', '5', '6', '7':
				val := int(c - '0')
				if cur < len(field) && field[cur] >= '0' && field[cur] <= '7' {
					val = val<<3 + int(field[cur]-'0')
					cur++
					if cur < len(field) && field[cur] >= '0' && field[cur] <= '7' {
						val = val<<3 + int(field[cur]-'0')
						cur++
					}
				}
				c = byte(val & 0o377)
			case 'x':
				if cur < len(field) && isXDigit(field[cur]) {
					val := xDigit(field[cur])
					cur++
					if cur < len(field) && isXDigit(field[cur]) {
						val = val<<4 + xDigit(field[cur])
						cur++
					}
					c = byte(val & 0xff)
				}
			case 'b':
				c = '\b'
			case 'f':
				c = '\f'
			case 'n':
				c = '\n'
			case 'r':
				c = '\r'
			case 't':
				c = '\t'
			case 'v':
				c = '\v'
			}
		}
		out = append(out, c)
	}
	return out, false, nil
}

func isXDigit(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func xDigit(c byte) int {
	switch {
	case c <= '9':
		return int(c - '0')
	case c <= 'F':
		return int(c-'A') + 10
	}
	return int(c-'a') + 10
}

// TestNextUnescaped: the first c no backslash escapes, with the escape carried in from the
// bytes before (esc), and EscapedAt at every position, including the one past the end.
func TestNextUnescaped(t *testing.T) {
	for _, c := range []struct {
		b    string
		esc  bool
		want int
	}{
		{"a\tb", false, 1},
		{"a\tb", true, 1},
		{"\tb", true, -1},
		{"\t\t", true, 1},
		{`\` + "\t\t", false, 2},
		{`\\` + "\t", false, 2},
		{`\\` + "\t", true, -1},
		{`\\\` + "\t", true, 3},
		{"", true, -1},
		{"abc", false, -1},
	} {
		if got := NextUnescaped([]byte(c.b), '\t', c.esc); got != c.want {
			t.Errorf("NextUnescaped(%q, esc %v) = %d, want %d", c.b, c.esc, got, c.want)
		}
	}
	for _, c := range []struct {
		b   string
		esc bool
		at  int
		yes bool
	}{
		{`a\`, false, 2, true},
		{`a\\`, false, 3, false},
		{``, true, 0, true},
		{``, false, 0, false},
		{`\`, true, 1, false},
		{`\\`, true, 2, true},
		{`x`, true, 0, true},
		{`x`, true, 1, false},
	} {
		if got := EscapedAt([]byte(c.b), c.at, c.esc); got != c.yes {
			t.Errorf("EscapedAt(%q, %d, esc %v) = %v, want %v", c.b, c.at, c.esc, got, c.yes)
		}
	}
}
