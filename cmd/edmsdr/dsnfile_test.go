package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDSNFile: --dsn-file gives the DSN without putting it on the command line; the password in
// it is never printed; --dsn and --dsn-file together are bad usage.
func TestDSNFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "dsn")
	if err := os.WriteFile(file, []byte("host=/nonexistent-edmsdr-socket-dir port=1 dbname=edms user=u password=s3cr3t-pw connect_timeout=2\n# comment\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	code := run([]string{"digest", "--dsn-file", file}, &out, &errb)
	if code != 1 || strings.Contains(errb.String(), "s3cr3t-pw") || !strings.Contains(errb.String(), "nonexistent-edmsdr-socket-dir") {
		t.Errorf("digest --dsn-file: exit %d, stderr %q (want exit 1, the host named, no password)", code, errb.String())
	}
	errb.Reset()
	if code := run([]string{"digest", "--dsn-file", file, "--dsn", "host=x"}, &out, &errb); code != 2 {
		t.Errorf("--dsn and --dsn-file: exit %d, want 2: %s", code, errb.String())
	}
	errb.Reset()
	empty := filepath.Join(t.TempDir(), "empty")
	os.WriteFile(empty, []byte("\n"), 0o600)
	if code := run([]string{"restore", "--dsn-file", empty, "--in", "x.edmsdr"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), "no DSN") {
		t.Errorf("empty --dsn-file: exit %d: %s", code, errb.String())
	}
	errb.Reset()
	run([]string{"restore", "--help"}, &out, &errb)
	if !strings.Contains(out.String(), "--dsn-file") || !strings.Contains(out.String(), "/proc/PID/cmdline") {
		t.Errorf("restore --help does not mention --dsn-file and the process list:\n%s", out.String())
	}
}
