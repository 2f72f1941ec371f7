package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/edmsdr/edmsdr/engine/finding"
	"github.com/edmsdr/edmsdr/engine/pack"
)

func newVerifyCmd(g *globals) *cobra.Command {
	var in string
	cmd := &cobra.Command{
		Use:   "verify --in FILE",
		Short: "Check a package offline: format, every checksum, counts, sizes, row shapes, manifest",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if in == "" {
				return usagef("--in is required")
			}
			f, err := os.Open(in)
			if err != nil {
				return fmt.Errorf("verify: %w", err)
			}
			defer f.Close()
			m, err := pack.Verify(f, pack.Limits{})
			if err != nil {
				if fl := finding.FindingsOf(err); fl != nil {
					for _, x := range fl {
						fmt.Fprintf(g.stderr, "  %s\n", x)
					}
					return fmt.Errorf("verify %s: package is damaged or incomplete (%d findings)", in, len(fl))
				}
				return fmt.Errorf("verify %s: %w", in, err)
			}
			var rows int64
			for _, t := range m.Tables {
				rows += t.Rows
			}
			fmt.Fprintf(g.stdout, "package %s: format %d, written by %s at %s from PostgreSQL %d\n", in, m.Format, m.Tool, m.CreatedAt.Format("2006-01-02 15:04:05Z07:00"), m.ServerVersion)
			fmt.Fprintf(g.stdout, "%d tables, %d rows, every checksum verified\ndigest %s\nOK\n", len(m.Tables), rows, m.Digest.Total)
			return nil
		},
	}
	cmd.Flags().StringVar(&in, "in", "", "package file (required)")
	return cmd
}
