package legacy

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
)

// fuzzDecodeLimits keep a fuzzed fixture small: limits on, as in production but scaled down.
var fuzzDecodeLimits = DecodeLimits{MaxBytes: 1 << 20, MaxObjectBytes: 64 << 10, MaxRatio: 100}

// FuzzDecoder feeds mutated fixtures (JSON arrays, JSON Lines, gzip) to the decoder with its
// limits on: it must not panic, and must end with io.EOF or a *SyntaxError, never another error,
// having decoded objects whose model and fields are present.
func FuzzDecoder(f *testing.F) {
	obj := `{"model": "auth.user", "pk": 1, "fields": {"username": "admin", "groups": [["g"]]}}`
	for _, s := range []string{
		"[" + obj + "," + obj + "]",
		obj + "\n" + obj + "\n",
		"[\n  " + obj + ",\n  " + obj + "\n]\n",
		"[" + obj + "        ,        " + obj + "      ]",
		"\ufeff[]",
		"[" + obj + ",]",
		`{"model": "a.b", "fields": null}`,
		"",
	} {
		f.Add([]byte(s))
		f.Add(gzipParts(f, s, "", 0, ""))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := NewDecoderContext(context.Background(), bytes.NewReader(data), fuzzDecodeLimits)
		for err == nil {
			var o *Object
			o, err = d.Next()
			if err == nil && (o.Model == "" && o.Fields == nil) {
				t.Fatalf("object #%d without model or fields", o.Index)
			}
		}
		var se *SyntaxError
		if !errors.Is(err, io.EOF) && !errors.As(err, &se) {
			t.Fatalf("error %T is neither io.EOF nor a *SyntaxError: %v", err, err)
		}
	})
}
