package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/edmsdr/edmsdr/engine/dsn"
	"github.com/edmsdr/edmsdr/engine/finding"
	"github.com/edmsdr/edmsdr/engine/restore"
)

func newRollbackCmd(g *globals) *cobra.Command {
	var (
		dsnStr, in, reportPath, reportDir string
		force, dryRun                     bool
		timeout                           time.Duration
		sf                                sealFlags
		jf                                journalFlags
	)
	cmd := &cobra.Command{
		Use:   "rollback --dsn DSN --in SAFETY [--restore-report restore.json] [--force]",
		Short: "Undo a restore: put its safety backup back, exactly (rows, ids, sequences), atomically",
		Long: `Put back the safety backup a restore wrote (restore --safety-backup) in one transaction: every
table it holds gets exactly its rows again, under the same ids, and its sequences where they stood
before the restore. The result is proven before COMMIT: the digest of the tables equals the
pre-restore digest the safety backup carries, and every row is compared with the safety backup's
row of the same id, column by column.

First it compares the target's tables with what the restore left behind (the digest recorded just
before the restore committed). When they changed since — rows inserted, updated or deleted after
the restore — it refuses and names them (table, count, ids of rows written since), because a
rollback would lose those changes; --force rolls back anyway. When the tables already hold their
pre-restore state, there is nothing to do.

--restore-report restore.json (or the --report directory of the restore) checks that the safety
backup belongs to that restore. --report DIR writes rollback.json.` + journalHelp + sealHelp + locationHelp,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) (err error) {
			jr := newJournalRun(g, "rollback", jf, reportDir, dsnStr, in)
			var res *restore.Result
			var opErr error
			defer func() { err = jr.finish(cmd.Context(), err, opErr, res) }()
			if in == "" {
				return usagef("--in is required")
			}
			if _, err := dsn.Config(dsnStr); err != nil {
				return usageError{err}
			}
			loc, err := parseLocation("--in", in)
			if err != nil {
				return err
			}
			opts := restore.RollbackOptions{Force: force, DryRun: dryRun, Log: g.log}
			if reportPath != "" {
				if opts.Restore, err = readRestoreReport(reportPath); err != nil {
					return err
				}
			}
			if opts.Authenticate, err = sf.authenticate(); err != nil {
				return err
			}
			opts.Authenticate = jr.authenticate(opts.Authenticate)
			ses, err := sf.openSession(cmd.Context(), timeout, loc, dsnStr, "rollback")
			if err != nil {
				return err
			}
			defer ses.close()
			ctx, f, conn := ses.ctx, ses.in, ses.conn
			var rerr error
			res, rerr = restore.Rollback(ctx, conn, f, opts)
			opErr = rerr
			if res != nil {
				inFlagWords(res.Findings)
			}
			inFlagWords(finding.FindingsOf(rerr))
			printRollback(g, res)
			if reportDir != "" && res != nil {
				if err := writeJSON(filepath.Join(reportDir, "rollback.json"), reportView(res, false)); err != nil {
					return err
				}
			}
			if rerr != nil {
				if fl := finding.FindingsOf(rerr); fl != nil {
					for _, x := range fl.Errors() {
						fmt.Fprintf(g.stderr, "  %s\n", x)
					}
					return fmt.Errorf("rollback refused: %d finding(s); the target is unchanged", len(fl.Errors()))
				}
				if errors.Is(rerr, restore.ErrCommitUnknown) {
					return timeoutError(ctx, fmt.Errorf("%w: the target is either unchanged or completely rolled back; run the same rollback again to finish it or to see that it is done", rerr))
				}
				return timeoutError(ctx, fmt.Errorf("%w (the target is unchanged)", rerr))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&dsnStr, "dsn", "", "target database (URL or keyword DSN; PG* variables apply)")
	cmd.Flags().StringVar(&in, "in", "", "the safety backup (file or object URL) written by restore --safety-backup (required)")
	cmd.Flags().StringVar(&reportPath, "restore-report", "", "restore.json of the restore being undone (or its --report directory): the safety backup must be that restore's")
	cmd.Flags().BoolVar(&force, "force", false, "roll back even when the target changed after the restore (those changes are lost)")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "do everything, validate, then roll back")
	cmd.Flags().StringVar(&reportDir, "report", "", "directory for rollback.json")
	addTimeoutFlag(cmd, &timeout)
	sf.addReadFlags(cmd, true)
	jf.add(cmd)
	return cmd
}

// readRestoreReport reads a restore's restore.json (given as the file or its directory).
func readRestoreReport(path string) (*restore.Result, error) {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		path = filepath.Join(path, "restore.json")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--restore-report: %w", err)
	}
	var res restore.Result
	if err := json.Unmarshal(data, &res); err != nil {
		return nil, fmt.Errorf("--restore-report %s: not a restore report: %w", path, err)
	}
	return &res, nil
}

func printRollback(g *globals, res *restore.Result) {
	if res == nil {
		return
	}
	if rb := res.Rollback; rb != nil {
		fmt.Fprintf(g.stdout, "before the restore %s\nafter the restore  %s\ntarget now         %s\n", rb.Before, rb.After, rb.Current)
		if len(rb.Changed) > 0 {
			fmt.Fprintf(g.stdout, "changed since the restore: %v\n", rb.Changed)
		}
		for _, f := range res.Findings {
			if f.Kind == finding.ChangedSince && f.Severity == finding.Warning {
				fmt.Fprintf(g.stderr, "warning: %s\n", f)
			}
		}
		if rb.IDs > 0 {
			fmt.Fprintf(g.stdout, "rows compared by id %d\n", rb.IDs)
		}
	}
	printRestore(g.stdout, res)
}
