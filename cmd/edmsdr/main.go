// Command edmsdr backs up and restores the PostgreSQL database of a Django-style EDMS with
// natural keys, verifies packages, computes logical digests and converts Django fixtures. It links
// no test harness: `edmsdr drill` runs edmsdr-drill (cmd/edmsdr-drill), found beside this binary
// or on PATH, in its place.
//
// Exit codes: 0 success, 1 failed or refused operation (reason on stderr), 2 bad usage.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/edmsdr/edmsdr/engine/dsn"
)

// version is set at build time (-ldflags "-X main.version=...").
var version = "0.1.0-dev"

// usageError marks bad usage: exit code 2.
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

type globals struct {
	verbose bool
	log     *slog.Logger
	stdout  io.Writer
	stderr  io.Writer
	// args are the command's arguments (the journal records them, connection strings reduced).
	args []string
}

func newRoot(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:   "edmsdr",
		Short: "Natural-key backup, reconciling restore and disaster-recovery drills for Django-style EDMS databases",
		Long: `edmsdr backs up a PostgreSQL database with natural keys and package-local ids, and restores
it into a re-initialised, already-seeded database by reconciling every foreign key, validating
completeness, and committing atomically — or rolling back with a precise diagnosis.

Connection strings (--dsn) are postgres:// URLs or keyword/value strings; the usual PG*
environment variables (PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE, ...) fill the gaps, as with psql.

Exit codes: 0 success, 1 failed or refused operation (reason on stderr), 2 bad usage.`,
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRun: func(cmd *cobra.Command, _ []string) {
			level := slog.LevelWarn
			if g.verbose {
				level = slog.LevelDebug
			}
			g.log = slog.New(slog.NewTextHandler(g.stderr, &slog.HandlerOptions{Level: level}))
		},
	}
	root.PersistentFlags().BoolVarP(&g.verbose, "verbose", "v", false, "log progress to stderr")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.SetOut(g.stdout)
	root.SetErr(g.stderr)
	root.AddCommand(newBackupCmd(g), newRestoreCmd(g), newVerifyCmd(g), newDigestCmd(g), newConvertCmd(g), newFixtureCmd(g), newDrillCmd(g))
	root.AddCommand(newKeygenCmd(g), newListCmd(g), newPruneCmd(g), newRollbackCmd(g), newJournalCmd(g), newIDMapCmd(g))
	return root
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	g := &globals{stdout: stdout, stderr: stderr, log: slog.New(slog.NewTextHandler(io.Discard, nil)), args: args}
	root := newRoot(g)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	msg := dsn.Redact(err.Error())
	fmt.Fprintf(stderr, "edmsdr: %s\n", msg)
	privilegeHint(stderr, err)
	var ue usageError
	if errors.As(err, &ue) || isCobraUsage(err) {
		fmt.Fprintln(stderr, "Run 'edmsdr --help' for usage.")
		return 2
	}
	return 1
}

func isCobraUsage(err error) bool {
	m := err.Error()
	for _, p := range []string{"required flag", "unknown command", "unknown flag", "unknown shorthand", "invalid argument", "accepts ", "flag needs an argument"} {
		if strings.HasPrefix(m, p) {
			return true
		}
	}
	return false
}

// noArgs refuses positional arguments as a usage error.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usagef("%s takes no arguments, got %q", cmd.Name(), args)
	}
	return nil
}
