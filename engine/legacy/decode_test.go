package legacy

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
)

// readAll decodes every object of a fixture.
func readAll(tb testing.TB, in []byte) ([]*Object, error) {
	tb.Helper()
	d, err := NewDecoder(bytes.NewReader(in))
	if err != nil {
		return nil, err
	}
	var out []*Object
	for {
		o, err := d.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, o)
	}
}

func gzipped(tb testing.TB, in []byte) []byte {
	tb.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	if _, err := w.Write(in); err != nil {
		tb.Fatal(err)
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	return b.Bytes()
}

const arrayFixture = `[
  {
    "model": "documents.Document",
    "pk": 7,
    "fields": {"title": "a\tb", "owner": ["admin"], "tags": [1, 2]}
  },
  {"model": "auth.group", "fields": {"name": "editors"}},
  {"model": "auth.user", "pk": null, "fields": {"username": "x"}}
]
`

func TestDecodeFormats(t *testing.T) {
	jsonl := `{"model": "documents.Document", "pk": 7, "fields": {"title": "a\tb", "owner": ["admin"], "tags": [1, 2]}}
{"model": "auth.group", "fields": {"name": "editors"}}

{"model": "auth.user", "pk": null, "fields": {"username": "x"}}
`
	cases := map[string][]byte{
		"array":      []byte(arrayFixture),
		"jsonl":      []byte(jsonl),
		"array.gz":   gzipped(t, []byte(arrayFixture)),
		"jsonl.gz":   gzipped(t, []byte(jsonl)),
		"bom":        append([]byte("\ufeff"), arrayFixture...),
		"compact":    []byte(strings.Join(strings.Fields(arrayFixture), "")),
		"whitespace": []byte("\n\n  \t" + arrayFixture),
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			objs, err := readAll(t, in)
			if err != nil {
				t.Fatal(err)
			}
			if len(objs) != 3 {
				t.Fatalf("got %d objects, want 3", len(objs))
			}
			if objs[0].Model != "documents.Document" || string(objs[0].PK) != "7" || objs[0].Index != 1 {
				t.Errorf("first object: %+v", objs[0])
			}
			if !bytes.Contains(objs[0].Fields, []byte(`"owner"`)) {
				t.Errorf("fields not kept raw: %s", objs[0].Fields)
			}
			if objs[1].PK != nil || objs[2].PK != nil {
				t.Errorf("absent and null pk must both be nil: %q %q", objs[1].PK, objs[2].PK)
			}
			if objs[2].Index != 3 {
				t.Errorf("index %d, want 3", objs[2].Index)
			}
		})
	}
}

func TestDecodeLines(t *testing.T) {
	objs, err := readAll(t, []byte(arrayFixture))
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []int64{2, 7, 8} {
		if objs[i].Line != want {
			t.Errorf("object %d starts on line %d, want %d", i+1, objs[i].Line, want)
		}
	}
}

func TestDecodeEmptyArray(t *testing.T) {
	for _, in := range []string{"[]", " [ ]\n"} {
		objs, err := readAll(t, []byte(in))
		if err != nil || len(objs) != 0 {
			t.Errorf("%q: %d objects, %v", in, len(objs), err)
		}
	}
}

// TestDecodeErrors checks that every malformed fixture is refused with its position.
func TestDecodeErrors(t *testing.T) {
	cases := []struct {
		name, in   string
		line, col  int64
		object     int64
		msgContain string
	}{
		{"empty", "", 1, 1, 0, "empty"},
		{"not json", "hello", 1, 1, 0, "starts with"},
		{"trailing comma in fields", "[\n {\"model\": \"a.b\", \"fields\": {\"x\": 1,}}\n]", 2, 37, 1, "invalid character"},
		{"missing comma", "[\n {\"model\": \"a.b\"}\n {\"model\": \"a.c\"}\n]", 3, 2, 2, "expected comma"},
		{"truncated", "[\n {\"model\": \"a.b\", \"fields\": {\"x\": \"abc", 2, 39, 1, "truncated"},
		{"no closing bracket", "[\n {\"model\": \"a.b\"}\n", 3, 1, 1, "truncated"},
		{"data after array", "[{\"model\": \"a.b\"}]\n[", 2, 1, 1, "after the closing"},
		{"not an object", "[1]", 1, 2, 1, "expected an object"},
		{"no model", "[\n{\"pk\": 1, \"fields\": {}}]", 2, 1, 1, "no \"model\""},
		{"fields not object", "[{\"model\": \"a.b\", \"fields\": [1]}]", 1, 2, 1, "not an object"},
		{"unknown key", "[{\"model\": \"a.b\", \"extra\": 1}]", 1, 2, 1, "extra"},
		{"model not string", "[{\"model\": 5}]", 1, 2, 1, "model"},
		{"unicode columns", "[\n {\"model\": \"äöü\", \"fields\": {\"ü\": x}}\n]", 2, 35, 1, "invalid character"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := readAll(t, []byte(c.in))
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("got %v, want a *SyntaxError", err)
			}
			if se.Line != c.line || se.Column != c.col || se.Object != c.object {
				t.Errorf("at line %d column %d object %d, want %d %d %d: %v", se.Line, se.Column, se.Object, c.line, c.col, c.object, se)
			}
			if !strings.Contains(se.Error(), c.msgContain) {
				t.Errorf("message %q does not say %q", se.Error(), c.msgContain)
			}
		})
	}
}

func TestDecodeDamagedGzip(t *testing.T) {
	z := gzipped(t, []byte(arrayFixture))
	z[len(z)-6] ^= 0xff // the CRC
	_, err := readAll(t, z)
	var se *SyntaxError
	if !errors.As(err, &se) || !strings.Contains(se.Msg, "gzip") {
		t.Fatalf("got %v, want a gzip read error", err)
	}
}

// TestDecodeLargeStream reads many objects, some far larger than the decoder's buffers, and
// checks positions far into the stream: the decoder must not keep what it has passed.
func TestDecodeLargeStream(t *testing.T) {
	var b bytes.Buffer
	b.WriteString("[\n")
	const n = 3000
	for i := 1; i <= n; i++ {
		if i > 1 {
			b.WriteString(",\n")
		}
		body := "x"
		if i%500 == 0 {
			body = strings.Repeat("y", 1<<20)
		}
		fmt.Fprintf(&b, `{"model": "a.b", "pk": %d, "fields": {"body": %q}}`, i, body)
	}
	b.WriteString("\n]\n")
	d, err := NewDecoder(&b)
	if err != nil {
		t.Fatal(err)
	}
	var count int64
	for {
		o, err := d.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		count++
		if o.Line != count+1 {
			t.Fatalf("object %d on line %d, want %d", count, o.Line, count+1)
		}
		if cap(d.tr.buf) > 8<<20 {
			t.Fatalf("the decoder keeps %d bytes after object %d", cap(d.tr.buf), count)
		}
	}
	if count != n {
		t.Fatalf("read %d objects, want %d", count, n)
	}
	// An error far into the stream still has its exact line.
	bad := strings.Repeat("{\"model\": \"a.b\"}\n", 5000) + "{\"model\": \"a.b\",}\n"
	_, err = readAll(t, []byte(bad))
	var se *SyntaxError
	if !errors.As(err, &se) || se.Line != 5001 || se.Object != 5001 {
		t.Fatalf("got %v, want an error on line 5001", err)
	}
}
