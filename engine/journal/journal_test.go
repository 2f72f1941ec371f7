package journal

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestAppendAndRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "journal.jsonl")
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e := &Entry{ID: "e", Time: time.Now().UTC(), Operation: "restore", Outcome: Committed, Command: strings.Repeat("x", 5000)}
			if err := AppendFile(path, e); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	got, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 20 {
		t.Fatalf("read %d entries, want 20", len(got))
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("journal mode %v, want 0600", fi.Mode().Perm())
	}
}

func TestLookupFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "idmap.tsv")
	data := "table\tsource_id\ttarget_id\tstatus\nauth_user\t1\t7\tmatched\ndocuments_document\t123\t2123\tinserted\n"
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	m, err := LookupFile(path, "documents_document", 123)
	if err != nil || m.Target != 2123 || m.Status != "inserted" {
		t.Fatalf("lookup: %+v, %v", m, err)
	}
	if m, err := LookupFile(path, "public.auth_user", 1); err != nil || m.Target != 7 {
		t.Fatalf("lookup by qualified name: %+v, %v", m, err)
	}
	if _, err := LookupFile(path, "documents_document", 124); !errors.Is(err, ErrNotMapped) {
		t.Fatalf("missing id: %v, want ErrNotMapped", err)
	}
	if err := os.WriteFile(path, []byte("auth_user\t1\tx\tmatched\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LookupFile(path, "auth_user", 1); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Fatalf("damaged id map: %v, want an error naming the line", err)
	}
}
