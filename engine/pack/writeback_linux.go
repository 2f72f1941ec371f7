package pack

import (
	"os"

	"golang.org/x/sys/unix"
)

// startWriteback asks the kernel to start writing length bytes of f from off to the disk,
// without waiting for them (sync_file_range, SYNC_FILE_RANGE_WRITE). It is advice: Commit's
// fsync is what makes the file durable, and reports any I/O error. It returns false where the
// file system does not support it.
func startWriteback(f *os.File, off, length int64) bool {
	err := unix.SyncFileRange(int(f.Fd()), off, length, unix.SYNC_FILE_RANGE_WRITE)
	return err == nil || (err != unix.ENOSYS && err != unix.EINVAL && err != unix.ESPIPE)
}
