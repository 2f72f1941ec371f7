package main

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/edmsdr/edmsdr/engine/pack"
)

func packLimits() pack.Limits { return pack.Limits{} }

func newListCmd(g *globals) *cobra.Command {
	var (
		asJSON bool
		sf     sealFlags
	)
	cmd := &cobra.Command{
		Use:   "list URL-PREFIX",
		Short: "List the packages under a prefix: name, time, size, source database, digest, sealing",
		Long: `List the packages (names ending in .edmsdr) under a prefix: a local directory, an object prefix
(s3://bucket/backups/) or the start of names (s3://bucket/backups/prod-, /var/backups/prod-).
It does not descend into sub-directories. Newest first, times in UTC.

Each package is described from the metadata object written beside it by backup (NAME.meta.json):
nothing is downloaded. A package without one (written by an older edmsdr, or whose metadata write
failed) is read whole and verified; an encrypted one needs --identity or --passphrase-file for
that. The SOURCE column says which: meta, package, or mtime (nothing readable: the object's own
time). --json prints the same as a JSON array.` + sealHelp + locationHelp,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usagef("list takes one URL-PREFIX, got %d arguments", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			prefix, err := parseLocation("URL-PREFIX", args[0])
			if err != nil {
				return err
			}
			entries, err := catalog(cmd.Context(), prefix, &sf)
			if err != nil {
				return err
			}
			if asJSON {
				if entries == nil {
					entries = []*entry{}
				}
				enc := json.NewEncoder(g.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(entries)
			}
			printEntries(g.stdout, entries)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	sf.addReadFlags(cmd, true)
	return cmd
}

func short(digest string) string {
	if len(digest) > 16 {
		return digest[:16]
	}
	return digest
}

func printEntries(w io.Writer, entries []*entry) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tCREATED (UTC)\tSIZE\tDATABASE\tDIGEST\tSEALED\tSOURCE\t")
	for _, e := range entries {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t\n", e.Name, e.Time.Format("2006-01-02 15:04:05"), e.Size, dash(e.Database), dash(short(e.Digest)), sealWords(e), e.Source)
	}
	tw.Flush()
	for _, e := range entries {
		if e.Problem != "" {
			fmt.Fprintf(w, "problem: %s: %s\n", e.Name, e.Problem)
		}
	}
	fmt.Fprintf(w, "%d package(s)\n", len(entries))
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func sealWords(e *entry) string {
	switch {
	case e.Encrypted != "" && e.SignedBy != "":
		return "encrypted+signed"
	case e.Encrypted != "":
		return "encrypted"
	case e.SignedBy != "":
		return "signed"
	}
	return "-"
}
