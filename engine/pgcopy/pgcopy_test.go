package pgcopy

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// slowReader blocks in Read until release is closed, then reads from its string.
type slowReader struct {
	started chan struct{}
	release chan struct{}
	r       *strings.Reader
}

func (s *slowReader) Read(p []byte) (int, error) {
	close(s.started)
	<-s.release
	return s.r.Read(p)
}

func TestCopyGuardStopWaitsForTheReadInFlightThenRefuses(t *testing.T) {
	sr := &slowReader{started: make(chan struct{}), release: make(chan struct{}), r: strings.NewReader("row\n")}
	g := &copyGuard{r: sr}
	readDone := make(chan error, 1)
	go func() {
		_, err := g.Read(make([]byte, 16))
		readDone <- err
	}()
	<-sr.started
	stopped := make(chan struct{})
	go func() {
		g.stop()
		close(stopped)
	}()
	select {
	case <-stopped:
		t.Fatal("stop returned while a read of the entry was in flight")
	case <-time.After(50 * time.Millisecond):
	}
	close(sr.release)
	if err := <-readDone; err != nil {
		t.Fatalf("the read in flight: %v", err)
	}
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("stop did not return once the read finished")
	}
	if n, err := g.Read(make([]byte, 16)); n != 0 || !errors.Is(err, errCopyOver) {
		t.Fatalf("read after stop: %d, %v; want 0, errCopyOver", n, err)
	}
}
