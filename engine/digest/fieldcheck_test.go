package digest

import (
	"errors"
	"strings"
	"testing"
)

// Each check passes text its type prints and fails text the target's type would read otherwise.
func TestTypeCheckFields(t *testing.T) {
	for _, c := range []struct {
		name       string
		typname    string
		typmod     int32
		utf8       bool
		pass, fail []string
	}{
		{"varchar(3)", "varchar", 3 + 4, true,
			[]string{"", "ab", "abc", `a\\b`, `\t\n `, "äöü", "🔑🔑🔑"},
			[]string{"ab  ", "abcd", `a\\bc`, "äöüx", "🔑🔑🔑 "}},
		{"varchar(3) outside UTF8", "varchar", 3 + 4, false,
			[]string{"abc", "ä", "äb"}, // bytes bound the characters
			[]string{"äbc", "abcd"}},
		{"character(3)", "bpchar", 3 + 4, true,
			[]string{"abc", "ab ", "   ", `a\\b`, "äöü"},
			[]string{"ab", "", "abcd", "abc ", "äö"}},
		{"float8", "float8", -1, true,
			[]string{"0.1", "0.30000000000000004", "1.7976931348623157e+308", "5e-324", "-0", "0", "1e+16", "1.50", "NaN", "Infinity", "-Infinity", "123456789012345"},
			[]string{"0.1000000000000000055", "0.30000000000000001", "4.9e-324", "1.23456789e-320", "1e400", "inf", " 1", "0x1p3", "12345678901234567891"}},
		{"float4", "float4", -1, true,
			[]string{"0.1", "3.4e+38", "16777216", "1e-45", "1.1754944e-38", "NaN"},
			[]string{"16777217", "0.1234567891", "1.5e-45", "1e39"}},
		{"timestamptz", "timestamptz", -1, true,
			[]string{"2024-02-29 18:29:59.999999+00", "0044-03-15 12:00:00+00 BC", "infinity", "-infinity", "2020-01-01 00:00:00+05:30",
				"10000-01-01 00:00:00-03:20:01", "2024-01-01 00:00:00.5+00"},
			[]string{"2024-02-29 18:29:59.9999995+00", "J2451187.5", `2020-01-01 00:00:00\\+00`, "2020-01-01 00:00:00",
				"2020-01-01T00:00:00+00", "2020-01-01 00:00:00.+00", "2020-01-01 00:00:00+00 AD", "2020-01-01 00:00:00+00:00:00:00", "Infinity"}},
		{"timestamp", "timestamp", -1, true,
			[]string{"2024-01-01 00:00:00.123456", "0044-03-15 12:00:00 BC", "infinity"},
			[]string{"2024-01-01 00:00:00+05", "2024-01-01 00:00:00 UTC", "2024-01-01", "2024-01-01 00:00:00.1234567"}},
		{"timestamp(3)", "timestamp", 3, true,
			[]string{"2024-01-01 00:00:00.124", "2024-01-01 00:00:00"},
			[]string{"2024-01-01 00:00:00.1239"}},
		{"timestamp(0)", "timestamp", 0, true,
			[]string{"2024-01-01 00:00:00"},
			[]string{"2024-01-01 00:00:00.5"}},
		{"date", "date", -1, true,
			[]string{"2024-02-29", "4713-01-01 BC", "10000-01-01", "infinity"},
			[]string{"2024-02-29 12:00:00", "20240229", "2024-2-29", "epoch"}},
		{"time", "time", -1, true,
			[]string{"24:00:00", "00:00:00.000001", "12:34:56"},
			[]string{"00:00:00.0000001", "12.5", "12:00:00+05", "12:00", "infinity"}},
		{"interval", "interval", -1, true,
			[]string{"1 year 2 mons -3 days 04:05:06.789", "-178000000 years", "00:00:00", "-00:00:01.5"},
			[]string{"00:00:01.1234567", "1.5 days", "1.0000005 ms"}},
		{"jsonb", "jsonb", -1, true,
			[]string{`{}`, `[]`, `"s"`, `{"": {}, "a": "é", "b": [1, 2.50, null]}`, `{"n": 1E-7, "big": 1}`,
				`[{"a": 1, "b": 2}, {"a": 1}]`, `{"a": {"a": 2, "b": 1}, "b": "{\\"a\\": 1, \\"a\\": 2}"}`, `{"a\\\\n": 1, "b\\\\u0000x": 2}`},
			[]string{`{"a": 1, "a": 2}`, `{"b": 1, "a": 2}`, `[{"x": {"k": 1, "k": 1}}]`, `{"a": {"b": 1}, "a": 2}`,
				`{"\\\\u0061": 1, "a": 2}`, `{"ab": 1, "c": 2}`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			check, why := TypeCheck(c.typname, c.typmod, false, c.utf8)
			if check == nil || why != "" {
				t.Fatalf("TypeCheck: no check (%q)", why)
			}
			for _, f := range c.pass {
				if why := check([]byte(f)); why != "" {
					t.Errorf("%q: %s, want it to pass", f, why)
				}
			}
			for _, f := range c.fail {
				if why := check([]byte(f)); why == "" {
					t.Errorf("%q passed, want it to fail", f)
				}
			}
		})
	}
}

// A modifier other than a length or a timestamp's precision takes the shortcut off whatever the
// text, and so does an array of a type that needs a check; the rest need none.
func TestTypeCheckTypes(t *testing.T) {
	for _, c := range []struct {
		typname string
		typmod  int32
		elem    bool
		off     bool
	}{
		{"numeric", 10<<16 | 2 + 4, false, true},
		{"interval", 0x7fff << 16, false, true},
		{"varchar", 3 + 4, true, true},
		{"jsonb", -1, true, true},
		{"float8", -1, true, true},
		{"date", -1, true, true},
		{"text", -1, true, false},
		{"numeric", -1, false, false},
		{"text", -1, false, false},
		{"varchar", -1, false, false},
	} {
		check, why := TypeCheck(c.typname, c.typmod, c.elem, true)
		if off := why != ""; off != c.off || (off && check != nil) {
			t.Errorf("%s (typmod %d, array %t): check %t, why %q; want off %t", c.typname, c.typmod, c.elem, check != nil, why, c.off)
		}
		if !c.off && check != nil {
			t.Errorf("%s (typmod %d, array %t): a check, want none", c.typname, c.typmod, c.elem)
		}
	}
}

// The first field that fails its check ends the hashing, naming the field; NULLs are not checked.
func TestHashersCheckFields(t *testing.T) {
	check, _ := TypeCheck("varchar", 3+4, false, true)
	checks := []FieldCheck{nil, check}
	h, err := NewRowHasher([]string{"id", "code"}, []string{"code"})
	if err != nil {
		t.Fatal(err)
	}
	h.CheckFields(checks)
	if _, err := h.Write([]byte("1\tabc\n2\t\\N\n")); err != nil {
		t.Fatalf("rows that fit: %v", err)
	}
	_, err = h.Write([]byte("3\tab  \n"))
	var ce *ChangedFieldError
	if !errors.As(err, &ce) || ce.Field != 1 || !strings.Contains(ce.Why, "varchar(3)") {
		t.Fatalf("a row that does not fit: %v, want a ChangedFieldError on field 1", err)
	}
	s, err := NewSplitHasher([]string{"id", "ref", "code"}, []string{"ref", "code"}, []string{"public.r", ""}, &strings.Builder{})
	if err != nil {
		t.Fatal(err)
	}
	s.CheckFields([]FieldCheck{nil, nil, check})
	if _, err := s.Write([]byte("1\t5\tabc\n")); err != nil {
		t.Fatalf("split, rows that fit: %v", err)
	}
	if _, err := s.Write([]byte("2\t5\tabcd\n")); !errors.As(err, &ce) || ce.Field != 2 {
		t.Fatalf("split, a row that does not fit: %v, want a ChangedFieldError on field 2", err)
	}
}
