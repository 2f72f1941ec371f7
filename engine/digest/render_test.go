package digest

import (
	"bytes"
	"io"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"

	"github.com/edmsdr/edmsdr/engine/copytext"
)

// recordFieldMaterialised is the renderer the streaming one replaced (it built the unescaped
// value and the whole record text): the reference the streaming renderer must equal byte for byte.
func recordFieldMaterialised(dst, f []byte) []byte {
	if len(f) == 2 && f[0] == '\\' && f[1] == 'N' {
		return dst
	}
	val := make([]byte, 0, len(f))
	for i := 0; i < len(f); i++ {
		c := f[i]
		if c != '\\' || i+1 == len(f) {
			val = append(val, c)
			continue
		}
		i++
		val = append(val, copytext.Byte(f[i]))
	}
	quote := len(val) == 0
	for _, c := range val {
		if needsQuote(c) {
			quote = true
			break
		}
	}
	if !quote {
		return append(dst, val...)
	}
	dst = append(dst, '"')
	for _, c := range val {
		if c == '"' || c == '\\' {
			dst = append(dst, c)
		}
		dst = append(dst, c)
	}
	return append(dst, '"')
}

// recordWriter collects what a Hasher renders.
type recordWriter struct{ bytes.Buffer }

func (*recordWriter) Sum(b []byte) []byte { return b }
func (*recordWriter) Size() int           { return 0 }
func (*recordWriter) BlockSize() int      { return 1 }

// TestRenderFieldEqualsMaterialised: the streaming renderer writes exactly the record text of
// the old one, on hostile fields and on fields larger than its buffer, whose quoting is decided
// by a byte far from the start.
func TestRenderFieldEqualsMaterialised(t *testing.T) {
	fields := []string{``, `\N`, `N`, `\\N`, `plain`, `a b`, `q"uote`, `back\\slash`, `(p)`, `c,m`, `tab\there`,
		`nl\nx`, `cr\rx`, `ff\fx`, `vt\vx`, `bs\bx`, `\b`, `trailing\`, `\`, `\\`, `"`, `é中🙂`, "nb\u00a0sp", `\\x00ff`, `\q`}
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte("ab\"\\(), \t\n\r\v\fNxé")
	for k := range 1000 {
		n := rng.IntN(12)
		if k%2 == 1 {
			n = rng.IntN(300) // long runs between the bytes acted on, and many of them
		}
		var b []byte
		for range n {
			b = append(b, alphabet[rng.IntN(len(alphabet))])
		}
		fields = append(fields, strings.ReplaceAll(strings.ReplaceAll(string(b), "\t", `\t`), "\n", `\n`))
	}
	big := strings.Repeat("0123456789abcdef", 3*renderBuf/16)
	fields = append(fields, big, big+" ", big+`\b`, `\\x`+big, big+`"`+big, big+`\\`+big, big+`\t`)
	for _, f := range fields {
		want := recordFieldMaterialised(nil, []byte(f))
		var rw recordWriter
		h := &Hasher{md: &rw, out: make([]byte, 0, renderBuf)}
		h.renderField([]byte(f))
		rw.Write(h.out)
		if !bytes.Equal(rw.Bytes(), want) {
			t.Errorf("field %.40q: rendered %.60q, want %.60q", f, rw.Bytes(), want)
		}
	}
}

// TestHasherPieces: a stream cut anywhere hashes and passes on the same as whole rows.
func TestHasherPieces(t *testing.T) {
	big := strings.Repeat("x y", renderBuf)
	rows := "1\tplain\tref\n2\t\\N\t\\N\n3\t" + big + "\tr\\tx\n4\t\\\\x00ff\t\n"
	digestOf := func(cut int) (string, string) {
		var out bytes.Buffer
		h := &Hasher{dst: &out, ncols: 2, nfields: 3, order: []int{2, 1}}
		data := []byte(rows)
		for len(data) > 0 {
			n := min(cut, len(data))
			piece := append([]byte(nil), data[:n]...)
			if _, err := h.Write(piece); err != nil {
				t.Fatal(err)
			}
			data = data[n:]
		}
		td, err := h.Close()
		if err != nil {
			t.Fatal(err)
		}
		return td.Sum1 + "/" + td.Sum2, out.String()
	}
	want, passed := digestOf(len(rows))
	if strings.Contains(passed, "ref") || strings.Count(passed, "\n") != 4 {
		t.Fatalf("passed on %.80q: want the first two columns of 4 rows", passed)
	}
	for _, cut := range []int{1, 2, 3, 7, 100, renderBuf - 1, renderBuf + 5} {
		got, p := digestOf(cut)
		if got != want || p != passed {
			t.Errorf("cut every %d bytes: digest %s, want %s (passed on equal: %v)", cut, got, want, p == passed)
		}
	}
	var h Hasher
	h.dst, h.ncols, h.nfields = io.Discard, 1, 1
	if _, err := h.Write([]byte("a\tb\n")); err == nil {
		t.Error("a row with too many fields was hashed")
	}
}

// TestHasherLargeRowAllocates: hashing and passing on a row of a 32 MiB bytea (64 MiB of COPY
// text) allocates next to nothing: neither the unescaped value nor the record text is built.
func TestHasherLargeRowAllocates(t *testing.T) {
	row := make([]byte, 0, 64<<20+16)
	row = append(row, "1\t\\\\x"...)
	row = append(row, bytes.Repeat([]byte("0a"), 32<<20)...)
	row = append(row, '\n')
	var passed int
	h := &Hasher{dst: writerFunc(func(p []byte) (int, error) { passed += len(p); return len(p), nil }), ncols: 2, nfields: 2, order: []int{1, 0}}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if _, err := h.Write(row); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Close(); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if passed != len(row) {
		t.Errorf("passed on %d bytes, want %d", passed, len(row))
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 1<<20 {
		t.Errorf("hashing a 64 MiB row allocated %d bytes", alloc)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// mayActRef is mayAct byte by byte.
func mayActRef(w uint64) bool {
	for k := 0; k < 8; k++ {
		if c := byte(w >> (8 * k)); c < 0x2d || c == '\\' {
			return true
		}
	}
	return false
}

// TestMayAct: the word test renderField skips plain runs with answers as the byte-by-byte test
// does: every byte value in every lane among fillers on both sides of the limits, every pair of
// byte values in two lanes, and random words.
func TestMayAct(t *testing.T) {
	fillers := []byte{0x2d, 0x2e, 0x30, 'a', 0x5b, 0x5d, 0x7f, 0x80, 0xc3, 0xff, 0x2c, 0x00, '\\'}
	word := func(b [8]byte) uint64 {
		var w uint64
		for k := 7; k >= 0; k-- {
			w = w<<8 | uint64(b[k])
		}
		return w
	}
	for _, fill := range fillers {
		for lane := range 8 {
			for v := range 256 {
				var b [8]byte
				for k := range b {
					b[k] = fill
				}
				b[lane] = byte(v)
				if w := word(b); mayAct(w) != mayActRef(w) {
					t.Fatalf("word %#016x: mayAct %v, want %v", w, mayAct(w), mayActRef(w))
				}
			}
		}
	}
	for lo := range 8 {
		for hi := lo + 1; hi < 8; hi++ {
			for v := range 256 {
				for u := range 256 {
					b := [8]byte{'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'}
					b[lo], b[hi] = byte(v), byte(u)
					if w := word(b); mayAct(w) != mayActRef(w) {
						t.Fatalf("word %#016x: mayAct %v, want %v", w, mayAct(w), mayActRef(w))
					}
				}
			}
		}
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for range 1 << 20 {
		w := rng.Uint64()
		if rng.IntN(2) == 0 {
			w |= 0x8080808080808080 >> (8 * rng.IntN(8)) // bytes above 0x7f, as UTF-8 has
		}
		if mayAct(w) != mayActRef(w) {
			t.Fatalf("word %#016x: mayAct %v, want %v", w, mayAct(w), mayActRef(w))
		}
	}
}

// TestRenderFieldAnyBytes: fields of any bytes and lengths around the word size render as the
// materialised renderer renders them, the byte it acts on at every offset of a plain run.
func TestRenderFieldAnyBytes(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	plain := []byte("0123456789abcdefXYZ-.:/_~é中")
	// One Hasher for the 1.7 million fields, emptied before each: a new one each took its
	// 64 KiB buffer with it (about 110 GB cleared, 3.5 minutes of the package's test time).
	var rw recordWriter
	h := &Hasher{md: &rw, out: make([]byte, 0, renderBuf)}
	check := func(f []byte) {
		t.Helper()
		want := recordFieldMaterialised(nil, f)
		rw.Reset()
		h.out = h.out[:0]
		h.renderField(f)
		rw.Write(h.out)
		if !bytes.Equal(rw.Bytes(), want) {
			t.Fatalf("field %q: rendered %q, want %q", f, rw.Bytes(), want)
		}
	}
	for n := range 41 {
		run := make([]byte, n)
		for k := range run {
			run[k] = plain[rng.IntN(len(plain))]
		}
		check(run)
		for pos := range n {
			for v := range 256 {
				f := append([]byte(nil), run...)
				f[pos] = byte(v)
				check(f)
				if pos+1 < n {
					for _, next := range []byte{'\\', 'b', 't', 'N', '"', 'x', 0} {
						g := append([]byte(nil), f...)
						g[pos+1] = next
						check(g)
					}
				}
			}
		}
	}
	for range 20000 {
		f := make([]byte, rng.IntN(40))
		for k := range f {
			if rng.IntN(4) == 0 {
				f[k] = byte(rng.IntN(256))
			} else {
				f[k] = plain[rng.IntN(len(plain))]
			}
		}
		check(f)
	}
}
