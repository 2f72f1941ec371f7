package legacy

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

// diskIndex maps int64 ids to byte strings (or, as a multimap, to lists of int64) in two files:
// an open-addressing hash table of fixed 16-byte slots (id, reference into the data file) and an
// append-only data file. Lookups are pread calls: the process keeps none of it in memory, the
// kernel's page cache does the caching. Its disk cost is 32 bytes per entry for the slots (the
// table is kept at most half full) plus the values.
type diskIndex struct {
	slots   *os.File
	data    *os.File
	dw      *bufio.Writer
	dataLen int64
	mask    uint64
	n       int64
	buf     [16]byte
}

// newDiskIndex creates an index in dir for about expected entries.
func newDiskIndex(dir string, expected int64) (*diskIndex, error) {
	capacity := uint64(1024)
	for int64(capacity) < 2*expected+2 {
		capacity <<= 1
	}
	slots, err := os.CreateTemp(dir, "slots-")
	if err != nil {
		return nil, fmt.Errorf("index: %w", err)
	}
	data, err := os.CreateTemp(dir, "data-")
	if err != nil {
		slots.Close()
		os.Remove(slots.Name())
		return nil, fmt.Errorf("index: %w", err)
	}
	if err := slots.Truncate(int64(capacity) * 16); err != nil {
		slots.Close()
		data.Close()
		return nil, fmt.Errorf("index: %w", err)
	}
	// Offset 0 of the data file is never a record, so that a zero reference means an empty slot.
	if _, err := data.Write([]byte{0}); err != nil {
		return nil, fmt.Errorf("index: %w", err)
	}
	return &diskIndex{slots: slots, data: data, dw: bufio.NewWriterSize(data, 256<<10), dataLen: 1, mask: capacity - 1}, nil
}

// Close removes the index's files.
func (x *diskIndex) Close() {
	for _, f := range []*os.File{x.slots, x.data} {
		if f != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}
}

func hashID(id int64) uint64 {
	h := uint64(id) * 0x9E3779B97F4A7C15
	return h ^ (h >> 29)
}

// find returns the slot of id and the reference stored there (0 when the slot is empty).
func (x *diskIndex) find(id int64) (uint64, uint64, error) {
	for i := hashID(id) & x.mask; ; i = (i + 1) & x.mask {
		if _, err := x.slots.ReadAt(x.buf[:], int64(i)*16); err != nil {
			return 0, 0, fmt.Errorf("index: %w", err)
		}
		ref := binary.LittleEndian.Uint64(x.buf[8:])
		if ref == 0 || int64(binary.LittleEndian.Uint64(x.buf[:8])) == id {
			return i, ref, nil
		}
	}
}

func (x *diskIndex) setSlot(slot uint64, id int64, ref uint64) error {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], uint64(id))
	binary.LittleEndian.PutUint64(b[8:], ref)
	if _, err := x.slots.WriteAt(b[:], int64(slot)*16); err != nil {
		return fmt.Errorf("index: %w", err)
	}
	return nil
}

func (x *diskIndex) grow() error {
	if uint64(x.n+1)*2 > x.mask+1 {
		return errors.New("index: more entries than the package said")
	}
	return nil
}

// Put stores val under id (a later Put of the same id replaces it).
func (x *diskIndex) Put(id int64, val []byte) error {
	slot, ref, err := x.find(id)
	if err != nil {
		return err
	}
	if ref == 0 {
		if err := x.grow(); err != nil {
			return err
		}
		x.n++
	}
	at := uint64(x.dataLen)
	var hdr [binary.MaxVarintLen64]byte
	n := binary.PutUvarint(hdr[:], uint64(len(val)))
	if _, err := x.dw.Write(hdr[:n]); err != nil {
		return fmt.Errorf("index: %w", err)
	}
	if _, err := x.dw.Write(val); err != nil {
		return fmt.Errorf("index: %w", err)
	}
	x.dataLen += int64(n + len(val))
	return x.setSlot(slot, id, at)
}

// Add appends v to the list stored under id (a multimap; do not mix with Put).
func (x *diskIndex) Add(id, v int64) error {
	slot, head, err := x.find(id)
	if err != nil {
		return err
	}
	if head == 0 {
		if err := x.grow(); err != nil {
			return err
		}
		x.n++
	}
	var rec [16]byte
	binary.LittleEndian.PutUint64(rec[:8], uint64(v))
	binary.LittleEndian.PutUint64(rec[8:], head)
	at := uint64(x.dataLen)
	if _, err := x.dw.Write(rec[:]); err != nil {
		return fmt.Errorf("index: %w", err)
	}
	x.dataLen += 16
	return x.setSlot(slot, id, at)
}

// Has reports whether id is stored.
func (x *diskIndex) Has(id int64) (bool, error) {
	_, ref, err := x.find(id)
	return ref != 0, err
}

// Done ends the writing: everything is flushed to the data file.
func (x *diskIndex) Done() error {
	if err := x.dw.Flush(); err != nil {
		return fmt.Errorf("index: %w", err)
	}
	return nil
}

// Get returns the value stored under id; ok is false when there is none. Call Done first.
func (x *diskIndex) Get(id int64, dst []byte) (val []byte, ok bool, err error) {
	_, ref, err := x.find(id)
	if err != nil || ref == 0 {
		return nil, false, err
	}
	var hdr [binary.MaxVarintLen64]byte
	n, err := x.data.ReadAt(hdr[:], int64(ref))
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, false, fmt.Errorf("index: %w", err)
	}
	size, k := binary.Uvarint(hdr[:n])
	if k <= 0 {
		return nil, false, errors.New("index: damaged record")
	}
	if uint64(cap(dst)) < size {
		dst = make([]byte, size)
	}
	dst = dst[:size]
	if _, err := x.data.ReadAt(dst, int64(ref)+int64(k)); err != nil {
		return nil, false, fmt.Errorf("index: %w", err)
	}
	return dst, true, nil
}

// List returns the values added under id, in the order they were added. Call Done first.
func (x *diskIndex) List(id int64, dst []int64) ([]int64, error) {
	dst = dst[:0]
	_, ref, err := x.find(id)
	if err != nil {
		return nil, err
	}
	var rec [16]byte
	for ref != 0 {
		if _, err := x.data.ReadAt(rec[:], int64(ref)); err != nil {
			return nil, fmt.Errorf("index: %w", err)
		}
		dst = append(dst, int64(binary.LittleEndian.Uint64(rec[:8])))
		ref = binary.LittleEndian.Uint64(rec[8:])
	}
	for i, j := 0, len(dst)-1; i < j; i, j = i+1, j-1 {
		dst[i], dst[j] = dst[j], dst[i]
	}
	return dst, nil
}
