package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/edmsdr/edmsdr/engine/dsn"
	"github.com/edmsdr/edmsdr/engine/finding"
	"github.com/edmsdr/edmsdr/engine/keys"
	"github.com/edmsdr/edmsdr/engine/pack"
	"github.com/edmsdr/edmsdr/engine/restore"
	"github.com/edmsdr/edmsdr/store"
)

func newRestoreCmd(g *globals) *cobra.Command {
	var (
		dsnStr, in, keysPath, onExisting, reportDir, idMapPath, modeName, safetyLoc string
		dryRun, appendKeyless, keepConstraints                                      bool
	)
	var timeout time.Duration
	var sf sealFlags
	var reportKeys bool
	var jf journalFlags
	var keepIDs, schemas []string
	cmd := &cobra.Command{
		Use:   "restore --dsn DSN --in FILE|URL [--mode merge|replace] [--keys FILE] [--on-existing reuse|update|fail] [--dry-run]",
		Short: "Restore a package into a database, reconciling every foreign key, atomically",
		Long: `Restore a package into the target database in one transaction: stage the data, map every
source id to a target id (rows whose natural key matches an existing row reuse it, the rest keep
their source ids in a table that was empty, else get fresh ids; --keep-ids TABLE,... or '*' keeps
every source id no existing row has), rewrite every reference (foreign keys, and references the
keys file declares without a constraint), validate (counts, references, constraints, sequences, logical
digest) and commit — or roll back and report every finding. Nothing is ever half-restored.

--mode merge (default) reconciles the package with the target's rows as above. --mode replace
empties every table of the package in the target (TRUNCATE, in the same transaction) and loads
the package's rows keeping their ids, sequences moved past them, validated like any restore:
afterwards those tables hold exactly the package's rows (a staging refresh). It refuses when a
table outside the package references one it would empty.

--on-existing says what to do with rows matched by natural key whose content differs:
reuse (keep the target's, reported as diverged; default), update (overwrite), fail (refuse).
--schema S[,S...] names the only schemas the restore may write into: a package table in any
other schema refuses the restore before anything is written. By default the restore writes into
the schemas the package's own tables live in; either way the summary and restore.json list them.
--report DIR writes restore.json and idmap.tsv (source id -> target id per table) into DIR.
restore.json carries counts, digests and verdicts; the natural keys of failing rows and the server's
detail about them are printed on stderr but left out of it unless --report-keys is given (they are
row content).` + safetyHelp + journalHelp + sealHelp + locationHelp,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) (err error) {
			jr := newJournalRun(g, "restore", jf, reportDir, dsnStr, in)
			var res *restore.Result
			var opErr error
			defer func() { err = jr.finish(cmd.Context(), err, opErr, res) }()
			if in == "" {
				return usagef("--in is required")
			}
			policy, err := restore.ParseOnExisting(onExisting)
			if err != nil {
				return usagef("--on-existing: %w", err)
			}
			mode, err := restore.ParseMode(modeName)
			if err != nil {
				return usagef("--mode: %w", err)
			}
			var kf *keys.File
			if keysPath != "" {
				if kf, err = keys.LoadFile(keysPath); err != nil {
					return err
				}
			}
			if _, err := dsn.Config(dsnStr); err != nil {
				return usageError{err}
			}
			loc, err := parseLocation("--in", in)
			if err != nil {
				return err
			}
			if reportDir != "" && idMapPath == "" {
				idMapPath = filepath.Join(reportDir, "idmap.tsv")
			}
			if idMapPath == "" {
				idMapPath = jr.idMapPath() // the id map kept with the journal entry
			}
			jr.idMap = idMapPath
			ses, err := sf.openSession(cmd.Context(), timeout, loc, dsnStr, "restore")
			if err != nil {
				return err
			}
			defer ses.close()
			ctx, f, conn := ses.ctx, ses.in, ses.conn
			// A Django fixture (.json, .jsonl, .json.gz) is converted against the target first.
			src, cleanupFixture, err := fixtureAsPackage(ctx, g, conn, f, in, kf)
			if err != nil {
				if fl := finding.FindingsOf(err); fl != nil && reportDir != "" {
					refused := &restore.Result{Findings: fl, Verdict: finding.Fail}
					res = refused
					if werr := writeJSON(filepath.Join(reportDir, "restore.json"), reportView(refused, reportKeys)); werr != nil {
						return werr
					}
				}
				opErr = err
				return timeoutError(ctx, err)
			}
			defer cleanupFixture()
			opts := restore.Options{Keys: kf, OnExisting: policy, Mode: mode, DryRun: dryRun, AppendKeyless: appendKeyless, KeepIDs: keepIDs, KeepConstraints: keepConstraints, Schemas: schemas, Log: g.log}
			if opts.Authenticate, err = sf.authenticate(); err != nil {
				return err
			}
			opts.Authenticate = jr.authenticate(opts.Authenticate)
			if safetyLoc == "" {
				safetyLoc = os.Getenv(safetyEnv)
			}
			var safetyUp *store.Upload
			if safetyLoc != "" {
				if opts.Safety, safetyUp, err = openSafety(ctx, safetyLoc); err != nil {
					return timeoutError(ctx, err)
				}
				// The restore commits or aborts it; aborting twice is harmless.
				defer safetyUp.Abort()
			}
			var idmap *atomicFile
			if idMapPath != "" {
				if idmap, err = createAtomic(idMapPath); err != nil {
					return fmt.Errorf("restore: id map: %w", err)
				}
				defer idmap.abort()
				opts.IDMap = idmap
			}
			var rerr error
			res, rerr = restore.Run(ctx, conn, src, opts)
			opErr = rerr
			if res != nil {
				inFlagWords(res.Findings)
			}
			inFlagWords(finding.FindingsOf(rerr))
			printRestore(g.stdout, res)
			if res != nil && res.Safety != nil && !res.Safety.Kept {
				abortNote(g, safetyUp)
			}
			if reportDir != "" {
				if err := writeJSON(filepath.Join(reportDir, "restore.json"), reportView(res, reportKeys)); err != nil {
					return err
				}
			}
			if rerr != nil {
				if fl := finding.FindingsOf(rerr); fl != nil {
					for _, x := range fl.Errors() {
						fmt.Fprintf(g.stderr, "  %s\n", x)
					}
					return fmt.Errorf("restore refused: %d finding(s); the target is unchanged", len(fl.Errors()))
				}
				if errors.Is(rerr, restore.ErrCommitUnknown) {
					return timeoutError(ctx, fmt.Errorf("%w: the target is either unchanged or completely restored; run the same restore again to finish it or to see that it is done", rerr))
				}
				return timeoutError(ctx, fmt.Errorf("%w (the target is unchanged)", rerr))
			}
			if idmap != nil {
				if err := idmap.commit(); err != nil {
					return fmt.Errorf("restore committed, but writing the id map failed: %w", err)
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&dsnStr, "dsn", "", "target database (URL or keyword DSN; PG* variables apply)")
	cmd.Flags().StringVar(&in, "in", "", "package file or object URL, or a Django dumpdata fixture (.json, .jsonl, .json.gz: converted against the target first) (required)")
	cmd.Flags().StringVar(&keysPath, "keys", "", "keys file (YAML) overriding the package's key plan for matching")
	cmd.Flags().StringVar(&onExisting, "on-existing", "reuse", "matched rows whose content differs: reuse, update or fail")
	cmd.Flags().StringVar(&safetyLoc, "safety-backup", "", "write a package of the target's current content of every table the restore touches here first (default $"+safetyEnv+"; a LOCATION ending in / gets a new time-stamped file)")
	cmd.Flags().StringVar(&modeName, "mode", "merge", "merge (reconcile with the target's rows) or replace (empty the package's tables, load its rows keeping their ids)")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "do everything, validate, then roll back")
	cmd.Flags().BoolVar(&keepConstraints, "keep-constraints", false, "keep the target's foreign keys during the load (checked row by row); by default a role owning the tables drops and re-adds them inside the transaction, validated set-based")
	cmd.Flags().BoolVar(&appendKeyless, "append-keyless", false, "insert keyless rows even when equal rows already exist in the target (duplicating them)")
	cmd.Flags().StringSliceVar(&keepIDs, "keep-ids", nil, "tables (or '*') whose rows keep their source ids in a target that has rows, wherever no existing id collides (into an empty table ids are always kept)")
	cmd.Flags().StringSliceVar(&schemas, "schema", nil, "the only schemas the restore may write into (default: those of the package's tables); a package table elsewhere refuses the restore")
	cmd.Flags().StringVar(&reportDir, "report", "", "directory for restore.json and idmap.tsv")
	addTimeoutFlag(cmd, &timeout)
	sf.addReadFlags(cmd, true)
	cmd.Flags().BoolVar(&reportKeys, "report-keys", false, "keep the natural keys of failing rows and the server's detail about them in restore.json (row content; left out by default)")
	cmd.Flags().StringVar(&idMapPath, "id-map", "", "write the id map (TSV: table, source id, target id, status) to this file")
	jf.add(cmd)
	return cmd
}

// optionFlags turns the restore options that finding messages name into the flags that set them.
var optionFlags = strings.NewReplacer("RollbackOptions.Force", "--force", "Options.OnExisting", "--on-existing", "Options.AppendKeyless", "--append-keyless",
	"Options.KeepIDs", "--keep-ids", "Options.Schemas", "--schema", "Options.Safety", "--safety-backup")

// inFlagWords rewrites the messages of fl in place so that they name the flags of restore and
// rollback rather than the library's options (restore says "Options.AppendKeyless", the operator
// types --append-keyless).
func inFlagWords(fl finding.List) {
	for i := range fl {
		fl[i].Message = optionFlags.Replace(fl[i].Message)
	}
}

func printRestore(w io.Writer, res *restore.Result) {
	if res == nil {
		return
	}
	if len(res.Tables) > 0 {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		if res.Mode == restore.Replace {
			fmt.Fprintln(tw, "table\tin backup\tremoved\tinserted\tverdict\t")
			for _, t := range res.Tables {
				fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\t\n", finding.Printable(t.Table, 256), t.Staged, t.Replaced, t.Inserted, t.Verdict)
			}
		} else {
			fmt.Fprintln(tw, "table\tin backup\tinserted\tmatched\tdiverged\tverdict\t")
			for _, t := range res.Tables {
				fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%s\t\n", finding.Printable(t.Table, 256), t.Staged, t.Inserted, t.Matched, t.Diverged, t.Verdict)
			}
		}
		tw.Flush()
	}
	for _, f := range res.Findings {
		if f.Severity != finding.Error {
			fmt.Fprintf(w, "note: %s\n", f)
		}
	}
	if res.PackageDigest != "" {
		fmt.Fprintf(w, "package digest  %s\n", res.PackageDigest)
	}
	if res.RestoredDigest != "" {
		fmt.Fprintf(w, "restored digest %s\n", res.RestoredDigest)
	}
	if len(res.Schemas) > 0 {
		fmt.Fprintf(w, "schemas         %s\n", finding.Printable(strings.Join(res.Schemas, ","), 1024))
	}
	if s := res.Safety; s != nil {
		if s.Kept {
			fmt.Fprintf(w, "safety backup   %s (%d tables, %d rows, %d bytes, %s; before %s)\n", s.Name, s.Tables, s.Rows, s.Bytes, s.Elapsed.Round(1e6), s.Digest)
		} else {
			fmt.Fprintf(w, "safety backup   %s not kept: the target was not changed\n", s.Name)
		}
	}
	state := "rolled back"
	switch {
	case res.Committed:
		state = "committed"
	case res.AlreadyRestored:
		state = "nothing to do (already restored)"
	case res.DryRun && res.Verdict == finding.Pass:
		state = "dry run, rolled back"
	}
	fmt.Fprintf(w, "verdict %s: %s in %s\n", res.Verdict, state, res.Elapsed.Round(1e6))
}

func writeJSON(path string, v any) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	f, err := createAtomic(path)
	if err != nil {
		return err
	}
	defer f.abort()
	if _, err := f.Write(append(data, '\n')); err != nil {
		return err
	}
	return f.commit()
}

// atomicFile is written to NAME.partial and renamed on commit; abort removes it.
type atomicFile struct {
	*os.File
	path string
	done bool
}

func createAtomic(path string) (*atomicFile, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	f, err := pack.CreatePartial(path + ".partial")
	if err != nil {
		return nil, err
	}
	return &atomicFile{File: f, path: path}, nil
}

func (a *atomicFile) commit() error {
	if a.done {
		return errors.New("already closed")
	}
	a.done = true
	if err := a.Sync(); err != nil {
		a.Close()
		os.Remove(a.Name())
		return err
	}
	if err := a.Close(); err != nil {
		os.Remove(a.Name())
		return err
	}
	return os.Rename(a.path+".partial", a.path)
}

func (a *atomicFile) abort() {
	if a.done {
		return
	}
	a.done = true
	a.Close()
	os.Remove(a.path + ".partial")
}
