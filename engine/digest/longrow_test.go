package digest

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/edmsdr/edmsdr/engine/pack"
)

// longRow is a COPY text row (without its newline) and the row the server reads from it,
// written the way the server prints it (what a hasher of the whole row must see).
type longRow struct {
	id          int64
	sent, canon string
}

// longRowSet builds rows of columns cols, whose id is column idCol and whose column body holds
// the rows' values: short ones, and long ones (over 3*max) full of escapes: "\\" (a backslash),
// "\n" and "\t" escapes, a field ending in an escaped backslash right before its tab, a raw tab
// and a raw newline each after a backslash past the first max bytes (data, to the server: a tab
// and a newline; hashers split rows at every newline), and an id spelled with octal and hex
// escapes.
func longRowSet(cols []string, max int) []longRow {
	var rows []longRow
	add := func(id int64, idText, sent, canon string) {
		f := func(body, id string) string {
			out := make([]string, len(cols))
			for i, c := range cols {
				switch c {
				case "id":
					out[i] = id
				case "body":
					out[i] = body
				case "ref":
					out[i] = fmt.Sprint(len(body) % 5)
				default:
					out[i] = fmt.Sprintf("%s%d", c, len(body)%7)
				}
			}
			return strings.Join(out, "\t")
		}
		rows = append(rows, longRow{id: id, sent: f(sent, idText), canon: f(canon, fmt.Sprint(id))})
	}
	long := func(unit string) string { return strings.Repeat(unit, 3*max/len(unit)+1) }
	add(1, "1", "short", "short")
	add(2, "2", long(`a\\b\nc\td`)+`\\`, long(`a\\b\nc\td`)+`\\`)
	add(3, "3", `x\\`, `x\\`)
	add(4, "4", long("plain"), long("plain"))
	add(5, "5", `\N`, `\N`)
	add(6, "6", long("first ")+long("\\\tand\\\nraw "), long("first ")+long(`\tand\nraw `))
	add(7, "7", "", "")
	add(8, `\070`, long(`oct `), long(`oct `))
	add(9, `\x39`, long(`hex `), long(`hex `))
	add(-9223372036854775808, "-9223372036854775808", long(`\\\\`), long(`\\\\`))
	add(11, "11", "end", "end")
	return rows
}

// feedSized writes data first off bytes, then in pieces of size bytes.
func feedSized(w *LongRows, data []byte, off, size int) error {
	if off > 0 {
		if _, err := w.Write(data[:off]); err != nil {
			return err
		}
	}
	for i := off; i < len(data); i += size {
		if _, err := w.Write(data[i:min(i+size, len(data))]); err != nil {
			return err
		}
	}
	return w.Close()
}

// TestLongRowsLeftOutAndFoundByID: rows fed in small pieces cut at every boundary, through
// LongRows in front of a Hasher and of a SplitHasher, give the ids of exactly the rows left out
// (every row longer than the pieces allow to gather), and the hash of the rest plus the hashes
// of the rows with those ids is the whole table's, with the id first, in the middle and last.
func TestLongRowsLeftOutAndFoundByID(t *testing.T) {
	const max = 40
	for _, cols := range [][]string{{"id", "body", "n"}, {"a", "id", "body", "ref"}, {"body", "ref", "id"}} {
		rows := longRowSet(cols, max)
		var hashed, refs []string
		for _, c := range cols {
			if c != "id" {
				hashed = append(hashed, c)
			}
		}
		slices.Sort(hashed)
		for _, c := range hashed {
			r := ""
			if c == "ref" {
				r = "public.kind"
			}
			refs = append(refs, r)
		}
		split := slices.Contains(cols, "ref")
		lookup := func(i int, id int64) ([16]byte, bool) { return [16]byte{byte(id), 7}, id%2 == 0 }
		// hasher returns a fresh hasher of the rows and how to finish it.
		hasher := func() (RowDropper, func() (pack.TableDigest, error)) {
			if !split {
				h, err := NewRowHasher(cols, hashed)
				if err != nil {
					t.Fatal(err)
				}
				return h, h.Close
			}
			var spill bytes.Buffer
			s, err := NewSplitHasher(cols, hashed, refs, &spill)
			if err != nil {
				t.Fatal(err)
			}
			return s, func() (pack.TableDigest, error) {
				if err := s.Close(); err != nil {
					return pack.TableDigest{}, err
				}
				return FinishSplit(&spill, refs, s.Rows(), lookup)
			}
		}
		// The digest of canonical rows, each row written whole.
		digestOf := func(rs []longRow) pack.TableDigest {
			w, finish := hasher()
			for _, r := range rs {
				if _, err := w.Write([]byte(r.canon + "\n")); err != nil {
					t.Fatal(err)
				}
			}
			td, err := finish()
			if err != nil {
				t.Fatal(err)
			}
			return td
		}
		whole := digestOf(rows)
		byID := map[int64]longRow{}
		var sent []byte
		var longIDs []int64
		for _, r := range rows {
			byID[r.id] = r
			sent = append(sent, r.sent+"\n"...)
			if len(r.sent) > 3*max {
				longIDs = append(longIDs, r.id)
			}
		}
		if len(longIDs) != 6 {
			t.Fatalf("%d long rows, want 6", len(longIDs))
		}
		for size := 1; size <= max; size++ {
			for off := 0; off < size; off++ {
				w, finish := hasher()
				l := NewLongRows(w, max, slices.Index(cols, "id"), 100)
				if err := feedSized(l, sent, off, size); err != nil {
					t.Fatalf("%v, pieces of %d after %d: %v", cols, size, off, err)
				}
				if !slices.Equal(l.IDs(), longIDs) {
					t.Fatalf("%v, pieces of %d after %d: ids %v, want %v", cols, size, off, l.IDs(), longIDs)
				}
				td, err := finish()
				if err != nil {
					t.Fatalf("%v, pieces of %d after %d: %v", cols, size, off, err)
				}
				var left []longRow
				for _, id := range l.IDs() {
					left = append(left, byID[id])
				}
				if got := td.Add(digestOf(left)); !got.Equal(whole) || td.Rows != int64(len(rows)-len(longIDs)) {
					t.Fatalf("%v, pieces of %d after %d: %+v + left out, want %+v", cols, size, off, td, whole)
				}
			}
		}
		// A long row that arrives whole is hashed as it is.
		w, finish := hasher()
		l := NewLongRows(w, max, slices.Index(cols, "id"), 100)
		written := 0
		for _, r := range rows {
			if r.id == 6 {
				continue // raw tab and newline: hashers split rows at every newline
			}
			if _, err := l.Write([]byte(r.sent + "\n")); err != nil {
				t.Fatal(err)
			}
			written++
		}
		if td, err := finish(); err != nil || len(l.IDs()) != 0 || td.Rows != int64(written) {
			t.Errorf("%v, rows written whole: %+v, %v, ids %v", cols, td, err, l.IDs())
		}
	}
}

// TestLongRowsRefuseWhatTheyCannotRead: a long row whose id is NULL, too long, not an integer as
// the server prints it, or missing, a table without an id, more long rows than allowed, and a
// stream ending inside a long row each end the writing with an error saying so.
func TestLongRowsRefuseWhatTheyCannotRead(t *testing.T) {
	const max = 16
	body := strings.Repeat("b", 3*max)
	for _, c := range []struct {
		name    string
		data    string
		idField int
		maxIDs  int
		want    string
	}{
		{"NULL id", "1\tx\n\\N\t" + body + "\n", 0, 10, "NULL"},
		{"id too long", strings.Repeat("1", 200) + "\t" + body + "\n", 0, 10, "id is longer than"},
		{"escapes spelling a long id", strings.Repeat(`\061`, 20) + "\t" + body + "\n", 0, 10, "not an integer"},
		{"leading zero", "01\t" + body + "\n", 0, 10, "not an integer"},
		{"plus sign", "+1\t" + body + "\n", 0, 10, "not an integer"},
		{"white space", " 1\t" + body + "\n", 0, 10, "not an integer"},
		{"underscore", "1_0\t" + body + "\n", 0, 10, "not an integer"},
		{"hex literal", "0x1\t" + body + "\n", 0, 10, "not an integer"},
		{"minus zero", "-0\t" + body + "\n", 0, 10, "not an integer"},
		{"past int8", "9223372036854775808\t" + body + "\n", 0, 10, "not an integer"},
		{"escaped tab in the id", "1\\\t2\t" + body + "\n", 0, 10, "not an integer"},
		{"row ends before its id", body + "\t1\n", 2, 10, "ends before its id"},
		{"no id", body + "\n", -1, 10, "without an id"},
		{"too many", "1\t" + body + "\n2\t" + body + "\n", 0, 1, "more than 1 rows"},
		{"stream ends inside", "1\t" + body, 0, 10, "ends inside a row"},
	} {
		t.Run(c.name, func(t *testing.T) {
			h, err := NewRowHasher([]string{"id", "body"}, []string{"body"})
			if err != nil {
				t.Fatal(err)
			}
			if c.idField == 2 {
				h, _ = NewRowHasher([]string{"body", "n", "id"}, []string{"body", "n"})
			}
			l := NewLongRows(h, max, c.idField, c.maxIDs)
			err = feedSized(l, []byte(c.data), 0, 4)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want one saying %q", err, c.want)
			}
			var le *LongRowError
			if c.name != "stream ends inside" && !errors.As(err, &le) {
				t.Errorf("error %T, want a *LongRowError", err)
			}
		})
	}
}

func TestCopyInt(t *testing.T) {
	for raw, want := range map[string]int64{
		"0": 0, "42": 42, "-7": -7, `\064\062`: 42, `\x34\x32`: 42, `\x342`: 42, `4\62`: 42,
		"9223372036854775807": 9223372036854775807, "-9223372036854775808": -9223372036854775808,
	} {
		if got, err := copyInt([]byte(raw)); err != nil || got != want {
			t.Errorf("copyInt(%q) = %d, %v; want %d", raw, got, err, want)
		}
	}
	for _, raw := range []string{`\N`, "", "a", `\x`, `1\x`, `\\1`, "1 ", `1\n`, `\0601`, "1e3", "٣"} {
		if got, err := copyInt([]byte(raw)); err == nil {
			t.Errorf("copyInt(%q) = %d, want an error", raw, got)
		}
	}
}
