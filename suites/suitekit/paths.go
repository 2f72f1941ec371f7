package suitekit

import (
	"os"
	"path/filepath"
)

// RepoPath resolves a path relative to the module root (the nearest directory above the working
// directory holding go.mod; suites run in their own package directory). Absolute paths, and
// every path when no go.mod is found, are returned as they are.
func RepoPath(p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	dir, err := os.Getwd()
	if err != nil {
		return p
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, p)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return p
		}
		dir = parent
	}
}
