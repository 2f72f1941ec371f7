package legacy

import (
	"bytes"
	"math/rand"
	"testing"
)

func TestCopyEscapeRoundTrip(t *testing.T) {
	cases := [][]byte{
		nil,
		[]byte("plain"),
		[]byte(`\N`),
		[]byte("tab\there\nnewline\r\ncrlf"),
		[]byte(`C:\new\table\file.txt`),
		[]byte(`back\\slash \. end`),
		[]byte("Grüße «zoë» 👩‍💻"),
		{0x01, 0x7f, 0xff, '\\', '\t'},
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
		esc := AppendCopy(nil, c)
		if bytes.ContainsAny(esc, "\t\n\r") {
			t.Fatalf("seed %d: escaped %q still holds a separator: %q", seed, c, esc)
		}
		got, null, err := UnescapeCopy(esc)
		if err != nil || null || !bytes.Equal(got, c) {
			t.Fatalf("seed %d: %q -> %q -> %q (null %v, %v)", seed, c, esc, got, null, err)
		}
	}
}

func TestUnescapeCopy(t *testing.T) {
	cases := []struct {
		in   string
		want string
		null bool
	}{
		{`\N`, "", true},
		{`a\tb\nc\\d`, "a\tb\nc\\d", false},
		{`\b\f\v\r`, "\b\f\v\r", false},
		{`\101\1\12x`, "A\x01\nx", false},
		{`\x41\x4a\x4Z`, "AJ\x04Z", false},
		{`\q\.`, "q.", false},
		{`\\x41`, `\x41`, false},
		{`\xg`, "xg", false},
		{``, "", false},
	}
	for _, c := range cases {
		got, null, err := UnescapeCopy([]byte(c.in))
		if err != nil {
			t.Errorf("%q: %v", c.in, err)
			continue
		}
		if null != c.null || string(got) != c.want {
			t.Errorf("%q: got %q null %v, want %q null %v", c.in, got, null, c.want, c.null)
		}
	}
	for _, bad := range []string{`abc\`, `x\Ny`} {
		if _, _, err := UnescapeCopy([]byte(bad)); err == nil {
			t.Errorf("%q: want an error", bad)
		}
	}
}

func TestSplitCopyRow(t *testing.T) {
	got := SplitCopyRow([]byte("1\ta\\tb\t\\N\t"), nil)
	want := []string{"1", `a\tb`, `\N`, ""}
	if len(got) != len(want) {
		t.Fatalf("got %q", got)
	}
	for i := range want {
		if string(got[i]) != want[i] {
			t.Errorf("field %d: %q, want %q", i, got[i], want[i])
		}
	}
	if n := len(SplitCopyRow(nil, got)); n != 1 {
		t.Errorf("an empty row has one (empty) field, got %d", n)
	}
}
