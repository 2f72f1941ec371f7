package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"

	"github.com/spf13/cobra"
)

// drillName is the program `edmsdr drill` runs: the harness half of edmsdr (cmd/edmsdr-drill),
// kept out of this binary so that the operator's tool links no test harness.
const drillName = "edmsdr-drill"

// drillAbout is what `edmsdr help drill` says, and `edmsdr drill --help` when edmsdr-drill is absent.
const drillAbout = `Run a disaster-recovery drill on a throwaway server: generate data, back it up, re-initialise
the database, restore, and prove that every row came back (digests, counts, references,
sequences). Exits 0 on PASS, 1 on FAIL, 3 on UNKNOWN (evidence missing; never a pass); reports
go to a new directory out/drill/<UTC timestamp>/ unless --report DIR says otherwise.

'edmsdr drill ARGS' runs 'edmsdr-drill ARGS' in its place (same arguments, standard streams,
signals and exit code): the drill links the test harness (local and container servers, data
generators), which the operator binary does not carry. edmsdr-drill is looked for beside this
binary, then on PATH; 'make build' puts both in bin/. 'edmsdr drill --help' (or
'edmsdr-drill --help') lists the drill's flags: --db, --scale, --seed, --dataset, --report, ...

When edmsdr-drill is found in neither place, 'edmsdr drill' says so and exits 1.`

func newDrillCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "drill [--db auto|local|container|DSN] [--scale N] [--report DIR]",
		Short: "Run a disaster-recovery drill (runs edmsdr-drill: generate, back up, re-initialise, restore, validate)",
		Long:  drillAbout,
		// Every argument, flags and --help included, is edmsdr-drill's.
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			self, _ := os.Executable()
			path, err := findDrill(self)
			if err != nil {
				if slices.Contains(args, "--help") || slices.Contains(args, "-h") {
					fmt.Fprintf(g.stdout, "%s\n\n%s\n", drillAbout, err)
					return nil
				}
				return err
			}
			return runDrill(path, args)
		},
	}
}

// findDrill returns the edmsdr-drill to run: the executable file in the directory of self (the
// running binary) first, else the first on PATH (never one found through a relative PATH entry).
// When there is neither, the error says where it looked and how to get one.
func findDrill(self string) (string, error) {
	where := "on PATH"
	if self != "" {
		beside := filepath.Join(filepath.Dir(self), drillName)
		if st, err := os.Stat(beside); err == nil && st.Mode().IsRegular() && st.Mode().Perm()&0o111 != 0 {
			return beside, nil
		}
		where = "at " + beside + " nor on PATH"
	}
	if path, err := exec.LookPath(drillName); err == nil {
		return path, nil
	}
	return "", fmt.Errorf("drill needs %s, the harness half of edmsdr, found neither %s: build it with 'make build' (bin/%s) or 'go build ./cmd/%s', and put it beside edmsdr or on PATH",
		drillName, where, drillName, drillName)
}

// runDrill replaces this process with edmsdr-drill at path, given args: the drill gets this
// process's id, standard streams, environment and signals, and its exit code is edmsdr's. It
// returns only when the exec failed.
func runDrill(path string, args []string) error {
	argv := append([]string{path}, args...)
	if err := syscall.Exec(path, argv, os.Environ()); err != nil {
		return fmt.Errorf("drill: run %s: %w", path, err)
	}
	return nil
}
