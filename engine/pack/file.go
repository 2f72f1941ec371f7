package pack

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// FileSink writes a package file: PATH.partial, locked while written, fsynced and renamed to PATH
// on Commit, removed on Abort.
type FileSink struct {
	path, partial string
	f             *os.File
	done          bool
}

// CreateFile opens PATH.partial. It refuses an existing PATH (unless overwrite) and a
// PATH.partial that another live writer holds; a stale PATH.partial left by a crash is replaced.
func CreateFile(path string, overwrite bool) (*FileSink, error) {
	if !overwrite {
		if _, err := os.Lstat(path); err == nil {
			return nil, fmt.Errorf("create package %s: file exists (choose another name or remove it)", path)
		}
	}
	partial := path + ".partial"
	f, err := os.OpenFile(partial, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create package %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("create package %s: %s is held by another running backup", path, partial)
	}
	if err := f.Truncate(0); err != nil {
		f.Close()
		return nil, fmt.Errorf("create package %s: %w", path, err)
	}
	return &FileSink{path: path, partial: partial, f: f}, nil
}

// Write writes to PATH.partial.
func (s *FileSink) Write(p []byte) (int, error) { return s.f.Write(p) }

// Commit fsyncs PATH.partial, renames it to PATH and fsyncs the directory.
func (s *FileSink) Commit() error {
	if s.done {
		return errors.New("package file already closed")
	}
	if err := s.f.Sync(); err != nil {
		return err
	}
	if err := os.Rename(s.partial, s.path); err != nil {
		return err
	}
	s.done = true
	err := s.f.Close() // releases the lock
	if d, derr := os.Open(filepath.Dir(s.path)); derr == nil {
		_ = d.Sync()
		d.Close()
	}
	return err
}

// Abort removes PATH.partial. It is safe to call after Commit.
func (s *FileSink) Abort() {
	if s.done {
		return
	}
	s.done = true
	_ = os.Remove(s.partial)
	_ = s.f.Close()
}
