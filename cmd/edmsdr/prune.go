package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// policy is a restic-style retention policy.
type policy struct {
	last, daily, weekly, monthly int
}

func (p policy) empty() bool { return p.last+p.daily+p.weekly+p.monthly == 0 }

// apply returns, for every entry (newest first) the policy keeps, the reasons it keeps it:
// the last N; the newest of each of the N most recent days (weeks, months, in UTC) that have a
// package.
func (p policy) apply(entries []*entry) map[*entry][]string {
	keep := map[*entry][]string{}
	for i, e := range entries {
		if i < p.last {
			keep[e] = append(keep[e], "last")
		}
	}
	bucketed := func(n int, reason string, bucket func(time.Time) string) {
		count, prev := 0, ""
		for _, e := range entries {
			if count >= n {
				return
			}
			if b := bucket(e.Time.UTC()); b != prev {
				keep[e] = append(keep[e], reason)
				count++
				prev = b
			}
		}
	}
	bucketed(p.daily, "daily", func(t time.Time) string { return t.Format("2006-01-02") })
	bucketed(p.weekly, "weekly", func(t time.Time) string { y, w := t.ISOWeek(); return fmt.Sprintf("%d-W%02d", y, w) })
	bucketed(p.monthly, "monthly", func(t time.Time) string { return t.Format("2006-01") })
	return keep
}

// pruneReport is what prune did (or, with --dry-run, would do).
type pruneReport struct {
	DryRun bool `json:"dry_run"`
	// NewestVerified is the newest package that verified: never removed.
	NewestVerified string       `json:"newest_verified"`
	Verification   string       `json:"verification"`
	Keep           []pruneEntry `json:"keep"`
	Remove         []pruneEntry `json:"remove"`
	// Unverified are newer packages than NewestVerified that did not verify, with why.
	Unverified []pruneEntry `json:"unverified,omitempty"`
	// AbortedUploads are unfinished multipart uploads older than --stale-uploads.
	AbortedUploads []string `json:"aborted_uploads,omitempty"`
}

type pruneEntry struct {
	Name    string    `json:"name"`
	Time    time.Time `json:"time"`
	Reasons []string  `json:"reasons,omitempty"`
	Problem string    `json:"problem,omitempty"`
}

func newPruneCmd(g *globals) *cobra.Command {
	var (
		p      policy
		dryRun bool
		asJSON bool
		stale  time.Duration
		sf     sealFlags
	)
	cmd := &cobra.Command{
		Use:   "prune URL-PREFIX --keep-last N --keep-daily N --keep-weekly N --keep-monthly N [--dry-run]",
		Short: "Remove the packages under a prefix that a retention policy does not keep",
		Long: `Remove the packages under a prefix (as 'edmsdr list' shows them) that the policy does not keep,
restic-style: --keep-last N keeps the N newest; --keep-daily N the newest package of each of the N
most recent days that have one; --keep-weekly N and --keep-monthly N the same per ISO week and
per month. Days, weeks and months are in UTC; a package's time is its creation time (from its
metadata or manifest), else its object time. A package is kept when any rule keeps it.

Before removing anything, prune verifies packages from the newest down until one verifies (read
whole: every checksum, and the signature with --pubkey; an encrypted package without --identity
is checked against the checksum recorded when it was written). That package is never removed,
whatever the policy. When none verifies, prune removes nothing and fails.

It prints every package it keeps (with the rules that keep it) and every one it removes, and
with --dry-run removes nothing. On object storage it also aborts unfinished multipart uploads
under the prefix older than --stale-uploads (a backup killed before it could abort its own).` + sealHelp + locationHelp,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usagef("prune takes one URL-PREFIX, got %d arguments", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if p.last < 0 || p.daily < 0 || p.weekly < 0 || p.monthly < 0 {
				return usagef("--keep-* must not be negative")
			}
			if p.empty() {
				return usagef("give a policy (--keep-last, --keep-daily, --keep-weekly, --keep-monthly): without one prune would remove every package but one")
			}
			if stale < 0 {
				return usagef("--stale-uploads must not be negative")
			}
			prefix, err := parseLocation("URL-PREFIX", args[0])
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			entries, err := catalog(ctx, prefix, &sf)
			if err != nil {
				return err
			}
			rep := &pruneReport{DryRun: dryRun, Keep: []pruneEntry{}, Remove: []pruneEntry{}}
			keep := p.apply(entries)
			var newest *entry
			for _, e := range entries {
				how, err := readEntry(ctx, e, &sf)
				if err == nil && e.Problem == "" {
					newest, rep.Verification = e, how
					break
				}
				why := e.Problem
				if err != nil {
					why = err.Error()
				}
				rep.Unverified = append(rep.Unverified, pruneEntry{Name: e.Name, Time: e.Time, Problem: why})
			}
			if len(entries) > 0 && newest == nil {
				printPrune(g.stdout, rep, asJSON)
				return fmt.Errorf("prune %s: no package verifies: nothing removed (the newest verified package is never removed, and there is none)", prefix)
			}
			if newest != nil {
				rep.NewestVerified = newest.Name
				keep[newest] = append(keep[newest], "newest verified")
			}
			var remove []*entry
			for _, e := range entries {
				pe := pruneEntry{Name: e.Name, Time: e.Time, Reasons: keep[e], Problem: e.Problem}
				if len(keep[e]) > 0 {
					rep.Keep = append(rep.Keep, pe)
				} else {
					rep.Remove = append(rep.Remove, pe)
					remove = append(remove, e)
				}
			}
			var failed []string
			if !dryRun {
				for _, e := range remove {
					if err := e.loc.Remove(ctx); err != nil {
						failed = append(failed, err.Error())
						continue
					}
					if err := e.loc.Meta().Remove(ctx); err != nil && !isNotFoundErr(err) {
						failed = append(failed, err.Error())
					}
				}
			}
			if stale > 0 {
				ups, err := prefix.PendingUploads(ctx)
				if err != nil {
					failed = append(failed, err.Error())
				}
				for _, u := range ups {
					if time.Since(u.Initiated) < stale {
						continue
					}
					if !dryRun {
						if err := u.Abort(ctx); err != nil {
							failed = append(failed, err.Error())
							continue
						}
					}
					rep.AbortedUploads = append(rep.AbortedUploads, fmt.Sprintf("%s (upload %s, started %s)", u.Location.Base(), u.ID, u.Initiated.UTC().Format(time.RFC3339)))
				}
			}
			printPrune(g.stdout, rep, asJSON)
			if len(failed) > 0 {
				return fmt.Errorf("prune %s: %d removal(s) failed: %s", prefix, len(failed), strings.Join(failed, "; "))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&p.last, "keep-last", 0, "keep the N newest packages")
	f.IntVar(&p.daily, "keep-daily", 0, "keep the newest package of each of the N most recent days that have one")
	f.IntVar(&p.weekly, "keep-weekly", 0, "keep the newest package of each of the N most recent ISO weeks that have one")
	f.IntVar(&p.monthly, "keep-monthly", 0, "keep the newest package of each of the N most recent months that have one")
	f.BoolVar(&dryRun, "dry-run", false, "say what would be removed; remove nothing")
	f.BoolVar(&asJSON, "json", false, "print the report as JSON")
	f.DurationVar(&stale, "stale-uploads", 24*time.Hour, "abort unfinished multipart uploads under the prefix older than this (0: leave them)")
	sf.addReadFlags(cmd, true)
	return cmd
}

func printPrune(w io.Writer, rep *pruneReport, asJSON bool) {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(rep)
		return
	}
	for _, u := range rep.Unverified {
		fmt.Fprintf(w, "unverified %s: %s\n", u.Name, u.Problem)
	}
	if rep.NewestVerified != "" {
		fmt.Fprintf(w, "newest verified: %s (%s)\n", rep.NewestVerified, rep.Verification)
	}
	for _, e := range rep.Keep {
		fmt.Fprintf(w, "keep    %s  %s  (%s)\n", e.Time.Format("2006-01-02 15:04:05"), e.Name, strings.Join(e.Reasons, ", "))
	}
	verb := "remove "
	if rep.DryRun {
		verb = "would remove "
	}
	for _, e := range rep.Remove {
		fmt.Fprintf(w, "%s %s  %s\n", verb, e.Time.Format("2006-01-02 15:04:05"), e.Name)
	}
	for _, u := range rep.AbortedUploads {
		if rep.DryRun {
			fmt.Fprintf(w, "would abort unfinished upload %s\n", u)
		} else {
			fmt.Fprintf(w, "aborted unfinished upload %s\n", u)
		}
	}
	fmt.Fprintf(w, "%d kept, %d %s\n", len(rep.Keep), len(rep.Remove), map[bool]string{true: "would be removed (dry run)", false: "removed"}[rep.DryRun])
}
