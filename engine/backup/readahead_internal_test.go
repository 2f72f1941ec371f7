package backup

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"testing"
	"time"
)

// slowWriter keeps what it receives, slowly, and fails at failAt bytes when failAt > 0.
type slowWriter struct {
	got    bytes.Buffer
	failAt int
}

func (s *slowWriter) Write(p []byte) (int, error) {
	time.Sleep(50 * time.Microsecond)
	if s.failAt > 0 && s.got.Len()+len(p) >= s.failAt {
		return 0, errors.New("sink refused")
	}
	s.got.Write(p)
	return len(p), nil
}

// TestReadAheadPassesEverythingInOrder: rows of every size, some longer than a block, reach the
// destination whole and in order, though the caller reuses its buffer after each write (as
// pgconn does).
func TestReadAheadPassesEverythingInOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var want bytes.Buffer
	dst := &slowWriter{}
	pool := readAheadPool()
	ra := newReadAhead(context.Background(), dst, pool)
	buf := make([]byte, 0, 2*readAheadBlock)
	for i := range 3000 {
		n := rng.IntN(4000)
		if i%500 == 7 {
			n = readAheadBlock + rng.IntN(readAheadBlock)
		}
		buf = buf[:0]
		for j := range n {
			buf = append(buf, byte('a'+(i+j)%26))
		}
		buf = append(buf, '\n')
		want.Write(buf)
		if _, err := ra.Write(buf); err != nil {
			t.Fatal(err)
		}
		for j := range buf {
			buf[j] = '#' // the caller's buffer is reused
		}
	}
	if err := ra.Close(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(dst.got.Bytes(), want.Bytes()) {
		t.Fatalf("destination got %d bytes, want %d (or other bytes)", dst.got.Len(), want.Len())
	}
	if len(pool) != readAheadBlocks {
		t.Fatalf("%d blocks back in the pool, want %d", len(pool), readAheadBlocks)
	}
}

// TestReadAheadStopsOnTheDestinationsError: an error writing to the destination reaches the
// caller (at a later write or at Close), and Close returns it without hanging.
func TestReadAheadStopsOnTheDestinationsError(t *testing.T) {
	dst := &slowWriter{failAt: 3 * readAheadBlock}
	pool := readAheadPool()
	ra := newReadAhead(context.Background(), dst, pool)
	row := bytes.Repeat([]byte("x"), 999)
	row = append(row, '\n')
	var werr error
	for range 20 * readAheadBlock / len(row) {
		if _, werr = ra.Write(row); werr != nil {
			break
		}
	}
	cerr := ra.Close()
	if werr == nil && cerr == nil {
		t.Fatal("no error from a destination that refused")
	}
	for _, err := range []error{werr, cerr} {
		if err != nil && err.Error() != "sink refused" {
			t.Fatalf("error %v, want the destination's", err)
		}
	}
	if len(pool) != readAheadBlocks {
		t.Fatalf("%d blocks back in the pool, want %d", len(pool), readAheadBlocks)
	}
	if dst.got.Len() >= 3*readAheadBlock {
		t.Fatalf("destination received %d bytes past its failure", dst.got.Len())
	}
}

// TestReadAheadEndsWithItsContext: a cancelled context ends a write waiting for a block, and
// Close returns once the destination has taken what was handed over.
func TestReadAheadEndsWithItsContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	block := make(chan struct{})
	ra := newReadAhead(ctx, writerFunc(func(p []byte) (int, error) { <-block; return len(p), nil }), nil)
	row := bytes.Repeat([]byte("y"), readAheadBlock/2)
	done := make(chan error, 1)
	go func() {
		for {
			if _, err := ra.Write(row); err != nil {
				done <- err
				return
			}
		}
	}()
	time.Sleep(20 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("write after cancel: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("write still waiting after the context ended")
	}
	close(block)
	if err := ra.Close(); err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("close after cancel: %v", err) // what is left may still be passed on; nothing else
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
