package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/edmsdr/edmsdr/engine/finding"
)

func newVerifyCmd(g *globals) *cobra.Command {
	var in string
	var sf sealFlags
	cmd := &cobra.Command{
		Use:   "verify --in FILE|URL",
		Short: "Check a package offline: format, every checksum, counts, sizes, row shapes, manifest",
		Long:  "Check a package offline: format, every checksum, counts, sizes, row shapes, manifest.\n" + sealHelp + locationHelp,
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if in == "" {
				return usagef("--in is required")
			}
			loc, err := parseLocation("--in", in)
			if err != nil {
				return err
			}
			c, err := sf.verifyFile(cmd.Context(), loc)
			if err != nil {
				if fl := finding.FindingsOf(err); fl != nil {
					for _, x := range fl {
						fmt.Fprintf(g.stderr, "  %s\n", x)
					}
					return fmt.Errorf("verify %s: package refused: damaged, incomplete, not openable or not signed as required (%d findings)", in, len(fl))
				}
				return fmt.Errorf("verify %s: %w", in, err)
			}
			m := c.Manifest
			var rows int64
			for _, t := range m.Tables {
				rows += t.Rows
			}
			fmt.Fprintf(g.stdout, "package %s: format %d, written by %s at %s from PostgreSQL %d\n", in, m.Format, finding.Printable(m.Tool, 256), m.CreatedAt.Format("2006-01-02 15:04:05Z07:00"), m.ServerVersion)
			describeSeal(g.stdout, c)
			fmt.Fprintf(g.stdout, "%d tables, %d rows, every checksum verified\ndigest %s\nOK\n", len(m.Tables), rows, m.Digest.Total)
			return nil
		},
	}
	cmd.Flags().StringVar(&in, "in", "", "package file or object URL (required)")
	sf.addReadFlags(cmd, true)
	return cmd
}
