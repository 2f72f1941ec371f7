package pack

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/cespare/xxhash/v2"
	"github.com/klauspost/compress/huff0"
)

// A literals-only zstd frame (RFC 8878), written without a match finder: every block is either
// a Compressed_Block whose Literals_Section is Huffman-coded (huff0's output, its own tree in
// every block) and whose Sequences_Section holds no sequence, an RLE_Block (one byte repeated),
// or a Raw_Block. Any zstd decoder reads it (the package reader's, the reference `zstd -d`).
// On hex text (bytea) it compresses nearly as well as the fastest level's match finder for a
// third of the CPU; compressor decides where it is used.
//
// The frame, byte by byte:
//
//	28 b5 2f fd      Magic_Number 0xFD2FB528, little-endian
//	04               Frame_Header_Descriptor: Content_Checksum_Flag (bit 2) only: no
//	                 Frame_Content_Size, not single-segment, no dictionary
//	38               Window_Descriptor: exponent 7, mantissa 0: a window of 1<<(10+7) =
//	                 128 KiB, so Block_Maximum_Size is 128 KiB
//	blocks           each a 3-byte Block_Header (little-endian: bit 0 Last_Block, bits 1-2
//	                 Block_Type, bits 3-23 Block_Size) and its content; the last has Last_Block
//	xx xx xx xx      Content_Checksum: the low 32 bits of XXH64 (seed 0) of the frame's
//	                 decompressed bytes, little-endian
//
// A Compressed_Block's content: the Literals_Section_Header (3, 4 or 5 bytes, litHeader), the
// Huffman tree description and streams as huff0 writes them (its Compress1X or Compress4X
// output, of the size the header declares), then one byte 0: Number_of_Sequences = 0, which
// ends the Sequences_Section. Block_Size counts all three.
const (
	litBlockSize = 128 << 10 // Block_Maximum_Size for a 128 KiB window
	litMinHuff   = 32        // shorter blocks are written raw (as klauspost's encoder does)
	litMin4X     = 1024      // from here on four Huffman streams (the 1-stream header holds 10-bit sizes)

	blockRaw        = 0 // Block_Type values
	blockRLE        = 1
	blockCompressed = 2

	literalsCompressed = 2 // Literals_Block_Type of a Compressed_Literals_Block (tree included)
)

var litFrameHeader = []byte{0x28, 0xb5, 0x2f, 0xfd, 0x04, 0x38}

// blockHeader is a Block_Header: last, type and size in 3 little-endian bytes.
func blockHeader(dst []byte, last bool, typ, size int) []byte {
	v := uint32(size)<<3 | uint32(typ)<<1
	if last {
		v |= 1
	}
	return append(dst, byte(v), byte(v>>8), byte(v>>16))
}

// litHeader is the Literals_Section_Header of a Compressed_Literals_Block of regen bytes
// Huffman-coded into comp bytes (tree description included), in one stream or four. Bits 0-1:
// Literals_Block_Type; bits 2-3: Size_Format; then Regenerated_Size and Compressed_Size, each
// of 10, 10, 14 or 18 bits as Size_Format says:
//
//	00  one stream, 10-bit sizes, 3 bytes
//	01  four streams, 10-bit sizes, 3 bytes (never here: four streams from litMin4X bytes on)
//	10  four streams, 14-bit sizes, 4 bytes
//	11  four streams, 18-bit sizes, 5 bytes (a full block: 128 KiB needs 18 bits)
func litHeader(dst []byte, regen, comp int, single bool) ([]byte, error) {
	var format, bits, size int
	switch m := max(regen, comp); {
	case single && m < 1<<10:
		format, bits, size = 0, 10, 3
	case single:
		return nil, fmt.Errorf("literals: a single stream of %d bytes", m)
	case m < 1<<10:
		format, bits, size = 1, 10, 3
	case m < 1<<14:
		format, bits, size = 2, 14, 4
	case m < 1<<18:
		format, bits, size = 3, 18, 5
	default:
		return nil, fmt.Errorf("literals: %d bytes in one block", m)
	}
	v := uint64(literalsCompressed) | uint64(format)<<2 | uint64(regen)<<4 | uint64(comp)<<(4+bits)
	for i := range size {
		dst = append(dst, byte(v>>(8*i)))
	}
	return dst, nil
}

// litFrame writes literals-only zstd frames into out. Bytes are gathered into blocks of
// litBlockSize; Flush writes what is gathered as a shorter block, End the last block and the
// checksum. After End the next Write starts a new frame. It is not safe for concurrent use.
type litFrame struct {
	out  io.Writer
	open bool   // the frame header is out and its last block is not
	pend []byte // bytes not yet in a block, fewer than litBlockSize
	enc  []byte // encoded bytes not yet written to out
	sum  xxhash.Digest
	huff huff0.Scratch
	err  error // sticky: a frame that failed to be written is never continued
}

func newLitFrame(out io.Writer) *litFrame {
	f := &litFrame{out: out, pend: make([]byte, 0, litBlockSize)}
	f.huff.Reuse = huff0.ReusePolicyNone // every block carries its own tree
	return f
}

func (f *litFrame) Write(p []byte) (int, error) {
	if f.err != nil {
		return 0, f.err
	}
	if !f.open {
		f.enc = append(f.enc, litFrameHeader...)
		f.sum.Reset()
		f.open = true
	}
	n := len(p)
	f.sum.Write(p)
	if len(f.pend) > 0 {
		k := copy(f.pend[len(f.pend):litBlockSize], p)
		f.pend = f.pend[:len(f.pend)+k]
		p = p[k:]
		if len(f.pend) == litBlockSize {
			if err := f.block(f.pend, false); err != nil {
				return 0, err
			}
			f.pend = f.pend[:0]
		}
	}
	for len(p) >= litBlockSize {
		if err := f.block(p[:litBlockSize], false); err != nil {
			return 0, err
		}
		p = p[litBlockSize:]
		if len(f.enc) >= 1<<20 {
			if err := f.drain(); err != nil {
				return 0, err
			}
		}
	}
	f.pend = append(f.pend, p...)
	if err := f.drain(); err != nil {
		return 0, err
	}
	return n, nil
}

// Flush writes the bytes gathered so far as a block (not the last) and everything encoded to out.
func (f *litFrame) Flush() error {
	if f.err != nil {
		return f.err
	}
	if len(f.pend) > 0 {
		if err := f.block(f.pend, false); err != nil {
			return err
		}
		f.pend = f.pend[:0]
	}
	return f.drain()
}

// End ends the open frame, if any: the gathered bytes as the last block (an empty Raw_Block
// when there are none), then the checksum.
func (f *litFrame) End() error {
	if f.err != nil {
		return f.err
	}
	if !f.open {
		return nil
	}
	if err := f.block(f.pend, true); err != nil {
		return err
	}
	f.pend = f.pend[:0]
	f.enc = binary.LittleEndian.AppendUint32(f.enc, uint32(f.sum.Sum64()))
	f.open = false
	return f.drain()
}

// block encodes p (at most litBlockSize bytes) as one block.
func (f *litFrame) block(p []byte, last bool) error {
	if len(p) > litBlockSize {
		return f.fail(fmt.Errorf("literals: a block of %d bytes", len(p)))
	}
	if len(p) < litMinHuff {
		f.raw(p, last)
		return nil
	}
	single := len(p) < litMin4X
	var out []byte
	var reused bool
	var err error
	if single {
		out, reused, err = huff0.Compress1X(p, &f.huff)
	} else {
		out, reused, err = huff0.Compress4X(p, &f.huff)
	}
	switch {
	case errors.Is(err, huff0.ErrIncompressible):
		f.raw(p, last)
		return nil
	case errors.Is(err, huff0.ErrUseRLE):
		f.enc = blockHeader(f.enc, last, blockRLE, len(p))
		f.enc = append(f.enc, p[0])
		return nil
	case err != nil:
		return f.fail(fmt.Errorf("literals: %w", err))
	case reused:
		// With ReusePolicyNone huff0 always writes a tree; a treeless block would need the
		// previous block's tree, which this writer never relies on.
		return f.fail(errors.New("literals: huff0 reused a table"))
	}
	var lh [5]byte
	hdr, err := litHeader(lh[:0], len(p), len(out), single)
	if err != nil {
		return f.fail(err)
	}
	size := len(hdr) + len(out) + 1
	if size >= len(p) {
		f.raw(p, last)
		return nil
	}
	f.enc = blockHeader(f.enc, last, blockCompressed, size)
	f.enc = append(f.enc, hdr...)
	f.enc = append(f.enc, out...)
	f.enc = append(f.enc, 0) // Number_of_Sequences = 0: the Sequences_Section ends here
	return nil
}

func (f *litFrame) raw(p []byte, last bool) {
	f.enc = blockHeader(f.enc, last, blockRaw, len(p))
	f.enc = append(f.enc, p...)
}

// drain writes the encoded bytes to out.
func (f *litFrame) drain() error {
	if len(f.enc) == 0 {
		return nil
	}
	_, err := f.out.Write(f.enc)
	f.enc = f.enc[:0]
	if err != nil {
		return f.fail(err)
	}
	return nil
}

func (f *litFrame) fail(err error) error {
	f.err = err
	return err
}
