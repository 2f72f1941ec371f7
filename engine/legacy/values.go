package legacy

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Category is how a column type's values look in a Django fixture.
type Category int

// Categories of column types.
const (
	// CatString: text, varchar, char, citext: a JSON string (a number is accepted and kept as text).
	CatString Category = iota
	// CatInteger: smallint, integer, bigint: a JSON integer.
	CatInteger
	// CatBoolean: a JSON true or false.
	CatBoolean
	// CatDecimal: numeric: a JSON string (Django's DecimalField) or number.
	CatDecimal
	// CatFloat: real, double precision: a JSON number (or a string such as "NaN").
	CatFloat
	// CatBytes: bytea: a base64 string (Django's BinaryField).
	CatBytes
	// CatJSON: jsonb or json: any JSON value; null is SQL NULL.
	CatJSON
	// CatArray: an array type: a JSON list, or a string holding one (Django's ArrayField).
	CatArray
	// CatTimestamp: timestamp with time zone: an ISO 8601 string.
	CatTimestamp
	// CatLocalTimestamp: timestamp without time zone: an ISO 8601 string.
	CatLocalTimestamp
	// CatOther: date, time, uuid, inet, interval and the rest: a string PostgreSQL parses.
	CatOther
)

var charType = regexp.MustCompile(`^(?:character varying|varchar|character|char|bpchar)(?:\((\d+)\))?$`)

// CategoryOf classifies a column type as format_type() prints it.
func CategoryOf(typ string) Category {
	switch {
	case strings.HasSuffix(typ, "[]"):
		return CatArray
	case typ == "text" || typ == "citext" || typ == "name" || charType.MatchString(typ):
		return CatString
	case typ == "smallint" || typ == "integer" || typ == "bigint":
		return CatInteger
	case typ == "boolean":
		return CatBoolean
	case typ == "numeric" || strings.HasPrefix(typ, "numeric("):
		return CatDecimal
	case typ == "real" || typ == "double precision":
		return CatFloat
	case typ == "bytea":
		return CatBytes
	case typ == "jsonb" || typ == "json":
		return CatJSON
	case strings.HasPrefix(typ, "timestamp") && strings.HasSuffix(typ, "with time zone"):
		return CatTimestamp
	case strings.HasPrefix(typ, "timestamp"):
		return CatLocalTimestamp
	}
	return CatOther
}

// CharLimit returns n for character varying(n) and character(n), else 0.
func CharLimit(typ string) int {
	m := charType.FindStringSubmatch(typ)
	if m == nil || m[1] == "" {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// jsonTypes lists the jsonb_typeof() results a category accepts besides 'null'. ref adds 'array'
// (a natural key) for a column that holds another row's id.
func jsonTypes(cat Category, ref bool) []string {
	var out []string
	switch cat {
	case CatString:
		out = []string{"string", "number"}
	case CatInteger:
		out = []string{"number"}
	case CatBoolean:
		out = []string{"boolean"}
	case CatDecimal, CatFloat:
		out = []string{"number", "string"}
	case CatJSON:
		return nil // anything
	case CatArray:
		out = []string{"array", "string"}
	default:
		out = []string{"string"}
	}
	if ref {
		out = append(out, "array")
	}
	return out
}

// describeTypes renders accepted JSON types for messages.
func describeTypes(types []string) string {
	return strings.Join(types, " or ")
}

// CheckSQL returns a SQL condition, over the JSON value v (a jsonb expression that may be SQL
// NULL for an absent field), that is true when v has the wrong JSON type for a column of type
// typ. "" means every value is accepted.
func CheckSQL(v, typ string, ref bool) string {
	cat := CategoryOf(typ)
	types := jsonTypes(cat, ref)
	if types == nil {
		return ""
	}
	quoted := make([]string, 0, len(types)+1)
	for _, t := range append(types, "null") {
		quoted = append(quoted, "'"+t+"'")
	}
	cond := fmt.Sprintf("jsonb_typeof(%s) NOT IN (%s)", v, strings.Join(quoted, ", "))
	if cat == CatInteger {
		cond = fmt.Sprintf("(%s OR (jsonb_typeof(%s) = 'number' AND (%s #>> '{}') !~ '^-?[0-9]+$'))", cond, v, v)
	}
	return cond
}

// CastSQL returns the SQL expression that turns the JSON value v (jsonb) into a value of type typ
// for an INSERT into a column of that type. Character types are left as text so that the
// INSERT's assignment cast checks their length; JSON null and an absent field become NULL, except
// in a NOT NULL json or jsonb column, where JSON null is the JSON value null (a fixture cannot
// tell the two apart: Django writes both as null).
func CastSQL(v, typ string, notNull bool) string {
	text := fmt.Sprintf("(%s #>> '{}')", v)
	switch CategoryOf(typ) {
	case CatString:
		return text
	case CatBytes:
		return fmt.Sprintf("decode(%s, 'base64')", text)
	case CatJSON:
		expr := fmt.Sprintf("nullif(%s, 'null'::jsonb)", v)
		if notNull {
			expr = v
		}
		if typ == "json" {
			return expr + "::json"
		}
		return expr
	case CatArray:
		list := fmt.Sprintf("(CASE jsonb_typeof(%[1]s) WHEN 'string' THEN (%[1]s #>> '{}')::jsonb ELSE %[1]s END)", v)
		return fmt.Sprintf("(CASE WHEN jsonb_typeof(%[1]s) IN ('array', 'string') THEN ARRAY(SELECT x.e #>> '{}' FROM jsonb_array_elements(%[2]s) WITH ORDINALITY x(e, n) ORDER BY x.n)::%[3]s END)", v, list, typ)
	}
	return fmt.Sprintf("%s::%s", text, typ)
}

// FixtureValue turns one COPY text value (already unescaped) of a column of type typ into the
// JSON Django's serializer writes for it: integers, floats and booleans as JSON numbers and
// booleans, decimals as strings, timestamps in ISO 8601 ("2021-03-04T05:06:07.123Z"), bytea as
// base64, json and jsonb as JSON values, everything else as a string. The COPY text must come
// from a session with the settings of digest.SessionSettings (UTC, ISO dates, hex bytea).
func FixtureValue(typ string, v []byte) (json.RawMessage, error) {
	switch CategoryOf(typ) {
	case CatInteger:
		if _, err := strconv.ParseInt(string(v), 10, 64); err != nil {
			return nil, fmt.Errorf("%s value %q is not an integer", typ, v)
		}
		return json.RawMessage(append([]byte(nil), v...)), nil
	case CatBoolean:
		switch string(v) {
		case "t", "true":
			return json.RawMessage("true"), nil
		case "f", "false":
			return json.RawMessage("false"), nil
		}
		return nil, fmt.Errorf("boolean value %q", v)
	case CatFloat:
		f, err := strconv.ParseFloat(string(v), 64)
		if err != nil || f != f || f > 1.7976931348623157e308 || f < -1.7976931348623157e308 {
			return jsonString(v), nil // NaN, Infinity: JSON has no number for them
		}
		return json.RawMessage(append([]byte(nil), v...)), nil
	case CatBytes:
		if !bytes.HasPrefix(v, []byte(`\x`)) {
			return nil, fmt.Errorf("bytea value is not in hex format (bytea_output must be hex)")
		}
		raw := make([]byte, hex.DecodedLen(len(v)-2))
		if _, err := hex.Decode(raw, v[2:]); err != nil {
			return nil, fmt.Errorf("bytea value: %w", err)
		}
		out := make([]byte, 0, base64.StdEncoding.EncodedLen(len(raw))+2)
		out = append(out, '"')
		out = base64.StdEncoding.AppendEncode(out, raw)
		return append(out, '"'), nil
	case CatJSON:
		if !json.Valid(v) {
			return nil, fmt.Errorf("%s value is not valid JSON", typ)
		}
		return json.RawMessage(append([]byte(nil), v...)), nil
	case CatTimestamp, CatLocalTimestamp:
		return jsonString([]byte(isoTimestamp(string(v)))), nil
	}
	return jsonString(v), nil
}

// isoTimestamp rewrites PostgreSQL's ISO output ("2021-03-04 05:06:07.123+00", "... +05:30")
// as ISO 8601 the way Django writes it ("2021-03-04T05:06:07.123Z", "...+05:30").
func isoTimestamp(s string) string {
	if len(s) < 11 || s[10] != ' ' {
		return s // infinity, BC dates: as PostgreSQL prints them
	}
	s = s[:10] + "T" + s[11:]
	// The offset: +HH, +HH:MM or +HH:MM:SS after the time.
	i := strings.LastIndexAny(s, "+-")
	if i <= 10 {
		return s
	}
	off := s[i:]
	switch {
	case off == "+00" || off == "+00:00" || off == "-00":
		return s[:i] + "Z"
	case len(off) == 3:
		return s + ":00"
	}
	return s
}

// jsonString encodes v as a JSON string without HTML escaping; invalid UTF-8 becomes U+FFFD.
func jsonString(v []byte) json.RawMessage {
	out := make([]byte, 0, len(v)+2)
	out = append(out, '"')
	for i := 0; i < len(v); {
		c := v[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"':
				out = append(out, '\\', '"')
			case c == '\\':
				out = append(out, '\\', '\\')
			case c == '\n':
				out = append(out, '\\', 'n')
			case c == '\r':
				out = append(out, '\\', 'r')
			case c == '\t':
				out = append(out, '\\', 't')
			case c < 0x20 || c == 0x7f:
				out = append(out, fmt.Sprintf(`\u%04x`, c)...)
			default:
				out = append(out, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(v[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			out = append(out, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			out = append(out, fmt.Sprintf(`\u%04x`, r)...)
		default:
			out = append(out, v[i:i+size]...)
		}
		i += size
	}
	return append(out, '"')
}

// FixtureSQL renders, in SQL, the JSON a fixture writes for column expression col of type typ:
// the same text FixtureValue produces from COPY output (under digest.SessionSettings).
func FixtureSQL(col, typ string) string {
	switch CategoryOf(typ) {
	case CatInteger, CatBoolean, CatJSON:
		return fmt.Sprintf("to_jsonb(%s)", col)
	case CatFloat:
		return fmt.Sprintf("(CASE WHEN %[1]s IN ('NaN', 'Infinity', '-Infinity') THEN to_jsonb(%[1]s::text) ELSE to_jsonb(%[1]s) END)", col)
	case CatBytes:
		return fmt.Sprintf("to_jsonb(translate(encode(%s, 'base64'), E'\\n', ''))", col)
	case CatTimestamp:
		return fmt.Sprintf("to_jsonb(regexp_replace(regexp_replace(regexp_replace(%s::text, '^(\\d{4}-\\d\\d-\\d\\d) ', '\\1T'), '[+-]00(:00)?$', 'Z'), '([+-]\\d\\d)$', '\\1:00'))", col)
	case CatLocalTimestamp:
		return fmt.Sprintf("to_jsonb(regexp_replace(%s::text, '^(\\d{4}-\\d\\d-\\d\\d) ', '\\1T'))", col)
	}
	return fmt.Sprintf("to_jsonb(%s::text)", col)
}
