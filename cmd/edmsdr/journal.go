package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/spf13/cobra"

	"github.com/edmsdr/edmsdr/engine/dsn"
	"github.com/edmsdr/edmsdr/engine/finding"
	"github.com/edmsdr/edmsdr/engine/journal"
	"github.com/edmsdr/edmsdr/engine/restore"
	"github.com/edmsdr/edmsdr/engine/seal"
)

// journalEnv names the default journal file.
const journalEnv = "EDMSDR_JOURNAL"

const journalHelp = `

Journal: every attempt (committed, refused, failed) appends one JSON line to --journal FILE
(default: $` + journalEnv + `, else journal.jsonl in the --report directory): when, who (OS user,
host, database role), the command (connection strings reduced to user@host:port/database), the
package's digest and signer key id, outcome and verdict, finding counts by kind, per-table counts,
the id map (kept beside the journal in idmaps/ID.tsv, with its SHA-256) and the duration — never
row content or secrets. --journal-table also records it in the target, in the tables
edmsdr_journal and edmsdr_journal_idmap (created when missing; 'edmsdr journal --dsn' lists it).`

// journalFlags are the journal flags of restore and rollback.
type journalFlags struct {
	file  string
	table bool
}

func (j *journalFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&j.file, "journal", "", "append a record of this attempt to this JSON Lines file (default $"+journalEnv+", else journal.jsonl in the --report directory)")
	cmd.Flags().BoolVar(&j.table, "journal-table", false, "also record it in the target's edmsdr_journal table")
}

// journalRun collects one operation's journal entry.
type journalRun struct {
	g      *globals
	flags  journalFlags
	dsnStr string
	start  time.Time
	e      journal.Entry
	// idMap is the id map file the operation wrote; tempMap says it exists only for the journal
	// table and goes afterwards.
	idMap   string
	tempMap bool
}

func newJournalRun(g *globals, op string, flags journalFlags, reportDir, dsnStr, pkg string) *journalRun {
	if flags.file == "" {
		flags.file = os.Getenv(journalEnv)
	}
	if flags.file == "" && reportDir != "" {
		flags.file = filepath.Join(reportDir, "journal.jsonl")
	}
	j := &journalRun{g: g, flags: flags, dsnStr: dsnStr, start: time.Now()}
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	j.e = journal.Entry{
		ID: j.start.UTC().Format("20060102T150405.000000Z") + "-" + hex.EncodeToString(rnd[:]), Time: j.start.UTC(),
		Operation: op, Command: redactCommand(g.args), Package: dsn.Redact(pkg),
	}
	if u, err := user.Current(); err == nil {
		j.e.OSUser = u.Username
	}
	j.e.Host, _ = os.Hostname()
	if cfg, err := dsn.Config(dsnStr); err == nil {
		j.e.Server = fmt.Sprintf("%s:%d", cfg.Host, cfg.Port)
		j.e.Database = cfg.Database
		j.e.DBRole = cfg.User
	}
	return j
}

func (j *journalRun) enabled() bool { return j.flags.file != "" || j.flags.table }

// idMapPath returns where the id map goes when the operation was given none: beside the journal
// file, or a temporary file for the journal table alone ("" without a journal).
func (j *journalRun) idMapPath() string {
	switch {
	case j.flags.file != "":
		return filepath.Join(filepath.Dir(j.flags.file), "idmaps", j.e.ID+".tsv")
	case j.flags.table:
		j.tempMap = true
		return filepath.Join(os.TempDir(), "edmsdr-idmap-"+j.e.ID+".tsv")
	}
	return ""
}

// authenticate wraps a restore's Authenticate to record the signer's key id.
func (j *journalRun) authenticate(next func(manifest, signature []byte) error) func(manifest, signature []byte) error {
	return func(manifest, signature []byte) error {
		if signature != nil {
			if s, err := seal.ParseSignature(signature); err == nil {
				j.e.SignerKeyID = s.KeyID
			}
		}
		if next != nil {
			return next(manifest, signature)
		}
		return nil
	}
}

// finish completes the entry from the operation's result and error (the engine's, opErr, when
// there is one: it carries the findings), and writes it. It returns err unchanged: a journal that
// cannot be written is a warning (the operation is done).
func (j *journalRun) finish(ctx context.Context, err, opErr error, res *restore.Result) error {
	var ue usageError
	if !j.enabled() || errors.As(err, &ue) {
		j.cleanup()
		return err
	}
	cause := err
	if opErr != nil {
		cause = opErr
	}
	e := &j.e
	e.DurationMS = time.Since(j.start).Milliseconds()
	if res != nil {
		e.PackageDigest = res.PackageDigest
		e.Mode = string(res.Mode)
		e.Verdict = string(res.Verdict)
		e.RestoredDigest = res.RestoredDigest
		for _, t := range res.Tables {
			e.Tables = append(e.Tables, journal.Table{Table: t.Table, Staged: t.Staged, Inserted: t.Inserted, Matched: t.Matched, Updated: t.Updated, Replaced: t.Replaced})
		}
		if s := res.Safety; s != nil && s.Kept {
			e.SafetyBackup, e.SafetyDigest = s.Name, s.Digest
		}
	}
	switch fl := finding.FindingsOf(cause); {
	case cause == nil && res != nil && res.Committed:
		e.Outcome = journal.Committed
	case cause == nil && res != nil && res.AlreadyRestored:
		e.Outcome = journal.NothingToDo
	case cause == nil:
		e.Outcome = journal.DryRun
	case fl != nil:
		e.Outcome = journal.Refused
		e.Findings = map[string]int{}
		for _, f := range fl.Errors() {
			e.Findings[string(f.Kind)]++
		}
	case errors.Is(cause, restore.ErrCommitUnknown):
		e.Outcome, e.Error = journal.CommitUnknown, "the commit's outcome is unknown"
	default:
		e.Outcome, e.Error = journal.Failed, errorClass(cause)
	}
	if e.Outcome == journal.DryRun && err != nil {
		e.Outcome, e.Error = journal.Failed, errorClass(err)
	}
	if e.Outcome == journal.Committed && j.idMap != "" {
		if sum, herr := fileSHA256(j.idMap); herr == nil {
			e.IDMapSHA256 = sum
			if !j.tempMap {
				e.IDMap = j.idMap
			}
		}
	}
	if j.flags.file != "" {
		if werr := journal.AppendFile(j.flags.file, e); werr != nil {
			fmt.Fprintf(j.g.stderr, "warning: the journal entry was not written: %v\n", werr)
		}
	}
	if j.flags.table {
		if werr := j.insert(ctx); werr != nil {
			fmt.Fprintf(j.g.stderr, "warning: the journal entry was not recorded in the target: %v\n", dsn.Redact(werr.Error()))
		}
	}
	j.cleanup()
	return err
}

// insert records the entry in the target's journal table, on a connection of its own.
func (j *journalRun) insert(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	conn, err := dsn.Connect(ctx, j.dsnStr)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	var idmap io.Reader
	if j.e.Outcome == journal.Committed && j.idMap != "" {
		f, err := os.Open(j.idMap)
		if err == nil {
			defer f.Close()
			idmap = f
		}
	}
	return journal.Insert(ctx, conn, &j.e, idmap)
}

func (j *journalRun) cleanup() {
	if j.tempMap && j.idMap != "" {
		os.Remove(j.idMap)
	}
}

// errorClass describes an error for the journal without anything a server message could quote.
func errorClass(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		s := "server error " + pe.Code
		if pe.TableName != "" {
			s += " on " + pe.TableName
		}
		if pe.ConstraintName != "" {
			s += " (constraint " + pe.ConstraintName + ")"
		}
		return s
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "timed out"
	}
	if errors.Is(err, context.Canceled) {
		return "interrupted"
	}
	msg := dsn.Redact(err.Error())
	if len(msg) > 300 {
		msg = msg[:300] + "…"
	}
	return msg
}

// redactCommand renders the command line with connection strings reduced to their server and
// nothing secret.
func redactCommand(args []string) string {
	out := make([]string, 0, len(args)+1)
	out = append(out, "edmsdr")
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--dsn" && i+1 < len(args):
			out = append(out, a, describeDSN(args[i+1]))
			i++
		case strings.HasPrefix(a, "--dsn="):
			out = append(out, "--dsn="+describeDSN(strings.TrimPrefix(a, "--dsn=")))
		default:
			out = append(out, dsn.Redact(a))
		}
	}
	return strings.Join(out, " ")
}

func describeDSN(s string) string {
	cfg, err := dsn.Config(s)
	if err != nil {
		return "(a connection string)"
	}
	return dsn.Describe(cfg)
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func newJournalCmd(g *globals) *cobra.Command {
	var dsnStr, file string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "journal (--dsn DSN | --journal FILE) [--json]",
		Short: "List the restore journal: every restore, rollback and refused attempt",
		Long: `List the journal kept by restore and rollback: from the target's edmsdr_journal table (--dsn,
written with --journal-table) or from a journal file (--journal, default $` + journalEnv + `), oldest
first. --json prints the entries as JSON Lines.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			entries, err := readJournal(cmd.Context(), dsnStr, file)
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(g.stdout)
				for i := range entries {
					if err := enc.Encode(&entries[i]); err != nil {
						return err
					}
				}
				return nil
			}
			tw := tabwriter.NewWriter(g.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "time\toperation\toutcome\tverdict\tpackage digest\twho\trole\tduration\tid")
			for _, e := range entries {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s@%s\t%s\t%s\t%s\n", e.Time.Format(time.RFC3339), e.Operation, e.Outcome, e.Verdict,
					short(e.PackageDigest), e.OSUser, e.Host, e.DBRole, (time.Duration(e.DurationMS) * time.Millisecond).String(), e.ID)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&dsnStr, "dsn", "", "database whose edmsdr_journal table to list")
	cmd.Flags().StringVar(&file, "journal", "", "journal file (JSON Lines) to list")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the entries as JSON Lines")
	return cmd
}

// readJournal reads the journal from the table (dsnStr) or the file.
func readJournal(ctx context.Context, dsnStr, file string) ([]journal.Entry, error) {
	if dsnStr == "" && file == "" {
		file = os.Getenv(journalEnv)
	}
	if (dsnStr == "") == (file == "") {
		return nil, usagef("give exactly one of --dsn and --journal")
	}
	if file != "" {
		return journal.ReadFile(file)
	}
	conn, err := dsn.Connect(ctx, dsnStr)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return journal.List(ctx, conn)
}

func newIDMapCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "idmap",
		Short: "Trace ids from the old system to the restored one through the journal's id maps",
	}
	var dsnStr, file, table, entry string
	var source int64
	lookup := &cobra.Command{
		Use:   "lookup (--journal FILE | --dsn DSN) --table T --source-id N [--entry ID]",
		Short: "Print the target id a restore gave a source id",
		Long: `Find the target id a restore gave to a source id of a table, in the id map kept with its journal
entry: the newest committed restore whose id map has it (or the entry --entry names). Reads the
journal file (--journal) and the id maps beside it, or the target's journal tables (--dsn).`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if table == "" || !cmd.Flags().Changed("source-id") {
				return usagef("--table and --source-id are required")
			}
			ctx := cmd.Context()
			entries, err := readJournal(ctx, dsnStr, file)
			if err != nil {
				return err
			}
			for i := len(entries) - 1; i >= 0; i-- {
				e := entries[i]
				if (entry != "" && e.ID != entry) || e.Outcome != journal.Committed || e.Operation != "restore" {
					continue
				}
				var m journal.Mapping
				if file != "" {
					if e.IDMap == "" {
						continue
					}
					if sum, err := fileSHA256(e.IDMap); err != nil || sum != e.IDMapSHA256 {
						return fmt.Errorf("the id map of journal entry %s (%s) is missing or does not match its recorded SHA-256", e.ID, e.IDMap)
					}
					m, err = journal.LookupFile(e.IDMap, table, source)
				} else {
					conn, cerr := dsn.Connect(ctx, dsnStr)
					if cerr != nil {
						return cerr
					}
					m, err = journal.LookupTable(ctx, conn, e.ID, table, source)
					conn.Close(context.WithoutCancel(ctx))
				}
				if errors.Is(err, journal.ErrNotMapped) {
					continue
				}
				if err != nil {
					return err
				}
				fmt.Fprintf(g.stdout, "%s %d -> %d (%s) by restore %s at %s of package %s\n", table, source, m.Target, m.Status, e.ID, e.Time.Format(time.RFC3339), short(e.PackageDigest))
				return nil
			}
			return fmt.Errorf("no committed restore in the journal mapped %s source id %d", table, source)
		},
	}
	lookup.Flags().StringVar(&file, "journal", "", "journal file (JSON Lines), id maps beside it")
	lookup.Flags().StringVar(&dsnStr, "dsn", "", "database whose journal tables to read")
	lookup.Flags().StringVar(&table, "table", "", "table (as the id map names it, e.g. documents_document)")
	lookup.Flags().Int64Var(&source, "source-id", 0, "id in the source (the backed-up system)")
	lookup.Flags().StringVar(&entry, "entry", "", "journal entry id (default: the newest restore that mapped the id)")
	cmd.AddCommand(lookup)
	return cmd
}
