//go:build !linux

package pack

import "os"

// startWriteback is Linux's sync_file_range advice; elsewhere Commit's fsync does it all.
func startWriteback(f *os.File, off, length int64) bool { return false }
