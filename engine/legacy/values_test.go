package legacy

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestCategoryOf(t *testing.T) {
	cases := map[string]Category{
		"text": CatString, "character varying(100)": CatString, "character(64)": CatString, "character varying": CatString,
		"integer": CatInteger, "bigint": CatInteger, "smallint": CatInteger, "boolean": CatBoolean,
		"numeric": CatDecimal, "numeric(10,2)": CatDecimal, "double precision": CatFloat, "real": CatFloat,
		"bytea": CatBytes, "jsonb": CatJSON, "json": CatJSON, "integer[]": CatArray, "text[]": CatArray,
		"timestamp with time zone": CatTimestamp, "timestamp(3) with time zone": CatTimestamp,
		"timestamp without time zone": CatLocalTimestamp, "date": CatOther, "uuid": CatOther, "inet": CatOther,
	}
	for typ, want := range cases {
		if got := CategoryOf(typ); got != want {
			t.Errorf("%s: category %d, want %d", typ, got, want)
		}
	}
	for typ, want := range map[string]int{"character varying(100)": 100, "character(64)": 64, "text": 0, "character varying": 0} {
		if got := CharLimit(typ); got != want {
			t.Errorf("%s: limit %d, want %d", typ, got, want)
		}
	}
}

func TestCheckAndCastSQL(t *testing.T) {
	if c := CheckSQL("v", "jsonb", false); c != "" {
		t.Errorf("jsonb accepts anything, got %q", c)
	}
	c := CheckSQL("v", "integer", true)
	for _, want := range []string{"'number'", "'array'", "'null'", "!~"} {
		if !strings.Contains(c, want) {
			t.Errorf("integer reference check %q lacks %s", c, want)
		}
	}
	if c := CheckSQL("v", "integer", false); strings.Contains(c, "'array'") {
		t.Errorf("a plain integer column takes no list: %q", c)
	}
	cases := map[string]string{
		"character varying(10)":    "(v #>> '{}')",
		"integer":                  "(v #>> '{}')::integer",
		"bytea":                    "decode((v #>> '{}'), 'base64')",
		"jsonb":                    "nullif(v, 'null'::jsonb)",
		"timestamp with time zone": "(v #>> '{}')::timestamp with time zone",
	}
	for typ, want := range cases {
		if got := CastSQL("v", typ, false); got != want {
			t.Errorf("%s: %q, want %q", typ, got, want)
		}
	}
	if got := CastSQL("v", "jsonb", true); got != "v" {
		t.Errorf("NOT NULL jsonb keeps JSON null: %q", got)
	}
}

func TestFixtureValue(t *testing.T) {
	cases := []struct {
		typ, in, want string
	}{
		{"integer", "42", `42`},
		{"bigint", "-9223372036854775808", `-9223372036854775808`},
		{"boolean", "t", `true`},
		{"boolean", "f", `false`},
		{"numeric(10,2)", "12.50", `"12.50"`},
		{"double precision", "0.1", `0.1`},
		{"double precision", "NaN", `"NaN"`},
		{"double precision", "-Infinity", `"-Infinity"`},
		{"text", "tab\there \"q\" \\ é 👍", `"tab\there \"q\" \\ é 👍"`},
		{"text", "<&>\u2028\x01", `"<&>\u2028\u0001"`},
		{"character varying(5)", `\N`, `"\\N"`},
		{"bytea", `\x00ff41`, `"AP9B"`},
		{"bytea", `\x`, `""`},
		{"jsonb", `{"a": [1, null]}`, `{"a": [1, null]}`},
		{"jsonb", `null`, `null`},
		{"timestamp with time zone", "2021-03-04 05:06:07.123+00", `"2021-03-04T05:06:07.123Z"`},
		{"timestamp with time zone", "2021-03-04 05:06:07+05:30", `"2021-03-04T05:06:07+05:30"`},
		{"timestamp with time zone", "2021-03-04 05:06:07.5-03", `"2021-03-04T05:06:07.5-03:00"`},
		{"timestamp with time zone", "infinity", `"infinity"`},
		{"timestamp without time zone", "2021-03-04 05:06:07.123456", `"2021-03-04T05:06:07.123456"`},
		{"date", "2021-03-04", `"2021-03-04"`},
		{"inet", "192.168.0.1/24", `"192.168.0.1/24"`},
		{"uuid", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", `"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"`},
	}
	for _, c := range cases {
		got, err := FixtureValue(c.typ, []byte(c.in))
		if err != nil {
			t.Errorf("%s %q: %v", c.typ, c.in, err)
			continue
		}
		if string(got) != c.want {
			t.Errorf("%s %q: %s, want %s", c.typ, c.in, got, c.want)
		}
		if !json.Valid(got) {
			t.Errorf("%s %q: %s is not valid JSON", c.typ, c.in, got)
		}
	}
	for _, bad := range []struct{ typ, in string }{
		{"integer", "x"}, {"boolean", "maybe"}, {"bytea", "0102"}, {"bytea", `\xzz`}, {"jsonb", "{"},
	} {
		if _, err := FixtureValue(bad.typ, []byte(bad.in)); err == nil {
			t.Errorf("%s %q: want an error", bad.typ, bad.in)
		}
	}
}

// TestJSONStringRoundTrip checks that strings survive the fixture writer's encoder, invalid UTF-8
// aside (replaced, as encoding/json does).
func TestJSONStringRoundTrip(t *testing.T) {
	for _, s := range []string{"", "a\"b\\c", "\x00\x1f\x7f", "line\nbreak\ttab\r", "👨‍👩‍👧‍👦 عقد", "\u2028\u2029", "<script>&amp;"} {
		enc := jsonString([]byte(s))
		var back string
		if err := json.Unmarshal(enc, &back); err != nil || back != s {
			t.Errorf("%q -> %s -> %q (%v)", s, enc, back, err)
		}
	}
	var back string
	if err := json.Unmarshal(jsonString([]byte{'a', 0xff, 'b'}), &back); err != nil || back != "a\ufffdb" {
		t.Errorf("invalid UTF-8: %q (%v)", back, err)
	}
}

func TestFixtureSQLMirrorsFixtureValue(t *testing.T) {
	// The SQL forms are checked against a server by the legacy suite; here only their shape.
	for typ, want := range map[string]string{
		"integer": "to_jsonb(c)", "text": "to_jsonb(c::text)", "numeric": "to_jsonb(c::text)",
		"bytea": "encode(c, 'base64')", "timestamp with time zone": "'Z'",
	} {
		if got := FixtureSQL("c", typ); !strings.Contains(got, want) {
			t.Errorf("%s: %q lacks %q", typ, got, want)
		}
	}
}
