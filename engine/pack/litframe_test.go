package pack

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cespare/xxhash/v2"
	"github.com/klauspost/compress/huff0"
	"github.com/klauspost/compress/zstd"
)

// frameShape is what parseFrames found in a stream of zstd frames: block counts by kind, and
// the literals sections by Size_Format.
type frameShape struct {
	frames, skippable          int
	raw, rle, compressed, last int
	sizeFormats                [4]int
}

// parseFrames walks a stream of literals-only frames and skippable frames, checking every field
// this writer sets against RFC 8878 independently of any decoder: the header bytes, each block
// header, each Literals_Section_Header's sizes against the block's size, the empty
// Sequences_Section, and each frame's checksum against the plain bytes (returned).
func parseFrames(tb testing.TB, b []byte) (frameShape, []byte) {
	tb.Helper()
	var s frameShape
	var plain []byte
	for len(b) > 0 {
		if len(b) >= 8 && bytes.Equal(b[:4], skippableMagic) {
			n := int(binary.LittleEndian.Uint32(b[4:]))
			b = b[8+n:]
			s.skippable++
			continue
		}
		if len(b) < 6 || !bytes.Equal(b[:6], litFrameHeader) {
			tb.Fatalf("frame %d: header % x", s.frames, b[:min(6, len(b))])
		}
		b = b[6:]
		s.frames++
		for last := false; !last; {
			if len(b) < 3 {
				tb.Fatalf("frame %d: block header cut", s.frames)
			}
			h := uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16
			typ, size := int(h>>1&3), int(h>>3)
			last = h&1 == 1
			b = b[3:]
			if last {
				s.last++
			}
			switch typ {
			case blockRaw:
				if size > litBlockSize {
					tb.Fatalf("raw block of %d bytes", size)
				}
				plain = append(plain, b[:size]...)
				b = b[size:]
				s.raw++
			case blockRLE:
				if size > litBlockSize || size == 0 {
					tb.Fatalf("RLE block of %d bytes", size)
				}
				plain = append(plain, bytes.Repeat(b[:1], size)...)
				b = b[1:]
				s.rle++
			case blockCompressed:
				content := b[:size]
				b = b[size:]
				if content[0]&3 != literalsCompressed {
					tb.Fatalf("literals block type %d", content[0]&3)
				}
				format := int(content[0] >> 2 & 3)
				hsize, bits := []int{3, 3, 4, 5}[format], []int{10, 10, 14, 18}[format]
				var v uint64
				for i := range hsize {
					v |= uint64(content[i]) << (8 * i)
				}
				regen, comp := int(v>>4&(1<<bits-1)), int(v>>(4+bits)&(1<<bits-1))
				if hsize+comp+1 != size || content[size-1] != 0 {
					tb.Fatalf("compressed block of %d bytes: literals header %d + %d + sequences byte %d", size, hsize, comp, content[size-1])
				}
				if size >= regen || regen > litBlockSize {
					tb.Fatalf("compressed block of %d bytes for %d", size, regen)
				}
				// The literals themselves: decoded by the package reader's decoder below.
				plain = append(plain, make([]byte, regen)...)
				s.compressed++
				s.sizeFormats[format]++
			default:
				tb.Fatalf("block type %d", typ)
			}
		}
		if len(b) < 4 {
			tb.Fatalf("frame %d: checksum cut", s.frames)
		}
		b = b[4:]
	}
	return s, plain
}

// decodeBoth decodes stream with the package reader's decoder and with the reference `zstd -d`,
// and fails unless both give want.
func decodeBoth(tb testing.TB, what string, stream, want []byte) {
	tb.Helper()
	zr, err := zstd.NewReader(bytes.NewReader(stream), zstd.WithDecoderConcurrency(1))
	if err != nil {
		tb.Fatal(err)
	}
	got, err := io.ReadAll(zr)
	zr.Close()
	if err != nil {
		tb.Fatalf("%s: klauspost decoder: %v", what, err)
	}
	if !bytes.Equal(got, want) {
		tb.Fatalf("%s: klauspost decoder: %d bytes, want %d (first difference at %d)", what, len(got), len(want), firstDiff(got, want))
	}
	path, err := exec.LookPath("zstd")
	if err != nil {
		tb.Fatalf("the reference zstd is not installed (apt-get install zstd): %v", err)
	}
	cmd := exec.Command(path, "-d", "-q", "-c")
	cmd.Stdin = bytes.NewReader(stream)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		tb.Fatalf("%s: zstd -d: %v: %s", what, err, stderr.String())
	}
	if !bytes.Equal(out.Bytes(), want) {
		tb.Fatalf("%s: zstd -d: %d bytes, want %d (first difference at %d)", what, out.Len(), len(want), firstDiff(out.Bytes(), want))
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// hostileInputs are the inputs every literals-only test writes: each block kind and each
// literals header size, block boundaries, and the bytes no writer should treat specially.
func hostileInputs() []struct {
	name string
	data []byte
} {
	rng := rand.New(rand.NewSource(11))
	random := func(n int) []byte {
		b := make([]byte, n)
		rng.Read(b)
		return b
	}
	hexText := func(n int) []byte { return []byte(hex.EncodeToString(random(n / 2))) }
	all256 := make([]byte, 300<<10)
	for i := range all256 {
		all256[i] = byte(i)
	}
	skewed := make([]byte, 200<<10) // all 256 values, far from uniform: Huffman-coded
	for i := range skewed {
		skewed[i] = byte(rng.ExpFloat64() * 12)
	}
	text := []byte(strings.Repeat("the quick brown fox jumps over the lazy dog\t\\N\n", 4000))
	mixed := append(append(append(hexText(300<<10), bytes.Repeat([]byte{'0'}, 400<<10)...), random(200<<10)...), text[:70000]...)
	return []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"one byte", []byte{'x'}},
		{"31 bytes", hexText(31)},
		{"32 bytes", hexText(32)},
		{"33 bytes", hexText(33)},
		{"1023 bytes", hexText(1023)},
		{"1024 bytes", hexText(1024)},
		{"1025 bytes", hexText(1025)},
		{"16 KiB - 1", hexText(16<<10 - 1)},
		{"16 KiB", hexText(16 << 10)},
		{"128 KiB - 1", hexText(litBlockSize - 1)},
		{"128 KiB", hexText(litBlockSize)},
		{"128 KiB + 1", hexText(litBlockSize + 1)},
		{"hex 1 MiB", hexText(1 << 20)},
		{"single symbol 128 KiB", bytes.Repeat([]byte{0}, litBlockSize)},
		{"single symbol 128 KiB + 1", bytes.Repeat([]byte{0xff}, litBlockSize+1)},
		{"single symbol 1 MiB", bytes.Repeat([]byte{'0'}, 1<<20)},
		{"two symbols", bytes.Repeat([]byte("01"), 100<<10)},
		{"all 256 values in turn", all256},
		{"all 256 values skewed", skewed},
		{"random", random(500 << 10)},
		{"text", text},
		{"mixed", mixed},
	}
}

// writeLit writes data into a literals-only frame in writes of the given sizes (cycled), and
// ends the frame.
func writeLit(tb testing.TB, data []byte, sizes ...int) []byte {
	tb.Helper()
	var out bytes.Buffer
	f := newLitFrame(&out)
	for i := 0; len(data) > 0; i++ {
		n := min(len(data), sizes[i%len(sizes)])
		if k, err := f.Write(data[:n]); err != nil || k != n {
			tb.Fatalf("write %d: %d, %v", n, k, err)
		}
		data = data[n:]
	}
	if err := f.End(); err != nil {
		tb.Fatal(err)
	}
	return out.Bytes()
}

// TestLitFrameRoundTrip: every hostile input, written in one piece, in odd pieces and in
// 1 MiB pieces (as the ratio guard hands them over), reads back exactly through the package
// reader's decoder and the reference zstd, with the frame's fields as RFC 8878 says.
func TestLitFrameRoundTrip(t *testing.T) {
	var total frameShape
	for _, in := range hostileInputs() {
		for _, sizes := range [][]int{{1 << 30}, {1, 7, 4093, 131071, 131073}, {1 << 20}} {
			what := fmt.Sprintf("%s in writes of %v", in.name, sizes)
			stream := writeLit(t, in.data, sizes...)
			if len(in.data) == 0 {
				if len(stream) != 0 {
					t.Fatalf("%s: %d bytes for nothing", what, len(stream))
				}
				continue
			}
			shape, plain := parseFrames(t, stream)
			if shape.frames != 1 || shape.last != 1 || len(plain) != len(in.data) {
				t.Fatalf("%s: %+v, %d bytes", what, shape, len(plain))
			}
			if sum := binary.LittleEndian.Uint32(stream[len(stream)-4:]); sum != uint32(xxhash.Sum64(in.data)) {
				t.Fatalf("%s: checksum %08x, want the low 32 bits of XXH64 %016x", what, sum, xxhash.Sum64(in.data))
			}
			decodeAll(t, what, stream, in.data)
			total.raw += shape.raw
			total.rle += shape.rle
			total.compressed += shape.compressed
			for i, n := range shape.sizeFormats {
				total.sizeFormats[i] += n
			}
		}
	}
	t.Logf("blocks written: %d raw, %d RLE, %d compressed (literals size formats %v)", total.raw, total.rle, total.compressed, total.sizeFormats)
	// Every kind of block and every literals header size this writer uses was written (and read
	// back) at least once.
	if total.raw == 0 || total.rle == 0 || total.compressed == 0 {
		t.Errorf("not every block kind was written: %+v", total)
	}
	// Size_Format 01 (four streams of fewer than 1024 bytes) is never written: four streams
	// start at litMin4X bytes.
	for i, n := range total.sizeFormats {
		if (n == 0) != (i == 1) {
			t.Errorf("%d literals sections with Size_Format %d", n, i)
		}
	}
}

// TestLitFrameFlushAndEnd: a frame flushed at odd places (short blocks), ended mid-way and
// followed by a skippable frame and further frames, as the ratio guard does, reads back whole;
// what was out after a Flush decodes to everything written before it.
func TestLitFrameFlushAndEnd(t *testing.T) {
	rng := rand.New(rand.NewSource(5))
	var out bytes.Buffer
	f := newLitFrame(&out)
	var want []byte
	for i := range 60 {
		var p []byte
		switch i % 4 {
		case 0:
			p = []byte(hex.EncodeToString(make([]byte, rng.Intn(200<<10))))
		case 1:
			p = bytes.Repeat([]byte{'0'}, rng.Intn(300<<10))
		case 2:
			p = make([]byte, rng.Intn(40))
			rng.Read(p)
		case 3:
			p = make([]byte, rng.Intn(150<<10))
			rng.Read(p)
		}
		if _, err := f.Write(p); err != nil {
			t.Fatal(err)
		}
		want = append(want, p...)
		switch rng.Intn(3) {
		case 0:
			if err := f.Flush(); err != nil {
				t.Fatal(err)
			}
			// Everything written so far decodes from what is out (the frame still open).
			zr, _ := zstd.NewReader(bytes.NewReader(out.Bytes()), zstd.WithDecoderConcurrency(1))
			got := make([]byte, len(want))
			if _, err := io.ReadFull(zr, got); err != nil || !bytes.Equal(got, want) {
				t.Fatalf("after a flush at %d bytes: %v", len(want), err)
			}
			zr.Close()
		case 1:
			if err := f.End(); err != nil {
				t.Fatal(err)
			}
			out.Write(skippableMagic)
			out.Write([]byte{3, 0, 0, 0, 'p', 'a', 'd'})
		}
	}
	if err := f.End(); err != nil {
		t.Fatal(err)
	}
	if err := f.End(); err != nil { // a second End writes nothing
		t.Fatal(err)
	}
	decodeAll(t, "flushed and ended", out.Bytes(), want)
	shape, plain := parseFrames(t, out.Bytes())
	if len(plain) != len(want) || shape.frames < 2 || shape.skippable == 0 {
		t.Fatalf("%+v, %d bytes, want %d", shape, len(plain), len(want))
	}
}

// failWriter fails every write after the first n bytes.
type failWriter struct{ n int }

func (w *failWriter) Write(p []byte) (int, error) {
	if len(p) > w.n {
		return 0, io.ErrShortWrite
	}
	w.n -= len(p)
	return len(p), nil
}

// TestLitFrameWriteError: an error writing out is returned, and every later call returns it.
func TestLitFrameWriteError(t *testing.T) {
	f := newLitFrame(&failWriter{n: 100})
	if _, err := f.Write(bytes.Repeat([]byte("0123456789abcdef"), 20000)); err == nil {
		t.Fatal("a failed write was not reported")
	}
	if _, err := f.Write([]byte("x")); err == nil {
		t.Error("a write after a failure succeeded")
	}
	if err := f.Flush(); err == nil {
		t.Error("a flush after a failure succeeded")
	}
	if err := f.End(); err == nil {
		t.Error("an end after a failure succeeded")
	}
}

// TestCompressorChooses: hex text goes into literals-only frames, text, zeros and random bytes
// into the encoder's, short writes into the frame that is open; the stream reads back whole
// through both decoders.
func TestCompressorChooses(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	hexPiece := func() []byte {
		b := make([]byte, 512<<10)
		rng.Read(b)
		return []byte(hex.EncodeToString(b))
	}
	text := []byte(strings.Repeat("42\tsome text of a row\t2026-12-05 18:00:00+00\t\\N\n", 30000))[:1<<20]
	zeros := bytes.Repeat([]byte{'0'}, 1<<20)
	repeatedHex := bytes.Repeat(hexPiece()[:3000], 400)
	random := make([]byte, 1<<20)
	rng.Read(random)
	for _, c := range []struct {
		name     string
		data     []byte
		wantLit  bool
		wantZstd bool
	}{
		{"hex", hexPiece(), true, false},
		{"text", text, false, true},
		{"zeros", zeros, false, true},
		{"the same hex value over and over", repeatedHex, false, true},
		{"random", random, false, true},
	} {
		if got := huffmanPays(c.data, new(huff0.Scratch)); got != c.wantLit {
			t.Errorf("%s: huffmanPays %v", c.name, got)
		}
	}
	var out bytes.Buffer
	cw, err := newCompressor(&out, zstd.SpeedFastest, true)
	if err != nil {
		t.Fatal(err)
	}
	var want []byte
	write := func(p []byte) {
		if _, err := cw.Write(p); err != nil {
			t.Fatal(err)
		}
		want = append(want, p...)
	}
	header := []byte("a tar header of 512 bytes, say")
	write(header) // nothing open: the encoder
	write(hexPiece())
	write(header) // the literals frame goes on
	write(hexPiece())
	if err := cw.Flush(); err != nil {
		t.Fatal(err)
	}
	write(text)
	write(header)
	write(zeros)
	write(hexPiece())
	if err := cw.End(); err != nil { // as the ratio guard ends a frame
		t.Fatal(err)
	}
	out.Write(append(append([]byte(nil), skippableMagic...), 0, 0, 0, 0))
	write(hexPiece())
	write(random)
	if err := cw.Close(); err != nil {
		t.Fatal(err)
	}
	if wantLit := int64(4*(1<<20) + len(header)); cw.litIn != wantLit {
		t.Errorf("%d bytes in literals frames, want %d", cw.litIn, wantLit)
	}
	if cw.zstdIn != int64(len(want))-cw.litIn {
		t.Errorf("%d bytes in the encoder's frames, want %d", cw.zstdIn, int64(len(want))-cw.litIn)
	}
	decodeAll(t, "compressor", out.Bytes(), want)
	t.Logf("%d bytes into %d (%d in literals frames)", len(want), out.Len(), cw.litIn)

	// MatchesOnly: no literals frame at all.
	out.Reset()
	cw, err = newCompressor(&out, zstd.SpeedFastest, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cw.Write(hexPiece()); err != nil {
		t.Fatal(err)
	}
	if err := cw.Close(); err != nil {
		t.Fatal(err)
	}
	if cw.litIn != 0 {
		t.Errorf("matches only: %d bytes in literals frames", cw.litIn)
	}
}

// FuzzLitFrame writes fuzzed bytes (repeated up to a few hundred KiB, to reach full blocks)
// into literals-only frames in fuzzed pieces, with flushes and frame ends between them, and
// requires the package reader's decoder to give every byte back and the frames to parse as
// RFC 8878 says.
func FuzzLitFrame(f *testing.F) {
	f.Add([]byte("0123456789abcdef"), []byte{1, 2, 3}, uint8(0))
	f.Add([]byte{0}, []byte{200, 0, 255}, uint8(200))
	f.Add([]byte("\\\\x00ff\t\n"), []byte{7, 130, 66, 129}, uint8(255))
	f.Add([]byte{0, 1, 2, 3, 255, 254}, []byte{}, uint8(31))
	f.Fuzz(func(t *testing.T, unit, plan []byte, repeat uint8) {
		if len(unit) == 0 {
			return
		}
		data := bytes.Repeat(unit, 1+int(repeat)*max(1, (1<<10)/len(unit)))
		var out bytes.Buffer
		fw := newLitFrame(&out)
		rest := data
		for i := 0; len(rest) > 0; i++ {
			op := byte(i * 37)
			if len(plan) > 0 {
				op = plan[i%len(plan)]
			}
			n := min(len(rest), 1+int(op&0x3f)*int(op&0x3f)*40) // 1 byte to ~160 KiB
			if _, err := fw.Write(rest[:n]); err != nil {
				t.Fatal(err)
			}
			rest = rest[n:]
			switch op >> 6 {
			case 1:
				if err := fw.Flush(); err != nil {
					t.Fatal(err)
				}
			case 2:
				if err := fw.End(); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := fw.End(); err != nil {
			t.Fatal(err)
		}
		if _, plain := parseFrames(t, out.Bytes()); len(plain) != len(data) {
			t.Fatalf("frames of %d bytes, want %d", len(plain), len(data))
		}
		zr, err := zstd.NewReader(bytes.NewReader(out.Bytes()), zstd.WithDecoderConcurrency(1))
		if err != nil {
			t.Fatal(err)
		}
		defer zr.Close()
		got, err := io.ReadAll(zr)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("decoded %d bytes (%v), want %d (first difference at %d)", len(got), err, len(data), firstDiff(got, data))
		}
	})
}

// TestWriterLiterals: a package of a bytea table (hex text: literals-only frames), a text table
// and 80 MiB of zeros (the encoder's frames, padded by the ratio guard) verifies with a reader
// held to the writer's own ratio, and the reference zstd reads the whole stream; with
// MatchesOnly the same rows give the same entries in a package of the encoder's frames only.
func TestWriterLiterals(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 100 MiB of rows")
	}
	rng := rand.New(rand.NewSource(8))
	var rows [][]byte
	value := make([]byte, 6000)
	for i := range 2000 {
		rng.Read(value)
		rows = append(rows, byteaRow(i, value))
	}
	for i := range 20000 {
		rows = append(rows, fmt.Appendf(nil, "%d\t\\\\x%s\n", 2000+i, "some text of the row, not hex"))
	}
	rows = append(rows, bytes.Repeat([]byte("0\t\\\\x"+strings.Repeat("00", 1<<19)+"\n"), 80))
	sizes := map[bool]int64{}
	sums := map[bool]string{}
	for _, matchesOnly := range []bool{false, true} {
		path := filepath.Join(t.TempDir(), "lit.edmsdr")
		w, err := Create(path, WriterOptions{MatchesOnly: matchesOnly})
		if err != nil {
			t.Fatal(err)
		}
		if err := w.WriteHeader(Header{Tables: []TableLayout{{Index: 0, Table: "public.scan", Columns: []string{"id", "data"}}}}); err != nil {
			t.Fatal(err)
		}
		ts := w.Table(0, "public.scan")
		for _, r := range rows {
			if _, err := ts.Write(r); err != nil {
				t.Fatal(err)
			}
		}
		te, err := ts.Close()
		if err != nil {
			t.Fatal(err)
		}
		litIn := w.zw.litIn
		s := testSchema([]testTable{{qname: "public.scan", cols: []string{"id", "data"}}})
		if err := w.Close(&Manifest{Schema: s, Plan: planFor(t, s), Digest: summary(map[string]int64{"public.scan": te.Rows})}); err != nil {
			t.Fatal(err)
		}
		if (litIn == 0) != matchesOnly {
			t.Errorf("matches only %v: %d bytes in literals frames", matchesOnly, litIn)
		}
		pkg, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range []Limits{{}, {MaxRatio: writeRatio}} {
			if _, err := Verify(bytes.NewReader(pkg), l); err != nil {
				t.Errorf("matches only %v, max ratio %d: %v", matchesOnly, l.MaxRatio, err)
			}
		}
		cmd := exec.Command("zstd", "-d", "-q", "-c")
		cmd.Stdin = bytes.NewReader(pkg)
		var stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = io.Discard, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("matches only %v: zstd -d: %v: %s", matchesOnly, err, stderr.String())
		}
		var b strings.Builder
		for _, c := range te.Chunks {
			b.WriteString(c.SHA256)
		}
		sizes[matchesOnly], sums[matchesOnly] = int64(len(pkg)), b.String()
		t.Logf("matches only %v: package of %d bytes, %d bytes in literals frames", matchesOnly, len(pkg), litIn)
	}
	if sums[false] != sums[true] {
		t.Error("the entries differ between the two packages")
	}
}
