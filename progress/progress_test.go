package progress

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestLines(t *testing.T) {
	var buf bytes.Buffer
	log, stop, err := New(&buf, Options{Format: "json"})
	if err != nil {
		t.Fatal(err)
	}
	log.Info(EventDrillPhase, "phase", "backup", "elapsed", time.Second)
	log.Debug(EventInserted, "table", "t", "rows", 3) // below the level
	stop()
	var rec map[string]any
	if err := json.Unmarshal(bytes.TrimSpace(buf.Bytes()), &rec); err != nil {
		t.Fatalf("not one JSON line: %q: %v", buf.String(), err)
	}
	if rec["msg"] != EventDrillPhase || rec["phase"] != "backup" {
		t.Errorf("line %v", rec)
	}
	buf.Reset()
	log, _, _ = New(&buf, Options{}) // not a terminal: text lines, warnings only
	log.Info("quiet")
	log.Warn("loud", "k", 1)
	if got := buf.String(); strings.Contains(got, "quiet") || !strings.Contains(got, "level=WARN msg=loud k=1") {
		t.Errorf("text lines: %q", got)
	}
	if _, _, err := New(&buf, Options{Format: "yaml"}); err == nil {
		t.Error("format yaml accepted")
	}
}

func TestBars(t *testing.T) {
	var buf bytes.Buffer
	log, stop := barLogger(&buf, 3)
	log.Debug(EventTableCopied, "table", "auth_user", "rows", int64(24), "bytes", int64(2048))
	log.Debug(EventTableCopied, "table", "documents_document", "rows", int64(40), "bytes", int64(4096))
	log.Info(EventDrillPhase, "phase", "backup", "elapsed", time.Second)
	log.Info(EventDrillPackage, "tables", 2, "rows", int64(64))
	log.Debug(EventInserted, "table", "auth_user", "rows", int64(22))
	log.Warn("a warning above the bars")
	log.Info(EventDrillPhase, "phase", "restore", "elapsed", time.Second)
	stop()
	out := buf.String()
	for _, want := range []string{"backup", "64/64 rows", "restore", "22/22 rows", "drill", "steps", "a warning above the bars"} {
		if !strings.Contains(out, want) {
			t.Errorf("bars lack %q:\n%s", want, out)
		}
	}
}
