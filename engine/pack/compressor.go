package pack

import (
	"encoding/binary"
	"fmt"
	"io"

	"github.com/klauspost/compress/huff0"
	"github.com/klauspost/compress/zstd"
)

// compressor is the package's zstd stream: a sequence of zstd frames, each written either by
// klauspost's encoder (zstd.Encoder, with matches) or by litFrame (Huffman-coded literals only,
// a third of the CPU). Which one is decided on every write of at least choosePiece bytes (the
// ratio guard hands the data over 1 MiB at a time) from a sample of it: litFrame where the
// sample's bytes are Huffman-coded at least litMinRatio times smaller and at most litMaxRatio
// (hex text: bytea), and the piece holds few repeated 8-byte strings (matches would pay:
// repetitive); the encoder elsewhere. Shorter writes (tar headers, small entries) go on in the frame that is open.
// Switching from one to the other ends a frame and starts another: a decoder reads the frames
// one after the other as one stream. Not safe for concurrent use.
type compressor struct {
	out  io.Writer
	zw   *zstd.Encoder
	lit  *litFrame     // nil: every frame with matches (WriterOptions.MatchesOnly)
	est  huff0.Scratch // huffmanPays's
	open frameKind
	// zw ended its last frame (Close) and must be Reset before it starts another; false after
	// NewWriter and Reset.
	closed bool
	// Plain bytes written into each kind of frame (tests, the benchmark).
	litIn, zstdIn int64
}

type frameKind int

const (
	frameNone frameKind = iota
	frameZstd
	frameLit
)

const (
	choosePiece  = 64 << 10 // writes at least this long choose the frame kind
	chooseSample = 16 << 10 // the sample the choice looks at
	// The band of Huffman-only ratios (as huff0 estimates them on the sample) where litFrame
	// is used: hex text is 1.8-2.0 (16 symbols, 4 bits each, with the rows' other bytes), where
	// the fastest level makes 2.0-2.2 of it for three times the CPU. Text is 1.4-1.6 Huffman
	// only and 2.8-3.2 with matches; a sample above the band is repetitive enough that
	// matches pay (a column of zeros, say).
	litMinRatio = 1.75
	litMaxRatio = 2.5
	// A piece that repeats itself is left to the encoder: matches pay (the same hex value over
	// and over). See repetitive. On the bench's 20k tar stream no piece in the Huffman band
	// passes either bound (sample cover up to 0.45, probe hits up to 0.15), and there the
	// encoder's frames are only 15-20% smaller whatever the two measures say; a value repeated
	// row after row passes them by far (cover 0.5-0.9 or probe hits 0.3-0.8) and is 7-200 times
	// smaller in the encoder's frames.
	litMaxCover    = 2   // more than 1/litMaxCover of the sample's bytes repeat what came before in it
	litMaxProbeHit = 4   // more than 1/litMaxProbeHit of the probes of the rest of the piece hit the sample
	repeatHashBits = 15  // repetitive's table: 32768 slots for the sample's 16384 offsets
	repeatProbe    = 127 // repetitive probes the rest of a piece every repeatProbe bytes
)

// newCompressor writes into out; frames with matches at level, and frames of literals only
// where they pay if literals is true.
func newCompressor(out io.Writer, level zstd.EncoderLevel, literals bool) (*compressor, error) {
	zw, err := zstd.NewWriter(out, zstd.WithEncoderLevel(level), zstd.WithEncoderConcurrency(2))
	if err != nil {
		return nil, err
	}
	c := &compressor{out: out, zw: zw}
	if literals {
		c.lit = newLitFrame(out)
	}
	return c, nil
}

func (c *compressor) Write(p []byte) (int, error) {
	want := c.open
	if len(p) >= choosePiece || want == frameNone {
		want = frameZstd
		if c.lit != nil && len(p) >= choosePiece && huffmanPays(p, &c.est) {
			want = frameLit
		}
	}
	if want != c.open {
		if err := c.End(); err != nil {
			return 0, err
		}
		c.open = want
	}
	if want == frameLit {
		c.litIn += int64(len(p))
		return c.lit.Write(p)
	}
	if c.closed {
		c.zw.Reset(c.out)
		c.closed = false
	}
	c.zstdIn += int64(len(p))
	return c.zw.Write(p)
}

// Flush writes everything written so far to out, as blocks of the open frame: a decoder given
// the bytes out has can decode all of it.
func (c *compressor) Flush() error {
	switch c.open {
	case frameZstd:
		return c.zw.Flush()
	case frameLit:
		return c.lit.Flush()
	}
	return nil
}

// End ends the open frame, if any (its last block, its checksum). The next write starts a new
// frame.
func (c *compressor) End() error {
	open := c.open
	c.open = frameNone
	switch open {
	case frameZstd:
		c.closed = true
		if err := c.zw.Close(); err != nil {
			return fmt.Errorf("compress: %w", err)
		}
	case frameLit:
		if err := c.lit.End(); err != nil {
			return fmt.Errorf("compress: %w", err)
		}
	}
	return nil
}

// Close ends the open frame and releases the encoder.
func (c *compressor) Close() error {
	err := c.End()
	if !c.closed {
		// Never written to: closing it into out would write an empty frame.
		c.zw.Reset(io.Discard)
		_ = c.zw.Close()
		c.closed = true
	}
	return err
}

// huffmanPays says whether p (a piece of at least choosePiece bytes) goes into a literals-only
// frame: its first chooseSample bytes are Huffman-coded alone at a ratio within
// [litMinRatio, litMaxRatio], and p repeats itself little.
func huffmanPays(p []byte, s *huff0.Scratch) bool {
	sample := p[:min(len(p), chooseSample)]
	table, data, _, err := huff0.EstimateSizes(sample, s)
	if err != nil || table+data <= 0 {
		return false // a single byte value (RLE) or incompressible
	}
	ratio := float64(len(sample)) / float64(table+data)
	if ratio < litMinRatio || ratio > litMaxRatio {
		return false
	}
	return !repetitive(p)
}

// repetitive says whether matches would pay in p: whether more than 1/litMaxCover of the bytes
// of its first chooseSample lie in 8-byte strings seen before in them, or more than
// 1/litMaxProbeHit of the 8-byte strings probed in the rest of p (every repeatProbe bytes) were
// seen in them. Strings are looked for at every offset, so a value repeated row after row is
// found whatever the length of the rows (probes at every eighth offset missed a 1000-byte bytea
// value repeated with ids of 4 digits: its rows are 2009 bytes long, and the repeats lined up
// only every 16 KiB: 532 KB of literals for a MiB the encoder makes 2.7 KB of); the probes of the
// rest find a value repeated up to ~40 KB apart (a bytea value of 20 KB), which the sample alone
// does not hold twice (a 10 KB value: 532 KB against 15 KB). The table keeps the last offset seen
// per hash: a lower bound on the repeats, exact enough to tell hex of random bytes, which never
// repeats, from repeated values. A value repeated further apart still goes into literals frames
// (a 40 KB value: 533 KB against 73 KB).
func repetitive(p []byte) bool {
	sample := p[:min(len(p), chooseSample)]
	var seen [1 << repeatHashBits]uint16 // offset+1 in sample of the last string with this hash
	hash := func(v uint64) uint64 { return (v * 0x9E3779B97F4A7C15) >> (64 - repeatHashBits) }
	covered := 0
	for i := 0; i+8 <= len(sample); {
		v := binary.LittleEndian.Uint64(sample[i:])
		h := hash(v)
		if j := int(seen[h]); j != 0 && binary.LittleEndian.Uint64(sample[j-1:]) == v {
			covered += 8
			i += 8
			continue
		}
		seen[h] = uint16(i + 1)
		i++
	}
	if covered*litMaxCover > len(sample) {
		return true
	}
	probes, hits := 0, 0
	for i := len(sample); i+8 <= len(p); i += repeatProbe {
		v := binary.LittleEndian.Uint64(p[i:])
		if j := int(seen[hash(v)]); j != 0 && binary.LittleEndian.Uint64(sample[j-1:]) == v {
			hits++
		}
		probes++
	}
	return hits*litMaxProbeHit > probes
}
