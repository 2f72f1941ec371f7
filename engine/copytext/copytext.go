// Package copytext reads and writes the fields of PostgreSQL's COPY text format, the format of
// COPY … TO STDOUT and FROM STDIN without options: rows end in a newline, fields are separated by
// tabs, \N is NULL, and a backslash escapes the byte after it. It is pure (the standard library
// only, no I/O), so that every reader of COPY text in the engine (the digest's long-row id, the
// fixture export) reads escapes the one way the server does.
//
// Unescape is the server's reading of a field (CopyReadAttributesText), byte for byte, except
// where the server's reading cannot be known from the bytes alone or COPY TO never writes the
// text: there it refuses (an error), and the caller must not guess. What it returns is bytes: an
// escape may produce any byte (\377, \x00), which the server then rejects as an invalid byte
// sequence for its encoding (a NUL byte always; bytes that are not UTF-8 in a UTF8 database).
// Callers that need text check it, or refuse what is not what they expect.
//
// Append writes what COPY TO writes for the escapes a value needs to survive as one field
// (backslash, newline, carriage return, tab); SplitRow cuts a row at the tabs the server cuts it
// at (NextUnescaped: those no backslash escapes).
package copytext

import (
	"bytes"
	"errors"
)

// Null is how COPY text writes NULL: a field of exactly these two bytes.
const Null = `\N`

// The errors of Unescape.
var (
	// ErrLoneBackslash: the field ends in a backslash that escapes nothing. The server reads
	// the byte after it as data (a tab or a newline the field was cut at), or finds the data
	// ending there.
	ErrLoneBackslash = errors.New(`COPY field ends with a lone backslash`)
	// ErrNullInValue: \N stands inside a longer field. The server reads it as 'N', but COPY TO
	// never writes it, so the text was not written by the server.
	ErrNullInValue = errors.New(`COPY field holds \N inside a value`)
	// ErrEndMarker: the field holds \. (a backslash before a period), which the server's COPY
	// FROM reads as the end-of-data marker wherever it stands in a line (PostgreSQL 15:
	// followed by a newline it ends the data, the rest of the stream unread; followed by
	// anything else it is an error). COPY TO never writes it.
	ErrEndMarker = errors.New(`COPY field holds \., the end-of-data marker`)
)

// Append appends s to dst escaped as one field of COPY text: backslash, newline, carriage return
// and tab are written as \\, \n, \r and \t; every other byte as it is.
func Append(dst []byte, s []byte) []byte {
	for _, c := range s {
		switch c {
		case '\\':
			dst = append(dst, '\\', '\\')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

// SplitRow splits one COPY text row (without its newline) into its raw, still escaped fields,
// reusing dst: at every tab that no backslash escapes, as the server's COPY FROM does (a
// backslash before a raw tab makes it data; COPY TO never writes one, it escapes a tab inside a
// value as \t). A row has at least one field, possibly empty.
func SplitRow(row []byte, dst [][]byte) [][]byte {
	dst = dst[:0]
	for {
		i := NextUnescaped(row, '\t', false)
		if i < 0 {
			return append(dst, row)
		}
		dst = append(dst, row[:i])
		row = row[i+1:]
	}
}

// NextUnescaped is the position of the first c in b that no backslash escapes, -1 when there is
// none; esc says that the bytes before b end in a backslash that escapes b's first byte (text
// read in pieces).
func NextUnescaped(b []byte, c byte, esc bool) int {
	from := 0
	for {
		i := bytes.IndexByte(b[from:], c)
		if i < 0 {
			return -1
		}
		i += from
		if !EscapedAt(b, i, esc) {
			return i
		}
		from = i + 1
	}
}

// EscapedAt says whether the byte at position i of b (i == len(b): the byte after b) follows a
// backslash that escapes it: an odd run of backslashes before it, counting esc (the bytes before
// b end in an escaping backslash) when the run reaches b's start.
func EscapedAt(b []byte, i int, esc bool) bool {
	run := 0
	for run < i && b[i-1-run] == '\\' {
		run++
	}
	if run == i && esc {
		run++
	}
	return run%2 == 1
}

// Unescape decodes one raw COPY text field as the server reads it: null is true for \N (and the
// value nil); otherwise value is the field with every escape resolved: \b \f \n \r \t \v, \\,
// octal \o, \oo, \ooo (of which the server keeps the low eight bits: \777 is 0xff), hex \xh and
// \xhh, and \c for any other byte c (\x not followed by a hex digit is 'x'). A field without a
// backslash is returned as it is (value aliases field). The errors (ErrLoneBackslash,
// ErrNullInValue, ErrEndMarker) are text the server reads otherwise than a field, or that COPY
// TO never writes; the first found is returned. Unescape does not check bytes against an
// encoding: the server refuses a line whose own bytes, or a value whose decoded bytes, are not
// valid in the database's encoding (a raw 0xc3 followed by the escape \xba is refused there, and
// read here as the two bytes of "ú").
func Unescape(field []byte) (value []byte, null bool, err error) {
	if len(field) == 2 && field[0] == '\\' && field[1] == 'N' {
		return nil, true, nil
	}
	if bytes.IndexByte(field, '\\') < 0 {
		return field, false, nil
	}
	out := make([]byte, 0, len(field))
	for i := 0; i < len(field); i++ {
		c := field[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		i++
		if i == len(field) {
			return nil, false, ErrLoneBackslash
		}
		c = field[i]
		switch {
		case c >= '0' && c <= '7':
			// Up to three octal digits.
			v := int(c - '0')
			for k := 0; k < 2 && i+1 < len(field) && field[i+1] >= '0' && field[i+1] <= '7'; k++ {
				i++
				v = v*8 + int(field[i]-'0')
			}
			out = append(out, byte(v))
		case c == 'x' && i+1 < len(field) && hexVal(field[i+1]) >= 0:
			// Up to two hex digits.
			v := 0
			for k := 0; k < 2 && i+1 < len(field) && hexVal(field[i+1]) >= 0; k++ {
				i++
				v = v*16 + hexVal(field[i])
			}
			out = append(out, byte(v))
		case c == 'N':
			return nil, false, ErrNullInValue
		case c == '.':
			return nil, false, ErrEndMarker
		default:
			out = append(out, Byte(c))
		}
	}
	return out, false, nil
}

// Byte maps the byte after a backslash to the byte it stands for, for escapes of one byte: b f n
// r t v to backspace, form feed, newline, carriage return, tab and vertical tab; any other byte
// to itself. The digits of octal and hex escapes are Unescape's.
func Byte(c byte) byte {
	switch c {
	case 'b':
		return '\b'
	case 'f':
		return '\f'
	case 'n':
		return '\n'
	case 'r':
		return '\r'
	case 't':
		return '\t'
	case 'v':
		return '\v'
	}
	return c
}

// hexVal is the value of a hex digit, -1 for another byte.
func hexVal(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}
