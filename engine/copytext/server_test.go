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
