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
	"github.com/edmsdr/edmsdr/engine/finding"
	"github.com/edmsdr/edmsdr/progress"
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
	// logFormat is --log-format: text or json lines, or "" for bars on a terminal.
	logFormat string
	log       *slog.Logger
	// stopLog ends the progress output (the bars) once the command is done.
	stopLog func()
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
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if cmd.Name() == "drill" {
				return nil // edmsdr-drill takes over this process, and reports its own progress
			}
			log, stop, err := progress.New(g.stderr, progress.Options{Format: g.logFormat, Verbose: g.verbose})
			if err != nil {
				return usagef("--log-format: %v", err)
			}
			g.log, g.stopLog = log, stop
			return readDSNFile(cmd)
		},
	}
	root.PersistentFlags().BoolVarP(&g.verbose, "verbose", "v", false, "log every step to stderr (debug lines)")
	root.PersistentFlags().StringVar(&g.logFormat, "log-format", "", "progress as slog lines on stderr, text or json (default: progress bars on a terminal, warnings only otherwise)")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.SetOut(g.stdout)
	root.SetErr(g.stderr)
	root.AddCommand(newBackupCmd(g), newRestoreCmd(g), newVerifyCmd(g), newDigestCmd(g), newConvertCmd(g), newFixtureCmd(g), newDrillCmd(g))
	root.AddCommand(newKeygenCmd(g), newListCmd(g), newPruneCmd(g), newRollbackCmd(g), newJournalCmd(g), newIDMapCmd(g))
	addDSNFileFlags(root)
	return root
}

// printableLines is s with each line made safe for a terminal (finding.Printable: control
// characters quoted, long lines cut).
func printableLines(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = finding.Printable(l, 8<<10)
	}
	return strings.Join(lines, "\n")
}

// dsnWarning ends the help of every --dsn flag: a command line is readable by every local user.
const dsnWarning = "; a password given here is visible to other local users (ps, /proc/PID/cmdline): use --dsn-file, the PG* variables or ~/.pgpass"

// addDSNFileFlags gives every command that takes --dsn a --dsn-file flag, and says in --dsn's
// help why to prefer it.
func addDSNFileFlags(c *cobra.Command) {
	if f := c.Flags().Lookup("dsn"); f != nil {
		f.Usage += dsnWarning
		c.Flags().String("dsn-file", "", "read the DSN from FILE (its first line; keep the file mode 0600) instead of --dsn, so that no password is on the command line")
	}
	for _, sub := range c.Commands() {
		addDSNFileFlags(sub)
	}
}

// readDSNFile sets --dsn from the file --dsn-file names, when given.
func readDSNFile(cmd *cobra.Command) error {
	f := cmd.Flags().Lookup("dsn-file")
	if f == nil || !f.Changed {
		return nil
	}
	if cmd.Flags().Changed("dsn") {
		return usagef("give --dsn or --dsn-file, not both")
	}
	data, err := os.ReadFile(f.Value.String())
	if err != nil {
		return usagef("--dsn-file: %v", err)
	}
	line, _, _ := strings.Cut(string(data), "\n")
	if line = strings.TrimSpace(line); line == "" {
		return usagef("--dsn-file: %s holds no DSN on its first line", f.Value.String())
	}
	return cmd.Flags().Set("dsn", line)
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
	stopProfile := startCPUProfile(stderr)
	err := root.ExecuteContext(ctx)
	stopProfile()
	if g.stopLog != nil {
		g.stopLog()
	}
	if err == nil {
		return 0
	}
	msg := printableLines(dsn.Redact(err.Error()))
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
