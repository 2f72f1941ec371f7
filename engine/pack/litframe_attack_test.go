package pack

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
	"github.com/klauspost/compress/huff0"
	"github.com/klauspost/compress/zstd"
)

// Attacks on the literals-only frames (litFrame) and on the compressor that chooses them, each
// read back by three decoders written independently of each other: klauspost's (the package
// reader's), the reference `zstd -d`, and the Go standard library's own (internal/zstd, reached
// through debug/elf: stdlibDecode).

// stdlibDecode decodes a stream of zstd frames with the Go standard library's decoder
// (internal/zstd, written from RFC 8878 apart from the two others; it checks every frame's
// checksum). The standard library reaches it only through debug/elf, so the stream becomes the
// content of a zstd-compressed section (SHF_COMPRESSED, ELFCOMPRESS_ZSTD) of a minimal ELF file.
func stdlibDecode(stream []byte) ([]byte, error) {
	const ehsize, shsize, chsize = 64, 64, 24
	names := []byte("\x00.z\x00.shstrtab\x00")
	dataOff := uint64(ehsize)
	namesOff := dataOff + chsize + uint64(len(stream))
	shoff := (namesOff + uint64(len(names)) + 7) &^ 7
	var b bytes.Buffer
	le := binary.LittleEndian
	hdr := elf.Header64{Type: uint16(elf.ET_REL), Machine: uint16(elf.EM_X86_64), Version: uint32(elf.EV_CURRENT),
		Shoff: shoff, Ehsize: ehsize, Shentsize: shsize, Shnum: 3, Shstrndx: 2}
	copy(hdr.Ident[:], elf.ELFMAG)
	hdr.Ident[elf.EI_CLASS], hdr.Ident[elf.EI_DATA], hdr.Ident[elf.EI_VERSION] = byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB), byte(elf.EV_CURRENT)
	binary.Write(&b, le, hdr)
	binary.Write(&b, le, elf.Chdr64{Type: uint32(elf.COMPRESS_ZSTD), Addralign: 1})
	b.Write(stream)
	b.Write(names)
	b.Write(make([]byte, shoff-uint64(b.Len())))
	binary.Write(&b, le, elf.Section64{})
	binary.Write(&b, le, elf.Section64{Name: 1, Type: uint32(elf.SHT_PROGBITS), Flags: uint64(elf.SHF_COMPRESSED), Off: dataOff, Size: chsize + uint64(len(stream)), Addralign: 1})
	binary.Write(&b, le, elf.Section64{Name: 4, Type: uint32(elf.SHT_STRTAB), Off: namesOff, Size: uint64(len(names)), Addralign: 1})
	f, err := elf.NewFile(bytes.NewReader(b.Bytes()))
	if err != nil {
		return nil, fmt.Errorf("stdlib decoder: the ELF wrapper: %w", err)
	}
	s := f.Section(".z")
	if s == nil {
		return nil, errors.New("stdlib decoder: the ELF wrapper has no section .z")
	}
	return io.ReadAll(s.Open())
}

// TestStdlibDecoderDecodes: the third decoder works and is a decoder: it reads the encoder's
// frames, and refuses a frame whose checksum or a block of which was damaged.
func TestStdlibDecoderDecodes(t *testing.T) {
	data := []byte(strings.Repeat("a row of text\t42\n", 5000))
	enc, _ := zstd.NewWriter(nil)
	stream := enc.EncodeAll(data, nil)
	got, err := stdlibDecode(stream)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("stdlib decoder: %d bytes, %v", len(got), err)
	}
	lit := writeLit(t, []byte(hex.EncodeToString(data)), 1<<30)
	for _, at := range []int{len(lit) - 1, len(lit) / 2} {
		bad := bytes.Clone(lit)
		bad[at] ^= 0x10
		if got, err := stdlibDecode(bad); err == nil && bytes.Equal(got, []byte(hex.EncodeToString(data))) {
			t.Errorf("a byte flipped at %d of %d: decoded as if whole", at, len(lit))
		}
	}
}

// frameSpan is one frame of a stream: where it is, and its kind.
type frameSpan struct {
	start, end int
	kind       string // "literals" (litFrame's header), "encoder" (any other zstd frame), "skippable"
}

// walkFrames splits a stream of zstd frames by their headers and block headers alone (RFC 8878
// 3.1.1), whatever wrote them; it fails on a header that does not add up.
func walkFrames(tb testing.TB, b []byte) []frameSpan {
	tb.Helper()
	var spans []frameSpan
	for at := 0; at < len(b); {
		start := at
		if len(b)-at >= 8 && bytes.Equal(b[at:at+4], skippableMagic) {
			at += 8 + int(binary.LittleEndian.Uint32(b[at+4:]))
			spans = append(spans, frameSpan{start, at, "skippable"})
			continue
		}
		if len(b)-at < 6 || !bytes.Equal(b[at:at+4], zstdMagic) {
			tb.Fatalf("offset %d: not a frame: % x", at, b[at:min(at+6, len(b))])
		}
		kind := "encoder"
		if bytes.Equal(b[at:at+6], litFrameHeader) {
			kind = "literals"
		}
		fhd := b[at+4]
		single := fhd&0x20 != 0
		at += 5
		if !single {
			at++ // Window_Descriptor
		}
		at += []int{0, 1, 2, 4}[fhd&3] // Dictionary_ID
		fcs := []int{0, 2, 4, 8}[fhd>>6]
		if fcs == 0 && single {
			fcs = 1
		}
		at += fcs
		for last := false; !last; {
			if at+3 > len(b) {
				tb.Fatalf("frame at %d: block header cut at %d", start, at)
			}
			h := int(b[at]) | int(b[at+1])<<8 | int(b[at+2])<<16
			last = h&1 == 1
			size := h >> 3
			if h>>1&3 == blockRLE {
				size = 1
			}
			if h>>1&3 == 3 || size > litBlockSize {
				tb.Fatalf("frame at %d: block header %06x at %d", start, h, at)
			}
			at += 3 + size
		}
		if fhd&4 != 0 {
			at += 4
		}
		if at > len(b) {
			tb.Fatalf("frame at %d: cut", start)
		}
		spans = append(spans, frameSpan{start, at, kind})
	}
	return spans
}

// decodeAll decodes stream with the three decoders and fails unless each gives want.
func decodeAll(tb testing.TB, what string, stream, want []byte) {
	tb.Helper()
	decodeBoth(tb, what, stream, want)
	got, err := stdlibDecode(stream)
	if err != nil {
		tb.Fatalf("%s: stdlib decoder: %v", what, err)
	}
	if !bytes.Equal(got, want) {
		tb.Fatalf("%s: stdlib decoder: %d bytes, want %d (first difference at %d)", what, len(got), len(want), firstDiff(got, want))
	}
}

// TestLitFrameSizeFormats: a block of each size at the edges of the literals header's size
// formats (1 stream with 10-bit sizes below 1024 bytes, 4 streams with 14-bit sizes below
// 16 KiB, 18-bit sizes up to a full block), and at the edges of the raw fallback (32 bytes) and
// the block (128 KiB), of hex text and of all 256 byte values (the biggest Huffman trees):
// exactly the format RFC 8878 prescribes, read back by the three decoders. Compressed_Size is
// always below Regenerated_Size (else the block is raw), so the regenerated size picks the
// format.
func TestLitFrameSizeFormats(t *testing.T) {
	rng := rand.New(rand.NewSource(21))
	for _, n := range []int{31, 32, 33, 1023, 1024, 1025, 16383, 16384, 16385, litBlockSize - 1, litBlockSize} {
		random := make([]byte, n/2+1)
		rng.Read(random)
		skewed := make([]byte, n)
		for i := range skewed {
			skewed[i] = byte(rng.ExpFloat64() * 30)
		}
		for _, in := range []struct {
			name string
			data []byte
		}{{"hex", []byte(hex.EncodeToString(random)[:n])}, {"skewed", skewed}} {
			what := fmt.Sprintf("%s block of %d bytes", in.name, n)
			stream := writeLit(t, in.data, 1<<30)
			shape, plain := parseFrames(t, stream)
			if len(plain) != n {
				t.Fatalf("%s: %d bytes", what, len(plain))
			}
			want := [4]int{}
			switch {
			case n < litMinHuff:
			case n < 1024:
				want[0] = 1
			case n < 16384:
				want[2] = 1
			default:
				want[3] = 1
			}
			if n >= 1<<10 && shape.compressed != 1 {
				// Both inputs Huffman-code well: a raw block here is a regression.
				t.Errorf("%s: %+v, want one compressed block", what, shape)
			}
			if shape.compressed == 1 && shape.sizeFormats != want {
				t.Errorf("%s: literals size formats %v, want %v", what, shape.sizeFormats, want)
			}
			decodeAll(t, what, stream, in.data)
		}
	}
}

// TestCompressorHostile: the pieces the ratio guard hands over (1 MiB, and the short tails of
// entries), built to mislead the choice: a hex sample followed by random bytes, by a single byte
// (RLE blocks inside a literals frame), by text, by two symbols; pieces of exactly choosePiece
// bytes and one less; empty and one-byte writes; the kind switching at every piece; flushes and
// frame ends (with the guard's skippable padding) between them. The three decoders give every
// byte back, every literals frame is as RFC 8878 says, and each kind of block was written.
func TestCompressorHostile(t *testing.T) {
	rng := rand.New(rand.NewSource(13))
	random := func(n int) []byte {
		b := make([]byte, n)
		rng.Read(b)
		return b
	}
	hexText := func(n int) []byte { return []byte(hex.EncodeToString(random(n/2 + 1))[:n]) }
	sampled := func(rest []byte) []byte { return append(hexText(chooseSample), rest...) }
	text := []byte(strings.Repeat("17\tnot hex at all, a sentence of a row\t2026-12-05\t\\N\n", 25000))
	// lit: a piece of at least choosePiece bytes must go into a literals frame (its sample is
	// hex) or not; a shorter one goes on in the frame that is open.
	pieces := []struct {
		name string
		data []byte
		lit  bool
	}{
		{"tar header", random(512), false},
		{"hex, then random", sampled(random(1<<20 - chooseSample)), true},
		{"hex, then one byte", sampled(bytes.Repeat([]byte{'0'}, 1<<20-chooseSample)), true},
		{"short tail", []byte("\n"), false},
		{"empty", nil, false},
		{"hex, then text", sampled(text[:1<<20-chooseSample]), true},
		{"hex, then two symbols", sampled(bytes.Repeat([]byte("ab"), (1<<20-chooseSample)/2)), true},
		{"random", random(1 << 20), false},
		{"hex of choosePiece bytes", hexText(choosePiece), true},
		{"hex of choosePiece-1 bytes", hexText(choosePiece - 1), false},
		{"zeros", bytes.Repeat([]byte{0}, 1<<20), false},
		{"hex, then all 256 values", sampled(bytes.Repeat(func() []byte {
			b := make([]byte, 256)
			for i := range b {
				b[i] = byte(i)
			}
			return b
		}(), 4032)), true},
		{"one byte", []byte{0xff}, false},
		{"text", text[:1<<20], false},
		{"hex 1 MiB", hexText(1 << 20), true},
		{"hex 1 MiB + 1", hexText(1<<20 + 1), true},
	}
	var out bytes.Buffer
	cw, err := newCompressor(&out, zstd.SpeedFastest, true)
	if err != nil {
		t.Fatal(err)
	}
	var want []byte
	var wantLit int64
	for round := range 3 {
		for i, p := range pieces {
			before, open := cw.litIn, cw.open
			if n, err := cw.Write(p.data); err != nil || n != len(p.data) {
				t.Fatalf("round %d, %s: %d, %v", round, p.name, n, err)
			}
			lit := p.lit
			if len(p.data) < choosePiece {
				lit = open == frameLit
			}
			if got := cw.litIn > before; got != (lit && len(p.data) > 0) {
				t.Errorf("round %d, %s: into a literals frame %v", round, p.name, got)
			}
			want = append(want, p.data...)
			if lit {
				wantLit += int64(len(p.data))
			}
			switch (i + round) % 5 {
			case 1:
				if err := cw.Flush(); err != nil {
					t.Fatal(err)
				}
				// What is out decodes to everything written (the open frame unfinished).
				zr, _ := zstd.NewReader(bytes.NewReader(out.Bytes()), zstd.WithDecoderConcurrency(1))
				got := make([]byte, len(want))
				if _, err := io.ReadFull(zr, got); err != nil || !bytes.Equal(got, want) {
					t.Fatalf("round %d, flushed after %s: %v", round, p.name, err)
				}
				zr.Close()
			case 3:
				if err := cw.End(); err != nil {
					t.Fatal(err)
				}
				out.Write(append(bytes.Clone(skippableMagic), 5, 0, 0, 0, 'p', 'a', 'd', 'd', 'i'))
			}
		}
	}
	if err := cw.Close(); err != nil {
		t.Fatal(err)
	}
	if cw.litIn != wantLit {
		t.Errorf("%d bytes in literals frames, want %d", cw.litIn, wantLit)
	}
	stream := out.Bytes()
	decodeAll(t, "hostile pieces", stream, want)
	var total frameShape
	kinds := map[string]int{}
	for _, s := range walkFrames(t, stream) {
		kinds[s.kind]++
		if s.kind != "literals" {
			continue
		}
		shape, _ := parseFrames(t, stream[s.start:s.end])
		total.raw += shape.raw
		total.rle += shape.rle
		total.compressed += shape.compressed
	}
	t.Logf("%d bytes into %d: frames %v, literals blocks %+v", len(want), len(stream), kinds, total)
	if kinds["literals"] < 3 || kinds["encoder"] < 3 || kinds["skippable"] == 0 || total.raw == 0 || total.rle == 0 || total.compressed == 0 {
		t.Errorf("not every kind of frame and block was written: %v, %+v", kinds, total)
	}
}

// litRows are COPY rows of exactly 1 MiB each (so that every piece the ratio guard hands over is
// one row): a hex sample then a single byte repeated, in literals frames ending in RLE blocks (~25:1),
// or (zeros) "00" repeated, in the encoder's frames far beyond 1000:1 (the guard pads them).
func litRows(rng *rand.Rand, n int, zeros bool) []byte {
	var rows []byte
	value := make([]byte, chooseSample/2)
	for i := range n {
		row := fmt.Appendf(nil, "%08d\t\\\\x", i)
		if zeros {
			row = append(row, strings.Repeat("00", 1<<19)...)
		} else {
			rng.Read(value)
			row = hex.AppendEncode(row, value)
			row = append(row, bytes.Repeat([]byte{'f'}, 1<<20)...)
		}
		rows = append(rows, row[:1<<20-1]...)
		rows = append(rows, '\n')
	}
	return rows
}

// TestWriterLiteralsRatioAndWrap: a package whose literals frames hold mostly RLE blocks, between
// runs of zeros that make the ratio guard pad, keeps the writer's ratio (every prefix: the
// reader held to writeRatio verifies it), plain and encrypted with age; its zstd stream reads
// back through the three decoders, and each literals frame is as RFC 8878 says.
func TestWriterLiteralsRatioAndWrap(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 100 MiB of rows twice")
	}
	rng := rand.New(rand.NewSource(17))
	var rows []byte
	for range 2 {
		rows = append(rows, litRows(rng, 1, false)...)
		rows = append(rows, litRows(rng, 45, true)...)
	}
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	sums := map[bool]string{}
	for _, encrypted := range []bool{false, true} {
		opts := WriterOptions{}
		if encrypted {
			opts.Wrap = func(w io.Writer) (io.WriteCloser, error) { return age.Encrypt(w, id.Recipient()) }
		}
		path := filepath.Join(t.TempDir(), "lit.edmsdr")
		w, err := Create(path, opts)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.WriteHeader(Header{Tables: []TableLayout{{Index: 0, Table: "public.scan", Columns: []string{"id", "data"}}}}); err != nil {
			t.Fatal(err)
		}
		ts := w.Table(0, "public.scan")
		if _, err := ts.Write(rows); err != nil {
			t.Fatal(err)
		}
		te, err := ts.Close()
		if err != nil {
			t.Fatal(err)
		}
		litIn, pads := w.zw.litIn, w.guard.pads
		s := testSchema([]testTable{{qname: "public.scan", cols: []string{"id", "data"}}})
		if err := w.Close(&Manifest{Schema: s, Plan: planFor(t, s), Digest: summary(map[string]int64{"public.scan": te.Rows})}); err != nil {
			t.Fatal(err)
		}
		if litIn < 2<<20 || pads == 0 {
			t.Errorf("encrypted %v: %d bytes in literals frames, %d bytes of padding: the guard was not put to the test", encrypted, litIn, pads)
		}
		pkg, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if encrypted {
			r, err := age.Decrypt(bytes.NewReader(pkg), id)
			if err != nil {
				t.Fatal(err)
			}
			if pkg, err = io.ReadAll(r); err != nil {
				t.Fatal(err)
			}
		}
		for _, l := range []Limits{{}, {MaxRatio: writeRatio}} {
			if _, err := Verify(bytes.NewReader(pkg), l); err != nil {
				t.Errorf("encrypted %v, max ratio %d: %v", encrypted, l.MaxRatio, err)
			}
		}
		plain, err := stdlibDecode(pkg)
		if err != nil {
			t.Fatalf("encrypted %v: %v", encrypted, err)
		}
		decodeAll(t, fmt.Sprintf("package, encrypted %v", encrypted), pkg, plain)
		var rle int
		for _, sp := range walkFrames(t, pkg) {
			if sp.kind == "literals" {
				shape, _ := parseFrames(t, pkg[sp.start:sp.end])
				rle += shape.rle
			}
		}
		if rle == 0 {
			t.Errorf("encrypted %v: no RLE block in a literals frame", encrypted)
		}
		var b strings.Builder
		for _, c := range te.Chunks {
			b.WriteString(c.SHA256)
		}
		sums[encrypted] = b.String()
		t.Logf("encrypted %v: %d bytes of rows into %d, %d in literals frames, %d of padding, %d RLE blocks", encrypted, len(rows), len(pkg), litIn, pads, rle)
	}
	if sums[false] != sums[true] {
		t.Error("the entries differ between the plain and the encrypted package")
	}
}

// failSink takes n bytes, then fails every write; it records Commit and Abort.
type failSink struct {
	n                  int
	committed, aborted bool
}

func (s *failSink) Write(p []byte) (int, error) {
	if len(p) > s.n {
		return 0, errors.New("disk full")
	}
	s.n -= len(p)
	return len(p), nil
}
func (s *failSink) Commit() error { s.committed = true; return nil }
func (s *failSink) Abort()        { s.aborted = true }

// TestWriterLiteralsAbort: a package aborted with a literals frame open (its block half
// gathered) leaves nothing behind; a sink that fails in the middle of a literals frame fails the
// package, which is aborted and never committed.
func TestWriterLiteralsAbort(t *testing.T) {
	rng := rand.New(rand.NewSource(19))
	value := make([]byte, 3000)
	var rows []byte
	for i := range 1500 {
		rng.Read(value)
		rows = append(rows, byteaRow(i, value)...)
	}
	header := Header{Tables: []TableLayout{{Index: 0, Table: "public.scan", Columns: []string{"id", "data"}}}}

	dir := t.TempDir()
	w, err := Create(filepath.Join(dir, "aborted.edmsdr"), WriterOptions{ChunkBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WriteHeader(header); err != nil {
		t.Fatal(err)
	}
	ts := w.Table(0, "public.scan")
	if _, err := ts.Write(rows); err != nil {
		t.Fatal(err)
	}
	if w.zw.open != frameLit || len(w.zw.lit.pend) == 0 {
		t.Fatalf("no literals frame half written: open %v, %d bytes gathered", w.zw.open, len(w.zw.lit.pend))
	}
	w.Abort()
	if names := dirNames(t, dir); len(names) != 0 {
		t.Errorf("an aborted package left %v", names)
	}

	for _, room := range []int{1 << 10, 300 << 10, 2 << 20} {
		sink := &failSink{n: room}
		w, err := NewWriter(sink, "failing", WriterOptions{ChunkBytes: 1 << 20})
		if err != nil {
			t.Fatal(err)
		}
		err = w.WriteHeader(header)
		if err == nil {
			ts := w.Table(0, "public.scan")
			_, err = ts.Write(rows)
			if _, cerr := ts.Close(); err == nil {
				err = cerr
			}
		}
		if err == nil {
			s := testSchema([]testTable{{qname: "public.scan", cols: []string{"id", "data"}}})
			err = w.Close(&Manifest{Schema: s, Plan: planFor(t, s), Digest: summary(map[string]int64{"public.scan": 1500})})
		} else {
			w.Abort()
		}
		if err == nil || !strings.Contains(err.Error(), "disk full") || sink.committed || !sink.aborted {
			t.Errorf("a sink full after %d bytes: %v, committed %v, aborted %v", room, err, sink.committed, sink.aborted)
		}
	}
}

// TestCommittedLiteralsSample: the committed v1 sample written with literals frames holds them,
// each as RFC 8878 says, and the three decoders read its stream alike.
func TestCommittedLiteralsSample(t *testing.T) {
	pkg, err := os.ReadFile(filepath.Join("..", "..", "testdata", "packages", "v1", "edms-tiny-seed1-literals.edmsdr"))
	if err != nil {
		t.Fatal(err)
	}
	plain, err := stdlibDecode(pkg)
	if err != nil {
		t.Fatal(err)
	}
	decodeAll(t, "committed sample", pkg, plain)
	kinds := map[string]int{}
	for _, s := range walkFrames(t, pkg) {
		kinds[s.kind]++
		if s.kind == "literals" {
			parseFrames(t, pkg[s.start:s.end])
		}
	}
	if kinds["literals"] == 0 {
		t.Errorf("the sample has no literals frame: %v", kinds)
	}
	if _, err := Verify(bytes.NewReader(pkg), Limits{}); err != nil {
		t.Error(err)
	}
	t.Logf("frames %v, %d bytes of tar", kinds, len(plain))
}

// TestCompressorRepeatedValues: a bytea value repeated row after row (a placeholder image, the
// same attachment) is left to the encoder, whatever the length of the rows (ids of any number of
// digits shift the repeats off any fixed alignment) and up to values of 20 KB (40 KB of hex
// apart, beyond the sample); distinct random values of the same lengths go into literals frames.
func TestCompressorRepeatedValues(t *testing.T) {
	rng := rand.New(rand.NewSource(23))
	for _, size := range []int{100, 1000, 1500, 4000, 10000, 20000} {
		for _, first := range []int{1, 1000, 123456789} {
			same, distinct := make([]byte, size), make([]byte, size)
			rng.Read(same)
			var repeated, unique []byte
			for i := first; len(repeated) < 1<<20 || len(unique) < 1<<20; i++ {
				rng.Read(distinct)
				repeated = append(repeated, byteaRow(i, same)...)
				unique = append(unique, byteaRow(i, distinct)...)
			}
			if huffmanPays(repeated[:1<<20], new(huff0.Scratch)) {
				t.Errorf("a value of %d bytes repeated from id %d: literals frames", size, first)
			}
			if size >= 1000 && !huffmanPays(unique[:1<<20], new(huff0.Scratch)) {
				t.Errorf("distinct values of %d bytes from id %d: not literals frames", size, first)
			}
		}
	}
}

// TestLitHeader: every Size_Format of a compressed Literals_Section_Header reads back, by RFC
// 8878's layout, the sizes written; sizes no format holds are refused.
func TestLitHeader(t *testing.T) {
	for _, c := range []struct {
		regen, comp  int
		single       bool
		format, size int
	}{
		{32, 20, true, 0, 3}, {1023, 1022, true, 0, 3},
		{1023, 600, false, 1, 3}, {1024, 600, false, 2, 4}, {16383, 16382, false, 2, 4},
		{16384, 9000, false, 3, 5}, {litBlockSize, litBlockSize - 1, false, 3, 5}, {1<<18 - 1, 1, false, 3, 5},
	} {
		hdr, err := litHeader(nil, c.regen, c.comp, c.single)
		if err != nil || len(hdr) != c.size {
			t.Fatalf("%+v: % x, %v", c, hdr, err)
		}
		bits := []int{10, 10, 14, 18}[c.format]
		var v uint64
		for i, b := range hdr {
			v |= uint64(b) << (8 * i)
		}
		if typ, format := int(v&3), int(v>>2&3); typ != literalsCompressed || format != c.format {
			t.Errorf("%+v: type %d, format %d", c, typ, format)
		}
		if regen, comp := int(v>>4&(1<<bits-1)), int(v>>(4+bits)&(1<<bits-1)); regen != c.regen || comp != c.comp {
			t.Errorf("%+v: sizes %d, %d", c, regen, comp)
		}
	}
	for _, c := range []struct {
		regen, comp int
		single      bool
	}{{1024, 100, true}, {100, 1024, true}, {1 << 18, 100, false}, {100, 1 << 18, false}} {
		if hdr, err := litHeader(nil, c.regen, c.comp, c.single); err == nil {
			t.Errorf("%+v: % x", c, hdr)
		}
	}
}

// TestLitFrameNearlyIncompressible: a block huff0 codes into 1 to 4 bytes less than itself (too
// few to pay for the literals header and the sequences byte) is written raw, and reads back.
func TestLitFrameNearlyIncompressible(t *testing.T) {
	rng := rand.New(rand.NewSource(29))
	var s huff0.Scratch
	for try := range 100000 {
		p := make([]byte, 32+rng.Intn(200))
		alphabet := 2 + rng.Intn(60)
		for i := range p {
			p[i] = byte(rng.Intn(alphabet))
		}
		out, _, err := huff0.Compress1X(p, &s)
		if err != nil || len(out)+4 < len(p) {
			continue
		}
		stream := writeLit(t, p, 1<<30)
		shape, _ := parseFrames(t, stream)
		if shape.raw != 1 || shape.compressed != 0 {
			t.Fatalf("%d bytes huff0 codes into %d: %+v", len(p), len(out), shape)
		}
		decodeAll(t, "nearly incompressible", stream, p)
		t.Logf("try %d: %d bytes huff0 codes into %d: raw", try, len(p), len(out))
		return
	}
	t.Fatal("no block huff0 codes into 1 to 4 bytes less than itself")
}

// sizeWriter records the longest write it was given.
type sizeWriter struct {
	bytes.Buffer
	longest int
}

func (w *sizeWriter) Write(p []byte) (int, error) {
	w.longest = max(w.longest, len(p))
	return w.Buffer.Write(p)
}

// TestLitFrameBoundedBuffer: one write of 8 MiB of random bytes (raw blocks, as long as the
// input) is handed on in pieces of about 1 MiB, not gathered whole: the frame's memory does not
// grow with the write.
func TestLitFrameBoundedBuffer(t *testing.T) {
	data := make([]byte, 8<<20)
	rand.New(rand.NewSource(31)).Read(data)
	var out sizeWriter
	f := newLitFrame(&out)
	if n, err := f.Write(data); err != nil || n != len(data) {
		t.Fatalf("%d, %v", n, err)
	}
	if err := f.End(); err != nil {
		t.Fatal(err)
	}
	if out.longest > 1<<20+litBlockSize+16 {
		t.Errorf("a write of %d bytes", out.longest)
	}
	decodeAll(t, "8 MiB of random bytes", out.Bytes(), data)
}

// FuzzCompressor writes pieces chosen by the fuzzer into the compressor, as the ratio guard
// hands them over (hex text of a fuzzed unit, one byte repeated, random bytes, text; 1 byte to
// 1 MiB, the sizes around choosePiece included), with flushes and frame ends followed by a
// skippable frame between them, and requires klauspost's decoder and the standard library's to
// give every byte back.
func FuzzCompressor(f *testing.F) {
	f.Add([]byte{0xde, 0xad}, []byte{0x13, 0x22, 0x31, 0x40, 0x57, 0x96, 0xd3})
	f.Add([]byte("x"), []byte{0x10, 0x1c, 0x50, 0x90, 0x14})
	f.Fuzz(func(t *testing.T, unit, plan []byte) {
		if len(unit) == 0 || len(plan) > 16 {
			return
		}
		sizes := []int{1, 100, 4096, choosePiece - 1, choosePiece, choosePiece + 1, 300 << 10, 1 << 20}
		var out bytes.Buffer
		cw, err := newCompressor(&out, zstd.SpeedFastest, true)
		if err != nil {
			t.Fatal(err)
		}
		var want []byte
		for i, op := range plan {
			n := sizes[op>>2&7]
			var p []byte
			switch op & 3 {
			case 0:
				p = bytes.Repeat([]byte(hex.EncodeToString(unit)), n/(2*len(unit))+1)[:n]
			case 1:
				p = bytes.Repeat(unit[:1], n)
			case 2:
				p = make([]byte, n)
				rand.New(rand.NewSource(int64(i))).Read(p)
			case 3:
				p = bytes.Repeat([]byte("7\ta row of text\t"+string(unit)+"\n"), n/(17+len(unit))+1)[:n]
			}
			if _, err := cw.Write(p); err != nil {
				t.Fatal(err)
			}
			want = append(want, p...)
			switch op >> 5 {
			case 1:
				if err := cw.Flush(); err != nil {
					t.Fatal(err)
				}
			case 2:
				if err := cw.End(); err != nil {
					t.Fatal(err)
				}
				out.Write(append(bytes.Clone(skippableMagic), 1, 0, 0, 0, 0))
			}
		}
		if err := cw.Close(); err != nil {
			t.Fatal(err)
		}
		zr, err := zstd.NewReader(bytes.NewReader(out.Bytes()), zstd.WithDecoderConcurrency(1))
		if err != nil {
			t.Fatal(err)
		}
		defer zr.Close()
		got, err := io.ReadAll(zr)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("klauspost decoder: %d bytes (%v), want %d (first difference at %d)", len(got), err, len(want), firstDiff(got, want))
		}
		if out.Len() == 0 {
			return // nothing written, no frame (the standard library's decoder wants one)
		}
		if got, err := stdlibDecode(out.Bytes()); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("stdlib decoder: %d bytes (%v), want %d (first difference at %d)", len(got), err, len(want), firstDiff(got, want))
		}
	})
}
