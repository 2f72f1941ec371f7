package pack

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// TestFileSinkWritesBehind: a package file written past writeBehind hands its bytes to the
// writeback as it goes (on Linux) and commits byte for byte what was written.
func TestFileSinkWritesBehind(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.edmsdr")
	s, err := CreateFile(path, false)
	if err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	piece := make([]byte, 1<<20+17)
	for i := 0; i < 3*writeBehind/len(piece)+1; i++ {
		for j := range piece {
			piece[j] = byte(i*31 + j)
		}
		want.Write(piece)
		if n, err := s.Write(piece); err != nil || n != len(piece) {
			t.Fatalf("write %d: %d, %v", i, n, err)
		}
	}
	if runtime.GOOS == "linux" && s.behind != -1 && s.behind < 2*writeBehind {
		t.Fatalf("%d bytes written, %d handed to the writeback", s.written, s.behind)
	}
	if s.behind > s.written {
		t.Fatalf("%d bytes handed to the writeback, only %d written", s.behind, s.written)
	}
	if err := s.Commit(); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("committed %d bytes, not the %d written", len(got), want.Len())
	}
	if _, err := os.Lstat(path + ".partial"); !os.IsNotExist(err) {
		t.Fatalf("partial file left: %v", err)
	}
}
