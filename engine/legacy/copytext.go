package legacy

import (
	"bytes"
	"fmt"
)

// nullField is how COPY text writes NULL.
const nullField = `\N`

// AppendCopy appends s to dst escaped as one field of PostgreSQL's COPY text format: backslash,
// newline, carriage return and tab are written as \\, \n, \r and \t.
func AppendCopy(dst []byte, s []byte) []byte {
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

// SplitCopyRow splits one COPY text row (without its newline) into its raw, still escaped fields.
// Tabs inside values are always escaped, so every tab separates two fields.
func SplitCopyRow(row []byte, dst [][]byte) [][]byte {
	dst = dst[:0]
	for {
		i := bytes.IndexByte(row, '\t')
		if i < 0 {
			return append(dst, row)
		}
		dst = append(dst, row[:i])
		row = row[i+1:]
	}
}

// UnescapeCopy decodes one raw COPY text field: null is true for \N; otherwise the value with
// every escape resolved (\b \f \n \r \t \v, \\, octal \ooo, hex \xhh, and \c for any other c).
func UnescapeCopy(field []byte) (value []byte, null bool, err error) {
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
			return nil, false, fmt.Errorf("COPY field ends with a lone backslash")
		}
		c = field[i]
		switch {
		case c >= '0' && c <= '7':
			v := int(c - '0')
			for k := 0; k < 2 && i+1 < len(field) && field[i+1] >= '0' && field[i+1] <= '7'; k++ {
				i++
				v = v*8 + int(field[i]-'0')
			}
			out = append(out, byte(v))
		case c == 'x' && i+1 < len(field) && isHex(field[i+1]):
			v := 0
			for k := 0; k < 2 && i+1 < len(field) && isHex(field[i+1]); k++ {
				i++
				v = v*16 + hexVal(field[i])
			}
			out = append(out, byte(v))
		case c == 'b':
			out = append(out, '\b')
		case c == 'f':
			out = append(out, '\f')
		case c == 'n':
			out = append(out, '\n')
		case c == 'r':
			out = append(out, '\r')
		case c == 't':
			out = append(out, '\t')
		case c == 'v':
			out = append(out, '\v')
		case c == 'N':
			return nil, false, fmt.Errorf(`COPY field holds \N inside a value`)
		default:
			out = append(out, c)
		}
	}
	return out, false, nil
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func hexVal(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	default:
		return int(c-'A') + 10
	}
}
