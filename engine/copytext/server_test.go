package copytext

import (
	"bytes"
	"context"
	"errors"
	"math/rand"
	"os"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/edmsdr/edmsdr/fixtures/localpg/localpgtest"
)

func TestMain(m *testing.M) { os.Exit(localpgtest.RunShared(m)) }

// serverRead is what the server stores from a one-column COPY text row: its value (as UTF-8
// bytes), whether it is NULL, or the error with which COPY refused it (errNoRow: it landed none).
func serverRead(ctx context.Context, conn *pgx.Conn, row []byte) (value []byte, null bool, err error) {
	if _, err := conn.Exec(ctx, "TRUNCATE t"); err != nil {
		return nil, false, err
	}
	if _, err := conn.PgConn().CopyFrom(ctx, bytes.NewReader(row), "COPY t (v) FROM STDIN"); err != nil {
		return nil, false, err
	}
	err = conn.QueryRow(ctx, "SELECT v IS NULL, convert_to(v, 'UTF8') FROM t").Scan(&null, &value)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, false, errNoRow
	}
	return value, null, err
}

// errNoRow is serverRead's error when the COPY landed no row (it took the end-of-data marker).
var errNoRow = errors.New("COPY landed no row")

// TestUnescapeAsTheServerReads: every case of the table, and random fields of escapes, read by
// PostgreSQL's COPY FROM into a text column of a UTF8 database (one row, the field and its
// newline), land as Unescape reads them, or are refused by the server: an invalid byte sequence
// when Unescape's value is not UTF-8 or holds a NUL byte (no text can). What Unescape refuses
// the server reads otherwise: \N inside a value as 'N', a field ending in a lone backslash with
// the row's newline as data, \. as the end-of-data marker.
func TestUnescapeAsTheServerReads(t *testing.T) {
	c := localpgtest.Shared(t)
	conn := c.Connect(t, c.NewDatabase(t, "copytext"))
	ctx := localpgtest.Context(t, 5*time.Minute)
	if _, err := conn.Exec(ctx, "CREATE TABLE t (v text)"); err != nil {
		t.Fatal(err)
	}
	var fields []string
	for _, c := range escapeCases {
		fields = append(fields, c.in)
	}
	seed := time.Now().UnixNano()
	rng := rand.New(rand.NewSource(seed))
	pieces := []string{`\`, `\`, `\`, "0", "1", "3", "7", "8", "x", "X", "a", "f", "g", "N", "n", "b", "é", "\xc3", ".", " "}
	for i := 0; i < 1000; i++ {
		var b []byte
		for j := rng.Intn(12); j > 0; j-- {
			b = append(b, pieces[rng.Intn(len(pieces))]...)
		}
		fields = append(fields, string(b))
	}
	counts := map[string]int{}
	for _, f := range fields {
		got, null, err := Unescape([]byte(f))
		sv, snull, serr := serverRead(ctx, conn, []byte(f+"\n"))
		var pgErr *pgconn.PgError
		if serr != nil && !errors.As(serr, &pgErr) && !errors.Is(serr, errNoRow) {
			t.Fatalf("%q: %v", f, serr)
		}
		ref, _, refErr := serverReading([]byte(f))
		refused := serr != nil
		badBytes := pgErr != nil && pgErr.Code == "22021" // invalid byte sequence for encoding
		fail := func(what string) {
			t.Errorf("seed %d: %q: Unescape %q null %v (%v); the server %q null %v (%v): %s", seed, f, got, null, err, sv, snull, serr, what)
		}
		switch {
		case !utf8.ValidString(f):
			// The server checks the line's own bytes against its encoding before it reads any
			// escape, so a field whose raw text is no UTF-8 is refused whatever its escapes
			// make of it (\xc3 then \xba written as "\xc3" and `\xba`: Unescape reads "ú").
			// Unescape reads escapes only; its callers see such a field as the bytes it names.
			counts["raw not text"]++
			if !refused { // for its bytes, or for a \. it meets first
				fail("the server should refuse a line whose own bytes no text holds")
			}
		case errors.Is(err, ErrLoneBackslash):
			counts["lone backslash"]++
			if !badBytes && (refused || !bytes.HasSuffix(sv, []byte("\n"))) {
				fail("the server should read the row's newline as data")
			}
		case errors.Is(err, ErrNullInValue):
			counts[`\N inside`]++
			if escapes(f, '.') || refErr != nil || badBytes {
				break // read otherwise for another reason as well
			}
			if refused || !bytes.Equal(sv, ref) {
				fail(`the server should read \N inside a value as N`)
			}
		case errors.Is(err, ErrEndMarker):
			counts[`\.`]++
			if !refused && bytes.Equal(sv, ref) {
				fail(`the server should take \. for the end of the data`)
			}
		case err != nil:
			fail("an error not Unescape's")
		case !utf8.Valid(got) || bytes.IndexByte(got, 0) >= 0:
			counts["not text"]++
			if !badBytes {
				fail("the server should refuse bytes no text holds")
			}
		default:
			counts["read alike"]++
			if refused || snull != null || !bytes.Equal(sv, got) {
				fail("read otherwise")
			}
		}
	}
	t.Logf("seed %d: %v", seed, counts)
}

// escapes reports whether c follows a backslash that escapes it in field f.
func escapes(f string, c byte) bool {
	for i := 0; i+1 < len(f); i++ {
		if f[i] == '\\' {
			if f[i+1] == c {
				return true
			}
			i++
		}
	}
	return false
}

// TestSplitRowAsTheServerReads: rows of three fields joined by tabs, with backslashes before the
// tabs and raw tabs inside fields, COPYed into a table of three text columns: a row the server
// takes is three fields to SplitRow, which read (Unescape) as the server stored them, unless
// Unescape refuses them; a row the server refuses is not three fields Unescape reads.
func TestSplitRowAsTheServerReads(t *testing.T) {
	c := localpgtest.Shared(t)
	conn := c.Connect(t, c.NewDatabase(t, "copyrows"))
	ctx := localpgtest.Context(t, 5*time.Minute)
	if _, err := conn.Exec(ctx, "CREATE TABLE r (a text, b text, c text)"); err != nil {
		t.Fatal(err)
	}
	seed := time.Now().UnixNano()
	rng := rand.New(rand.NewSource(seed))
	pieces := []string{`\`, `\`, `\`, "\t", "a", "N", "t", "1"}
	counts := map[string]int{}
	for i := 0; i < 1500; i++ {
		// Three fields of random pieces, joined by tabs: a field ending in an odd run of
		// backslashes escapes the tab after it, a raw tab inside one cuts it, unless escaped.
		var row []byte
		for k := range 3 {
			if k > 0 {
				row = append(row, '\t')
			}
			for j := rng.Intn(5); j > 0; j-- {
				row = append(row, pieces[rng.Intn(len(pieces))]...)
			}
		}
		fields := SplitRow(row, nil)
		var values [][]byte
		var nulls []bool
		var uerr error
		for _, f := range fields {
			v, null, err := Unescape(f)
			uerr = errors.Join(uerr, err)
			values, nulls = append(values, v), append(nulls, null)
		}
		if _, err := conn.Exec(ctx, "TRUNCATE r"); err != nil {
			t.Fatal(err)
		}
		_, serr := conn.PgConn().CopyFrom(ctx, bytes.NewReader(append(row, '\n')), "COPY r (a, b, c) FROM STDIN")
		var pgErr *pgconn.PgError
		if serr != nil && !errors.As(serr, &pgErr) {
			t.Fatalf("%q: %v", row, serr)
		}
		switch {
		case serr == nil && len(fields) != 3:
			t.Errorf("seed %d: %q: the server reads three fields, SplitRow %d: %q", seed, row, len(fields), fields)
		case serr == nil && uerr != nil:
			counts["refused by Unescape"]++ // \N inside a value: read by the server, never written
		case serr == nil:
			counts["read alike"]++
			var got [3][]byte
			var gotNull [3]bool
			err := conn.QueryRow(ctx, "SELECT a IS NULL, b IS NULL, c IS NULL, convert_to(a, 'UTF8'), convert_to(b, 'UTF8'), convert_to(c, 'UTF8') FROM r").
				Scan(&gotNull[0], &gotNull[1], &gotNull[2], &got[0], &got[1], &got[2])
			if err != nil {
				t.Fatal(err)
			}
			for k := range 3 {
				if gotNull[k] != nulls[k] || !bytes.Equal(got[k], values[k]) {
					t.Errorf("seed %d: %q field %d: SplitRow and Unescape %q null %v, the server %q null %v", seed, row, k, values[k], nulls[k], got[k], gotNull[k])
				}
			}
		case len(fields) == 3 && uerr == nil:
			t.Errorf("seed %d: %q: SplitRow and Unescape read %q, the server refuses: %v", seed, row, values, serr)
		default:
			counts["refused by both"]++
		}
	}
	t.Logf("seed %d: %v", seed, counts)
}
