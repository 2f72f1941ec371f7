package restore

import (
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
)

func TestRewriterMapsReferenceFieldsAcrossReads(t *testing.T) {
	users := &heldMap{src: []int64{1, 2, 7}, tgt: []int64{101, 5, 1000000000001}}
	kinds := &heldMap{src: []int64{3}, tgt: []int64{30}}
	st := &tableState{cols: []string{"id", "owner_id", "body", "kind_id", "note"}, heldCols: map[string]*tableState{
		"owner_id": {held: users}, "kind_id": {held: kinds}}}
	// A backslash before a raw tab or newline makes it data (the server reads it so): row 5 holds
	// them in body and note; in row 6 the two backslashes before the tab are one escaped (the tab
	// ends body), and note ends in an escaped newline.
	in := "5\t1\tx\\\t3\\\nstill body\t3\tnote\\\n\\\tmore\n" +
		"6\t2\tend\\\\\t3\tz\\\n\n" +
		"1\t1\tplain\\ttext\t3\tlast\n" +
		"2\t\\N\t\\\\N\t\\N\tx\n" +
		"3\t7\t" + strings.Repeat("long", 5000) + "\t3\t\n" +
		"4\t2\t\t3\tend"
	want := "5\t101\tx\\\t3\\\nstill body\t30\tnote\\\n\\\tmore\n" +
		"6\t5\tend\\\\\t30\tz\\\n\n" +
		"1\t101\tplain\\ttext\t30\tlast\n" +
		"2\t\\N\t\\\\N\t\\N\tx\n" +
		"3\t1000000000001\t" + strings.Repeat("long", 5000) + "\t30\t\n" +
		"4\t5\t\t30\tend"
	for name, src := range map[string]func() io.Reader{
		"whole":           func() io.Reader { return strings.NewReader(in) },
		"one byte a time": func() io.Reader { return iotest.OneByteReader(strings.NewReader(in)) },
		"half":            func() io.Reader { return iotest.HalfReader(strings.NewReader(in)) },
	} {
		got, err := io.ReadAll((&run{}).rewrite(st, src()))
		if err != nil || string(got) != want {
			t.Errorf("%s: %v\n%q\nwant\n%q", name, err, got, want)
		}
	}
	for _, bad := range []string{
		"1\t4\tx\t3\ty\n",      // an id the map lacks
		"1\t1\tx\tthree\ty\n",  // no integer
		"1\t1\tx\t\ty\n",       // empty
		"1\t 1\tx\t3\ty\n",     // a space the server would read, the rewrite does not
		"1\t1\\\t2\tx\t3\ty\n", // an escaped tab in a rewritten field
		"1\t1\tx\t" + strings.Repeat("9", 30) + "\ty\n",
	} {
		_, err := io.ReadAll((&run{}).rewrite(st, iotest.OneByteReader(strings.NewReader(bad))))
		var ue *unmappedError
		if !errors.As(err, &ue) {
			t.Errorf("%q: %v, want an unmapped value", bad, err)
		}
	}
}

// BenchmarkRewriter rewrites two reference columns of 32 MiB of COPY text (escapes in the text
// around them), read as a package entry is.
func BenchmarkRewriter(b *testing.B) {
	users := &heldMap{src: []int64{1, 2, 7}, tgt: []int64{101, 5, 1000000000001}}
	kinds := &heldMap{src: []int64{3}, tgt: []int64{30}}
	st := &tableState{cols: []string{"id", "owner_id", "body", "kind_id", "note"}, heldCols: map[string]*tableState{
		"owner_id": {held: users}, "kind_id": {held: kinds}}}
	var sb strings.Builder
	for i := 0; sb.Len() < 32<<20; i++ {
		sb.WriteString(strconv.Itoa(i))
		sb.WriteString("\t7\ta body of some words,\\nwith a newline and a path C:\\\\docs\\\\file\t3\ta note at the end of the row\n")
	}
	in := sb.String()
	b.SetBytes(int64(len(in)))
	b.ResetTimer()
	for range b.N {
		if _, err := io.Copy(io.Discard, (&run{}).rewrite(st, strings.NewReader(in))); err != nil {
			b.Fatal(err)
		}
	}
}
