// Package journal records every restore, rollback and refused attempt: one Entry per operation,
// appended as a JSON line to a file and, opt-in, inserted into a table of the target database
// (edmsdr_journal, with the id map in edmsdr_journal_idmap). An entry says when, who (OS user,
// host, database role), what (the command, the package's digest and signer, the mode), how it
// ended (outcome, verdict, finding counts by kind, per-table counts, duration) and which id map
// it produced (kept beside it, with its SHA-256). It never holds row content or secrets: commands
// are recorded with their connection strings reduced to the server, errors only by class.
package journal

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Outcomes of an operation.
const (
	Committed     = "committed"      // the target was changed
	Refused       = "refused"        // findings refused it; the target is unchanged
	Failed        = "failed"         // an error stopped it; the target is unchanged
	NothingToDo   = "nothing-to-do"  // the target already held the result
	DryRun        = "dry-run"        // validated, rolled back
	CommitUnknown = "commit-unknown" // COMMIT sent, its answer lost
)

// Entry is one journal record.
type Entry struct {
	ID        string    `json:"id"`
	Time      time.Time `json:"time"`
	Operation string    `json:"operation"` // restore, rollback
	Command   string    `json:"command"`
	OSUser    string    `json:"os_user"`
	Host      string    `json:"host"`
	DBRole    string    `json:"db_role,omitempty"`
	Database  string    `json:"database,omitempty"`
	Server    string    `json:"server,omitempty"`
	// Package is the package's location; PackageDigest its digest; SignerKeyID the key that
	// signed its manifest ("" unsigned).
	Package       string `json:"package"`
	PackageDigest string `json:"package_digest,omitempty"`
	SignerKeyID   string `json:"signer_key_id,omitempty"`
	Mode          string `json:"mode,omitempty"`
	Outcome       string `json:"outcome"`
	Verdict       string `json:"verdict,omitempty"`
	// Findings counts the findings that refused the operation, by kind.
	Findings map[string]int `json:"findings,omitempty"`
	// Error is the class of the error that stopped it (never a server message: those may quote
	// values).
	Error          string  `json:"error,omitempty"`
	Tables         []Table `json:"tables,omitempty"`
	RestoredDigest string  `json:"restored_digest,omitempty"`
	// IDMap is where the operation's id map is kept; IDMapSHA256 its checksum.
	IDMap       string `json:"id_map,omitempty"`
	IDMapSHA256 string `json:"id_map_sha256,omitempty"`
	// SafetyBackup is the safety backup the restore kept (or the one a rollback put back).
	SafetyBackup string `json:"safety_backup,omitempty"`
	SafetyDigest string `json:"safety_digest,omitempty"`
	DurationMS   int64  `json:"duration_ms"`
}

// Table is what an operation did to one table.
type Table struct {
	Table    string `json:"table"`
	Staged   int64  `json:"staged"`
	Inserted int64  `json:"inserted"`
	Matched  int64  `json:"matched"`
	Updated  int64  `json:"updated,omitempty"`
	Replaced int64  `json:"replaced,omitempty"`
}

// AppendFile appends e to the JSON Lines file at path (created 0600 if missing) in one write
// (O_APPEND: concurrent writers never interleave within a line on a local file system), fsynced.
func AppendFile(path string, e *Entry) error {
	line, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("journal: encode entry: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("journal %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("journal %s: %w", path, err)
	}
	defer f.Close()
	if _, err := f.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("journal %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("journal %s: %w", path, err)
	}
	return nil
}

// ReadFile reads every entry of the JSON Lines file at path, oldest first.
func ReadFile(path string) ([]Entry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	defer f.Close()
	var out []Entry
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for n := 1; sc.Scan(); n++ {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		var e Entry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return nil, fmt.Errorf("journal %s line %d: %w", path, n, err)
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("journal %s: %w", path, err)
	}
	return out, nil
}

// TableName and IDMapTableName are the journal's tables in a target.
const (
	TableName      = "edmsdr_journal"
	IDMapTableName = "edmsdr_journal_idmap"
)

const ddl = `CREATE TABLE IF NOT EXISTS public.edmsdr_journal (
  id text PRIMARY KEY,
  at timestamptz NOT NULL,
  operation text NOT NULL,
  outcome text NOT NULL,
  entry jsonb NOT NULL
);
CREATE TABLE IF NOT EXISTS public.edmsdr_journal_idmap (
  entry_id text NOT NULL,
  table_name text NOT NULL,
  source_id bigint NOT NULL,
  target_id bigint NOT NULL,
  status text NOT NULL,
  PRIMARY KEY (entry_id, table_name, source_id)
)`

// Insert records e in the target conn is connected to, creating the journal's tables when
// missing, with the id map read from idmap (TSV as restore writes it; nil for none), in one
// transaction.
func Insert(ctx context.Context, conn *pgx.Conn, e *Entry, idmap io.Reader) error {
	data, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("journal: encode entry: %w", err)
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		return fmt.Errorf("journal table: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // committed below
	// CREATE TABLE IF NOT EXISTS needs CREATE on the schema even when the table exists: a role
	// granted only INSERT on existing journal tables must not run it.
	var exist bool
	if err := tx.QueryRow(ctx, "SELECT to_regclass('public.edmsdr_journal') IS NOT NULL AND to_regclass('public.edmsdr_journal_idmap') IS NOT NULL").Scan(&exist); err != nil {
		return fmt.Errorf("journal table: %w", err)
	}
	if !exist {
		if _, err := tx.Exec(ctx, ddl); err != nil {
			return fmt.Errorf("journal table: create: %w", err)
		}
	}
	if _, err := tx.Exec(ctx, "INSERT INTO public.edmsdr_journal (id, at, operation, outcome, entry) VALUES ($1, $2, $3, $4, $5)",
		e.ID, e.Time, e.Operation, e.Outcome, string(data)); err != nil {
		return fmt.Errorf("journal table: insert: %w", err)
	}
	if idmap != nil {
		var next func() (Mapping, bool, error)
		next = mapReader(idmap)
		var row []any
		var rerr error
		src := pgx.CopyFromFunc(func() ([]any, error) {
			m, ok, err := next()
			if err != nil || !ok {
				rerr = err
				return nil, err
			}
			row = append(row[:0], e.ID, m.Table, m.Source, m.Target, m.Status)
			return row, nil
		})
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"public", IDMapTableName}, []string{"entry_id", "table_name", "source_id", "target_id", "status"}, src); err != nil {
			if rerr != nil {
				return fmt.Errorf("journal table: %w", rerr)
			}
			return fmt.Errorf("journal table: id map: %w", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("journal table: commit: %w", err)
	}
	return nil
}

// List reads the journal table of the database conn is connected to, oldest first; a database
// without one has an empty journal.
func List(ctx context.Context, conn *pgx.Conn) ([]Entry, error) {
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT to_regclass('public.edmsdr_journal') IS NOT NULL").Scan(&exists); err != nil {
		return nil, fmt.Errorf("journal table: %w", err)
	}
	if !exists {
		return nil, nil
	}
	rows, err := conn.Query(ctx, "SELECT entry FROM public.edmsdr_journal ORDER BY at, id")
	if err != nil {
		return nil, fmt.Errorf("journal table: %w", err)
	}
	var out []Entry
	for rows.Next() {
		var data []byte
		if err := rows.Scan(&data); err != nil {
			return nil, fmt.Errorf("journal table: %w", err)
		}
		var e Entry
		if err := json.Unmarshal(data, &e); err != nil {
			return nil, fmt.Errorf("journal table: entry: %w", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("journal table: %w", err)
	}
	return out, nil
}

// Mapping is one line of an id map.
type Mapping struct {
	Table  string `json:"table"`
	Source int64  `json:"source_id"`
	Target int64  `json:"target_id"`
	Status string `json:"status"`
}

// ErrNotMapped says the id map has no line for the source id.
var ErrNotMapped = errors.New("not in the id map")

// LookupFile finds table's source id in the id map file at path.
func LookupFile(path, table string, source int64) (Mapping, error) {
	f, err := os.Open(path)
	if err != nil {
		return Mapping{}, fmt.Errorf("id map: %w", err)
	}
	defer f.Close()
	next := mapReader(f)
	for {
		r, ok, err := next()
		if err != nil {
			return Mapping{}, fmt.Errorf("id map %s: %w", path, err)
		}
		if !ok {
			return Mapping{}, ErrNotMapped
		}
		if r.Source == source && (r.Table == table || "public."+r.Table == table || r.Table == "public."+table) {
			return r, nil
		}
	}
}

// LookupTable finds table's source id in the id map the journal table keeps for entry id.
func LookupTable(ctx context.Context, conn *pgx.Conn, id, table string, source int64) (Mapping, error) {
	m := Mapping{Table: table, Source: source}
	err := conn.QueryRow(ctx, `SELECT target_id, status FROM public.edmsdr_journal_idmap
WHERE entry_id = $1 AND table_name IN ($2, 'public.' || $2, regexp_replace($2, '^public\.', '')) AND source_id = $3`, id, table, source).Scan(&m.Target, &m.Status)
	if errors.Is(err, pgx.ErrNoRows) {
		return m, ErrNotMapped
	}
	if err != nil {
		return m, fmt.Errorf("journal table: %w", err)
	}
	return m, nil
}

// mapReader reads an id map (TSV: table, source id, target id, status; a header line) one line
// at a time: next returns false at the end.
func mapReader(r io.Reader) (next func() (Mapping, bool, error)) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	n := 0
	return func() (Mapping, bool, error) {
		for sc.Scan() {
			n++
			f := strings.Split(sc.Text(), "\t")
			if n == 1 && len(f) > 0 && f[0] == "table" {
				continue
			}
			if len(f) != 4 {
				return Mapping{}, false, fmt.Errorf("id map line %d: %d fields, want 4", n, len(f))
			}
			src, err1 := strconv.ParseInt(f[1], 10, 64)
			tgt, err2 := strconv.ParseInt(f[2], 10, 64)
			if err1 != nil || err2 != nil {
				return Mapping{}, false, fmt.Errorf("id map line %d: ids must be integers", n)
			}
			return Mapping{Table: f[0], Source: src, Target: tgt, Status: f[3]}, true, nil
		}
		if err := sc.Err(); err != nil {
			return Mapping{}, false, fmt.Errorf("id map: %w", err)
		}
		return Mapping{}, false, nil
	}
}
