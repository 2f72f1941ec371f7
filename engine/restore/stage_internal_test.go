package restore

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/edmsdr/edmsdr/engine/pack"
)

// A spooler holds one entry in one buffer, reused from entry to entry and never grown past the
// entry (plus the read that finds its end): two of them stage with read-ahead, so a buffer that
// doubled would cost two entries of memory more.
func TestSpoolerReusesOneBufferTheSizeOfTheEntry(t *testing.T) {
	s := &spooler{}
	defer s.close()
	var first int
	for i, size := range []int{8 << 20, 1 << 20, 8<<20 + 3} {
		want := bytes.Repeat([]byte{byte('a' + i)}, size)
		// As an entry reads: no WriteTo, read by the buffer in pieces.
		data, again, err := s.spool(&pack.Entry{Name: "data/000000.000000.copy", Size: int64(size)}, struct{ io.Reader }{bytes.NewReader(want)})
		if err != nil {
			t.Fatal(err)
		}
		readTwice(t, fmt.Sprintf("entry %d", i), data, again, want)
		if c := cap(s.buf); c > 8<<20+3+bytes.MinRead+1<<20 {
			t.Fatalf("entry %d: the spool buffer grew to %d bytes for entries of at most %d", i, c, 8<<20+3)
		}
		if i == 0 {
			first = cap(s.buf)
		} else if cap(s.buf) != first {
			t.Fatalf("entry %d: the spool buffer was replaced (%d bytes, was %d) for an entry a few bytes larger", i, cap(s.buf), first)
		}
	}
	if s.file != nil {
		t.Fatal("an entry below spoolMemory went to a file")
	}
	// Above spoolMemory: a file, read again from its start.
	want := bytes.Repeat([]byte("z"), spoolMemory+1)
	data, again, err := s.spool(&pack.Entry{Name: "data/000000.000001.copy", Size: int64(len(want))}, bytes.NewReader(want))
	if err != nil {
		t.Fatal(err)
	}
	if s.file == nil {
		t.Fatal("an entry above spoolMemory stayed in memory")
	}
	readTwice(t, "large entry", data, again, want)
}

// readTwice reads a spooled entry, then again from its start: want both times.
func readTwice(t *testing.T, what string, data io.Reader, again func() (io.Reader, error), want []byte) {
	t.Helper()
	for round := range 2 {
		if round == 1 {
			data = mustAgain(t, again)
		}
		got, err := io.ReadAll(data)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%s, read %d: %d bytes (%v), want the %d spooled", what, round, len(got), err, len(want))
		}
	}
}

func mustAgain(t *testing.T, again func() (io.Reader, error)) io.Reader {
	t.Helper()
	r, err := again()
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// A read ahead stops at its next read once staging has stopped.
func TestStopReaderStopsOnceStagingStops(t *testing.T) {
	stop := make(chan struct{})
	r := stopReader{r: bytes.NewReader(make([]byte, 10)), stop: stop}
	if n, err := r.Read(make([]byte, 4)); n != 4 || err != nil {
		t.Fatalf("before stop: %d, %v", n, err)
	}
	close(stop)
	if n, err := r.Read(make([]byte, 4)); n != 0 || !errors.Is(err, errStopped) {
		t.Fatalf("after stop: %d, %v; want 0, errStopped", n, err)
	}
}
