package digest

import (
	"bytes"
	"crypto/md5"
	"encoding/binary"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/edmsdr/edmsdr/engine/keys"
	"github.com/edmsdr/edmsdr/engine/pack"
	"github.com/edmsdr/edmsdr/engine/pgerr"
)

// TestLargeValuesInSlices: with large values read in slices (the threshold and the slice forced
// small), TableCopy and TableLarge give the digest SQL computes: large values first, last, two in
// one row, of a length a multiple of the slice or not, at the threshold and one past it, beside
// NULLs, empty values, references and values that need quoting; keyless duplicate rows; a
// relation that restricts the rows.
func TestLargeValuesInSlices(t *testing.T) {
	conn, ctx := testDB(t, "large", `
CREATE TABLE folder (id serial PRIMARY KEY, name text UNIQUE NOT NULL);
CREATE TABLE blob (id serial PRIMARY KEY, a bytea, folder_id int REFERENCES folder, name text, z bytea);
CREATE TABLE loose (a bytea, n int);
INSERT INTO folder (name) VALUES ('x'), ('y "q"');
INSERT INTO blob (a, folder_id, name, z)
  SELECT CASE WHEN i % 7 = 0 THEN NULL ELSE decode(repeat('5c22', (i * 37) % 1300), 'hex') END,
    1 + i % 3 - CASE WHEN i % 3 = 2 THEN 2 ELSE 0 END, CASE WHEN i % 2 = 0 THEN 'a b' ELSE '' END,
    CASE WHEN i % 5 = 0 THEN NULL ELSE convert_to(repeat(chr(32 + i % 90), 990 + i * 3), 'UTF8') END
  FROM generate_series(1, 80) i;
INSERT INTO blob (a, z) VALUES (''::bytea, ''::bytea), (decode(repeat('00', 1000), 'hex'), decode(repeat('ff', 1001), 'hex')),
  (decode(repeat('01', 2400), 'hex'), decode(repeat('02', 2401), 'hex'));
INSERT INTO loose SELECT decode(repeat('ab', 1500 + i % 2), 'hex'), i % 2 FROM generate_series(1, 6) i;
INSERT INTO loose VALUES (NULL, NULL), (''::bytea, 0);
`, 2*time.Minute)
	tx, sch, plan := snapshot(t, ctx, conn, &keys.File{}, true)
	sqlSession := newSession(t, tx, sch, plan, Options{Prefix: "_t_sql"})
	sliced := newSession(t, tx, sch, plan, Options{Prefix: "_t_sl", SliceAbove: 1000})
	sliced.sliceBytes = 300
	pc := tx.Conn().PgConn()
	var large int
	if err := tx.QueryRow(ctx, "SELECT count(*) FROM blob WHERE octet_length(a) > 1000 AND octet_length(z) > 1000").Scan(&large); err != nil || large < 5 {
		t.Fatalf("rows with two large values: %d, %v; the test needs several", large, err)
	}
	for _, q := range []string{"public.blob", "public.loose"} {
		for _, rel := range []string{"", "(SELECT * FROM " + q + " WHERE coalesce(octet_length(a), 0) % 2 = 0)"} {
			want, err := sqlSession.Table(ctx, q, rel)
			if err != nil {
				t.Fatal(err)
			}
			got, err := sliced.TableCopy(ctx, pc, q, rel)
			if err != nil {
				t.Fatalf("%s %s: %v", q, rel, err)
			}
			if !got.Equal(want) || got.Rows == 0 {
				t.Errorf("%s %s: sliced digest %+v, SQL digest %+v", q, rel, got, want)
			}
		}
		want, err := sqlSession.Table(ctx, q, "")
		if err != nil {
			t.Fatal(err)
		}
		for _, stream := range []bool{true, false} {
			got, err := sliced.TableLarge(ctx, pc, q, stream)
			if err != nil || !got.Equal(want) {
				t.Errorf("%s: TableLarge(stream %v) = %+v, %v; SQL digest %+v", q, stream, got, err, want)
			}
		}
	}
	// The backup's stream: the rows passed on with their large values NULL, the values to the
	// sink, the digest as SQL computes it.
	blob := sch.Table("public.blob")
	var passed bytes.Buffer
	values := map[string][]byte{}
	sink := func(row int64, column string, total, off int64, data []byte) error {
		key := fmt.Sprintf("%d.%s", row, column)
		if int64(len(values[key]))+1 != off {
			return fmt.Errorf("slice of %s at %d after %d bytes", key, off, len(values[key]))
		}
		values[key] = append(values[key], data...)
		return nil
	}
	sql, h, err := sliced.StreamTableLarge(ctx, "public.blob", blob.DataColumns(), false, &passed, 1000, sink)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pc.CopyTo(ctx, h, sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	streamed, err := h.Close()
	if want, _ := sqlSession.Table(ctx, "public.blob", ""); err != nil || !streamed.Equal(want) {
		t.Errorf("StreamTableLarge: %+v, %v; SQL digest %+v", streamed, err, want)
	}
	lines := strings.Split(strings.TrimSuffix(passed.String(), "\n"), "\n")
	if int64(len(lines)) != streamed.Rows || len(values) < 2*large {
		t.Fatalf("%d rows passed on, %d hashed, %d large values", len(lines), streamed.Rows, len(values))
	}
	for key, v := range values {
		var row int
		var col string
		fmt.Sscanf(strings.Replace(key, ".", " ", 1), "%d %s", &row, &col)
		f := strings.Split(lines[row], "\t")
		ci := slices.Index(blob.DataColumns(), col)
		if f[ci] != `\N` {
			t.Errorf("row %d: large column %s passed on as %.20q", row, col, f[ci])
		}
		var orig []byte
		if err := tx.QueryRow(ctx, "SELECT "+col+" FROM blob WHERE id = $1", f[slices.Index(blob.DataColumns(), "id")]).Scan(&orig); err != nil || !bytes.Equal(orig, v) || len(v) <= 1000 {
			t.Errorf("row %d column %s: sink got %d bytes, the table holds %d (%v)", row, col, len(v), len(orig), err)
		}
	}

	// A differing byte deep inside a large value changes the digest.
	before, err := sliced.TableCopy(ctx, pc, "public.blob", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "UPDATE blob SET z = set_byte(z, 2000, 3) WHERE octet_length(z) = 2401"); err != nil {
		t.Fatal(err)
	}
	after, err := sliced.TableCopy(ctx, pc, "public.blob", "")
	if err != nil {
		t.Fatal(err)
	}
	if after.Equal(before) {
		t.Error("a changed byte in a large value's last slice left the digest unchanged")
	}
}

// rowSum is the digest of one row whose record text is rec.
func rowSum(rec string) pack.TableDigest {
	sum := md5.Sum([]byte(rec))
	var s1, s2 acc
	s1.add(int64(binary.BigEndian.Uint64(sum[0:8])))
	s2.add(int64(binary.BigEndian.Uint64(sum[8:16])))
	return pack.TableDigest{Rows: 1, Sum1: s1.String(), Sum2: s2.String()}
}

// TestSliceStreamChecked: a row hashed from slices hashes its record text; a slice missing,
// repeated, out of order, of the wrong length, or a stream ending inside a row is an error.
func TestSliceStreamChecked(t *testing.T) {
	newHasher := func() *Hasher {
		return &Hasher{dst: io.Discard, ncols: 3, nfields: 8, order: []int{0, 1, 2}, large: &largeRows{pos: []int{0, 2}, slice: 2}}
	}
	good := []string{
		"\\N\ta b\t\\N\t0\t2\t3\t1\t\\\\x6162\n",
		"\\N\ta b\t\\N\t0\t2\t3\t3\t\\\\x63\n",
		"\\N\ta b\t\\N\t1\t2\t2\t1\t\\\\x2c29\n",
	}
	h := newHasher()
	if _, err := h.Write([]byte(strings.Join(good, ""))); err != nil {
		t.Fatal(err)
	}
	td, err := h.Close()
	if want := rowSum(`("\\x616263","a b","\\x2c29")`); err != nil || !td.Equal(want) {
		t.Errorf("sliced row = %+v, %v; want %+v", td, err, want)
	}
	for name, lines := range map[string][]string{
		"missing slice":   {good[0], good[2]},
		"repeated slice":  {good[0], good[0], good[1], good[2]},
		"columns swapped": {good[2], good[0], good[1]},
		"short slice":     {good[0], strings.Replace(good[1], "x63", "x", 1), good[2]},
		"ends inside":     {good[0], good[1]},
		"row inside":      {good[0], "1\t2\t3\t\\N\t\\N\t\\N\t\\N\t\\N\n", good[1], good[2]},
		"value in row":    {strings.Replace(good[0], "\\N", "x", 1), good[1], good[2]},
		"not hex":         {strings.Replace(good[0], "\\\\x6162", "ab", 1), good[1], good[2]},
	} {
		h := newHasher()
		_, err := h.Write([]byte(strings.Join(lines, "")))
		if err == nil {
			_, err = h.Close()
		}
		if err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// TestDigestOfValueOverSQLLimit: a row holding a bytea the server cannot render (520 MiB: more
// than 1 GiB in hex) cannot be hashed in SQL; OfDatabase and TableCopy hash it on the client,
// from slices, to the digest of its record text, computed here independently.
func TestDigestOfValueOverSQLLimit(t *testing.T) {
	const mib = 520
	// Stored uncompressed (as a scanned document would be), built from two halves; unlogged: no
	// half a GiB of WAL for a test.
	conn, ctx := testDB(t, "over", fmt.Sprintf(`
CREATE UNLOGGED TABLE big (id serial PRIMARY KEY, v bytea);
ALTER TABLE big ALTER COLUMN v SET STORAGE EXTERNAL;
INSERT INTO big (v) SELECT h || h FROM (SELECT convert_to(repeat('a', %d), 'UTF8') AS h) x;`, mib<<19), 10*time.Minute)
	rec := md5.New()
	rec.Write([]byte(`("\\x`))
	hexA := []byte(strings.Repeat("61", 1<<20))
	for range mib {
		rec.Write(hexA)
	}
	rec.Write([]byte(`")`))
	sum := rec.Sum(nil)
	var s1, s2 acc
	s1.add(int64(binary.BigEndian.Uint64(sum[0:8])))
	s2.add(int64(binary.BigEndian.Uint64(sum[8:16])))
	want := pack.TableDigest{Rows: 1, Sum1: s1.String(), Sum2: s2.String()}

	start := time.Now()
	db, err := OfDatabase(ctx, conn, DatabaseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := db.Summary.Tables["public.big"]; !got.Equal(want) {
		t.Errorf("OfDatabase: %+v, want %+v", got, want)
	}
	t.Logf("OfDatabase of a %d MiB value: %s", mib, time.Since(start).Round(time.Millisecond))

	tx, sch, plan := snapshot(t, ctx, conn, &keys.File{}, true)
	ds := newSession(t, tx, sch, plan, Options{})
	pc := tx.Conn().PgConn()
	if _, err := ds.TableLarge(ctx, pc, "public.big", false); err == nil || !pgerr.TooLarge(err) {
		t.Errorf("TableLarge without the client's hashing: %v; want the server's refusal", err)
	}
	got, err := ds.TableCopy(ctx, pc, "public.big", "")
	if err != nil || !got.Equal(want) {
		t.Errorf("TableCopy: %+v, %v; want %+v", got, err, want)
	}
}
